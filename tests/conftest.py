"""Shared test set-up: every test gets its own, empty result cache directory for the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path_factory.mktemp("golsp-cache")
    monkeypatch.setenv("GOLSP_LEAKS_CACHE_DIR", str(directory))
    return directory
