"""Settings: one typed place, merged from every source.

Sources, lowest precedence first:

1. the defaults below;
2. ``.golsp-leaks.toml`` at the workspace root (found by walking up from the
   checked path; the CLI reads it too);
3. the LSP ``initializationOptions``;
4. ``workspace/configuration`` (section ``golspLeaks``) or the settings sent
   with ``workspace/didChangeConfiguration``.

``rules`` and ``severity`` merge rule by rule, ``exclude`` lists add up, and
scalars take the value of the highest source that sets them.  Keys may be
written in camelCase (``debounceMs``), kebab-case (``debounce-ms``) or
snake_case.  An unknown key, rule or severity is reported as a problem (a
message to the user) and otherwise ignored: it is never fatal.

``docsUrl`` (``docs-url``) is where each diagnostic's ``codeDescription.href``
points: a base URL to which ``<rule-id>.md`` is added, or a template with
``{rule}`` in it; ``""`` sends no link.  Unset, the links point at the rules'
pages as ``file://`` URIs: the repository's ``docs/rules/`` when the server
runs from a source tree, else the same pages rendered for the installed
version into the user's cache (see ``golsp_leaks.server.convert``).

Example ``.golsp-leaks.toml``::

    exclude = ["gen/**", "**/*_mock.go"]
    debounce-ms = 150
    docs-url = "https://example.com/golsp-leaks/docs/rules/"

    [rules]
    unfinished-tx = false      # off

    [severity]
    lost-cancel = "error"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

from golsp_leaks.severity import Severity

# Nothing heavier is imported here (dataclasses, pathlib, typing): a ``check`` that takes every
# file from the result cache loads this module and little else.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

CONFIG_FILE = ".golsp-leaks.toml"
SECTION = "golspLeaks"
DEFAULT_DEBOUNCE_MS = 100
MAX_DEBOUNCE_MS = 10_000


def _key(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


_KNOWN_KEYS = {
    _key(k): k for k in ("rules", "severity", "exclude", "debounce_ms", "docs_url", "trace")
}


class Settings:
    """The effective configuration (immutable; compared by value)."""

    __slots__ = ("debounce_ms", "docs_url", "exclude", "rules", "severity")

    rules: Mapping[str, bool]
    severity: Mapping[str, Severity]
    exclude: tuple[str, ...]
    debounce_ms: int
    # Base URL (or ``{rule}`` template) of the rules' pages; None: the default, "": no links.
    docs_url: str | None

    def __init__(
        self,
        rules: Mapping[str, bool] | None = None,
        severity: Mapping[str, Severity] | None = None,
        exclude: tuple[str, ...] = (),
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        docs_url: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "rules", {} if rules is None else rules)
        set_(self, "severity", {} if severity is None else severity)
        set_(self, "exclude", exclude)
        set_(self, "debounce_ms", debounce_ms)
        set_(self, "docs_url", docs_url)

    def _values(self) -> tuple[object, ...]:
        return (self.rules, self.severity, self.exclude, self.debounce_ms, self.docs_url)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Settings are immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Settings are immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # holds dicts, as before

    def __repr__(self) -> str:
        return (
            f"Settings(rules={self.rules!r}, severity={self.severity!r}, exclude={self.exclude!r}, "
            f"debounce_ms={self.debounce_ms!r}, docs_url={self.docs_url!r})"
        )

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Settings, self._values())

    def replaced(self, **changes: Any) -> Settings:
        """A copy with some fields changed (as ``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return Settings(**values)

    def enabled(self, rule_id: str) -> bool:
        return self.rules.get(rule_id, True)

    def severity_of(self, rule_id: str, default: Severity) -> Severity:
        return self.severity.get(rule_id, default)

    def is_excluded(self, relative_path: str) -> bool:
        """Does a path (relative to the workspace or checked root, ``/``-separated) match an exclude glob?"""
        import fnmatch
        import posixpath

        text = posixpath.normpath(relative_path.replace("\\", "/"))
        name = posixpath.basename(text)
        parents: list[str] = []
        parent = posixpath.dirname(text)
        while parent and parent not in (".", "/"):
            parents.append(parent)
            parent = posixpath.dirname(parent)
        for pattern in self.exclude:
            pat = pattern.rstrip("/")
            if fnmatch.fnmatchcase(text, pat) or fnmatch.fnmatchcase(name, pat):
                return True
            if pat.startswith("**/") and fnmatch.fnmatchcase(text, pat[3:]):
                return True
            # A directory pattern excludes everything below it.
            if any(fnmatch.fnmatchcase(p, pat) for p in parents):
                return True
        return False


class ConfigProblems:
    """What was wrong with the configuration, to tell the user."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[str] | None = None) -> None:
        self.messages: list[str] = [] if messages is None else messages

    def add(self, source: str, message: str) -> None:
        self.messages.append(f"{source}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigProblems) and self.messages == other.messages

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ConfigProblems(messages={self.messages!r})"


def merge(
    base: Settings,
    raw: Mapping[str, Any] | None,
    source: str,
    known_rules: Iterable[str],
    problems: ConfigProblems,
) -> Settings:
    """Lay the raw settings from ``source`` over ``base``; record problems, never raise."""
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        problems.add(source, f"expected an object of settings, got {type(raw).__name__}")
        return base
    known = set(known_rules)
    rules = dict(base.rules)
    severity = dict(base.severity)
    exclude = list(base.exclude)
    debounce = base.debounce_ms
    docs_url = base.docs_url
    for key, value in raw.items():
        canonical = _KNOWN_KEYS.get(_key(str(key)))
        if canonical is None:
            problems.add(
                source, f"unknown setting {key!r} (known: rules, severity, exclude, debounceMs, docsUrl)"
            )
        elif canonical == "rules":
            rules.update(_rules(value, known, source, problems))
        elif canonical == "severity":
            severity.update(_severities(value, known, source, problems))
        elif canonical == "exclude":
            exclude.extend(x for x in _strings(value, "exclude", source, problems) if x not in exclude)
        elif canonical == "debounce_ms":
            debounce = _debounce(value, source, problems, debounce)
        elif canonical == "docs_url":
            if isinstance(value, str):
                docs_url = value.strip()
            else:
                problems.add(source, f"'docsUrl' must be a URL string, not {value!r}")
        # "trace" belongs to the client (trace.server); accepted and left alone.
    return Settings(
        rules=rules, severity=severity, exclude=tuple(exclude), debounce_ms=debounce, docs_url=docs_url
    )


def _rules(value: Any, known: set[str], source: str, problems: ConfigProblems) -> dict[str, bool]:
    out: dict[str, bool] = {}
    if not isinstance(value, Mapping):
        problems.add(source, "'rules' must map rule ids to true or false")
        return out
    for rule, enabled in value.items():
        if rule not in known:
            problems.add(source, f"unknown rule {rule!r} in 'rules'")
        elif not isinstance(enabled, bool):
            problems.add(source, f"'rules.{rule}' must be true or false, not {enabled!r}")
        else:
            out[rule] = enabled
    return out


def _severities(value: Any, known: set[str], source: str, problems: ConfigProblems) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    if not isinstance(value, Mapping):
        problems.add(source, "'severity' must map rule ids to error, warning, information or hint")
        return out
    for rule, level in value.items():
        if rule not in known:
            problems.add(source, f"unknown rule {rule!r} in 'severity'")
            continue
        try:
            out[rule] = Severity.parse(str(level))
        except ValueError as exc:
            problems.add(source, f"'severity.{rule}': {exc}")
    return out


def _strings(value: Any, name: str, source: str, problems: ConfigProblems) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    problems.add(source, f"'{name}' must be a list of glob strings")
    return []


def _debounce(value: Any, source: str, problems: ConfigProblems, current: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.add(source, f"'debounceMs' must be a number of milliseconds, not {value!r}")
        return current
    if not 0 <= value <= MAX_DEBOUNCE_MS:
        problems.add(source, f"'debounceMs' must be between 0 and {MAX_DEBOUNCE_MS}, not {value!r}")
        return current
    return int(value)


def find_config_file(start: Path) -> Path | None:
    """The nearest ``.golsp-leaks.toml`` in ``start`` or a directory above it."""
    from pathlib import Path

    found = find_config_path(str(start))
    return Path(found) if found is not None else None


def find_config_path(start: str) -> str | None:
    """:func:`find_config_file` on path strings (no :mod:`pathlib`: the command line's start-up)."""
    current = start if os.path.isdir(start) else os.path.dirname(start) or "."
    current = os.path.realpath(current)
    while True:
        candidate = os.path.join(current, CONFIG_FILE)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def read_config_file(path: Path | str, problems: ConfigProblems) -> dict[str, Any] | None:
    """The table in a config file, or None (with a problem recorded) when it cannot be read."""
    # Imported here: most runs read no configuration file.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.add(str(path), f"cannot read configuration: {exc}")
        return None


def load_settings(
    start: Path | None,
    known_rules: Iterable[str],
    problems: ConfigProblems,
    explicit_file: Path | None = None,
) -> tuple[Settings, Path | None]:
    """Defaults overlaid with the project's config file; returns the file used too."""
    path = explicit_file if explicit_file is not None else (find_config_file(start) if start else None)
    settings = Settings()
    if path is None:
        return settings, None
    raw = read_config_file(path, problems)
    return merge(settings, raw, str(path), known_rules, problems), path
