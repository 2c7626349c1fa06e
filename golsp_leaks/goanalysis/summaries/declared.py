"""The functions and methods declared in the package's other files.

A file's helpers often live next door: ``closeQuietly`` in ``util.go``, the
client wrapper in ``client.go``, the request type's ``Do`` in ``request.go``.
:class:`PackageFacts` lists the package's other files (path, modification time
and size: ``siblings``); this module finds a declaration among them by name.
Each file's declared names are read from its text, as gofmt lays out
``func name`` and ``func (r *T) name`` (cheap, once per version of the file),
and only a file that declares the name asked for is parsed (its tree is kept
while the file does not change).  Nothing here raises for a file that cannot
be read: it declares nothing.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node, Tree

from golsp_leaks.goanalysis.libraries.frameworks import base_type_name
from golsp_leaks.goanalysis.summaries import overlay
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.parse import parse_shared

#: ``(path, modification time in ns, size)`` of one of the package's other files.
Sibling = tuple[str, int, int]

#: ``func name`` and ``func (r *T) name`` at the start of a line; group 1 the receiver's type.
_FUNC = re.compile(rb"^func (?:\(\s*(?:[A-Za-z_][A-Za-z0-9_]*\s+)?\*?\s*([A-Za-z_][A-Za-z0-9_]*)[^)\n]*\) )?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


@dataclass(frozen=True)
class SiblingFile:
    """One other file of the package, parsed."""

    path: str
    source: bytes
    tree: Tree

    @property
    def root(self) -> Node:
        return self.tree.root_node

    @property
    def imports(self) -> Imports:
        return _imports_of(self)


@dataclass(frozen=True)
class Declared:
    """A function or method declaration of another file of the package."""

    decl: Node
    file: SiblingFile

    @property
    def source(self) -> bytes:
        return self.file.source


_lock = threading.RLock()
#: sibling -> ``(name, receiver type or "")`` of what it declares
_names: OrderedDict[Sibling, frozenset[tuple[str, str]]] = OrderedDict()
_files: OrderedDict[Sibling, SiblingFile | None] = OrderedDict()
_imports: dict[int, Imports] = {}
_NAMES_SIZE = 4096
_FILES_SIZE = 64


def _read(sibling: Sibling) -> bytes:
    try:
        return overlay.read(Path(sibling[0]))
    except OSError:
        return b""


def declared_names(sibling: Sibling) -> frozenset[tuple[str, str]]:
    """``(name, receiver type)`` of the functions (receiver type "") and methods the file declares."""
    with _lock:
        found = _names.get(sibling)
        if found is None:
            found = frozenset(
                (m.group(2).decode(), (m.group(1) or b"").decode()) for m in _FUNC.finditer(_read(sibling))
            )
            _names[sibling] = found
            if len(_names) > _NAMES_SIZE:
                _names.popitem(last=False)
        return found


#: A method's header at the start of a line, and the method's name.
_METHOD_HEADER = re.compile(rb"func[ \t]*\([^)\n]*\)[ \t]*([A-Za-z_]\w*)")
_GO_WORD = re.compile(rb"\bgo\b")
_WAIT = re.compile(rb"<-|\brange\b")


def worker_methods_in(data: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """The names of the methods of a file's text that may start a goroutine (their text has the
    word ``go``), and of those that may wait on a channel (a receive or a ``range``).

    A method's text is taken from its header at the start of a line to the next ``func`` there:
    in gofmt'ed code, all of it (and perhaps more).  No parse."""
    starts = [0] if data.startswith(b"func") else []
    i = data.find(b"\nfunc")
    while i >= 0:
        starts.append(i + 1)
        i = data.find(b"\nfunc", i + 5)
    going: set[str] = set()
    waiting: set[str] = set()
    for k, start in enumerate(starts):
        header = _METHOD_HEADER.match(data, start)
        if header is None:
            continue
        end = starts[k + 1] if k + 1 < len(starts) else len(data)
        name = header.group(1).decode()
        if _GO_WORD.search(data, header.end(), end):
            going.add(name)
        if _WAIT.search(data, header.end(), end):
            waiting.add(name)
    return frozenset(going), frozenset(waiting)


_workers: OrderedDict[Sibling, tuple[frozenset[str], frozenset[str]]] = OrderedDict()


def worker_methods(sibling: Sibling) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`worker_methods_in` of a sibling file, once per version of it."""
    with _lock:
        found = _workers.get(sibling)
        if found is None:
            found = _workers[sibling] = worker_methods_in(_read(sibling))
            if len(_workers) > _NAMES_SIZE:
                _workers.popitem(last=False)
        return found


_matches: OrderedDict[tuple[Sibling, bytes], bool] = OrderedDict()


def text_matches(sibling: Sibling, pattern: re.Pattern[bytes], required: bytes = b"") -> bool:
    """Does the file's text match ``pattern`` (a cheap test before parsing it; once per version)?

    ``required`` is text that every match contains: a file without it is not searched (most
    files of a package do not mention the type a question is about)."""
    key = (sibling, pattern.pattern)
    with _lock:
        found = _matches.get(key)
        if found is None:
            data = _read(sibling)
            found = _matches[key] = required in data and pattern.search(data) is not None
            if len(_matches) > _NAMES_SIZE:
                _matches.popitem(last=False)
        return found


def sibling_file(sibling: Sibling) -> SiblingFile | None:
    """The file parsed (None when it cannot be read)."""
    with _lock:
        if sibling in _files:
            _files.move_to_end(sibling)
            return _files[sibling]
        data = _read(sibling)
        found = SiblingFile(sibling[0], data, parse_shared(data)) if data else None
        _files[sibling] = found
        if len(_files) > _FILES_SIZE:
            _files.popitem(last=False)
            _imports.clear()
        return found


def _imports_of(file: SiblingFile) -> Imports:
    with _lock:
        key = id(file.tree)
        found = _imports.get(key)
        if found is None:
            found = _imports[key] = Imports.from_root(file.root)
        return found


def declarations(siblings: Sequence[Sibling], name: str, receiver_type: str | None = None) -> list[Declared]:
    """The declarations of ``name`` in the other files: functions when ``receiver_type`` is None,
    methods of that type when it is a name, methods of any type when it is ``"*"``."""
    found: list[Declared] = []
    for sibling in siblings:
        names = declared_names(sibling)
        if not any(n == name and _receiver_matches(r, receiver_type) for n, r in names):
            continue
        file = sibling_file(sibling)
        if file is None:
            continue
        for decl in _top_declarations(file.root, name):
            if _receiver_matches(_receiver_type(decl), receiver_type):
                found.append(Declared(decl, file))
    return found


def _receiver_matches(declared: str, wanted: str | None) -> bool:
    if wanted is None:
        return declared == ""
    if wanted == "*":
        return declared != ""
    return declared == wanted


def _receiver_type(decl: Node) -> str:
    if decl.type != "method_declaration":
        return ""
    params = decl.child_by_field_name("receiver")
    for param in params.named_children if params is not None else []:
        if param.type == "parameter_declaration":
            return base_type_name(param.child_by_field_name("type"))
    return ""


def _top_declarations(root: Node, name: str) -> Iterator[Node]:
    for decl in root.named_children:
        if decl.type in ("function_declaration", "method_declaration"):
            name_node = decl.child_by_field_name("name")
            if name_node is not None and name_node.text == name.encode():
                yield decl
