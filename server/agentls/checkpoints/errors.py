"""The one exception the checkpoint engine raises; its message is meant for the user."""

from __future__ import annotations


class CheckpointError(Exception):
    """Checkpoints cannot be taken or restored; the message says what to do about it."""
