"""Facts from the package's other files: a database handle's type, and a field that a method calls.

``type Store struct{ db *pgxpool.Pool }`` in store.go, the query in handlers.go, which does not
import pgx: the rows of ``s.db.Query`` must still be closed.
"""

from __future__ import annotations

from pathlib import Path

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import rule_ids

STORE = b"""package app

import "github.com/jackc/pgx/v5/pgxpool"

type Store struct {
	db *pgxpool.Pool
}
"""

HANDLERS = b"""package app

import "context"

func (s *Store) names(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, "SELECT name FROM users")
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
"""


def _findings(directory: Path, with_store: bool) -> list[tuple[str, int]]:
    clear_cache()
    if with_store:
        (directory / "store.go").write_bytes(STORE)
    handlers = directory / "handlers.go"
    handlers.write_bytes(HANDLERS)
    tree = parse(HANDLERS)
    facts = package_facts(handlers, HANDLERS, tree)
    settings = Settings(rules={r: r == "unclosed-rows" for r in rule_ids()})
    diagnostics = Engine().analyze(HANDLERS, tree, settings, path=str(handlers), package=facts)
    return [(d.rule, HANDLERS.count(b"\n", 0, d.finding.start) + 1) for d in diagnostics]


def test_the_handle_type_of_a_sibling_file_is_known(tmp_path: Path) -> None:
    assert _findings(tmp_path, with_store=True) == [("unclosed-rows", 6)]


def test_without_the_sibling_nothing_is_known(tmp_path: Path) -> None:
    assert _findings(tmp_path, with_store=False) == []


WORKER = b"""package app

import "context"

type worker struct {
	cancel context.CancelFunc
}

func (w *worker) start(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	w.cancel = cancel
	return ctx
}
"""

STOP = b"""package app

func (w *worker) Stop() { w.cancel() }
"""


def _cancel_findings(directory: Path, with_stop: bool) -> list[tuple[str, int]]:
    clear_cache()
    if with_stop:
        (directory / "stop.go").write_bytes(STOP)
    path = directory / "worker.go"
    path.write_bytes(WORKER)
    tree = parse(WORKER)
    facts = package_facts(path, WORKER, tree)
    settings = Settings(rules={r: r == "lost-cancel" for r in rule_ids()})
    diagnostics = Engine().analyze(WORKER, tree, settings, path=str(path), package=facts)
    return [(d.rule, WORKER.count(b"\n", 0, d.finding.start) + 1) for d in diagnostics]


def test_a_field_called_by_a_method_in_another_file_is_released(tmp_path: Path) -> None:
    assert _cancel_findings(tmp_path, with_stop=True) == []


def test_a_field_nothing_calls_is_reported(tmp_path: Path) -> None:
    assert _cancel_findings(tmp_path, with_stop=False) == [("lost-cancel", 10)]
