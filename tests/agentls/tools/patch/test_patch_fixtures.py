"""The sample patches in fixtures/patches do what their expected/ folders say."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.patches import load_scenario, scenario_names, snapshot

from agentls.tools.patch import (
    HunkMismatchError,
    commit_plan,
    parse_patch,
    plan_patch,
    reverse_patch,
)


def test_the_scenarios_are_there() -> None:
    assert set(scenario_names()) >= {
        "update_two_hunks",
        "add_file",
        "delete_file",
        "move_file",
        "failing_second_hunk",
    }


@pytest.mark.parametrize("name", scenario_names())
def test_scenario(tmp_path: Path, name: str) -> None:
    scenario = load_scenario(name)
    scenario.copy_input(tmp_path)
    before = snapshot(tmp_path)
    patch = parse_patch(scenario.patch)
    if scenario.error is not None:
        with pytest.raises(HunkMismatchError) as caught:
            plan_patch(patch, tmp_path)
        assert scenario.error in str(caught.value)
        assert snapshot(tmp_path) == scenario.expected() == before
        return
    plan = plan_patch(patch, tmp_path)
    commit_plan(plan)
    assert snapshot(tmp_path) == scenario.expected()
    undo = plan_patch(parse_patch(reverse_patch(plan)), tmp_path)
    commit_plan(undo)
    assert snapshot(tmp_path) == before
