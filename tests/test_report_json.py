"""The command line's JSON writer gives exactly what ``json.dumps(indent=2, ensure_ascii=False)`` gives."""

from __future__ import annotations

import json
import random

import pytest

from golsp_leaks.cli.report import to_json
from golsp_leaks.severity import Severity


def _random(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "none"] + (["list", "dict", "tuple"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        alphabet = ["a", "é", '"', "\\", "\n", "\t", "\x00", "\u2028", "\U0001f600", "/", " "]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind == "int":
        return rng.choice([0, -1, 7, 2**70, Severity.ERROR])
    if kind == "float":
        return rng.choice([0.5, -1e300, 1e-7, float("nan"), float("inf"), float("-inf"), 3.0])
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "none":
        return None
    members = [_random(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "list":
        return members
    if kind == "tuple":
        return tuple(members)
    return {f"k{i}{_random(rng, 5)}": m for i, m in enumerate(members)}


@pytest.mark.parametrize("seed", range(200))
def test_same_text_as_json_dumps(seed: int) -> None:
    document = _random(random.Random(seed))
    assert to_json(document) == json.dumps(document, indent=2, ensure_ascii=False)


def test_what_it_leaves_to_json() -> None:
    for document in ({1: "a", None: [1]}, {"a": {True: 2.5}}):
        assert to_json(document) == json.dumps(document, indent=2, ensure_ascii=False)
    with pytest.raises(TypeError):
        to_json({"a": object()})
