"""Real workspaces on disk, a real shadow repository, and a few ways to look at both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentls.checkpoints import ShadowRepo

MakeRepo = Callable[..., ShadowRepo]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_repo(state_dir: Path, workspace: Path) -> MakeRepo:
    def make(*, max_file_mb: float = 10.0, max_files: int = 100_000) -> ShadowRepo:
        return ShadowRepo(state_dir, workspace, max_file_mb=max_file_mb, max_files=max_files)

    return make


@pytest.fixture
def repo(make_repo: MakeRepo) -> ShadowRepo:
    return make_repo()
