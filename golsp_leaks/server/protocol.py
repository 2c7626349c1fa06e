"""The JSON-RPC protocol layer, adjusted in three places.

* Position encoding: prefer UTF-8 whenever the client offers it (no conversion
  on our side), else the client's first supported choice, else UTF-16.
* Text synchronisation: the server keeps its own documents (bytes, line index
  and tree-sitter tree, see :mod:`golsp_leaks.document`), so pygls's workspace
  copy is not kept: it would cost a second copy of every edit and could fall out
  of step with ours on a bad range.
* Every request is answered.  pygls drops a message whose params do not
  deserialise, so its request is never answered and the client waits for
  ever.  Here positions out of the ``uinteger`` range (negative, or past
  2**31 - 1) are first clamped into it (the document clamps them further, into
  the text); a request that still does not deserialise is answered with
  ``InvalidParams``; such a notification is logged and ignored.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol, lsp_method

log = logging.getLogger(__name__)

#: The largest ``uinteger`` of the LSP specification.
UINTEGER_MAX = 2**31 - 1
_POSITION_KEYS = ("line", "character")

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


def clamp_positions(value: Any) -> None:
    """Put every ``line`` / ``character`` number of a message's params into ``[0, UINTEGER_MAX]``, in place."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(inner, (dict, list)):
                    stack.append(inner)
                elif key in _POSITION_KEYS and isinstance(inner, int) and not 0 <= inner <= UINTEGER_MAX:
                    item[key] = 0 if inner < 0 else UINTEGER_MAX
        elif isinstance(item, list):
            stack.extend(i for i in item if isinstance(i, (dict, list)))


class _Rejected:
    """A message that could not be read; it has been answered (a request) or logged (a notification)."""

    jsonrpc = "rejected"


REJECTED = _Rejected()

#: Writes to an asynchronous transport still under way (kept referenced until they are done).
_WRITES: set[asyncio.Future[Any]] = set()


class RawText:
    """A result already serialised to JSON text (ASCII), sent as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class GolspProtocol(LanguageServerProtocol):
    @property
    def converter(self) -> Any:
        return self._converter

    def notify_text(self, method: str, params: str) -> None:
        """A notification whose params are serialised already (JSON text)."""
        self.send_text(f'{{"jsonrpc":"2.0","method":{json.dumps(method)},"params":{params}}}')

    def send_text(self, body: str) -> None:
        """Send one message that is JSON text already (ASCII: ``json.dumps`` escapes the rest)."""
        if self.writer is None:
            log.error("no transport to send a message on")
            return
        if self._include_headers:
            body = (
                f"Content-Length: {len(body)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n" + body
            )
        try:
            written = self.writer.write(body.encode(self.CHARSET))
            if inspect.isawaitable(written):
                pending = asyncio.ensure_future(written)
                _WRITES.add(pending)
                pending.add_done_callback(_WRITES.discard)
        except Exception as error:
            log.exception("error sending data")
            self._server._report_server_error(error, JsonRpcInternalError)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The ids under which pygls keeps a handler's future (see :meth:`_execute_handler`).
        self._kept_ids: list[Any] = []

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls keeps the future of a generator or ``async`` handler under ``msg_id`` until a
        response pops it: a notification's (a made-up id: every ``didChange``) was kept for ever.
        Here those of the finished handlers are let go at the next message.  Not from a done
        callback: ``shutdown`` cancels the futures while it iterates over them."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        futures = self._request_futures
        if msg_id in futures:
            self._kept_ids.append(msg_id)
        still: list[Any] = []
        for kept in self._kept_ids:
            future = futures.get(kept)
            if future is not None and future.done():
                del futures[kept]  # a request's: its response is sent whether it is here or not
            elif future is not None:
                still.append(kept)
        self._kept_ids = still

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if error is None and isinstance(result, RawText):
            self.send_text(f'{{"jsonrpc":"2.0","id":{json.dumps(msg_id)},"result":{result.text}}}')
            return
        super()._send_response(msg_id, result, error)

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" not in data:
            return data  # an object nested in a message: structured with the message
        params = data.get("params")
        if isinstance(params, (dict, list)):
            clamp_positions(params)
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            method = data.get("method")
            if "id" in data and isinstance(method, str):
                error = exc.to_response_error()
                error.message = f"{error.message}: the params of {method} do not match the specification"
                self._send_response(data["id"], error=error)
            else:
                log.warning("ignored a message that does not match the specification: %s", method)
            return REJECTED

    def handle_message(self, message: Any) -> None:
        if message is REJECTED:
            return
        super().handle_message(message)

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
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


def negotiated_encoding(value: str | None) -> str:
    return value if value in _SUPPORTED else types.PositionEncodingKind.Utf16
