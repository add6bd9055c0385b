"""A strict fake of the OpenAI model API for tests and benchmarks."""

from .replies import CallItem, CutStream, HttpError, Malformed, Reply, SlowStart, Stall, TextItem
from .server import FakeModelAPI

__all__ = [
    "CallItem",
    "CutStream",
    "FakeModelAPI",
    "HttpError",
    "Malformed",
    "Reply",
    "SlowStart",
    "Stall",
    "TextItem",
]
