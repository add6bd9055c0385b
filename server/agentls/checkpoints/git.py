"""Running the `git` binary against the shadow repository, sealed off from everything else.

Why the `git` binary and not a library: git's index keeps each file's stat data, so a second
snapshot re-reads only the files whose size or times changed (about 35 ms of CPU for 10,000
unchanged files, measured in bench/checkpoints.py); it applies `.gitignore` files with
exactly the rules the user's own tools use; and it needs no native extension in our wheel.
dulwich (pure Python) hashes and walks far slower, and pygit2 is a compiled binding to
libgit2 that must match the platform.

Isolation: every call gets an environment with the caller's `GIT_*` variables removed (a
server started from a git hook would otherwise inherit `GIT_DIR` or `GIT_INDEX_FILE` and act
on the user's repository), no system or global configuration, and a fixed set of settings
passed as command-line configuration (`GIT_CONFIG_COUNT`), which outranks the shadow
repository's own file. Hooks point at /dev/null, fsmonitor is off, no line-ending or filter
conversion happens (see `ATTRIBUTES`), and automatic gc never runs behind our back. The
per-user ignore and attributes files (~/.config/git/ignore, .../attributes) are replaced by
explicit settings, so HOME and XDG_CONFIG_HOME need not be changed. `safe.directory` does
not come into it: git checks ownership only when it discovers a repository, and ours is
always named explicitly.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from agentls.checkpoints.errors import CheckpointError

MIN_VERSION = (2, 32)  # GIT_CONFIG_GLOBAL and GIT_CONFIG_COUNT
OBJECT_ID = re.compile(r"^[0-9a-f]{40}$")

# Settings every call runs with, whatever the shadow repository's config file says.
SETTINGS: dict[str, str] = {
    "core.bare": "false",
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.symlinks": "true",
    "core.fsmonitor": "false",
    "core.hooksPath": "/dev/null",
    "core.attributesFile": "/dev/null",
    "core.untrackedCache": "false",
    "core.quotePath": "false",
    "core.looseCompression": "1",
    "core.logAllRefUpdates": "false",
    "core.splitIndex": "false",
    "index.version": "4",
    "gc.auto": "0",
    "gc.autoDetach": "false",
    "maintenance.auto": "false",
    "advice.addEmbeddedRepo": "false",
    "advice.detachedHead": "false",
    "diff.noprefix": "false",
    "color.ui": "false",
}

# Written to the shadow repository's info/attributes, which outranks every .gitattributes
# of the workspace: blobs hold the files' exact bytes and are written back unchanged (no
# CRLF normalisation, no clean/smudge filters such as git-lfs, no $Id$ expansion).
ATTRIBUTES = "* -text -filter -ident -working-tree-encoding\n"


def _base_env(excludes_file: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    settings = dict(SETTINGS)
    settings["core.excludesFile"] = str(excludes_file) if excludes_file else "/dev/null"
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_LITERAL_PATHSPECS": "1",
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_CONFIG_COUNT": str(len(settings)),
        }
    )
    for i, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


class Git:
    """Runs git with the shadow repository as GIT_DIR and the workspace as its work tree."""

    def __init__(self, git_dir: Path, work_tree: Path, *, excludes_file: Path | None) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.index = git_dir / "index"
        self._env = _base_env(excludes_file)
        self._env["GIT_DIR"] = str(git_dir)
        self._env["GIT_WORK_TREE"] = str(work_tree)

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        index: Path | None = None,
        ok_codes: tuple[int, ...] = (0,),
        config: Mapping[str, str] | None = None,
    ) -> bytes:
        """Run one git command and return its stdout; any other exit code raises."""
        return self.run_both(*args, stdin=stdin, index=index, ok_codes=ok_codes, config=config)[0]

    def run_both(
        self,
        *args: str,
        stdin: bytes | None = None,
        index: Path | None = None,
        ok_codes: tuple[int, ...] = (0,),
        config: Mapping[str, str] | None = None,
    ) -> tuple[bytes, bytes]:
        """Like `run`, for the commands whose warnings on stderr we need: (stdout, stderr)."""
        overrides: list[str] = []
        for key, value in (config or {}).items():
            overrides += ["-c", f"{key}={value}"]
        env = {**self._env, "GIT_INDEX_FILE": str(index or self.index)}
        try:
            done = subprocess.run(
                ["git", *overrides, *args],
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env=env,
                cwd=self.work_tree,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CheckpointError(missing_git_message()) from exc
        except OSError as exc:
            raise CheckpointError(f"could not run git for checkpoints: {exc}") from exc
        if done.returncode not in ok_codes:
            raise CheckpointError(failure_message(args[0], done.returncode, done.stderr))
        return done.stdout, done.stderr

    def run_capped(self, *args: str, limit: int) -> tuple[bytes, bool]:
        """Run a git command, keeping at most `limit` bytes of stdout; True if cut short.

        The command is killed once the limit is passed, so a diff of thousands of generated
        files costs what the kept part costs, not the whole diff.
        """
        env = {**self._env, "GIT_INDEX_FILE": str(self.index)}
        try:
            proc = subprocess.Popen(
                ["git", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=self.work_tree,
            )
        except FileNotFoundError as exc:
            raise CheckpointError(missing_git_message()) from exc
        assert proc.stdout is not None
        assert proc.stderr is not None  # small: git's messages, read once stdout is done
        with proc:
            kept = proc.stdout.read(limit + 1)
            if len(kept) > limit:
                proc.kill()
                proc.wait()
                return kept[:limit], True
            stderr = proc.stderr.read()
            code = proc.wait()
        if code != 0:
            raise CheckpointError(failure_message(args[0], code, stderr))
        return kept, False

    def init(self) -> None:
        """Create the shadow repository if it is not there yet; keep its attributes file."""
        if not (self.git_dir / "HEAD").is_file():
            self.git_dir.parent.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in self._env.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
            try:
                done = subprocess.run(
                    ["git", "init", "--bare", "--quiet", "--template=", str(self.git_dir)],
                    capture_output=True,
                    env=env,
                    check=False,
                )
            except FileNotFoundError as exc:
                raise CheckpointError(missing_git_message()) from exc
            if done.returncode != 0:
                raise CheckpointError(failure_message("init", done.returncode, done.stderr))
            self.run("config", "core.bare", "false")
            # It holds copies of the workspace's files: readable by the user only, like the
            # rest of the state folder.
            self.git_dir.chmod(0o700)
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        attributes = info / "attributes"
        if not attributes.is_file() or attributes.read_text() != ATTRIBUTES:
            attributes.write_text(ATTRIBUTES)


def check_version() -> None:
    """Refuse early, with a message, when git is missing or too old for the isolation we use."""
    try:
        out = subprocess.run(
            ["git", "version"], capture_output=True, check=False, env=_base_env(None)
        ).stdout.decode(errors="replace")
    except FileNotFoundError as exc:
        raise CheckpointError(missing_git_message()) from exc
    match = re.search(r"(\d+)\.(\d+)", out)
    if match is None:
        raise CheckpointError(f"could not tell git's version from {out.strip()!r}")
    version = (int(match.group(1)), int(match.group(2)))
    if version < MIN_VERSION:
        raise CheckpointError(
            f"checkpoints need git {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer, found "
            f"{version[0]}.{version[1]}; upgrade git or set checkpoints = false"
        )


def missing_git_message() -> str:
    return (
        "checkpoints need the `git` program, which was not found on PATH; "
        "install git or set checkpoints = false"
    )


def failure_message(command: str, code: int, stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    detail = "; ".join(lines[-3:]) or "no message"
    hint = ""
    lowered = detail.lower()
    if "no space left" in lowered:
        hint = " (the disk is full: free some space)"
    elif "permission denied" in lowered or "read-only file system" in lowered:
        hint = " (the state folder or workspace is not writable)"
    return f"checkpoint failed: git {command} exited with {code}: {detail}{hint}"


def check_object_id(value: str) -> str:
    """Accept only full object ids, so a caller's value can never be read as an option."""
    if not OBJECT_ID.match(value):
        raise CheckpointError(f"not a checkpoint id: {value!r}")
    return value
