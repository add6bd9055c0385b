"""What the safety tests share: a script as the model's shell call passes it."""

from __future__ import annotations


def sh(script: str) -> list[str]:
    return ["bash", "-lc", script]
