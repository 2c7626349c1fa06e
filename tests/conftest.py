"""Set-up shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import gotool


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own, empty result cache directory for the CLI."""
    directory = tmp_path_factory.mktemp("golsp-cache")
    monkeypatch.setenv("GOLSP_LEAKS_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="session")
def go_modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The framework modules of ``tests/gomod``, fetched through the module proxy into the module cache.

    Once per session, and a no-op when the cache (``~/go/pkg/mod``, or
    ``GOMODCACHE``) already has them; the tests then run ``go`` with
    ``GOPROXY=off``.
    """
    tmp: Path = tmp_path_factory.mktemp("gomod")
    gotool.download_modules(tmp)
    yield
