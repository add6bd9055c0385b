"""The fake model API with one scripted rule: a message starting "mcp-echo:" makes the model call
the fixture MCP server's `echo` tool (server "fix") with "hello from mcp"; everything else
answers by the default rules (the request after the call's output included).

Run like `python -m fixtures.fake_api` (same options; prints `listening <base_url>`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from fixtures.fake_api import CallItem, FakeModelAPI, Reply
from fixtures.fake_api.__main__ import serve_until_stopped
from fixtures.fake_api.replies import RequestView

TRIGGER = "mcp-echo:"


def _asks_for_echo(view: RequestView) -> bool:
    # only the user's message asks: the request after the call's output gets the default reply
    return view.last_user_text.startswith(TRIGGER) and view.last_item_type == "message"


async def _serve(port: int, api_key: str | None) -> None:
    api = FakeModelAPI(api_key=api_key, port=port)
    for _ in range(20):  # each rule answers once: every call gets its own id
        api.when(
            _asks_for_echo, Reply([CallItem("mcp__fix__echo", {"text": "hello from mcp"})]), times=1
        )
    await serve_until_stopped(api)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.api_key))


if __name__ == "__main__":
    main()
