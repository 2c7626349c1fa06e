"""Analysing files for the command line: in this process, or in worker processes.

A file is read once.  When it contains none of the enabled rules' trigger
substrings (or, for a rule that needs an import, not the import path either:
:class:`FileFilter`) it cannot have a finding, and it is counted as checked
without being parsed.  Line and column numbers are computed only for files that have
findings, in the process that read the file, so that only small results travel
between processes.

A file is analysed with the facts of its package (read from the other
``.go`` files of its directory, as the language server does), so the files
of one directory are kept together.  With many files the work is cut into
chunks of whole directories (about :data:`CHUNK_SIZE` files each) and spread
over a :class:`~concurrent.futures.ProcessPoolExecutor` with one worker per
CPU, the largest chunks first; each worker keeps its own
:class:`~golsp_leaks.engine.Engine` and package-facts cache.

``--fix`` and ``--diff`` run in the same place, under one policy
(:func:`golsp_leaks.model.automatic_fix`): the safe fix of every finding — and
its unsafe one when there is no safe one and ``--unsafe-fixes`` is given — is
applied (never two that overlap), the file is re-parsed and re-analysed, and
that is repeated until nothing more applies (at most :data:`MAX_FIX_PASSES`
times).  What was applied is counted per rule, and so are the findings left
with only an unsafe fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Sequence

from golsp_leaks.cli import cache
from golsp_leaks.cli.files import Scope, Target
from golsp_leaks.cli.results import (
    EditInfo,
    FileResult,
    FixInfo,
    Mode,
    NotAFile,
    Outcome,
    RelatedInfo,
    Report,
    Span,
    count_lines,
    read_target,
)
from golsp_leaks.goanalysis.summaries.gomod import go_version_for

__all__ = [  # the results are defined in golsp_leaks.cli.results, and exported from here too
    "EditInfo", "FileResult", "FixInfo", "Mode", "NotAFile", "Outcome", "RelatedInfo", "Report", "Span",
    "count_lines", "read_target",
]

# The analysis is imported when a file is analysed, not before: a run that takes every
# file from the result cache never loads it (see _analysis()).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future
    from multiprocessing.context import BaseContext
    from typing import Any, NamedTuple, TextIO

    from tree_sitter import Tree

    from golsp_leaks.config import Settings
    from golsp_leaks.document import LineIndex
    from golsp_leaks.engine import Engine
    from golsp_leaks.model import Diagnostic, Edit
    from golsp_leaks.rules import PackageFacts
else:  # typing is slow to import (see golsp_leaks.cli.tuples)
    from golsp_leaks.cli.tuples import NamedTuple


def parse(source: bytes, old_tree: Any = None) -> Tree:
    """:func:`golsp_leaks.goanalysis.syntax.parse.parse`, imported on first use."""
    from golsp_leaks.goanalysis.syntax.parse import parse as parse_go

    return parse_go(source, old_tree)

def parse_shared(source: bytes) -> Tree:
    """:func:`golsp_leaks.goanalysis.syntax.parse.parse_shared`, imported on first use."""
    from golsp_leaks.goanalysis.syntax.parse import parse_shared as shared

    return shared(source)


#: Files per task sent to a worker process.
CHUNK_SIZE = 64
#: Below this many files everything runs in this process (starting workers costs more).
PARALLEL_THRESHOLD = 256
#: How many times ``--fix`` re-analyses a file and applies the fixes that are left.
MAX_FIX_PASSES = 8


class Task(NamedTuple):
    mode: Mode
    settings: Settings
    targets: tuple[Target, ...]
    unsafe: bool = False


# --------------------------------------------------------------------------- one file


def _span(lines: LineIndex, start: int, end: int) -> Span:
    from golsp_leaks.document import Encoding

    line, column = lines.byte_column(start)
    end_line, end_column = lines.byte_column(end)
    start16 = lines.position(start, Encoding.UTF16).character + 1
    end16 = lines.position(end, Encoding.UTF16).character + 1
    return Span(line, column, end_line, end_column, start16, end16, start, end)


def to_reports(source: bytes, diagnostics: Sequence[Diagnostic]) -> tuple[Report, ...]:
    """Diagnostics with byte offsets made into reports with lines and columns."""
    if not diagnostics:
        return ()
    from golsp_leaks.document import LineIndex

    lines = LineIndex(source)
    out: list[Report] = []
    for diagnostic in diagnostics:
        finding = diagnostic.finding
        out.append(
            Report(
                rule=finding.rule,
                severity=diagnostic.severity,
                message=finding.message,
                span=_span(lines, finding.start, finding.end),
                related=tuple(
                    RelatedInfo(_span(lines, r.start, r.end), r.message) for r in finding.related
                ),
                fixes=tuple(
                    FixInfo(
                        fix.title,
                        fix.applicability,
                        tuple(EditInfo(_span(lines, e.start, e.end), e.text) for e in fix.edits),
                    )
                    for fix in finding.fixes
                ),
            )
        )
    out.sort(key=lambda r: (r.span.line, r.span.column, r.rule, r.span.end_line, r.span.end_column))
    return tuple(out)


def automatic_edits(diagnostics: Sequence[Diagnostic], unsafe: bool = False) -> tuple[list[Edit], list[str]]:
    """The edits of every finding's automatic fix that do not overlap an earlier one; and the rules fixed."""
    from golsp_leaks.fixes.apply import overlapping
    from golsp_leaks.model import automatic_fix

    edits: list[Edit] = []
    rules: list[str] = []
    for diagnostic in diagnostics:
        fix = automatic_fix(diagnostic.finding.fixes, unsafe)
        if fix is None:
            continue
        if overlapping([*edits, *fix.edits]):
            continue
        edits.extend(fix.edits)
        rules.append(diagnostic.rule)
    return edits, rules


def minimal_triggers(triggers: Sequence[bytes] | None) -> tuple[bytes, ...] | None:
    """The same test with fewer substrings: no duplicates, none that contains another one.

    A file that contains ``b"Open("`` contains ``b"Open"``: only the shorter needs
    looking for.  Shorter ones, usually the commoner, come first.
    """
    if triggers is None:
        return None
    unique = sorted(set(triggers), key=lambda t: (len(t), t))
    return tuple(t for i, t in enumerate(unique) if not any(u in t for u in unique[:i]))


class FileFilter:
    """Does a file's text contain what some enabled rule needs to have a finding there?

    A rule needs one of its triggers; a rule with :attr:`~golsp_leaks.rules.base.Rule.file_triggers`
    (an import path) needs one of those too.  The triggers of the rules without are looked for
    together, fewest first; the others are asked (:meth:`Rule.may_fire_in`), and only about a file
    that has none of those.
    """

    __slots__ = ("gated", "triggers")

    def __init__(self, engine: Engine, settings: Settings) -> None:
        enabled = [rule for rule in engine.rules if settings.enabled(rule.id)]
        #: None when some enabled rule has no trigger: every file may have a finding.
        self.triggers = (
            None
            if engine.triggers(settings) is None
            else minimal_triggers([t for rule in enabled if not rule.file_triggers for t in rule.triggers])
        )
        self.gated = tuple(rule for rule in enabled if rule.file_triggers)

    def may_fire_in(self, source: bytes) -> bool:
        if self.triggers is None or any(t in source for t in self.triggers):
            return True
        return any(rule.may_fire_in(source) for rule in self.gated)


class _Analyzer:
    """An engine and what it needs to analyse the files of one task."""

    def __init__(self, engine: Engine, settings: Settings, unsafe: bool = False) -> None:
        self.engine = engine
        self.settings = settings
        self.unsafe = unsafe
        self.filter = FileFilter(engine, settings)
        self._go_versions: dict[str, tuple[int, int] | None] = {}
        self._safe_dirs: dict[str, bool] = {}

    def go_version(self, fs_path: str) -> tuple[int, int] | None:
        """The module's Go version, looked up once per directory."""
        directory = os.path.dirname(fs_path)
        try:
            return self._go_versions[directory]
        except KeyError:
            version = self._go_versions[directory] = go_version_for(fs_path)
            return version

    def analyze(self, source: bytes, tree: Tree, target: Target) -> list[Diagnostic]:
        return self.engine.analyze(
            source,
            tree,
            self.settings,
            path=target.display,
            go_version=self.go_version(target.fs_path),
            package=self.package_facts(target.fs_path, source, tree),
            prefilter=True,
        )

    def package_facts(self, fs_path: str, source: bytes, tree: Tree) -> PackageFacts:
        """What the other files of the package say (handlers, goroutines...), as the server does."""
        from golsp_leaks.goanalysis.summaries.package import package_facts, source_facts

        directory = os.path.dirname(fs_path)
        safe = self._safe_dirs.get(directory)
        if safe is None:
            safe = self._safe_dirs[directory] = _readable_package(directory or ".")
        if not safe:
            return source_facts(source, tree)
        return package_facts(fs_path, source, tree)

    def fix(
        self, source: bytes, tree: Tree, diagnostics: list[Diagnostic], target: Target
    ) -> tuple[bytes, list[Diagnostic], list[str]]:
        """Apply automatic fixes until none is left; the new source, what remains, and the rules fixed."""
        from golsp_leaks.fixes.apply import apply_edits
        from golsp_leaks.model import automatic_fix

        fixed: list[str] = []
        for _ in range(MAX_FIX_PASSES):
            edits, rules = automatic_edits(diagnostics, self.unsafe)
            if not edits:
                break
            new_source = apply_edits(source, edits)
            new_tree = parse(new_source)
            if new_tree.root_node.has_error and not tree.root_node.has_error and len(rules) > 1:
                # Each fix parses on its own, but not all of them together: one at a time.
                first = next(d for d in diagnostics if automatic_fix(d.finding.fixes, self.unsafe))
                edits, rules = automatic_edits([first], self.unsafe)
                new_source = apply_edits(source, edits)
                new_tree = parse(new_source)
            if new_source == source or (
                new_tree.root_node.has_error and not tree.root_node.has_error
            ):
                break
            source, tree = new_source, new_tree
            fixed.extend(rules)
            diagnostics = self.analyze(source, tree, target)
        return source, diagnostics, fixed


def _readable_package(directory: str) -> bool:
    """False when some ``*.go`` entry of the directory is a FIFO, socket or device.

    Learning the package's facts reads every ``.go`` file of the directory, and
    opening a FIFO blocks until someone writes to it: such a package gets the
    facts of the analysed file alone.
    """
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return True
    for entry in entries:
        if not entry.name.endswith(".go"):
            continue
        try:
            if entry.is_file() or entry.is_dir():
                continue
            mode = os.stat(entry.path).st_mode
        except OSError:
            continue  # a broken link: reading it fails at once
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return False
    return True


def write_atomically(path: str, data: bytes) -> None:
    """Replace a file's contents without ever leaving it half-written; keeps its permissions."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".golsp-leaks-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(OSError):
            os.chmod(tmp, os.stat(real).st_mode & 0o7777)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _lines(data: bytes) -> list[bytes]:
    """Lines ending at ``\\n`` only (as diff and patch see them), with their line breaks."""
    return data.splitlines(keepends=True) if b"\r" not in data else _LINE.findall(data)


_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


def unified_diff(path: str, before: bytes, after: bytes) -> bytes:
    """A unified diff (``a/path``, ``b/path``), in bytes: the file may not be valid UTF-8."""
    import difflib

    name = path.replace(os.sep, "/").encode("utf-8", errors="surrogateescape")
    out: list[bytes] = []
    for line in difflib.diff_bytes(
        difflib.unified_diff, _lines(before), _lines(after), b"a/" + name, b"b/" + name
    ):
        out.append(line)
        if not line.endswith(b"\n"):
            out.append(b"\n\\ No newline at end of file\n")
    return b"".join(out)


def check_file(
    analyzer: _Analyzer, mode: Mode, target: Target, outcome: Outcome, source: bytes | None = None
) -> None:
    """Check one file (read here unless ``source`` is given), adding what it gives to ``outcome``.

    Never raises for a bad file.
    """
    if source is None:
        source = read_target(target, outcome)
        if source is None:
            return
    if not analyzer.filter.may_fire_in(source):
        outcome.analysed.append(target.fs_path)
        return
    try:
        tree = parse_shared(source)  # the tree the package's facts may have made of it already
        diagnostics = analyzer.analyze(source, tree, target)
        if not diagnostics:
            outcome.analysed.append(target.fs_path)
            return
        fixed: list[str] = []
        diff = None
        if mode is not Mode.CHECK:
            new_source, remaining, fixed = analyzer.fix(source, tree, diagnostics, target)
            if new_source != source:
                if mode is Mode.DIFF:
                    diff = unified_diff(target.display, source, new_source)
                else:
                    try:
                        write_atomically(target.fs_path, new_source)
                    except OSError as exc:
                        outcome.warnings.append(
                            f"{target.display}: cannot write the fixes: {exc.strerror or exc}"
                        )
                        fixed = []
                    else:
                        source, diagnostics = new_source, remaining
        reports = to_reports(source, diagnostics)
    except Exception as exc:  # an engine bug must cost one file, not the run
        outcome.warnings.append(f"{target.display}: internal error, file skipped: {exc!r}")
        return
    outcome.analysed.append(target.fs_path)
    by_rule = tuple(sorted((rule, fixed.count(rule)) for rule in set(fixed)))
    outcome.files.append(FileResult(target.display, target.fs_path, reports, len(fixed), diff, by_rule))


# --------------------------------------------------------------------------- many files

_worker_engine: Engine | None = None


def _engine() -> Engine:
    global _worker_engine
    if _worker_engine is None:
        from golsp_leaks.engine import Engine

        _worker_engine = Engine()
    return _worker_engine


def run_task(task: Task, on_file: Callable[[], None] | None = None) -> Outcome:
    """Check the files of one task (in a worker process, or in this one)."""
    analyzer = _Analyzer(_engine(), task.settings, task.unsafe)
    outcome = Outcome()
    for target in task.targets:
        check_file(analyzer, task.mode, target, outcome)
        if on_file is not None:
            on_file()
    return outcome


def make_tasks(
    mode: Mode, targets: Sequence[Target], scopes: Sequence[Scope], size: int, unsafe: bool = False
) -> list[Task]:
    """Chunks of about ``size`` targets, each within one scope, the largest (in bytes) first.

    The files of a directory (a Go package) stay in one chunk, however many
    they are: analysing a file reads the package's other files, and a worker
    that has read them once keeps what it learnt for the next file.
    """
    groups: dict[tuple[int, str], list[Target]] = {}
    for target in targets:
        groups.setdefault((target.scope, os.path.dirname(target.fs_path)), []).append(target)
    tasks: list[Task] = []
    chunk: list[Target] = []
    chunk_scope = -1
    for (scope_index, _), files in groups.items():
        if chunk and (scope_index != chunk_scope or len(chunk) + len(files) > size):
            tasks.append(Task(mode, scopes[chunk_scope].settings, tuple(chunk), unsafe))
            chunk = []
        chunk.extend(files)
        chunk_scope = scope_index
    if chunk:
        tasks.append(Task(mode, scopes[chunk_scope].settings, tuple(chunk), unsafe))
    # Largest first (in bytes), so that no big package is left to run alone at the end.
    tasks.sort(key=_task_bytes, reverse=True)
    return tasks


def _task_bytes(task: Task) -> int:
    total = 0
    for target in task.targets:
        with contextlib.suppress(OSError):
            total += os.path.getsize(target.fs_path)
    return total


Progress = Callable[[int, int], None]


def cpu_count() -> int:
    """The CPUs this process may run on (fewer than the machine's in a container or with taskset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_targets(
    mode: Mode,
    targets: Sequence[Target],
    scopes: Sequence[Scope],
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
    parallel_threshold: int | None = None,
    cache_dir: str | None = None,
    unsafe: bool = False,
    listings: dict[str, tuple[str, ...]] | None = None,
) -> Outcome:
    """Check every target; in worker processes when there are many of them and more than one CPU.

    With ``cache_dir``, results are taken from (and kept in) the result cache there
    (``listings``: the ``.go`` names of the directories walked, see :class:`cache.Lookup`).
    ``unsafe`` (``--unsafe-fixes``) lets ``--fix`` and ``--diff`` apply unsafe fixes too.
    """
    workers = jobs if jobs is not None else cpu_count()
    chunk_size = chunk_size if chunk_size is not None else CHUNK_SIZE
    parallel_threshold = (
        parallel_threshold if parallel_threshold is not None else PARALLEL_THRESHOLD
    )
    outcome = Outcome()
    lookup: cache.Lookup | None = None
    if cache_dir is not None and mode is Mode.CHECK:
        # Read and hash every file here; only those the cache does not know are analysed.
        lookup = cache.Lookup(cache_dir, scopes, listings)
        targets = lookup.take_hits(targets, outcome)
    total = len(targets)
    if total:
        collect_seldom()
    if workers > 1 and total >= parallel_threshold:
        tasks = make_tasks(mode, targets, scopes, chunk_size, unsafe)
        _run_pool(tasks, min(workers, len(tasks)), outcome, total, progress)
    else:
        done = 0

        def one_more() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        for task in make_tasks(mode, targets, scopes, max(total, 1), unsafe):
            outcome.add(run_task(task, one_more))
    if lookup is not None:
        lookup.store(outcome)
    outcome.sort()
    return outcome


#: The cyclic garbage collector's thresholds while files are analysed (see :func:`collect_seldom`).
GC_THRESHOLDS = (100_000, 50, 100)


def collect_seldom() -> None:
    """Collect cyclic garbage seldom from now on: called before files are analysed.

    The analysis makes many small objects that live until the end of a file or of the run
    (trees' nodes, summaries, cached findings) and very few cycles; at the default
    thresholds the collector spends about a tenth of a run walking them again and again.
    What is loaded already (the modules) is frozen out of its sight; workers forked from
    here inherit both.  Not undone: the process is the command line's, and a collection of
    everything the run made, at its end, would cost more than it frees.
    """
    import gc

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle: it stops the pool; workers finish their chunk quietly.
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.set_threshold(*GC_THRESHOLDS)  # a worker that was not forked from the analysing process


def _fork_context() -> BaseContext | None:
    """Where forking is safe (Linux; this process runs no other thread), a context that forks the
    workers from this process after it has loaded the analysis and made its engine: they start
    with both, instead of importing and building them each.  None elsewhere (the default)."""
    import multiprocessing
    import threading

    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    _engine()
    return multiprocessing.get_context("fork")


def _run_pool(
    tasks: list[Task], workers: int, outcome: Outcome, total: int, progress: Progress | None
) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    done = 0
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, mp_context=_fork_context())
    pending: dict[Future[Outcome], Task] = {}
    try:
        pending = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(list(pending)):
            outcome.add(future.result())
            done += len(pending.pop(future).targets)
            if progress:
                progress(done, total)
    except BrokenProcessPool:
        # A worker died (killed, or crashed in native code): finish here.
        pool.shutdown(wait=True)
        outcome.warnings.append(
            "a worker process died; checking the remaining files in this process"
        )
        for task in pending.values():
            outcome.add(run_task(task))
            done += len(task.targets)
            if progress:
                progress(done, total)
    except BaseException:  # Ctrl-C: stop now, without waiting for the workers' chunks
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        raise
    else:
        pool.shutdown(wait=True)


class ProgressLine:
    """``[done/total] files`` on a terminal's stderr, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        self._shown = True
        self._write("\r" + self.render(done, total))

    def render(self, done: int, total: int) -> str:
        return f"[{done}/{total}] files"

    def clear(self) -> None:
        if self._shown:
            self._write("\r\x1b[K")
            self._shown = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass
