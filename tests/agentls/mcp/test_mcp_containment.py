"""After a SIGKILL of the process that owns the MCP servers, nothing they started is left."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tests.agentls.mcp.mcp_helpers import OWNER
from tests.helpers import file_text, pids_with_marker, wait_for


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "reaper-only"])
async def test_sigkill_of_the_owner_leaves_no_server_process(tmp_path: Path, sandbox: bool) -> None:
    token = f"mcp-child-{uuid.uuid4().hex}"
    ready = tmp_path / "ready"
    argv = [sys.executable, str(OWNER), token, str(ready)]
    if not sandbox:
        argv.append("--no-sandbox")
    repo = Path(__file__).resolve().parents[3]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo / "server"), env.get("PYTHONPATH")]))
    owner = await asyncio.create_subprocess_exec(*argv, env=env, stderr=subprocess.DEVNULL)
    try:
        await wait_for(lambda: file_text(ready), 20, what="the child to be ready")
        assert pids_with_marker(token)
        owner.send_signal(signal.SIGKILL)
        await owner.wait()
        await wait_for(lambda: not pids_with_marker(token), 20, what="the child to be gone")
    finally:
        if owner.returncode is None:
            owner.kill()
            await owner.wait()
        for survivor in pids_with_marker(token):  # only after a failure: leave nothing behind
            with contextlib.suppress(OSError):
                os.kill(survivor, signal.SIGKILL)
