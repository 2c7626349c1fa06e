"""golsp-leaks where Go projects run their checks: pre-commit, and the README's CI snippet.

- `.pre-commit-hooks.yaml`, run by the real pre-commit (from PyPI) with `pre-commit try-repo`
  against this clone, in a small Go repository made in a temporary folder: the hook fails on a
  leaky file, names the finding, and passes once the file is fixed.  try-repo installs the hook
  into a new environment of its own from the clone on each run (pip fetches the dependencies,
  from pip's cache after the first run); PRE_COMMIT_HOME (its database and log) is
  kept in the e2e cache.
- The README's CI snippet: its `run:` command, with the package installed from this clone into a
  fresh virtualenv instead of from PyPI, in a copy of examples/; the SARIF it writes is valid
  SARIF 2.1.0, names its rules, and is the file the upload step reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import yaml

from tests.editors import support
from tests.test_cli import sarif_errors

REPO = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60)


def test_pre_commit_hooks_file_declares_the_hook() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    [hook] = hooks
    assert hook["id"] == "golsp-leaks"
    assert hook["language"] == "python"
    assert hook["types"] == ["go"]
    assert hook["entry"].split()[:2] == ["golsp-leaks", "check"]


def test_pre_commit_hook_on_a_go_repository(tmp_path: Path) -> None:
    project = support.make_workspace(tmp_path, "project")
    (project / "notes.txt").write_text(
        "context.WithTimeout without cancel, in prose\n", encoding="utf-8"
    )
    _git(project, "init", "-q")
    _git(project, "add", ".")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(support.CACHE / "pre-commit"),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    command = [
        sys.executable,
        "-m",
        "pre_commit",
        "try-repo",
        str(REPO),
        "golsp-leaks",
        "--all-files",
    ]
    with support.timed("pre-commit try-repo (leaky)"):
        leaky = support.run(command, cwd=project, env=env, timeout=900)
    output = leaky.stdout + leaky.stderr
    assert leaky.returncode == 1, output
    assert re.search(r"golsp-leaks\.+Failed", output), output
    assert f"main.go:{support.LEAK_LINE}:" in output and "lost-cancel" in output, output
    assert "notes.txt" not in output.split("golsp-leaks.", 1)[-1], output  # Go files only

    (project / "main.go").write_text(support.FIXED_GO, encoding="utf-8")
    _git(project, "add", ".")
    with support.timed("pre-commit try-repo (fixed)"):
        fixed = support.run(command, cwd=project, env=env, timeout=900)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert re.search(r"golsp-leaks\.+Passed", fixed.stdout), fixed.stdout


def _ci_snippet() -> list[dict[str, object]]:
    """The YAML block of the README that uploads SARIF."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    [block] = [b for b in blocks if "upload-sarif" in b]
    steps = yaml.safe_load(block)
    assert isinstance(steps, list)
    return steps


def test_readme_ci_snippet_writes_valid_sarif(tmp_path: Path) -> None:
    run_step, upload_step = _ci_snippet()
    command = str(run_step["run"])
    install, _, check = command.partition(" && ")
    assert install == "pip install golsp-leaks", command
    assert upload_step["uses"] == "github/codeql-action/upload-sarif@v3"
    with_ = upload_step["with"]
    assert isinstance(with_, dict)
    sarif_name = with_["sarif_file"]
    assert check.endswith(f"> {sarif_name}"), command

    # The checkout: the example apps.  The runner: a fresh virtualenv with the package from here.
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "examples", checkout)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    installed = support.run(
        ["pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
        cwd=checkout,
        env=env,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert shutil.which("golsp-leaks", path=env["PATH"]) == str(bin_dir / "golsp-leaks")

    ran = support.run(["bash", "-ec", check], cwd=checkout, env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]  # --fail-on never
    document = json.loads((checkout / str(sarif_name)).read_text(encoding="utf-8"))
    assert sarif_errors(document) == []
    [run] = document["runs"]
    assert run["tool"]["driver"]["name"] == "golsp-leaks"
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert run["results"], "the examples have findings"
    assert {result["ruleId"] for result in run["results"]} <= rules
    assert "lost-cancel" in {result["ruleId"] for result in run["results"]}
