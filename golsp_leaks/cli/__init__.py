"""The ``golsp-leaks`` command line: ``check``, ``rules`` and ``serve``.

:mod:`golsp_leaks.cli.main` parses the arguments, :mod:`~golsp_leaks.cli.files`
finds the Go files, :mod:`~golsp_leaks.cli.run` analyses (and fixes) them, in
worker processes when there are many, and :mod:`~golsp_leaks.cli.report` and
:mod:`~golsp_leaks.cli.sarif` print the results.
"""

from __future__ import annotations

from golsp_leaks.cli.main import main

__all__ = ["main"]
