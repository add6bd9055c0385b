"""Editor attachments rendered into user-message parts: sources, ranges, caps and failures."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from agentls.agent import attachments as attachments_module
from agentls.agent.attachments import (
    Attachment,
    AttachmentError,
    parse_attachments,
    read_sources,
    render_attachments,
    uri_to_path,
)
from agentls.agent.editor import Buffer, NoEditor


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


class _OneBuffer(NoEditor):
    """An editor with one file open."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def buffer(self, path: Path) -> Buffer | None:
        if path != self.path:
            return None
        return Buffer(path, path.as_uri(), self.text, 1, True)


async def _shown(uris: list[str], tmp_path: Path, editor: Any = None) -> list[str]:
    attachments = [Attachment(uri=uri) for uri in uris]
    sources = await read_sources(attachments, editor or NoEditor())
    parts = render_attachments(attachments, sources.get, workspace=tmp_path)
    return [part["text"] for part in parts]


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("file:///proc/self/environ", "/proc, /sys or /dev"),
        ("file:///dev/urandom", "/proc, /sys or /dev"),
        ("file:///dev/stdin", "/proc, /sys or /dev"),
        ("file:///tmp/a%00b", "NUL"),
        ("https://example.com/x", "only file: URIs"),
    ],
)
async def test_what_is_no_plain_file_is_never_read(tmp_path: Path, uri: str, why: str) -> None:
    (text,) = await _shown([uri], tmp_path)
    assert "could not be read" in text and why in text


async def test_a_fifo_or_a_socket_in_the_workspace_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(tmp_path / "sock"))
        texts = await asyncio.wait_for(
            _shown([(tmp_path / "pipe").as_uri(), (tmp_path / "sock").as_uri()], tmp_path), 5
        )
    finally:
        listening.close()
    assert "FIFO" in texts[0] and "socket" in texts[1]


async def test_a_link_to_proc_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "env.txt").symlink_to("/proc/self/environ")
    (text,) = await _shown([(tmp_path / "env.txt").as_uri()], tmp_path)
    assert "could not be read" in text and "PATH=" not in text


async def test_an_oversized_or_binary_file_says_so(tmp_path: Path) -> None:
    with (tmp_path / "huge.log").open("wb") as out:
        out.truncate(400 << 20)
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    texts = await _shown(
        [(tmp_path / "huge.log").as_uri(), (tmp_path / "blob.bin").as_uri()], tmp_path
    )
    assert "larger than 8 MiB" in texts[0]
    assert "not UTF-8 text" in texts[1]


async def test_the_editor_buffer_wins_and_the_disk_is_read_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "open.py"
    opened.write_text("on disk\n")
    closed = tmp_path / "closed.py"
    closed.write_text("closed file\n")
    loop_thread = threading.get_ident()
    readers: list[int] = []
    real = attachments_module.read_from_disk

    def spy(path: Path) -> tuple[str, bool] | str:
        readers.append(threading.get_ident())
        return real(path)

    monkeypatch.setattr(attachments_module, "read_from_disk", spy)
    texts = await _shown(
        [opened.as_uri(), closed.as_uri()], tmp_path, _OneBuffer(opened, "in the buffer\n")
    )
    assert "in the buffer" in texts[0] and "on disk" not in texts[0]
    assert "closed file" in texts[1]
    assert readers and loop_thread not in readers


async def test_a_hung_read_is_given_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(
        attachments_module, "read_from_disk", lambda _path: release.wait(10) and "late"
    )
    attachment = Attachment(uri=(tmp_path / "slow.txt").as_uri())
    try:
        sources = await read_sources([attachment], NoEditor(), timeout_s=0.2)
    finally:
        release.set()
    assert sources[attachment.uri] == "reading it took too long"


async def test_the_editor_is_not_asked_about_devices_and_fifos(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")

    class Strict(NoEditor):
        """An editor whose own disk reads would hang on such files."""

        def buffer(self, path: Path) -> Buffer | None:
            assert path.name not in ("pipe", "zero", "environ"), path
            return None

    texts = await _shown(
        [(tmp_path / "pipe").as_uri(), "file:///dev/zero", "file:///proc/self/environ"],
        tmp_path,
        Strict(),
    )
    assert all("could not be read" in text for text in texts)
