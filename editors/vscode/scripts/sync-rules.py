#!/usr/bin/env python3
"""Write the server's rules into package.json's settings schema.

    python3 editors/vscode/scripts/sync-rules.py [--check]

Reads ``golsp-leaks rules --format json`` (or ``python3 -m golsp_leaks``) and
rewrites the ``properties`` of ``golspLeaks.rules`` and ``golspLeaks.severity`` so
that VS Code completes and documents every rule id.  Unknown ids stay allowed
(``additionalProperties``), so an older extension works with a newer server.
With ``--check``, changes nothing and exits 1 when package.json is out of date.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "package.json"
SEVERITIES = ["error", "warning", "information", "hint"]


def server_rules() -> list[dict[str, object]]:
    exe = shutil.which("golsp-leaks")
    cmd = [exe] if exe else [sys.executable, "-m", "golsp_leaks"]
    out = subprocess.run([*cmd, "rules", "--format", "json"], check=True, capture_output=True, text=True, timeout=60)
    return list(json.loads(out.stdout))


def updated(package: dict[str, object], rules: list[dict[str, object]]) -> dict[str, object]:
    props = package["contributes"]["configuration"]["properties"]  # type: ignore[index]
    rule_props: dict[str, object] = {}
    severity_props: dict[str, object] = {}
    for rule in sorted(rules, key=lambda r: str(r["id"])):
        rid = str(rule["id"])
        summary = str(rule.get("summary", "")).strip()
        summary = summary[:1].upper() + summary[1:]
        default = str(rule.get("default_severity", "warning"))
        rule_props[rid] = {"type": "boolean", "default": True, "markdownDescription": f"{summary}."}
        severity_props[rid] = {
            "type": "string",
            "enum": SEVERITIES,
            "default": default,
            "markdownDescription": f"Severity of `{rid}` (default: {default}).",
        }
    props["golspLeaks.rules"]["properties"] = rule_props  # type: ignore[index]
    props["golspLeaks.severity"]["properties"] = severity_props  # type: ignore[index]
    return package


def main(argv: list[str]) -> int:
    text = PACKAGE.read_text(encoding="utf-8")
    new = json.dumps(updated(json.loads(text), server_rules()), indent=2, ensure_ascii=False) + "\n"
    if "--check" in argv:
        if new != text:
            print(f"{PACKAGE} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        PACKAGE.write_text(new, encoding="utf-8")
        print(f"updated {PACKAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
