"""``//golsp-leaks:ignore <rule-id>`` comments: reading them, and writing one as a fix.

A comment ``//golsp-leaks:ignore lost-cancel`` (or ``// golsp-leaks:ignore a,b``,
anything after the ids being a free-form reason) suppresses the named rules'
findings that start on the comment's own line, or on the next line when the
comment stands alone on its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from golsp_leaks.goanalysis.syntax.nodes import line_indent
from golsp_leaks.model import Edit, Finding

MARKER = b"golsp-leaks:ignore"
_COMMENT = re.compile(rb"//\s?golsp-leaks:ignore[ \t]+([A-Za-z0-9_,-]+)")


def _line_starts_before(source: bytes, offset: int) -> int:
    return source.rfind(b"\n", 0, offset) + 1


def suppressions(source: bytes) -> dict[int, set[str]]:
    """Rule ids suppressed per line start offset."""
    result: dict[int, set[str]] = {}
    if MARKER not in source:
        return result
    for match in _COMMENT.finditer(source):
        ids = {i for i in match.group(1).decode("ascii").split(",") if i}
        start = _line_starts_before(source, match.start())
        result.setdefault(start, set()).update(ids)
        if not source[start : match.start()].strip():
            # Alone on its line: it also covers the next line.
            next_line = source.find(b"\n", match.end())
            if next_line >= 0:
                result.setdefault(next_line + 1, set()).update(ids)
    return result


def unsuppressed(source: bytes, findings: Iterable[Finding]) -> list[Finding]:
    table = suppressions(source)
    if not table:
        return list(findings)
    return [f for f in findings if f.rule not in table.get(_line_starts_before(source, f.start), ())]


def suppression_edit(source: bytes, finding: Finding) -> Edit:
    """Insert ``//golsp-leaks:ignore <rule>`` on its own line above the finding's line."""
    start = _line_starts_before(source, finding.start)
    indent = line_indent(source, finding.start).decode("utf-8", errors="replace")
    newline = "\r\n" if source[start:].split(b"\n", 1)[0].endswith(b"\r") else "\n"
    return Edit(start, start, f"{indent}//golsp-leaks:ignore {finding.rule}{newline}")
