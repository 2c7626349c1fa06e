"""Library models of readers: what holds no OS resource, what reads a body to its end; and interface results."""

from __future__ import annotations

import pytest

from golsp_leaks.goanalysis.libraries.streams import holds_no_os_resource, reads_to_end
from golsp_leaks.goanalysis.names.interfaces import interface_method_results
from golsp_leaks.goanalysis.names.scopes import bindings, declaration_of
from golsp_leaks.goanalysis.syntax.imports import Imports
from golsp_leaks.goanalysis.syntax.nodes import bound_value, text, walk
from golsp_leaks.goanalysis.syntax.parse import parse

HEADER = 'package p\n\nimport (\n\t"archive/zip"\n\t"io"\n\t"mime/multipart"\n\t"net/http"\n\t"os"\n)\n\n'

HOLDERS = [
    ("zip entry of OpenReader", "a, _ := zip.OpenReader(p)\n\tfor _, f := range a.File {\n\t\tx, _ := f.Open()\n\t\t_ = x\n\t}", True),
    ("zip entry of a *zip.Reader parameter", "for _, f := range z.File {\n\t\tx, _ := f.Open()\n\t\t_ = x\n\t}", True),
    ("multipart part of a request", "mr, _ := r.MultipartReader()\n\tx, _ := mr.NextPart()\n\t_ = x", True),
    ("multipart part of NewReader", "mr := multipart.NewReader(body, b)\n\tx, _ := mr.NextPart()\n\t_ = x", True),
    ("a file", "x, _ := os.Open(p)\n\t_ = x", False),
    ("Open of something else ranged over", "for _, f := range dirs {\n\t\tx, _ := f.Open()\n\t\t_ = x\n\t}", False),
    ("File of a non-zip value", "a := load(p)\n\tfor _, f := range a.File {\n\t\tx, _ := f.Open()\n\t\t_ = x\n\t}", False),
]


@pytest.mark.parametrize(("description", "body", "expected"), HOLDERS, ids=[h[0] for h in HOLDERS])
def test_holds_no_os_resource(description: str, body: str, expected: bool) -> None:
    source = (
        HEADER
        + "func f(p string, z *zip.Reader, r *http.Request, body io.Reader, b string, dirs []opener) {\n\t"
        + body
        + "\n}\n"
    ).encode()
    root = parse(source).root_node
    func = root.named_children[-1]
    x = next(n for n in walk(func) if n.type == "identifier" and text(n) == "x")
    value = bound_value(x)
    assert holds_no_os_resource(value, bindings(func, source), Imports.from_root(root)) is expected


READS = [
    ("io.ReadAll", "_, _ = io.ReadAll(resp.Body)", 1),
    ("io.Copy to io.Discard", "_, _ = io.Copy(io.Discard, resp.Body)", 1),
    ("a limited read", "_, _ = io.ReadAll(io.LimitReader(resp.Body, 10))", 0),
    ("a copy elsewhere", "_, _ = io.Copy(os.Stdout, resp.Body)", 0),
    ("another response", "_, _ = io.ReadAll(other.Body)", 0),
    ("an inner resp of the same name", "if resp := other; resp != nil {\n\t\t_, _ = io.ReadAll(resp.Body)\n\t}", 0),
    ("the parameter after the inner block", "{\n\t\tresp := other\n\t\t_ = resp\n\t}\n\t_, _ = io.ReadAll(resp.Body)", 1),
]


@pytest.mark.parametrize(("description", "statement", "count"), READS, ids=[r[0] for r in READS])
def test_reads_to_end(description: str, statement: str, count: int) -> None:
    source = (HEADER + "func f(resp, other *http.Response) {\n\t" + statement + "\n}\n").encode()
    root = parse(source).root_node
    func = root.named_children[-1]
    params = func.child_by_field_name("parameters")
    assert params is not None
    resp = declaration_of(params.named_children[0].children_by_field_name("name")[0], source)
    assert resp is not None and resp.name == "resp"
    assert len(reads_to_end(func, resp, source, Imports.from_root(root))) == count


def test_interface_method_results() -> None:
    source = b"package p\n\ntype q interface {\n\tQuery(s string) (*sql.Rows, error)\n\tOne() *sql.Rows\n\tNone()\n}\n\ntype s struct{}\n"
    root = parse(source).root_node
    assert [text(n) for n in interface_method_results(root, "q", "Query") or []] == ["*sql.Rows", "error"]
    assert [text(n) for n in interface_method_results(root, "q", "One") or []] == ["*sql.Rows"]
    assert interface_method_results(root, "q", "None") == []
    assert interface_method_results(root, "q", "Missing") is None
    assert interface_method_results(root, "s", "Query") is None
