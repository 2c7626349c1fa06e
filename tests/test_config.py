"""Settings: merging, validation, discovery."""

from __future__ import annotations

from pathlib import Path

from golsp_leaks.config import ConfigProblems, Settings, load_settings, merge
from golsp_leaks.model import Severity

KNOWN = ["lost-cancel", "unclosed-rows"]


def test_merge_layers_rule_by_rule() -> None:
    problems = ConfigProblems()
    base = merge(Settings(), {"rules": {"lost-cancel": False}, "exclude": ["gen/**"]}, "file", KNOWN, problems)
    top = merge(
        base,
        {"severity": {"unclosed-rows": "error"}, "exclude": "**/*_mock.go", "debounceMs": 250},
        "client",
        KNOWN,
        problems,
    )
    assert not problems
    assert top.rules == {"lost-cancel": False}
    assert top.severity == {"unclosed-rows": Severity.ERROR}
    assert top.exclude == ("gen/**", "**/*_mock.go")
    assert top.debounce_ms == 250


def test_key_spellings() -> None:
    problems = ConfigProblems()
    for key in ("debounceMs", "debounce-ms", "debounce_ms"):
        assert merge(Settings(), {key: 7}, "x", KNOWN, problems).debounce_ms == 7
    assert not problems


def test_problems_are_reported_never_fatal() -> None:
    problems = ConfigProblems()
    settings = merge(
        Settings(),
        {
            "rules": {"nope": True, "lost-cancel": "yes"},
            "severity": {"lost-cancel": "loud", "unclosed-rows": "info"},
            "debounceMs": -5,
            "exclude": 3,
            "colour": "blue",
        },
        "client",
        KNOWN,
        problems,
    )
    text = "\n".join(problems.messages)
    for expected in ("'nope'", "rules.lost-cancel", "loud", "debounceMs", "exclude", "colour"):
        assert expected in text
    assert settings.severity == {"unclosed-rows": Severity.INFORMATION}
    assert settings.rules == {}
    assert merge(Settings(), ["not", "a", "table"], "client", KNOWN, problems) == Settings()  # type: ignore[arg-type]


def test_config_file_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".golsp-leaks.toml").write_text('exclude = ["gen/**"]\n[severity]\nlost-cancel = "error"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    problems = ConfigProblems()
    settings, path = load_settings(deep, KNOWN, problems)
    assert path == tmp_path / ".golsp-leaks.toml"
    assert settings.severity == {"lost-cancel": Severity.ERROR}
    assert settings.is_excluded("gen/x/y.go")
    assert not settings.is_excluded("src/gen.go")


def test_broken_config_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / ".golsp-leaks.toml").write_text("rules = [\n")
    problems = ConfigProblems()
    settings, _ = load_settings(tmp_path, KNOWN, problems)
    assert settings == Settings()
    assert problems and "cannot read" in problems.messages[0]


def test_exclude_globs() -> None:
    s = Settings(exclude=("**/*_gen.go", "vendorish/", "internal/mocks/*"))
    assert s.is_excluded("a/b/c_gen.go")
    assert s.is_excluded("c_gen.go")
    assert s.is_excluded("vendorish/x/y.go")
    assert s.is_excluded("internal/mocks/m.go")
    assert not s.is_excluded("internal/real/m.go")


def test_docs_url_is_merged_like_the_other_scalars() -> None:
    problems = ConfigProblems()
    assert Settings().docs_url is None  # the default: links to the rules' pages
    low = merge(Settings(), {"docs-url": "https://a.example/rules/"}, "file", KNOWN, problems)
    assert low.docs_url == "https://a.example/rules/"
    assert (
        merge(low, {"debounceMs": 5}, "init", KNOWN, problems).docs_url
        == "https://a.example/rules/"
    )
    assert merge(low, {"docsUrl": ""}, "client", KNOWN, problems).docs_url == ""
    assert not problems
    assert (
        merge(low, {"docs_url": 3}, "client", KNOWN, problems).docs_url
        == "https://a.example/rules/"
    )
    assert "'docsUrl' must be a URL string" in problems.messages[0]
