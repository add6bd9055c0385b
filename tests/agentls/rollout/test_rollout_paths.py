import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from agentls.rollout.paths import (
    InvalidSessionIdError,
    WorkspaceLayout,
    check_session_id,
    new_session_id,
    session_file_name,
    session_id_from_file_name,
)


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc",
        "../../etc/passwd",
        "",
        "a" * 36,
        "0b6f3c1e-2d4a-4b8e-9f10-3a2b1c0d9e8f/..",
        "*",
        "0B6F3C1E-2D4A-4B8E-9F10-3A2B1C0D9E8F",
        "0b6f3c1e-2d4a-4b8e-9f10-3a2b1c0d9e8f\n",
    ],
)
def test_path_tricks_are_not_session_ids(bad: str) -> None:
    with pytest.raises(InvalidSessionIdError):
        check_session_id(bad)


def test_file_name_round_trip() -> None:
    sid = new_session_id()
    name = session_file_name(sid, datetime(2026, 11, 21, 15, 24, 5, tzinfo=UTC))
    assert name == f"2026-11-21T15-24-05Z-{sid}.jsonl"
    assert session_id_from_file_name(name) == sid
    assert session_id_from_file_name("notes.txt") is None


def test_layout_is_per_workspace_and_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "proj").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "proj")
    a = WorkspaceLayout.for_path(home, tmp_path / "proj")
    b = WorkspaceLayout.for_path(home, tmp_path / "link")
    c = WorkspaceLayout.for_path(home, tmp_path)
    assert a.root == b.root
    assert a.root != c.root
    assert a.root.name.startswith("proj-")
    a.ensure()
    for folder in (home, a.root, a.sessions_dir):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    marker = a.root / "workspace.json"
    assert stat.S_IMODE(os.stat(marker).st_mode) == 0o600
    assert orjson.loads(marker.read_bytes())["path"] == str((tmp_path / "proj").resolve())
    assert a.find_session(new_session_id()) is None
