"""Committing plans: all or nothing, whole files after a crash, modes and symlinks kept."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentls.tools.patch import (
    CommitConflictError,
    CommitError,
    Patch,
    commit_plan,
    invert_plan,
    parse_patch,
    plan_patch,
)


def _p(body: str) -> Patch:
    return parse_patch(f"*** Begin Patch\n{body}*** End Patch\n")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


def test_commit_writes_adds_updates_moves_and_deletes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"one\r\ntwo\r\n")
    (tmp_path / "m.txt").write_text("move me\n")
    (tmp_path / "d.txt").write_text("delete me\n")
    plan = plan_patch(
        _p(
            "*** Update File: a.txt\n@@\n-two\n+2\n"
            "*** Add File: new/deep/n.txt\n+fresh\n"
            "*** Update File: m.txt\n*** Move to: moved/m2.txt\n@@\n-move me\n+moved\n"
            "*** Delete File: d.txt\n"
        ),
        tmp_path,
    )
    commit_plan(plan)
    assert (tmp_path / "a.txt").read_bytes() == b"one\r\n2\r\n"
    assert (tmp_path / "new/deep/n.txt").read_text() == "fresh\n"
    assert (tmp_path / "moved/m2.txt").read_text() == "moved\n"
    assert not (tmp_path / "m.txt").exists()
    assert not (tmp_path / "d.txt").exists()
    assert _leftovers(tmp_path) == []


def test_modes_are_kept_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o751)
    plan = plan_patch(
        _p(
            "*** Update File: run.sh\n*** Move to: bin/run2.sh\n@@\n-echo hi\n+echo bye\n"
            "*** Add File: fresh.txt\n+x\n"
        ),
        tmp_path,
    )
    commit_plan(plan)
    assert stat.S_IMODE((tmp_path / "bin/run2.sh").stat().st_mode) == 0o751
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "fresh.txt").stat().st_mode) == 0o666 & ~umask


def test_a_symlink_is_written_through_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("a\n")
    os.symlink("real.txt", tmp_path / "link.txt")
    commit_plan(plan_patch(_p("*** Update File: link.txt\n@@\n-a\n+b\n"), tmp_path))
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "b\n"


def test_failing_second_file_leaves_the_first_untouched(tmp_path: Path) -> None:
    (tmp_path / "first.txt").write_text("keep\n")
    plan = plan_patch(
        _p("*** Update File: first.txt\n@@\n-keep\n+changed\n*** Add File: sub/second.txt\n+x\n"),
        tmp_path,
    )
    # After planning, the folder the second file needs becomes a plain file: creating it fails
    # (as root too, unlike a read-only folder).
    (tmp_path / "sub").write_text("in the way\n")
    with pytest.raises(CommitError, match="nothing was changed"):
        commit_plan(plan)
    assert (tmp_path / "first.txt").read_text() == "keep\n"
    assert (tmp_path / "sub").read_text() == "in the way\n"
    assert _leftovers(tmp_path) == []


def test_second_target_turned_into_a_directory_stops_before_any_write(tmp_path: Path) -> None:
    (tmp_path / "first.txt").write_text("keep\n")
    (tmp_path / "second.txt").write_text("two\n")
    plan = plan_patch(
        _p(
            "*** Update File: first.txt\n@@\n-keep\n+x\n*** Update File: second.txt\n@@\n-two\n+y\n"
        ),
        tmp_path,
    )
    (tmp_path / "second.txt").unlink()
    (tmp_path / "second.txt").mkdir()
    with pytest.raises(CommitConflictError):
        commit_plan(plan)
    assert (tmp_path / "first.txt").read_text() == "keep\n"


def test_failure_between_renames_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    (tmp_path / "gone.txt").write_text("g\n")
    (tmp_path / "a.txt").chmod(0o640)
    plan = plan_patch(
        _p(
            "*** Update File: a.txt\n@@\n-a\n+A\n*** Add File: c/new.txt\n+c\n"
            "*** Update File: b.txt\n@@\n-b\n+B\n*** Delete File: gone.txt\n"
        ),
        tmp_path,
    )
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        # The disk fills up on the third rename, after two files were already swapped.
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(CommitError, match="No space left") as caught:
        commit_plan(plan)
    monkeypatch.undo()
    assert caught.value.unrestored == []
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert (tmp_path / "b.txt").read_text() == "b\n"
    assert (tmp_path / "gone.txt").read_text() == "g\n"
    assert not (tmp_path / "c").exists()
    assert _leftovers(tmp_path) == []


def test_failed_delete_restores_the_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "m.txt").write_text("m\n")
    plan = plan_patch(
        _p("*** Update File: a.txt\n@@\n-a\n+A\n*** Update File: m.txt\n*** Move to: n.txt\n"),
        tmp_path,
    )

    real_unlink = os.unlink
    calls = {"n": 0}

    def failing_unlink(path: str | Path, *args: object, **kwargs: object) -> None:
        # Removing the move's source fails once; the undo that follows may unlink again.
        calls["n"] += 1
        if calls["n"] == 1:
            raise PermissionError(1, "Operation not permitted", str(path))
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", failing_unlink)
    with pytest.raises(CommitError, match="Operation not permitted") as caught:
        commit_plan(plan)
    monkeypatch.undo()
    assert caught.value.unrestored == []
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert (tmp_path / "m.txt").read_text() == "m\n"
    assert not (tmp_path / "n.txt").exists()
    assert _leftovers(tmp_path) == []


def test_disk_change_after_planning_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    plan = plan_patch(
        _p("*** Update File: a.txt\n@@\n-a\n+A\n*** Update File: b.txt\n@@\n-b\n+B\n"), tmp_path
    )
    (tmp_path / "b.txt").write_text("b edited by the user\n")
    with pytest.raises(CommitConflictError, match=r"b\.txt changed on disk"):
        commit_plan(plan)
    assert (tmp_path / "a.txt").read_text() == "a\n"


def test_excluded_changes_are_left_to_the_caller(tmp_path: Path) -> None:
    (tmp_path / "open.txt").write_text("disk\n")
    (tmp_path / "closed.txt").write_text("x\n")
    buffers = {tmp_path / "open.txt": "buffer\n"}

    def read(path: Path) -> str | None:
        return buffers[path] if path in buffers else (path.read_text() if path.exists() else None)

    plan = plan_patch(
        _p("*** Update File: open.txt\n@@\n-buffer\n+B\n*** Update File: closed.txt\n@@\n-x\n+y\n"),
        tmp_path,
        read,
    )
    commit_plan(plan, exclude={tmp_path / "open.txt"})
    assert (tmp_path / "open.txt").read_text() == "disk\n"
    assert (tmp_path / "closed.txt").read_text() == "y\n"


_CRASHER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from agentls.tools.patch import commit_plan, parse_patch, plan_patch

    workspace, patch_file, crash_after = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    plan = plan_patch(parse_patch(Path(patch_file).read_text()), workspace)
    steps = {"n": 0}
    real_replace, real_unlink = os.replace, os.unlink

    def step(real):
        def run(*args, **kwargs):
            real(*args, **kwargs)
            steps["n"] += 1
            if steps["n"] == crash_after:
                os._exit(9)  # the process dies here: no cleanup, no undo
        return run

    os.replace, os.unlink = step(real_replace), step(real_unlink)
    commit_plan(plan)
    """
)


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_a_crash_between_steps_leaves_every_file_whole(tmp_path: Path, crash_after: int) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    big_old = "".join(f"old line {i}\n" for i in range(5000))
    big_new = big_old.replace("old line 2500\n", "new line 2500\n")
    (workspace / "big.txt").write_text(big_old)
    (workspace / "small.txt").write_text("small\n")
    (workspace / "gone.txt").write_text("gone\n")
    patch = tmp_path / "patch.txt"
    patch.write_text(
        "*** Begin Patch\n*** Update File: big.txt\n@@\n-old line 2500\n+new line 2500\n"
        "*** Add File: added.txt\n+added\n*** Update File: small.txt\n@@\n-small\n+SMALL\n"
        "*** Delete File: gone.txt\n*** End Patch\n"
    )
    code = subprocess.run(
        [sys.executable, "-c", _CRASHER, str(workspace), str(patch), str(crash_after)],
        cwd=Path(__file__).parents[4],
        capture_output=True,
        text=True,
        check=False,
    )
    assert code.returncode == 9, code.stderr
    states = {
        "big.txt": (big_old, big_new),
        "small.txt": ("small\n", "SMALL\n"),
        "added.txt": (None, "added\n"),
        "gone.txt": ("gone\n", None),
    }
    new_count = 0
    for name, (old, new) in states.items():
        path = workspace / name
        now = path.read_text() if path.exists() else None
        assert now in (old, new), f"{name} is neither old nor new"
        new_count += now == new
    # Exactly the steps done before the crash show: the figure proves the crash landed mid-way.
    assert new_count == crash_after


def test_inverted_plan_restores_every_byte(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"a\r\nb\r\nc")
    (tmp_path / "gone.txt").write_bytes(b"x\r\ny")
    (tmp_path / "m.txt").write_text("move\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    plan = plan_patch(
        _p(
            "*** Update File: crlf.txt\n@@\n a\n-b\n+B\n*** Delete File: gone.txt\n"
            "*** Add File: new.txt\n+n\n*** Update File: m.txt\n*** Move to: sub/m2.txt\n"
            "@@\n-move\n+moved\n"
        ),
        tmp_path,
    )
    commit_plan(plan)
    undo = invert_plan(plan)
    assert [c.kind for c in undo.changes] == ["update", "delete", "add", "update"]
    commit_plan(undo)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert not (tmp_path / "sub" / "m2.txt").exists()


def test_inverted_plan_refuses_files_changed_since(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    plan = plan_patch(_p("*** Update File: a.txt\n@@\n-a\n+b\n"), tmp_path)
    commit_plan(plan)
    (tmp_path / "a.txt").write_text("user edit\n")
    with pytest.raises(CommitConflictError):
        commit_plan(invert_plan(plan))
    assert (tmp_path / "a.txt").read_text() == "user edit\n"


def test_interrupt_between_renames_is_undone_and_re_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    plan = plan_patch(
        _p("*** Update File: a.txt\n@@\n-a\n+A\n*** Update File: b.txt\n@@\n-b\n+B\n"), tmp_path
    )
    real_replace = os.replace
    calls = {"n": 0}

    def interrupted_replace(src: str | Path, dst: str | Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        commit_plan(plan)
    monkeypatch.undo()
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert (tmp_path / "b.txt").read_text() == "b\n"
    assert _leftovers(tmp_path) == []


def test_temporaries_of_a_crashed_commit_are_swept(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    (tmp_path / "a.txt").write_text("a\n")
    stale = tmp_path / f".a.txt.agentls-{dead_pid}-0.tmp"
    stale.write_text("half")
    live = tmp_path / f".a.txt.agentls-{os.getpid()}-7.tmp"
    live.write_text("someone else's, in progress")
    commit_plan(plan_patch(_p("*** Update File: a.txt\n@@\n-a\n+b\n"), tmp_path))
    assert not stale.exists()
    assert live.exists()
    assert (tmp_path / "a.txt").read_text() == "b\n"
