"""Library models of readers whose ``Close`` frees no operating-system resource.

A zip entry's reader (``(*zip.File).Open``) reads through the archive's own
reader: its ``Close`` frees a decompressor, and the archive's descriptor is
closed once, by whoever opened the archive.  A ``multipart.Part``
(``(*multipart.Reader).NextPart``) is a window on the request body: its
``Close`` drains it.  Neither holds a descriptor, a connection or a goroutine,
so holding many of them until a function returns costs memory, not scarce
resources.

A response body read to its end (:func:`reads_to_end`) has released its
connection without ``Close``: at EOF the transport takes it back for the next
request, and a read error closes it.
"""

from __future__ import annotations

from tree_sitter import Node

from golsp_leaks.goanalysis.names.scopes import Bindings, Declaration, occurrences
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import bound_value, text

ZIP = "archive/zip"
MULTIPART = "mime/multipart"

#: ``package path -> (constructors of the container, its type names)``.
_ZIP_READERS = (frozenset({"OpenReader", "NewReader"}), frozenset({"Reader", "ReadCloser"}))
_MULTIPART_READERS = (frozenset({"NewReader"}), frozenset({"Reader"}))
#: ``(*http.Request).MultipartReader`` gives a ``*multipart.Reader`` too.
_REQUEST_MULTIPART = "MultipartReader"


def holds_no_os_resource(value: Node | None, resolved: Bindings, imports: Imports) -> bool:
    """Is ``value`` -- the call whose result a deferred ``Close`` releases -- a zip entry opened
    from a zip archive's ``File`` list, or the next part of a multipart reader?"""
    if value is None or value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    method = text(function.child_by_field_name("field"))
    receiver = function.child_by_field_name("operand")
    if receiver is None or receiver.type != "identifier":
        return False
    declaration = resolved.of(receiver)
    if declaration is None:
        return False
    if method == "Open":
        ranged = _ranged_over(declaration)
        if ranged is None or ranged.type != "selector_expression":
            return False
        if text(ranged.child_by_field_name("field")) != "File":
            return False
        archive = ranged.child_by_field_name("operand")
        if archive is None or archive.type != "identifier":
            return False
        holder = resolved.of(archive)
        return holder is not None and _made_by(holder, imports, ZIP, _ZIP_READERS)
    if method in ("NextPart", "NextRawPart"):
        return _made_by(declaration, imports, MULTIPART, _MULTIPART_READERS, request_method=_REQUEST_MULTIPART)
    return False


def _ranged_over(declaration: Declaration) -> Node | None:
    """What ``for _, v := range x`` ranges over, when ``declaration`` is its ``v``."""
    targets = declaration.node.parent
    clause = targets.parent if targets is not None else None
    if clause is None or clause.type != "range_clause" or clause.child_by_field_name("left") != targets:
        return None
    return clause.child_by_field_name("right")


def _made_by(
    declaration: Declaration,
    imports: Imports,
    path: str,
    model: tuple[frozenset[str], frozenset[str]],
    *,
    request_method: str = "",
) -> bool:
    """Is the variable declared with the package's type, or bound to one of its constructors' results
    (or, with ``request_method``, to ``r.<request_method>()``)?"""
    constructors, types = model
    names = imports.names_for(path)
    node = declaration.node
    parent = node.parent
    if parent is None:
        return False
    if parent.type in ("parameter_declaration", "var_spec"):
        kind = parent.child_by_field_name("type")
        if kind is not None and kind.type == "pointer_type" and kind.named_child_count == 1:
            kind = kind.named_children[0]
        if kind is not None and kind.type == "qualified_type":
            return text(kind.child_by_field_name("package")) in names and text(kind.child_by_field_name("name")) in types
        if parent.type == "parameter_declaration":
            return False
    value = bound_value(node)
    if value is None or value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field = text(function.child_by_field_name("field"))
    if operand is not None and operand.type == "identifier" and text(operand) in names:
        return field in constructors
    args = value.child_by_field_name("arguments")
    return bool(request_method) and field == request_method and args is not None and not args.named_children


#: Reading the body to its end (``io.ReadAll(resp.Body)``, ``io.Copy(io.Discard, resp.Body)``)
#: releases the connection: at EOF the transport takes it back for reuse, and on a read
#: error it closes it.  A limited read (``io.LimitReader``) or a decoder need not reach EOF.
_READ_ALL = (("io", "ReadAll"), ("io/ioutil", "ReadAll"))
_DISCARD = (("io", "Discard"), ("io/ioutil", "Discard"))
#: Readers that hand on every byte of their first argument and its EOF: reading one to its
#: end reads the body to its end (``io.ReadAll(io.TeeReader(resp.Body, &log))``).  Not
#: ``io.LimitReader``, which stops after n bytes whatever is left.
_PASS_THROUGH = (("io", "TeeReader"), ("bufio", "NewReader"), ("bufio", "NewReaderSize"))


def reads_to_end(func: Node, variable: Declaration, source: bytes, imports: Imports) -> list[Node]:
    """The calls of ``func`` that read ``resp.Body`` to its end (``resp``: ``variable``, resolved with
    scopes): ``io.ReadAll(resp.Body)`` (or ``ioutil.ReadAll``) and ``io.Copy(io.Discard, resp.Body)``,
    also through readers that pass the whole body on (``io.TeeReader``, ``bufio.NewReader``)."""
    found = []
    for mention in occurrences(variable, func, source):
        body = mention.parent
        if body is None or body.type != "selector_expression" or body.child_by_field_name("operand") != mention:
            continue
        if text(body.child_by_field_name("field")) != "Body":
            continue
        reader = _through_pass_through(body, imports)
        args = reader.parent
        call = args.parent if args is not None else None
        if args is None or call is None or args.type != "argument_list" or call.type != "call_expression":
            continue
        values = args.named_children
        if (values == [reader] and _package_function(call.child_by_field_name("function"), _READ_ALL, imports)) or (
            len(values) == 2
            and values[1] == reader
            and _package_function(call.child_by_field_name("function"), (("io", "Copy"),), imports)
            and _package_function(values[0], _DISCARD, imports)
        ):
            found.append(call)
    return found


def _through_pass_through(reader: Node, imports: Imports) -> Node:
    """The outermost of the pass-through readers wrapped around ``reader`` as their first
    argument (``bufio.NewReader(io.TeeReader(resp.Body, w))``), or ``reader`` itself."""
    while True:
        args = reader.parent
        call = args.parent if args is not None else None
        if (
            args is None
            or call is None
            or args.type != "argument_list"
            or call.type != "call_expression"
            or not args.named_children
            or args.named_children[0] != reader
            or not _package_function(call.child_by_field_name("function"), _PASS_THROUGH, imports)
        ):
            return reader
        reader = call


def _package_function(node: Node | None, candidates: tuple[tuple[str, str], ...], imports: Imports) -> bool:
    """Is ``node`` ``pkg.Name`` for one of the ``(import path, name)`` candidates, by the file's imports?"""
    if node is None or node.type != "selector_expression":
        return False
    operand = node.child_by_field_name("operand")
    if operand is None or operand.type != "identifier":
        return False
    field = text(node.child_by_field_name("field"))
    return any(field == wanted and text(operand) in imports.names_for(path) for path, wanted in candidates)

