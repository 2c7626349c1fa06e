"""The text and JSON reports of ``golsp-leaks check``.

Text, one finding per line as ``go vet`` prints them (1-based line, 1-based
column in bytes), with related places indented below::

    pkg/fetch.go:12:9: warning: the cancel function ... is lost [lost-cancel]
        pkg/fetch.go:15:3: this return is reached without calling cancel()

JSON, one object ``{"diagnostics": [...], "files_checked": N}``; in it lines
and columns are 1-based, columns count bytes, ends are exclusive, and every
range also has its byte ``offset``/``end_offset``.
"""

from __future__ import annotations

from golsp_leaks.cli.results import Outcome, Report, Span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(outcome: Outcome) -> str:
    """``N findings (M fixable) in K files``; ``(M fixable, U more with --unsafe-fixes)`` when some fixes are unsafe."""
    findings = 0
    fixable = 0
    unsafe = 0
    for _, report in outcome.reports:
        findings += 1
        fixable += report.fixable
        unsafe += report.unsafe_fixable
    files = _plural(outcome.files_checked, "file")
    if not findings:
        return f"no findings in {files}"
    more = f", {unsafe} more with --unsafe-fixes" if unsafe else ""
    return f"{_plural(findings, 'finding')} ({fixable} fixable{more}) in {files}"


def fix_summary(outcome: Outcome, diff: bool, unsafe: bool) -> str:
    """What ``--fix`` did (``--diff``: would do), per rule, and what it left because it is unsafe.

    ``fixed 3 findings in 2 files (lost-cancel: 2, unclosed-body: 1)``, then, when
    findings are left whose only fixes are unsafe and ``--unsafe-fixes`` was not
    given, ``2 more fixes available with --unsafe-fixes``.
    """
    by_rule: dict[str, int] = {}
    for result in outcome.files:
        for rule, count in result.fixed_by_rule:
            by_rule[rule] = by_rule.get(rule, 0) + count
    fixed = sum(by_rule.values())
    files = sum(1 for result in outcome.files if result.fixed)
    verb = "would fix" if diff else "fixed"
    line = f"{verb} {_plural(fixed, 'finding')} in {_plural(files, 'file')}"
    if by_rule:
        line += " (" + ", ".join(f"{rule}: {count}" for rule, count in sorted(by_rule.items())) + ")"
    hidden = 0 if unsafe else sum(1 for _, report in outcome.reports if report.unsafe_fixable)
    if hidden:
        more = "1 more fix" if hidden == 1 else f"{hidden} more fixes"
        line += f"\n{more} available with --unsafe-fixes"
    return line


def render_text(outcome: Outcome) -> str:
    lines: list[str] = []
    for result, report in outcome.reports:
        span = report.span
        lines.append(
            f"{result.path}:{span.line}:{span.column}: "
            f"{report.severity.label}: {report.message} [{report.rule}]\n"
        )
        for related in report.related:
            lines.append(
                f"    {result.path}:{related.span.line}:{related.span.column}: {related.message}\n"
            )
    return "".join(lines)


def _range(span: Span) -> dict[str, int]:
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "offset": span.offset,
        "end_offset": span.end_offset,
    }


def diagnostic_json(path: str, report: Report) -> dict[str, Any]:
    span = report.span
    return {
        "path": path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "offset": span.offset,
        "end_offset": span.end_offset,
        "rule": report.rule,
        "severity": report.severity.label,
        "message": report.message,
        "fixable": report.fixable,
        "fixes": [
            {
                "title": fix.title,
                "applicability": fix.applicability.value,
                "edits": [{**_range(edit.span), "new_text": edit.new_text} for edit in fix.edits],
            }
            for fix in report.fixes
        ],
        "related": [{"path": path, **_range(r.span), "message": r.message} for r in report.related],
    }


def json_document(outcome: Outcome) -> dict[str, Any]:
    return {
        "diagnostics": [diagnostic_json(result.path, report) for result, report in outcome.reports],
        "files_checked": outcome.files_checked,
    }


def to_json(document: object) -> str:
    """``json.dumps(document, indent=2, ensure_ascii=False)``, the same text, several times faster.

    The standard library encodes with indentation in Python, a generator per level; here
    strings are escaped by its C function and the rest is joined in one list.  Keys must be
    strings and values dicts, lists, tuples, strings, ints, floats, booleans or None; anything
    else is left to :func:`json.dumps`.
    """
    from json.encoder import encode_basestring

    out: list[str] = []
    append = out.append

    def value(item: object, indent: str) -> None:
        if isinstance(item, str):
            append(encode_basestring(item))
        elif item is None:
            append("null")
        elif item is True:
            append("true")
        elif item is False:
            append("false")
        elif isinstance(item, int):
            append(int.__repr__(item))
        elif isinstance(item, float):
            append(_float(item))
        elif isinstance(item, dict):
            if not item:
                append("{}")
                return
            inner = indent + "  "
            append("{\n" + inner)
            first = True
            for key, member in item.items():
                if not isinstance(key, str):
                    raise _Unusual
                if not first:
                    append(",\n" + inner)
                first = False
                append(encode_basestring(key))
                append(": ")
                value(member, inner)
            append("\n" + indent + "}")
        elif isinstance(item, (list, tuple)):
            if not item:
                append("[]")
                return
            inner = indent + "  "
            append("[\n" + inner)
            first = True
            for member in item:
                if not first:
                    append(",\n" + inner)
                first = False
                value(member, inner)
            append("\n" + indent + "]")
        else:
            raise _Unusual

    try:
        value(document, "")
    except (_Unusual, RecursionError):  # what json alone knows how to say, or refuse
        import json

        return json.dumps(document, indent=2, ensure_ascii=False)
    return "".join(out)


class _Unusual(Exception):
    """A value :func:`to_json` leaves to the json module."""


def _float(number: float) -> str:
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    return float.__repr__(number)
