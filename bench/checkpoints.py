"""Checkpoint figures on a generated workspace of 10,000 files / 200 MB.

Run: `.venv/bin/python -m bench.checkpoints` (add `--files N --mb M` for other sizes).
Prints JSON. Aims (issue 11 and 10): first snapshot < 3 s, snapshot after 5 changed files
< 150 ms, its diff (what `turnDiff` sends) < 200 ms, restore of a 100-file turn < 500 ms.
The files were just written, so they are in the page cache; a cold first snapshot reads
200 MB from disk on top of this. The machine is shared, so CPU time (this process and its
git children) is printed beside wall time, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agentls.checkpoints import ShadowRepo

T = TypeVar("T")
WORDS = [
    "def",
    "return",
    "import",
    "class",
    "self",
    "value",
    "index",
    "print",
    "yield",
    "async",
    "await",
    "lambda",
    "None",
]


def generate(root: Path, files: int, total_mb: int, rng: random.Random) -> list[Path]:
    """Source-like text: mostly repetitive (compresses like code) with a unique part per file."""
    average = total_mb * 1024 * 1024 // files
    paths: list[Path] = []
    for i in range(files):
        folder = root / f"pkg{i % 40:02d}" / f"mod{(i // 40) % 25:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(average // 2, average * 3 // 2)
        line = " ".join(rng.choice(WORDS) for _ in range(10)) + "\n"
        unique = os.urandom(size // 8).hex()
        body = (line * (size // len(line) + 1))[: size - len(unique)] + unique
        path = folder / f"file_{i:05d}.py"
        path.write_text(body)
        paths.append(path)
    return paths


CPU: dict[str, list[float]] = {}


def cpu_seconds() -> float:
    """CPU of this process and its finished children: steadier than wall time on a shared box."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(action: Callable[[], T], label: str = "") -> tuple[T, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    if label:
        CPU.setdefault(label, []).append((cpu_seconds() - cpu) * 1000)
    return result, (time.perf_counter() - start) * 1000


def run(files: int, total_mb: int) -> dict[str, float | int]:
    rng = random.Random(2026)
    tmp = Path(tempfile.mkdtemp(prefix="agentls-bench-checkpoints-"))
    try:
        workspace = tmp / "workspace"
        workspace.mkdir()
        paths, generate_ms = timed(lambda: generate(workspace, files, total_mb, rng))
        repo = ShadowRepo(tmp / "state", workspace)
        first, first_ms = timed(repo.snapshot, "first_snapshot")
        _, unchanged_ms = timed(repo.snapshot, "unchanged_snapshot")

        snap_ms: list[float] = []
        diff_ms: list[float] = []
        previous = first.tree
        for round_ in range(5):
            for path in rng.sample(paths, 5):
                with path.open("a") as fh:
                    fh.write(f"# edited in round {round_}\n")
            snap, ms = timed(repo.snapshot, "snapshot_5_changed")
            snap_ms.append(ms)
            diff, ms = timed(lambda: repo.diff(previous, snap.tree), "diff_5_changed")  # noqa: B023
            assert len(diff.files) == 5
            diff_ms.append(ms)
            previous = snap.tree

        restore_ms: list[float] = []
        for _ in range(3):
            before = repo.snapshot().tree
            chosen = rng.sample(paths, 80)
            for path in chosen[:60]:
                path.write_text(path.read_text()[: rng.randint(100, 5000)] + "rewritten\n")
            for path in chosen[60:]:
                path.unlink()
            for n in range(20):
                (workspace / "new" / f"d{n % 4}").mkdir(parents=True, exist_ok=True)
                (workspace / "new" / f"d{n % 4}" / f"created_{n}.py").write_text("x = 1\n" * n)
            after = repo.snapshot().tree
            assert len(repo.changed_paths(before, after)) == 100
            result, ms = timed(lambda: repo.restore(before, after), "restore_100_files")  # noqa: B023
            assert len(result.restored) == 100 and not result.skipped
            restore_ms.append(ms)
            assert repo.snapshot().tree == before

        store_mb = sum(f.stat().st_size for f in repo.git_dir.rglob("*") if f.is_file())
        return {
            "files": files,
            "workspace_mb": total_mb,
            "generate_ms": round(generate_ms),
            "first_snapshot_ms": round(first_ms),
            "unchanged_snapshot_ms": round(unchanged_ms, 1),
            "snapshot_5_changed_ms_median": round(statistics.median(snap_ms), 1),
            "snapshot_5_changed_ms_max": round(max(snap_ms), 1),
            "diff_5_changed_ms_median": round(statistics.median(diff_ms), 1),
            "diff_5_changed_ms_max": round(max(diff_ms), 1),
            "restore_100_files_ms_median": round(statistics.median(restore_ms), 1),
            "restore_100_files_ms_max": round(max(restore_ms), 1),
            "shadow_repo_mb": round(store_mb / (1024 * 1024), 1),
            **{f"cpu_{k}_ms_median": round(statistics.median(v), 1) for k, v in CPU.items()},
            "load_average_1min": os.getloadavg()[0],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.mb), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
