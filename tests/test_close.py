"""A closed document leaves nothing of itself in the server's caches.

The server is driven in process, as its handlers drive it: a document is opened, edited and
analysed a few times, then closed; after the close (and the analysis thread's work for it)
nothing reachable from the server object or from the module-level caches of the package may
hold a text of the document, a piece of one (a declaration's text), its path or its URI, nor a
syntax tree of it.  The document carries a word no other text has, and every bytes and str
object reachable is searched for it.
"""

from __future__ import annotations

import gc
import sys
import types
from collections import deque
from pathlib import Path
from typing import Any

from tree_sitter import Node, Tree

from golsp_leaks.document import Document
from golsp_leaks.goanalysis.summaries import overlay
from golsp_leaks.server.server import GolspLeaksServer, _Open, _Result, create_server

WORD = "Zqxjvmarker"

SOURCE = f"""package p

import (
\t"context"
\t"database/sql"
\t"net/http"
\t"os"
\t"time"
)

type {WORD}Store struct {{
\tdb *sql.DB
}}

func closeRows{WORD}(rows *sql.Rows) {{
\trows.Close()
}}

func (s *{WORD}Store) List(db *sql.DB) error {{
\trows, err := db.Query("select 1")
\tif err != nil {{
\t\treturn err
\t}}
\tcloseRows{WORD}(rows)
\treturn nil
}}

func handle{WORD}(w http.ResponseWriter, r *http.Request) {{
\tgo watch{WORD}()
\tctx, cancel := context.WithCancel(r.Context())
\t_ = ctx
\t_ = cancel
\tf, _ := os.Open("{WORD}")
\t_ = f
}}

func watch{WORD}() {{
\tfor {{
\t\ttime.Sleep(time.Second)
\t}}
}}
"""

#: Objects not searched: code, and what only describes it.
_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType, type, types.FrameType)


def _holders(roots: list[Any], word: str) -> list[str]:
    """What, reachable from ``roots``, mentions ``word``: a description of each (its path from a root)."""
    needle_bytes = word.encode()
    seen: set[int] = set()
    found: list[str] = []
    queue: deque[tuple[Any, str]] = deque((root, name) for root, name in roots)
    while queue:
        obj, where = queue.popleft()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        if isinstance(obj, (bytes, bytearray)):
            if needle_bytes in obj:
                found.append(where)
            continue
        if isinstance(obj, str):
            if word in obj:
                found.append(where)
            continue
        if isinstance(obj, Tree):
            if needle_bytes in (obj.root_node.text or b""):
                found.append(where + " (a syntax tree)")
            continue
        if isinstance(obj, Node):
            if needle_bytes in (obj.text or b""):
                found.append(where + " (a syntax node)")
            continue
        for child in gc.get_referents(obj):
            queue.append((child, f"{where} > {type(child).__name__}"))
    return found


def _by_root(held: list[str]) -> list[str]:
    """The first of the places found under each root."""
    first: dict[str, str] = {}
    for place in held:
        first.setdefault(place.split(" > ")[0], place)
    return list(first.values())


def _roots(server: GolspLeaksServer) -> list[tuple[Any, str]]:
    roots: list[tuple[Any, str]] = [(server.engine, "server.engine"), (server.docs, "server.docs")]
    for name, module in sorted(sys.modules.items()):
        if name.startswith("golsp_leaks"):
            for attribute, value in vars(module).items():
                if not isinstance(value, _OPAQUE) and not attribute.startswith("__"):
                    roots.append((value, f"{name}.{attribute}"))
    return roots


def _analyse(server: GolspLeaksServer, entry: _Open) -> None:
    key = server._key(entry)
    job = server._job(entry, key)
    analysis, _tree, parts, converted = server._compute(job)
    entry.result = _Result(key, job.version, analysis, parts, f"{entry.serial}.{entry.edits}", converted)


def test_a_closed_document_leaves_nothing_in_the_caches(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    (tmp_path / "other.go").write_text("package p\n\nfunc helper() {}\n")
    path = tmp_path / "p.go"
    server = create_server()
    server.features.pull = True
    uri = path.as_uri()
    for cycle in range(3):
        entry = server.docs[uri] = _Open(Document(uri, SOURCE.encode(), 1), path, cycle + 1)
        overlay.put(path, entry.document.source)
        _analyse(server, entry)
        assert entry.result is not None and entry.result.items, "the document has findings"
        for edit in range(6):
            doc = entry.document
            at = doc.source.index(b"\trows.Close()") if edit % 2 == 0 else doc.source.index(b"\t_ = ctx")
            doc.splice(at, at, b"\t_ = 1\n")
            entry.edits += 1
            overlay.put(path, doc.source)
            _analyse(server, entry)
        del doc, entry
        server.close(uri)
        server.worker.submit(lambda: None).result()  # the forgetting done on the analysis thread
        gc.collect()
        held = _holders(_roots(server), WORD)
        assert not held, f"cycle {cycle}: still held after the close:\n" + "\n".join(_by_root(held))
    assert server.engine.cache_stats()["files"] == 0
    server.worker.shutdown()
