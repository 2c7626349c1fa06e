"""The engine: runs the enabled rules over a file, one top-level declaration at a time.

A declaration's findings depend only on its own text, on the file context
(imports, Go version, and the file's outline: its types, variables and
function signatures), on the set of enabled rules, and on the package facts
the rules read while they looked at it; they are cached under the first
three, relative to the declaration's start, with the facts read and their
values (a fact is computed when first read: see
:mod:`golsp_leaks.goanalysis.summaries.facts`).  An edit in one
function of a large file therefore re-runs the rules on that function alone.
Declarations with syntax errors are skipped (no finding on code that cannot be
read), and a rule that fails on one declaration is recorded in the stats and
skipped there: it never takes the file, or the server, down.

What an edit costs besides is kept proportional to what it changed:

* under a ``keep`` key (the language server passes the document's URI) the
  engine keeps what it found per top-level node of the file's last version:
  the next analysis finds the changed bytes
  (:func:`~golsp_leaks.goanalysis.syntax.toplevel.carry`), reads only the
  nodes the edit touched from the new tree, and gives the others their findings
  and blocks back when their inputs did not change (the same file context, no
  function they call edited, the package facts they read of the same values,
  the line above them untouched);
* the outline is hashed from one cached hash per declaration, so only the
  edited declaration's signature is read again;
* suppression comments and severities are applied per declaration, over the
  declaration and the line above it, and the result (a :class:`Block`) is
  cached too: a declaration that did not change gives back the very same
  :class:`Block` object, which a caller (the language server) can use as the
  key of what it made from it.

Every cache is bounded by an estimate of the bytes it holds and by its number
of entries, least recently used first out (see :meth:`Engine.cache_stats`).

Every fix a rule offers is re-parsed before it is kept; one that would leave
a syntax error behind is dropped.

:meth:`Engine.analyze_blocks` takes a ``stale`` callback, asked before each
declaration that has to be analysed: when it answers True the analysis stops
with :class:`Superseded` (a newer version of the file is waiting).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tree_sitter import Node, Tree

from golsp_leaks.config import Settings
from golsp_leaks.fixes.apply import fix_parses
from golsp_leaks.fixes.suppress import MARKER, unsuppressed
from golsp_leaks.goanalysis.cfg import graph
from golsp_leaks.goanalysis.libraries import frameworks
from golsp_leaks.goanalysis.names import scopes
from golsp_leaks.goanalysis.resources import sync, tracking
from golsp_leaks.goanalysis.summaries import locks, returns
from golsp_leaks.goanalysis.summaries.facts import Reads, forget_values
from golsp_leaks.goanalysis.syntax import toplevel
from golsp_leaks.goanalysis.syntax.bounded import BoundedCache
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import DECLARATION_TYPES
from golsp_leaks.goanalysis.syntax.toplevel import Carried, Tops, carry
from golsp_leaks.model import AnalysisStats, Diagnostic, Finding, Severity
from golsp_leaks.rules import FileContext, PackageFacts, Rule, all_rules, unclosed_channel

log = logging.getLogger(__name__)

#: What the cache of declarations may hold (estimated bytes), at least; it grows to twice
#: the largest file analysed, so that one file's declarations always fit.
CACHE_BYTES = 2 << 20
#: Rough sizes of what a cached record holds besides the declaration text it is keyed by.
_RECORD_BYTES = 200
_FINDING_BYTES = 600

_SHAPE_DECLARATIONS = frozenset({"type_declaration", "var_declaration", "const_declaration"})
_FUNCTIONS = frozenset({"function_declaration", "method_declaration"})
#: Names a declaration calls (``helper(``, ``x.m(``): the functions of the file whose bodies its
#: findings may depend on (same-file summaries: what a helper releases, returns, never returns).
_CALLED = re.compile(rb"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


class Superseded(Exception):
    """The analysis was stopped: the file it was analysing has changed since."""


class Block:
    """The diagnostics of one top-level declaration, ready to report.

    ``window`` is the text from the start of the declaration's first line to
    its end; the offsets of ``diagnostics`` are relative to the window's start.
    ``local`` is False when some range reaches outside the window (then it can
    only be placed with the whole file at hand).  Compared by identity.
    """

    __slots__ = ("diagnostics", "local", "window")

    def __init__(self, window: bytes, diagnostics: tuple[Diagnostic, ...], local: bool) -> None:
        self.window = window
        self.diagnostics = diagnostics
        self.local = local


@dataclass(frozen=True, slots=True)
class Placed:
    """A block where it is in the file: the byte offset and row of its window's first line."""

    start: int
    row: int
    block: Block

    def diagnostics(self) -> Iterator[Diagnostic]:
        for d in self.block.diagnostics:
            yield d if self.start == 0 else Diagnostic(d.finding.shifted(self.start), d.severity)


@dataclass(frozen=True, slots=True)
class FileAnalysis:
    """The blocks of one file that have diagnostics, in file order."""

    blocks: tuple[Placed, ...]

    def diagnostics(self) -> list[Diagnostic]:
        """Absolute diagnostics, block after block (each block sorted by position)."""
        return [d for placed in self.blocks for d in placed.diagnostics()]


#: How many versions of the package facts a declaration's findings are kept for.
_FACT_VERSIONS = 4


class _Record:
    """What is known of one declaration text: its outline hash, findings and blocks per context."""

    __slots__ = ("blocks", "calls", "findings", "name", "shape", "size")

    def __init__(self, shape: int, size: int, name: bytes | None, calls: frozenset[bytes]) -> None:
        self.shape = shape
        self.size = size
        #: the function's (or method's) name; None for other declarations
        self.name = name
        #: the names the declaration calls
        self.calls = calls
        #: (context id, hash of the called functions of the file) -> (the package facts the rules
        #: read, with their values; the findings, relative to the start), the latest first
        self.findings: dict[tuple[int, int], list[tuple[Reads, tuple[Finding, ...]]]] = {}
        #: (context id, findings, the line above, the text before the declaration on its line) -> block
        self.blocks: dict[tuple[int, tuple[Finding, ...], bytes, bytes], Block] = {}


class _Entry:
    """One top-level node of a kept file: its text and, for a declaration, its record, the
    context and facts its findings were found under, and where its block was placed."""

    __slots__ = ("context", "lead", "placed", "reach", "reads", "record", "text")

    def __init__(self, text: bytes, record: _Record | None) -> None:
        self.text = text
        self.record = record
        self.context: int | None = None
        self.reads: Reads = ()
        self.placed: Placed | None = None
        #: bytes from the start of the declaration's line (and of the line above it) to its start
        self.lead = 0
        self.reach = 0


@dataclass(slots=True, eq=False)
class _FileState:
    """The last analysis of a file kept under a key: its text, top-level nodes and their entries,
    the context they were found under, the file's functions by name and the declarations that
    call each name, the indexes of the declarations with a block, and the sets of package facts
    the declarations read."""

    source: bytes
    tops: Tops
    entries: list[_Entry | None]
    rules: tuple[str, ...]
    severities: tuple[tuple[str, int], ...]
    context: int
    outline: int
    functions: dict[bytes, list[_Entry]]
    callers: dict[bytes, set[_Entry]]
    blocks: list[int]
    reads: set[Reads]
    decl_count: int


#: How many versions of declarations no longer in the file the cache keeps, at most.
_OLD_VERSIONS = 512
#: How many files' last analyses are kept (see ``keep`` in :meth:`Engine.analyze_blocks`).
_KEPT_FILES = 8
#: Kept analyses between two refreshes of the declarations in use (fewer than _OLD_VERSIONS).
_REFRESH_EVERY = 64
#: Distinct sets of package facts read in one file beyond which every declaration is checked.
_READS_KEPT = 64


class Engine:
    """Runs rules over parsed files, with a bounded cache of per-declaration results."""

    def __init__(
        self,
        rules: Sequence[Rule] | None = None,
        cache_size: int = 20_000,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules) if rules is not None else all_rules()
        self._cache_bytes = cache_bytes
        self._cache_size = cache_size
        self._records: BoundedCache[bytes, _Record] = BoundedCache(cache_bytes, cache_size)
        self._imports: dict[tuple[bytes, ...], Imports] = {}
        self._contexts: dict[Hashable, int] = {}
        self._files: dict[Hashable, _FileState] = {}
        #: bumped when context numbers are given again from 0
        self._numbering = 0
        self._kept_analyses = 0

    def cache_stats(self) -> dict[str, int]:
        """What the caches hold: declarations, their estimated bytes and the limit; contexts."""
        return {
            "declarations": len(self._records),
            "bytes": self._records.bytes,
            "max_bytes": self._records.max_bytes,
            "contexts": len(self._contexts),
            "files": len(self._files),
        }

    def triggers(self, settings: Settings) -> tuple[bytes, ...] | None:
        """Substrings one of which a file must contain for any enabled rule to run (None: any file)."""
        found: list[bytes] = []
        for rule in self.rules:
            if settings.enabled(rule.id):
                if not rule.triggers:
                    return None
                found.extend(rule.triggers)
        return tuple(found)

    def analyze(self, source: bytes, tree: Tree, settings: Settings, **options: Any) -> list[Diagnostic]:
        """Diagnostics for one file, sorted by position, suppressions applied (options: as :meth:`analyze_blocks`)."""
        found = self.analyze_blocks(source, tree, settings, **options).diagnostics()
        found.sort(key=lambda d: (d.finding.start, d.finding.rule, d.finding.end))
        return found

    def analyze_blocks(
        self,
        source: bytes,
        tree: Tree,
        settings: Settings,
        *,
        path: str | None = None,
        go_version: tuple[int, int] | None = None,
        package: PackageFacts | None = None,
        stats: AnalysisStats | None = None,
        stale: Callable[[], bool] | None = None,
        prefilter: bool = False,
        keep: Hashable | None = None,
    ) -> FileAnalysis:
        """The file's diagnostics, one :class:`Block` per declaration that has some.

        With ``prefilter``, a rule none of whose triggers is in the file is left out before any
        declaration is looked at (:meth:`Rule.may_fire_in`): worth it for a file analysed once
        (the CLI), not for one analysed again after each keystroke (the whole text is searched).

        With ``keep`` (the document's URI, say), what this analysis found per top-level node is
        kept under that key, and the next analysis under it starts from there: the nodes the
        edit did not touch (:func:`~golsp_leaks.goanalysis.syntax.toplevel.carry`) keep their
        findings and blocks when their inputs are the same — the file context, the bodies of
        the functions they call, the package facts they read — and only the others are looked
        at again.
        """
        stats = stats if stats is not None else AnalysisStats()
        rules = tuple(
            r for r in self.rules if settings.enabled(r.id) and (not prefilter or r.may_fire_in(source))
        )
        if not rules:
            return FileAnalysis(())
        records = self._records
        records.max_bytes = max(self._cache_bytes, 2 * len(source))
        root = tree.root_node
        rule_ids = tuple(r.id for r in rules)
        severities = tuple(sorted((k, v.value) for k, v in settings.severity.items()))
        state = self._files.pop(keep, None) if keep is not None else None
        carried = None
        if state is not None and state.rules == rule_ids and state.severities == severities:
            carried = carry(state.source, state.tops, source, root)
        nodes: dict[int, Node] = {}
        #: names of the functions the edit changed (None: every declaration is looked at again)
        changed: set[bytes] | None = None
        replaced: list[_Entry | None] = []
        fresh: list[_Entry | None] = []
        if carried is None or state is None:
            state = None
            for index, node in enumerate(root.named_children):
                nodes[index] = node
            top_list = Tops.of(list(nodes.values()))
            entries = [self._entry(n, source, keep) for n in nodes.values()]
            edit_end = len(source)
            kept_head = 0
        else:
            top_list = carried.tops
            head, tail = carried.head, carried.tail
            old = state.entries
            for index in range(head, len(top_list) - tail):
                node = root.named_child(index)
                assert node is not None  # carry checked the count
                nodes[index] = node
            replaced = old[head : len(old) - tail]
            fresh = [self._entry(n, source, keep) for n in nodes.values()]
            entries = old[:head] + fresh + old[len(old) - tail :]
            changed = {
                e.record.name for e in (*replaced, *fresh)
                if e is not None and e.record is not None and e.record.name is not None
            }
            self._kept_analyses += 1
            if self._kept_analyses % _REFRESH_EVERY == 0:
                # The declarations still in the file are in use: older versions of them go first.
                # Now and then only: fewer than _OLD_VERSIONS new ones come in between.
                records.refresh([e.text for e in entries if e is not None and e.record is not None])
            edit_end = carried.end
            kept_head = head
        # The outline and imports: the import declarations before the first function or type.
        import_texts: list[bytes] = []
        for kind, entry in zip(top_list.kinds, entries, strict=False):
            if kind in _FUNCTIONS or kind == "type_declaration":
                break
            if kind == "import_declaration" and entry is not None:
                import_texts.append(entry.text)
        imports = self._imports_of(tuple(import_texts), root)
        facts = package if package is not None else PackageFacts()
        ctx = FileContext(
            source=source,
            root=root,
            imports=imports,
            path=path,
            go_version=go_version,
            package=facts,
        )
        # What every declaration's findings depend on besides its text and the package facts;
        # the outline hashed from each declaration's cached hash (kept when the edit left the
        # signatures and types it touched as they were).
        if state is not None and _shapes(replaced) == _shapes(fresh):
            outline = state.outline
        else:
            outline = hash(tuple(e.record.shape for e in entries if e is not None and e.record is not None))
        context = (imports.fingerprint(), ctx.go_version, outline)
        numbering = self._numbering
        context_id = self._context_id((context, rule_ids, severities))
        if numbering != self._numbering:
            # What the carried entries were found under is numbered the old way: forget it.
            changed = None
            state = None
            for entry in entries:
                if entry is not None and entry.record is not None:
                    entry.record.findings.clear()
                    entry.record.blocks.clear()
        by_id = {r.id: r for r in rules}
        # Most declarations read the same few facts: each distinct set is checked once per file.
        verdicts: dict[Reads, bool] = {}

        def fits(reads: Reads) -> bool:
            verdict = verdicts.get(reads)
            if verdict is None:
                verdict = verdicts[reads] = facts.matches(reads)
            return verdict

        # The functions of the file by name, and the declarations that call each name: kept from
        # the last version and changed by what the edit replaced.
        if state is not None:
            functions, callers = state.functions, state.callers
            for entry in replaced:
                _unindex(entry, functions, callers)
            for entry in fresh:
                _index(entry, functions, callers)
            decl_count = state.decl_count + _count(fresh) - _count(replaced)
        else:
            functions, callers = {}, {}
            for entry in entries:
                _index(entry, functions, callers)
            decl_count = _count(entries)

        starts, rows = top_list.starts, top_list.rows

        def visit(index: int, entry: _Entry) -> Placed | None:
            """The block of one declaration: carried over when its inputs are the same, else found again."""
            record = entry.record
            assert record is not None
            top_start, top_row = starts[index], rows[index]
            if (
                changed is not None
                and entry.context == context_id
                and record.calls.isdisjoint(changed)
                and (not entry.reads or fits(entry.reads))
            ):
                # Carried over from the previous version: same text, same inputs.
                block = entry.placed
                if block is None:
                    stats.cached += 1
                    return None
                if block.block.local and (index < kept_head or top_start - entry.reach > edit_end):
                    stats.cached += 1
                    line_start = top_start - entry.lead
                    if block.start != line_start or block.row != top_row:
                        block = entry.placed = Placed(line_start, top_row, block.block)
                    return block
            node = nodes.get(index) or root.named_child(index)
            assert node is not None
            key = (context_id, _callees(record, functions))
            versions = record.findings.get(key)
            findings = None
            used: Reads = ()
            if versions is not None:
                for known, kept in versions:
                    if not known or fits(known):
                        findings, used = kept, known
                        break
            if findings is not None:
                stats.cached += 1
            else:
                if stale is not None and stale():
                    raise Superseded
                stats.analysed += 1
                start = node.start_byte
                facts.watch()
                try:
                    found = self._run(rules, node, entry.text, ctx, tree, stats) if not node.has_error else []
                finally:
                    used = facts.reads()
                findings = tuple(f.shifted(-start) for f in found)
                if versions is None:
                    versions = record.findings[key] = []
                    _bound(record.findings)
                versions.insert(0, (used, findings))
                del versions[_FACT_VERSIONS:]
                records.grow(entry.text, 64 + 16 * len(used) + _FINDING_BYTES * len(findings))
            entry.context = context_id
            entry.reads = used
            entry.placed = None
            if findings:
                entry.placed = self._place(source, top_start, top_row, entry, findings, context_id, by_id, settings)
            return entry.placed

        stats.declarations += decl_count
        # Besides the file's own declarations, a few hundred older versions of them (what an
        # undo brings back): an editor makes a new version with every keystroke.
        records.max_entries = min(self._cache_size, decl_count + _OLD_VERSIONS)
        if (
            state is not None
            and changed is not None
            and state.context == context_id
            and len(state.reads) <= _READS_KEPT
            and all(fits(reads) for reads in state.reads)
        ):
            # Same outline, same package facts: only the declarations the edit replaced, those
            # that call a function it changed, and the blocks it may have moved are looked at.
            assert carried is not None
            blocks, reads = self._follow(
                carried, state, entries, source, changed, callers, starts, rows, visit, stats, decl_count
            )
        else:
            blocks = []
            reads = set()
            for index, entry in enumerate(entries):
                if entry is None or entry.record is None:
                    continue
                where = visit(index, entry)
                if where is not None:
                    blocks.append(index)
                if entry.reads:
                    reads.add(entry.reads)
        if keep is not None:
            self._files[keep] = _FileState(
                source, top_list, entries, rule_ids, severities,
                context_id, outline, functions, callers, blocks, reads, decl_count,
            )
            while len(self._files) > _KEPT_FILES:
                self._files.pop(next(iter(self._files)))
        placed = []
        for index in blocks:
            entry = entries[index]
            assert entry is not None and entry.placed is not None
            placed.append(entry.placed)
        return FileAnalysis(tuple(placed))

    def _follow(
        self,
        carried: Carried,
        state: _FileState,
        entries: list[_Entry | None],
        source: bytes,
        changed: set[bytes],
        callers: dict[bytes, set[_Entry]],
        starts: list[int],
        rows: list[int],
        visit: Callable[[int, _Entry], Placed | None],
        stats: AnalysisStats,
        decl_count: int,
    ) -> tuple[list[int], set[Reads]]:
        """An analysis that carries every declaration over but those the edit may have changed.

        Called when the file context and the package facts every declaration read are what they
        were: then a declaration outside the edit keeps its block unless it calls a function the
        edit changed, its block reaches outside its own text, or the line above it or the text
        before it on its line is in the edit.  Gives the indexes of the declarations with a
        block, in file order, and the sets of facts they read.
        """
        head, tail = carried.head, carried.tail
        count = len(entries)
        old_count = len(state.entries)
        delta = count - old_count
        edit_end = carried.end
        todo: set[int] = set(range(head, count - tail))
        wanted = [e for name in changed for e in callers.get(name, ())]
        if wanted:
            if len(wanted) > 8:
                position = {id(e): i for i, e in enumerate(entries)}
                todo.update(position[id(e)] for e in wanted)
            else:
                todo.update(entries.index(e) for e in wanted)
        # The declarations after the edit whose line, or the line above it, the edit reached.
        for index in range(count - tail, count):
            todo.add(index)
            if source.rfind(b"\n", 0, starts[index]) + 1 > edit_end:
                break
        old_blocks = state.blocks
        first_tail = bisect_left(old_blocks, old_count - tail)
        kept: list[int] = []
        for index in old_blocks[: bisect_left(old_blocks, head)]:
            entry = entries[index]
            assert entry is not None and entry.placed is not None
            if entry.placed.block.local:
                if index not in todo:
                    kept.append(index)
            else:
                todo.add(index)  # placed with the whole file: placed again
        for old_index in old_blocks[first_tail:]:
            index = old_index + delta
            entry = entries[index]
            assert entry is not None and entry.placed is not None
            block = entry.placed
            if not block.block.local:
                todo.add(index)
            elif index not in todo:
                line_start = starts[index] - entry.lead
                if block.start != line_start or block.row != rows[index]:
                    entry.placed = Placed(line_start, rows[index], block.block)
                kept.append(index)
        reads = set(state.reads)
        visited = 0
        for index in todo:
            entry = entries[index]
            if entry is None or entry.record is None:
                continue
            visited += 1
            if visit(index, entry) is not None:
                kept.append(index)
            if entry.reads:
                reads.add(entry.reads)
        stats.cached += decl_count - visited
        kept.sort()
        return kept, reads

    def _entry(self, node: Node, source: bytes, owner: Hashable | None = None) -> _Entry | None:
        """What is kept of one top-level node: declarations and imports (with their record)."""
        kind = node.type
        if kind == "import_declaration":
            return _Entry(source[node.start_byte : node.end_byte], None)
        if kind not in DECLARATION_TYPES:
            return None
        text = source[node.start_byte : node.end_byte]
        record = self._records.get(text)
        if record is None:
            record = _new_record(node, text)
            self._records.put(text, record, record.size, owner)
        return _Entry(text, record)

    def forget(self, source: bytes, tree: Tree | None, keep: Hashable | None = None) -> None:
        """Drop what is kept of this file's declarations (the editor closed it), what was kept
        under ``keep`` (the versions analysed under it too), and what the analysis layers keep
        of the texts they saw last."""
        if keep is not None:
            self._files.pop(keep, None)
            self._records.discard_owned(keep)
        for forget_texts in _TEXT_CACHES:
            forget_texts()
        if tree is not None:
            forget_values(_declared_names(tree.root_node, source))
        if tree is None:
            return
        for node in tree.root_node.named_children:
            if node.type in DECLARATION_TYPES:
                self._records.discard(source[node.start_byte : node.end_byte])

    def _imports_of(self, texts: tuple[bytes, ...], root: Node) -> Imports:
        found = self._imports.get(texts)
        if found is None:
            if len(self._imports) >= 256:
                self._imports.clear()
            found = self._imports[texts] = Imports.from_root(root)
        return found

    def _place(
        self,
        source: bytes,
        start: int,
        row: int,
        entry: _Entry,
        findings: tuple[Finding, ...],
        context_id: int,
        rules: dict[str, Rule],
        settings: Settings,
    ) -> Placed:
        """The block of a declaration with findings, from its record when it is there."""
        record = entry.record
        assert record is not None
        text = entry.text
        line_start = source.rfind(b"\n", 0, start) + 1
        before = source[line_start:start]  # usually b"": declarations start their line
        above = source.rfind(b"\n", 0, line_start - 1) + 1 if line_start else 0
        entry.lead = start - line_start
        entry.reach = start - above
        prefix = source[above:line_start]
        # By the findings themselves: a declaration analysed again (a helper it calls changed)
        # with the same findings gets the same block back.
        key = (context_id, findings, prefix, before)
        block = record.blocks.get(key)
        if block is not None:
            return Placed(line_start, row, block)
        window = before + text if before else text
        shift = len(before)
        if not all(_inside(f, -shift, len(text)) for f in findings):
            # A place outside the declaration: placed with the whole file, and not kept.
            whole = unsuppressed(source, [f.shifted(start) for f in findings])
            return Placed(
                line_start, row, _block(window, [f.shifted(-line_start) for f in whole], rules, settings, False)
            )
        # Suppressions can only come from the window and the line above it.
        lined = prefix + window
        moved = [f.shifted(shift + len(prefix)) for f in findings]
        kept = unsuppressed(lined, moved) if MARKER in lined else moved
        block = record.blocks[key] = _block(window, [f.shifted(-len(prefix)) for f in kept], rules, settings, True)
        _bound(record.blocks)
        self._records.grow(text, 64 + len(prefix) + len(before) + _FINDING_BYTES * len(kept))
        return Placed(line_start, row, block)

    def _run(
        self,
        rules: tuple[Rule, ...],
        decl: Node,
        decl_text: bytes,
        ctx: FileContext,
        tree: Tree,
        stats: AnalysisStats,
    ) -> list[Finding]:
        out: list[Finding] = []
        within = (decl.start_byte, decl.end_byte)
        for rule in rules:
            if not rule.wants(decl_text, ctx):
                continue
            facts = ctx.package
            facts.allow(rule.requires)
            try:
                produced = list(rule.check(decl, ctx))
            except (Exception, RecursionError) as exc:  # a rule's bug must not take the server down
                where = decl.start_point.row + 1
                stats.rule_errors.append(f"{rule.id} failed on the declaration at line {where}: {exc!r}")
                log.exception("rule %s failed on the declaration at line %d", rule.id, where)
                continue
            finally:
                facts.allow(None)
                if facts.undeclared:  # still keyed by them: the findings stay right, the rule is wrong
                    names = ", ".join(sorted(f.name for f in facts.undeclared))
                    stats.rule_errors.append(f"{rule.id} reads package facts it does not declare in requires: {names}")
                    log.error("rule %s reads package facts it does not declare: %s", rule.id, names)
                    facts.undeclared.clear()
            for finding in produced:
                valid = tuple(f for f in finding.fixes if fix_parses(ctx.source, tree, f, within))
                out.append(finding if len(valid) == len(finding.fixes) else replace(finding, fixes=valid))
        return out

    def _context_id(self, context: Hashable) -> int:
        """A small number for a file context and rule set, so that cache keys compare cheaply."""
        found = self._contexts.get(context)
        if found is None:
            if len(self._contexts) >= 4096:
                # Numbers are given again from 0: nothing keyed by the old ones may stay.
                self._contexts.clear()
                self._records.clear()
                self._files.clear()
                self._numbering += 1
            found = self._contexts[context] = len(self._contexts)
        return found


#: How many contexts (file outlines, versions of the functions it calls) a declaration's findings
#: and blocks are kept for: a declaration still in the file is never evicted, and each edit of a
#: function it calls is a new context.
_CONTEXTS_PER_RECORD = 8


#: What the analysis layers keep of the last texts they saw (a closed document's, perhaps).
_TEXT_CACHES: tuple[Callable[[], None], ...] = (
    graph.forget_texts, scopes.forget_texts, sync.forget_texts, tracking.forget_texts, returns.forget_texts,
    locks.forget_texts, toplevel.forget_texts, frameworks.forget_texts, unclosed_channel.forget_texts,
)


def _declared_names(root: Node, source: bytes) -> set[str]:
    """The names of the file's functions and methods."""
    names: set[str] = set()
    for node in root.named_children:
        if node.type in _FUNCTIONS:
            name = node.child_by_field_name("name")
            if name is not None:
                names.add(source[name.start_byte : name.end_byte].decode(errors="replace"))
    return names


def _shapes(entries: list[_Entry | None]) -> list[int]:
    return [e.record.shape for e in entries if e is not None and e.record is not None]


def _count(entries: list[_Entry | None]) -> int:
    return sum(1 for e in entries if e is not None and e.record is not None)


def _index(entry: _Entry | None, functions: dict[bytes, list[_Entry]], callers: dict[bytes, set[_Entry]]) -> None:
    """Add a declaration to the file's functions by name and to the callers of what it calls."""
    if entry is None or entry.record is None:
        return
    record = entry.record
    if record.name is not None:
        functions.setdefault(record.name, []).append(entry)
    for name in record.calls:
        callers.setdefault(name, set()).add(entry)


def _unindex(entry: _Entry | None, functions: dict[bytes, list[_Entry]], callers: dict[bytes, set[_Entry]]) -> None:
    if entry is None or entry.record is None:
        return
    record = entry.record
    if record.name is not None:
        same = functions.get(record.name)
        if same is not None:
            same[:] = [e for e in same if e is not entry]
            if not same:
                del functions[record.name]
    for name in record.calls:
        calling = callers.get(name)
        if calling is not None:
            calling.discard(entry)
            if not calling:
                del callers[name]


def _callees(record: _Record, functions: dict[bytes, list[_Entry]]) -> int:
    """A hash of the functions of the file the declaration calls (itself left out)."""
    parts: list[tuple[int, ...]] = []
    for name in sorted(record.calls):
        if name == record.name:
            continue
        found = functions.get(name)
        if found:
            parts.append(tuple(sorted(hash(e.text) for e in found)))
    return hash(tuple(parts))


def _bound(kept: dict[Any, Any]) -> None:
    """Drop the oldest entries beyond :data:`_CONTEXTS_PER_RECORD`."""
    while len(kept) > _CONTEXTS_PER_RECORD:
        del kept[next(iter(kept))]


def _new_record(decl: Node, text: bytes) -> _Record:
    name = None
    if decl.type in _FUNCTIONS:
        name_node = decl.child_by_field_name("name")
        if name_node is not None:
            name = text[name_node.start_byte - decl.start_byte : name_node.end_byte - decl.start_byte]
    calls = frozenset(_CALLED.findall(text))
    return _Record(_shape(decl, text), len(text) + _RECORD_BYTES + 16 * len(calls), name, calls)


def _shape(decl: Node, text: bytes) -> int:
    """The hash of a declaration's part of the file outline: a function's signature, all of a type or var."""
    kind = decl.type
    if kind in _FUNCTIONS:
        body = decl.child_by_field_name("body")
        return hash(text[: body.start_byte - decl.start_byte] if body is not None else text)
    if kind in _SHAPE_DECLARATIONS:
        return hash(text)
    return 0


def _block(window: bytes, relative: list[Finding], rules: dict[str, Rule], settings: Settings, local: bool) -> Block:
    relative.sort(key=lambda f: (f.start, f.rule, f.end))
    diagnostics = tuple(Diagnostic(f, _severity(f, rules[f.rule], settings)) for f in relative)
    return Block(window, diagnostics, local)


def _inside(finding: Finding, low: int, high: int) -> bool:
    """Are the finding and its related places within ``[low, high]``?  (Fixes may reach further.)"""
    if not low <= finding.start <= finding.end <= high:
        return False
    return all(low <= r.start <= r.end <= high for r in finding.related)


def _severity(finding: Finding, rule: Rule, settings: Settings) -> Severity:
    """The configured (or the rule's) severity, one step higher for per-request code."""
    configured = settings.severity.get(rule.id)
    if configured is not None:
        base = configured
    else:
        base = finding.severity if finding.severity is not None else rule.default_severity
    return base.raised() if finding.per_request else base
