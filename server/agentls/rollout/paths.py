"""Where a workspace's sessions live, and the only way a session id becomes a path.

Ids come from clients; they are checked against the UUID shape before any path is built, so
no id can name a file outside the workspace's session folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import orjson

_SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
SESSION_SUFFIX = ".jsonl"


class InvalidSessionIdError(ValueError):
    """A client sent an id that cannot be one of ours."""


def new_session_id() -> str:
    return str(uuid.uuid4())


def check_session_id(value: str) -> str:
    if not _SESSION_ID.fullmatch(value):
        raise InvalidSessionIdError(
            f"'{value[:80]}' is not a session id (expected a lowercase UUID such as "
            "'0b6f3c1e-2d4a-4b8e-9f10-3a2b1c0d9e8f')"
        )
    return value


def session_file_name(session_id: str, created: datetime) -> str:
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{stamp}-{check_session_id(session_id)}{SESSION_SUFFIX}"


def session_id_from_file_name(name: str) -> str | None:
    if not name.endswith(SESSION_SUFFIX) or len(name) < 36 + len(SESSION_SUFFIX):
        return None
    candidate = name[: -len(SESSION_SUFFIX)][-36:]
    return candidate if _SESSION_ID.fullmatch(candidate) else None


def uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        raise ValueError(f"workspace URI '{uri}' is not a file URI")
    return Path(unquote(parsed.path) if parsed.scheme else uri)


def normalize_workspace(path: Path) -> tuple[Path, str]:
    """One folder, one key: resolve symlinks and trailing slashes before hashing."""
    resolved = Path(os.path.realpath(path))
    return resolved, resolved.as_uri()


def workspace_folder_name(uri: str, path: Path) -> str:
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    name = _UNSAFE_NAME.sub("_", path.name)[:40].strip("._") or "root"
    return f"{name}-{digest}"


class UnsafeStateFolderError(OSError):
    """A folder agentls keeps its state in is a symlink or not a folder: it is not used."""


def ensure_private_dir(path: Path, *, follow: bool = False) -> bool:
    """Create `path` 0700 if missing; returns whether it was created.

    Only folders agentls creates get their mode set: an existing folder (a home the user
    pointed us at) keeps its own. Inside the home nothing is followed (`follow=False`): a
    symlink planted there could send writes, and chmods, anywhere.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not follow and path.is_symlink():
            raise UnsafeStateFolderError(
                f"{path} is a symbolic link; agentls does not follow links inside its state "
                "folder. Remove it (agentls recreates the folder)"
            ) from None
        if not path.is_dir():
            raise UnsafeStateFolderError(f"{path} exists and is not a folder") from None
        return False
    except FileNotFoundError:
        ensure_private_dir(path.parent, follow=True)
        return ensure_private_dir(path, follow=follow)
    os.chmod(path, 0o700)
    return True


@dataclass(frozen=True)
class WorkspaceLayout:
    """The folders of one workspace under the state root."""

    home: Path
    path: Path
    uri: str

    @classmethod
    def for_path(cls, home: Path, workspace: Path) -> WorkspaceLayout:
        resolved, uri = normalize_workspace(workspace)
        return cls(home=home, path=resolved, uri=uri)

    @property
    def root(self) -> Path:
        return self.home / "workspaces" / workspace_folder_name(self.uri, self.path)

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    def ensure(self) -> bool:
        """Create the workspace's folders; returns whether the sessions folder was created."""
        ensure_private_dir(self.home, follow=True)
        for folder in (self.home / "workspaces", self.root):
            ensure_private_dir(folder)
        created = ensure_private_dir(self.sessions_dir)
        marker = self.root / "workspace.json"
        if not marker.exists() and not marker.is_symlink():
            data = orjson.dumps({"uri": self.uri, "path": str(self.path)})
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            fd = os.open(marker, flags, 0o600)
            try:
                os.write(fd, data + b"\n")
            finally:
                os.close(fd)
        return created

    def session_path(self, session_id: str, created: datetime) -> Path:
        return self.sessions_dir / session_file_name(session_id, created)

    def find_session(self, session_id: str) -> Path | None:
        check_session_id(session_id)
        if not self.sessions_dir.is_dir():
            return None
        matches = sorted(self.sessions_dir.glob(f"*-{session_id}{SESSION_SUFFIX}"))
        return matches[0] if matches else None
