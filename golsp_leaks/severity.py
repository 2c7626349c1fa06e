"""How serious a finding is, and how far a fix may be trusted.

Apart from :mod:`golsp_leaks.model` (which exports both) so that the command line can
print results it takes from its cache without loading the dataclasses of the model.
"""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """How serious a finding is; higher is more severe."""

    HINT = 1
    INFORMATION = 2
    WARNING = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``error``, ``warning``, ``information`` (or ``info``) and ``hint``."""
        key = text.strip().lower()
        if key == "info":
            key = "information"
        for sev in cls:
            if sev.label == key:
                return sev
        raise ValueError(f"unknown severity {text!r} (expected error, warning, information or hint)")

    def raised(self) -> Severity:
        """One step more severe (an error stays an error)."""
        return Severity(min(self.value + 1, Severity.ERROR.value))


class Applicability(enum.Enum):
    """How far a fix may be trusted, as ruff has it.

    ``SAFE``: it adds the release the code lacks and changes nothing else a test
    could observe; ``check --fix`` and the editor's fix-all apply it.
    ``UNSAFE``: it changes behaviour (a closure around a loop body, a goroutine
    stopped when the handler returns, ``c.Copy()``, ``Exec`` for ``Query``, a send
    that gives up, a timer made once...); applied only with ``--unsafe-fixes``, or
    one at a time by a user who reads it.  ``DISPLAY_ONLY``: shown, never applied
    automatically.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"
