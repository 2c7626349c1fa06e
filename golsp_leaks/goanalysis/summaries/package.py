"""Package-level facts, learnt from all the ``.go`` files of a package directory.

A rule sees one declaration at a time; some of what it needs to know lives in
other declarations, often in other files of the package: which functions run
per request (a helper called from a handler), which package-level map some
code deletes from, which goroutines are started once from ``main``.
:func:`package_facts` reads the files next to the one being analysed, keeps a
small summary of each (cached by path, modification time and size), and
combines the summaries into a :class:`~golsp_leaks.goanalysis.summaries.facts.PackageFacts`.
The facts are computed when a rule first reads one (see :mod:`.facts`): a file on which no
rule reads any costs nothing here.

What is read:

* the files of the same directory and the same ``package`` clause, except
  ``_test.go`` files when the analysed file is not itself a test, and files
  marked ``//go:build ignore``;
* every such file when some file of the package imports a web framework (the
  per-request facts need the whole call graph);
* otherwise only what can change a finding about this file's goroutines: the
  files that mention what it runs with ``go f()`` / ``go x.m()``, a ``Start``
  method it calls, and the functions that start its goroutines (their
  callers, caller by caller, for the startup facts).  A file without such a
  goroutine gets no facts at all, and costs nothing.

"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from stat import S_ISREG
from typing import Any

from tree_sitter import Node, Tree

from golsp_leaks.goanalysis.cfg.loops import endless_loops
from golsp_leaks.goanalysis.dataflow.channels import abandoned_results
from golsp_leaks.goanalysis.libraries.frameworks import (
    WEB_IMPORT_MARKERS,
    RequestScope,
    base_type_name,
    function_key,
    is_once_call,
    local_types,
    made_values,
    once_guarded,
    receiver,
    typed_names,
)
from golsp_leaks.goanalysis.libraries.sql import LIBRARIES
from golsp_leaks.goanalysis.summaries import overlay
from golsp_leaks.goanalysis.summaries.facts import (
    CALLS,
    DB_FIELDS_SOURCE,
    ENDLESS_SOURCE,
    FIELD_USES_SOURCE,
    LOCKS_SOURCE,
    OWN_MADE_SOURCE,
    OWN_MENTIONS_SOURCE,
    SIBLINGS_SOURCE,
    PackageFacts,
)
from golsp_leaks.goanalysis.summaries.locks import EMPTY as LOCKS_EMPTY
from golsp_leaks.goanalysis.summaries.locks import LockFacts, lock_facts
from golsp_leaks.goanalysis.syntax.bounded import BoundedCache
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import outermost_by_keyword, text, var_specs
from golsp_leaks.goanalysis.syntax.parse import clear_shared, cursor, parse, parse_shared
from golsp_leaks.goanalysis.syntax.toplevel import Mentions, Tops, carry

__all__ = [
    "FileSummary", "clear_cache", "combine", "forget", "invalidate", "package_facts", "source_facts", "summarize",
]

_IGNORED_BUILD = re.compile(rb"^//go:build ignore\s*$", re.MULTILINE)
_PACKAGE_CLAUSE = re.compile(rb"^package[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
_FIBER_IMMUTABLE = re.compile(rb"\bImmutable:\s*true\b")

_BUILTINS = frozenset(
    {"append", "cap", "clear", "close", "complex", "copy", "delete", "imag", "len", "make", "max", "min",
     "new", "panic", "print", "println", "real", "recover"}
)
#: Methods that end a value's life: a type with one is made, used and closed, perhaps many times.
_CLOSING_METHODS = frozenset({"Close", "Stop", "Shutdown"})
_SHRINKING_METHODS = frozenset({"Delete", "LoadAndDelete", "CompareAndDelete", "Clear"})
_COMPARISONS = frozenset({"<", "<=", ">", ">="})
#: Method names too common to resolve by name alone (``resp.Body.Close()`` is not ``Store.Close``).
_AMBIGUOUS_METHODS = frozenset(
    {"Close", "Error", "String", "Read", "Write", "Lock", "Unlock", "RLock", "RUnlock", "Done", "Wait", "Add",
     "Err", "Next", "Scan", "Get", "Set", "Del", "Len", "Reset", "Stop", "Start", "Run", "Do", "Value",
     "Load", "Store", "Delete", "Put", "Open", "Flush", "Sync", "Seek", "Int", "Bytes", "Header", "Context"}
)



@dataclass(frozen=True)
class _Func:
    key: str
    name: str
    receiver_type: str
    exported: bool
    handler: bool
    params: int
    result_type: str  # the base type name of the first result ("" when none)


@dataclass(frozen=True)
class _Ref:
    """A mention of a function or method: a call, a ``go``, or a function value passed on."""

    site: str  # function_key of the enclosing declaration; "" in a package-level initializer
    kind: str  # "func", "method" (any type), "recv" (a method of the site's receiver type)
    name: str
    receiver_type: str
    handler: bool  # in code that runs per request
    once: str  # "once": runs once by itself; "site": as often as its site; "never": more often
    go: bool  # run as a goroutine


@dataclass
class FileSummary:
    """What one file contributes to the facts of its package."""

    package: str = ""
    web: bool = False
    funcs: dict[str, _Func] = field(default_factory=dict)
    refs: list[_Ref] = field(default_factory=list)
    globals: set[str] = field(default_factory=set)
    collections: set[str] = field(default_factory=set)
    shrunk: set[str] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    #: method key -> fields received from inside goroutine literals the method starts
    go_waits: dict[str, set[str]] = field(default_factory=dict)
    #: method key -> fields received from anywhere in the method
    waits: dict[str, set[str]] = field(default_factory=dict)
    #: method key -> names of receiver methods it runs with ``go``
    go_methods: dict[str, set[str]] = field(default_factory=dict)
    #: method key -> fields it closes or sends on
    closes: dict[str, set[str]] = field(default_factory=dict)
    #: functions with a loop that never ends
    #: functions that contain a ``go`` statement, and the names run by ``go name()`` / ``go x.name()``
    go_sites: set[str] = field(default_factory=set)
    go_targets: set[str] = field(default_factory=set)
    #: (callee, caller key): the caller keeps the callee's result in a local it only receives
    #: from, and can return without receiving (see dataflow.channels.abandoned_results)
    abandons: set[tuple[str, str]] = field(default_factory=set)
    #: A file's summary keeps those of its declarations here, merged only when the
    #: package's facts must be computed again (see :func:`_materialize`).
    parts: tuple[_Part, ...] = ()


# --------------------------------------------------------------------------- one file


def summarize(source: bytes, tree: Tree | None = None, keep: Hashable | None = None) -> FileSummary:
    """The summary of one file (parsed here unless ``tree`` is given).

    With ``keep`` (the file's path), the summary's parts are kept per top-level node under that
    key, and the next summary under it summarises only the nodes the edit touched
    (:func:`~golsp_leaks.goanalysis.syntax.toplevel.carry`).
    """
    if tree is None:
        tree = parse(source)
    root = tree.root_node
    imports = Imports.from_root(root)
    scope = RequestScope(root, imports, source=source)
    summary = FileSummary()
    match = _PACKAGE_CLAUSE.search(source)
    summary.package = match.group(1).decode() if match else ""
    with _decl_lock:
        kept = _kept_parts.pop(keep, None) if keep is not None else None
    words = kept.words if kept is not None else Mentions()
    summary.web = any(words.contains(source, marker) for marker in WEB_IMPORT_MARKERS)
    if words.contains(source, b"Immutable") and _FIBER_IMMUTABLE.search(source):
        summary.flags.add("fiber-immutable")
    import_names = set(imports.by_name)
    fingerprint = _interned(imports.fingerprint())
    carried = carry(kept.source, kept.tops, source, root) if kept is not None and kept.imports == fingerprint else None
    if carried is None or kept is None:
        nodes = root.named_children
        tops = Tops.of(nodes)
        by_top: list[_Part | None] = [None] * len(nodes)
        keys_by_top: list[tuple[bytes, int] | None] = [None] * len(nodes)
        todo = [(i, n) for i, n in enumerate(nodes) if n.type in _SUMMARIZED]
    else:
        tops = carried.tops
        head, tail = carried.head, carried.tail
        old = kept.parts
        middle = len(tops) - head - tail
        by_top = old[:head] + [None] * middle + old[len(old) - tail :]
        keys_by_top = kept.keys[:head] + [None] * middle + kept.keys[len(old) - tail :]
        todo = []
        for i in range(head, head + middle):
            node = root.named_child(i)
            if node is not None and node.type in _SUMMARIZED:
                todo.append((i, node))
    keys = [(source[decl.start_byte : decl.end_byte], fingerprint) for _, decl in todo]
    with _decl_lock:
        # One file's declarations always fit (about 5 times its size), with room for the
        # versions an editor makes of them.
        _decl_cache.max_bytes = max(_DECL_CACHE_BYTES, 8 * len(source))
        global _summaries_kept
        _summaries_kept += 1
        if keep is not None and (carried is None or _summaries_kept % _REFRESH_EVERY == 0):
            in_use = [key for key in keys_by_top if key is not None]
            # A file being edited: besides its own declarations, a few hundred older versions
            # (what an undo brings back) and the other files' — not every version typed, which
            # would fill the cache's bytes only after thousands of keystrokes.
            _decl_cache.max_entries = len(in_use) + len(todo) + _OLD_PARTS
            if carried is not None:
                # The declarations still there are in use: older versions go first.  Now and
                # then only (a keystroke adds a version or two).
                _decl_cache.refresh(in_use)
        known = [_decl_cache.get(key) for key in keys]
    for (index, decl), key, part in zip(todo, keys, known, strict=True):
        if part is None:
            partial = FileSummary()
            if decl.type == "var_declaration":
                _summarize_vars(decl, imports, partial)
                _scan_declaration(decl, "", None, scope, import_names, partial)
            else:
                _summarize_function(decl, scope, import_names, partial)
            part = _Part(partial, len(key[0]))
            with _decl_lock:
                _decl_cache.put(key, part, part.size, keep)
        by_top[index] = part
        keys_by_top[index] = key
    summary.parts = tuple(part for part in by_top if part is not None)
    if keep is not None:
        with _decl_lock:
            _kept_parts[keep] = _Kept(source, tops, fingerprint, by_top, keys_by_top, words)
            while len(_kept_parts) > _KEPT_SUMMARIES:
                _kept_parts.pop(next(iter(_kept_parts)))
    return summary


_SUMMARIZED = frozenset({"function_declaration", "method_declaration", "var_declaration"})
#: Summaries made from kept parts between two refreshes of the declarations in use.
_REFRESH_EVERY = 64
#: Parts besides those of a file being edited that the cache keeps (see summarize).
_OLD_PARTS = 512
_summaries_kept = 0


@dataclass(frozen=True)
class _Kept:
    """The last summary made under a key: the text, its top-level nodes, imports, a part per
    node, and what the text mentions."""

    source: bytes
    tops: Tops
    imports: int
    parts: list[_Part | None]
    #: the key of each part in the cache of declaration summaries
    keys: list[tuple[bytes, int] | None]
    words: Mentions


#: The last summaries made under a key (see ``keep`` in :func:`summarize`), the oldest first.
_kept_parts: dict[Hashable, _Kept] = {}
_KEPT_SUMMARIES = 16


_imports_ids: dict[object, int] = {}


def _interned(fingerprint: object) -> int:
    """A small number per distinct import set, so that cache keys compare cheaply."""
    with _decl_lock:
        found = _imports_ids.get(fingerprint)
        if found is None:
            found = _imports_ids[fingerprint] = len(_imports_ids)
        return found


#: What an empty field of a summary stands as in a part's canonical form.
_EMPTY_CANON: dict[type, object] = {list: (), set: frozenset(), dict: frozenset()}


class _Part:
    """The summary of one declaration, with a hash of its content.

    Two parts are equal when they contribute the same facts, whatever their text:
    typing inside a function body usually leaves its part, and so the package's
    facts, unchanged.
    """

    __slots__ = ("_canon", "_hash", "size", "summary")

    def __init__(self, summary: FileSummary, text_size: int = 0) -> None:
        self.summary = summary
        #: What the part and the text it is cached by hold, roughly, in bytes.
        self.size = text_size + 1000 + 200 * (len(summary.refs) + len(summary.funcs))
        canon: list[object] = []
        for name in _MERGED_FIELDS:
            value = getattr(summary, name)
            if not value and type(value) in _EMPTY_CANON:
                canon.append(_EMPTY_CANON[type(value)])  # most fields of most declarations
            elif isinstance(value, list):
                canon.append(tuple(value))
            elif isinstance(value, set):
                canon.append(frozenset(value))
            elif isinstance(value, dict):
                canon.append(
                    frozenset((k, frozenset(v) if isinstance(v, set) else v) for k, v in value.items())
                )
        self._canon = tuple(canon)
        self._hash = hash(self._canon)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, _Part) and self._hash == other._hash and self._canon == other._canon
        )


def _materialize(summary: FileSummary) -> FileSummary:
    """A file's summary with the contributions of its declarations merged in."""
    if not summary.parts:
        return summary
    merged = FileSummary(package=summary.package, web=summary.web, flags=set(summary.flags))
    for part in summary.parts:
        _add(merged, part.summary)
    return merged


def summary_key(summary: FileSummary) -> tuple[object, ...]:
    """What a file's summary contributes, as a hashable value (cheap: parts hash once).

    The parts by their hashes (64 bits each, of what they contribute), not the parts: a cache
    keyed by it keeps nothing of a file's declarations, and a key found equal long after it
    was made (typing inside bodies leaves the parts' contributions as they were) does not
    hold that old version's parts alive."""
    return (summary.package, summary.web, frozenset(summary.flags), tuple(hash(part) for part in summary.parts))


#: Summaries of single declarations, by their text and the file's imports: an edit in one
#: function of a large file summarises that function again and reuses the rest.
_decl_cache: BoundedCache[tuple[bytes, int], _Part] = BoundedCache(4 << 20, 50_000)
_decl_lock = threading.Lock()
#: What the declaration summaries may hold at least (estimated bytes); more when one file needs it.
_DECL_CACHE_BYTES = 4 << 20
_EMPTY: dict[str, frozenset[object]] = {}


def _add(summary: FileSummary, part: FileSummary) -> None:
    """Fold the summary of one declaration into the file's (parts are never modified)."""
    for name in _MERGED_FIELDS:
        theirs = getattr(part, name)
        if not theirs:
            continue
        mine = getattr(summary, name)
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, set):
            mine |= theirs
        elif isinstance(mine, dict):
            for key, value in theirs.items():
                if isinstance(value, set):
                    mine.setdefault(key, set()).update(value)
                else:
                    mine[key] = value


#: The fields of a summary that its declarations contribute to (the rest are per file).
_MERGED_FIELDS = tuple(f.name for f in fields(FileSummary) if f.name not in ("package", "web", "parts"))


def _summarize_function(decl: Node, scope: RequestScope, import_names: set[str], summary: FileSummary) -> None:
    key = function_key(decl)
    if key is None:
        return
    name = text(decl.child_by_field_name("name"))
    recv = receiver(decl)
    params = decl.child_by_field_name("parameters")
    count = 0
    if params is not None:
        for p in params.named_children:
            if p.type in ("parameter_declaration", "variadic_parameter_declaration"):
                count += max(1, len(p.children_by_field_name("name")))
    result = decl.child_by_field_name("result")
    if result is not None and result.type == "parameter_list":
        first = next((p for p in result.named_children if p.type == "parameter_declaration"), None)
        result = first.child_by_field_name("type") if first is not None else None
    summary.funcs[key] = _Func(
        key=key,
        name=name,
        receiver_type=recv[1] if recv else "",
        exported=name[:1].isupper(),
        handler=scope.handler(decl) is not None,
        params=count,
        result_type=base_type_name(result),
    )
    _scan_declaration(decl, key, recv, scope, import_names, summary)
    body = decl.child_by_field_name("body")
    if body is not None and b"<-" in (body.text or b""):
        summary.abandons.update((callee, key) for callee in abandoned_results(decl))


def _summarize_vars(decl: Node, imports: Imports, summary: FileSummary) -> None:
    for spec in var_specs(decl):
        names = [text(n) for n in spec.children_by_field_name("name")]
        summary.globals.update(n for n in names if n != "_")
        type_node = spec.child_by_field_name("type")
        values = spec.child_by_field_name("value")
        value_nodes = values.named_children if values is not None else []
        for i, name in enumerate(names):
            value = value_nodes[i] if i < len(value_nodes) else None
            if _is_collection(type_node, imports) or (value is not None and _is_collection_value(value, imports)):
                summary.collections.add(name)


def _is_collection(type_node: Node | None, imports: Imports) -> bool:
    if type_node is None:
        return False
    if type_node.type in ("map_type", "slice_type"):
        return True
    if type_node.type == "qualified_type":
        package = text(type_node.child_by_field_name("package"))
        return imports.path_of(package) == "sync" and text(type_node.child_by_field_name("name")) == "Map"
    return False


def _is_collection_value(value: Node, imports: Imports) -> bool:
    if value.type == "composite_literal":
        return _is_collection(value.child_by_field_name("type"), imports)
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if function is not None and text(function) == "make" and args is not None and args.named_child_count:
            return _is_collection(args.named_children[0], imports)
    return False


#: One pass over a declaration finds everything the summary needs (pattern index -> what).
_SCAN = """
(call_expression function: (identifier) @fn arguments: (argument_list) @args) @call
(call_expression function: (selector_expression operand: (_) @operand field: (field_identifier) @method)
                 arguments: (argument_list) @args) @call
(argument_list (identifier) @value)
(argument_list (selector_expression operand: (identifier) @operand field: (field_identifier) @method) @selector)
(go_statement (call_expression function: (selector_expression operand: (identifier) @operand
                                                                field: (field_identifier) @method))) @go
(func_literal) @literal
(for_statement) @loop
(assignment_statement left: (expression_list) @left right: (expression_list) @right) @assign
(parameter_declaration name: (identifier) @name type: (_) @type)
(var_spec name: (identifier) @name type: (_) @type)
(short_var_declaration left: (expression_list . (identifier) @name .) right: (expression_list . (_) @value .))
(unary_expression operator: "<-" operand: (selector_expression operand: (identifier) @recv
                                                                field: (field_identifier) @field)) @wait
(range_clause right: (selector_expression operand: (identifier) @recv field: (field_identifier) @field)) @wait
(send_statement channel: (selector_expression operand: (identifier) @recv field: (field_identifier) @field)) @send
(go_statement) @anygo
"""
_PLAIN_CALL, _METHOD_CALL, _VALUE, _METHOD_VALUE, _GO_METHOD, _LITERAL, _LOOP, _ASSIGN = range(8)
_PARAM, _TYPED_VAR, _SHORT_VAR, _RECEIVE, _RANGE, _SEND, _ANY_GO = range(8, 15)

_IN_PLACE, _STORED, _ONCE, _HANDLER = range(4)


def _literal_kind(literal: Node, scope: RequestScope) -> int:
    if scope.handler(literal) is not None:
        return _HANDLER
    parent = literal.parent
    if parent is None:
        return _STORED
    if parent.type == "argument_list":
        call = parent.parent
        return _ONCE if call is not None and is_once_call(call, scope.imports, scope.source) else _IN_PLACE
    if parent.type == "call_expression" and parent.child_by_field_name("function") == literal:
        return _IN_PLACE
    return _STORED


def _scan_declaration(
    decl: Node,
    site: str,
    recv: tuple[str, str] | None,
    scope: RequestScope,
    import_names: set[str],
    summary: FileSummary,
) -> None:
    """Refs, local types, shrinks and worker lifecycles of one declaration, in one query."""
    matches = cursor(_SCAN).matches(decl)
    by_kind: list[list[dict[str, list[Node]]]] = [[] for _ in range(15)]
    for index, captures in matches:
        by_kind[index].append(captures)
    decl_handler = scope.handler(decl) is not None if decl.type != "var_declaration" else False
    # Regions: (start, end, kind) of literals, loops (kind -1), innermost last when sorted by start.
    regions: list[tuple[int, int, int]] = []
    for captures in by_kind[_LITERAL]:
        literal = captures["literal"][0]
        regions.append((literal.start_byte, literal.end_byte, _literal_kind(literal, scope)))
    for captures in by_kind[_LOOP]:
        loop = captures["loop"][0]
        regions.append((loop.start_byte, loop.end_byte, -1))
    regions.sort()

    def state_of(node: Node, go: bool, once_argument: bool) -> tuple[bool, str]:
        position = node.start_byte
        around = [r for r in regions if r[0] <= position < r[1] and not (r[0] == position and r[2] != -1)]
        handler = decl_handler or any(kind == _HANDLER for _, _, kind in around)
        state = "once" if once_argument else ""
        for _, _, kind in reversed(around):  # innermost first
            if state:
                break
            if kind == -1 or kind in (_HANDLER, _STORED):
                state = "never"
            elif kind == _ONCE:
                state = "once"
        if decl_handler and not state:
            state = "never"
        if not state and go and decl.type != "var_declaration" and once_guarded(node, decl):
            state = "once"
        return handler, state or "site"

    if by_kind[_ANY_GO] and site:
        summary.go_sites.add(site)
    typed = _typed_locals(by_kind)
    if recv is not None and recv[0] not in ("", "_"):
        typed[recv[0]] = recv[1]
    locals_ = {text(c["name"][0]) for k in (_PARAM, _TYPED_VAR, _SHORT_VAR) for c in by_kind[k]}

    def add(
        node: Node, name: str, operand: Node | None, go: bool, once_argument: bool = False, registered: bool = False
    ) -> None:
        operand_type = ""
        if operand is None:
            if name in _BUILTINS or name in locals_:
                return
            kind = "func"
        elif operand.type != "identifier":
            if name in _AMBIGUOUS_METHODS:
                return
            kind = "method"
        else:
            operand_name = text(operand)
            if operand_name in import_names:
                return
            operand_type = typed.get(operand_name, "")
            if operand_type:
                kind = "recv"
            elif name in _AMBIGUOUS_METHODS:
                return
            else:
                kind = "method"
        handler, once = state_of(node, go, once_argument)
        if registered:
            handler, once = True, "never"  # registered with a router: it runs per request
        summary.refs.append(_Ref(site, kind, name, operand_type, handler, once, go))

    for captures in by_kind[_PLAIN_CALL]:
        call = captures["call"][0]
        name = text(captures["fn"][0])
        add(call, name, None, _is_go_call(call))
        if call.parent is not None and call.parent.type == "go_statement":
            summary.go_targets.add(name)
        args = captures["args"][0]
        first = args.named_children[0] if args.named_child_count else None
        if first is None:
            continue
        if first.type == "identifier" and (name in ("delete", "clear") or (name == "len" and _bounds(call))):
            summary.shrunk.add(text(first))
        elif first.type == "selector_expression" and (name in ("delete", "clear") or (name == "len" and _bounds(call))):
            summary.shrunk.add(_field_mark(first))
        elif (
            name == "close"
            and recv is not None
            and first.type == "selector_expression"
            and text(first.child_by_field_name("operand")) == recv[0]
        ):
            summary.closes.setdefault(site, set()).add(text(first.child_by_field_name("field")))
    for captures in by_kind[_METHOD_CALL]:
        call = captures["call"][0]
        operand = captures["operand"][0]
        method = text(captures["method"][0])
        add(call, method, operand, _is_go_call(call))
        if operand.type == "selector_expression" and method in _SHRINKING_METHODS:
            summary.shrunk.add(_field_mark(operand))
        if operand.type == "identifier":
            if method in _SHRINKING_METHODS:
                summary.shrunk.add(text(operand))
            elif method == "DeleteFunc" and text(operand) == "maps":
                args = captures["args"][0]
                first = args.named_children[0] if args.named_child_count else None
                if first is not None and first.type == "identifier":
                    summary.shrunk.add(text(first))
    for captures in by_kind[_VALUE]:
        node = captures["value"][0]
        name = text(node)
        if name in _BUILTINS or name in locals_:
            continue  # what add() leaves out, without looking at the call around it first
        add(node, name, None, False, _once_argument(node, scope), _registered(node))
    for captures in by_kind[_METHOD_VALUE]:
        node = captures["selector"][0]
        operand = captures["operand"][0]
        if text(operand) in import_names:
            continue  # a package's function (pkg.F): not one of this package
        add(node, text(captures["method"][0]), operand, False, _once_argument(node, scope), _registered(node))
    for captures in by_kind[_ASSIGN]:
        assign = captures["assign"][0]
        operator = assign.child_by_field_name("operator")
        if operator is None or text(operator) != "=":
            continue
        targets = captures["left"][0].named_children
        right = captures["right"][0].named_children
        for i, target in enumerate(targets):
            value = right[i] if len(right) == len(targets) else None
            if target.type == "selector_expression":
                # x.f = x.f[n:] or x.f = nil anywhere, or a new value in a method (a reset); a plain
                # function setting a field is a constructor filling in a new value.
                trims = value is not None and (value.type == "nil" or (
                    value.type == "slice_expression" and text(value.child_by_field_name("operand")) == text(target)))
                if trims or (recv is not None and value is not None and not _is_growth(value, text(target))):
                    summary.shrunk.add(_field_mark(target))
                continue
            if target.type != "identifier":
                continue
            name = text(target)
            if value is not None and _is_growth(value, name):
                continue
            summary.shrunk.add(name)
    for captures in by_kind[_GO_METHOD]:
        summary.go_targets.add(text(captures["method"][0]))
    if recv is None or recv[0] in ("", "_"):
        return
    receiver_name = recv[0]
    for captures in by_kind[_GO_METHOD]:
        if text(captures["operand"][0]) == receiver_name:
            summary.go_methods.setdefault(site, set()).add(text(captures["method"][0]))
    for kind in (_RECEIVE, _RANGE):
        for captures in by_kind[kind]:
            wait = captures["wait"][0]
            if text(captures["recv"][0]) != receiver_name or not _leads_out(wait):
                continue
            name = text(captures["field"][0])
            summary.waits.setdefault(site, set()).add(name)
            if _inside_go_literal(wait, decl):
                summary.go_waits.setdefault(site, set()).add(name)
    for captures in by_kind[_SEND]:
        if text(captures["recv"][0]) == receiver_name:
            summary.closes.setdefault(site, set()).add(text(captures["field"][0]))
    if f"{receiver_name}.".encode() in (decl.text or b"") and b"<-" in (decl.text or b""):
        for name, wait in _copied_field_waits(decl, receiver_name):
            summary.waits.setdefault(site, set()).add(name)
            if _inside_go_literal(wait, decl):
                summary.go_waits.setdefault(site, set()).add(name)


_FIELD_COPIES = """
(short_var_declaration
  left: (expression_list . (identifier) @local .)
  right: (expression_list . (selector_expression operand: (identifier) @recv field: (field_identifier) @field) .))
"""
_LOCAL_WAITS = """
[(unary_expression operator: "<-" operand: (identifier) @local) @wait
 (range_clause right: (identifier) @local) @wait]
"""


def _copied_field_waits(decl: Node, receiver_name: str) -> Iterator[tuple[str, Node]]:
    """Waits on a local copy of a receiver's field (``ach := nc.ach`` ... ``<-ach``), as (field, wait)."""
    copies = {
        text(c["local"][0]): text(c["field"][0])
        for _, c in cursor(_FIELD_COPIES).matches(decl)
        if text(c["recv"][0]) == receiver_name
    }
    if not copies:
        return
    for _, captures in cursor(_LOCAL_WAITS).matches(decl):
        field_name = copies.get(text(captures["local"][0]))
        wait = captures["wait"][0]
        if field_name is not None and _leads_out(wait):
            yield field_name, wait


#: Methods that register a request handler (not middleware: ``Use`` builds the chain once).
ROUTE_METHODS = frozenset(
    {"Get", "Post", "Put", "Patch", "Delete", "Head", "Options", "Connect", "Trace", "All", "Any", "Handle",
     "HandleFunc", "Method", "MethodFunc", "NotFound", "MethodNotAllowed", "GET", "POST", "PUT", "PATCH",
     "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "Match"}
)


def _registered(node: Node) -> bool:
    """A function value handed to a router (``r.Get("/x", h)``), directly or through one wrapper
    (``r.Get("/x", adapt(h))``): it runs per request."""
    current = node
    for _ in range(2):
        args = current.parent
        call = args.parent if args is not None and args.type == "argument_list" else None
        if call is None or call.type != "call_expression":
            return False
        function = call.child_by_field_name("function")
        if (
            function is not None
            and function.type == "selector_expression"
            and text(function.child_by_field_name("field")) in ROUTE_METHODS
        ):
            return True
        current = call
    return False


def _once_argument(node: Node, scope: RequestScope) -> bool:
    """``once.Do(f)``: a function value handed to a sync.Once."""
    args = node.parent
    call = args.parent if args is not None else None
    return call is not None and is_once_call(call, scope.imports, scope.source)


def _typed_locals(by_kind: list[list[dict[str, list[Node]]]]) -> dict[str, str]:
    """Names whose type is plain from their declaration: ``s := &Server{}``, ``s *Server``."""
    return typed_names(captures for kind in (_PARAM, _TYPED_VAR, _SHORT_VAR) for captures in by_kind[kind])


def _is_go_call(call: Node) -> bool:
    """``go f()``, or ``f()`` as a statement of a goroutine literal's body."""
    parent = call.parent
    if parent is None:
        return False
    if parent.type == "go_statement":
        return True
    if parent.type != "expression_statement":
        return False
    block = parent.parent
    if block is not None and block.type == "statement_list":
        block = block.parent
    literal = block.parent if block is not None and block.type == "block" else None
    if literal is None or literal.type != "func_literal":
        return False
    call_of_literal = literal.parent
    return (
        call_of_literal is not None
        and call_of_literal.type == "call_expression"
        and call_of_literal.parent is not None
        and call_of_literal.parent.type == "go_statement"
    )


def _leads_out(wait: Node) -> bool:
    """A receive after which the goroutine ends: ``for range w.F``, a select case that
    returns, or a plain ``<-w.F`` statement outside any loop."""
    if wait.type == "range_clause":
        return True
    holder = wait.parent
    if holder is not None and holder.type == "expression_list":
        binding = holder.parent
        left = binding.child_by_field_name("left") if binding is not None else None
        if (
            binding is not None
            and binding.type in ("short_var_declaration", "assignment_statement")
            and left is not None
            and binding.child_by_field_name("right") == holder
            and left.named_child_count == 2
        ):
            return True  # v, ok := <-ch: the receiver looks for the close
    node = wait
    while node.parent is not None and node.parent.type in ("receive_statement", "expression_statement",
                                                           "parenthesized_expression"):
        node = node.parent
    parent = node.parent
    if parent is not None and parent.type == "communication_case":
        returns = cursor("(return_statement) @r").captures(parent).get("r", [])
        return bool(returns)
    if parent is not None and parent.type == "statement_list":
        current: Node | None = parent
        while current is not None and current.type not in ("func_literal", "function_declaration",
                                                              "method_declaration"):
            if current.type == "for_statement":
                return False
            current = current.parent
        return True
    return False


def _inside_go_literal(node: Node, decl: Node) -> bool:
    current = node.parent
    while current is not None and current != decl:
        if current.type == "func_literal":
            call = current.parent
            if call is not None and call.type == "call_expression" and call.parent is not None and (
                call.parent.type == "go_statement"
            ):
                return True
        current = current.parent
    return False


def _bounds(len_call: Node) -> bool:
    """``len(x)`` compared with ``<``/``>`` in an ``if`` condition."""
    parent = len_call.parent
    if parent is None or parent.type != "binary_expression":
        return False
    operator = parent.child_by_field_name("operator")
    if operator is None or text(operator) not in _COMPARISONS:
        return False
    current = parent
    while current.parent is not None and current.parent.type in ("binary_expression", "parenthesized_expression"):
        current = current.parent
    holder = current.parent
    return holder is not None and holder.type == "if_statement" and holder.child_by_field_name("condition") == current


def _is_growth(value: Node, name: str) -> bool:
    """``append(name, ...)``: the assignment grows the slice rather than trimming it."""
    if value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    args = value.child_by_field_name("arguments")
    if function is None or text(function) != "append" or args is None or not args.named_child_count:
        return False
    first = args.named_children[0]
    return first.type in ("identifier", "selector_expression") and text(first) == name


def _field_mark(selector: Node) -> str:
    """``.f`` for ``x.f``: a field some code shrinks, kept apart from package-level names."""
    return "." + text(selector.child_by_field_name("field"))


# --------------------------------------------------------------------------- the package


def combine(summaries: Iterable[FileSummary]) -> PackageFacts:
    """The facts of a package made of these files."""
    return PackageFacts.given(_combined(summaries))


def _combined(summaries: Iterable[FileSummary]) -> dict[str, frozenset[Any]]:
    """The ``calls`` facts of a package made of these files, by name."""
    files = [_materialize(s) for s in summaries]
    funcs: dict[str, _Func] = {}
    refs: list[_Ref] = []
    merged = FileSummary()
    for s in files:
        funcs.update(s.funcs)
        refs.extend(s.refs)
        merged.globals |= s.globals
        merged.collections |= s.collections
        merged.shrunk |= s.shrunk
        merged.flags |= s.flags
        merged.abandons |= s.abandons
        for mine, theirs in (
            (merged.go_waits, s.go_waits),
            (merged.waits, s.waits),
            (merged.go_methods, s.go_methods),
            (merged.closes, s.closes),
        ):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)
    package_main = any(s.package == "main" for s in files)
    resolve = _resolver(funcs)
    resolved = [(ref, resolve(ref)) for ref in refs]
    edges: dict[str, set[str]] = {}
    incoming: dict[str, list[_Ref]] = {}
    for ref, target in resolved:
        if target is None:
            continue
        edges.setdefault(ref.site, set()).add(target)
        incoming.setdefault(target, []).append(ref)

    # Per request: handlers, what handler code calls, and so on.
    per_request = {f.key for f in funcs.values() if f.handler}
    per_request |= {target for ref, target in resolved if target is not None and ref.handler}
    stack = list(per_request)
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in per_request:
                per_request.add(target)
                stack.append(target)

    # Startup: only ever referenced from code that runs once (least fixed point).
    startup: set[str] = set()

    def runs_once(ref: _Ref) -> bool:
        if ref.handler or ref.once == "never":
            return False
        if ref.once == "once":
            return True
        return ref.site in ("", "main", "init") or ref.site in startup

    def proves_startup(key: str) -> bool:
        # A method call on a value of unknown type ("method") is resolved by its name
        # alone: it may be some other type's method, so it never disproves startup.
        refs_in = incoming[key]
        return any(runs_once(r) for r in refs_in) and all(runs_once(r) for r in refs_in if r.kind != "method")

    candidates = [
        f.key
        for f in funcs.values()
        if f.key not in ("main", "init") and not f.handler and f.key not in per_request
        and (package_main or not f.exported) and f.key in incoming
    ]
    changed = True
    while changed:
        changed = False
        for key in candidates:
            if key not in startup and proves_startup(key):
                startup.add(key)
                changed = True

    # More than once: per request, in a loop or a stored function literal, or called from such code.
    repeated = set(per_request)
    calls_from: dict[str, list[tuple[_Ref, str]]] = {}
    for ref, target in resolved:
        if target is None or ref.kind == "method":
            continue  # a method resolved by its name alone proves nothing
        if ref.once == "never" or ref.handler:
            repeated.add(target)
        elif ref.once == "site":
            calls_from.setdefault(ref.site, []).append((ref, target))
    stack = list(repeated)
    while stack:
        for _, target in calls_from.get(stack.pop(), ()):
            if target not in repeated:
                repeated.add(target)
                stack.append(target)
    closable = {f.receiver_type for f in funcs.values() if f.receiver_type and f.name in _CLOSING_METHODS}

    goroutines = {
        target
        for ref, target in resolved
        if target is not None and ref.go and ref.kind != "method" and not runs_once(ref)
    }

    lifecycles: set[tuple[str, str, str]] = set()
    for key, f in funcs.items():
        if not f.receiver_type:
            continue
        waited = set(merged.go_waits.get(key, ()))
        for method in merged.go_methods.get(key, ()):
            waited |= merged.waits.get(f"{f.receiver_type}.{method}", set())
        if not waited:
            continue
        for other_key, other in funcs.items():
            if other.receiver_type != f.receiver_type or other_key == key:
                continue
            if waited & merged.closes.get(other_key, set()):
                lifecycles.add((f.receiver_type, f.name, other.name))
    runners: set[tuple[str, str, str]] = set()
    for key, f in funcs.items():
        # what the method itself waits on, not what goroutines it starts wait on
        waits = merged.waits.get(key, set()) - merged.go_waits.get(key, set()) if f.receiver_type else set()
        for other_key, other in funcs.items() if waits else ():
            if other.receiver_type == f.receiver_type and other_key != key and waits & merged.closes.get(other_key, set()):
                runners.add((f.receiver_type, f.name, other.name))
    lifecycle_types = {t for t, _, _ in lifecycles}
    constructors = {
        (f.name, f.result_type)
        for f in funcs.values()
        if not f.receiver_type and f.result_type in lifecycle_types
    }
    return {
        "handlers": frozenset(per_request),
        "shrunk_globals": frozenset(merged.shrunk & merged.globals),
        "shrunk_fields": frozenset(n[1:] for n in merged.shrunk if n.startswith(".")),
        "globals": frozenset(merged.globals),
        "collections": frozenset(merged.collections),
        "startup": frozenset(startup),
        "goroutines": frozenset(goroutines),
        "lifecycles": frozenset(lifecycles),
        "runners": frozenset(runners),
        "constructors": frozenset(constructors),
        "flags": frozenset(merged.flags),
        "abandoned": frozenset(
            (callee, caller) for callee, caller in merged.abandons if callee in funcs and not funcs[callee].receiver_type
        ),
        "repeated": frozenset(repeated),
        "closable": frozenset(closable),
    }


def _resolver(funcs: dict[str, _Func]) -> Callable[[_Ref], str | None]:
    """What a mention resolves to among the package's functions (None: none of them, or unsure)."""
    methods: dict[str, list[str]] = {}
    for f in funcs.values():
        if f.receiver_type:
            methods.setdefault(f.name, []).append(f.key)

    def resolve(ref: _Ref) -> str | None:
        if ref.kind == "func":
            return ref.name if ref.name in funcs and not funcs[ref.name].receiver_type else None
        if ref.kind == "recv":
            key = f"{ref.receiver_type}.{ref.name}"
            if key in funcs:
                return key
        if ref.name in _AMBIGUOUS_METHODS:
            return None
        candidates = methods.get(ref.name, [])
        return candidates[0] if len(candidates) == 1 else None

    return resolve


class _LastFacts:
    """The ``calls`` facts last computed for a directory, from these summaries.

    The next summaries of the package usually differ from these in a declaration or two (an
    edit in one function): when what those declarations contribute is the same, the facts
    are too — the very same values, so that what was checked against them stays checked.
    """

    __slots__ = ("_resolve", "facts", "summaries")

    def __init__(self, summaries: list[FileSummary], facts: dict[str, frozenset[Any]]) -> None:
        self.summaries = summaries
        self.facts = facts
        self._resolve: Callable[[_Ref], str | None] | None = None

    def carried(self, summaries: list[FileSummary], resolve: Callable[[_Ref], str | None] | None) -> _LastFacts:
        found = _LastFacts(summaries, self.facts)
        found._resolve = resolve
        return found

    def facts_for(self, summaries: list[FileSummary]) -> tuple[dict[str, frozenset[Any]], _LastFacts] | None:
        """These facts and what to remember, when ``summaries`` give the same facts as the last ones."""
        if len(summaries) != len(self.summaries):
            return None
        removed: list[FileSummary] = []
        added: list[FileSummary] = []
        for old, new in zip(self.summaries, summaries, strict=True):
            if old is new:
                continue
            if (
                old.package != new.package
                or old.web != new.web
                or old.flags != new.flags
                or not old.parts
                or len(old.parts) != len(new.parts)
            ):
                return None
            for a, b in zip(old.parts, new.parts, strict=True):
                if a is not b and a != b:
                    removed.append(a.summary)
                    added.append(b.summary)
            if len(removed) > _MAX_CHANGED_PARTS:
                return None
        if not removed:
            return self.facts, self.carried(summaries, self._resolve)
        before, after = FileSummary(), FileSummary()
        for gone in removed:
            _add(before, gone)
        for new_part in added:
            _add(after, new_part)
        # The functions are the same, so every mention resolves as before; what does not
        # resolve contributes nothing, and everything else is used as a set.
        if any(getattr(before, name) != getattr(after, name) for name in _MERGED_FIELDS if name != "refs"):
            return None
        resolve = self._resolve
        if resolve is None:
            funcs: dict[str, _Func] = {}
            for summary in self.summaries:
                for part in summary.parts or (_Part(summary),):
                    funcs.update(part.summary.funcs)
            resolve = _resolver(funcs)
        if {r for r in before.refs if resolve(r)} != {r for r in after.refs if resolve(r)}:
            return None
        return self.facts, self.carried(summaries, resolve)


#: More declarations changed than this since the last facts: computed again from scratch.
_MAX_CHANGED_PARTS = 16
#: The last facts per package directory (see :class:`_LastFacts`).
_last_facts: OrderedDict[Path, _LastFacts] = OrderedDict()


def source_facts(source: bytes, tree: Tree | None = None) -> PackageFacts:
    """The facts of a package made of this one file (computed when first read)."""

    def provide(kind: str) -> Mapping[str, object]:
        if kind == ENDLESS_SOURCE:
            return {"endless": _endless_of(source, tree) if b"for {" in source else frozenset()}
        if kind != CALLS:
            return _EMPTY
        summary = summarize(source, tree)
        key = summary_key(summary)
        with _lock:
            facts = _source_cache.get(key)
        if facts is None:
            facts = _combined([summary])
            with _lock:
                _source_cache[key] = facts
                if len(_source_cache) > _PACKAGE_CACHE_SIZE:
                    del _source_cache[next(iter(_source_cache))]
        return facts

    return PackageFacts(provider=provide)


_source_cache: dict[tuple[object, ...], dict[str, frozenset[Any]]] = {}


# --------------------------------------------------------------------------- reading the directory

_lock = threading.Lock()


@dataclass(frozen=True)
class _Sibling:
    path: Path
    stamp: tuple[int, int]
    package: str
    web: bool


#: path -> (the file's markers, its summary once parsed)
_file_cache: OrderedDict[Path, tuple[_Sibling, FileSummary | None]] = OrderedDict()
_own_cache: OrderedDict[bytes, FileSummary] = OrderedDict()
_package_cache: OrderedDict[tuple[object, ...], dict[str, frozenset[Any]]] = OrderedDict()
_OWN_CACHE_SIZE = 4
#: Combined facts kept, by the contents of the package's files (each holds every fact's value).
_PACKAGE_CACHE_SIZE = 16
#: Files whose markers and summary are kept.
_FILE_CACHE_SIZE = 2048


def clear_cache() -> None:
    with _lock:
        _file_cache.clear()
        _own_cache.clear()
        _own_paths.clear()
        _disk_summaries.clear()
        _package_siblings.clear()
        _package_cache.clear()
        _last_facts.clear()
        _mentions.clear()
        _source_cache.clear()
        _scans.clear()
    with _decl_lock:
        _decl_cache.clear()
        _kept_parts.clear()
    clear_shared()


#: How long a directory's listing (and the files' modification times) is trusted.
_SCAN_TTL = 1.0
_scans: dict[Path, tuple[float, list[_Sibling]]] = {}


#: Sibling files larger than this are left out of the package's facts.
_MAX_SIBLING_BYTES = 8 << 20


def _scan(directory: Path) -> list[_Sibling]:
    """The ``.go`` files of a directory, with their markers (cached for :data:`_SCAN_TTL` seconds)."""
    now = time.monotonic()
    cached_scan = _scans.get(directory)
    if cached_scan is not None and now - cached_scan[0] < _SCAN_TTL:
        return cached_scan[1]
    found: list[_Sibling] = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        entries = []
    for entry in entries:
        name = entry.name
        if not name.endswith(".go") or name.startswith((".", "_")):
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        if not S_ISREG(stat.st_mode) or stat.st_size > _MAX_SIBLING_BYTES:
            continue  # a FIFO or device would block the read; a huge generated file is not worth it
        path = directory / name
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _file_cache.get(path)
        if cached is not None and cached[0].stamp == stamp:
            found.append(cached[0])
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        sibling = _marked(path, stamp, data)
        _remember_file(path, sibling, None)
        found.append(sibling)
    _scans[directory] = (now, found)
    return found


def _remember_file(path: Path, sibling: _Sibling, summary: FileSummary | None) -> None:
    _file_cache[path] = (sibling, summary)
    _file_cache.move_to_end(path)
    if len(_file_cache) > _FILE_CACHE_SIZE:
        _file_cache.popitem(last=False)


def forget(path: str | Path | None, source: bytes) -> None:
    """Drop what was learnt from this version of a file and its package (the editor closed it)."""
    with _lock:
        _own_cache.pop(source, None)
        _own_paths.pop(source, None)
        if path is not None:
            for text in [t for t, p in _own_paths.items() if p == Path(path)]:
                _own_cache.pop(text, None)
                del _own_paths[text]
            with _decl_lock:
                _kept_parts.pop(Path(path), None)
                _decl_cache.discard_owned(Path(path))
            directory = Path(path).parent
            for key in [k for k in _package_cache if k[0] == directory]:
                del _package_cache[key]
            _last_facts.pop(directory, None)
            _mentions.pop(Path(path), None)


def invalidate(path: str | Path) -> None:
    """Forget what is known of a file or directory (call it when the editor saves or deletes a file)."""
    target = Path(path)
    with _lock:
        _scans.pop(target, None)
        _scans.pop(target.parent, None)
        _file_cache.pop(target, None)


def _with_overlay(directory: Path, on_disk: list[_Sibling], own: Path) -> list[_Sibling]:
    """The directory's files, those with a newer text in :mod:`.overlay` (open in an editor) as
    that text: its stamp, package clause and markers.  ``own``, the file being analysed, is left
    as it is (the caller leaves it out)."""
    newer = overlay.in_directory(directory)
    if not newer:
        return on_disk
    by_path = {s.path: s for s in on_disk}
    for path, data, stamp in newer:
        if path == own or not path.name.endswith(".go") or path.name.startswith((".", "_")):
            continue
        cached = _file_cache.get(path)
        if cached is not None and cached[0].stamp == stamp:
            by_path[path] = cached[0]
            continue
        by_path[path] = _marked(path, stamp, data)
        _remember_file(path, by_path[path], None)
    return sorted(by_path.values(), key=lambda s: s.path.name)


def _marked(path: Path, stamp: tuple[int, int], data: bytes) -> _Sibling:
    """A file's record: its package (none for a file a build constraint leaves out) and whether it is a web file."""
    match = _PACKAGE_CLAUSE.search(data)
    ignored = _IGNORED_BUILD.search(data[:4096]) is not None
    return _Sibling(
        path,
        stamp,
        match.group(1).decode() if match and not ignored else "",
        any(m in data for m in WEB_IMPORT_MARKERS),
    )


def _siblings(path: Path, include_tests: bool) -> Iterator[_Sibling]:
    for sibling in _with_overlay(path.parent, _scan(path.parent), path):
        name = sibling.path.name
        if name == path.name or not sibling.package:
            continue
        if name.endswith("_test.go") and not include_tests:
            continue
        yield sibling


_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_tokens: OrderedDict[tuple[Path, tuple[int, int]], frozenset[bytes]] = OrderedDict()
_TOKENS_CACHE_SIZE = 1024


def _sibling_tokens(sibling: _Sibling) -> frozenset[bytes]:
    """The identifiers a file mentions (read when first asked for)."""
    key = (sibling.path, sibling.stamp)
    found = _tokens.get(key)
    if found is None:
        try:
            found = frozenset(_IDENTIFIER.findall(overlay.read(sibling.path)))
        except OSError:
            found = frozenset()
        _tokens[key] = found
        if len(_tokens) > _TOKENS_CACHE_SIZE:
            _tokens.popitem(last=False)
    return found


_GO_CALL_TARGETS = """
(go_statement (call_expression function: [(identifier) @target
                                          (selector_expression operand: (identifier) @operand
                                                               field: (field_identifier) @method)
                                          (func_literal) @literal])) @go
"""
_LOCAL_NAMES = """
[(parameter_declaration name: (identifier) @name)
 (variadic_parameter_declaration name: (identifier) @name)
 (short_var_declaration left: (expression_list (identifier) @name))
 (var_spec name: (identifier) @name)]
"""


def _go_statement_matches(root: Node) -> list[tuple[int, dict[str, list[Node]]]]:
    """:data:`_GO_CALL_TARGETS` over the file, in order; only its ``go`` statements are queried
    (a query over a whole large file costs milliseconds even where it finds nothing)."""
    statements = outermost_by_keyword(root, "go", "go_statement")
    if statements is None:
        return cursor(_GO_CALL_TARGETS).matches(root)
    return [match for node in statements for match in cursor(_GO_CALL_TARGETS).matches(node)]


def _worker_candidates(root: Node) -> tuple[set[bytes], set[bytes]]:
    """What in this file the worker facts could change a finding about: the functions that start
    a goroutine literal with an endless loop or a named goroutine (is it started only once?),
    and what runs with ``go f()`` or ``go x.m()`` (is its loop endless?): f, or x's type."""
    sites: set[bytes] = set()
    targets: set[bytes] = set()
    for _, captures in _go_statement_matches(root):
        go = captures["go"][0]
        decl = go.parent
        while decl is not None and decl.type not in ("function_declaration", "method_declaration"):
            decl = decl.parent
        if decl is None:
            continue
        if "literal" in captures:
            literal = captures["literal"][0]
            body = literal.child_by_field_name("body")
            if body is None or b"for {" not in (body.text or b"") or not endless_loops(body, literal):
                continue
        elif "target" in captures:
            name = text(captures["target"][0])
            if name in {text(n) for n in cursor(_LOCAL_NAMES).captures(decl).get("name", [])}:
                continue  # a closure of the function
            targets.add(name.encode())
        else:
            typed = local_types(decl)
            recv = receiver(decl)
            if recv is not None and recv[0] not in ("", "_"):
                typed[recv[0]] = recv[1]
            type_name = typed.get(text(captures["operand"][0]))
            if not type_name:
                continue
            targets.add(type_name.encode())
        name_node = decl.child_by_field_name("name")
        if name_node is not None and name_node.text:
            sites.add(name_node.text)
    for decl in root.named_children:
        # A function that may return a channel its goroutine sends on: its callers tell
        # whether they receive from it (the abandoned fact).
        body = decl.child_by_field_name("body") if decl.type == "function_declaration" else None
        data = body.text or b"" if body is not None else b""
        if b"make(chan" in data and b"go func" in data and b"return" in data:
            name_node = decl.child_by_field_name("name")
            if name_node is not None and name_node.text:
                targets.add(name_node.text)
    return sites, targets


def _worker_summaries(
    own_source: bytes, own_tree: Tree | None, siblings: list[_Sibling], path: Path | None = None
) -> list[FileSummary]:
    """For a package without web code: the files that say something about this file's goroutines.

    Those are the files that declare what this file runs with ``go``, a
    ``Start`` method when it calls one, and the callers of the functions that
    start goroutines (for the startup facts), caller by caller.  A file with
    no goroutine a fact could matter for gets none.
    """
    tree = own_tree if own_tree is not None else parse(own_source)
    sites, targets = _worker_candidates(tree.root_node)
    if b".Start(" in own_source:
        targets.add(b"Start")
    if not sites and not targets:
        return []
    summaries = [_own_summary(own_source, tree, path)]
    chosen: set[Path] = set()
    wanted = sites - {b"main", b"init"}  # run once, whoever mentions them
    for _ in range(4):
        names = wanted | targets
        new = [s for s in siblings if s.path not in chosen and not names.isdisjoint(_sibling_tokens(s))]
        if not new:
            break
        grown = False
        for sibling in new:
            chosen.add(sibling.path)
            summary = _sibling_summary(sibling)
            if summary is None:
                continue
            summaries.append(summary)
            for ref in _materialize(summary).refs:
                if ref.site and ref.name.encode() in wanted:
                    name = ref.site.rsplit(".", 1)[-1].encode()
                    if name not in wanted and name not in (b"main", b"init"):
                        wanted.add(name)
                        grown = True
        if not grown:
            break
    return summaries


def _sibling_summary(sibling: _Sibling) -> FileSummary | None:
    cached = _file_cache.get(sibling.path)
    if cached is not None and cached[0] == sibling and cached[1] is not None:
        return cached[1]
    try:
        data = overlay.read(sibling.path)
    except OSError:
        return None
    summary = _own_cache.get(data)  # the file was analysed with this text
    if summary is None:
        summary = summarize(data, parse_shared(data))
    _disk_summaries[_digest(data)] = summary
    if len(_disk_summaries) > _FILE_CACHE_SIZE:
        _disk_summaries.popitem(last=False)
    _remember_file(sibling.path, sibling, summary)
    return summary


#: The summaries of the files read from disk as siblings, by a digest of their text: a file
#: analysed after the files next to it have read it (the command line) is not summarised again.
_disk_summaries: OrderedDict[bytes, FileSummary] = OrderedDict()


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _own_summary(source: bytes, tree: Tree | None, path: Path | None = None) -> FileSummary:
    found = _own_cache.get(source)
    if found is not None:
        _own_cache.move_to_end(source)
        return found
    # A file with kept parts is being edited: its new text was summarised nowhere else, and
    # hashing all of it on every keystroke would cost what the kept parts save.
    known = None if path in _kept_parts else _disk_summaries.get(_digest(source))
    summary = known or summarize(source, tree, keep=path)
    _own_cache[source] = summary
    _own_paths[source] = path
    if len(_own_cache) > _OWN_CACHE_SIZE:
        oldest, _ = _own_cache.popitem(last=False)
        _own_paths.pop(oldest, None)
    return summary


#: The path each text of :data:`_own_cache` was analysed as (so that closing a file lets go of
#: every version of it there).
_own_paths: dict[bytes, Path | None] = {}


_paths: dict[Path, Path] = {}


def package_facts(path: str | Path, own_source: bytes | None = None, own_tree: Tree | None = None) -> PackageFacts:
    """The facts of the package that the file at ``path`` belongs to, each computed when first read.

    ``own_source`` is the file's current text (read from disk when None) and
    ``own_tree`` its parse tree, when the caller has one.  The other ``.go``
    files of the directory are read from :mod:`.overlay` when it has a newer
    text of them (an editor's unsaved buffer), from disk otherwise; their summaries are cached by
    path, modification time and size, and the combined facts by the set of
    files and the file's own text.  Thread-safe; never raises for unreadable
    files: they are left out.
    """
    path = _paths.setdefault(Path(path), Path(path))  # one object per path: caches keep it per entry
    if len(_paths) > _FILE_CACHE_SIZE:
        _paths.clear()
    if own_source is None:
        try:
            own_source = overlay.read(path)
        except OSError:
            own_source = b""
        own_tree = None
    source: bytes = own_source
    tree = own_tree

    def provide(kind: str) -> Mapping[str, object]:
        with _lock:
            return _provide(kind, path, source, tree)

    return PackageFacts(provider=provide)


def _provide(kind: str, path: Path, own_source: bytes, own_tree: Tree | None) -> Mapping[str, object]:
    """The facts of one source (:mod:`.facts`) for the file at ``path`` (called with the lock held)."""
    match = _PACKAGE_CLAUSE.search(own_source)
    own_package = match.group(1).decode() if match else ""
    words = _mentions.pop(path, None) or Mentions()
    _mentions[path] = words  # the most recent last
    while len(_mentions) > _PACKAGE_CACHE_SIZE:
        _mentions.pop(next(iter(_mentions)))

    def mentions(*candidates: bytes) -> bool:
        """Does the file's text contain one of these? (Asked again after each edit: kept by word.)"""
        return any(words.contains(own_source, word) for word in candidates)

    def siblings() -> list[_Sibling]:
        """The package's other files: read only for a source whose facts the file can use."""
        include_tests = path.name.endswith("_test.go")
        # Asked for each kind of fact: listed once per listing of the directory.
        listing = _scan(path.parent)
        newer = overlay.version()
        key = (path, include_tests, own_package)
        known = _package_siblings.get(key)
        if known is not None and known[0] is listing and known[1] == newer:
            return known[2]
        found = [s for s in _siblings(path, include_tests=include_tests) if s.package == own_package]
        _package_siblings[key] = (listing, newer, found)
        if len(_package_siblings) > _FILE_CACHE_SIZE:
            _package_siblings.pop(next(iter(_package_siblings)))
        return found

    if kind == CALLS:
        own_web = mentions(*WEB_IMPORT_MARKERS)
        return _package_facts(path, own_source, own_tree, own_web, siblings(), mentions)
    if kind == DB_FIELDS_SOURCE:
        if mentions(*_DB_CALLS) and not mentions(*_DB_MARKERS):
            return {"db_fields": frozenset(f for s in siblings() for f in _db_fields_of(s))}
    elif kind == FIELD_USES_SOURCE and mentions(*_CANCEL_CONSTRUCTORS, b"NewTicker"):
        return {"field_uses": frozenset(name for s in siblings() for name in _field_uses_of(s))}
    elif kind == LOCKS_SOURCE and mentions(*_LOCK_MARKERS):
        return {"locks": LockFacts.union(_lock_facts_of(s) for s in siblings())}
    elif kind.startswith(OWN_MENTIONS_SOURCE + ":"):
        word = kind[len(OWN_MENTIONS_SOURCE) + 1 :]
        return {f"mentioned_in_file:{word}": _mentioned_in(own_source, own_tree, word.encode())}
    elif kind.startswith(OWN_MADE_SOURCE + ":"):
        type_name = kind[len(OWN_MADE_SOURCE) + 1 :]
        return {f"made_in_file:{type_name}": _made_in(own_source, own_tree, type_name)}
    elif kind == SIBLINGS_SOURCE:
        return {"siblings": tuple((str(s.path), *s.stamp) for s in siblings())}
    elif kind == ENDLESS_SOURCE and mentions(b"go "):
        own = _endless_of(own_source, own_tree) if b"for {" in own_source else frozenset()
        return {"endless": own.union(*(_endless_of_sibling(s) for s in siblings()))}
    return _EMPTY


def _mentioned_in(source: bytes, tree: Tree | None, word: bytes) -> tuple[tuple[int, int], ...]:
    """The top-level declarations whose text contains ``word``: each one's length and text hash
    (see ``facts.MENTIONED_IN_FILE``)."""
    at = source.find(word)
    if at < 0:
        return ()
    root = (tree if tree is not None else parse_shared(source)).root_node
    found = []
    while at >= 0:
        top = root.descendant_for_byte_range(at, at)
        while top is not None and top.parent is not None and top.parent.parent is not None:
            top = top.parent
        if top is None or top.parent is None:  # between declarations: a comment, nothing to key
            at = source.find(word, at + 1)
            continue
        start, end = top.start_byte, top.end_byte
        found.append((end - start, hash(source[start:end])))
        at = source.find(word, max(end, at + 1))
    return tuple(found)


def _made_in(source: bytes, tree: Tree | None, type_name: str) -> tuple[tuple[int, int, int], ...]:
    """Where the file makes values of ``type_name``: per value, its offset in its top-level
    declaration, and that declaration's length and text hash (see ``facts.MADE_IN_FILE``)."""
    root = (tree if tree is not None else parse_shared(source)).root_node
    found = []
    for made in made_values(root, type_name, source):
        top = made
        while top.parent is not None and top.parent.parent is not None:
            top = top.parent
        start, end = top.start_byte, top.end_byte
        found.append((made.start_byte - start, end - start, hash(source[start:end])))
    return tuple(found)


def _endless_of(source: bytes, tree: Tree | None) -> frozenset[str]:
    """The functions and methods of a file whose body runs a loop that can never end (the
    ``endless`` of its summary, without summarising the rest)."""
    root = (tree if tree is not None else parse_shared(source)).root_node
    found: set[str] = set()
    for decl in root.named_children:
        if decl.type not in ("function_declaration", "method_declaration"):
            continue
        body = decl.child_by_field_name("body")
        if body is None or source.find(b"for {", body.start_byte, body.end_byte) < 0:
            continue
        key = function_key(decl)
        if key is None:
            continue
        decl_key = (decl.end_byte - decl.start_byte, hash(source[decl.start_byte : decl.end_byte]))
        endless = _endless_decls.get(decl_key)
        if endless is None:
            endless = _endless_decls[decl_key] = bool(endless_loops(body, decl))
            if len(_endless_decls) > _TOKENS_CACHE_SIZE:
                _endless_decls.pop(next(iter(_endless_decls)))
        if endless:
            found.add(key)
    return frozenset(found)


#: Whether a function declaration runs a loop that never ends, by its text's length and hash (so
#: that the cache holds no text of a document the editor closed).
_endless_decls: dict[tuple[int, int], bool] = {}


def _endless_of_sibling(sibling: _Sibling) -> frozenset[str]:
    found = _sibling_fact("endless", sibling, lambda data: frozenset(_endless_of(data, None)) if b"for {" in data else frozenset())
    return frozenset(str(name) for name in found)


#: The last list of a file's siblings, by its path, whether tests count and its package; with
#: the directory listing and the :func:`.overlay.version` it was made from.
_package_siblings: dict[tuple[Path, bool, str], tuple[list[_Sibling], int, list[_Sibling]]] = {}

#: What each file's text mentions, by path, kept edit by edit (see :class:`Mentions`).
_mentions: dict[Path, Mentions] = {}

_LOCK_MARKERS = (b"Lock()", b"WaitGroup", b".Wait()")


def _lock_facts_of(sibling: _Sibling) -> LockFacts:
    found = _sibling_fact("locks", sibling, lambda data: frozenset({lock_facts(data)}))
    return next((f for f in found if isinstance(f, LockFacts)), LOCKS_EMPTY)


def _package_facts(
    path: Path,
    own_source: bytes,
    own_tree: Tree | None,
    own_web: bool,
    siblings: list[_Sibling],
    mentions: Callable[..., bool] | None = None,
) -> dict[str, frozenset[Any]]:
    """The facts from the package's summaries (called with the lock held)."""
    web = own_web or any(s.web for s in siblings)
    summaries: list[FileSummary] = []
    if web:
        # Per-request facts need the whole call graph: every file counts.
        summaries.append(_own_summary(own_source, own_tree, path))
        for s in siblings:
            summary = _sibling_summary(s)
            if summary is not None:
                summaries.append(summary)
    elif mentions(b"go ", b".Start(") if mentions is not None else (b"go " in own_source or b".Start(" in own_source):
        # Only goroutines matter, and only the files that tell something about this one's.
        summaries = _worker_summaries(own_source, own_tree, siblings, path)
    if not summaries:
        return _EMPTY
    # Keyed by what the files contain, not by which of them is being analysed: every
    # file of an unchanged package finds the facts its siblings computed.
    key = (path.parent, frozenset(summary_key(summary) for summary in summaries))
    directory = path.parent
    facts = _package_cache.get(key)
    if facts is not None:
        _package_cache.move_to_end(key)
        _remember_facts(directory, _LastFacts(summaries, facts))
        return facts
    last = _last_facts.get(directory)
    same = last.facts_for(summaries) if last is not None else None
    if same is not None:
        facts, remembered = same
    else:
        facts = _combined(summaries)
        remembered = _LastFacts(summaries, facts)
    _remember_facts(directory, remembered)
    _package_cache[key] = facts
    if len(_package_cache) > _PACKAGE_CACHE_SIZE:
        _package_cache.popitem(last=False)
    return facts


def _remember_facts(directory: Path, last: _LastFacts) -> None:
    _last_facts[directory] = last
    _last_facts.move_to_end(directory)
    while len(_last_facts) > _PACKAGE_CACHE_SIZE:
        _last_facts.popitem(last=False)


#: Facts read from one sibling file's text, by fact, path and stamp.
_sibling_facts: OrderedDict[tuple[str, Path, tuple[int, int]], frozenset[object]] = OrderedDict()


def _sibling_fact(name: str, sibling: _Sibling, compute: Callable[[bytes], frozenset[object]]) -> frozenset[object]:
    """``compute`` over the sibling's text, once per version of the file."""
    key = (name, sibling.path, sibling.stamp)
    found = _sibling_facts.get(key)
    if found is None:
        try:
            data = overlay.read(sibling.path)
        except OSError:
            data = b""
        found = _sibling_facts[key] = compute(data)
        if len(_sibling_facts) > _TOKENS_CACHE_SIZE:
            _sibling_facts.popitem(last=False)
    return found


_CANCEL_CONSTRUCTORS = (b"WithCancel", b"WithTimeout", b"WithDeadline")
#: ``.name`` not followed by a plain ``=`` (an assignment to the field); unexported names only.
_FIELD_USE = re.compile(rb"\.([a-z_][A-Za-z0-9_]*)\b(?!\s*=[^=])")


def _field_uses_of(sibling: _Sibling) -> frozenset[str]:
    """The unexported selector names a sibling file mentions other than as an assignment's target."""
    found = _sibling_fact("field-uses", sibling, lambda data: frozenset(m.decode() for m in _FIELD_USE.findall(data)))
    return frozenset(str(name) for name in found)


#: A file that calls these but imports no database library may use a handle declared in a sibling.
_DB_CALLS = (b".Query", b".Begin", b".Prepare", b".Exec")
_DB_MARKERS = tuple(f'"{path}"'.encode() for path in LIBRARIES)
_FIELD_TYPES = "(field_declaration name: (field_identifier) @name type: (_) @type)"


def _db_fields_of(sibling: _Sibling) -> frozenset[tuple[str, str, str]]:
    """The struct fields of a sibling file that have a database library's type."""
    found = _sibling_fact("db-fields", sibling, _db_fields_in)
    return frozenset(f for f in found if isinstance(f, tuple))


def _db_fields_in(data: bytes) -> frozenset[object]:
    if not any(marker in data for marker in _DB_MARKERS):
        return frozenset()
    root = parse_shared(data).root_node
    imports = Imports.from_root(root)
    collected: set[object] = set()
    structs = outermost_by_keyword(root, "struct", "struct_type")  # where fields are declared
    matches = [m for node in structs or () for m in cursor(_FIELD_TYPES).matches(node)]
    for _, captures in matches if structs is not None else cursor(_FIELD_TYPES).matches(root):
        type_node = captures["type"][0]
        if type_node.type == "pointer_type" and type_node.named_child_count == 1:
            type_node = type_node.named_children[0]
        if type_node.type != "qualified_type":
            continue
        library = imports.path_of(text(type_node.child_by_field_name("package")))
        if library in LIBRARIES:
            type_name = text(type_node.child_by_field_name("name"))
            collected.update((text(n), library, type_name) for n in captures["name"])
    return frozenset(collected)
