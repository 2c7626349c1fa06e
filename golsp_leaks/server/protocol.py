"""The JSON-RPC protocol layer, adjusted in two places.

* Position encoding: prefer UTF-8 whenever the client offers it (no conversion
  on our side), else the client's first supported choice, else UTF-16.
* Text synchronisation: the server keeps its own documents (bytes, line index
  and tree-sitter tree, see :mod:`golsp_leaks.document`), so pygls's workspace
  copy is not kept: it would cost a second copy of every edit and could fall out
  of step with ours on a bad range.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, lsp_method

_SUPPORTED = (
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf32,
)


def prefer_utf8(capabilities: types.ClientCapabilities) -> None:
    """Reorder the client's offered encodings so that UTF-8 comes first when offered."""
    general = capabilities.general
    if general is None or not general.position_encodings:
        return
    offered = list(general.position_encodings)
    if types.PositionEncodingKind.Utf8 in offered:
        offered.remove(types.PositionEncodingKind.Utf8)
        offered.insert(0, types.PositionEncodingKind.Utf8)
        general.position_encodings = offered


class GolspProtocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        prefer_utf8(params.capabilities)
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


def negotiated_encoding(value: str | None) -> str:
    return value if value in _SUPPORTED else types.PositionEncodingKind.Utf16
