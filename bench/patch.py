"""apply_patch on a 50-file patch: parse, plan and commit times (the target is under 50 ms).

Run as `python -m bench.patch`. Each round builds a fresh temporary workspace of 50 source files
(300 lines each), then times one patch that updates 40 of them with two hunks each (one under a
`@@ def` anchor), adds 5 and deletes 5: parsing, planning (reading, locating hunks, diffs) and
committing (temporaries, fsync, renames) separately and together. Figures are milliseconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agentls.tools.patch import commit_plan, parse_patch, plan_patch


def _source(n: int) -> str:
    lines: list[str] = []
    for f in range(30):
        lines.append(f"def function_{n}_{f}(value):")
        for k in range(8):
            lines.append(f"    step_{k} = value * {k} + {f}  # file {n}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _workspace(root: Path, files: int) -> None:
    for n in range(files):
        folder = root / f"pkg{n % 5}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{n}.py").write_text(_source(n))


def _patch(files: int) -> str:
    out = ["*** Begin Patch"]
    updates = files * 4 // 5
    for n in range(updates):
        out += [
            f"*** Update File: pkg{n % 5}/mod{n}.py",
            f"@@ def function_{n}_3(value):",
            f"     step_0 = value * 0 + 3  # file {n}",
            f"-    step_1 = value * 1 + 3  # file {n}",
            f"+    step_1 = value * 1 + 4  # file {n}, changed",
            f"     step_2 = value * 2 + 3  # file {n}",
            "@@",
            f"     step_6 = value * 6 + 20  # file {n}",
            f"     step_7 = value * 7 + 20  # file {n}",
            "+    extra = True",
            " ",
            f" def function_{n}_21(value):",
        ]
    for n in range(updates, updates + (files - updates) // 2):
        out.append(f"*** Delete File: pkg{n % 5}/mod{n}.py")
    for n in range(files - updates - (files - updates) // 2):
        out.append(f"*** Add File: added/new{n}.py")
        out += [f"+line {k}" for k in range(50)]
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


def run(files: int, rounds: int) -> dict[str, Any]:
    text = _patch(files)
    parse_ms: list[float] = []
    plan_ms: list[float] = []
    commit_ms: list[float] = []
    total_ms: list[float] = []
    changed = 0
    for _ in range(rounds):
        root = Path(tempfile.mkdtemp(prefix="agentls-bench-patch-"))
        try:
            _workspace(root, files)
            t0 = time.perf_counter()
            patch = parse_patch(text)
            t1 = time.perf_counter()
            plan = plan_patch(patch, root)
            t2 = time.perf_counter()
            commit_plan(plan)
            t3 = time.perf_counter()
            changed = len(plan.changes)
            parse_ms.append((t1 - t0) * 1000)
            plan_ms.append((t2 - t1) * 1000)
            commit_ms.append((t3 - t2) * 1000)
            total_ms.append((t3 - t0) * 1000)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "files_changed": changed,
        "patch_bytes": len(text.encode()),
        "rounds": rounds,
        "parse_ms_median": round(statistics.median(parse_ms), 2),
        "plan_ms_median": round(statistics.median(plan_ms), 2),
        "commit_ms_median": round(statistics.median(commit_ms), 2),
        "total_ms_median": round(statistics.median(total_ms), 2),
        # The least disturbed round: on a shared, busy machine the median mostly measures the
        # neighbours.
        "total_ms_min": round(min(total_ms), 2),
        "total_ms_max": round(max(total_ms), 2),
        "target_ms": 50,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
