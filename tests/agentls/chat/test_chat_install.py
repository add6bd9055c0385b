"""`make chat` installs what the chat needs, visibly; `make test` still installs everything."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agentls.chat.terminal import ROOT


def _planned(target: str, venv: Path) -> list[str]:
    """The commands make would run for `target` in a fresh virtual environment (-n)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(ROOT), f"VENV={venv}", target],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_make_chat_installs_the_runtime_only_and_shows_progress(tmp_path: Path) -> None:
    plan = _planned("chat", tmp_path / "venv")
    installs = [line for line in plan if "pip install" in line]
    assert any("-e '.[local]'" in line for line in installs)
    assert not any("dev" in line for line in installs)
    assert not any("--quiet" in line for line in installs)
    assert any("Installing agentls" in line for line in plan)
    assert plan[-1].endswith("agentls chat ")


def test_make_pytest_still_installs_the_test_tools(tmp_path: Path) -> None:
    plan = _planned("pytest", tmp_path / "venv")
    assert any("-e '.[dev,local]'" in line for line in plan)
