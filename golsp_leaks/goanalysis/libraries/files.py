"""Calls that open a file the caller must close, by import path.

``os.Open`` and its kin, ``ioutil.TempFile`` (the old name of ``os.CreateTemp``),
the ``Open`` of an uploaded file's ``*multipart.FileHeader`` (a ``multipart.File``
backed by a temporary file once the upload is large), and the files of an
SFTP client (``*sftp.Client``'s ``Open``, ``OpenFile`` and ``Create``: each holds
a handle on the server until it is closed).
"""

from __future__ import annotations

#: Package functions that open a file, by import path.
FUNCTIONS: dict[str, frozenset[str]] = {
    "os": frozenset({"Open", "Create", "OpenFile", "CreateTemp"}),
    "io/ioutil": frozenset({"TempFile"}),
}

#: Methods that open a file, by the receiver's type: ``(import path, type name)``.
METHODS: dict[tuple[str, str], frozenset[str]] = {
    ("mime/multipart", "FileHeader"): frozenset({"Open"}),
    ("github.com/pkg/sftp", "Client"): frozenset({"Open", "OpenFile", "Create"}),
}
