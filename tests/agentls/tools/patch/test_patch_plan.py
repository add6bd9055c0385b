"""Planning: paths, reading, locating hunks and the texts and diffs a plan carries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentls.tools.patch import (
    HunkMismatchError,
    Patch,
    PatchError,
    parse_patch,
    plan_patch,
)


def _p(body: str) -> Patch:
    return parse_patch(f"*** Begin Patch\n{body}*** End Patch\n")


def test_update_keeps_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"one\r\ntwo\r\nthree")
    plan = plan_patch(
        _p("*** Update File: a.txt\n@@\n one\n-two\n+2\n+2b\n three\n"),
        tmp_path,
    )
    (change,) = plan.changes
    assert change.new_text == "one\r\n2\r\n2b\r\nthree"
    assert change.kind == "update"
    assert (change.added, change.removed) == (2, 1)
    # Nothing is written by planning.
    assert (tmp_path / "a.txt").read_bytes() == b"one\r\ntwo\r\nthree"


def test_trailing_whitespace_in_file_still_matches(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():   \n    return 1\t\n")
    plan = plan_patch(
        _p("*** Update File: a.py\n@@\n def f():\n-    return 1\n+    return 2\n"),
        tmp_path,
    )
    assert plan.changes[0].new_text == "def f():   \n    return 2\n"


def test_anchor_picks_the_right_repeated_block(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "class A:\n    def f(self):\n        return 0\n\n"
        "class B:\n    def f(self):\n        return 0\n"
    )
    plan = plan_patch(
        _p(
            "*** Update File: m.py\n@@ class B:\n     def f(self):\n"
            "-        return 0\n+        return 1\n"
        ),
        tmp_path,
    )
    assert plan.changes[0].new_text == (
        "class A:\n    def f(self):\n        return 0\n\n"
        "class B:\n    def f(self):\n        return 1\n"
    )


def test_end_of_file_hunk_edits_the_last_occurrence(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("end\nmiddle\nend\n")
    plan = plan_patch(
        _p("*** Update File: t.txt\n@@\n-end\n+END\n*** End of File\n"),
        tmp_path,
    )
    assert plan.changes[0].new_text == "end\nmiddle\nEND\n"


def test_pure_addition_after_anchor_and_at_end(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("def a():\n    pass\ndef b():\n    pass\n")
    plan = plan_patch(
        _p("*** Update File: p.py\n@@ def a():\n+    # first\n@@\n+# tail\n"),
        tmp_path,
    )
    assert (
        plan.changes[0].new_text == "def a():\n    # first\n    pass\ndef b():\n    pass\n# tail\n"
    )


def test_mismatch_message_shows_expected_and_closest_lines(tmp_path: Path) -> None:
    lines = [f"value_{i} = {i}" for i in range(1, 60)]
    (tmp_path / "conf.py").write_text("\n".join(lines) + "\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    text = (
        "*** Begin Patch\n*** Update File: ok.py\n@@\n-x = 1\n+x = 2\n"
        "*** Update File: conf.py\n@@\n value_40 = 40\n-value_41 = 410\n+value_41 = 0\n"
        " value_42 = 42\n*** End Patch"
    )
    with pytest.raises(HunkMismatchError) as caught:
        plan_patch(parse_patch(text), tmp_path)
    message = str(caught.value)
    assert caught.value.path == "conf.py"
    assert caught.value.hunk == 1
    assert "hunk 1 of 1 for conf.py (patch line 7)" in message
    assert "       | value_41 = 410" in message
    assert "(lines 40-42)" in message
    assert "    41 | value_41 = 41" in message
    assert "Nothing was changed" in message


def test_missing_anchor_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def run():\n    pass\n")
    with pytest.raises(HunkMismatchError, match=r"'@@ def walk\(\):' was not found") as caught:
        plan_patch(
            _p("*** Update File: a.py\n@@ def walk():\n-    pass\n+    return\n"),
            tmp_path,
        )
    assert "     1 | def run():" in str(caught.value)


def test_add_existing_and_update_or_delete_missing(tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("x\n")
    cases = [
        ("*** Add File: here.txt\n+y\n", "already exists"),
        ("*** Update File: gone.txt\n@@\n-x\n+y\n", "no such file"),
        ("*** Delete File: gone.txt\n", "no such file"),
    ]
    for body, expected in cases:
        with pytest.raises(PatchError, match=expected) as caught:
            plan_patch(parse_patch(f"*** Begin Patch\n{body}*** End Patch"), tmp_path)
        assert caught.value.line == 2


def test_delete_of_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(PatchError, match="is a directory"):
        plan_patch(_p("*** Delete File: d\n"), tmp_path)


def test_move_onto_existing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    with pytest.raises(PatchError, match="already exists"):
        plan_patch(
            _p("*** Update File: a.txt\n*** Move to: b.txt\n"),
            tmp_path,
        )


def test_paths_outside_are_marked_not_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s\n")
    os.symlink(outside, workspace / "link")
    (workspace / "inner.txt").write_text("i\n")
    plan = plan_patch(
        _p(
            "*** Add File: ../escape.txt\n+e\n"
            "*** Update File: link/secret.txt\n@@\n-s\n+t\n"
            "*** Update File: sub/../inner.txt\n@@\n-i\n+j\n"
        ),
        workspace,
    )
    escape, via_link, inner = plan.changes
    assert escape.outside_workspace
    assert escape.display_path == str(tmp_path / "escape.txt")
    assert via_link.outside_workspace
    assert via_link.display_path == "link/secret.txt"
    assert via_link.real_path == outside / "secret.txt"
    assert not inner.outside_workspace
    assert inner.display_path == "inner.txt"
    assert plan.outside_workspace


def test_read_text_stands_in_for_the_disk(tmp_path: Path) -> None:
    (tmp_path / "open.py").write_text("on disk\n")
    buffers = {tmp_path / "open.py": "in the editor\n"}

    def read(path: Path) -> str | None:
        return buffers.get(path)

    plan = plan_patch(
        _p("*** Update File: open.py\n@@\n-in the editor\n+edited\n"),
        tmp_path,
        read,
    )
    assert plan.changes[0].old_text == "in the editor\n"
    assert plan.changes[0].new_text == "edited\n"


def test_two_sections_for_one_file_are_applied_in_turn(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1\n2\n3\n")
    plan = plan_patch(
        _p("*** Update File: a.txt\n@@\n-1\n+one\n*** Update File: a.txt\n@@\n-3\n+three\n"),
        tmp_path,
    )
    (change,) = plan.changes
    assert change.old_text == "1\n2\n3\n"
    assert change.new_text == "one\n2\nthree\n"


def test_wire_summary_files_and_diffs(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_text("a = 1\n")
    (tmp_path / "gone.txt").write_text("bye\n")
    plan = plan_patch(
        _p(
            "*** Add File: new/hello.txt\n+hi\n"
            "*** Update File: old.py\n*** Move to: pkg/renamed.py\n@@\n-a = 1\n+a = 2\n"
            "*** Delete File: gone.txt\n"
        ),
        tmp_path,
    )
    wire = plan.changes_wire()
    assert [w["kind"] for w in wire] == ["add", "update", "delete"]
    assert wire[1]["movePath"] == "pkg/renamed.py"
    assert "movePath" not in wire[0]
    assert wire[0]["diff"].startswith("--- /dev/null\n+++ b/new/hello.txt\n")
    assert wire[1]["diff"].startswith("--- a/old.py\n+++ b/pkg/renamed.py\n")
    assert "-a = 1\n+a = 2\n" in wire[1]["diff"]
    assert wire[2]["diff"].startswith("--- a/gone.txt\n+++ /dev/null\n")
    assert plan.files() == [
        tmp_path / "new/hello.txt",
        tmp_path / "old.py",
        tmp_path / "pkg/renamed.py",
        tmp_path / "gone.txt",
    ]
    assert plan.summary() == (
        "Success. Updated the following files:\n"
        "A new/hello.txt (+1 -0)\n"
        "M old.py -> pkg/renamed.py (+1 -1)\n"
        "D gone.txt (+0 -1)"
    )


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(PatchError, match="not UTF-8"):
        plan_patch(
            _p("*** Update File: bin.dat\n@@\n-x\n+y\n"),
            tmp_path,
        )


def test_mixed_endings_context_lines_keep_theirs(tmp_path: Path) -> None:
    (tmp_path / "mixed.txt").write_bytes(b"a\r\nb\nc\r\nd\r\n")
    plan = plan_patch(_p("*** Update File: mixed.txt\n@@\n a\n b\n-c\n+C\n d\n"), tmp_path)
    # Only the changed line is new (and gets the dominant CRLF); "b\n" stays "b\n".
    assert plan.changes[0].new_text == "a\r\nb\nC\r\nd\r\n"


def test_byte_order_mark_is_kept_and_not_matched(tmp_path: Path) -> None:
    (tmp_path / "bom.py").write_bytes("\ufeffimport os\nx = 1\n".encode())
    plan = plan_patch(_p("*** Update File: bom.py\n@@\n import os\n-x = 1\n+x = 2\n"), tmp_path)
    assert plan.changes[0].new_text == "\ufeffimport os\nx = 2\n"
    assert "\ufeff" not in plan.changes[0].diff


def test_loosely_matched_context_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "q.py").write_text("msg = \u201chi\u201d  \nvalue = 1\n")
    plan = plan_patch(
        _p('*** Update File: q.py\n@@\n msg = "hi"\n-value = 1\n+value = 2\n'), tmp_path
    )
    assert plan.changes[0].new_text == "msg = \u201chi\u201d  \nvalue = 2\n"


def test_mismatch_outside_the_workspace_shows_no_file_lines(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret.txt").write_text("token = hunter2\n")
    with pytest.raises(HunkMismatchError) as caught:
        plan_patch(_p("*** Update File: ../secret.txt\n@@\n-token = x\n+token = y\n"), workspace)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "outside the workspace, so its lines are not shown" in message
