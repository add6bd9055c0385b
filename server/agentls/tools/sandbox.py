"""Containing commands with bubblewrap (``bwrap``), so that what a command starts cannot
outlive it and what it touches is limited to what its policy allows.

Every command gets its own PID namespace. bubblewrap's pid 1 in that namespace carries
``PR_SET_PDEATHSIG=SIGKILL`` (``--die-with-parent``), and so does the outer ``bwrap`` process
we start. Left alone, pid 1 would wait for every process in the namespace, detached ones
included; but when the command's first process exits, pid 1 reports its status to the
outer ``bwrap``, which exits with it, which kills pid 1, and the kernel kills every other
process in the namespace with it. However a process
detaches (``setsid -f``, ``nohup``, a double fork, ``env -i``) it stays in the namespace, so
it dies too; and the same chain runs when the server itself is SIGKILLed. Inside, ``/proc``
is a fresh mount that shows only the namespace's own processes, so neither the server's
environment nor the reaper can be reached.

Filesystem: the whole tree is bound read-only; ``workspace-write`` binds its writable roots
(the workspace and the temp folder) writable again, except each root's top-level ``.git``,
which stays read-only (as the Codex CLI does): a command that could write ``.git/config``
or hooks could make a later, unasked ``git status`` run a program of its choice. (A
``.git`` the command creates, or one deeper in the tree, is not protected here: the
classifier reads every git config each time before a git command runs unasked.)

The state home (``$AGENTLS_HOME``: settings, sessions, the server's token) is hidden
behind an empty read-only tmpfs, in every mode: a command could otherwise read the token or
plant a ``config.toml`` the next start reads. Where it cannot be hidden (it holds the
workspace or the working folder) it is bound read-only instead. Inside a writable root,
every folder from the root down to it is made a mount point too: a mount point cannot be
renamed, so a command cannot move the real home aside and create a fake one at its path.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SandboxMode",
    "SandboxPolicy",
    "SandboxStatus",
    "command_policy",
    "contained_argv",
    "probe_sandbox",
    "sandbox_status",
    "wrap",
]

SandboxMode = Literal["read-only", "workspace-write", "off"]

# The probe starts one sandboxed `true`; a healthy bwrap does that in a few milliseconds,
# a wedged one must not hang the server's start.
_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SandboxPolicy:
    """What one command may do. ``writable_roots`` only matter in ``workspace-write``."""

    mode: SandboxMode
    network: bool
    writable_roots: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    """Folders no command may read or change (the state home), in any mode."""


@dataclass(frozen=True)
class SandboxStatus:
    available: bool
    reason: str | None
    """Why the sandbox cannot be used, in words for the user; ``None`` when available."""
    version: str | None
    bwrap: str | None = None
    """The absolute path of the ``bwrap`` used, once found."""


def temp_roots() -> tuple[Path, ...]:
    """The temp folders a writing command may use: ``$TMPDIR`` (if set) and ``/tmp``."""
    roots = [Path(tempfile.gettempdir()), Path("/tmp")]
    return tuple(dict.fromkeys(roots))


def command_policy(
    sandbox: str,
    *,
    workspace: Path,
    sandbox_network: bool,
    approved: bool,
    state_home: Path | None = None,
) -> SandboxPolicy:
    """The policy for one command, from the ``sandbox`` and ``sandbox_network`` settings.

    ``approved``: the user approved this command, or approvals are off (``never-ask``).
    Commands that run unasked (classified read-only) run read-only and offline whatever
    the settings say, so a misclassified command still cannot write or phone home.
    ``state_home`` (``settings.home``) is hidden from every sandboxed command.
    """
    hidden = (Path(os.path.abspath(state_home)),) if state_home is not None else ()
    if sandbox == "off":
        return SandboxPolicy(mode="off", network=True)
    if not approved:
        return SandboxPolicy(mode="read-only", network=False, hidden=hidden)
    if sandbox == "read-only":
        return SandboxPolicy(mode="read-only", network=sandbox_network, hidden=hidden)
    if sandbox == "workspace-write":
        return SandboxPolicy(
            mode="workspace-write",
            network=sandbox_network,
            writable_roots=(workspace, *temp_roots()),
            hidden=hidden,
        )
    raise ValueError(f"unknown sandbox mode: {sandbox!r}")


# --------------------------------------------------------------------------------------------
# Command lines
# --------------------------------------------------------------------------------------------


def _bwrap_path() -> str:
    return sandbox_status().bwrap or "bwrap"


def _existing_real(paths: tuple[Path, ...]) -> list[str]:
    """Real paths of the roots that exist, parents before children, without duplicates.

    Binding a parent after its child would hide the child's bind (and its read-only
    ``.git``); bwrap refuses a source that does not exist.
    """
    real = {os.path.realpath(path) for path in paths if os.path.isdir(path)}
    return sorted(real, key=lambda path: (path.count("/"), path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")


# (where, bwrap arguments): mounts are made parents first, so that a child's mount is not
# hidden by its parent's.
_Mount = tuple[str, list[str]]


def _hidden_mounts(hidden: str, roots: list[str], cwd: str) -> list[_Mount]:
    """Keeps ``hidden`` (the state home) out of a command's sight and reach."""
    real = os.path.realpath(hidden)
    holders = [root for root in roots if _inside(real, root)]
    if real == "/":
        return []
    if not os.path.isdir(real):
        if os.path.lexists(real) or not holders:
            # A file is bound read-only where it could be written; a missing folder outside
            # the writable roots cannot be created by the command.
            return [(real, ["--ro-bind", real, real])] if holders else []
        # Created now, so that it can be mounted over: the command could create it, and
        # the server would read what it put there at the next start.
        os.makedirs(real, mode=0o700, exist_ok=True)
    mounts: list[_Mount] = []
    if holders:
        # A mount point cannot be renamed: without these, `mv` of a folder above the home
        # would move the real one aside, and a fake could be created at its path.
        root = max(holders, key=_depth)
        folder = os.path.dirname(real)
        while _inside(folder, root) and folder != root:
            mounts.append((folder, ["--bind", folder, folder]))
            folder = os.path.dirname(folder)
    if any(_inside(place, real) for place in (*roots, cwd)):
        # It holds what the command works in: it cannot be hidden, only kept read-only
        # (what is writable inside it is bound again after it).
        if holders:
            mounts.append((real, ["--ro-bind", real, real]))
        return mounts
    mounts.append((real, ["--tmpfs", real, "--remount-ro", real]))
    return mounts


def _filesystem_args(policy: SandboxPolicy, cwd: str = "/") -> list[str]:
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    roots = _existing_real(policy.writable_roots) if policy.mode == "workspace-write" else []
    mounts: list[_Mount] = [(root, ["--bind", root, root]) for root in roots]
    for root in roots:
        git = os.path.join(root, ".git")
        if os.path.lexists(git):
            # A worktree's `.git` is a file; a symlinked one is bound at its target.
            mounts.append((git, ["--ro-bind", git, git]))
    real_cwd = os.path.realpath(cwd)
    for folder in policy.hidden:
        mounts += _hidden_mounts(str(folder), roots, real_cwd)
    for _where, mount in sorted(mounts, key=lambda item: _depth(item[0])):
        args += mount
    return args


def wrap(
    argv: list[str], *, cwd: Path, policy: SandboxPolicy, info_fd: int | None = None
) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` in ``cwd`` under ``policy``.

    ``mode="off"`` gives ``argv`` back unchanged. ``info_fd`` asks bwrap to write, to that
    (inherited) descriptor, a JSON object whose ``child-pid`` is the host pid of the
    namespace's pid 1; ``run_command`` uses it to wait until the namespace is gone.
    """
    if policy.mode == "off":
        return list(argv)
    return _command_line(_bwrap_path(), argv, cwd, policy, info_fd)


def _command_line(
    bwrap: str, argv: list[str], cwd: Path, policy: SandboxPolicy, info_fd: int | None
) -> list[str]:
    args = [
        bwrap,
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        # A session of its own: no controlling terminal, so no TIOCSTI into the user's.
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    if not policy.network:
        args.append("--unshare-net")
    args += _filesystem_args(policy, os.path.abspath(cwd))
    args += ["--chdir", os.path.abspath(cwd)]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    return [*args, "--", *argv]


def contained_argv(argv: list[str], cwd: Path) -> list[str]:
    """``argv`` in a PID namespace that dies with the server, for long-lived helpers.

    Meant for processes such as MCP servers: full filesystem and network access as the
    user, but nothing they start can outlive them or the server. Without a usable bwrap,
    ``argv`` comes back unchanged. The parent-death signal is tied to the *thread* that
    spawns the process, so spawn it from a thread that lives as long as the helper should
    (the event loop's thread).
    """
    if not sandbox_status().available:
        return list(argv)
    return [
        _bwrap_path(),
        "--die-with-parent",
        "--unshare-pid",
        "--new-session",
        "--dev-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--chdir",
        os.path.abspath(cwd),
        "--",
        *argv,
    ]


# --------------------------------------------------------------------------------------------
# Whether bubblewrap works here
# --------------------------------------------------------------------------------------------


def _last_line(text: bytes) -> str:
    lines = [line.strip() for line in text.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def _version(bwrap: str) -> str | None:
    try:
        done = subprocess.run(
            [bwrap, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.decode("utf-8", "replace").split()
    return words[-1] if done.returncode == 0 and words else None


def probe_sandbox(bwrap: str | None) -> SandboxStatus:
    """Start the strictest sandbox once with the ``bwrap`` at that path, and say whether
    it worked. Uncached; :func:`sandbox_status` is the cached answer for the server.
    """
    if bwrap is None:
        return SandboxStatus(
            available=False,
            reason="bubblewrap is not installed (no `bwrap` on PATH; Debian package `bubblewrap`)",
            version=None,
        )
    version = _version(bwrap)
    # Every namespace any policy uses: if this starts, the sandbox works here.
    strictest = SandboxPolicy(mode="read-only", network=False)
    argv = _command_line(bwrap, ["true"], Path("/"), strictest, None)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except OSError as exc:
        reason = f"bubblewrap could not be started ({bwrap}): {exc.strerror or exc}"
        return SandboxStatus(False, reason, version, bwrap)
    except subprocess.TimeoutExpired:
        reason = f"bubblewrap did not start a sandbox within {_PROBE_TIMEOUT_S:.0f} s"
        return SandboxStatus(False, reason, version, bwrap)
    if done.returncode != 0:
        detail = _last_line(done.stderr) or f"exit status {done.returncode}"
        reason = (
            "bubblewrap cannot create a sandbox here (user namespaces may be disabled "
            f"in this container): {detail}"
        )
        return SandboxStatus(False, reason, version, bwrap)
    return SandboxStatus(True, None, version, bwrap)


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Whether commands can be sandboxed on this machine; probed once per process."""
    found = shutil.which("bwrap")
    return probe_sandbox(os.path.abspath(found) if found else None)
