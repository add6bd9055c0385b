"""What the bubblewrap sandbox adds to every command.

    python bench/sandbox.py [--runs N]

Runs `true` through ``run_command`` N times each way (interleaved, so drifting machine load
hits both alike): directly, and sandboxed read-only offline (how unasked commands run) and
workspace-write (how approved commands run). The figure that matters is the median added
per command, spawn to result. Target: < 15 ms. Also the Stop latency (cancel to the call
having ended) of a `sleep`, direct and sandboxed, N/2 times each.
Prints JSON; exit status 1 when the sandbox is available and the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from agentls.tools.process import run_command
from agentls.tools.sandbox import SandboxPolicy, command_policy, sandbox_status

TARGET_MS = 15.0


async def _time_once(workspace: Path, policy: SandboxPolicy | None) -> float:
    started = time.perf_counter()
    result = await run_command(
        ["true"], cwd=workspace, timeout_s=30, on_output=lambda _: None, sandbox=policy
    )
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(f"`true` failed: {result}")
    return elapsed * 1000


async def _stop_once(workspace: Path, policy: SandboxPolicy | None) -> float:
    """Milliseconds from Stop (cancel) to the call having ended, nothing left running."""
    task = asyncio.ensure_future(
        run_command(
            ["bash", "-c", "sleep 30; echo done"],
            cwd=workspace,
            timeout_s=None,
            on_output=lambda _: None,
            sandbox=policy,
        )
    )
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise RuntimeError("the command ended before it was stopped")
    return (time.perf_counter() - started) * 1000


async def measure(runs: int) -> dict[str, Any]:
    status = sandbox_status()
    report: dict[str, Any] = {
        "sandbox_available": status.available,
        "reason": status.reason,
        "bwrap_version": status.version,
        "runs": runs,
    }
    if not status.available:
        return report
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        policies: dict[str, SandboxPolicy | None] = {
            "direct": None,
            "read_only_offline": command_policy(
                "workspace-write", workspace=workspace, sandbox_network=True, approved=False
            ),
            "workspace_write": command_policy(
                "workspace-write", workspace=workspace, sandbox_network=True, approved=True
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in policies}
        for policy in policies.values():  # warm-up: page cache, the probe
            await _time_once(workspace, policy)
        for _ in range(runs):
            for name, policy in policies.items():
                samples[name].append(await _time_once(workspace, policy))
        stops: dict[str, list[float]] = {"direct": [], "workspace_write": []}
        for _ in range(max(runs // 2, 3)):
            for name in stops:
                stops[name].append(await _stop_once(workspace, policies[name]))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    report["median_ms"] = {name: round(value, 2) for name, value in medians.items()}
    report["p90_ms"] = {
        name: round(statistics.quantiles(values, n=10)[-1], 2) for name, values in samples.items()
    }
    added = {
        name: round(medians[name] - medians["direct"], 2) for name in medians if name != "direct"
    }
    report["median_added_ms"] = added
    report["stop_p50_ms"] = {name: round(statistics.median(v), 2) for name, v in stops.items()}
    # Wall-clock figures on a shared machine: the load says how much to trust them.
    report["load_average_1m"] = round(os.getloadavg()[0], 2)
    report["target_ms"] = TARGET_MS
    report["within_target"] = all(value < TARGET_MS for value in added.values())
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    report = asyncio.run(measure(args.runs))
    print(json.dumps(report, indent=2))
    return 0 if report.get("within_target", True) else 1


if __name__ == "__main__":
    sys.exit(main())
