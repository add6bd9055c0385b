"""The guarded reader against everything that is not a plain file: FIFOs, sockets, devices,
/proc and /sys, links out of a folder, bad paths, huge and growing files."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentls.tools import files
from agentls.tools.files import (
    FileRead,
    UnreadableFileError,
    check_path,
    read_file,
    read_file_async,
)

IS_ROOT = os.geteuid() == 0
# what a refusal of a kernel file says: its place, or what it is once links are followed
KERNEL = ("/proc, /sys or /dev", "device", "FIFO", "socket", "pseudo filesystem")


def kernel_refusal(error: UnreadableFileError) -> bool:
    return not error.missing and any(word in error.reason for word in KERNEL)


def refused(path: str | Path, **options: Any) -> UnreadableFileError:
    """The reader's refusal, which must come at once: a reader that blocks fails the test
    instead of hanging it."""
    outcome: list[BaseException | FileRead] = []

    def attempt() -> None:
        try:
            outcome.append(read_file(path, limit=options.pop("limit", 1024), **options))
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), f"reading {path!r} blocked"
    (result,) = outcome
    assert isinstance(result, UnreadableFileError), result
    return result


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_a_regular_file_is_read_whole_under_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 100)
    got = read_file(path, limit=100)
    assert got == FileRead(b"x" * 100, False, path)
    cut = read_file(path, limit=99)
    assert cut.data == b"x" * 99 and cut.truncated


def test_an_empty_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    assert read_file(tmp_path / "e", limit=10) == FileRead(b"", False, tmp_path / "e")


def test_missing_is_told_apart(tmp_path: Path) -> None:
    assert refused(tmp_path / "nope").missing
    (tmp_path / "file").write_text("x")
    assert refused(tmp_path / "file" / "below").missing  # ENOTDIR
    assert not refused(tmp_path).missing


def test_a_fifo_is_refused_without_blocking(fifo: Path) -> None:
    error = refused(fifo)
    assert "FIFO" in error.reason and not error.missing


def test_a_link_to_a_fifo_is_refused(fifo: Path, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(fifo)
    assert "FIFO" in refused(tmp_path / "link").reason


def test_a_fifo_swapped_in_after_the_check_does_not_block(
    fifo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is checked, then opened: what is opened is judged again, and the open
    itself cannot wait for a writer."""
    plain = tmp_path / "plain"
    plain.write_text("x")
    real_stat = os.stat
    monkeypatch.setattr(
        files.os, "stat", lambda p, **kw: real_stat(plain if str(p) == str(fifo) else p, **kw)
    )
    assert "FIFO" in refused(fifo).reason


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        server.listen()
        assert "socket" in refused(path).reason
    finally:
        server.close()


@pytest.mark.parametrize(
    "path",
    ["/dev/zero", "/dev/urandom", "/dev/null", "/dev/stdin", "/dev/tty", "/dev/fd/0"],
)
def test_devices_and_the_servers_own_input_are_refused(path: str) -> None:
    assert "/proc, /sys or /dev" in refused(path).reason


@pytest.mark.parametrize(
    "path", ["/proc/self/environ", "/proc/self/fd/0", "/proc/self/mem", "/sys/kernel/uevent_seqnum"]
)
def test_proc_and_sys_are_refused(path: str) -> None:
    assert "/proc, /sys or /dev" in refused(path).reason


@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/stdin", "/proc/self/fd/0"])
def test_links_into_proc_and_dev_are_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "AGENTS.md").symlink_to(target)
    (tmp_path / "hop").symlink_to(tmp_path / "AGENTS.md")
    assert kernel_refusal(refused(tmp_path / "hop"))


def test_a_folder_linked_to_proc_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fds").symlink_to("/proc/self/fd")
    assert kernel_refusal(refused(tmp_path / "fds" / "0"))
    (tmp_path / "self").symlink_to("/proc/self")
    assert kernel_refusal(refused(tmp_path / "self" / "environ"))


@pytest.mark.skipif(not IS_ROOT, reason="mknod needs root")
@pytest.mark.parametrize(
    ("kind", "device"),
    [(stat.S_IFCHR, os.makedev(1, 5)), (stat.S_IFBLK, os.makedev(7, 0))],
)
def test_device_nodes_outside_dev_are_refused_unopened(
    tmp_path: Path, kind: int, device: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tmp_path / "node"
    try:
        os.mknod(node, kind | 0o600, device)
    except PermissionError:
        pytest.skip("this container forbids mknod")
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(
        files.os, "open", lambda p, *a, **kw: opened.append(str(p)) or real_open(p, *a, **kw)
    )
    assert "device" in refused(node).reason
    assert opened == []  # opening some devices acts: they are never opened


def test_the_pseudo_filesystem_check_knows_proc_wherever_it_is() -> None:
    assert files._on_pseudo_filesystem(os.stat("/proc/self/environ").st_dev)
    assert not files._on_pseudo_filesystem(os.stat(__file__).st_dev)


def test_a_link_chain_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("key")
    (repo / "docs" / "hop").symlink_to(secret)
    (repo / "AGENTS.md").symlink_to(repo / "docs" / "hop")
    error = refused(repo / "AGENTS.md", inside=repo)
    assert str(secret) in error.reason
    (repo / "docs" / "real.md").write_text("rules")
    (repo / "LINKED.md").symlink_to("docs/real.md")
    assert read_file(repo / "LINKED.md", limit=100, inside=repo).data == b"rules"


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert "link" in refused(tmp_path / "a").reason


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("a\0b", "NUL"),
        ("x" * 300, "over 255 bytes"),
        ("/".join(["d" * 200] * 25), "too long"),
        ("bad\ud800name", "not valid"),
    ],
)
def test_bad_paths_are_refusals_not_crashes(path: str, why: str) -> None:
    with pytest.raises(UnreadableFileError, match=why):
        check_path(path)
    assert why in refused(path).reason


def test_a_huge_file_costs_only_the_limit(tmp_path: Path) -> None:
    huge = tmp_path / "AGENTS.md"
    with huge.open("wb") as out:
        out.truncate(400 << 20)  # sparse: 400 MiB that take no disk
    started = time.perf_counter()
    got = read_file(huge, limit=32 * 1024)
    assert len(got.data) == 32 * 1024 and got.truncated
    assert time.perf_counter() - started < 1


def test_a_size_of_zero_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pseudo files report 0 bytes and then stream: only the bytes read count."""
    path = tmp_path / "big"
    path.write_bytes(b"y" * (3 << 20))
    real_fstat = os.fstat

    def zero_size(fd: int) -> Any:
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 0, *info[7:10]))

    monkeypatch.setattr(files.os, "fstat", zero_size)
    got = read_file(path, limit=(1 << 20) + 5)
    assert len(got.data) == (1 << 20) + 5 and got.truncated


def test_a_file_growing_while_read_stops_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"")
    stop = threading.Event()

    def grow() -> None:
        with path.open("ab") as out:
            while not stop.is_set():
                out.write(b"z" * 65536)
                out.flush()

    writer = threading.Thread(target=grow, daemon=True)
    writer.start()
    try:
        while path.stat().st_size < (2 << 20):
            time.sleep(0.01)
        got = read_file(path, limit=1 << 20)
    finally:
        stop.set()
        writer.join()
    assert len(got.data) == 1 << 20 and got.truncated


async def test_the_async_reader_gives_up_on_a_hung_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def hung(*_args: Any, **_kwargs: Any) -> FileRead:
        release.wait(10)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(files, "read_file", hung)
    try:
        with pytest.raises(UnreadableFileError, match=r"took longer than 0\.2 s"):
            await read_file_async(tmp_path / "x", limit=10, timeout_s=0.2)
    finally:
        release.set()


async def test_the_async_reader_leaves_the_loop_free(fifo: Path) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(UnreadableFileError, match="FIFO"):
            await read_file_async(fifo, limit=10)
        got = await read_file_async(Path(__file__), limit=10)
        assert got.data
    finally:
        ticker.cancel()
    assert ticks >= 1


def test_plain_or_missing_tells_what_an_editor_may_be_asked_about(
    tmp_path: Path, fifo: Path
) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "env").symlink_to("/proc/self/environ")
    assert files.plain_or_missing(tmp_path / "a.txt")
    assert files.plain_or_missing(tmp_path / "new.txt")
    assert files.plain_or_missing(tmp_path / "a.txt" / "below")
    for path in (fifo, tmp_path, tmp_path / "env", "/dev/zero", "/proc/self/environ", "a\0b"):
        assert not files.plain_or_missing(path), path
