"""The server looks a directory's configuration file up once, not on every request, and again
after a settings change or a change of workspace folders (a file may have come or gone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

import golsp_leaks.server.server as server_module
from golsp_leaks.server.server import create_server


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    looked: list[Path] = []
    find = server_module.find_config_file

    def counting(start: Path) -> Path | None:
        looked.append(start)
        return find(start)

    monkeypatch.setattr(server_module, "find_config_file", counting)
    return looked


def test_the_configuration_file_is_looked_up_once_per_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    looked = _counted(monkeypatch)
    server = create_server()
    path = tmp_path / "main.go"
    for _ in range(5):
        assert server.settings_for(path).debounce_ms == 100
    assert looked == [tmp_path]


def test_a_new_configuration_file_is_read_after_a_settings_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    looked = _counted(monkeypatch)
    server = create_server()
    path = tmp_path / "main.go"
    assert server.settings_for(path).debounce_ms == 100
    (tmp_path / ".golsp-leaks.toml").write_text("debounce-ms = 150\n")
    assert server.settings_for(path).debounce_ms == 100  # from the cache: not looked up again
    server.settings_changed()  # didChangeConfiguration
    assert server.settings_for(path).debounce_ms == 150
    (tmp_path / "deeper").mkdir()
    deeper = tmp_path / "deeper" / "main.go"
    assert server.settings_for(deeper).debounce_ms == 150
    (tmp_path / "deeper" / ".golsp-leaks.toml").write_text("debounce-ms = 170\n")
    handler = server.protocol.fm.features[types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS]
    handler(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[], removed=[])
        ),
    )
    assert server.settings_for(deeper).debounce_ms == 170
    assert server.settings_for(path).debounce_ms == 150
    (tmp_path / ".golsp-leaks.toml").unlink()  # a file removed is noticed: looked up again
    assert server.settings_for(path).debounce_ms == 100
    assert looked.count(tmp_path) == 4


def test_a_configuration_file_found_after_another_was_removed_is_read_when_it_changes(tmp_path: Path) -> None:
    server = create_server()
    (tmp_path / ".golsp-leaks.toml").write_text("debounce-ms = 150\n")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".golsp-leaks.toml").write_text("debounce-ms = 170\n")
        assert server.settings_for(tmp_path / name / "main.go").debounce_ms == 170
    (tmp_path / "a" / ".golsp-leaks.toml").unlink()
    assert server.settings_for(tmp_path / "a" / "main.go").debounce_ms == 150  # the one above instead
    (tmp_path / ".golsp-leaks.toml").write_text("debounce-ms = 190\n")
    (tmp_path / "b" / ".golsp-leaks.toml").unlink()
    assert server.settings_for(tmp_path / "b" / "main.go").debounce_ms == 190  # its new text, not the old
