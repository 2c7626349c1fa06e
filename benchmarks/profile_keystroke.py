#!/usr/bin/env python3
"""Where a keystroke's time goes, in process: the language server's own code, no JSON-RPC.

The file of ``bench_lsp.py`` (``gen_large_file.py``) is opened in a server object and edited
with the same single-character edits; each edit is applied as ``didChange`` applies it
(the line index and the incremental re-parse, on the event loop) and then analysed as a pull
request is answered (the server's ``_compute`` on its analysis thread, and the JSON of the
answer).  Every edit is timed (the thread's CPU time: steadier than the wall clock on a loaded
machine, and blind to waiting) and described: the declaration edited, how many declarations
were analysed again (not carried), how many diagnostics.  Prints the distribution, the
slowest edits, and with ``--profile`` the functions that cost the most over all the edits
(cProfile), or over the slowest ones only (``--profile-slow``).  Like the server, the
collector is frozen after start-up and runs with high thresholds.

    python benchmarks/profile_keystroke.py                    # 200 edits, utf-16
    python benchmarks/profile_keystroke.py --profile --top 30
    python benchmarks/profile_keystroke.py -n 3000 --memory    # what grows

With ``--memory``, the process's RSS, Python's allocated memory blocks and the objects the
collector tracks (by type: what grew) every tenth of the edits; with ``--trace`` too, tracemalloc
from the start (what is traced is all that is alive), the middle and the end compared.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_lsp import Document as EditedText  # noqa: E402
from bench_lsp import percentile, plan_edits  # noqa: E402
from gen_large_file import generate  # noqa: E402

from golsp_leaks.document import Document, Encoding  # noqa: E402
from golsp_leaks.engine import Engine  # noqa: E402
from golsp_leaks.goanalysis.summaries import overlay  # noqa: E402
from golsp_leaks.model import AnalysisStats  # noqa: E402
from golsp_leaks.server.server import _Open, _Result, create_server  # noqa: E402

_FUNC = re.compile(r"^func (?:\([^)]*\) )?([A-Za-z_][A-Za-z0-9_]*)")


class Keystrokes:
    """A server object with the generated file open, edited one character at a time."""

    def __init__(self, lines: int, seed: int, leak_rate: float, encoding: str, work: Path) -> None:
        source, self.file_stats = generate(lines, seed, leak_rate)
        (work / "go.mod").write_text("module example.com/orders\n\ngo 1.22\n")
        self.path = work / "orders.go"
        self.path.write_text(source, encoding="utf-8")
        self.server = create_server()
        self.server.encoding = Encoding(encoding)
        self.server.features.pull = True
        self.uri = self.path.as_uri()
        self.text = EditedText(source)
        self.entry = _Open(Document(self.uri, source.encode(), 1), self.path, 1)
        self.server.docs[self.uri] = self.entry
        overlay.put(self.path, self.entry.document.source)
        self.stats: list[AnalysisStats] = []
        engine: Engine = self.server.engine
        analyze_blocks = engine.analyze_blocks

        def counted(*args: Any, **kwargs: Any) -> Any:
            stats = kwargs.get("stats")
            if stats is not None:
                self.stats[:] = [stats]
            return analyze_blocks(*args, **kwargs)

        engine.analyze_blocks = counted  # type: ignore[method-assign]
        self.answer()

    def answer(self) -> tuple[float, float, int]:
        """Analyse the document's current version and make the JSON of a full answer:
        (seconds analysing, seconds making the answer, diagnostics)."""
        server, entry = self.server, self.entry
        key = server._key(entry)
        job = server._job(entry, key)
        began = time.thread_time()
        analysis, _tree, parts, converted = server._compute(job)
        analysed = time.thread_time()
        result = _Result(key, job.version, analysis, parts, f"1.{entry.edits}", converted)
        entry.result = result
        text = server.diagnostics_text(entry, result)
        done = time.thread_time()
        return analysed - began, done - analysed, text.count('"range"') - text.count('"location"')

    def edit(self, change: Any, encoding: str) -> float:
        """``didChange`` of one edit; seconds it took (the event loop's part)."""
        r = change["range"]
        began = time.thread_time()
        doc = self.entry.document
        doc.apply_change(
            (r["start"]["line"], r["start"]["character"]),
            (r["end"]["line"], r["end"]["character"]),
            change["text"],
            Encoding(encoding),
        )
        self.entry.edits += 1
        doc.version = self.entry.edits + 1
        overlay.put(self.path, doc.source)
        return time.thread_time() - began


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def enclosing(lines: list[str], row: int) -> str:
    for at in range(row, -1, -1):
        match = _FUNC.match(lines[at])
        if match:
            return match.group(1)
    return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--edits", type=int, default=200)
    parser.add_argument("--lines", type=int, default=12_000)
    parser.add_argument("--leak-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--encoding", default="utf-16", choices=["utf-8", "utf-16", "utf-32"])
    parser.add_argument("--slowest", type=int, default=12, help="edits to describe, slowest first")
    parser.add_argument("--profile", action="store_true", help="cProfile over all the edits")
    parser.add_argument("--profile-slow", type=int, default=0, help="cProfile over the N slowest edits, replayed")
    parser.add_argument("--top", type=int, default=25, help="functions shown by a profile")
    parser.add_argument("--memory", action="store_true", help="RSS, memory blocks and objects every tenth of the edits")
    parser.add_argument(
        "--trace", action="store_true", help="with --memory: tracemalloc from the start, the middle and the end compared"
    )
    args = parser.parse_args(argv)

    if args.trace:
        tracemalloc.start(8)
    with tempfile.TemporaryDirectory(prefix="golsp-keys-") as tmp:
        opened = time.perf_counter()
        keys = Keystrokes(args.lines, args.seed, args.leak_rate, args.encoding, Path(tmp))
        opened = time.perf_counter() - opened
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        edits = plan_edits(keys.text.text().split("\n"), args.edits, args.seed)
        profile = cProfile.Profile() if args.profile else None
        rows: list[dict[str, Any]] = []
        snapshot = None
        marks: list[str] = []
        kinds: list[Counter[str]] = []
        for number, edit in enumerate(edits):
            if args.trace and number == len(edits) // 2:
                gc.collect()
                snapshot = tracemalloc.take_snapshot()
            if args.memory and number % max(len(edits) // 10, 1) == 0:
                gc.collect()
                traced = f"traced {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB, " if args.trace else ""
                marks.append(
                    f"{number}: {traced}RSS {rss_mb():.1f} MiB, {sys.getallocatedblocks()} blocks, "
                    f"{len(gc.get_objects())} objects"
                )
                kinds.append(Counter(type(o).__name__ for o in gc.get_objects()))
            where = enclosing(keys.text.lines, edit.line)
            change = keys.text.change(edit, args.encoding)
            if profile is not None:
                profile.enable()
            loop = keys.edit(change, args.encoding)
            analysing, answering, count = keys.answer()
            if profile is not None:
                profile.disable()
            stats = keys.stats[-1]
            rows.append(
                {
                    "n": number,
                    "func": where,
                    "insert": edit.insert or "<del>",
                    "ms": (loop + analysing + answering) * 1000,
                    "loop": loop * 1000,
                    "analyse": analysing * 1000,
                    "answer": answering * 1000,
                    "analysed": stats.analysed,
                    "diagnostics": count,
                    "edit": (edit.line, edit.column, edit.insert),
                }
            )
        if args.memory:
            print("\nafter edit " + "\n           ".join(marks))
            if len(kinds) > 2:
                grown = kinds[-1] - kinds[1]
                print("objects that grew from the second mark to the last:", grown.most_common(args.top))
                late = kinds[-1] - kinds[len(kinds) // 2]
                print("... from the middle mark to the last:", late.most_common(args.top))
            print("engine caches:", keys.server.engine.cache_stats())
        if args.trace and snapshot is not None:
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            print(f"\ntracemalloc over the last {len(edits) - len(edits) // 2} edits (largest growth):")
            for stat in after.compare_to(snapshot, "traceback")[: args.top]:
                if stat.size_diff <= 0:
                    continue
                print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
                for line in stat.traceback.format()[-8:]:
                    print("      " + line)

    times = sorted(r["ms"] for r in rows)
    print(
        f"{keys.file_stats['lines']} lines, {keys.file_stats['functions']} functions; open {opened * 1000:.0f} ms; "
        f"{len(rows)} edits ({args.encoding})"
    )
    for part in ("ms", "loop", "analyse", "answer"):
        values = sorted(r[part] for r in rows)
        print(
            f"  {part:<8} median {statistics.median(values):7.2f}  p95 {percentile(values, 95):7.2f}  "
            f"max {values[-1]:7.2f} ms"
        )
    analysed = Counter(r["analysed"] for r in rows)
    print("  declarations analysed per edit (edits, median ms):")
    for many in sorted(analysed):
        values = [r["ms"] for r in rows if r["analysed"] == many]
        print(f"    {many:>5}: {analysed[many]:>5} edits, median {statistics.median(values):7.2f} ms")
    print(f"\nslowest {args.slowest} edits:")
    print(f"  {'#':>4} {'ms':>7} {'loop':>6} {'analyse':>7} {'answer':>6} {'analysed':>8}  function")
    for r in sorted(rows, key=lambda r: -r["ms"])[: args.slowest]:
        print(
            f"  {r['n']:>4} {r['ms']:7.2f} {r['loop']:6.2f} {r['analyse']:7.2f} {r['answer']:6.2f} "
            f"{r['analysed']:>8}  {r['func']} ({r['insert']})"
        )
    print(f"  p95 of all: {percentile(times, 95):.2f} ms")
    if profile is not None:
        show(profile, args.top)
    if args.profile_slow:
        replay(args, rows)
    return 0


def show(profile: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def replay(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """Edit a fresh server the same way, profiling only the edits that were the slowest."""
    slow = {r["n"] for r in sorted(rows, key=lambda r: -r["ms"])[: args.profile_slow]}
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="golsp-keys-") as tmp:
        keys = Keystrokes(args.lines, args.seed, args.leak_rate, args.encoding, Path(tmp))
        edits = plan_edits(keys.text.text().split("\n"), args.edits, args.seed)
        for number, edit in enumerate(edits):
            change = keys.text.change(edit, args.encoding)
            if number in slow:
                profile.enable()
            keys.edit(change, args.encoding)
            keys.answer()
            if number in slow:
                profile.disable()
    print(f"\nprofile of the {len(slow)} slowest edits, replayed:")
    show(profile, args.top)


if __name__ == "__main__":
    raise SystemExit(main())
