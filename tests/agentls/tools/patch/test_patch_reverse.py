"""Round trips: random files and edits, patched and then un-patched, give the original bytes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agentls.tools.patch import commit_plan, parse_patch, plan_patch, reverse_patch
from agentls.tools.patch.reverse import render_patch, update_section

# Lines that look like patch syntax, blank lines, whitespace variants and plenty of repeats:
# the cases where a writer or matcher goes wrong.
_LINE = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "a",
            "a  ",
            "  a",
            "b",
            "x = 1",
            "@@",
            "@@ def f():",
            "+",
            "-",
            "*** End of File",
            "*** End Patch",
            "\tindented",
            "caf\u00e9 \u2014 \u201cq\u201d",
        ]
    ),
    st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12),
)


@dataclass(frozen=True)
class _Doc:
    lines: list[str]
    eol: str
    final_newline: bool

    def render(self, lines: list[str] | None = None) -> str:
        body = self.lines if lines is None else lines
        if not body:
            return ""
        text = self.eol.join(body)
        return text + self.eol if self.final_newline else text


def _canonical(doc: _Doc) -> _Doc:
    # "a\n" is one line with a final newline, not two lines without: say it that way.
    if not doc.final_newline and doc.lines and doc.lines[-1] == "":
        return _Doc(doc.lines[:-1], doc.eol, True)
    return doc


_DOCS = st.builds(
    _Doc,
    lines=st.lists(_LINE, max_size=40),
    eol=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
).map(_canonical)

_EDITS = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 4), st.lists(_LINE, max_size=4)),
    min_size=1,
    max_size=6,
)


def _edit(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> list[str]:
    result = list(lines)
    for position, remove, insert in edits:
        at = min(position, len(result))
        result[at : at + remove] = insert
    return result


def _expected(doc: _Doc, new_lines: list[str]) -> str:
    old = doc.render()
    if not doc.final_newline and new_lines and new_lines[-1] == "":
        # The last line is empty and unterminated: in bytes, the line before ends the file.
        new_lines = new_lines[:-1]
        if old != "":
            return _Doc(new_lines, doc.eol if "\n" in old else "\n", True).render()
    if old == "":
        # An empty file has no line ending style and no missing newline to keep.
        return _Doc(new_lines, "\n", True).render()
    eol = doc.eol if "\n" in old else "\n"
    return _Doc(new_lines, eol, doc.final_newline).render()


def _same_final_newline(old: str, new: str) -> bool:
    """False when the edit itself had to add a final newline (the last line left is empty):
    the language has no way to take one away again."""
    return old == "" or new == "" or old.endswith("\n") == new.endswith("\n")


def _whole_file_patch(path: str, old: str, new: str) -> str:
    """The test's own writer: one hunk that removes every line and adds the new ones."""
    lines = ["*** Begin Patch", f"*** Update File: {path}", "@@"]
    old_lines = old.replace("\r\n", "\n").split("\n")
    new_lines = new.replace("\r\n", "\n").split("\n")
    if old_lines[-1] == "":
        old_lines.pop()
    if new_lines[-1] == "":
        new_lines.pop()
    lines += ["-" + line for line in old_lines] + ["+" + line for line in new_lines]
    lines += ["*** End of File", "*** End Patch"]
    return "\n".join(lines) + "\n"


def _apply(workspace: Path, text: str) -> str:
    plan = plan_patch(parse_patch(text), workspace)
    commit_plan(plan)
    return reverse_patch(plan)


@settings(max_examples=200, deadline=None)
@given(doc=_DOCS, edits=_EDITS, move=st.booleans(), whole_file=st.booleans())
def test_update_then_reverse_gives_the_original_bytes(
    doc: _Doc, edits: list[tuple[int, int, list[str]]], move: bool, whole_file: bool
) -> None:
    new_lines = _edit(doc.lines, edits)
    old_text = doc.render()
    new_text = _expected(doc, new_lines)
    assume(new_text != old_text or move)
    # What the language cannot say: an empty result that should lack a final newline, a file
    # losing every line break (and with it the CRLF style new lines would get back).
    assume(new_text != "" or old_text == "" or doc.final_newline)
    assume("\r\n" not in old_text or "\n" in new_text)
    assume(_same_final_newline(old_text, new_text))
    # A whole-file hunk needs lines to remove.
    assume(not whole_file or (old_text and not move))
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        source = workspace / "src" / "f.txt"
        source.parent.mkdir()
        source.write_bytes(old_text.encode())
        target = "src/moved.txt" if move else None
        if whole_file:
            forward = _whole_file_patch("src/f.txt", old_text, new_text)
        else:
            forward = render_patch([update_section("src/f.txt", old_text, new_text, target)])
        backward = _apply(workspace, forward)
        result = workspace / (target or "src/f.txt")
        assert result.read_bytes() == new_text.encode()
        assert source.exists() is (not move)
        _apply(workspace, backward)
        assert source.read_bytes() == old_text.encode()
        assert not (workspace / "src/moved.txt").exists()


@settings(max_examples=60, deadline=None)
@given(
    added=st.lists(_LINE, max_size=10),
    deleted=st.lists(_LINE, max_size=10),
    kept=_DOCS,
    edits=_EDITS,
)
def test_patch_of_several_files_reverses(
    added: list[str], deleted: list[str], kept: _Doc, edits: list[tuple[int, int, list[str]]]
) -> None:
    # Add File always writes LF lines and a final newline, so the deleted file is such a file.
    deleted_text = "".join(line + "\n" for line in deleted)
    kept_text = kept.render()
    kept_new = _expected(kept, _edit(kept.lines, edits))
    assume(kept_new != kept_text)
    assume(kept_new != "" or kept_text == "" or kept.final_newline)
    assume("\r\n" not in kept_text or "\n" in kept_new)
    assume(_same_final_newline(kept_text, kept_new))
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        (workspace / "gone.txt").write_bytes(deleted_text.encode())
        (workspace / "kept.txt").write_bytes(kept_text.encode())
        sections = [
            ["*** Add File: new/added.txt"] + ["+" + line for line in added],
            update_section("kept.txt", kept_text, kept_new),
            ["*** Delete File: gone.txt"],
        ]
        backward = _apply(workspace, render_patch(sections))
        assert (workspace / "new/added.txt").read_text() == "".join(f"{x}\n" for x in added)
        assert (workspace / "kept.txt").read_bytes() == kept_new.encode()
        assert not (workspace / "gone.txt").exists()
        _apply(workspace, backward)
        assert (workspace / "gone.txt").read_bytes() == deleted_text.encode()
        assert (workspace / "kept.txt").read_bytes() == kept_text.encode()
        assert not (workspace / "new/added.txt").exists()
