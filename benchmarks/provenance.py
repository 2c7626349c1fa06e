"""What a benchmark measured, recorded beside its figures: the code and the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def code_under_test() -> dict[str, Any]:
    """Which golsp_leaks the subprocesses import (PYTHONPATH can point at another checkout)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import golsp_leaks; print(golsp_leaks.__file__)"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),  # not the checkout this runs from: `python -c` puts the cwd on sys.path
    )
    package = Path(probe.stdout.strip()).parent if probe.returncode == 0 else None
    info: dict[str, Any] = {"package": str(package) if package else None}
    if package is not None:
        head = subprocess.run(
            ["git", "-C", str(package), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        if head.returncode == 0:
            dirty = subprocess.run(
                ["git", "-C", str(package), "status", "--porcelain", "--", "."],
                capture_output=True,
                text=True,
                check=False,
            )
            info["git_head"] = head.stdout.strip()
            info["uncommitted_changes"] = bool(dirty.stdout.strip())
    return info


def machine() -> dict[str, Any]:
    """The machine, and how busy it was (other processes skew every figure here)."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- golsp-leaks
