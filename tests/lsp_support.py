"""Shared pieces of the end-to-end LSP tests: a recording client and position arithmetic.

The position arithmetic here is written independently of the server's own
(``golsp_leaks.document``) so that the tests check it rather than echo it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER_COMMAND = [sys.executable, "-m", "golsp_leaks", "serve"]

#: Capability snapshots of real clients shipped with pytest-lsp.
CLIENTS = ["neovim@v0.7.0", "neovim@v0.11.0", "emacs@v29.1", "visual_studio_code@v1.65.2"]


def _record_publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.published.append(params)  # type: ignore[attr-defined]


def _record_registration(client: LanguageClient, params: types.RegistrationParams) -> None:
    """``client/registerCapability``, answered as an editor does; what was registered is kept."""
    client.registrations.extend(params.registrations)  # type: ignore[attr-defined]


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=get_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _record_publish
    features[types.CLIENT_REGISTER_CAPABILITY] = _record_registration
    register_lsp_features(client, features)
    client.published = []  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]
    return client


CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def lines_of(text: str) -> list[str]:
    """Lines by the LSP definition (\\n, \\r\\n, \\r only)."""
    out: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\r" or ch == "\n":
            out.append("".join(current))
            current = []
            if ch == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        else:
            current.append(ch)
        i += 1
    out.append("".join(current))
    return out


def position_of(text: str, needle: str, encoding: str, occurrence: int = 0) -> types.Position:
    """The LSP position of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    before = text[:index]
    line_texts = lines_of(before)
    return types.Position(line=len(line_texts) - 1, character=units(line_texts[-1], encoding))


def offset_of(text: str, position: types.Position, encoding: str) -> int:
    """The string index of an LSP position in ``text``."""
    index = 0
    line = 0
    while line < position.line:
        nl = min((p for p in (text.find("\n", index), text.find("\r", index)) if p >= 0), default=-1)
        if nl < 0:
            return len(text)
        index = nl + (2 if text[nl : nl + 2] == "\r\n" else 1)
        line += 1
    count = 0
    while index < len(text) and text[index] not in "\r\n" and count < position.character:
        count += units(text[index], encoding)
        index += 1
    return index


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    spans = [(offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding), e.new_text) for e in edits]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def edits_of(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        out: list[types.TextEdit] = []
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit)
            assert change.text_document.uri == uri
            out.extend(e for e in change.edits if isinstance(e, types.TextEdit))
        return out
    assert edit.changes is not None
    return list(edit.changes[uri])
