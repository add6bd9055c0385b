"""The strict fake model API in a process of its own, set up for the Codex app-server.

Child: `python -m bench.peer_fake --api-key K` prints `listening <base_url>`, then reads one
command per line on stdin and answers one JSON line:
- `stats`: requests since the last stats, every rejection so far, and the time the fake
  took to serve each request since the last stats (as bench/fake_proc.py);
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
import sys
from pathlib import Path
from typing import Any

import orjson

from bench.fake_proc import FakeAPIProcess, stats_line, timed_api

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

    return timed_api(api_key, PeerFakeAPI)


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
                out, total = stats_line(api, total)
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


class PeerFakeProcess(FakeAPIProcess):
    """Parent side: start the child, read its address, send it commands."""

    module = "bench.peer_fake"

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)

    async def exec_once(self, text: str, shell: str) -> None:
        if "\t" in text or "\n" in text or "\n" in shell:
            raise ValueError("text and command must be one line, text without tabs")
        await self.command(f"exec {text}\t{shell}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_fake")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    asyncio.run(_child(args.api_key))


if __name__ == "__main__":
    main()
