"""Installing and starting `@zed-industries/codex-acp`, the ACP peer `make bench` measures.

codex-acp is Zed's ACP adapter around Codex's core (a Rust crate linked into one native
binary, not the Codex CLI). Like `@openai/codex`, its npm package carries the binary in a
per-platform optional dependency (`@zed-industries/codex-acp-linux-x64`, ...), so it is
installed once, pinned, into a cache outside the repository
(`${XDG_CACHE_HOME:-~/.cache}/agentls-bench/codex-acp-<version>`), and nothing is fetched
when it runs. It reads the same `-c` overrides as the Codex CLI, so it is pointed at the
fake model API the way bench/codex_app.py points the app-server there (a custom provider,
which also means no login is asked for: codex-acp only checks auth for the `openai`
provider), with a CODEX_HOME of its own per run.

How the peer is steered and what it writes to disk are the app-server bench's: its fake
(bench/peer_fake.py) answers a given message with one `exec_command` call, and a long
session is grown from a turn codex-acp wrote itself (bench/codex_rollout.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.acp_bench import Place
from bench.acp_client import AcpClient
from bench.codex_app import cache_dir as codex_cache_dir
from bench.codex_app import codex_env, provider_args
from bench.codex_bench import API_KEY, OUTPUT_COMMAND
from bench.codex_rollout import grow, rollout_file
from bench.peer_fake import PeerFakeProcess

PACKAGE = "@zed-industries/codex-acp"
VERSION = "0.16.0"  # pinned: the figures are this version's


def cache_dir() -> Path:
    return codex_cache_dir().parent / f"codex-acp-{VERSION}"


@dataclass(frozen=True)
class CodexAcpInstall:
    binary: Path  # the native executable
    launcher: Path  # bin/codex-acp.js, what `npx @zed-industries/codex-acp` runs through node
    node: str | None
    version: str


def _found(folder: Path) -> CodexAcpInstall | None:
    binaries = sorted(folder.glob("node_modules/@zed-industries/codex-acp-*/bin/codex-acp"))
    if not binaries or not os.access(binaries[0], os.X_OK):
        return None
    try:
        meta = orjson.loads((binaries[0].parent.parent / "package.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    launcher = folder / "node_modules/@zed-industries/codex-acp/bin/codex-acp.js"
    return CodexAcpInstall(binaries[0], launcher, shutil.which("node"), str(meta.get("version")))


def ensure_codex_acp(install: bool = True, timeout_s: float = 300) -> CodexAcpInstall | str:
    """The installed peer, installing it first when allowed; else why it is not available."""
    folder = cache_dir()
    found = _found(folder)
    if found is not None:
        return found
    if not install:
        return f"not installed in {folder} (and --no-peer-install)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found"
    folder.mkdir(parents=True, exist_ok=True)
    spec = f"{PACKAGE}@{VERSION}"
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), spec],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"npm install {spec} took over {timeout_s:.0f} s"
    except OSError as exc:
        return f"npm could not run: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"npm install {spec} failed: {' / '.join(tail)}"
    found = _found(folder)
    if found is None:
        return f"{spec} installed but no native binary for this platform in {folder}"
    return found


class CodexAcp:
    """codex-acp as the ACP bench starts and steers it (the `AcpPeer` of bench/acp_bench.py)."""

    name = "codex-acp"

    def __init__(self, install: CodexAcpInstall, api: PeerFakeProcess) -> None:
        self.install = install
        self.api = api
        codex_cache_dir().parent.mkdir(parents=True, exist_ok=True)
        # Not under /tmp: Codex refuses to set up its helper links in a temporary folder.
        self.root = Path(tempfile.mkdtemp(prefix="acp-homes-", dir=codex_cache_dir().parent))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh(self, name: str) -> Place:
        base = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        workspace = base / "project"
        workspace.mkdir()
        env = codex_env(base / "home", API_KEY)
        return Place(workspace, env, base / "agent.stderr", base / "home")

    def command(self, launcher: bool = False) -> list[str]:
        args = provider_args(self.api.base_url)
        if launcher and self.install.node is not None:
            return [self.install.node, str(self.install.launcher), *args]
        return [str(self.install.binary), *args]

    async def steer_command(self, tag: str, command: str) -> str:
        """The prompt whose model answer is one `exec_command` call of `command`."""
        text = f"run the command for {tag}"
        await self.api.exec_once(text, command)
        return text

    async def big_session(self, place: Place, items: int) -> tuple[str, int]:
        """A session of about `items` response items in `place`'s CODEX_HOME: one real turn
        with a ~1 KB command output, written by codex-acp, copied until big enough."""
        client = AcpClient()
        await client.start(self.command(), place.env, place.workspace, place.stderr)
        try:
            await client.initialize()
            session_id = await client.new_session(place.workspace)
            if await client.prompt(session_id, "hello") != "end_turn":
                raise RuntimeError("the first turn of the template session did not end")
            text = await self.steer_command("the notes", OUTPUT_COMMAND)
            if await client.prompt(session_id, text) != "end_turn":
                raise RuntimeError("the template turn did not end")
        finally:
            await client.close()
        path = rollout_file(place.home, session_id)
        turns, _sizes = grow(path, session_id, items)
        return session_id, turns

    async def rejected(self) -> int:
        return len((await self.api.stats())["rejected"])
