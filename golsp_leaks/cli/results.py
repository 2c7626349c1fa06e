"""The results of ``golsp-leaks check`` and how a file is read, apart from the analysis.

A run that takes every file from the result cache imports this module, not
:mod:`golsp_leaks.cli.run` (which loads the analysis when a file must be analysed);
:mod:`~golsp_leaks.cli.run` exports the same names.
"""

from __future__ import annotations

import enum
import os
import stat

from golsp_leaks.severity import Applicability, Severity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import NamedTuple

    from golsp_leaks.cli.files import Target
else:  # typing is slow to import; the same classes without it
    from golsp_leaks.cli.tuples import NamedTuple


class Mode(enum.Enum):
    CHECK = "check"
    FIX = "fix"
    DIFF = "diff"


class Span(NamedTuple):
    """A range: 1-based lines; 1-based columns in bytes and in UTF-16 code units; byte offsets.

    The end is exclusive: ``end_column`` is the column just after the last character.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    column16: int
    end_column16: int
    offset: int
    end_offset: int


class RelatedInfo(NamedTuple):
    span: Span
    message: str


class EditInfo(NamedTuple):
    span: Span
    new_text: str


class FixInfo(NamedTuple):
    title: str
    applicability: Applicability
    edits: tuple[EditInfo, ...]


class Report(NamedTuple):
    """One finding, ready to print."""

    rule: str
    severity: Severity
    message: str
    span: Span
    related: tuple[RelatedInfo, ...]
    fixes: tuple[FixInfo, ...]

    @property
    def fixable(self) -> bool:
        """True when ``--fix`` would fix it (it has a safe fix)."""
        return any(f.applicability is Applicability.SAFE for f in self.fixes)

    @property
    def unsafe_fixable(self) -> bool:
        """True when only ``--unsafe-fixes`` would fix it."""
        return not self.fixable and any(f.applicability is Applicability.UNSAFE for f in self.fixes)


class FileResult(NamedTuple):
    """A file with something to say: findings, fixes made, or a diff."""

    path: str
    fs_path: str
    reports: tuple[Report, ...]
    fixed: int = 0
    diff: bytes | None = None
    #: Fixes applied (or, with ``--diff``, that would be), per rule.
    fixed_by_rule: tuple[tuple[str, int], ...] = ()


class Outcome:
    """What checking a set of files gave."""

    __slots__ = ("analysed", "cached", "files", "files_checked", "lines", "warnings")

    def __init__(
        self,
        files: list[FileResult] | None = None,
        files_checked: int = 0,
        lines: int = 0,
        warnings: list[str] | None = None,
        cached: int = 0,
        analysed: list[str] | None = None,
    ) -> None:
        self.files: list[FileResult] = [] if files is None else files
        self.files_checked = files_checked
        self.lines = lines
        self.warnings: list[str] = [] if warnings is None else warnings
        #: Files whose result came from the cache.
        self.cached = cached
        #: Files analysed to the end (no internal error): their results may be kept in the cache.
        self.analysed: list[str] = [] if analysed is None else analysed

    def __repr__(self) -> str:
        return (
            f"Outcome(files={self.files!r}, files_checked={self.files_checked}, lines={self.lines}, "
            f"warnings={self.warnings!r}, cached={self.cached}, analysed={self.analysed!r})"
        )

    def __getstate__(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    def add(self, other: Outcome) -> None:
        self.files.extend(other.files)
        self.files_checked += other.files_checked
        self.lines += other.lines
        self.warnings.extend(other.warnings)
        self.cached += other.cached
        self.analysed.extend(other.analysed)

    def sort(self) -> None:
        self.files.sort(key=lambda f: (f.path, f.fs_path))

    @property
    def reports(self) -> Iterator[tuple[FileResult, Report]]:
        for result in self.files:
            for report in result.reports:
                yield result, report


def count_lines(source: bytes) -> int:
    if not source:
        return 0
    return source.count(b"\n") + (0 if source.endswith(b"\n") else 1)


class NotAFile(OSError):
    pass


def read_file(path: str) -> bytes:
    """A file's bytes: one ``stat``, ``open``, ``read`` and ``close`` for a file of unchanged size.

    Never opens a FIFO or a device (reading it could block, or never end): what ``stat``
    says is not a regular file raises :class:`NotAFile`; the file is opened non-blocking
    besides, in case it was replaced by a FIFO in between.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotAFile(f"{path} is not a regular file")
    fd = os.open(path, _READ_FLAGS)
    try:
        data = os.read(fd, st.st_size + 1)
        if len(data) <= st.st_size:
            return data  # the whole file: a read of a regular file is short only at its end
        chunks = [data]  # it grew since: read on to the end
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_target(target: Target, outcome: Outcome | None) -> bytes | None:
    """The file's bytes, counted as checked in ``outcome``; None (with a warning) when it cannot be checked."""
    if outcome is None:
        outcome = Outcome()  # only reading: nothing counted, nothing said
    try:
        source = read_file(target.fs_path)
    except NotAFile:
        outcome.warnings.append(f"{target.display}: not a regular file, skipped")
        return None
    except OSError as exc:
        outcome.warnings.append(f"{target.display}: cannot read: {exc.strerror or exc}")
        return None
    if b"\0" in source:
        outcome.warnings.append(f"{target.display}: binary file, skipped")
        return None
    outcome.files_checked += 1
    outcome.lines += count_lines(source)
    return source
