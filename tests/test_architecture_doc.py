"""docs/architecture.md shows a whole resource rule: it runs, and it finds what it says it finds."""

from __future__ import annotations

import re
import types
from pathlib import Path

from golsp_leaks.config import Settings
from golsp_leaks.engine import Engine
from golsp_leaks.goanalysis.syntax.parse import parse
from golsp_leaks.rules.base import Rule

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"

GO = b"""package p

import (
	"archive/zip"
	z "archive/zip"
)

func names(path string) ([]string, error) {
	archive, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, f := range archive.File {
		if f.Name == "" {
			return nil, nil
		}
		found = append(found, f.Name)
	}
	archive.Close()
	return found, nil
}

func closed(path string) error {
	r, err := z.OpenReader(path)
	if err != nil {
		return err
	}
	defer r.Close()
	return nil
}
"""


def _rule() -> Rule:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) == 1, "the page shows one rule"
    assert len(blocks[0].splitlines()) <= 60, "the rule fits on one screen"
    module = types.ModuleType("unclosed_zip")
    exec(compile(blocks[0], str(DOC), "exec"), module.__dict__)  # the documented code itself
    rule_class = next(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Rule) and v is not Rule)
    return rule_class()


def test_the_documented_rule_reports_the_missed_return_and_fixes_it() -> None:
    rule = _rule()
    tree = parse(GO)
    diagnostics = Engine([rule]).analyze(GO, tree, Settings())
    assert [(d.rule, GO.count(b"\n", 0, d.finding.start) + 1) for d in diagnostics] == [("unclosed-zip", 9)]
    finding = diagnostics[0].finding
    assert [GO.count(b"\n", 0, r.start) + 1 for r in finding.related] == [16]
    assert "without closing archive" in finding.related[0].message
    assert finding.fixes and "defer archive.Close()" in finding.fixes[0].title
