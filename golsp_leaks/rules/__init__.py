"""The rules, one module each; this package's registry finds them.

A rule module defines one subclass of :class:`golsp_leaks.rules.base.Rule`
with a unique ``id``.  Adding a module here is all it takes to register it.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from golsp_leaks.rules.base import FileContext, PackageFacts, Rule

__all__ = ["FileContext", "PackageFacts", "Rule", "all_rules", "get_rule", "rule_ids"]


@cache
def all_rules() -> tuple[Rule, ...]:
    """One instance of every rule, ordered by id."""
    found: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
                and getattr(value, "id", None)
            ):
                if value.id in found:
                    raise RuntimeError(f"two rules share the id {value.id!r}")
                found[value.id] = value()
    return tuple(found[k] for k in sorted(found))


def rule_ids() -> tuple[str, ...]:
    return tuple(rule.id for rule in all_rules())


def get_rule(rule_id: str) -> Rule | None:
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    return None
