"""The user's own repository and configuration are never touched nor obeyed.

The environment is made hostile on purpose: GIT_DIR and GIT_INDEX_FILE point at the user's
repository (as when the server is started from a git hook), the user's global config sets
hooks, an fsmonitor program, CRLF conversion and a clean/smudge filter, each of which would
leave a trace or change bytes if the shadow repository obeyed it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.agentls.checkpoints.workspace_files import hash_dir, sh, tree_entries, tree_state, write

from agentls.checkpoints import ShadowRepo


def git(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture
def hostile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    traces = tmp_path / "traces"
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    traces.mkdir()
    for hook in ("pre-commit", "post-index-change", "reference-transaction", "post-checkout"):
        write(hooks, hook, f"#!/bin/sh\ntouch {traces}/{hook}\n", mode=0o755)
    write(home, "fsmonitor.sh", f"#!/bin/sh\ntouch {traces}/fsmonitor\n", mode=0o755)
    (home / ".gitconfig").write_text(
        "[core]\n"
        f"\thooksPath = {hooks}\n"
        f"\tfsmonitor = {home}/fsmonitor.sh\n"
        "\tautocrlf = true\n"
        '[filter "upper"]\n'
        "\tclean = tr a-z A-Z\n"
        "\tsmudge = tr A-Z a-z\n"
        "\trequired = true\n"
        "[user]\n\tname = U\n\temail = u@example.com\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return traces


def test_users_repository_is_byte_for_byte_unchanged(
    state_dir: Path, workspace: Path, hostile_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    git(workspace, "init", "-q", env=env)
    write(workspace, "committed.txt", "v1\r\nline two\r\n")
    write(workspace, ".gitattributes", "* text=auto eol=crlf\n*.dat filter=upper\n")
    write(workspace, "data.dat", "lower case stays lower\n")
    git(workspace, "add", "-A", env=env)
    git(workspace, "commit", "-q", "--no-verify", "-m", "first", env=env)
    write(workspace, "committed.txt", "v2 staged\r\n")
    git(workspace, "add", "committed.txt", env=env)
    write(workspace, "untracked.txt", "not added\n")
    user_git = hash_dir(workspace / ".git")
    for leftover in hostile_home.iterdir():
        leftover.unlink()  # the user's own commit ran the user's hooks; that is not us
    monkeypatch.setenv("GIT_DIR", str(workspace / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(workspace / ".git/index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(workspace))

    repo = ShadowRepo(state_dir, workspace)
    original = tree_state(workspace)
    before = repo.snapshot().tree
    sh(
        workspace,
        "printf 'v3\\r\\n' > committed.txt && echo 'new lower' > data.dat && rm untracked.txt"
        " && echo made > made.txt",
    )
    after = repo.snapshot().tree
    diff = repo.diff(before, after)
    repo.mark("turn-1/before", before)
    result = repo.restore(before, after)
    repo.gc()

    assert result.skipped == []
    assert tree_state(workspace) == original  # CRLF and lower case kept, byte for byte
    assert hash_dir(workspace / ".git") == user_git
    assert sorted(p.name for p in hostile_home.iterdir()) == []  # no hook, no fsmonitor ran
    assert ".git/HEAD" not in tree_entries(repo, before)
    assert not any(path.startswith(".git/") for path in tree_entries(repo, before))
    assert "+v3\r\n" in diff.diff
    assert Path(os.environ["GIT_DIR"]) == workspace / ".git"  # the caller's env is left alone


def test_shadow_repository_lives_in_the_state_folder_only(
    repo: ShadowRepo, state_dir: Path, workspace: Path
) -> None:
    write(workspace, "a.txt", "a\n")
    repo.snapshot()

    assert repo.git_dir == state_dir.resolve() / "checkpoints.git"
    assert (repo.git_dir / "index").is_file()
    assert sorted(os.listdir(workspace)) == ["a.txt"]


def test_the_copies_of_the_files_are_private(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "secret.txt", "s\n")
    repo.snapshot()

    assert repo.git_dir.stat().st_mode & 0o777 == 0o700
