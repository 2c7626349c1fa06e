"""Functions of the file that return a fresh resource: calling them is an acquisition.

A repository method that returns ``*sql.Rows``, the project's own HTTP client
wrapper that returns ``*http.Response``, a helper that opens and returns an
``*os.File``: whoever calls them owns what they return.  A function counts
when its first result has the resource's type and what it returns is fresh:
the result of a call (``return http.Get(u)``), or a local variable bound from
a call that the function neither releases nor lets a closure keep (a test
helper that registers ``t.Cleanup(func() { f.Close() })`` and returns ``f``
does not count, nor does an accessor returning a field).  A method counts
when every method of the file with its name returns a fresh one (without
types, ``x.Get()`` could be any of them).

:func:`package_returning` asks the same of the package's other files (a
``Do`` method of the project's request type in ``request.go`` returns the
``*http.Response`` that ``api.go`` must close): a function of one of them
counts when it is declared once in the package, a method when no other
method of the package has its name.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from tree_sitter import Node

from golsp_leaks.goanalysis.libraries.frameworks import receiver
from golsp_leaks.goanalysis.libraries.sql import DB, SQL, Acquisition, Handle
from golsp_leaks.goanalysis.names.scopes import VAR, bindings
from golsp_leaks.goanalysis.summaries.context import FileContext
from golsp_leaks.goanalysis.summaries.declared import (
    Sibling,
    declared_names,
    sibling_file,
    text_matches,
)
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import binding, outermost_by_keyword, text
from golsp_leaks.goanalysis.syntax.parse import cursor

_cache: dict[str, frozenset[tuple[str, bool]]] = {}
_cache_source: list[bytes] = []
#: The lines of the source that start with ``func``, shared by the questions about one source.
_lines: list[_FuncLines] = []

_CALLS = "(call_expression function: [(identifier) @name (selector_expression field: (field_identifier) @name)]) @call"


def forget_texts() -> None:
    """Let go of the answers about the texts seen last (a closed document's, perhaps)."""
    _cache.clear()
    _cache_source.clear()
    _lines.clear()
    _answers.clear()


def returning(
    root: Node, source: bytes, kind: str, is_type: Callable[[Node], bool], spelled: bytes
) -> frozenset[tuple[str, bool]]:
    """``(name, is_method)`` of the file's functions whose first result ``is_type``; computed once
    per source text for each ``kind`` (a name for the question, e.g. ``"*http.Response"``).
    ``spelled`` is a word the result type's text must contain (``b"Response"``): a cheap test
    that leaves most functions out before their types are looked at."""
    if not _cache_source or _cache_source[0] is not source:
        _cache.clear()
        _lines.clear()
        _cache_source[:] = [source]
    found = _cache.get(kind)
    if found is None:
        if not _lines:
            _lines.append(_FuncLines(source))
        found = _cache[kind] = _scan(root, source, is_type, spelled, _lines[0])
    return found


def package_returning(
    root: Node,
    source: bytes,
    siblings: Sequence[Sibling],
    named: tuple[str, str],
    spelled: bytes,
) -> frozenset[tuple[str, bool]]:
    """``(name, is_method)`` of the functions of the package's other files whose first result is
    the type ``named`` (``("net/http", "Response")``, pointer or not) and that return a fresh one.

    The file being checked must not declare them (its own are :func:`returning`'s); a name
    counts only when every declaration of it in the package returns a fresh one (the methods
    of the types that implement one interface, say)."""
    if not siblings:
        return frozenset()
    key = (source, _number(siblings), named, "siblings")
    return _answer(key, lambda: _package_returning(source, siblings, named, spelled))


def _package_returning(
    source: bytes, siblings: Sequence[Sibling], named: tuple[str, str], spelled: bytes
) -> frozenset[tuple[str, bool]]:
    fresh: dict[tuple[str, bool], int] = {}
    for sibling in siblings:
        for key, many in _sibling_returning(sibling, named, spelled):
            fresh[key] = fresh.get(key, 0) + many
    if not fresh:
        return frozenset()
    own = _declared_in(source)
    counts = dict.fromkeys(fresh, 0)
    for sibling in siblings:
        for name, receiver_type in declared_names(sibling):
            key = (name, bool(receiver_type))
            if key in counts:
                counts[key] += 1
    return frozenset(key for key, many in fresh.items() if key not in own and many == counts[key])


def package_fresh(
    root: Node,
    source: bytes,
    imports: Imports,
    siblings: Sequence[Sibling],
    named: tuple[str, str],
    spelled: bytes,
) -> frozenset[tuple[str, bool]]:
    """``(name, is_method)`` of the package's functions, in this file (``imports`` are its) or
    the others, that return a fresh value of the type ``named`` (``("database/sql", "Rows")``).
    Computed once per text of the file, set of other files and type."""
    key = (source, _number(siblings), named, "fresh")
    return _answer(key, lambda: _package_fresh(root, source, imports, siblings, named, spelled))


#: Answers about one file's package: ``(source, number of the siblings, type, question)`` -> functions.
_answers: dict[tuple[bytes, int, tuple[str, str], str], frozenset[tuple[str, bool]]] = {}
#: A few versions of a file's answers (each holds the file's text alive): the editor's
#: latest and the ones an undo goes back to.
_ANSWERS_SIZE = 16


def _answer(
    key: tuple[bytes, int, tuple[str, str], str], compute: Callable[[], frozenset[tuple[str, bool]]]
) -> frozenset[tuple[str, bool]]:
    """The answer kept under ``key``, computed (and the oldest answer let go) when there is none."""
    cached = _answers.get(key)
    if cached is None:
        cached = _answers[key] = compute()
        if len(_answers) > _ANSWERS_SIZE:
            _answers.pop(next(iter(_answers)))
    return cached


#: A number for each list of sibling files asked about (never reused), and the last list asked
#: about with its number: each declaration of a file asks with the same list, which has
#: hundreds of entries in a large package (hashing it for every question cost more than the answer).
_numbers: dict[tuple[Sibling, ...], int] = {}
_last_number: list[tuple[Sequence[Sibling], int]] = []
_NUMBERS_SIZE = 256
_counter = itertools.count()


def _number(siblings: Sequence[Sibling]) -> int:
    if isinstance(siblings, tuple) and _last_number and _last_number[0][0] is siblings:
        return _last_number[0][1]
    listed = tuple(siblings)
    found = _numbers.get(listed)
    if found is None:
        if len(_numbers) >= _NUMBERS_SIZE:
            _numbers.clear()
        found = _numbers[listed] = next(_counter)
    _last_number[:] = [(siblings, found)]
    return found


def _package_fresh(
    root: Node,
    source: bytes,
    imports: Imports,
    siblings: Sequence[Sibling],
    named: tuple[str, str],
    spelled: bytes,
) -> frozenset[tuple[str, bool]]:
    own = returning(root, source, "/".join(named), lambda t: _is_named(t, imports, named), spelled)
    others = package_returning(root, source, siblings, named, spelled)
    found = set(own | others)
    # Methods of interfaces: ``Query(q string, args ...any) (*sql.Rows, error)`` of the project's
    # own querier hands its callers fresh rows, whatever implements it.
    specs = _interface_specs(root, source, imports, named, spelled)
    for sibling in siblings:
        file = sibling_file(sibling) if text_matches(sibling, _interface_pattern(spelled), spelled) else None
        if file is not None:
            for name, (count, matching) in _interface_specs(file.root, file.source, file.imports, named, spelled).items():
                total = specs.get(name, (0, 0))
                specs[name] = (total[0] + count, total[1] + matching)
    if not specs:
        return frozenset(found)
    own_declared = _declared_in(source)
    sibling_declared = {(n, bool(r)) for sibling in siblings for n, r in declared_names(sibling)}
    for name, (count, matching) in specs.items():
        key = (name, True)
        if matching != count:
            found.discard(key)
        elif key in own_declared:
            pass  # the file's own methods decide
        elif key not in sibling_declared or key in others:
            found.add(key)
    return frozenset(found)


def _declared_in(source: bytes) -> set[tuple[str, bool]]:
    """``(name, is_method)`` of the functions and methods the file declares."""
    return {(m.group(2).decode(), m.group(1) is not None) for m in _FUNC.finditer(source)}


_SPECS = "(method_elem name: (field_identifier) @name) @spec"


def _interface_specs(
    root: Node, source: bytes, imports: Imports, named: tuple[str, str], spelled: bytes
) -> dict[str, tuple[int, int]]:
    """Interface methods declared in the file: name -> (how many, how many of them return ``named`` first)."""
    if spelled not in source or b"interface" not in source:
        return {}
    found: dict[str, tuple[int, int]] = {}
    # Method specs are in interface types only: those are queried, not the whole file.
    interfaces = outermost_by_keyword(root, "interface", "interface_type")
    specs = [m for node in interfaces or () for m in cursor(_SPECS).matches(node)]
    for _, captures in specs if interfaces is not None else cursor(_SPECS).matches(root):
        name = text(captures["name"][0])
        first = _first_result(captures["spec"][0])
        total = found.get(name, (0, 0))
        found[name] = (total[0] + 1, total[1] + (1 if _is_named(first, imports, named) else 0))
    return found


def _interface_pattern(spelled: bytes) -> re.Pattern[bytes]:
    """A line of an interface's method list that mentions ``spelled``: ``\tQuery(...) (*sql.Rows, error)``."""
    return re.compile(rb"^\s+[A-Za-z_][A-Za-z0-9_]*\([^\n]*\b" + re.escape(spelled) + rb"\b", re.MULTILINE)


_sibling_cache: dict[tuple[Sibling, tuple[str, str]], frozenset[tuple[tuple[str, bool], int]]] = {}
_SIBLING_CACHE_SIZE = 4096


def _sibling_returning(
    sibling: Sibling, named: tuple[str, str], spelled: bytes
) -> frozenset[tuple[tuple[str, bool], int]]:
    """The sibling's functions that return a fresh ``named``, each with how many times the file declares it."""
    key = (sibling, named)
    found = _sibling_cache.get(key)
    if found is None:
        found = frozenset()
        signature = re.compile(rb"^func [^\n]*\b" + re.escape(spelled) + rb"\b", re.MULTILINE)
        if text_matches(sibling, signature, spelled):
            file = sibling_file(sibling)
            if file is not None:
                imports = Imports.from_root(file.root)
                lines = _FuncLines(file.source)
                keys = _scan(file.root, file.source, lambda t: _is_named(t, imports, named), spelled, lines)
                declared = [key for key in lines.keys if key is not None]
                found = frozenset((k, declared.count(k)) for k in keys)
        if len(_sibling_cache) > _SIBLING_CACHE_SIZE:
            _sibling_cache.clear()
        _sibling_cache[key] = found
    return found


def _is_named(node: Node | None, imports: Imports, named: tuple[str, str]) -> bool:
    """Is ``node`` the type ``pkg.Name`` or ``*pkg.Name`` of the import path ``named[0]``?"""
    while node is not None and node.type in ("pointer_type", "parenthesized_type") and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None:
        return False
    if node.type == "qualified_type":
        package = text(node.child_by_field_name("package"))
        return text(node.child_by_field_name("name")) == named[1] and imports.path_of(package) == named[0]
    if node.type == "type_identifier":
        return text(node) == named[1] and imports.is_dot_imported(named[0])
    return False


#: ``func name`` and ``func (r T) name`` at the start of a line, as gofmt writes them.
_FUNC = re.compile(rb"^func (\([^)\n]*\) )?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


class _FuncLines:
    """The lines of a source that start with ``func``: what :func:`_scan` asks of them for every
    type, read once per source (the file being typed is scanned for several types per keystroke).

    ``joined`` is the lines joined by newlines, where a type's name is searched once for all of
    them; ``ends[i]`` is where line ``i``'s ``func name`` ends in ``joined`` (-1: no function header)."""

    __slots__ = ("ends", "joined", "keys", "lines", "starts")

    def __init__(self, source: bytes) -> None:
        self.lines = list(_func_lines(source))
        self.joined = b"\n".join(line for _, line in self.lines)
        self.starts: list[int] = []
        self.keys: list[tuple[str, bool] | None] = []
        self.ends: list[int] = []
        at = 0
        for _, line in self.lines:
            self.starts.append(at)
            match = _FUNC.match(line)
            self.keys.append((match.group(2).decode(), match.group(1) is not None) if match else None)
            self.ends.append(at + match.end() if match else -1)
            at += len(line) + 1


def _scan(
    root: Node,
    source: bytes,
    is_type: Callable[[Node], bool],
    spelled: bytes,
    lines: _FuncLines,
) -> frozenset[tuple[str, bool]]:
    # Only functions whose signature line mentions the type are candidates (cheap: this runs
    # again on every keystroke); the others are looked at only when there are candidates.
    word = re.compile(rb"\b" + re.escape(spelled) + rb"\b")
    mentions = [m.start() for m in word.finditer(lines.joined)]
    if not mentions:
        return frozenset()
    declared: dict[tuple[str, bool], list[int]] = {}
    for (start, _), key in zip(lines.lines, lines.keys, strict=True):
        if key is not None:
            declared.setdefault(key, []).append(start)
    candidates: list[tuple[str, bool]] = []
    last = -1
    for place in mentions:
        index = bisect.bisect_right(lines.starts, place) - 1
        key = lines.keys[index]
        if index != last and key is not None and place >= lines.ends[index]:
            candidates.append(key)  # once per line, in line order
            last = index
    verdicts: dict[tuple[str, bool], bool] = {}

    def fresh(key: tuple[str, bool]) -> bool:
        """Does the function (or the method of that unique name) return a fresh resource?"""
        if key not in verdicts:
            offsets = declared.get(key, [])
            verdicts[key] = False  # while deciding: a function returning its own result is not fresh
            decls = [_declaration_at(root, offset) for offset in offsets]
            verdicts[key] = bool(decls) and all(
                decl is not None
                and (first := _first_result(decl)) is not None
                and is_type(first)
                and _returns_fresh(decl, source, declared, fresh, key)
                for decl in decls
            )
        return verdicts[key]

    return frozenset(key for key in candidates if fresh(key))


def _func_lines(source: bytes) -> Iterator[tuple[int, bytes]]:
    """The lines that start with ``func ``, with their offsets."""
    start = 0 if source.startswith(b"func ") else source.find(b"\nfunc ") + 1
    while start > 0 or source.startswith(b"func "):
        end = source.find(b"\n", start)
        yield start, source[start : end if end >= 0 else len(source)]
        if end < 0:
            return
        start = source.find(b"\nfunc ", end) + 1
        if start == 0:
            return


def _declaration_at(root: Node, offset: int) -> Node | None:
    node = root.descendant_for_byte_range(offset, offset)
    while node is not None and node.type not in ("function_declaration", "method_declaration"):
        node = node.parent
    return node


_RELEASES = frozenset({"Close", "Stop", "Commit", "Rollback"})


def _returns_fresh(
    func: Node,
    source: bytes,
    declared: dict[tuple[str, bool], list[int]],
    fresh: Callable[[tuple[str, bool]], bool],
    key: tuple[str, bool] = ("", False),
) -> bool:
    """Is what every ``return`` of ``func`` gives as its first result nil or freshly acquired?

    A call of another function of the file counts when that one returns a fresh resource.  A
    method ``Do`` that returns ``client.Do(req)`` calls the library's ``Do``, not itself, unless
    it calls it on its own receiver."""
    body = func.child_by_field_name("body")
    if body is None:
        return False
    recv = receiver(func)

    def fresh_call(call: Node) -> bool:
        function = call.child_by_field_name("function")
        operand = function.child_by_field_name("operand") if function is not None else None
        if (
            key[1]
            and function is not None
            and function.type == "selector_expression"
            and text(function.child_by_field_name("field")) == key[0]
            and operand is not None
            and (recv is None or text(operand) != recv[0])
        ):
            return True
        return _fresh_call(call, declared, fresh)

    resolved = bindings(func, source)
    found = False
    for ret in _returns(body):
        values = ret.named_children[0] if ret.named_child_count else None
        first = values.named_children[0] if values is not None and values.named_child_count else None
        if first is None:
            return False  # a bare return of named results: not followed
        if first.type == "nil":
            continue
        if first.type == "call_expression":
            if not fresh_call(first):
                return False
            found = True
            continue
        declaration = resolved.of(first) if first.type == "identifier" else None
        if declaration is None or declaration.kind != VAR or declaration.package_level:
            return False
        call = _bound_from_call(declaration.node)
        if call is None or not fresh_call(call):
            return False
        if not _kept_only_to_return(resolved.uses_of(declaration, body)):
            return False
        found = True
    return found


def _fresh_call(
    call: Node, declared: dict[tuple[str, bool], list[int]], fresh: Callable[[tuple[str, bool]], bool]
) -> bool:
    """A call of a library (fresh, as far as the file can tell) or of a function of the file that returns fresh."""
    function = call.child_by_field_name("function")
    if function is None:
        return False
    if function.type == "identifier":
        key = (text(function), False)
    elif function.type == "selector_expression":
        key = (text(function.child_by_field_name("field")), True)
        operand = function.child_by_field_name("operand")
        if key[0] in _PARSED and operand is not None and operand.type == "identifier":
            return False
    else:
        return True
    return key not in declared or fresh(key)


#: Library functions that parse a value out of a reader the caller already holds
#: (``http.ReadResponse(bufio.NewReader(strings.NewReader(cached)), req)``): nothing new to close.
_PARSED = frozenset({"ReadResponse"})


def _returns(body: Node) -> list[Node]:
    found: list[Node] = []
    stack = [body]
    while stack:
        node = stack.pop()
        if node.type == "func_literal":
            continue
        if node.type == "return_statement":
            found.append(node)
            continue
        stack.extend(node.named_children)
    return found


def _bound_from_call(ident: Node) -> Node | None:
    """The call whose results the declaration of ``ident`` binds (``resp, err := c.Do(req)``)."""
    holder = ident.parent if ident.parent is not None and ident.parent.type == "var_spec" else None
    if holder is None and ident.parent is not None:
        holder = ident.parent.parent
    if holder is None or holder.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
        return None
    right = holder.child_by_field_name("right") or holder.child_by_field_name("value")
    if right is None or right.named_child_count != 1 or right.named_children[0].type != "call_expression":
        return None
    return right.named_children[0]


def _kept_only_to_return(uses: list[Node]) -> bool:
    """No use releases the value or lets a closure keep it."""
    for use in uses:
        current = use.parent
        while current is not None and current.type not in ("function_declaration", "method_declaration"):
            if current.type == "func_literal":
                return False
            current = current.parent
        node = use
        while node.parent is not None and node.parent.type == "selector_expression":
            node = node.parent
            if text(node.child_by_field_name("field")) in _RELEASES:
                return False
    return True


def _first_result(func: Node) -> Node | None:
    result = func.child_by_field_name("result")
    if result is None:
        return None
    if result.type != "parameter_list":
        return result
    first = next((p for p in result.named_children if p.type == "parameter_declaration"), None)
    return first.child_by_field_name("type") if first is not None else None


def calls_of(decl: Node, functions: frozenset[tuple[str, bool]]) -> Iterator[tuple[Node, str]]:
    """The calls in ``decl`` of those functions (``f(...)``) and methods (``x.m(...)``), with the name called."""
    if not functions:
        return
    for _, captures in cursor(_CALLS).matches(decl):
        name_node = captures["name"][0]
        is_method = name_node.type == "field_identifier"
        name = text(name_node)
        if (name, is_method) in functions:
            yield captures["call"][0], name


def called_in(decl_text: bytes, functions: frozenset[tuple[str, bool]]) -> bool:
    """Does the declaration's text call one of those functions (a cheap test before the query)?"""
    return any(f"{name}(".encode() in decl_text for name, _ in functions)


#: Rows types a function of the project may return: ``(import path, type)``.
_ROWS_TYPES = (("database/sql", "Rows"), ("github.com/jmoiron/sqlx", "Rows"))


def own_rows_functions(ctx: FileContext) -> frozenset[tuple[str, bool]]:
    """The package's functions (and methods of a name all of whose declarations do) that return
    fresh ``*sql.Rows`` or ``*sqlx.Rows``: a repository method, a dialect's query."""
    found: frozenset[tuple[str, bool]] = frozenset()
    for named in _ROWS_TYPES:
        found |= package_fresh(ctx.root, ctx.source, ctx.imports, ctx.package.siblings, named, b"Rows")
    return found


def own_rows_calls(decl: Node, ctx: FileContext) -> Iterable[Acquisition]:
    """Calls in ``decl`` of those functions: rows acquired here, as if by a query of database/sql.

    Only calls whose two results are bound (``rows, err := r.activeRows(ctx)``): without types, a
    call of another ``Query`` (``r.URL.Query()``) has one."""
    for call, name in calls_of(decl, own_rows_functions(ctx)):
        bound = binding(call)
        if bound is not None and len(bound.targets) == 2:
            yield Acquisition(call, name, Handle(SQL, DB, True), SQL, 2)
