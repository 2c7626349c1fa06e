"""Package facts read from the other files of a directory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from golsp_leaks.goanalysis.summaries import package
from golsp_leaks.goanalysis.summaries.facts import PackageFacts
from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts, summarize

HANDLER = b'package main\n\nimport "net/http"\n\nfunc track(w http.ResponseWriter, r *http.Request) {\n\tvisits[r.URL.Path]++\n}\n'


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_go_file_does_not_block(tmp_path: Path) -> None:
    clear_cache()
    os.mkfifo(tmp_path / "pipe.go")
    (tmp_path / "store.go").write_text("package main\n\nvar visits = map[string]int{}\n")
    own = tmp_path / "handler.go"
    own.write_bytes(HANDLER)
    result: list[object] = []
    # The facts are computed when first read: read them in the thread.
    worker = threading.Thread(target=lambda: result.append(package_facts(own, HANDLER).globals), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert result, "package_facts blocked on a FIFO"
    assert "visits" in result[0]  # type: ignore[operator]


def test_unreadable_and_foreign_files_are_left_out(tmp_path: Path) -> None:
    clear_cache()
    (tmp_path / "other.go").write_text("package other\n\nvar visits = map[string]int{}\n")
    (tmp_path / "binary.go").write_bytes(b"\x00\xff" * 1000)
    own = tmp_path / "handler.go"
    own.write_bytes(HANDLER)
    facts = package_facts(own, HANDLER)
    assert "visits" not in facts.globals


def test_the_declaration_summaries_are_bounded_by_bytes() -> None:
    """An editor makes a new version of a function per keystroke: the old ones do not pile up."""
    clear_cache()
    for i in range(5000):
        summarize(f"package p\n\nfunc f{i}() {{\n\tg{i}()\n}}\n".encode())
    cache = package._decl_cache
    assert cache.bytes <= cache.max_bytes and len(cache) < 5000
    latest = b"package p\n\nfunc f4999() {\n\tg4999()\n}\n"
    assert summarize(latest).parts[0] is summarize(latest).parts[0]  # the newest are kept


def test_what_a_declaration_read_keeps_no_value_alive() -> None:
    facts = PackageFacts(handlers=frozenset({"h"}))
    facts.watch()
    _ = facts.handlers
    (read,) = facts.reads()
    assert isinstance(read[1], int)
    assert facts.matches((read,)) and not PackageFacts().matches((read,))
