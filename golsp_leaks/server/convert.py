"""From the engine's byte-offset values to LSP types, in the negotiated position encoding."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from lsprotocol import types

import golsp_leaks
from golsp_leaks.document import Encoding, LineIndex
from golsp_leaks.engine import Placed
from golsp_leaks.model import Diagnostic, Edit, Severity

SOURCE = "golsp-leaks"

log = logging.getLogger(__name__)


def docs_href(docs_url: str | None, rule: str) -> str | None:
    """``codeDescription.href`` of a rule's diagnostics, from the ``docsUrl`` setting.

    A template with ``{rule}`` gets the rule id; any other base gets ``<rule>.md`` added (after a
    ``/``).  ``""`` means no link; None, the default base (:func:`default_docs_base`).
    """
    base = default_docs_base() if docs_url is None else docs_url
    if not base:
        return None
    if "{rule}" in base:
        return base.replace("{rule}", rule)
    return f"{base if base.endswith('/') else base + '/'}{rule}.md"


@cache
def default_docs_base() -> str:
    """A ``file://`` URI of a folder with the rules' pages, or "" when there is none.

    The repository's ``docs/rules/`` when the package runs from a source tree (an editable
    install, a clone); else the same pages, rendered for the installed version from the rules'
    documentation, in ``$XDG_CACHE_HOME/golsp-leaks/docs/<version>/`` (``~/.cache`` by default):
    a wheel carries no ``docs/``.
    """
    repo = Path(golsp_leaks.__file__).resolve().parent.parent / "docs" / "rules"
    if (repo / "README.md").is_file():
        return repo.as_uri() + "/"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache_home / "golsp-leaks" / "docs" / golsp_leaks.__version__
    try:
        from golsp_leaks import docs

        if docs.stale(folder):
            docs.write(folder)
    except OSError as exc:
        log.warning("cannot write the rules' pages into %s: %s", folder, exc)
        return ""
    return folder.as_uri() + "/"

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFORMATION: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def lsp_range(lines: LineIndex, start: int, end: int, encoding: Encoding, row: int = 0) -> types.Range:
    """The range of ``start:end`` in ``lines``, its lines moved down by ``row``."""
    a = lines.position(start, encoding)
    b = lines.position(end, encoding)
    return types.Range(types.Position(a.line + row, a.character), types.Position(b.line + row, b.character))


def to_lsp(
    diagnostic: Diagnostic,
    uri: str,
    lines: LineIndex,
    encoding: Encoding,
    *,
    related_support: bool,
    docs_url: str | None = None,
    row: int = 0,
) -> types.Diagnostic:
    """``diagnostic`` as LSP; ``row`` is added to every line (when ``lines`` is the text of one block)."""
    finding = diagnostic.finding
    related = None
    message = finding.message
    if finding.related:
        if related_support:
            related = [
                types.DiagnosticRelatedInformation(
                    location=types.Location(uri, lsp_range(lines, r.start, r.end, encoding, row)),
                    message=r.message,
                )
                for r in finding.related
            ]
        else:
            # Clients without related information still get the places, in the message.
            places = "; ".join(f"line {lines.position(r.start).line + row + 1}: {r.message}" for r in finding.related)
            message = f"{message} ({places})"
    return types.Diagnostic(
        range=lsp_range(lines, finding.start, finding.end, encoding, row),
        message=message,
        severity=_SEVERITY[diagnostic.severity],
        code=finding.rule,
        code_description=types.CodeDescription(href=docs_url) if docs_url else None,
        source=SOURCE,
        related_information=related,
        data={"rule": finding.rule},
    )


def block_items(
    placed: Placed,
    uri: str,
    encoding: Encoding,
    *,
    related_support: bool,
    unstructure: Callable[[Any], Any],
    whole: Callable[[], LineIndex],
    docs_url: str | None = None,
) -> list[Any]:
    """The diagnostics of one block at its place in the file, as JSON.

    A block whose ranges all lie in its own text is converted with the line
    index of that text alone (so the cost is the block's, not the file's);
    ``whole`` gives the file's line index for the others.  ``docs_url`` is the
    ``docsUrl`` setting (see :func:`docs_href`).
    """
    block = placed.block
    if block.local:
        lines, row, base = LineIndex(block.window), placed.row, 0
    else:
        lines, row, base = whole(), 0, placed.start
    out: list[Any] = []
    for d in block.diagnostics:
        shifted = d if base == 0 else Diagnostic(d.finding.shifted(base), d.severity)
        lsp = to_lsp(
            shifted,
            uri,
            lines,
            encoding,
            related_support=related_support,
            docs_url=docs_href(docs_url, d.finding.rule),
            row=row,
        )
        out.append(unstructure(lsp))
    return out


def text_edits(edits: Iterable[Edit], lines: LineIndex, encoding: Encoding) -> list[types.TextEdit]:
    return [
        types.TextEdit(range=lsp_range(lines, e.start, e.end, encoding), new_text=e.text)
        for e in sorted(edits, key=lambda e: (e.start, e.end))
    ]


def workspace_edit(
    uri: str,
    version: int | None,
    edits: list[types.TextEdit],
    *,
    document_changes: bool,
) -> types.WorkspaceEdit:
    """A workspace edit; versioned (rejected by the client if the buffer moved on) when supported."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={uri: list(edits)})
