"""Lock facts from the package's other files: a mutex field's type, an embedded mutex, a method that locks.

``type Cache struct{ mu sync.Mutex }`` and ``func (c *Cache) size() int`` (which takes ``c.mu``) in
cache.go; the methods that lock in get.go, which does not import sync.
"""

from __future__ import annotations

from pathlib import Path

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.summaries.locks import lock_facts
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules import rule_ids

CACHE = b"""package app

import "sync"

type Cache struct {
	mu    sync.Mutex
	items map[string]int
}

type Counter struct {
	sync.RWMutex
	n int
}

func (c *Cache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *Cache) release() { c.mu.Unlock() }
"""

GET = b"""package app

import "errors"

func (c *Cache) get(key string) (int, error) {
	c.mu.Lock()
	if key == "" {
		return 0, errors.New("empty key")
	}
	if c.size() > 10 {
		c.items = nil
	}
	v := c.items[key]
	c.mu.Unlock()
	return v, nil
}

func (n *Counter) add(d int) error {
	n.Lock()
	if d < 0 {
		return errors.New("negative")
	}
	n.n += d
	n.Unlock()
	return nil
}

func (c *Cache) put(key string, v int) {
	c.mu.Lock()
	if v < 0 {
		c.release()
		return
	}
	c.items[key] = v
	c.mu.Unlock()
}
"""


def _findings(directory: Path, with_cache: bool) -> list[tuple[str, int]]:
    clear_cache()
    if with_cache:
        (directory / "cache.go").write_bytes(CACHE)
    path = directory / "get.go"
    path.write_bytes(GET)
    tree = parse(GET)
    facts = package_facts(path, GET, tree)
    settings = Settings(rules={r: r == "lock-not-released" for r in rule_ids()})
    diagnostics = Engine().analyze(GET, tree, settings, path=str(path), package=facts)
    return sorted((d.finding.message.split(":")[0], GET.count(b"\n", 0, d.finding.start) + 1) for d in diagnostics)


def test_the_mutex_types_and_locking_methods_of_a_sibling_file_are_known(tmp_path: Path) -> None:
    assert _findings(tmp_path, with_cache=True) == [
        ("c.mu is not unlocked on every path", 6),
        ("c.size() locks c.mu again while it is held", 10),
        ("n is not unlocked on every path", 19),
    ]


def test_without_the_sibling_nothing_is_known(tmp_path: Path) -> None:
    assert _findings(tmp_path, with_cache=False) == []


def test_lock_facts_of_a_file() -> None:
    facts = lock_facts(CACHE)
    assert facts.mutex_fields == frozenset({"mu"})
    assert facts.lock_types == frozenset({"Counter"})
    assert ("Cache", "size", "mu") in facts.locking
    assert ("Cache", "release", "mu") not in facts.locking
    assert "release" in facts.unlocking and "size" not in facts.unlocking


def test_a_renamed_sync_import_in_the_sibling_is_read(tmp_path: Path) -> None:
    renamed = CACHE.replace(b'import "sync"', b'import s "sync"').replace(b"sync.", b"s.")
    assert lock_facts(renamed) == lock_facts(CACHE)
    clear_cache()
    (tmp_path / "cache.go").write_bytes(renamed)
    path = tmp_path / "get.go"
    path.write_bytes(GET)
    tree = parse(GET)
    settings = Settings(rules={r: r == "lock-not-released" for r in rule_ids()})
    diagnostics = Engine().analyze(GET, tree, settings, path=str(path), package=package_facts(path, GET, tree))
    assert sorted(GET.count(b"\n", 0, d.finding.start) + 1 for d in diagnostics) == [6, 10, 19]


def test_sync_types_are_read_through_the_name_the_file_imports_sync_under() -> None:
    grouped = b'package app\n\nimport (\n\t"errors"\n\tsy "sync"\n)\n\ntype T struct {\n\tmu sy.RWMutex\n\twg *sy.WaitGroup\n}\n\ntype U struct {\n\tsy.Mutex\n}\n'
    facts = lock_facts(grouped)
    assert (facts.mutex_fields, facts.waitgroup_fields, facts.lock_types) == ({"mu"}, {"wg"}, {"U"})
    dotted = b'package app\n\nimport . "sync"\n\ntype T struct {\n\tmu Mutex\n}\n'
    assert lock_facts(dotted).mutex_fields == {"mu"}
    # With sync imported under another name, or only for its side effects, sync.Mutex is not sync's.
    assert lock_facts(grouped.replace(b"sy.", b"sync.")).mutex_fields == frozenset()
    blank = b'package app\n\nimport _ "sync"\n\ntype T struct {\n\tmu sync.Mutex\n}\n'
    assert lock_facts(blank) == lock_facts(b"package app\n")
