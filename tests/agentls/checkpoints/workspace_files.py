"""Looking at workspaces and snapshots with plain tools, independently of the engine."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from agentls.checkpoints import ShadowRepo


def write(root: Path, rel: str, data: bytes | str, *, mode: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mode is not None:
        path.chmod(mode)
    return path


def sh(root: Path, script: str) -> None:
    """Change the workspace the way a turn's command would: through a real shell."""
    subprocess.run(["sh", "-c", script], cwd=root, check=True)


def tree_state(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every path under root except .git folders: kind and content (link target for links)."""
    state: dict[str, tuple[str, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            if full.is_symlink():
                state[rel] = ("link", os.fsencode(os.readlink(full)))
            else:
                state[rel] = ("dir", b"")
        for name in files:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            if full.is_symlink():
                state[rel] = ("link", os.fsencode(os.readlink(full)))
            else:
                kind = "exec" if os.access(full, os.X_OK) else "file"
                state[rel] = (kind, full.read_bytes())
    return state


def hash_dir(root: Path) -> dict[str, str]:
    """sha256 of every file under root (links by target), keyed by relative path."""
    hashes: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            if full.is_symlink():
                hashes[rel] = "link:" + os.readlink(full)
            elif full.is_file():
                hashes[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
            else:
                hashes[rel] = "dir"
    return hashes


def tree_entries(repo: ShadowRepo, tree: str) -> dict[str, str]:
    """path -> mode of every entry of a snapshot tree, read with plain git."""
    out = subprocess.run(
        ["git", "--git-dir", str(repo.git_dir), "ls-tree", "-r", "-z", tree],
        capture_output=True,
        check=True,
    ).stdout
    entries: dict[str, str] = {}
    for record in out.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            entries[os.fsdecode(path)] = meta.split(b" ")[0].decode()
    return entries
