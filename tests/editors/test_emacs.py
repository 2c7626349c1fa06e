"""editors/emacs/golsp-leaks.el in batch Emacs (Debian's 28.2 with elpa-eglot 1.9, elpa-lsp-mode 8.0, elpa-go-mode).

tests/editors/emacs_e2e.el opens a Go file with a lost-cancel leak in go-mode and, by mode:
- eglot: eglot started from the package's `eglot-server-programs' entry; the diagnostic in flymake
  with the severity from `golsp-leaks-severity'; the quick fix chosen in M-x eglot-code-actions;
  the diagnostic gone; a live settings change (Customize) turning it into a warning;
  M-x golsp-leaks-fix-all;
- eglot-rass: the README's recipe, `rass -- gopls -- golsp-leaks serve`, with the real gopls
  (pinned, installed by .ci/install-editors.sh): diagnostics of both servers in one buffer, the
  quick fix, and gopls's report for the fixed text (that very version) still exactly the file's
  deliberate type error;
- lsp-mode: golsp-leaks as an add-on client next to the real gopls as main client: both start,
  diagnostics of both, the quick fix through lsp-execute-code-action, gopls's report after it.
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
ELPA = Path("/usr/share/emacs/site-lisp/elpa")
PACKAGE = support.EDITORS / "emacs" / "golsp-leaks.el"


def _emacs() -> str:
    support.ensure_installed("emacs")
    emacs = shutil.which("emacs")
    assert emacs, "emacs is not on PATH after the install"
    return emacs


def _run(tmp_path: Path, mode: str) -> dict:
    emacs = _emacs()
    rass = ""
    if mode == "eglot-rass":
        support.ensure_installed("rass")
        rass = shutil.which("rass", path=support.child_path()) or ""
        assert rass, "rass is not on PATH after the install"
    with_gopls = mode != "eglot"
    leaky = support.LEAKY_TYPE_ERROR_GO if with_gopls else support.LEAKY_GO
    fixed = support.FIXED_TYPE_ERROR_GO if with_gopls else support.FIXED_GO
    workspace = support.make_workspace(tmp_path, text=leaky)
    go_file = workspace / "main.go"
    fixed_file = tmp_path / "fixed.go"
    fixed_file.write_text(fixed, encoding="utf-8")
    result_file = tmp_path / "emacs-result.json"
    env = support.gopls_env(
        GOLSP_LEAKS_EL=str(PACKAGE.parent),
        ELPA_DIR=str(ELPA),
        GO_FILE=str(go_file),
        FIXED_FILE=str(fixed_file),
        FIX_TITLE=support.FIX_TITLE,
        LEAK_LINE=str(support.LEAK_LINE),
        LEAK_COLUMN=str(support.LEAK_COLUMN),
        SERVER_CMD=json.dumps(support.server_command()),
        GOPLS_CMD=json.dumps(support.gopls_command() if with_gopls else []),
        TYPE_ERROR_LINE=str(support.TYPE_ERROR_LINE),
        TYPE_ERROR_LINE_FIXED=str(support.TYPE_ERROR_LINE_FIXED),
        TYPE_ERROR_MESSAGE=support.TYPE_ERROR_MESSAGE,
        RASS=rass,
        RESULT=str(result_file),
        E2E_TMP=str(tmp_path),
        E2E_MODE=mode,
        HOME=str(tmp_path / "home"),
    )
    (tmp_path / "home").mkdir()
    with support.timed(f"emacs run ({mode})"):
        proc = support.run(
            [emacs, "--batch", "-Q", "-l", str(HERE / "emacs_e2e.el")],
            timeout=120,
            env=env,
            cwd=workspace,
        )
    sys.stderr.write(proc.stderr)
    assert result_file.is_file(), (
        f"no result from Emacs (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    result = json.loads(result_file.read_text(encoding="utf-8"))
    (support.artifacts_dir("emacs") / f"result-{mode}.json").write_text(
        json.dumps(result, indent=2), encoding="utf-8"
    )
    assert proc.returncode == 0 and result["ok"] is True, result.get("error") or proc.stderr[-4000:]
    assert go_file.read_text(encoding="utf-8") == fixed
    assert support.FIX_TITLE in result["offered"]
    if with_gopls:
        # gopls's own report, before the fix and for the fixed text: the type error alone.
        for key, line in (
            ("gopls_before", support.TYPE_ERROR_LINE),
            ("gopls_after_fix", support.TYPE_ERROR_LINE_FIXED),
        ):
            report = json.loads(result[key])
            assert [d[:3] for d in report] == [[line, 1, "compiler"]], report
            assert support.TYPE_ERROR_MESSAGE in report[0][3]
    return result


def test_emacs_package_compiles_cleanly(tmp_path: Path) -> None:
    """A proper package: headers package.el reads, no byte-compiler warning, no checkdoc remark."""
    emacs = _emacs()
    copy = tmp_path / PACKAGE.name
    shutil.copy(PACKAGE, copy)
    elpa = json.dumps(str(ELPA))
    load_path = f'(dolist (d (directory-files {elpa} t "^[^.]")) (add-to-list \'load-path d))'
    proc = support.run(
        [
            emacs,
            "--batch",
            "-Q",
            "--eval",
            f"(progn {load_path} (setq byte-compile-error-on-warn t))",
            "-f",
            "batch-byte-compile",
            str(copy),
        ],
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    proc = support.run(
        [
            emacs,
            "--batch",
            "-Q",
            "--eval",
            f"(progn (require 'checkdoc) (checkdoc-file {json.dumps(str(copy))}))",
        ],
        timeout=60,
    )
    assert "Warning" not in proc.stderr, proc.stderr
    proc = support.run(
        [
            emacs,
            "--batch",
            "-Q",
            "--eval",
            f"(progn (require 'package) (with-temp-buffer (insert-file-contents {json.dumps(str(PACKAGE))})"
            ' (let ((d (package-buffer-info))) (princ (format "%s %s" (package-desc-name d)'
            " (package-version-join (package-desc-version d)))))))",
        ],
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "golsp-leaks 0.1.0"
    text = PACKAGE.read_text(encoding="utf-8")
    for needle in (
        "(defgroup golsp-leaks",
        "(defcustom golsp-leaks-command",
        "(defcustom golsp-leaks-rules",
        "(defcustom golsp-leaks-severity",
        "(defcustom golsp-leaks-exclude",
        "(defcustom golsp-leaks-debounce-ms",
        ":add-on? t",
        ":server-id 'golsp-leaks",
        "lsp-register-custom-settings",
        "(provide 'golsp-leaks)",
        ";;; Commentary:",
    ):
        assert needle in text, needle


def test_emacs_eglot(tmp_path: Path) -> None:
    result = _run(tmp_path, "eglot")
    assert result["major_mode"] == "go-mode"
    assert "golsp-leaks-eglot-contact" in result["eglot_entry"]
    assert result["diagnostic_type"] == "eglot-error"  # golsp-leaks-severity reached the server
    assert result["diagnostic_line"] == support.LEAK_LINE
    assert "[lost-cancel]" in result["diagnostic"]
    assert json.loads(result["workspace_configuration"])["golspLeaks"]["severity"] == {
        "lost-cancel": "error"
    }
    names = [step["name"] for step in result["steps"]]
    assert "golsp-leaks-severity changed live: now a warning" in names
    assert "golsp-leaks-fix-all" in names


def test_emacs_eglot_with_gopls_through_rass(tmp_path: Path) -> None:
    result = _run(tmp_path, "eglot-rass")
    command = result["server_command"]
    assert "rass" in command and f"gopls-{support.GOPLS_VERSION}/bin/gopls" in command
    assert '"serve"' in command
    assert support.TYPE_ERROR_MESSAGE in result["gopls_diagnostic"]
    assert "[lost-cancel]" in result["diagnostic"]
    assert result["diagnostic_type"] == "eglot-error"


def test_emacs_lsp_mode_add_on(tmp_path: Path) -> None:
    result = _run(tmp_path, "lsp-mode")
    assert result["add_on"] is True
    assert sorted(result["servers"]) == ["golsp-leaks", "gopls"]
    assert result["diagnostic_code"] == "lost-cancel"
    assert result["diagnostic_severity"] == 1  # golsp-leaks-severity reached the server
    assert result["live_severity"] == 2  # and its change, live
