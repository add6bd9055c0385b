"""Storage faults through the real server: a full disk, a deleted folder, planted links."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.fake_api import FakeModelAPI
from pygls.exceptions import JsonRpcException
from tests.agentls.rollout.reference_reader import read_rollout
from tests.e2e.conftest import Starter
from tests.e2e.harness import server_env
from tests.helpers import wait_for

from agentls.rollout.paths import WorkspaceLayout


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs to fill up; the test is skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    return filler


async def test_disk_full_mid_session_fails_the_turn_and_loses_nothing_after(
    start: Starter, api: FakeModelAPI, small_disk: Path, workspace: Path
) -> None:
    home = small_disk / "state"
    agent = await start(env=server_env(home, api.base_url))
    first = await agent.send("before the disk fills")
    assert first["status"] == "completed"
    filler = fill(small_disk)
    # longer than the slack left in the file's last page, so the write must fail
    full = await agent.send("while the disk is full " + "x" * 20_000)
    assert full["status"] == "failed", full
    assert "no space left on device" in full["error"]["message"]
    end = await agent.wait_event("turnCompleted", lambda e: e["turnId"] == full["turnId"])
    assert end["status"] == "failed"
    filler.unlink()
    after = await agent.send("after space is back")
    assert after["status"] == "completed", after
    path = WorkspaceLayout.for_path(home, workspace).find_session(first["sessionId"])
    assert path is not None
    rollout = read_rollout(path)
    texts = [
        part.get("text")
        for item in rollout.items
        for part in item.get("content", [])
        if isinstance(part, dict)
    ]
    assert "before the disk fills" in texts and "after space is back" in texts
    assert "You said: after space is back" in texts
    # the torn line (if the disk filled mid-line) was ended: every later record is whole
    resumed = await agent.request("agent/resume", {"sessionId": first["sessionId"]})
    assert resumed["history"][-1]["text"] == "You said: after space is back"


async def test_deleted_sessions_folder_is_recreated_and_the_user_told(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    agent = await start()
    first = await agent.send("one")
    layout = WorkspaceLayout.for_path(home, workspace)
    await agent.request("agent/listSessions", {})  # the folder is watched from here on
    shutil.rmtree(layout.sessions_dir)
    second = await agent.send("two")
    assert second["status"] == "completed"
    await wait_for(lambda: any("recreated" in m.message for m in agent.client.messages), 10)
    await agent.wait_sessions_changed()
    path = layout.find_session(first["sessionId"])
    assert path is not None
    users = [
        part["text"]
        for item in read_rollout(path).items
        if item.get("role") == "user"
        for part in item["content"]
    ]
    assert users == ["one", "two"]


async def test_links_planted_in_the_home_are_not_followed(
    start: Starter, api: FakeModelAPI, home: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    home.mkdir(mode=0o755)
    os.symlink(outside, home / "workspaces")
    agent = await start()
    with pytest.raises(JsonRpcException, match="symbolic link") as refused:
        await agent.send("hello")
    assert refused.value.code == -33005
    assert list(outside.iterdir()) == []
    assert outside.stat().st_mode & 0o777 == 0o755
    # an existing home keeps its own mode
    assert home.stat().st_mode & 0o777 == 0o755


async def test_an_existing_home_keeps_its_mode(
    start: Starter, api: FakeModelAPI, home: Path
) -> None:
    home.mkdir(mode=0o750)
    os.chmod(home, 0o750)
    agent = await start()
    assert (await agent.send("hello"))["status"] == "completed"
    assert home.stat().st_mode & 0o777 == 0o750
    assert (home / "workspaces").stat().st_mode & 0o777 == 0o700
