"""``typing.NamedTuple`` without :mod:`typing`, for the types of the command line's results.

Importing :mod:`typing` and building classes with its ``NamedTuple`` costs several
milliseconds: as much as reading and hashing a thousand files, in a run that takes
every file from the result cache.  The classes made here are the same
:func:`collections.namedtuple` classes (fields from the annotations, defaults, methods
and properties of the class body); type checkers see ``typing.NamedTuple`` itself::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from golsp_leaks.cli.tuples import NamedTuple
"""

from __future__ import annotations

import collections
from collections.abc import Callable

#: Called through a name of its own: a type checker reads a call of ``namedtuple`` as a definition.
_namedtuple: Callable[..., type] = collections.namedtuple
_PLAIN = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__", "__orig_bases__"})


class _Maker(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        if not bases:  # NamedTuple itself
            return super().__new__(mcs, name, bases, namespace)
        annotations = namespace.get("__annotations__", {})
        assert isinstance(annotations, dict)
        fields = list(annotations)
        defaults = [namespace[f] for f in fields if f in namespace]
        module = namespace.get("__module__")
        made = _namedtuple(name, fields, defaults=defaults, module=str(module))
        for key, value in namespace.items():
            if key not in _PLAIN and key not in annotations:
                setattr(made, key, value)
        made.__doc__ = namespace.get("__doc__") or made.__doc__  # type: ignore[assignment]
        made.__annotations__ = dict(annotations)
        made.__qualname__ = str(namespace.get("__qualname__", name))
        return made


class NamedTuple(metaclass=_Maker):
    """Subclass it as ``typing.NamedTuple`` (see the module's documentation)."""
