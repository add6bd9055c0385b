import os
import stat
from pathlib import Path

import pytest
from tests.agentls.rollout.reference_reader import read_rollout

from agentls.rollout.writer import RolloutWriter, SessionLockedError


def test_new_file_is_private_and_lines_are_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    writer = RolloutWriter(path, create=True)
    writer.append("session_meta", {"id": "x"})
    writer.append("response_item", {"type": "message", "role": "user", "content": "é" * 10})
    writer.sync()
    writer.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = path.read_bytes()
    assert data.count(b"\n") == 2
    assert data.endswith(b"\n")
    assert read_rollout(path).items[0]["content"] == "é" * 10


def test_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = RolloutWriter(path, create=True)
    with pytest.raises(SessionLockedError, match="another agentls server"):
        RolloutWriter(path, create=False)
    first.close()
    second = RolloutWriter(path, create=False)
    second.close()


def test_append_after_torn_line_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    writer = RolloutWriter(path, create=True)
    writer.append("session_meta", {"id": "x"})
    writer.close()
    with path.open("ab") as fh:
        fh.write(b'{"timestamp": "t", "type": "response_it')
    writer = RolloutWriter(path, create=False)
    writer.append("response_item", {"type": "message", "role": "user", "content": "after"})
    writer.close()
    rollout = read_rollout(path)
    assert [i["content"] for i in rollout.items] == ["after"]
    assert any("not valid JSON" in w for w in rollout.warnings)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    writer = RolloutWriter(path, create=True, secrets=["sk-very-secret-key"])
    writer.append(
        "response_item", {"type": "function_call_output", "output": "KEY=sk-very-secret-key"}
    )
    writer.close()
    data = path.read_bytes()
    assert b"sk-very-secret-key" not in data
    assert b"[REDACTED]" in data
