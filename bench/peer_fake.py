"""The strict fake model API in a process of its own, set up for the Codex app-server.

Child: `python -m bench.peer_fake --api-key K` prints `listening <base_url>`, then reads one
command per line on stdin and answers one JSON line:
- `stats`: requests since the last stats and every rejection so far;
- `exec <text> <json argv-string>`: the next request whose newest user message is exactly
  `<text>` (rest of the line up to the first tab) gets one `exec_command` call of that
  command (Codex's shell tool; the fake's own `run:` rule calls a `shell` tool Codex does not
  have). Answers `{"ok": true}`;
- `quit`.

Two differences from `python -m fixtures.fake_api`, both so that Codex 0.171 gets through a
conversation at all; neither makes a request cheaper to serve:
- Codex sends `store: false` and still sends back the ids of the output items the fake gave
  it; the fake (like the Responses service for reasoning items) refuses ids it was told not
  to keep. The peer's fake keeps no list of such ids, so those items are accepted.
- the `exec` rule above.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def _make_api(api_key: str | None) -> Any:
    from fixtures.fake_api import FakeModelAPI
    from fixtures.fake_api.replies import CallItem, Reply, RequestView

    class PeerFakeAPI(FakeModelAPI):
        def _remember(self, stream: Any) -> None:
            super()._remember(stream)
            self._unstored_ids.clear()

        def exec_once(self, text: str, command: str) -> None:
            def matches(view: RequestView) -> bool:
                return view.last_item_type == "message" and view.last_user_text == text

            call = CallItem("exec_command", {"cmd": command, "yield_time_ms": 30_000})
            self.when(matches, Reply([call]), times=1)

    return PeerFakeAPI(api_key=api_key)


async def _child(api_key: str | None) -> None:
    api = _make_api(api_key)
    await api.start()
    total = 0
    print(f"listening {api.base_url}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command, _, rest = line.decode().rstrip("\n").partition(" ")
            out: dict[str, Any]
            if command == "quit":
                break
            if command == "stats":
                new = len(api.requests)
                total += new
                api.requests.clear()
                out = {"requests": new, "total": total, "rejected": api.rejected}
            elif command == "exec":
                text, _, shell = rest.partition("\t")
                api.exec_once(text, shell)
                out = {"ok": True}
            else:
                out = {"error": f"unknown command {command!r}"}
            sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
            sys.stdout.flush()
    finally:
        await api.stop()


class PeerFakeProcess:
    """Parent side: start the child, read its address, send it commands."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self._lock = asyncio.Lock()

    async def start(self) -> PeerFakeProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.peer_fake",
            "--api-key",
            self.api_key,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=str(ROOT),
            env=env,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        text = line.decode().strip()
        if not text.startswith("listening "):
            raise RuntimeError(f"fake API did not start: {text!r}")
        self.base_url = text.split(" ", 1)[1]
        return self

    async def command(self, line: str) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        async with self._lock:
            process.stdin.write(line.encode() + b"\n")
            await process.stdin.drain()
            answer = await asyncio.wait_for(process.stdout.readline(), 30)
        result: dict[str, Any] = orjson.loads(answer)
        return result

    async def stats(self) -> dict[str, Any]:
        return await self.command("stats")

    async def exec_once(self, text: str, shell: str) -> None:
        if "\t" in text or "\n" in text or "\n" in shell:
            raise ValueError("text and command must be one line, text without tabs")
        await self.command(f"exec {text}\t{shell}")

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.write(b"quit\n")
            await process.stdin.drain()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> PeerFakeProcess:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_fake")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    asyncio.run(_child(args.api_key))


if __name__ == "__main__":
    main()
