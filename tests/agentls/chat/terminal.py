"""A pseudo-terminal for driving `agentls chat` (or `make chat`) the way a person does.

The child gets the pty as its controlling terminal, in a session of its own, so the line
discipline behaves as in a real terminal: if the chat left ISIG on, a Ctrl-C byte written
here would become SIGINT for the whole foreground process group (`make` included).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.helpers import Changes, wait_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>78]")
ROOT = Path(__file__).resolve().parents[3]


def plain(data: str) -> str:
    """What a person reads, roughly: escape sequences removed, each redraw on its own line."""
    return ANSI.sub("", data).replace("\r\n", "\n").replace("\r", "\n")


def _take_terminal() -> None:
    # runs in the child after setsid(): the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self.raw = b""
        self.mark = 0  # `expect` searches after this point of the plain text
        self.arrivals = Changes()  # output came, or the terminal hung up
        self.hung_up = False  # every process holding the terminal closed it: all output is read
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    def chat(cls, env: dict[str, str], workspace: Path, *args: str) -> Terminal:
        command = [sys.executable, "-m", "agentls", "chat", "--workspace", str(workspace)]
        return cls([*command, *args], env)

    def _read(self) -> None:
        self._pending()
        if self.hung_up:
            asyncio.get_running_loop().remove_reader(self.master)
        self.arrivals.changed()

    @property
    def text(self) -> str:
        return plain(self.raw.decode(errors="replace"))

    def write(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    async def type(self, text: str, delay: float = 0.01) -> None:
        """One key at a time, as fingers do."""
        for char in text:
            self.write(char)
            await asyncio.sleep(delay)

    def ctrl_c(self) -> None:
        self.write(b"\x03")

    async def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait for `pattern` (a regex) after the mark; the mark moves past the match."""
        regex = re.compile(pattern)

        def find() -> re.Match[str] | None:
            match = regex.search(self.text, self.mark)
            if match is None and self.process.poll() is not None and not self._pending():
                raise AssertionError(f"exited before {pattern!r}:\n{self.text[self.mark :]}")
            return match

        # output wakes the check at once; a program that exits without a word does not
        match = await wait_for(
            find,
            timeout,
            what=f"{pattern!r} on the terminal",
            changes=self.arrivals,
            interval=0.2,
            explain=lambda: self.text[self.mark :],
        )
        self.mark = match.end()
        return match

    def _pending(self) -> bool:
        """Read what the terminal holds; False once nothing is left for now (or ever)."""
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return False
        except OSError:  # EIO: no process holds the terminal any more
            data = b""
        if not data:
            self.hung_up = True
            return False
        self.raw += data
        return True

    async def wait(self, timeout: float = 30) -> int:
        """The program's exit status, once it has exited and all it wrote has been read."""
        await wait_for(
            lambda: self.process.poll() is not None,
            timeout,
            what="the program to exit",
            interval=0.05,
            explain=lambda: "still running:\n" + self.text[-2000:],
        )
        # its last words may still be on their way through the terminal: the hang-up comes
        # after them
        await wait_for(
            lambda: not self._pending() and self.hung_up,
            timeout,
            what="the terminal to hang up",
            changes=self.arrivals,
            interval=0.05,
        )
        return self.process.returncode

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.master)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)
