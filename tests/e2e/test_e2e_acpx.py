"""`agentls acp` driven by acpx, a headless ACP client nobody here wrote (npm `acpx`).

`make test` installs it and names it in AGENTLS_TEST_ACPX; without that variable these
tests are skipped (a plain `pytest` run on a machine without npm).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from fixtures.fake_api import FakeModelAPI
from tests.e2e.harness import server_env

ACPX = os.environ.get("AGENTLS_TEST_ACPX")
AGENT = f"{sys.executable} -m agentls acp"

pytestmark = pytest.mark.skipif(
    not ACPX, reason="needs acpx (npm); `make test` installs it and sets AGENTLS_TEST_ACPX"
)


async def acpx(workspace: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    assert ACPX is not None and Path(ACPX).exists(), f"AGENTLS_TEST_ACPX={ACPX} is not there"
    process = await asyncio.create_subprocess_exec(
        ACPX,
        "--agent",
        AGENT,
        *args,
        cwd=workspace,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode(errors="replace")


async def test_acpx_runs_a_prompt_with_a_command(
    workspace: Path, home: Path, api: FakeModelAPI
) -> None:
    env = server_env(home, api.base_url)
    code, output = await acpx(workspace, env, "--approve-all", "exec", "run: touch via-acpx.txt")
    assert code == 0, output
    assert (workspace / "via-acpx.txt").exists()
    assert "Tool output" in output
    assert "[done] end_turn" in output
    assert api.rejected == []


async def test_acpx_denies_and_nothing_runs(workspace: Path, home: Path, api: FakeModelAPI) -> None:
    env = server_env(home, api.base_url)
    code, output = await acpx(workspace, env, "--deny-all", "exec", "run: touch denied.txt")
    assert not (workspace / "denied.txt").exists(), output
    assert api.rejected == []
    assert "session/request_permission" in output
    assert "Denied by the user." in output and "[done] end_turn" in output
    assert code != 0  # acpx reports a run that had a denial with its own exit code
