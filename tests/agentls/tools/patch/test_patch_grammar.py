"""The patch language parser: what it accepts (as leniently as the Codex CLI) and its errors."""

from __future__ import annotations

import pytest

from agentls.tools.patch.grammar import AddFile, DeleteFile, PatchError, UpdateFile, parse_patch


def test_all_three_operations_and_a_move() -> None:
    patch = parse_patch(
        "*** Begin Patch\n"
        "*** Add File: path/add.py\n+abc\n+\n+def\n"
        "*** Delete File: path/delete.py\n"
        "*** Update File: path/update.py\n*** Move to: path/update2.py\n"
        "@@ def f():\n-    pass\n+    return 123\n"
        "*** End Patch\n"
    )
    add, delete, update = patch.ops
    assert add == AddFile("path/add.py", "abc\n\ndef\n", 2)
    assert delete == DeleteFile("path/delete.py", 6)
    assert isinstance(update, UpdateFile)
    assert (update.path, update.move_path) == ("path/update.py", "path/update2.py")
    (chunk,) = update.chunks
    assert chunk.anchors == ("def f():",)
    assert chunk.old_lines == ("    pass",)
    assert chunk.new_lines == ("    return 123",)
    assert not chunk.end_of_file


def test_context_lines_and_end_of_file_and_several_anchors() -> None:
    patch = parse_patch(
        "*** Begin Patch\n*** Update File: a.py\n"
        "@@ class A\n@@     def m(self):\n ctx\n-old\n+new\n \n"
        "@@\n last\n+appended\n*** End of File\n"
        "*** End Patch"
    )
    (update,) = patch.ops
    assert isinstance(update, UpdateFile)
    first, second = update.chunks
    assert first.anchors == ("class A", "def m(self):")
    # " " is an empty context line (the space kept), it stays part of the hunk.
    assert first.old_lines == ("ctx", "old", "")
    assert first.new_lines == ("ctx", "new", "")
    assert second.end_of_file
    assert second.new_lines == ("last", "appended")


def test_empty_lines_between_hunks_separate_them() -> None:
    patch = parse_patch(
        "*** Begin Patch\n*** Update File: a.py\n@@\n-a\n+b\n\n\n@@\n-c\n+d\n\n*** End Patch"
    )
    (update,) = patch.ops
    assert isinstance(update, UpdateFile)
    assert [c.old_lines for c in update.chunks] == [("a",), ("c",)]


def test_first_hunk_may_omit_its_marker() -> None:
    (update,) = parse_patch(
        "*** Begin Patch\n*** Update File: f.py\n import foo\n+bar\n*** End Patch"
    ).ops
    assert isinstance(update, UpdateFile)
    assert update.chunks[0].new_lines == ("import foo", "bar")


@pytest.mark.parametrize(
    "text",
    [
        "  \n*** Begin Patch\n*** Delete File: x\n*** End Patch\n\n",
        "<<'EOF'\n*** Begin Patch\n*** Delete File: x\n*** End Patch\nEOF\n",
        '<<"EOF"\n*** Begin Patch\n*** Delete File: x\n*** End Patch\nEOF',
        "<<EOF\n*** Begin Patch\n*** Delete File: x\n*** End Patch\nEOF",
        "apply_patch <<'PATCH'\n*** Begin Patch\n*** Delete File: x\n*** End Patch\nPATCH",
        "*** Begin Patch \n  *** Delete File: x\n *** End Patch",
        "*** Begin Patch\r\n*** Delete File: x\r\n*** End Patch\r\n",
    ],
)
def test_lenient_wrappers(text: str) -> None:
    (op,) = parse_patch(text).ops
    assert isinstance(op, DeleteFile)
    assert op.path == "x"


def test_missing_begin_names_line_one() -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch("*** Update File: a.py\n@@\n-a\n+b\n*** End Patch")
    assert caught.value.line == 1
    assert "'*** Begin Patch'" in str(caught.value)


def test_missing_end_is_reported() -> None:
    with pytest.raises(PatchError, match=r"last line of the patch must be '\*\*\* End Patch'"):
        parse_patch("*** Begin Patch\n*** Delete File: a.py\n")


def test_bad_header_says_which_headers_are_valid() -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch("*** Begin Patch\n*** Modify File: a.py\n*** End Patch")
    assert caught.value.line == 2
    assert "'*** Update File: <path>'" in str(caught.value)


def test_unprefixed_line_in_a_hunk_points_at_it() -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch("*** Begin Patch\n*** Update File: a.py\n@@\n-a\n+b\nplain\n*** End Patch")
    assert caught.value.line == 6
    assert "'plain'" in str(caught.value)
    assert "starts with ' '" in str(caught.value)


def test_update_without_hunks_is_an_error() -> None:
    with pytest.raises(PatchError, match="has no hunks") as caught:
        parse_patch("*** Begin Patch\n*** Update File: test.py\n*** End Patch")
    assert caught.value.line == 2


def test_hunk_marker_without_lines_is_an_error() -> None:
    with pytest.raises(PatchError, match="has no lines"):
        parse_patch("*** Begin Patch\n*** Update File: a.py\n@@\n*** End Patch")


def test_move_alone_is_a_rename() -> None:
    (update,) = parse_patch(
        "*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n*** End Patch"
    ).ops
    assert isinstance(update, UpdateFile)
    assert (update.move_path, update.chunks) == ("b.py", ())


def test_heredoc_line_numbers_count_the_wrapper() -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch("<<'EOF'\n*** Begin Patch\n*** Nope: a\n*** End Patch\nEOF")
    assert caught.value.line == 3


def test_empty_patch_is_refused() -> None:
    with pytest.raises(PatchError, match="no file sections"):
        parse_patch("*** Begin Patch\n*** End Patch")


def test_blank_line_without_plus_inside_an_added_file() -> None:
    (add, delete) = parse_patch(
        "*** Begin Patch\n*** Add File: a.md\n+# Title\n\n+text\n\n"
        "*** Delete File: b\n*** End Patch"
    ).ops
    assert isinstance(add, AddFile)
    assert add.contents == "# Title\n\ntext\n"
    assert isinstance(delete, DeleteFile)


def test_unified_diff_ranges_in_hunk_headers_are_dropped() -> None:
    (update,) = parse_patch(
        "*** Begin Patch\n*** Update File: a.py\n@@ -10,3 +10,3 @@ def f():\n-a\n+b\n"
        "@@ -40 +40 @@\n-c\n+d\n*** End Patch"
    ).ops
    assert isinstance(update, UpdateFile)
    assert [chunk.anchors for chunk in update.chunks] == [("def f():",), ()]
