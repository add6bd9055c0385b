"""The one guarded reader of files agentls reads for the model or the client.

Instruction files are named by a repository, attachments by a client, patch targets by the
model: none of them can be trusted to name an ordinary file. A FIFO blocks ``open`` for ever, a
device never ends (``/dev/zero``), ``/dev/stdin`` is the server's own LSP input, and
``/proc/self/environ`` holds the API key while reporting a size of 0. So every such read goes
through :func:`read_file`, which

- reads regular files only, judged on the opened descriptor (``fstat``), not on the name;
- refuses ``/proc``, ``/sys`` and ``/dev`` and any file on a pseudo filesystem mounted
  elsewhere, whatever links lead there (judged by the name given, then by where the kernel
  says the opened file is, and by its filesystem);
- never opens what is not a regular file (``stat`` first: opening some devices acts), and
  opens with ``O_NONBLOCK`` (a FIFO swapped in at the last moment cannot block the open),
  then checks that the file opened is the one looked at;
- reads at most ``limit + 1`` bytes, counted while reading: ``st_size`` lies for pseudo files
  and for a file that grows meanwhile;
- optionally refuses a file whose real path leaves a folder (instruction files stay in their
  repository).

It is synchronous; async code calls :func:`read_file_async`, which runs it in a thread with a
time bound, so a file on a hung network or FUSE mount stalls one read, not the server.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "READ_TIMEOUT_S",
    "FileRead",
    "UnreadableFileError",
    "check_path",
    "plain_or_missing",
    "read_file",
    "read_file_async",
    "within",
]

READ_TIMEOUT_S = 30.0
MAX_PATH_BYTES = 4095  # PATH_MAX less the terminating NUL
MAX_NAME_BYTES = 255
# Kernel interfaces, not files: what they "contain" is the server's own state or a stream.
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")
_PSEUDO_TYPES = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "debugfs",
        "tracefs",
        "securityfs",
        "cgroup",
        "cgroup2",
        "bpf",
        "configfs",
        "pstore",
        "efivarfs",
        "fusectl",
        "binfmt_misc",
        "mqueue",
        "nsfs",
        "autofs",
    }
)
_FIRST_READ = 64 * 1024
_CHUNK = 1 << 20


class UnreadableFileError(Exception):
    """A path that was not read, and why, in words meant for the model or the user.

    ``missing`` is set when nothing is there (a caller may treat that as "no file yet").
    """

    def __init__(self, path: str, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.missing = missing


@dataclass(frozen=True, slots=True)
class FileRead:
    data: bytes
    """At most ``limit`` bytes of the file."""
    truncated: bool
    """The file had more than ``limit`` bytes; only the first ``limit`` are in ``data``."""
    path: Path
    """The file that was read: the given path with every link followed."""


def check_path(path: str | os.PathLike[str]) -> str:
    """The path as text when the system could take it; raises for a NUL, an overlong path
    or name, and text no file name can hold (a lone surrogate), which would otherwise
    surface as ``ValueError``/``UnicodeEncodeError`` deep in some other call."""
    text = os.fspath(path)
    if "\0" in text:
        raise UnreadableFileError(repr(text), "the path contains a NUL character")
    try:
        encoded = os.fsencode(text)
    except UnicodeEncodeError:
        raise UnreadableFileError(repr(text), "the path is not valid as a file name") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise UnreadableFileError(text[:80] + "...", f"the path is too long ({len(encoded)} bytes)")
    if any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise UnreadableFileError(text, f"a name in the path is over {MAX_NAME_BYTES} bytes")
    return text


def within(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or below it, by their text (both already resolved)."""
    text, root = str(path), str(folder)
    return text == root or text.startswith(root.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISLNK(mode):
        return "a link that could not be followed"
    return "not a regular file"


_pseudo_devices: dict[int, bool] = {}


def _on_pseudo_filesystem(device: int) -> bool:
    """Whether ``device`` is a proc/sys-like filesystem, wherever it is mounted.

    Judged from ``/proc/self/mountinfo`` once per device seen (mounts rarely change; a new
    device is looked up afresh).
    """
    known = _pseudo_devices.get(device)
    if known is not None:
        return known
    pseudo: set[int] = set()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if " - " not in line or len(fields) < 3:
                    continue
                fs_type = line.split(" - ", 1)[1].split(" ", 1)[0]
                if fs_type in _PSEUDO_TYPES:
                    major, _, minor = fields[2].partition(":")
                    pseudo.add(os.makedev(int(major), int(minor)))
    except (OSError, ValueError):
        pass
    _pseudo_devices[device] = device in pseudo
    return _pseudo_devices[device]


def _refuse_pseudo(shown: str, *paths: str) -> None:
    for candidate in paths:
        if any(within(candidate, root) for root in _PSEUDO_ROOTS):
            raise UnreadableFileError(
                shown, "it is under /proc, /sys or /dev: kernel interfaces are not read"
            )


def read_file(
    path: str | os.PathLike[str],
    *,
    limit: int,
    inside: Path | None = None,
    follow_links: bool = True,
) -> FileRead:
    """At most ``limit`` bytes of the regular file at ``path``; raises
    :class:`UnreadableFileError` for everything else (``missing`` when nothing is there).

    ``inside`` (a resolved folder) refuses a file whose links lead out of it: the links are
    resolved before anything is opened, and the resolved path opened without following
    any. Without ``follow_links`` a link as the last name is refused (``O_NOFOLLOW``).
    """
    text = check_path(path)
    lexical = os.path.abspath(text)
    _refuse_pseudo(text, lexical)
    if inside is not None:
        lexical = os.path.realpath(lexical)
        _refuse_pseudo(text, lexical)
        if not within(lexical, inside):
            raise UnreadableFileError(text, f"it is a link to {lexical}, outside {inside}")
        follow_links = False
    try:
        # stat before open: opening some devices acts (a watchdog arms, a tape rewinds)
        named = os.stat(lexical, follow_symlinks=follow_links)
    except OSError as error:
        raise _error(text, error) from None
    if not stat.S_ISREG(named.st_mode):
        raise UnreadableFileError(text, f"it is {_kind(named.st_mode)}, not a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(lexical, flags if follow_links else flags | os.O_NOFOLLOW)
    except OSError as error:
        raise _error(text, error) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(text, f"it is {_kind(info.st_mode)}, not a regular file")
        if (info.st_dev, info.st_ino) != (named.st_dev, named.st_ino):
            raise UnreadableFileError(text, "it was replaced while being opened")
        # where the opened file really is (links followed by the kernel, no race)
        real = _opened_path(fd, lexical)
        _refuse_pseudo(text, real)
        if _on_pseudo_filesystem(info.st_dev):
            raise UnreadableFileError(text, "it is on a kernel pseudo filesystem (like /proc)")
        if inside is not None and not within(real, inside):
            raise UnreadableFileError(text, f"it is a link to {real}, outside {inside}")
        data = _read_at_most(fd, limit + 1, info.st_size)
    except OSError as error:
        raise _error(text, error) from None
    finally:
        os.close(fd)
    truncated = len(data) > limit
    return FileRead(data[:limit] if truncated else data, truncated, Path(real))


# files larger than this are not compared with an editor's buffer (taken as saved)
MAX_COMPARED_BYTES = 16 << 20


def disk_text(path: str | os.PathLike[str], limit: int = MAX_COMPARED_BYTES) -> str | None:
    """The file's UTF-8 text as it is on disk, or None when there is none to compare with
    (missing, not a plain file, over `limit` bytes, not UTF-8): what an editor's buffer is
    held against to tell whether it has unsaved edits."""
    try:
        got = read_file(path, limit=limit)
    except UnreadableFileError:
        return None
    if got.truncated:
        return None
    try:
        return got.data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def plain_or_missing(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a regular file away from the kernel's files, or nothing yet.

    For what is asked of an editor's buffers: their own reads of the disk (to tell unsaved
    edits) are not guarded, and an ACP client would read the file for us. One ``stat``, no
    open: cheap enough for the loop, and a FIFO does not block it.
    """
    try:
        lexical = os.path.abspath(check_path(path))
    except UnreadableFileError:
        return False
    if any(within(lexical, root) for root in _PSEUDO_ROOTS):
        return False
    try:
        info = os.stat(lexical)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and not _on_pseudo_filesystem(info.st_dev)


def _opened_path(fd: int, lexical: str) -> str:
    """The path of the file ``fd`` is open on, from the kernel where it tells (Linux)."""
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(lexical)
    if not real.startswith("/"):  # not a path (an anonymous inode): judged by fstat already
        return os.path.realpath(lexical)
    return real


def _read_at_most(fd: int, wanted: int, size_hint: int) -> bytes:
    """Up to ``wanted`` bytes, in as few reads as the size allows, never more."""
    first = min(wanted, size_hint + 1 if size_hint > 0 else _FIRST_READ)
    data = os.read(fd, first)
    if not data or len(data) >= wanted:
        return data
    parts = [data]
    got = len(data)
    while got < wanted:
        chunk = os.read(fd, min(_CHUNK, wanted - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _error(shown: str, error: OSError) -> UnreadableFileError:
    code = error.errno
    if code in (errno.ENOENT, errno.ENOTDIR):
        return UnreadableFileError(shown, "no such file", missing=True)
    if code == errno.ELOOP:
        return UnreadableFileError(shown, "it is a link that could not be followed")
    if code == errno.ENXIO:
        return UnreadableFileError(shown, "it is a socket or a device, not a regular file")
    if code == errno.EISDIR:
        return UnreadableFileError(shown, "it is a directory, not a regular file")
    return UnreadableFileError(shown, error.strerror or str(error))


async def read_file_async(
    path: str | os.PathLike[str],
    *,
    limit: int,
    inside: Path | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> FileRead:
    """:func:`read_file` in a thread, given up after ``timeout_s`` (the thread is left to end
    on its own: a read cannot be interrupted)."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(read_file, path, limit=limit, inside=inside), timeout_s
        )
    except TimeoutError:
        raise UnreadableFileError(
            os.fspath(path), f"reading it took longer than {timeout_s:g} s"
        ) from None
