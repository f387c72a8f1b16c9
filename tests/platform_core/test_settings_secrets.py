"""Generated secrets in a data directory that several processes share: the second process to
start reads the first one's key instead of failing (two console processes of one deployment
start together)."""

from __future__ import annotations

from pathlib import Path

from platform_core import settings as settings_module


def test_a_secret_made_by_another_process_meanwhile_is_read(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ami_secret"
    path.write_text("made-by-the-other-process")
    real_exists = Path.exists
    # the race: the file was not there when this process looked, and is when it creates it
    monkeypatch.setattr(Path, "exists", lambda p: False if p == path else real_exists(p))
    assert settings_module._persisted_secret(path, lambda: "mine") == "made-by-the-other-process"
    assert path.read_text() == "made-by-the-other-process"
