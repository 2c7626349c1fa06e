"""The editor tests' own rules: in CI an editor that cannot be installed fails, never skips."""

from __future__ import annotations

import pytest

from tests.editors import support


def test_strict_in_ci_or_when_asked() -> None:
    assert support.strict({"CI": "true"})
    assert support.strict({"GOLSP_LEAKS_E2E_STRICT": "1"})
    assert support.strict({"CI": "true", "GOLSP_LEAKS_E2E_STRICT": "yes"})
    assert not support.strict({})
    assert not support.strict({"CI": "false"})
    assert not support.strict({"CI": "true", "GOLSP_LEAKS_E2E_STRICT": "0"})


@pytest.mark.parametrize("strict", [True, False])
def test_a_failed_install_fails_when_strict_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    monkeypatch.setattr(support, "STRICT", strict)
    # An unknown target makes .ci/install-editors.sh exit 2, as a failed install does.
    expected = pytest.fail.Exception if strict else pytest.skip.Exception
    with pytest.raises(expected, match="no-such-editor"):
        support.ensure_installed("no-such-editor")
