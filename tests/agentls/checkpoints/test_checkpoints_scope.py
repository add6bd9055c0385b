"""What a snapshot holds: ignored files, big files, nested repositories, plain folders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.agentls.checkpoints.conftest import MakeRepo
from tests.agentls.checkpoints.workspace_files import hash_dir, sh, tree_entries, write

from agentls.checkpoints import CheckpointError, ShadowRepo


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_a_folder_that_is_not_a_repository(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "a\n")
    snap = repo.snapshot()

    assert tree_entries(repo, snap.tree) == {"a.txt": "100644"}
    assert not (workspace / ".git").exists()
    assert repo.git_dir.parent != workspace


def test_gitignore_files_are_honoured(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, ".gitignore", "*.log\n/build/\n")
    write(workspace, "pkg/.gitignore", "generated.py\n")
    write(workspace, "pkg/generated.py", "x = 1\n")
    write(workspace, "pkg/real.py", "y = 2\n")
    write(workspace, "build/out.o", "obj\n")
    write(workspace, "debug.log", "log\n")
    before = repo.snapshot().tree
    assert sorted(tree_entries(repo, before)) == [".gitignore", "pkg/.gitignore", "pkg/real.py"]

    sh(workspace, "echo more >> debug.log && echo new > build/new.o && echo 3 > pkg/real.py")
    after = repo.snapshot().tree
    assert repo.changed_paths(before, after) == ["pkg/real.py"]

    repo.restore(before, after)

    assert (workspace / "build/new.o").read_text() == "new\n"  # ignored: never touched
    assert (workspace / "debug.log").read_text() == "log\nmore\n"
    assert (workspace / "pkg/real.py").read_text() == "y = 2\n"


def test_the_users_info_exclude_is_honoured(make_repo: MakeRepo, workspace: Path) -> None:
    git(workspace, "init", "-q")
    (workspace / ".git/info").mkdir(exist_ok=True)
    (workspace / ".git/info/exclude").write_text("secret.env\n")
    write(workspace, "secret.env", "TOKEN=1\n")
    write(workspace, "main.py", "pass\n")

    repo = make_repo()

    assert sorted(tree_entries(repo, repo.snapshot().tree)) == ["main.py"]


def test_large_files_are_skipped_and_reported(make_repo: MakeRepo, workspace: Path) -> None:
    repo = make_repo(max_file_mb=0.5)
    write(workspace, "small.txt", "small\n")
    write(workspace, "grows.bin", b"g" * 1000)
    before = repo.snapshot()
    assert before.skipped == []

    write(workspace, "big.bin", os.urandom(600 * 1024))
    write(workspace, "grows.bin", b"g" * 700 * 1024)
    write(workspace, "small.txt", "changed\n")
    after = repo.snapshot()

    assert [s.path for s in after.skipped] == ["big.bin", "grows.bin"]
    assert all(s.reason.startswith("larger than 0.5 MB") for s in after.skipped)
    assert "big.bin" not in tree_entries(repo, after.tree)
    assert repo.changed_paths(before.tree, after.tree) == ["small.txt"]

    result = repo.restore(before.tree, after.tree)

    assert result.restored == ["small.txt"]
    assert (workspace / "big.bin").stat().st_size == 600 * 1024
    assert (workspace / "grows.bin").stat().st_size == 700 * 1024


def test_unreadable_files_are_skipped_and_reported(repo: ShadowRepo, workspace: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = write(workspace, "locked.txt", "private\n")
    locked.chmod(0)
    write(workspace, "open.txt", "public\n")
    try:
        snap = repo.snapshot()
    finally:
        locked.chmod(0o644)

    assert [(s.path, s.reason) for s in snap.skipped] == [("locked.txt", "not readable")]
    assert sorted(tree_entries(repo, snap.tree)) == ["open.txt"]


def test_nested_repositories_are_snapshotted_as_files(repo: ShadowRepo, workspace: Path) -> None:
    nested = workspace / "vendor/lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    write(nested, "lib.c", "int f(void);\n")
    write(nested, ".gitignore", "*.o\n")
    write(nested, "lib.o", "object\n")
    git(nested, "add", "lib.c")
    git(nested, "commit", "-q", "-m", "one")
    deeper = nested / "third_party/dep"
    deeper.mkdir(parents=True)
    git(deeper, "init", "-q")
    write(deeper, "dep.c", "int g(void);\n")
    nested_git = hash_dir(nested / ".git")

    before = repo.snapshot().tree
    entries = tree_entries(repo, before)

    assert entries == {
        "vendor/lib/.gitignore": "100644",
        "vendor/lib/lib.c": "100644",
        "vendor/lib/third_party/dep/dep.c": "100644",
    }
    assert "160000" not in entries.values()  # no gitlinks

    sh(workspace, "echo broken > vendor/lib/lib.c && rm vendor/lib/third_party/dep/dep.c")
    after = repo.snapshot().tree
    assert repo.changed_paths(before, after) == [
        "vendor/lib/lib.c",
        "vendor/lib/third_party/dep/dep.c",
    ]
    repo.restore(before, after)

    assert (nested / "lib.c").read_text() == "int f(void);\n"
    assert (deeper / "dep.c").read_text() == "int g(void);\n"
    assert hash_dir(nested / ".git") == nested_git
    assert repo.snapshot().tree == before  # and the next walk still descends into them


def test_a_new_nested_repository_with_only_ignored_files(repo: ShadowRepo, workspace: Path) -> None:
    nested = workspace / "empty"
    nested.mkdir()
    git(nested, "init", "-q")
    write(nested, ".gitignore", "*\n")
    write(nested, "x.tmp", "x\n")

    first = repo.snapshot().tree
    second = repo.snapshot().tree

    assert tree_entries(repo, first) == {}
    assert second == first


def test_names_git_refuses_are_reported_not_fatal(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, ".GIT/config", "looks like a repository\n")
    write(workspace, "a/.Git/x", "so does this\n")
    write(workspace, "fine.txt", "fine\n")

    snap = repo.snapshot()

    assert [(s.path, s.reason.split(" (")[0]) for s in snap.skipped] == [
        (".GIT/config", "a name git will not store"),
        ("a/.Git/x", "a name git will not store"),
    ]
    assert tree_entries(repo, snap.tree) == {"fine.txt": "100644"}


@pytest.mark.parametrize("state", [".agentls state", "."])
def test_a_state_folder_inside_the_workspace_is_left_out(workspace: Path, state: str) -> None:
    write(workspace, "code.py", "pass\n")
    write(workspace, f"{state}/sessions/s.jsonl", "{}\n")
    repo = ShadowRepo(workspace / state, workspace)

    first = repo.snapshot().tree
    write(workspace, f"{state}/sessions/s.jsonl", "{}\n{}\n")
    second = repo.snapshot().tree

    entries = tree_entries(repo, first)
    assert not any(path.startswith("checkpoints.git/") for path in entries)
    assert "code.py" in entries
    if state != ".":
        assert sorted(entries) == ["code.py"]
        assert second == first


def test_too_many_files_for_one_snapshot_is_refused_with_what_to_do(
    make_repo: MakeRepo, workspace: Path
) -> None:
    for i in range(30):
        write(workspace, f"data/f{i}.csv", f"{i}\n")
    repo = make_repo(max_files=20)

    with pytest.raises(CheckpointError, match=r"30 new or changed files .* \.gitignore"):
        repo.snapshot()

    write(workspace, ".gitignore", "data/\n")
    assert sorted(tree_entries(repo, repo.snapshot().tree)) == [".gitignore"]
