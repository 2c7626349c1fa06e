"""Incremental analysis gives exactly what a fresh analysis gives, edit after edit.

A multi-function file is edited as an editor would (each edit re-parsed incrementally from
the previous tree) and analysed after every edit as the language server does: one engine, a
kept state per document, package facts computed from the caches of the previous versions.
Every version is then analysed again from scratch, in a fresh interpreter (no cache at all),
and the two must agree diagnostic for diagnostic — including after edits that change what
an untouched declaration depends on: a helper starting or stopping to close its argument, a
function becoming a handler (per-request facts), a goroutine's loop ending, a suppression
comment above a function, a broken brace.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from golsp_leaks.config import Settings
from golsp_leaks.document import Document
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.package import package_facts
from golsp_leaks.goanalysis.syntax.toplevel import Mentions
from golsp_leaks.model import AnalysisStats, Diagnostic

#: A helper that closes its rows, and a caller that counts on it.
ROWS_HELPER = """func closeRows(rows *sql.Rows) {
	rows.Close()
}

func List(db *sql.DB) error {
	rows, err := db.Query("select 1")
	if err != nil {
		return err
	}
	closeRows(rows)
	return nil
}
"""

SOURCE = """package p

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"time"
)

type Store struct {
	db *sql.DB
}

""" + ROWS_HELPER + """
func (s *Store) Count(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	if ctx == nil {
		return nil
	}
	defer cancel()
	return nil
}

func handle(w http.ResponseWriter, r *http.Request) {
	go watch()
	t := time.NewTicker(time.Second)
	_ = t
	ctx, cancel := context.WithCancel(r.Context())
	_ = ctx
	_ = cancel
}

func watch() {
	for {
		time.Sleep(time.Second)
	}
}

func helper(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	_ = f
	return nil
}

func load(name string) {
	f, _ := os.Open(name)
	_ = f
}

// one leaks its context.
func one(p context.Context) { ctx, _ := context.WithCancel(p); _ = ctx }

func main() {
	_ = helper("x")
}
"""

#: (old text, new text): replaced at the first place the old text occurs, one after the other.
ROWS_EDITS = [
    ("\trows.Close()\n", ""),  # the helper stops closing: List leaks its rows
    ("func closeRows(rows *sql.Rows) {\n", "func closeRows(rows *sql.Rows) {\n\trows.Close()\n"),  # and closes again
]

EDITS = [
    *ROWS_EDITS,
    ("\tgo watch()\n", "\tgo watch()\n\tload(r.URL.Path)\n"),  # load runs per request now
    ("\tload(r.URL.Path)\n", ""),  # and no longer
    ("// one leaks its context.", "//golsp-leaks:ignore lost-cancel"),  # on the line above
    ("//golsp-leaks:ignore lost-cancel", "// one leaks its context."),
    ("\n// one leaks", "\n//golsp-leaks:ignore lost-cancel\n// one leaks"),  # the line above that
    ("\n// one leaks", "\nfunc one(p context.Context) { ctx, _ := context.WithCancel(p); _ = ctx }\n"),
    ("func helper(name string) error {", "func helper(w http.ResponseWriter, r *http.Request) {"),
    ("func helper(w http.ResponseWriter, r *http.Request) {", "func helper(name string) error {"),
    ("\tfor {\n\t\ttime.Sleep", "\tfor i := 0; i < 3; i++ {\n\t\ttime.Sleep"),  # the goroutine ends
    ("\tfor i := 0; i < 3; i++ {\n\t\ttime.Sleep", "\tfor {\n\t\ttime.Sleep"),
    ("func (s *Store) Count(", "// a comment\nfunc (s *Store) Count("),
    ("// a comment\nfunc (s *Store) Count(", "\n\nfunc (s *Store) Count("),
    ("\tdefer cancel()\n\treturn nil\n}", "\treturn nil\n}"),  # Count leaks its cancel
    ("func watch() {\n", "func watch() \n"),  # a broken brace
    ("func watch() \n", "func watch() {\n"),
    ("closeRows(rows)", "closeRowz(rows)"),  # List calls a function that does not exist
    ("func closeRows(", "func closeRowz("),  # which now exists
    ("\nfunc main() {", "\nfunc extra(db *sql.DB) {\n\trows, _ := db.Query(\"x\")\n\t_ = rows\n}\n\nfunc main() {"),
    ('\t"os"\n', ""),  # an import goes: the outline changes
    ('\t"net/http"\n', '\t"net/http"\n\t"os"\n'),
]


def _typed(source: bytes, count: int, seed: int) -> list[tuple[int, int, bytes]]:
    """Single-character edits at random places: a letter, a brace, a newline typed or deleted."""
    rng = random.Random(seed)
    out: list[tuple[int, int, bytes]] = []
    size = len(source)
    for _ in range(count):
        at = rng.randrange(size)
        if rng.random() < 0.4 and size > 1:
            out.append((at, at + 1, b""))
            size -= 1
        else:
            out.append((at, at, rng.choice([b"x", b"{", b"}", b"\n", b" ", b"("])))
            size += 1
    return out


def _key(d: Diagnostic) -> list[Any]:
    f = d.finding
    return [f.rule, f.start, f.end, f.message, int(d.severity), [[r.start, r.end] for r in f.related], len(f.fixes)]


FRESH = """
import json, sys
from pathlib import Path
from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
sys.path.insert(0, sys.argv[3])
from test_incremental import _key
path = Path(sys.argv[1])
out = []
for text in json.loads(Path(sys.argv[2]).read_text()):
    clear_cache()
    source = text.encode("latin-1")
    tree = parse(source)
    found = Engine().analyze(source, tree, Settings(), path=str(path), package=package_facts(path, source, tree))
    out.append([_key(d) for d in found])
print(json.dumps(out))
"""


#: A file whose package facts no edit below changes (no handler, no goroutine): the edits of a
#: helper reach its callers through the functions they call alone.
PLAIN = """package p

import (
	"database/sql"
	"os"
)

""" + ROWS_HELPER + """
func other(db *sql.DB) {
	rows, _ := db.Query("select 2")
	closeRows(rows)
}

func open(name string) *os.File {
	f, _ := os.Open(name)
	return f
}

// load leaks its file.
func load(name string) {
	f := open(name)
	_ = f
}

func keep(name string) {
	f, _ := os.Open(name); _ = f
}
"""

PLAIN_EDITS = [
    *ROWS_EDITS,  # the helper stops closing: both its callers leak their rows
    ("\tf, _ := os.Open(name)\n\treturn f", "\tf, _ := os.Open(name)\n\t_ = f\n\treturn nil"),  # open returns no file
    ("\t_ = f\n\treturn nil", "\treturn f"),
    ("// load leaks its file.", "//golsp-leaks:ignore unclosed-file"),  # on the line above
    ("//golsp-leaks:ignore unclosed-file", "// load leaks its file."),
    ("}\n\nfunc keep(", "}\n//golsp-leaks:ignore unclosed-file\nfunc keep("),
    ("}\n//golsp-leaks:ignore unclosed-file\nfunc keep(", "}\n\nfunc keep("),
]


#: Findings of one declaration that depend on the bodies of others it does not call: a cancel
#: kept in a field that another method calls, a ticker kept in a field that Close stops, a map
#: of a server that main builds once.
BODIES = """package main

import (
	"context"
	"net/http"
	"time"
)

type server struct {
	seen map[string]int
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	s.seen[r.URL.Path]++
}

func main() {
	s := &server{seen: map[string]int{}}
	http.HandleFunc("/", s.handle)
	_ = http.ListenAndServe(":8080", nil)
}

type S struct {
	cancel context.CancelFunc
}

func (s *S) start(p context.Context) {
	ctx, cancel := context.WithCancel(p)
	s.cancel = cancel
	_ = ctx
}

func (s *S) stop() {
	s.cancel()
}

type W struct {
	tick *time.Ticker
}

func (w *W) run() {
	w.tick = time.NewTicker(time.Second)
}

func (w *W) Close() error {
	w.tick.Stop()
	return nil
}
"""

BODIES_EDITS = [
    ("\ts.cancel()\n", "\t_ = s\n"),  # nothing calls the field any more: start leaks its cancel
    ("\t_ = s\n", "\ts.cancel()\n"),
    ("\tw.tick.Stop()\n", ""),  # Close stops no ticker: run's ticker leaks
    ("func (w *W) Close() error {\n", "func (w *W) Close() error {\n\tw.tick.Stop()\n"),
    ("\ts := &server{seen: map[string]int{}}\n", "\tvar s *server\n"),  # no server built at start-up
    ("\tvar s *server\n", "\ts := &server{seen: map[string]int{}}\n"),
]


def test_edits_of_other_bodies_reach_the_findings_that_read_them(tmp_path: Path) -> None:
    _compare_with_fresh(tmp_path, BODIES, BODIES_EDITS, 0, changes=3)


def test_incremental_findings_are_those_of_a_fresh_analysis(tmp_path: Path) -> None:
    _compare_with_fresh(tmp_path, SOURCE, EDITS, 60)


def test_edits_of_a_helper_reach_its_callers(tmp_path: Path) -> None:
    _compare_with_fresh(tmp_path, PLAIN, PLAIN_EDITS, 40)


def _compare_with_fresh(
    tmp_path: Path, source: str, edits: list[tuple[str, str]], typed: int, *, changes: int = 5
) -> None:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    path = tmp_path / "p.go"
    path.write_text(source)
    doc = Document(path.as_uri(), source.encode())
    engine = Engine()
    versions: list[str] = []
    incremental: list[list[list[Any]]] = []
    carried = 0

    def analyse() -> None:
        nonlocal carried
        assert doc.tree is not None
        stats = AnalysisStats()
        found = engine.analyze(
            doc.source,
            doc.tree,
            Settings(),
            path=str(path),
            package=package_facts(path, doc.source, doc.tree),
            stats=stats,
            keep=doc.uri,
        )
        carried += stats.cached
        versions.append(doc.source.decode("latin-1"))
        incremental.append([_key(d) for d in found])

    analyse()
    for old, new in edits:
        at = doc.source.index(old.encode())
        doc.splice(at, at + len(old), new.encode())
        analyse()
    for start, end, inserted in _typed(doc.source, typed, seed=3):
        doc.splice(min(start, len(doc.source)), min(end, len(doc.source)), inserted)
        analyse()
    listing = tmp_path / "versions.json"
    listing.write_text(json.dumps(versions))
    done = subprocess.run(
        [sys.executable, "-c", FRESH, str(path), str(listing), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    fresh = json.loads(done.stdout)
    for number, (mine, theirs) in enumerate(zip(incremental, fresh, strict=True)):
        assert mine == theirs, f"version {number} differs:\n{versions[number]}"
    # The edits did change findings, in declarations they did not touch too, and most
    # declarations were carried over from the version before.
    assert len({json.dumps(v) for v in incremental}) > changes
    assert carried > len(versions)


def test_mentions_follow_the_edits() -> None:
    rng = random.Random(1)
    words = [b"ab", b"abc", b"x", b"Lock()", b"zz"]
    alphabet = b"abcxLok()z "
    source = bytes(rng.choice(alphabet) for _ in range(300))
    mentions = Mentions()
    changed = 0
    for _ in range(3000):
        at = rng.randrange(len(source) + 1)
        if rng.random() < 0.5 and len(source) > 1:
            source = source[:at] + source[at + rng.randrange(1, 4) :]
        else:
            source = source[:at] + bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 4))) + source[at:]
        answers = [mentions.contains(source, word) for word in words]
        assert answers == [word in source for word in words]
        changed += answers != [True] * len(words)
    assert changed  # some word was missing at times


def test_context_numbers_given_again_do_not_carry_old_findings() -> None:
    source = (
        b'package p\n\nimport (\n\t"context"\n\t"time"\n)\n'
        + b"".join(
            b"\nfunc f%d(p context.Context) {\n\tctx, _ := context.WithTimeout(p, time.Second)\n\t_ = ctx\n}\n" % i
            for i in range(3)
        )
    )
    doc = Document("file:///p.go", source)
    engine = Engine()
    assert doc.tree is not None
    assert len(engine.analyze(doc.source, doc.tree, Settings(), keep=doc.uri)) == 3
    while len(engine._contexts) < 4096:  # the next new context numbers them from 0 again
        engine._contexts[("filler", len(engine._contexts))] = len(engine._contexts)
    at = doc.source.index(b'"context"')
    doc.splice(at, at + len(b'"context"'), b'"example.com/context"')
    assert doc.tree is not None
    assert engine.analyze(doc.source, doc.tree, Settings(), keep=doc.uri) == []


def test_forgetting_a_document_drops_what_was_kept_for_it(tmp_path: Path) -> None:
    from golsp_leaks.goanalysis.summaries import package

    path = tmp_path / "p.go"
    path.write_text(SOURCE)
    doc = Document(path.as_uri(), SOURCE.encode())
    assert doc.tree is not None
    engine = Engine()
    engine.analyze(doc.source, doc.tree, Settings(), path=str(path), package=package_facts(path, doc.source, doc.tree),
                   keep=doc.uri)
    assert engine.cache_stats()["files"] == 1 and path in package._kept_parts
    engine.forget(doc.source, doc.tree, keep=doc.uri)
    package.forget(path, doc.source)
    assert engine.cache_stats()["files"] == 0 and engine.cache_stats()["declarations"] == 0
    assert path not in package._kept_parts and path.parent not in package._last_facts
