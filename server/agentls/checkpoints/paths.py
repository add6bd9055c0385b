"""Workspace paths as git sees them."""

from __future__ import annotations

from pathlib import Path


def behind_link(root: Path, relative: str, seen: dict[str, bool] | None = None) -> bool:
    """True when a folder on the way to `relative` is a symlink.

    git treats such a path as absent: what is behind the link belongs to wherever the link
    points, so it is never staged, read, written or deleted as a workspace file.

    `seen` remembers folders already looked at, for callers checking many paths at once.
    """
    parts = Path(relative).parts
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        is_link = seen.get(folder) if seen is not None else None
        if is_link is None:
            try:
                is_link = root.joinpath(folder).is_symlink()
            except OSError:
                is_link = False
            if seen is not None:
                seen[folder] = is_link
        if is_link:
            return True
    return False
