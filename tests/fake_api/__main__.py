"""Run the fake standalone, for benchmarks and poking at a client by hand.

Prints `listening <base_url>` so a parent process can read the address from stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import FakeModelAPI


async def _serve(port: int, api_key: str | None) -> None:
    api = FakeModelAPI(api_key=api_key, port=port)
    await api.start()
    print(f"listening {api.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_api", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.api_key))


if __name__ == "__main__":
    main()
