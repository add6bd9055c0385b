from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentls.agent.approvals import needs_approval
from agentls.config.settings import ApprovalPolicy
from agentls.tools.safety import git_safe_env


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A repository whose config makes `git status` run a program, and the file it makes."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    marker = Path(f"/tmp/pwned-{uuid.uuid4()}")
    _git(repo, "config", "core.fsmonitor", f"touch {marker}")
    yield repo, marker
    marker.unlink(missing_ok=True)


def test_read_only_commands_run_unasked_under_ask_unsafe(tmp_path: Path) -> None:
    assert not needs_approval(ApprovalPolicy.ASK_UNSAFE, ["ls", "-la"], set(), tmp_path)
    assert not needs_approval(ApprovalPolicy.ASK_UNSAFE, ["bash", "-lc", "pwd"], set())


def test_unsafe_commands_are_asked_unless_approved_for_the_session() -> None:
    argv = ["bash", "-lc", "touch x"]
    assert needs_approval(ApprovalPolicy.ASK_UNSAFE, argv, set())
    assert not needs_approval(ApprovalPolicy.ASK_UNSAFE, argv, {tuple(argv)})


def test_policies_override_classification() -> None:
    assert needs_approval(ApprovalPolicy.ALWAYS_ASK, ["ls"], set())
    assert not needs_approval(ApprovalPolicy.NEVER_ASK, ["rm", "-rf", "x"], set())


def test_the_ansi_c_quote_bypass_is_asked() -> None:
    argv = ["bash", "-lc", "echo $'\\'' ; touch /tmp/x # '"]
    assert needs_approval(ApprovalPolicy.ASK_UNSAFE, argv, set())


def test_git_in_a_repository_with_an_fsmonitor_is_asked(
    hostile_repo: tuple[Path, Path],
) -> None:
    repo, marker = hostile_repo
    assert needs_approval(ApprovalPolicy.ASK_UNSAFE, ["git", "status"], set(), repo)
    # The same command in a clean repository runs unasked.
    clean = repo.parent / "clean"
    clean.mkdir()
    _git(clean, "init", "-q")
    assert not needs_approval(ApprovalPolicy.ASK_UNSAFE, ["git", "status"], set(), clean)
    assert not marker.exists()


def test_git_safe_env_keeps_the_hostile_fsmonitor_from_running(
    hostile_repo: tuple[Path, Path],
) -> None:
    repo, marker = hostile_repo
    env = {**os.environ, **git_safe_env()}
    done = subprocess.run(["git", "status"], cwd=repo, env=env, capture_output=True, check=False)
    assert done.returncode == 0
    assert not marker.exists()
    # The repository really is hostile: without the overrides, git runs the program.
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=False)
    assert marker.exists()
