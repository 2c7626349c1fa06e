"""The layers of ``golsp_leaks/goanalysis``: each module imports only its own layer and those below it.

The order, lowest first, is the one a newcomer reads from the folder tree:
syntax → names → cfg → dataflow → libraries → summaries → resources.  Nothing
in ``goanalysis`` imports the rules, the fixes, the server, the CLI or the
engine; every module of it belongs to a layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "golsp_leaks"
ANALYSIS = PACKAGE / "goanalysis"
LAYERS = ("syntax", "names", "cfg", "dataflow", "libraries", "summaries", "resources")
#: What analysis code may import from the rest of the project (the values it hands on).
ALLOWED_OUTSIDE = frozenset({"golsp_leaks.model"})


def _modules() -> list[Path]:
    return sorted(p for p in ANALYSIS.rglob("*.py"))


def _imported(path: Path) -> list[tuple[int, str]]:
    """Every ``golsp_leaks`` module the file imports, anywhere in it (TYPE_CHECKING blocks, functions)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name == "golsp_leaks" or name.startswith("golsp_leaks.")]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[:2] != ["golsp_leaks", "goanalysis"] or len(parts) < 3:
        return None
    return LAYERS.index(parts[2]) if parts[2] in LAYERS else None


def violations(path: Path, relative: Path | None = None) -> list[str]:
    """What is wrong with the imports of ``path`` (at ``relative`` inside goanalysis/)."""
    relative = relative if relative is not None else path.relative_to(ANALYSIS)
    if len(relative.parts) == 1:
        return [] if relative.name == "__init__.py" else [f"{relative} belongs to no layer"]
    if relative.parts[0] not in LAYERS:
        return [f"{relative} is in {relative.parts[0]}/, which is not a layer"]
    own = LAYERS.index(relative.parts[0])
    found: list[str] = []
    for line, module in _imported(path):
        if module.startswith("golsp_leaks.goanalysis"):
            target = _layer(module)
            if target is None:
                found.append(f"{relative}:{line} imports {module}, which belongs to no layer")
            elif target > own:
                found.append(f"{relative}:{line} ({LAYERS[own]}) imports {module} ({LAYERS[target]}, a layer above)")
        elif module not in ALLOWED_OUTSIDE:
            found.append(f"{relative}:{line} imports {module} from outside the analysis")
    return found


def test_every_layer_exists() -> None:
    assert sorted(p.name for p in ANALYSIS.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ANALYSIS)))
def test_imports_go_down_the_layers(path: Path) -> None:
    assert violations(path) == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The test above can fail: a syntax module importing the dataflow layer, or a rule, is caught."""
    fake = tmp_path / "nodes.py"
    fake.write_text(
        (ANALYSIS / "syntax" / "nodes.py").read_text()
        + "\nfrom golsp_leaks.goanalysis.dataflow.engine import follow\nfrom golsp_leaks.rules import all_rules\n"
    )
    found = violations(fake, Path("syntax/nodes.py"))
    assert len(found) == 2, found
    assert "a layer above" in found[0] and "outside the analysis" in found[1]
    assert violations(fake, Path("stray.py")) == ["stray.py belongs to no layer"]


RULES = PACKAGE / "rules"
#: The rule modules every rule may import: the registry's base classes.
RULES_SHARED = frozenset({"golsp_leaks.rules", "golsp_leaks.rules.base"})


def rule_violations(path: Path) -> list[str]:
    """Imports of one rule module from another: what rules share lives in goanalysis/, below them."""
    return [
        f"{path.name}:{line} imports {module}, another rule"
        for line, module in _imported(path)
        if module.startswith("golsp_leaks.rules") and module not in RULES_SHARED
    ]


@pytest.mark.parametrize(
    "path", sorted(p for p in RULES.glob("*.py") if p.name not in ("__init__.py", "base.py")), ids=lambda p: p.name
)
def test_no_rule_imports_another_rule(path: Path) -> None:
    assert rule_violations(path) == []


def test_the_check_catches_a_rule_importing_a_rule(tmp_path: Path) -> None:
    fake = tmp_path / "blocked_receive.py"
    fake.write_text((RULES / "blocked_receive.py").read_text() + "\nfrom golsp_leaks.rules.goroutine_no_exit import GoroutineNoExit\n")
    assert len(rule_violations(fake)) == 1


#: Where the rules and the analysis they stand on must not find a variable's uses by spelling.
NO_SPELLING = (RULES, ANALYSIS / "dataflow", ANALYSIS / "resources", ANALYSIS / "libraries")
#: Modules allowed a query of every identifier, with the reason (none today).
SPELLING_ALLOWED: dict[str, str] = {}


def spelling_violations(path: Path) -> list[str]:
    """Uses of the spelling-based ``mentions`` (identifiers found by their text) in one module."""
    source = path.read_text()
    found: list[str] = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "golsp_leaks.goanalysis.names.mentions":
            found.extend(f"{path.name}:{node.lineno} imports mentions" for a in node.names if a.name == "mentions")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "mentions":
            found.append(f"{path.name}:{node.lineno} calls mentions()")
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for d in NO_SPELLING for p in d.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_variable_is_found_by_its_spelling(path: Path) -> None:
    """Rules, dataflow, resources and library models find a variable's uses through the scopes."""
    if str(path.relative_to(PACKAGE)) in SPELLING_ALLOWED:
        return
    assert spelling_violations(path) == []


def test_the_spelling_check_catches_mentions(tmp_path: Path) -> None:
    fake = tmp_path / "ticker_not_stopped.py"
    fake.write_text(
        (RULES / "ticker_not_stopped.py").read_text()
        + "\nfrom golsp_leaks.goanalysis.names.mentions import mentions\n\n\ndef _uses(func, name):\n"
        + "    return mentions(func, name)\n"
    )
    assert len(spelling_violations(fake)) == 2
