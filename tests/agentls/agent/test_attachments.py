"""Editor attachments rendered into user-message parts: sources, ranges, caps and failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentls.agent.attachments import (
    Attachment,
    AttachmentError,
    parse_attachments,
    render_attachments,
    uri_to_path,
)


def _disk_reader(buffers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Reads an open buffer first, else the real file on disk (as the server will)."""

    def read(uri: str) -> tuple[str, bool] | None:
        if buffers and uri in buffers:
            return buffers[uri], True
        path = uri_to_path(uri)
        if path is None or not path.is_file():
            return None
        return path.read_text(), False

    return read


def test_whole_file_from_disk_with_relative_path(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\r\n    return 0\r\n")
    attachment = Attachment(uri=(tmp_path / "src" / "app.py").as_uri())
    (part,) = render_attachments([attachment], _disk_reader(), workspace=tmp_path)
    assert part["type"] == "input_text"
    assert part["text"] == (
        "Attached file src/app.py (from disk):\n```python\ndef main():\n    return 0\n```"
    )


def test_selection_from_an_unsaved_buffer(tmp_path: Path) -> None:
    uri = (tmp_path / "m.ts").as_uri()
    buffers = {uri: "line0\nline1\nline2\nline3\n"}
    selection = {"start": {"line": 1, "character": 2}, "end": {"line": 3, "character": 0}}
    (attachment,) = parse_attachments([{"uri": uri, "range": selection}])
    (part,) = render_attachments([attachment], _disk_reader(buffers), workspace=tmp_path)
    text = part["text"]
    assert text.startswith("Attached selection in m.ts, lines 2-3 (from the editor's buffer")
    assert "```typescript\nline1\nline2\n```" in text
    assert "line3" not in text


def test_client_text_wins_over_reading(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("on disk\n")
    attachment = Attachment.model_validate(
        {
            "uri": (tmp_path / "a.txt").as_uri(),
            "range": {"start": {"line": 9, "character": 0}, "end": {"line": 10, "character": 4}},
            "text": "selected\ntext",
        }
    )

    def never(uri: str) -> tuple[str, bool] | None:
        raise AssertionError("read must not be called when the client sent the text")

    (part,) = render_attachments([attachment], never, workspace=tmp_path)
    assert "lines 10-11" in part["text"]
    assert "selected\ntext" in part["text"]
    assert "on disk" not in part["text"]


def test_unreadable_file_gets_a_part_saying_so(tmp_path: Path) -> None:
    missing = Attachment(uri=(tmp_path / "nope.py").as_uri())
    (part,) = render_attachments([missing], _disk_reader(), workspace=tmp_path)
    assert part["text"] == "Attached file nope.py: it could not be read (missing, or not text)."


def test_range_past_the_end(tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_text("one\ntwo\n")
    attachment = Attachment.model_validate(
        {
            "uri": (tmp_path / "short.txt").as_uri(),
            "range": {"start": {"line": 5, "character": 0}, "end": {"line": 6, "character": 1}},
        }
    )
    (part,) = render_attachments([attachment], _disk_reader(), workspace=tmp_path)
    assert "[lines 6-7 are past the end of the file (2 lines)]" in part["text"]


def test_per_attachment_cap_marks_what_was_left_out(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_text("".join(f"{i:09d}\n" for i in range(10_000)))  # 100,000 bytes
    (part,) = render_attachments([Attachment(uri=big.as_uri())], _disk_reader(), workspace=tmp_path)
    text = part["text"]
    assert text.endswith("[truncated: 3447 more lines]")
    assert "000006552\n" in text
    assert "000006553" not in text
    assert len(text.encode()) < 64 * 1024 + 200


def test_total_cap_across_attachments(tmp_path: Path) -> None:
    names = []
    for n in range(5):
        path = tmp_path / f"f{n}.txt"
        path.write_text("x" * 99 + "\n" + ("y" * 99 + "\n") * 599)  # 60,000 bytes each
        names.append(path)
    parts = render_attachments(
        [Attachment(uri=p.as_uri()) for p in names], _disk_reader(), workspace=tmp_path
    )
    assert len(parts) == 5
    assert all("[truncated" not in part["text"] for part in parts[:4])
    # 4 x 60,000 bytes leave 22,144 of the 256 KiB for the fifth: 221 lines of 100 bytes.
    assert parts[4]["text"].endswith("[truncated: 379 more lines]")


def test_fence_outgrows_backticks_in_the_text(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text("```python\nprint(1)\n```\n")
    (part,) = render_attachments([Attachment(uri=doc.as_uri())], _disk_reader(), workspace=tmp_path)
    assert "````markdown\n```python\nprint(1)\n```\n````" in part["text"]


def test_outside_workspace_and_non_file_uris(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    other = tmp_path / "other.txt"
    other.write_text("x\n")
    parts = render_attachments(
        [Attachment(uri=other.as_uri()), Attachment(uri="untitled:Untitled-1", text="draft")],
        _disk_reader(),
        workspace=ws,
    )
    assert parts[0]["text"].startswith(f"Attached file {other} (from disk)")
    assert parts[1]["text"].startswith("Attached file untitled:Untitled-1 (from the editor")


def test_parse_attachments_errors() -> None:
    assert parse_attachments(None) == []
    with pytest.raises(AttachmentError, match="must be a list"):
        parse_attachments({"uri": "file:///x"})
    with pytest.raises(AttachmentError, match=r"context\[1\]\.range\.start\.line"):
        parse_attachments(
            [
                {"uri": "file:///a"},
                {"uri": "file:///b", "range": {"start": {"line": -1, "character": 0}}},
            ]
        )
