"""A notification leaves nothing behind in the protocol once handled: pygls kept the future of
every generator or ``async`` handler (every ``didChange``) under a made-up id for ever.  (That a
``shutdown`` with such futures still answers is in ``test_server``.)"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from golsp_leaks.server.server import create_server


def _change(uri: str, version: int) -> types.DidChangeTextDocumentParams:
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="package p\n")],
    )


def test_handled_notifications_are_not_kept() -> None:
    server = create_server()
    protocol = server.protocol

    async def notify() -> None:
        for version in range(50):
            # A document that is not open: the handler logs and returns.
            protocol._handle_notification(types.TEXT_DOCUMENT_DID_CHANGE, _change("file:///nowhere.go", version))
            # An async handler.
            protocol._handle_notification(
                types.WORKSPACE_DID_CHANGE_WATCHED_FILES, types.DidChangeWatchedFilesParams(changes=[])
            )
        await asyncio.sleep(0.05)
        # What finished since is let go at the next message.
        protocol._handle_notification(types.TEXT_DOCUMENT_DID_CHANGE, _change("file:///nowhere.go", 50))

    asyncio.run(notify())
    assert protocol._request_futures == {}
