"""The end-to-end fixtures (a strict fake API, a workspace, servers started against them)."""

from tests.e2e.conftest import api, home, start, workspace

__all__ = ["api", "home", "start", "workspace"]
