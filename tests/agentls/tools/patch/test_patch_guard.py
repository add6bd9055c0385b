"""What planning refuses or marks: special files and bad paths as patch errors, agentls's
state folder never touched, git directories found at any depth, outside files left unread."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from agentls.tools.patch import (
    CommitError,
    Patch,
    PatchError,
    PatchPlan,
    commit_plan,
    parse_patch,
    patch_paths,
    plan_patch,
)
from agentls.tools.patch.diff import count_changes
from agentls.tools.patch.guard import GitDirs


def _p(body: str) -> Patch:
    return parse_patch(f"*** Begin Patch\n{body}*** End Patch\n")


def _update(path: str) -> Patch:
    return _p(f"*** Update File: {path}\n@@\n-old\n+new\n")


def _plan_error(patch: Patch, workspace: Path, **options: object) -> PatchError:
    """The plan's error, which must come at once: a plan that blocks fails the test."""
    outcome: list[BaseException | PatchPlan] = []

    def attempt() -> None:
        try:
            outcome.append(plan_patch(patch, workspace, **options))  # type: ignore[arg-type]
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "planning blocked"
    (result,) = outcome
    assert isinstance(result, PatchError), result
    return result


# -- what cannot be read ----------------------------------------------------------------


def test_a_fifo_target_is_a_patch_error_not_a_frozen_plan(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert "FIFO" in str(_plan_error(_update("pipe"), tmp_path))
    assert "FIFO" in str(_plan_error(_p("*** Delete File: pipe\n"), tmp_path))
    assert "FIFO" in str(_plan_error(_p("*** Add File: pipe\n+x\n"), tmp_path))


def test_a_socket_target_is_a_patch_error(tmp_path: Path) -> None:
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(tmp_path / "sock"))
        assert "socket" in str(_plan_error(_update("sock"), tmp_path))
    finally:
        listening.close()


@pytest.mark.parametrize(
    "target", ["/dev/zero", "/dev/stdin", "/dev/urandom", "/proc/self/environ", "/proc/self/fd/0"]
)
def test_kernel_files_are_patch_errors_named_or_linked(tmp_path: Path, target: str) -> None:
    assert "/proc, /sys or /dev" in str(_plan_error(_update(target), tmp_path))
    (tmp_path / "link").symlink_to(target)
    linked = str(_plan_error(_update("link"), tmp_path))
    assert any(word in linked for word in ("/proc, /sys or /dev", "device", "FIFO", "socket"))


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("a\0b.txt", "NUL"),
        ("n" * 300 + ".txt", "over 255 bytes"),
        ("/".join(["d" * 200] * 25), "too long"),
        ("bad\udc00\ud800.txt", "not valid"),
    ],
)
def test_bad_paths_are_patch_errors_with_the_line(tmp_path: Path, path: str, why: str) -> None:
    error = _plan_error(_p(f"*** Add File: {path}\n+x\n"), tmp_path)
    assert why in error.message and error.line == 2
    assert patch_paths(_p(f"*** Add File: {path}\n+x\n"), tmp_path) == []


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "big.txt").open("wb") as out:
        out.truncate(17 << 20)
    assert "larger than 16 MiB" in str(_plan_error(_update("big.txt"), tmp_path))


# -- agentls's own state folder -----------------------------------------------------------


def test_the_state_folder_is_never_planned(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    home = workspace / ".agentls"
    (home / "workspaces").mkdir(parents=True)
    (home / "config.toml").write_text("approval = 'ask-unsafe'\n")
    (workspace / "settings").symlink_to(home)
    for patch in (
        _p("*** Add File: .agentls/workspaces/evil.jsonl\n+{}\n"),
        _p("*** Update File: .agentls/config.toml\n@@\n-approval = 'ask-unsafe'\n+x\n"),
        _p("*** Delete File: settings/config.toml\n"),
        _p(f"*** Add File: {home}/x\n+x\n"),
        _p(
            "*** Add File: notes.txt\n+x\n"
            "*** Update File: a.txt\n*** Move to: .agentls/a\n@@\n-a\n+b\n"
        ),
    ):
        (workspace / "a.txt").write_text("a\n")
        error = _plan_error(patch, workspace, protected=(home,))
        assert "agentls's own state folder" in error.message
    assert (home / "config.toml").read_text() == "approval = 'ask-unsafe'\n"


def test_the_state_folder_behind_a_link_is_found(tmp_path: Path) -> None:
    real_home = tmp_path / "state"
    real_home.mkdir()
    home = tmp_path / "home-link"
    home.symlink_to(real_home)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "st").symlink_to(real_home)
    error = _plan_error(_p("*** Add File: st/x\n+x\n"), workspace, protected=(home,))
    assert "state folder" in error.message


# -- git directories ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".git/hooks/pre-commit",
        "pkg/.git/config",
        "vendor/lib/.git/hooks/post-checkout",
        ".git",
        "pkg/.git",
    ],
)
def test_paths_in_a_git_directory_at_any_depth_are_marked(tmp_path: Path, path: str) -> None:
    plan = plan_patch(_p(f"*** Add File: {path}\n+gitdir: /elsewhere\n"), tmp_path)
    (change,) = plan.changes
    assert change.in_git_dir and plan.in_git_dir


def test_a_link_into_a_git_directory_is_marked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / "innocent.cfg").symlink_to(".git/config")
    plan = plan_patch(
        _p("*** Update File: innocent.cfg\n@@\n [core]\n+\tfsmonitor = x\n"), tmp_path
    )
    (change,) = plan.changes
    assert change.in_git_dir and change.linked
    assert change.wire()["realPath"] == str(tmp_path / ".git" / "config")


def test_a_git_directory_a_gitfile_points_at_is_found_by_its_shape(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "objects").mkdir(parents=True)
    (store / "refs").mkdir()
    (store / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".git").write_text("gitdir: ../store\n")
    plan = plan_patch(_p("*** Add File: store/hooks/pre-commit\n+#!/bin/sh\n"), tmp_path)
    assert plan.in_git_dir
    worktree = tmp_path / "wt-admin"
    worktree.mkdir()
    (worktree / "HEAD").write_text("ref: refs/heads/x\n")
    (worktree / "commondir").write_text("../store\n")
    assert plan_patch(_p("*** Add File: wt-admin/config.worktree\n+x\n"), tmp_path).in_git_dir


def test_creating_a_head_file_is_marked(tmp_path: Path) -> None:
    assert plan_patch(_p("*** Add File: fake/HEAD\n+ref: refs/heads/main\n"), tmp_path).in_git_dir


def test_ordinary_files_are_not_marked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("old\n")
    plan = plan_patch(
        _p("*** Update File: src/a.py\n@@\n-old\n+new\n*** Add File: .gitignore\n+x\n"), tmp_path
    )
    assert not plan.in_git_dir
    assert [change.linked for change in plan.changes] == [False, False]


def test_git_dirs_look_at_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[str] = []
    real_isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda p: looked.append(str(p)) or real_isfile(p))
    dirs = GitDirs()
    for n in range(20):
        path = tmp_path / "pkg" / f"m{n}.py"
        assert not dirs.contains(path, path)
    assert len(looked) == len(set(looked))


# -- outside the workspace: nothing read before the user's yes -------------------------------


def test_outside_files_are_deferred_unread(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "in.txt").write_text("old\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET old\n")
    (workspace / "link.txt").symlink_to(secret)
    read: list[Path] = []

    def spy(path: Path) -> str | None:
        read.append(path)
        return path.read_text() if path.exists() else None

    plan = plan_patch(
        _p(
            "*** Update File: in.txt\n@@\n-old\n+new\n"
            "*** Update File: link.txt\n@@ def where():\n-TOP SECRET old\n+public\n"
            "*** Delete File: ../gone.txt\n"
            "*** Add File: ../made.txt\n+hello\n"
        ),
        workspace,
        spy,
        defer_outside=True,
    )
    assert read == [workspace / "in.txt"]
    assert plan.deferred and plan.outside_workspace
    kinds = [(c.kind, c.deferred, c.old_text) for c in plan.changes]
    assert kinds == [
        ("update", False, "old\n"),
        ("update", True, None),
        ("delete", True, None),
        ("add", True, None),
    ]
    linked = plan.changes[1]
    assert linked.linked and linked.real_path == secret
    assert linked.wire()["realPath"] == str(secret)
    assert "@@ -1 +1 @@ def where():\n-TOP SECRET old\n+public\n" in linked.diff
    assert count_changes(linked.diff) == (1, 1)
    assert plan.changes[3].diff.endswith("+hello\n")
    with pytest.raises(CommitError, match="not planned completely"):
        commit_plan(plan)
    assert secret.read_text() == "TOP SECRET old\n"
    full = plan_patch(
        _p("*** Update File: link.txt\n@@\n-TOP SECRET old\n+public\n"), workspace, spy
    )
    assert not full.deferred and full.changes[0].new_text == "public\n"


def test_the_inside_paths_leave_out_links_that_lead_outside(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "out").symlink_to(tmp_path)
    patch = _p("*** Add File: a.txt\n+x\n*** Add File: out/b.txt\n+x\n*** Add File: ../c\n+x\n")
    assert patch_paths(patch, workspace, inside_only=True) == [workspace / "a.txt"]
    assert len(patch_paths(patch, workspace)) == 3
