"""Package facts read from the other files of a directory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from golsp_leaks.goanalysis.summaries.package import clear_cache, package_facts

HANDLER = b'package main\n\nimport "net/http"\n\nfunc track(w http.ResponseWriter, r *http.Request) {\n\tvisits[r.URL.Path]++\n}\n'


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_go_file_does_not_block(tmp_path: Path) -> None:
    clear_cache()
    os.mkfifo(tmp_path / "pipe.go")
    (tmp_path / "store.go").write_text("package main\n\nvar visits = map[string]int{}\n")
    own = tmp_path / "handler.go"
    own.write_bytes(HANDLER)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(package_facts(own, HANDLER)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert result, "package_facts blocked on a FIFO"
    facts = result[0]
    assert "visits" in facts.globals  # type: ignore[attr-defined]


def test_unreadable_and_foreign_files_are_left_out(tmp_path: Path) -> None:
    clear_cache()
    (tmp_path / "other.go").write_text("package other\n\nvar visits = map[string]int{}\n")
    (tmp_path / "binary.go").write_bytes(b"\x00\xff" * 1000)
    own = tmp_path / "handler.go"
    own.write_bytes(HANDLER)
    facts = package_facts(own, HANDLER)
    assert "visits" not in facts.globals
