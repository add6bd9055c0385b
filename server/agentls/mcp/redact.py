"""Keeping configured secrets out of what we say about a server.

A server's `env` and `http_headers` usually carry tokens, and what goes wrong with a server
(its stderr, an exception text, a URL) can repeat them. Every text about a server that
leaves this package (status, log line, call output) goes through its `Redactor`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MASK", "Redactor"]

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
