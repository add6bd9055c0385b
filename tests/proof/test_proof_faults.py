"""Crashes lose nothing: SIGKILL the real server at random moments, resume, go on.

A short run of `bench/fault_injection.py` (which does 200 kills): every kind of moment
(model streaming, command running, command printing, records being written, approval
pending, a random delay) at least once.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from bench.fault_injection import SCENARIOS, run_fault_injection

# SIGKILLs at random moments, timed against the server's work: alone, so the machine's load
# is not part of the test (`make pytest` runs `serial` tests after the parallel pass)
pytestmark = pytest.mark.serial

KILLS = 8


async def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    seed = int(os.environ.get("AGENTLS_PROOF_SEED") or random.randrange(1 << 32))
    report = await run_fault_injection(
        KILLS,
        seed,
        episode=4,
        root=tmp_path,
        progress=False,
        scenario_order=list(SCENARIOS),
        time_limit_s=120,
    )
    counts = report.to_json()
    context = f"seed {seed} (rerun with AGENTLS_PROOF_SEED={seed}): {counts}"
    assert report.kills == KILLS, context
    assert report.resume_failed == 0, context
    assert report.rejected == 0, context
    assert report.leaked_processes == 0, context
    assert report.missing_lines == 0, context
    assert report.next_send_failed == 0, context
    # the kills really hit running turns: some left calls or turns for the resume to repair
    assert report.repairs["turns_cut"] > 0, context
