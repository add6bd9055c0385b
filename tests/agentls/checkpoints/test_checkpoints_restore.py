"""Snapshot, diff and restore on real files changed by real shell commands."""

from __future__ import annotations

import os
from pathlib import Path

from tests.agentls.checkpoints.workspace_files import sh, tree_state, write

from agentls.checkpoints import FileStat, ShadowRepo


def test_round_trip_undoes_created_edited_and_deleted_files(
    repo: ShadowRepo, workspace: Path
) -> None:
    write(workspace, "src/app.py", "print('hello')\n")
    write(workspace, "docs/notes.md", "keep me\n")
    write(workspace, "untouched.txt", "same\n")
    original = tree_state(workspace)
    before = repo.snapshot().tree

    sh(
        workspace,
        "printf 'print(1)\\n' >> src/app.py && mkdir -p build/out && echo made > build/out/new.txt"
        " && rm docs/notes.md",
    )
    after = repo.snapshot().tree

    assert repo.changed_paths(before, after) == ["build/out/new.txt", "docs/notes.md", "src/app.py"]
    result = repo.restore(before, after)

    assert result.restored == ["build/out/new.txt", "docs/notes.md", "src/app.py"]
    assert result.skipped == []
    assert tree_state(workspace) == original  # also: build/ and build/out/ are gone
    assert repo.snapshot().tree == before


def test_diff_has_unified_text_and_counts(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "one\ntwo\nthree\n")
    write(workspace, "gone.txt", "x\ny\n")
    write(workspace, "blob.bin", b"\x00\x01\x02")
    before = repo.snapshot().tree
    sh(
        workspace,
        "printf 'one\\n2\\nthree\\nfour\\n' > a.txt && rm gone.txt && printf '\\0\\3' > blob.bin"
        " && echo hi > 'new file.txt'",
    )
    after = repo.snapshot().tree

    result = repo.diff(before, after)

    assert result.files == [
        FileStat("a.txt", 2, 1),
        FileStat("blob.bin", 0, 0, binary=True),
        FileStat("gone.txt", 0, 2),
        FileStat("new file.txt", 1, 0),
    ]
    assert "--- a/a.txt\n+++ b/a.txt\n" in result.diff
    assert "-two\n+2\n three\n+four\n" in result.diff
    assert "Binary files a/blob.bin and b/blob.bin differ" in result.diff
    assert "deleted file mode 100644" in result.diff
    assert repo.diff(after, after).diff == ""


def test_file_changed_by_user_after_the_turn_is_skipped_unless_forced(
    repo: ShadowRepo, workspace: Path
) -> None:
    write(workspace, "agent.txt", "v1\n")
    write(workspace, "user.txt", "v1\n")
    before = repo.snapshot().tree
    sh(workspace, "echo agent > agent.txt && echo agent > user.txt && echo new > created.txt")
    after = repo.snapshot().tree
    write(workspace, "user.txt", "typed by the user\n")
    write(workspace, "created.txt", "the user kept working in it\n")

    result = repo.restore(before, after)

    assert result.restored == ["agent.txt"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("created.txt", "changed since the turn"),
        ("user.txt", "changed since the turn"),
    ]
    assert (workspace / "user.txt").read_text() == "typed by the user\n"
    assert (workspace / "created.txt").exists()

    forced = repo.restore(before, after, force=True)

    assert forced.restored == ["agent.txt", "created.txt", "user.txt"]
    assert forced.skipped == []
    assert (workspace / "user.txt").read_text() == "v1\n"
    assert not (workspace / "created.txt").exists()


def test_undo_across_two_turns(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "a.txt", "start\n")
    original = tree_state(workspace)
    turn1_before = repo.snapshot().tree
    sh(workspace, "echo turn1 >> a.txt && echo one > one.txt")
    turn1_after = repo.snapshot().tree
    turn2_before = turn1_after
    sh(workspace, "echo turn2 >> a.txt && rm one.txt && echo two > two.txt")
    turn2_after = repo.snapshot().tree
    assert repo.changed_paths(turn2_before, turn2_after) == ["a.txt", "one.txt", "two.txt"]

    result = repo.restore(turn1_before, turn2_after)

    assert result.restored == ["a.txt", "two.txt"]  # one.txt did not exist at either end
    assert tree_state(workspace) == original


def test_untouched_files_are_never_written(repo: ShadowRepo, workspace: Path) -> None:
    keep = write(workspace, "keep.txt", "keep\n")
    write(workspace, "edit.txt", "old\n")
    before = repo.snapshot().tree
    sh(workspace, "echo new > edit.txt")
    after = repo.snapshot().tree
    stat_before = keep.stat()

    repo.restore(before, after)

    stat_after = keep.stat()
    assert (stat_after.st_ino, stat_after.st_mtime_ns) == (
        stat_before.st_ino,
        stat_before.st_mtime_ns,
    )
    assert (workspace / "edit.txt").read_text() == "old\n"


def test_symlinks_and_executable_bits_are_kept(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    write(workspace, "plain.txt", "text\n", mode=0o644)
    os.symlink("plain.txt", workspace / "link")
    os.symlink("missing/target", workspace / "dangling")
    os.symlink("run.sh", workspace / "removed-link")
    original = tree_state(workspace)
    before = repo.snapshot().tree
    sh(
        workspace,
        "chmod -x run.sh && chmod +x plain.txt && ln -sfn run.sh link && rm dangling removed-link"
        " && ln -s plain.txt new-link",
    )
    after = repo.snapshot().tree
    assert repo.changed_paths(before, after) == [
        "dangling",
        "link",
        "new-link",
        "plain.txt",
        "removed-link",
        "run.sh",
    ]

    result = repo.restore(before, after)

    assert result.skipped == []
    assert tree_state(workspace) == original
    assert os.readlink(workspace / "dangling") == "missing/target"
    assert os.access(workspace / "run.sh", os.X_OK)
    assert not os.access(workspace / "plain.txt", os.X_OK)


def test_odd_file_names(repo: ShadowRepo, workspace: Path) -> None:
    names = ["with space.txt", "new\nline.txt", "ünïcödé/файл.txt", "-dash.txt", "back\\slash"]
    for name in names:
        write(workspace, name, f"{name}\n")
    original = tree_state(workspace)
    before = repo.snapshot().tree
    for name in names:
        write(workspace, name, "changed\n")
        write(workspace, name + ".new", "created\n")
    after = repo.snapshot().tree

    changed = repo.changed_paths(before, after)
    stats = repo.diff(before, after).files
    result = repo.restore(before, after)

    assert sorted(changed) == sorted([*names, *(n + ".new" for n in names)])
    assert sorted(f.path for f in stats) == sorted(changed)
    assert sorted(result.restored) == sorted(changed)
    assert tree_state(workspace) == original


def test_file_replaced_by_folder_and_back(repo: ShadowRepo, workspace: Path) -> None:
    write(workspace, "thing", "I was a file\n")
    write(workspace, "dir/inner.txt", "I was in a folder\n")
    original = tree_state(workspace)
    before = repo.snapshot().tree
    sh(workspace, "rm thing && mkdir thing && echo x > thing/child && rm -r dir && echo f > dir")
    after = repo.snapshot().tree
    assert repo.changed_paths(before, after) == ["dir", "dir/inner.txt", "thing", "thing/child"]

    result = repo.restore(before, after)

    assert result.skipped == []
    assert tree_state(workspace) == original


def test_folder_with_user_files_is_not_removed_to_make_room(
    repo: ShadowRepo, workspace: Path
) -> None:
    write(workspace, "thing", "file\n")
    before = repo.snapshot().tree
    sh(workspace, "rm thing && mkdir thing && echo x > thing/child")
    after = repo.snapshot().tree
    write(workspace, "thing/users-own.txt", "mine\n")

    result = repo.restore(before, after, force=True)

    assert [(s.path, s.reason) for s in result.skipped] == [("thing", "a folder is in the way")]
    assert (workspace / "thing/users-own.txt").read_text() == "mine\n"
    assert not (workspace / "thing/child").exists()


def test_restore_of_a_file_already_back_as_before_counts_as_restored(
    repo: ShadowRepo, workspace: Path
) -> None:
    write(workspace, "a.txt", "before\n")
    before = repo.snapshot().tree
    write(workspace, "a.txt", "after\n")
    after = repo.snapshot().tree
    write(workspace, "a.txt", "before\n")  # the user put it back by hand

    result = repo.restore(before, after)

    assert result.restored == ["a.txt"]
    assert result.skipped == []


def test_many_files_at_once_go_through_a_pack_and_round_trip(
    repo: ShadowRepo, workspace: Path
) -> None:
    for i in range(300):
        write(workspace, f"d{i % 7}/f{i}.txt", f"line {i}\n" * 3)
    original = tree_state(workspace)
    before = repo.snapshot().tree
    assert list((repo.git_dir / "objects/pack").glob("*.pack"))  # the bulk path was taken
    sh(workspace, 'for f in d*/f*.txt; do echo more >> "$f"; done')
    after = repo.snapshot().tree

    stats = repo.diff(before, after).files
    result = repo.restore(before, after)

    assert len(stats) == 300
    assert all((f.added, f.removed, f.binary) == (1, 0, False) for f in stats)
    assert len(result.restored) == 300
    assert tree_state(workspace) == original


def test_same_size_rewrites_within_the_same_second_are_seen(
    repo: ShadowRepo, workspace: Path
) -> None:
    path = write(workspace, "racy.txt", "value 00\n")
    trees = [repo.snapshot().tree]
    for i in range(1, 15):
        path.write_text(f"value {i:02d}\n")  # same size, likely the same mtime second
        trees.append(repo.snapshot().tree)

    assert len(set(trees)) == 15


def test_touching_files_without_changing_them_changes_nothing(
    repo: ShadowRepo, workspace: Path
) -> None:
    for i in range(5):
        write(workspace, f"f{i}.txt", f"{i}\n")
    before = repo.snapshot().tree
    sh(workspace, "sleep 0.01 && touch f*.txt")

    assert repo.snapshot().tree == before
    assert repo.diff(before, repo.snapshot().tree).files == []


def test_a_long_diff_is_cut_at_a_line_end_with_counts_complete(
    repo: ShadowRepo, workspace: Path
) -> None:
    before = repo.snapshot().tree
    for i in range(40):
        write(workspace, f"gen/f{i:02d}.txt", "generated line\n" * 50)
    after = repo.snapshot().tree

    full = repo.diff(before, after)
    cut = repo.diff(before, after, max_bytes=2000)

    assert not full.truncated
    assert cut.truncated
    assert len(cut.diff) <= 2000
    assert cut.diff.endswith("\n")
    assert full.diff.startswith(cut.diff)
    assert cut.files == full.files
    assert len(cut.files) == 40
    assert repo.diff(before, after, max_bytes=len(full.diff)).truncated is False


def test_nothing_is_deleted_or_written_through_a_symlinked_folder(
    repo: ShadowRepo, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write(outside, "made.txt", "same bytes\n")
    write(outside, "kept.txt", "v1\n")
    write(workspace, "d/kept.txt", "v1\n")
    before = repo.snapshot().tree
    sh(workspace, "echo 'same bytes' > d/made.txt && echo v2 > d/kept.txt")
    after = repo.snapshot().tree
    sh(workspace, f"rm -r d && ln -s '{outside}' d")  # the user swaps the folder for a link

    result = repo.restore(before, after, force=True)

    assert (outside / "made.txt").read_text() == "same bytes\n"
    assert (outside / "kept.txt").read_text() == "v1\n"
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("d/kept.txt", "a file or link is in the way of its folder")
    ]
    assert (workspace / "d").is_symlink()


def test_a_folder_the_turn_replaced_by_a_link_comes_back(
    repo: ShadowRepo, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write(outside, "x.txt", "outside\n")
    write(workspace, "d/x.txt", "inside\n")
    original = tree_state(workspace)
    before = repo.snapshot().tree
    sh(workspace, f"rm -r d && ln -s '{outside}' d")
    after = repo.snapshot().tree

    result = repo.restore(before, after)

    assert result.skipped == []
    assert tree_state(workspace) == original
    assert (outside / "x.txt").read_text() == "outside\n"
