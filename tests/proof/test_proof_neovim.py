"""Any editor: Neovim's built-in LSP client drives agentls, headless.

`nvim_agent.lua` beside this file sends with `client.request`, cancels a streaming turn
with the client's own `client.cancel_request(id)` after its first textDelta, then a fresh
Neovim resumes the session and goes on. Needs Neovim 0.7+ (Debian 12: `apt-get install
neovim`); skipped without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import FakeModelAPI
from tests.e2e.harness import API_KEY, server_env

SCRIPT = Path(__file__).with_name("nvim_agent.lua")
NVIM = shutil.which("nvim")


def _nvim_version() -> tuple[int, int]:
    if NVIM is None:
        return (0, 0)
    first = subprocess.run(
        [NVIM, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.splitlines()[:1]
    found = re.search(r"v(\d+)\.(\d+)", first[0] if first else "")
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


pytestmark = [
    pytest.mark.skipif(
        _nvim_version() < (0, 7) and os.environ.get("AGENTLS_TEST_REQUIRE_NVIM") != "1",
        reason="needs Neovim 0.7+ as `nvim` on PATH (Debian/Ubuntu: apt-get install -y neovim)",
    ),
    # a real editor, timed by its own clock: alone (`make pytest` runs `serial` tests after the
    # parallel pass)
    pytest.mark.serial,
]


async def run_nvim(phase: str, tmp: Path, workspace: Path, env: dict[str, str]) -> dict[str, Any]:
    assert NVIM is not None
    out = tmp / f"nvim-{phase}.json"
    config = tmp / f"nvim-{phase}-config.json"
    server_keys = ("AGENTLS_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY", "HOME")
    config.write_text(
        json.dumps(
            {
                "phase": phase,
                "python": sys.executable,
                "workspace": str(workspace),
                "out": str(out),
                # the fake API reaches the server through Neovim's cmd_env
                "env": {k: env[k] for k in server_keys},
            }
        )
    )
    nvim_env = {
        k: v
        for k, v in env.items()
        if k not in ("AGENTLS_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY")
    }
    nvim_env["AGENTLS_PROOF_CONFIG"] = str(config)
    nvim_env["XDG_STATE_HOME"] = str(tmp / "nvim-state")
    nvim_env["XDG_CACHE_HOME"] = str(tmp / "nvim-cache")  # lsp.log, with the server's stderr
    process = await asyncio.create_subprocess_exec(
        NVIM,
        "--headless",
        "--clean",
        "-c",
        f"luafile {SCRIPT}",
        cwd=workspace,
        env=nvim_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 90)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"nvim ({phase}) did not finish within 90 s")
    assert out.exists(), f"nvim ({phase}) wrote no result: {output.decode(errors='replace')}"
    result: dict[str, Any] = json.loads(out.read_text())
    if "error" in result:
        logs = sorted(tmp.glob("nvim-cache/**/lsp.log"))
        log = logs[0].read_text(errors="replace")[-4000:] if logs else "(no lsp.log)"
        pytest.fail(f"nvim ({phase}): {result['error']}\n--- lsp.log ---\n{log}")
    return result


def answered_once(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["calls"] == 1, answer
    assert answer.get("err") is None, answer
    result: dict[str, Any] = answer["result"]
    return result


async def test_neovim_sends_cancels_and_resumes(tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    async with FakeModelAPI(api_key=API_KEY) as api:
        env = server_env(tmp_path / "state", api.base_url)

        first = await run_nvim("send", tmp_path, workspace, env)
        assert first["capabilities"]["agent"]["version"] == 1
        hello = answered_once(first["first"])
        assert hello["status"] == "completed"
        assert hello["finalMessage"] == "You said: hello from neovim"
        # cancelled by Neovim's $/cancelRequest after the first delta: answered once, normally
        assert first["cancel_sent_after_deltas"] >= 1
        assert isinstance(first["cancelled"]["id"], int)  # Neovim's own numeric ids
        cancelled = answered_once(first["cancelled"])
        assert cancelled["status"] == "interrupted"
        assert cancelled["finalMessage"].startswith("tick")
        after = answered_once(first["after"])
        assert after["status"] == "completed"
        assert after["sessionId"] == hello["sessionId"] == cancelled["sessionId"]
        assert first["events"].count("turnCompleted") == 3
        assert first["stopped"] is True
        assert first["exit"] == {"code": 0, "signal": 0}

        second = await run_nvim("resume", tmp_path, workspace, env)
        resumed = answered_once(second["resumed"])
        assert resumed["sessionId"] == hello["sessionId"]
        history = resumed["history"]
        users = [h["text"] for h in history if h["role"] == "user"]
        assert users == ["hello from neovim", "slow: 0.05", "after the cancel"]
        assistants = [h["text"] for h in history if h["role"] == "assistant"]
        assert assistants[0] == "You said: hello from neovim"
        assert assistants[1].startswith("tick")  # the partial answer of the cancelled turn
        assert assistants[2] == "You said: after the cancel"
        assert answered_once(second["next_turn"])["status"] == "completed"
        assert second["exit"] == {"code": 0, "signal": 0}
        # every request the fake saw had its history in a shape the real API accepts
        assert api.rejected == []
        assert len(api.requests) == 4  # hello, slow (cancelled), after the cancel, after resume
