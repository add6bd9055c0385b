"""Keeping configured secrets out of what we say about a server.

A server's `env` and `http_headers` usually carry tokens, and what goes wrong with a server
(its stderr, an exception text, a URL) can repeat them. Every text about a server that
leaves this package (status, log line, call output) goes through its `Redactor`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["MASK", "Redactor", "mask_secrets_in_logs"]

MASK = "***"
# Shorter values ("1", "true") are settings, not secrets, and masking them would garble text.
_MIN_SECRET_LENGTH = 4


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {s for s in secrets if len(s.strip()) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class _SecretLogFilter(logging.Filter):
    """Masks every registered secret in the records of the loggers it is attached to.

    Our own messages are masked where they are made; this covers the SDK's, which may quote
    what a server printed (a line of stdout that was not JSON, an HTTP error body).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._redactor = Redactor(())

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(secrets)
        self._redactor = Redactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = self._redactor(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            exc_text = self._redactor(record.exc_text)
            if exc_text != record.exc_text:
                record.exc_text, record.exc_info = exc_text, None
        return True


_LOG_FILTER = _SecretLogFilter()
# The SDK's client side logs under `mcp.*`, its session under `client`, its HTTP client
# under `httpx2`; ours is `agentls.mcp`.
_LOGGER_ROOTS = ("mcp", "client", "httpx2", "agentls.mcp")


def mask_secrets_in_logs(secrets: Iterable[str]) -> None:
    """Registers secrets to be masked in every log record of the MCP client code."""
    _LOG_FILTER.add(s for s in secrets if len(s.strip()) >= _MIN_SECRET_LENGTH)
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and any(name == root or name.startswith(root + ".") for root in _LOGGER_ROOTS)
    ]
    for name in (*_LOGGER_ROOTS, *names):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)
