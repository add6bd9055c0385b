"""Named checkpoints survive a restart and gc; failures come back as CheckpointError."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from tests.agentls.checkpoints.conftest import MakeRepo
from tests.agentls.checkpoints.workspace_files import sh, write

from agentls.checkpoints import CheckpointError, ShadowRepo


def object_exists(repo: ShadowRepo, oid: str) -> bool:
    done = subprocess.run(
        ["git", "--git-dir", str(repo.git_dir), "cat-file", "-e", oid], capture_output=True
    )
    return done.returncode == 0


def test_marks_survive_a_restart_and_undo_still_works(make_repo: MakeRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "before\n")
    first = make_repo()
    before = first.snapshot().tree
    sh(workspace, "echo after > a.txt && echo new > b.txt")
    after = first.snapshot().tree
    first.mark("turn-7/before", before)
    first.mark("turn-7/after", after)
    del first

    second = make_repo()  # a new server process would build a new one like this
    saved_before = second.lookup("turn-7/before")
    saved_after = second.lookup("turn-7/after")
    assert (saved_before, saved_after) == (before, after)
    assert second.lookup("turn-8/before") is None
    assert saved_before is not None and saved_after is not None
    second.restore(saved_before, saved_after)

    assert (workspace / "a.txt").read_text() == "before\n"
    assert not (workspace / "b.txt").exists()


def test_gc_keeps_marked_trees_and_drops_unmarked_ones(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "kept\n")
    kept = repo.snapshot().tree
    write(workspace, "a.txt", "dropped\n")
    dropped = repo.snapshot().tree
    write(workspace, "a.txt", "current\n")
    repo.snapshot()
    repo.mark("turn-1/before", kept)
    repo.mark("turn-1/after", dropped)
    repo.forget("turn-1/after")

    repo.gc(prune="now")

    assert repo.lookup("turn-1/before") == kept
    assert repo.lookup("turn-1/after") is None
    assert object_exists(repo, kept)
    assert not object_exists(repo, dropped)


@pytest.mark.parametrize("name", ["", "../x", "a/../b", "-x", "a b", "x.lock", "a//b", "/abs"])
def test_bad_names_are_refused(repo: ShadowRepo, name: str) -> None:
    tree = repo.snapshot().tree
    with pytest.raises(CheckpointError, match="not a valid checkpoint name"):
        repo.mark(name, tree)


@pytest.mark.parametrize("value", ["HEAD", "--output=/tmp/x", "abc", "g" * 40])
def test_values_that_are_not_tree_ids_are_refused(repo: ShadowRepo, value: str) -> None:
    tree = repo.snapshot().tree
    with pytest.raises(CheckpointError, match="not a checkpoint id"):
        repo.diff(value, tree)
    with pytest.raises(CheckpointError, match="not a checkpoint id"):
        repo.restore(tree, value)


def test_an_unknown_tree_id_is_a_checkpoint_error(repo: ShadowRepo) -> None:
    tree = repo.snapshot().tree
    with pytest.raises(CheckpointError, match="git diff-tree exited"):
        repo.diff(tree, "0" * 40)


def test_missing_git_is_reported_with_what_to_do(
    state_dir: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    with pytest.raises(CheckpointError, match="install git or set checkpoints = false"):
        ShadowRepo(state_dir, workspace)


def test_missing_workspace_is_reported(state_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        ShadowRepo(state_dir, tmp_path / "nowhere")


def test_unwritable_state_folder_is_reported(workspace: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    with pytest.raises(CheckpointError, match="checkpoint"):
        ShadowRepo(blocker / "state", workspace)


def test_a_stale_index_lock_from_a_crash_does_not_block(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "a\n")
    repo.snapshot()
    (repo.git_dir / "index.lock").write_text("")  # what a git killed mid-write leaves

    write(workspace, "a.txt", "b\n")
    snap = repo.snapshot()

    assert repo.changed_paths(snap.tree, snap.tree) == []
    assert not (repo.git_dir / "index.lock").exists()


def test_concurrent_snapshots_queue_instead_of_failing(
    make_repo: MakeRepo, workspace: Path
) -> None:
    for i in range(50):
        write(workspace, f"f{i}.txt", f"{i}\n")
    repos = [make_repo(), make_repo()]  # two servers on one workspace
    trees: list[str] = []
    errors: list[BaseException] = []

    def take(repo: ShadowRepo) -> None:
        try:
            for _ in range(5):
                trees.append(repo.snapshot().tree)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(r,)) for r in repos * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(trees)) == 1


def test_a_stale_ref_lock_from_a_crash_does_not_block_marking(
    repo: ShadowRepo, workspace: Path
) -> None:
    write(workspace, "a.txt", "a\n")
    tree = repo.snapshot().tree
    repo.mark("turn-1/before", tree)
    (repo.git_dir / "refs/agentls/turn-1/after.lock").write_text("")

    repo.mark("turn-1/after", tree)

    assert repo.lookup("turn-1/after") == tree
