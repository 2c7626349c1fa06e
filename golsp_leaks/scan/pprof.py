"""Reading the text forms of Go's ``net/http/pprof`` profiles.

- ``/debug/pprof/goroutine?debug=2`` (and the Go 1.27 ``goroutineleak`` profile in
  the same form): one block per goroutine, its wait reason, its stack and the
  ``created by`` frame, which names the ``go`` statement that started it;
- ``/debug/pprof/goroutine?debug=1``: one block per distinct stack with a count;
- ``/debug/pprof/heap?debug=1``: in-use objects and bytes per allocation stack, and
  the ``runtime.MemStats`` block at its end.

A :class:`Locator` tells frames of the scanned module from those of the Go runtime,
the standard library and other modules, so that a goroutine is attributed to the
first place in the user's own code.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_GOROUTINE = re.compile(r"^goroutine (\d+)(?: [^\[]*)?\[([^\]]*)\]:\s*$")
_LOCATION = re.compile(r"^\t(.+?):(\d+)(?: \+0x[0-9a-f]+)?\s*$")
_CREATED = re.compile(r"^created by (.+?)(?: in goroutine \d+)?\s*$")
_COUNTED = re.compile(r"^(\d+) @(?: 0x[0-9a-f]+)*\s*$")
_FRAME1 = re.compile(r"^#\s+0x[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+(.+?):(\d+)\s*$")
_HEAP_RECORD = re.compile(r"^(\d+): (\d+) \[(\d+): (\d+)\] @")
_MEMSTAT = re.compile(r"^# (\w+) = (\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame: the function (``main.(*Server).get.func1``) and its file and line."""

    function: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Goroutine:
    """One goroutine of a ``debug=2`` dump."""

    id: int
    wait: str
    frames: tuple[Frame, ...]
    created_by: Frame | None
    #: Proven leaked by the garbage collector (Go 1.27's goroutineleak profile marks it).
    leaked: bool = False


@dataclass(frozen=True, slots=True)
class StackCount:
    """A distinct stack of a ``debug=1`` goroutine profile and how many goroutines have it."""

    count: int
    frames: tuple[Frame, ...]


@dataclass
class HeapProfile:
    """In-use bytes and objects per allocation stack, and the MemStats values."""

    #: (in-use bytes, stack, in-use objects) per allocation stack
    records: list[tuple[int, tuple[Frame, ...], int]] = field(default_factory=list)
    memstats: dict[str, int] = field(default_factory=dict)

    @property
    def heap_alloc(self) -> int:
        return self.memstats.get("HeapAlloc", 0)


def _function_name(line: str) -> str:
    """``main.(*S).f(0xc000, ...)`` -> ``main.(*S).f``."""
    stripped = line.strip()
    cut = stripped.rfind("(")
    if cut > 0 and stripped.endswith(")"):
        return stripped[:cut]
    return stripped


def parse_goroutines(text: str) -> list[Goroutine]:
    """The goroutines of a ``goroutine?debug=2`` (or ``goroutineleak?debug=2``) dump."""
    found: list[Goroutine] = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").splitlines()
        if not lines:
            continue
        head = _GOROUTINE.match(lines[0])
        if head is None:
            continue
        wait = head.group(2).split(",")[0].strip()
        leaked = "(leaked)" in wait
        wait = wait.replace("(leaked)", "").strip()
        frames: list[Frame] = []
        created: Frame | None = None
        index = 1
        while index < len(lines):
            line = lines[index]
            location = _LOCATION.match(lines[index + 1]) if index + 1 < len(lines) else None
            made = _CREATED.match(line)
            if made is not None:
                if location is not None:
                    created = Frame(made.group(1), location.group(1), int(location.group(2)))
                break
            if location is not None and not line.startswith("\t"):
                frames.append(Frame(_function_name(line), location.group(1), int(location.group(2))))
                index += 2
                continue
            index += 1
        found.append(Goroutine(int(head.group(1)), wait, tuple(frames), created, leaked))
    return found


def parse_goroutine_counts(text: str) -> tuple[int, list[StackCount]]:
    """The total and the stacks of a ``goroutine?debug=1`` profile."""
    total = 0
    first = text.split("\n", 1)[0]
    match = re.match(r"^\S+ profile: total (\d+)", first)
    if match:
        total = int(match.group(1))
    stacks: list[StackCount] = []
    count = 0
    frames: list[Frame] = []
    for line in [*text.splitlines()[1:], ""]:
        counted = _COUNTED.match(line)
        if counted is not None:
            count, frames = int(counted.group(1)), []
            continue
        frame = _FRAME1.match(line)
        if frame is not None and count:
            frames.append(Frame(frame.group(1), frame.group(2), int(frame.group(3))))
            continue
        if not line.strip() and count:
            stacks.append(StackCount(count, tuple(frames)))
            count, frames = 0, []
    return total, stacks


def parse_heap(text: str) -> HeapProfile:
    """A ``heap?debug=1`` profile: in-use bytes per stack and the MemStats block."""
    profile = HeapProfile()
    inuse = objects = 0
    frames: list[Frame] = []
    in_record = False
    for line in [*text.splitlines(), ""]:
        record = _HEAP_RECORD.match(line)
        if record is not None:
            if in_record:
                profile.records.append((inuse, tuple(frames), objects))
            inuse, objects, frames, in_record = int(record.group(2)), int(record.group(1)), [], True
            continue
        frame = _FRAME1.match(line)
        if frame is not None and in_record:
            frames.append(Frame(frame.group(1), frame.group(2), int(frame.group(3))))
            continue
        stat = _MEMSTAT.match(line)
        if stat is not None:
            profile.memstats[stat.group(1)] = int(stat.group(2))
            continue
        if in_record and not line.startswith("#"):
            profile.records.append((inuse, tuple(frames), objects))
            in_record = False
    return profile


class Locator:
    """Which frames belong to the scanned module, and their paths relative to its directory.

    A frame is the module's when its file lies under ``root`` (a normal build) or
    starts with the module path (a ``-trimpath`` build).
    """

    def __init__(self, root: Path, module_path: str | None = None) -> None:
        self.root = root.resolve()
        self.module_path = module_path
        self._cache: dict[str, str | None] = {}

    def relative(self, file: str) -> str | None:
        """The file relative to the module root, or None when it is not the module's."""
        try:
            return self._cache[file]
        except KeyError:
            pass
        result: str | None = None
        path = Path(file)
        if path.is_absolute():
            try:
                rel = path.resolve().relative_to(self.root)
            except (ValueError, OSError):
                rel = None
            if rel is not None and "vendor" not in rel.parts[:1]:
                result = rel.as_posix()
        elif self.module_path and file.startswith(self.module_path + "/"):
            result = file[len(self.module_path) + 1 :]
        self._cache[file] = result
        return result

    def first_user_frame(self, frames: tuple[Frame, ...]) -> Frame | None:
        for frame in frames:
            if self.relative(frame.file) is not None:
                return frame
        return None


def module_path(root: Path) -> str | None:
    """The ``module`` line of ``root/go.mod``."""
    try:
        text = (root / "go.mod").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
    return match.group(1).strip('"') if match else None


@dataclass(frozen=True, slots=True)
class Site:
    """Where a group of goroutines comes from: its ``go`` statement and the place it waits."""

    created: Frame | None
    blocked: Frame | None
    wait: str
    origin: str  # the creating function when it is not the module's (e.g. net/http.(*Server).Serve)


@dataclass(frozen=True, slots=True)
class SiteCount:
    site: Site
    count: int
    leaked: int


def group_goroutines(goroutines: list[Goroutine], locate: Locator) -> dict[tuple[str, ...], SiteCount]:
    """Goroutines counted per site (and how many of them are proven leaked).

    The key is the creation site when the module's code started the goroutine;
    otherwise the first frame of the module's code on its stack (a request stuck
    in a handler); otherwise the foreign function that created it.  The blocking
    frame and wait reason are the most common ones in the group.
    """
    members: dict[tuple[str, ...], list[Goroutine]] = {}
    for g in goroutines:
        created = g.created_by
        if created is not None and locate.relative(created.file) is not None:
            key: tuple[str, ...] = ("created", created.file, str(created.line))
        else:
            user = locate.first_user_frame(g.frames)
            if user is not None:
                key = ("running", user.file, str(user.line))
            else:
                key = ("foreign", created.function if created else (g.frames[-1].function if g.frames else "?"))
        members.setdefault(key, []).append(g)
    out: dict[tuple[str, ...], SiteCount] = {}
    for key, group in members.items():
        blocked = Counter(locate.first_user_frame(g.frames) for g in group).most_common(1)[0][0]
        wait = Counter(g.wait for g in group).most_common(1)[0][0]
        first = group[0]
        created = first.created_by if key[0] == "created" else None
        origin = first.created_by.function if first.created_by else ""
        leaked = sum(1 for g in group if g.leaked)
        out[key] = SiteCount(Site(created, blocked, wait, origin), len(group), leaked)
    return out


def heap_by_site(profile: HeapProfile, locate: Locator) -> dict[Frame, int]:
    """In-use bytes per first frame of the module's code (allocations outside it are left out)."""
    sites: Counter[Frame] = Counter()
    for inuse, frames, _ in profile.records:
        user = locate.first_user_frame(frames)
        if user is not None:
            sites[user] += inuse
    return dict(sites)


def object_size_by_site(profile: HeapProfile, locate: Locator) -> dict[Frame, int]:
    """The size of the largest objects in use per first frame of the module's code."""
    sizes: dict[Frame, int] = {}
    for inuse, frames, objects in profile.records:
        user = locate.first_user_frame(frames)
        if user is not None and objects > 0:
            sizes[user] = max(sizes.get(user, 0), inuse // objects)
    return sizes
