"""Property: whatever a turn does to a workspace, restore gives back the exact starting files.

Hypothesis draws a starting workspace and a sequence of changes (write, append, delete,
chmod, symlink, file replaced by a folder and the reverse, whole folder removed, folder
replaced by a link to another folder) over a small
set of names, so that changes collide with each other as real commands' changes do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.agentls.checkpoints.workspace_files import tree_state

from agentls.checkpoints import ShadowRepo

NAMES = ["a", "b", "dir/c", "dir/d", "dir/sub/e", "x y", "ü"]
CONTENT = st.binary(max_size=40) | st.sampled_from([b"", b"line\n", b"line\r\n", b"\x00\xff"])

Op = tuple[str, str, bytes]
OPS = st.tuples(
    st.sampled_from(
        ["write", "append", "delete", "chmod", "symlink", "to_dir", "rmtree", "dirlink"]
    ),
    st.sampled_from(NAMES),
    CONTENT,
)


def apply(root: Path, op: Op) -> None:
    kind, name, data = op
    path = root / name
    try:
        if kind == "rmtree":
            shutil.rmtree(root / name.split("/")[0], ignore_errors=True)
            return
        if kind == "dirlink":  # a folder swapped for a link to another folder of the workspace
            top = root / name.split("/")[0]
            _remove(top)
            os.symlink("dir/sub" if top.name == "dir" else "dir", top)
            return
        if kind == "to_dir":
            _remove(path)
            (path / "inside").parent.mkdir(parents=True, exist_ok=True)
            (path / "inside").write_bytes(data)
            return
        if kind == "delete":
            _remove(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "write":
            _remove(path)
            path.write_bytes(data)
        elif kind == "append" and path.is_file() and not path.is_symlink():
            with path.open("ab") as fh:
                fh.write(data)
        elif kind == "chmod" and path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode ^ 0o111)
        elif kind == "symlink":
            _remove(path)
            os.symlink(data.hex() or "target", path)
    except OSError:
        pass  # a parent is a file, the path a folder, a link loop: the command would fail too


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start=st.lists(OPS, max_size=6), turn=st.lists(OPS, min_size=1, max_size=8))
def test_restore_gives_back_the_exact_starting_files(start: list[Op], turn: list[Op]) -> None:
    with tempfile.TemporaryDirectory(prefix="agentls-cp-prop-") as tmp:
        workspace = Path(tmp, "ws")
        workspace.mkdir()
        for op in start:
            apply(workspace, op)
        repo = ShadowRepo(Path(tmp, "state"), workspace)
        original = tree_state(workspace)
        before = repo.snapshot().tree
        for op in turn:
            apply(workspace, op)
        after = repo.snapshot().tree

        result = repo.restore(before, after)

        assert result.skipped == []
        assert _files_only(tree_state(workspace)) == _files_only(original)
        assert repo.snapshot().tree == before


def _files_only(state: dict[str, tuple[str, bytes]]) -> dict[str, tuple[str, bytes]]:
    """git keeps no empty folders: compare files and links, and folders that hold them."""
    return {path: value for path, value in state.items() if value[0] != "dir"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.lists(OPS, max_size=5),
    turn=st.lists(OPS, min_size=1, max_size=6),
    user=st.lists(OPS, max_size=4),
)
def test_the_users_later_changes_are_skipped_and_the_rest_restored(
    start: list[Op], turn: list[Op], user: list[Op]
) -> None:
    with tempfile.TemporaryDirectory(prefix="agentls-cp-prop-") as tmp:
        workspace = Path(tmp, "ws")
        workspace.mkdir()
        for op in start:
            apply(workspace, op)
        repo = ShadowRepo(Path(tmp, "state"), workspace)
        original = _files_only(tree_state(workspace))
        before = repo.snapshot().tree
        for op in turn:
            apply(workspace, op)
        at_end = _files_only(tree_state(workspace))
        after = repo.snapshot().tree
        for op in user:
            apply(workspace, op)
        users = _files_only(tree_state(workspace))

        result = repo.restore(before, after)

        now = _files_only(tree_state(workspace))
        skipped = {s.path: s.reason for s in result.skipped}
        for path in repo.changed_paths(before, after):
            if users.get(path) not in (at_end.get(path), original.get(path)):
                assert skipped.get(path) == "changed since the turn"
            if path in skipped:
                assert now.get(path) == users.get(path)
            else:
                assert path in result.restored
                assert now.get(path) == original.get(path)
        unchanged = set(users) - set(repo.changed_paths(before, after))
        assert {p: now.get(p) for p in unchanged} == {p: users[p] for p in unchanged}
