"""A strict fake of the OpenAI model API for tests and benchmarks."""

from .replies import CallItem, CutStream, HttpError, Reply, Stall, TextItem
from .server import FakeModelAPI

__all__ = ["CallItem", "CutStream", "FakeModelAPI", "HttpError", "Reply", "Stall", "TextItem"]
