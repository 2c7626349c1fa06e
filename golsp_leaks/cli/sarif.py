"""The SARIF 2.1.0 report of ``golsp-leaks check --format sarif``.

It is made for GitHub code scanning: every rule is described in
``tool.driver.rules`` (its help is the rule's documentation), paths under the
current directory are relative to ``%SRCROOT%`` (the current directory), and
columns are counted in UTF-16 code units, SARIF's default ``columnKind``,
which is also stated explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from golsp_leaks import __version__
from golsp_leaks.cli.results import FileResult, Outcome, Span
from golsp_leaks.docs import full_description, rule_name
from golsp_leaks.model import Severity
from golsp_leaks.rules import Rule

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
TOOL_NAME = "golsp-leaks"
DEFAULT_INFORMATION_URI = "https://pypi.org/project/golsp-leaks/"

LEVELS = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFORMATION: "note",
    Severity.HINT: "note",
}


def information_uri() -> str:
    """The project's home page from the installed metadata, else its PyPI page."""
    try:
        from importlib.metadata import PackageNotFoundError, metadata

        urls = metadata("golsp-leaks").get_all("Project-URL") or []
    except (ImportError, PackageNotFoundError):
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        url = str(url).strip()
        if label.strip().lower() in {"homepage", "home", "source", "repository"} and url:
            return url
    return DEFAULT_INFORMATION_URI


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    documentation = rule.documentation() or rule.summary
    return {
        "id": rule.id,
        "name": rule_name(rule),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full_description(rule)},
        "help": {"text": documentation, "markdown": documentation},
        "defaultConfiguration": {"level": LEVELS[rule.default_severity]},
        "properties": {"fixable": rule.fixable},
    }


class _Locator:
    """SARIF artifact locations: relative to %SRCROOT% when under it, absolute file URIs otherwise."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._cache: dict[str, dict[str, str]] = {}

    def root_uri(self) -> str:
        uri = Path(self.root).as_uri()
        return uri if uri.endswith("/") else uri + "/"

    def __call__(self, fs_path: str) -> dict[str, str]:
        cached = self._cache.get(fs_path)
        if cached is not None:
            return cached
        absolute = os.path.abspath(fs_path)
        try:
            rel = os.path.relpath(absolute, self.root)
        except ValueError:
            rel = os.pardir
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            location = {"uri": Path(absolute).as_uri()}
        else:
            uri = quote(rel.replace(os.sep, "/"), safe="/", errors="surrogateescape")
            location = {"uri": uri, "uriBaseId": SRCROOT}
        self._cache[fs_path] = location
        return location


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.column16,
        "endLine": span.end_line,
        "endColumn": span.end_column16,
    }


def _results(result: FileResult, index: dict[str, int], locate: _Locator) -> list[dict[str, Any]]:
    artifact = locate(result.fs_path)
    out: list[dict[str, Any]] = []
    for report in result.reports:
        item: dict[str, Any] = {
            "ruleId": report.rule,
            "level": LEVELS[report.severity],
            "message": {"text": report.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": artifact, "region": _region(report.span)}}
            ],
        }
        if report.rule in index:
            item["ruleIndex"] = index[report.rule]
        if report.related:
            item["relatedLocations"] = [
                {
                    "id": number,
                    "message": {"text": related.message},
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": _region(related.span),
                    },
                }
                for number, related in enumerate(report.related, start=1)
            ]
        fixes = [fix for fix in report.fixes if fix.edits]
        if fixes:
            item["fixes"] = [
                {
                    "description": {"text": fix.title},
                    "properties": {"applicability": fix.applicability.value},
                    "artifactChanges": [
                        {
                            "artifactLocation": artifact,
                            "replacements": [
                                {
                                    "deletedRegion": _region(edit.span),
                                    "insertedContent": {"text": edit.new_text},
                                }
                                for edit in fix.edits
                            ],
                        }
                    ],
                }
                for fix in fixes
            ]
        out.append(item)
    return out


def sarif_document(outcome: Outcome, rules: Sequence[Rule], root: str = ".") -> dict[str, Any]:
    """The SARIF log of one run; paths relative to ``root`` (the current directory) become %SRCROOT%-relative."""
    locate = _Locator(root)
    index = {rule.id: number for number, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for result in outcome.files:
        results.extend(_results(result, index, locate))
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if outcome.warnings:
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": warning}} for warning in outcome.warnings
        ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": information_uri(),
                "rules": [rule_descriptor(rule) for rule in rules],
            }
        },
        "invocations": [invocation],
        "originalUriBaseIds": {SRCROOT: {"uri": locate.root_uri()}},
        "columnKind": "utf16CodeUnits",
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
