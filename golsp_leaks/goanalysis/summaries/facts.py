"""Facts about a package's functions and variables, as the rules read them."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class PackageFacts:
    """Facts about the other files of the package, read from disk by the caller.

    ``handlers`` are names of functions known to be registered as request
    handlers elsewhere in the package; ``shrunk_globals`` are package-level
    variables that some code in the package deletes from, trims or resets.

    :func:`golsp_leaks.goanalysis.summaries.package.package_facts` computes all of them;
    functions are named by :func:`golsp_leaks.goanalysis.libraries.frameworks.function_key`
    (``"f"``, or ``"T.m"`` for a method), and ``handlers`` then holds every
    function that runs per request (handlers and what they call).  The others:

    ``globals``
        package-level variables; ``collections`` those of them that are maps,
        slices or ``sync.Map`` values.
    ``startup``
        functions that only ever run once: called only from ``main``, ``init``,
        a ``sync.Once`` or other startup functions, never in a loop.
    ``goroutines``
        functions run as a goroutine (``go f()``, ``go x.m()``) by code that is
        not startup code.
    ``endless``
        functions whose body runs a loop that can never end (no return, no
        break, no exit on a done channel).
    ``lifecycles``
        ``(type, start, stop)``: method ``start`` of ``type`` starts a goroutine
        that runs until method ``stop`` closes (or sends on) the field it waits
        on.  ``constructors`` are ``(function, type)`` pairs of
        functions that return a ``type`` or ``*type``.
    ``repeated``
        functions known to run more than once: handlers and what they call,
        functions called in a loop or from a function literal that is stored
        or registered, and what those call (never a method resolved by its
        name alone).
    ``closable``
        types with a ``Close``, ``Stop`` or ``Shutdown`` method: values that are
        made, used and closed, so possibly many in one process.
    ``flags``
        package-wide switches, e.g. ``"fiber-immutable"`` when some file
        configures ``fiber.Config{Immutable: true}``.
    """

    handlers: frozenset[str] = frozenset()
    shrunk_globals: frozenset[str] = frozenset()
    globals: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()
    startup: frozenset[str] = frozenset()
    goroutines: frozenset[str] = frozenset()
    lifecycles: frozenset[tuple[str, str, str]] = frozenset()
    constructors: frozenset[tuple[str, str]] = frozenset()
    flags: frozenset[str] = frozenset()
    endless: frozenset[str] = frozenset()
    repeated: frozenset[str] = frozenset()
    closable: frozenset[str] = frozenset()
    #: ``(field, import path, type)`` of struct fields declared in the package's other files with a
    #: database library's type (``type Store struct{ db *pgxpool.Pool }`` in store.go).
    db_fields: frozenset[tuple[str, str, str]] = frozenset()
    #: Names of unexported fields that the package's other files use other than by assigning
    #: them (``s.cancel()``, ``go stop(s.cancel)``): a cancel function stored there is used.
    field_uses: frozenset[str] = frozenset()
    #: ``(path, modification time in ns, size)`` of the package's other files (its test files too
    #: for a test file): where :mod:`golsp_leaks.goanalysis.summaries.declared` finds the helpers
    #: a function calls.
    siblings: tuple[tuple[str, int, int], ...] = ()

    def fingerprint(self) -> Hashable:
        return (
            self.handlers,
            self.shrunk_globals,
            self.globals,
            self.collections,
            self.startup,
            self.goroutines,
            self.lifecycles,
            self.constructors,
            self.flags,
            self.endless,
            self.repeated,
            self.closable,
            self.db_fields,
            self.field_uses,
            self.siblings,
        )
