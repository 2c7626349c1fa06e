"""Summaries computed across the package's files: a helper or a wrapper declared in a sibling file.

Each case is a small package written to a temporary directory; ``main.go`` is checked with the
facts of the whole package, and its lines carry ``// want "<rule>: <regexp>"`` as fixtures do.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import rule_ids

WANT = re.compile(r'//\s*want\s+"([a-z-]+): ([^"]*)"')

OPEN_AND_PASS = """package app

import "os"

func size(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	return {call}
}
"""

FILE_CASES = {
    "a helper of another file that closes its argument releases it": (
        OPEN_AND_PASS.replace("{call}", "closeAndSize(f)"),
        """package app

import "os"

func closeAndSize(f *os.File) (int64, error) {
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
""",
        False,
    ),
    "a helper of another file that only reads its argument does not": (
        OPEN_AND_PASS.replace("{call}", "statSize(f)"),
        """package app

import "os"

func statSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
""",
        True,
    ),
    "a helper of another file that keeps its argument takes it over": (
        OPEN_AND_PASS.replace("{call}", "keep(f)"),
        """package app

import "os"

var open []*os.File

func keep(f *os.File) (int64, error) {
	open = append(open, f)
	return 0, nil
}
""",
        False,
    ),
    "a helper declared in two files (build constraints) is unknown": (
        OPEN_AND_PASS.replace("{call}", "statSize(f)"),
        """//go:build linux

package app

import "os"

func statSize(f *os.File) (int64, error) { return 0, nil }
""",
        False,
    ),
    "a function nobody in the package declares keeps the benefit of the doubt": (
        OPEN_AND_PASS.replace("{call}", "elsewhere(f)"),
        "package app\n",
        False,
    ),
}


def _check(tmp_path: Path, files: dict[str, str], rule: str) -> tuple[str, list[tuple[int, str, str]]]:
    clear_cache()
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    path = tmp_path / "main.go"
    source = path.read_bytes()
    tree = parse(source)
    facts = package_facts(path, source, tree)
    settings = Settings(rules={r: r == rule for r in rule_ids()})
    diagnostics = Engine().analyze(source, tree, settings, path=str(path), package=facts)
    found = [(source.count(b"\n", 0, d.finding.start) + 1, d.rule, d.finding.message) for d in diagnostics]
    return source.decode(), found


def _assert_wanted(source: str, found: list[tuple[int, str, str]]) -> None:
    wanted = {
        number: match.groups()
        for number, line in enumerate(source.splitlines(), 1)
        if (match := WANT.search(line)) is not None
    }
    assert sorted({line for line, _, _ in found}) == sorted(wanted), found
    for line, rule, message in found:
        assert rule == wanted[line][0]
        assert re.search(wanted[line][1], message), message


@pytest.mark.parametrize("description", list(FILE_CASES))
def test_a_callee_in_another_file(tmp_path: Path, description: str) -> None:
    main, other, leaks = FILE_CASES[description]
    files = {"main.go": main, "other.go": other}
    if "two files" in description:
        files["other_windows.go"] = other.replace("//go:build linux", "//go:build windows")
    _, found = _check(tmp_path, files, "unclosed-file")
    assert [rule for _, rule, _ in found] == (["unclosed-file"] if leaks else [])


MAIL = """package app

import (
	"io"
	"os"
)

type Email struct{ parts [][]byte }

func (e *Email) AttachFile(name string) error {
	f, err := os.Open(name) // want "unclosed-file: the file f opened by os.Open is never closed"
	if err != nil {
		return err
	}
	return e.attach(f)
}

func (e *Email) AttachOwned(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return e.attachAndClose(f)
}

func (e *Email) AttachElsewhere(name string, other interface{ attach(io.Reader) error }) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return other.attach(f)
}
"""

MAIL_PARTS = """package app

import (
	"io"
	"os"
)

func (e *Email) attach(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e.parts = append(e.parts, data)
	return nil
}

func (e *Email) attachAndClose(f *os.File) error {
	defer f.Close()
	return e.attach(f)
}
"""


def test_a_method_of_the_receivers_type_in_another_file(tmp_path: Path) -> None:
    """``e.attach(f)`` inside a method of ``*Email`` calls ``Email.attach``; ``other.attach(f)`` may
    be anyone's and keeps the benefit of the doubt."""
    source, found = _check(tmp_path, {"main.go": MAIL, "parts.go": MAIL_PARTS}, "unclosed-file")
    _assert_wanted(source, found)


CLIENT = """package app

import "net/http"

type request struct{ req *http.Request }

func (r *request) Do() (resp *http.Response, err error) {
	client := &http.Client{}
	return client.Do(r.req)
}

func fetch(u string) (*http.Response, error) {
	return http.Get(u)
}

type api struct{ last *http.Response }

func (a *api) lastResponse() (*http.Response, error) {
	return a.last, nil
}
"""

CALLERS = """package app

import "fmt"

func status(r *request) (int, error) {
	resp, err := r.Do() // want "unclosed-body: the body of the response resp from Do is never closed"
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func statusClosed(r *request) (int, error) {
	resp, err := r.Do()
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func get(u string) error {
	resp, err := fetch(u) // want "unclosed-body: not closed on every path"
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Body.Close()
}

func last(a *api) int {
	resp, err := a.lastResponse()
	if err != nil {
		return 0
	}
	return resp.StatusCode
}
"""


def test_a_wrapper_in_another_file_returns_a_fresh_response(tmp_path: Path) -> None:
    """The project's own ``Do`` (which calls the library's ``Do``, not itself) and a function
    returning ``http.Get``'s response are acquisitions where they are called; an accessor
    returning a field is not.  ``main.go`` does not even import net/http."""
    source, found = _check(tmp_path, {"main.go": CALLERS, "client.go": CLIENT}, "unclosed-body")
    _assert_wanted(source, found)


AMBIGUOUS = """package app

func status(r *request) (int, error) {
	resp, err := r.Do()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func status2(u string) (int, error) {
	resp, err := fetch(u) // want "unclosed-body: never closed"
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
"""


def test_a_method_name_two_types_declare_is_no_ones(tmp_path: Path) -> None:
    """Once another type of the package has a ``Do`` too, ``r.Do()`` may be either; ``fetch`` is
    a function, still known."""
    other = "package app\n\ntype cache struct{}\n\nfunc (c *cache) Do() (int, error) { return 0, nil }\n"
    files = {"main.go": AMBIGUOUS, "client.go": CLIENT, "cache.go": other}
    source, found = _check(tmp_path, files, "unclosed-body")
    _assert_wanted(source, found)


ROWS = """package app

import (
	"context"
	"database/sql"
)

func names(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM users") // want "unclosed-rows: never closed"
	if err != nil {
		return nil, err
	}
	return scanNames(rows)
}

func namesClosed(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM users")
	if err != nil {
		return nil, err
	}
	return scanAndClose(rows)
}
"""

SCAN = """package app

import "database/sql"

func scanNames(rows *sql.Rows) ([]string, error) {
	var names []string
	var n string
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

func scanAndClose(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	return scanNames(rows)
}
"""


def test_rows_handed_to_a_helper_of_another_file(tmp_path: Path) -> None:
    source, found = _check(tmp_path, {"main.go": ROWS, "scan.go": SCAN}, "unclosed-rows")
    _assert_wanted(source, found)


SFTP = """package app

import (
	"os"

	"github.com/pkg/sftp"
)

type backend struct{ c *sftp.Client }

func (b *backend) save(name string, data []byte) error {
	f, err := b.c.OpenFile(name, os.O_CREATE|os.O_WRONLY) // want "unclosed-file: the file f opened by b.c.OpenFile is not closed on every path"
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func (b *backend) size(name string) (int64, error) {
	f, err := b.c.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

type other struct{}

func (other) Open(string) (*os.File, error) { return nil, nil }

func notAClient(o other) bool {
	_, err := o.Open("x")
	return err == nil
}
"""


def test_the_files_of_an_sftp_client(tmp_path: Path) -> None:
    """A library the fixtures are not vetted against: checked here, on one file."""
    source, found = _check(tmp_path, {"main.go": SFTP}, "unclosed-file")
    _assert_wanted(source, found)


QUERIER = """package app

import "database/sql"

type querier interface {
	QueryRows(query string) (*sql.Rows, error)
}
"""

COUNT = """package app

func count(q querier) (int, error) {
	rows, err := q.QueryRows("SELECT id FROM users") // want "unclosed-rows: never closed"
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		if n++; n > 100 {
			return n, nil
		}
	}
	return n, rows.Err()
}
"""


def test_rows_from_an_interface_of_another_file(tmp_path: Path) -> None:
    """The querier interface is declared next door; ``main.go`` does not even import database/sql."""
    source, found = _check(tmp_path, {"main.go": COUNT, "querier.go": QUERIER}, "unclosed-rows")
    _assert_wanted(source, found)
