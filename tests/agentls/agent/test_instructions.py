"""AGENTS.md discovery and composition, on real folder trees."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from agentls.agent.instructions import (
    PROJECT_DOC_SEPARATOR,
    ProjectInstructions,
    compose_instructions,
    find_instruction_files,
    load_project_instructions,
)


def _tree(root: Path) -> Path:
    (root / ".git").mkdir()
    workspace = root / "packages" / "web"
    workspace.mkdir(parents=True)
    (root / "AGENTS.md").write_text("root rules")
    (root / "packages" / "AGENTS.md").write_text("packages rules")
    (root / "packages" / "AGENTS.override.md").write_text("packages override")
    (workspace / "AGENTS.md").write_text("web rules")
    return workspace


def test_root_down_to_workspace_with_override_winning(tmp_path: Path) -> None:
    workspace = _tree(tmp_path)
    loaded = load_project_instructions(workspace)
    assert loaded.text == "root rules\n\npackages override\n\nweb rules"
    assert loaded.files == [
        tmp_path / "AGENTS.md",
        tmp_path / "packages" / "AGENTS.override.md",
        workspace / "AGENTS.md",
    ]
    assert not loaded.truncated


def test_nothing_above_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("outside the repo")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    (repo / "AGENTS.md").write_text("repo rules")
    assert load_project_instructions(repo).text == "repo rules"


def test_without_a_repository_only_the_workspace_counts(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("parent")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    assert load_project_instructions(workspace) == ProjectInstructions("", [], False)
    (workspace / "AGENTS.md").write_text("mine")
    assert load_project_instructions(workspace).text == "mine"


def test_empty_files_and_folders_named_like_the_file_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("  \n\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "AGENTS.override.md").mkdir()
    (sub / "AGENTS.md").write_text("sub rules")
    loaded = load_project_instructions(sub)
    assert loaded.text == "sub rules"
    assert loaded.files == [sub / "AGENTS.md"]
    assert find_instruction_files(sub) == [tmp_path / "AGENTS.md", sub / "AGENTS.md"]


def test_budget_cuts_with_a_visible_mark(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("a" * 30_000)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "AGENTS.md").write_text("é" * 5_000)  # two bytes each: the cut lands mid-character
    deeper = sub / "deeper"
    deeper.mkdir()
    (deeper / "AGENTS.md").write_text("never read")
    loaded = load_project_instructions(deeper)
    assert loaded.truncated
    body, mark = loaded.text.split("\n\n[truncated:")
    assert "32 KiB" in mark
    assert body.startswith("a" * 30_000 + "\n\n")
    assert len(body.encode()) <= 32 * 1024 + 2
    assert "never read" not in loaded.text
    assert loaded.files == [tmp_path / "AGENTS.md", sub / "AGENTS.md"]


def test_compose(tmp_path: Path) -> None:
    project = ProjectInstructions("project", [tmp_path / "AGENTS.md"], False)
    assert compose_instructions("base", project) == "base" + PROJECT_DOC_SEPARATOR + "project"
    assert compose_instructions(None, project) == "project"
    assert compose_instructions("base", ProjectInstructions()) == "base"
    assert compose_instructions(None, ProjectInstructions()) is None


def _repo(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    return root


@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/stdin", "/dev/zero"])
def test_a_link_to_the_kernel_is_never_read(tmp_path: Path, target: str) -> None:
    repo = _repo(tmp_path)
    (repo / "AGENTS.md").symlink_to(target)
    assert find_instruction_files(repo) == []
    assert load_project_instructions(repo) == ProjectInstructions("", [], False)


def test_a_link_chain_out_of_the_repository_is_not_followed(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    (tmp_path / "secret.txt").write_text("not the repository's to give")
    (repo / "docs").mkdir()
    (repo / "docs" / "hop.md").symlink_to(tmp_path / "secret.txt")
    (repo / "AGENTS.override.md").symlink_to("docs/hop.md")
    (repo / "AGENTS.md").write_text("the plain file")
    # the override leads out: it does not count, and the plain file is used instead
    assert find_instruction_files(repo) == [repo / "AGENTS.md"]
    assert load_project_instructions(repo).text == "the plain file"


def test_a_link_inside_the_repository_is_followed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "docs").mkdir()
    (repo / "docs" / "agents.md").write_text("shared rules")
    (repo / "AGENTS.md").symlink_to("docs/agents.md")
    assert load_project_instructions(repo).text == "shared rules"


def test_special_files_are_skipped_without_blocking(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    os.mkfifo(repo / "AGENTS.override.md")
    sub = repo / "sub"
    sub.mkdir()
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(sub / "AGENTS.md"))
        (repo / "AGENTS.md").write_text("root rules")
        loaded = load_project_instructions(sub)
    finally:
        listening.close()
    assert loaded.text == "root rules"
    assert loaded.files == [repo / "AGENTS.md"]


def test_a_huge_file_is_read_only_up_to_the_budget(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with (repo / "AGENTS.md").open("wb") as out:
        out.write(b"rule\n")
        out.truncate(400 << 20)  # sparse: 400 MiB
    started = time.perf_counter()
    loaded = load_project_instructions(repo)
    assert time.perf_counter() - started < 1
    assert loaded.truncated and loaded.text.startswith("rule\n")
    assert len(loaded.text.encode()) < 33 * 1024
