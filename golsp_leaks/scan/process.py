"""The service under scan as a process: started in its own process group, watched through /proc, stopped.

:class:`Service` is a context manager; leaving it (normally, on an error or on
Ctrl-C) terminates the whole process group, so that nothing started by the
command (``go run`` and the program it builds, say) is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """Open descriptors, threads and resident memory of one process (None where /proc says nothing)."""

    fds: int | None
    threads: int | None
    rss: int | None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def target_pid(root: int) -> int:
    """The process that is the service: ``root``, or its newest descendant when it only waits (``go run``)."""
    pid = root
    for _ in range(16):
        children = _children(pid)
        if not children:
            return pid
        pid = max(children)
    return pid


def process_stats(pid: int) -> ProcessStats:
    fds: int | None
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = None
    threads: int | None = None
    rss: int | None = None
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("Threads:"):
                    threads = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return ProcessStats(fds, threads, rss)


class Service:
    """A command run in its own session and process group, with its output in a log file."""

    def __init__(
        self, command: Sequence[str], log_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exited(self) -> int | None:
        """The exit status once the command has ended, else None."""
        return None if self.process is None else self.process.poll()

    def stats(self) -> ProcessStats:
        return process_stats(target_pid(self.pid))

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, then SIGKILL after ``grace`` seconds; waits for the command."""
        process = self.process
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if process.poll() is not None and not _group_alive(process.pid):
                    return
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
