"""How long deciding "read-only?" takes: the first call in a process, and warm calls.

Run as `python -m bench.classify`. The first call pays for importing tree-sitter and loading
the bash grammar (done lazily, so server start-up does not); it is measured in fresh
interpreters. Warm figures are medians over repeated calls on one parser, for a few typical
commands, with and without a working folder (which adds path resolution and, for git, a
`git config --file` and a `git ls-files` run the first time a repository is seen). Figures are
milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentls.tools.safety import is_read_only

COMMANDS: dict[str, list[str]] = {
    "argv ls -la": ["ls", "-la"],
    "bash ls -la": ["bash", "-lc", "ls -la"],
    "bash pipeline": ["bash", "-lc", "cat README.md | grep -n foo | head -20"],
    "bash find": ["bash", "-lc", "find . -name '*.py' -type f"],
    "bash sed": ["bash", "-lc", "sed -n 1,40p server/agentls/cli.py"],
    "bash unsafe": ["bash", "-lc", "echo $'\\'' ; touch /tmp/x # '"],
    "git status": ["bash", "-lc", "git status"],
}

_FIRST_CALL = """
import time
start = time.perf_counter()
from agentls.tools.safety import is_read_only
imported = time.perf_counter()
is_read_only(["bash", "-lc", "ls -la | head"])
done = time.perf_counter()
print((imported - start) * 1000, (done - imported) * 1000)
"""


def _first_call(rounds: int) -> dict[str, float]:
    imports: list[float] = []
    firsts: list[float] = []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL], capture_output=True, text=True, check=True
        ).stdout.split()
        imports.append(float(out[0]))
        firsts.append(float(out[1]))
    return {
        "import_ms": round(statistics.median(imports), 3),
        "first_call_ms": round(statistics.median(firsts), 3),
    }


def _warm(argv: list[str], cwd: Path | None, rounds: int) -> float:
    is_read_only(argv, cwd)
    times: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        is_read_only(argv, cwd)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 4)


def _git_first_in_repo(rounds: int) -> float:
    """``git status`` classified once in a repository not seen before: the config and index
    are read by running git (later calls reuse what was read while the files are unchanged)."""
    times: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            repo = Path(folder)
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
            (repo / "f").write_text("x\n")
            subprocess.run(["git", "add", "f"], cwd=repo, check=True)
            start = time.perf_counter()
            is_read_only(["git", "status"], repo)
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cold-rounds", type=int, default=5)
    args = parser.parse_args()
    tree_sitter_loaded_at_import = "tree_sitter" in sys.modules
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        (repo / "README.md").write_text("foo\n")
        results: dict[str, Any] = {
            "tree_sitter_imported_by_module_import": tree_sitter_loaded_at_import,
            **_first_call(args.cold_rounds),
            "git_status_first_in_repo_ms": _git_first_in_repo(args.cold_rounds),
            "warm_ms_no_cwd": {
                name: _warm(argv, None, args.rounds) for name, argv in COMMANDS.items()
            },
            "warm_ms_with_cwd": {
                name: _warm(argv, repo, max(args.rounds // 10, 5))
                for name, argv in COMMANDS.items()
            },
        }
    for key, value in results.items():
        if isinstance(value, dict):
            for name, figure in value.items():
                print(f"{key:<20} {name:<16} {figure:>9} ms")
        else:
            print(f"{key:<37} {value}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
