"""git: read-only invocations, repository configs that run nothing, and the safe environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import git_safe_env, is_read_only

# --------------------------------------------------------------------------------------------
# git: read-only subcommands, and only in repositories whose config runs nothing
# --------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q")
    (folder / "a.txt").write_text("one\n")
    _git(folder, "add", "a.txt")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return folder


DANGEROUS_GIT_CONFIG = [
    ("core.fsmonitor", "touch pwned"),
    ("core.pager", "sh -c 'touch pwned'"),
    ("core.sshCommand", "touch pwned"),
    ("core.editor", "touch pwned"),
    ("core.hooksPath", "hooks"),
    ("core.askPass", "touch pwned"),
    ("core.worktree", "/"),
    ("pager.log", "touch pwned"),
    ("alias.st", "!touch pwned"),
    ("diff.external", "touch pwned"),
    ("diff.evil.textconv", "touch pwned"),
    ("diff.evil.command", "touch pwned"),
    ("filter.evil.clean", "touch pwned"),
    ("filter.evil.process", "touch pwned"),
    ("include.path", "other.config"),
    ("includeIf.gitdir:/.path", "other.config"),
    ("gpg.program", "touch pwned"),
    ("gpg.ssh.program", "touch pwned"),
    ("credential.helper", "!touch pwned"),
    ("credential.https://x.helper", "!touch pwned"),
    ("interactive.diffFilter", "touch pwned"),
    ("sequence.editor", "touch pwned"),
    ("log.showSignature", "true"),
    ("remote.origin.uploadpack", "touch pwned"),
    ("merge.evil.driver", "touch pwned"),
    ("CORE.FSMONITOR", "touch pwned"),  # names are case-insensitive
]


@pytest.mark.parametrize(("key", "value"), DANGEROUS_GIT_CONFIG, ids=repr)
def test_git_is_asked_in_a_repository_whose_config_runs_programs(
    repo: Path, key: str, value: str
) -> None:
    assert is_read_only(["git", "status"], repo)
    _git(repo, "config", key, value)
    assert not is_read_only(["git", "status"], repo)
    assert not is_read_only(sh("git log --oneline -5"), repo)
    (repo / "sub").mkdir()
    assert not is_read_only(["git", "diff"], repo / "sub")  # found by walking up
    assert not is_read_only(sh("cd sub && git diff"), repo)
    assert not is_read_only(sh("git -C repo status"), repo.parent)


def test_config_that_only_reads_is_fine(repo: Path) -> None:
    _git(repo, "config", "user.name", "someone")
    _git(repo, "config", "diff.renames", "true")
    _git(repo, "config", "remote.origin.url", "https://example.invalid/x.git")
    assert is_read_only(["git", "log", "--oneline", "-5"], repo)


def test_config_written_by_hand_is_read_as_git_reads_it(repo: Path) -> None:
    config = repo / ".git" / "config"
    # A key on the section line, odd spacing and case: git still sees core.fsmonitor.
    config.write_text(config.read_text() + '[CoRe] FsMonitor = "touch pwned"\n')
    assert "core.fsmonitor" in _git(repo, "config", "--list")
    assert not is_read_only(["git", "status"], repo)


def test_a_config_git_cannot_parse_is_refused(repo: Path) -> None:
    (repo / ".git" / "config").write_text("[core\nbroken")
    assert not is_read_only(["git", "status"], repo)


def test_a_dot_git_file_is_followed(repo: Path, tmp_path: Path) -> None:
    # A linked worktree: its .git is a file naming a folder whose commondir is the main one.
    linked = tmp_path / "linked"
    _git(repo, "worktree", "add", "-q", str(linked))
    assert (linked / ".git").is_file()
    assert is_read_only(["git", "status"], linked)
    _git(repo, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], linked)


def test_a_dot_git_file_pointing_elsewhere(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    (elsewhere / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    _git(repo, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], elsewhere)
    (elsewhere / ".git").write_text("not a gitdir line\n")
    assert not is_read_only(["git", "status"], elsewhere)


def test_submodule_configs_are_read(repo: Path) -> None:
    modules = repo / ".git" / "modules" / "lib"
    modules.mkdir(parents=True)
    (modules / "config").write_text("[core]\n\tfsmonitor = touch pwned\n")
    assert not is_read_only(["git", "status"], repo)


def test_embedded_repositories_configs_are_read(repo: Path) -> None:
    # A repository committed as a gitlink keeps its config in its own .git, and git status
    # in the outer one runs `git status` inside it.
    inner = repo / "inner"
    inner.mkdir()
    _git(inner, "init", "-q")
    (inner / "f").write_text("x\n")
    _git(inner, "add", "f")
    _git(inner, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    _git(repo, "add", "inner")
    assert is_read_only(["git", "status"], repo)
    _git(inner, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], repo)


def test_worktree_config_is_read(repo: Path) -> None:
    (repo / ".git" / "config.worktree").write_text("[core]\n\tpager = touch pwned\n")
    assert not is_read_only(["git", "status"], repo)


def test_outside_any_repository_git_is_judged_by_its_arguments(tmp_path: Path) -> None:
    assert is_read_only(["git", "status"], tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "-c", "core.pager=sh", "log"],
        ["git", "--exec-path=/tmp", "log"],
        ["git", "--config-env=core.pager=X", "log"],
        ["git", "-p", "log"],  # forces the pager
        ["git", "--paginate", "log"],
        ["git", "--work-tree=/", "status"],
        ["git", "log", "--format=%G?"],
        ["git", "log", "--pretty=format:%GS"],
        ["git", "log", "--show-signature"],
        ["git", "log", "--show-sig"],
        ["git", "diff", "--textconv"],
        ["git", "diff", "--text"],  # ambiguous with --textconv: refused rather than guessed
        ["git", "cat-file", "--filters", "HEAD:a.txt"],
        ["git", "grep", "-O", "x"],
        ["git", "grep", "--open-files-in-pager=sh", "x"],
        ["git", "describe", "--dirty"],
        ["git", "diff", "--no-index", "/", "/tmp"],
        ["git", "grep", "--no-index", "KEY"],
        ["git", "grep", "--no-i", "KEY"],
        ["git", "branch", "new"],
        ["git", "branch", "-d", "x"],
        ["git", "branch", "-m", "x"],
        ["git", "branch", "--set-upstream-to=x"],
        ["git", "branch", "--c", "x"],
        ["git", "remote", "add", "x", "y"],
        ["git", "fetch"],
        ["git", "help", "log"],
        ["git", "config", "--list"],
        ["git", "st"],  # could be an alias
    ],
    ids=repr,
)
def test_git_invocations_that_may_write_or_run(argv: list[str], repo: Path) -> None:
    assert not is_read_only(argv, repo)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "status", "--short"],
        ["git", "log", "--oneline", "-5"],
        ["git", "log", "--no-textconv", "-p"],
        ["git", "diff", "--no-ext-diff", "--stat"],
        ["git", "show", "HEAD:a.txt"],
        ["git", "branch", "-a", "-v"],
        ["git", "branch", "--list", "ma*"],
        ["git", "branch", "--contains", "HEAD"],
        ["git", "branch", "--show-current"],
        ["git", "remote", "-v"],
        ["git", "ls-files"],
        ["git", "rev-parse", "--show-toplevel"],
        ["git", "describe", "--always"],
        ["git", "grep", "-n", "one"],
        ["git", "log", "--format=%H %s"],
    ],
    ids=repr,
)
def test_git_invocations_that_only_read(argv: list[str], repo: Path) -> None:
    assert is_read_only(argv, repo)


def test_git_safe_env_disables_a_hostile_fsmonitor(repo: Path) -> None:
    marker = repo.parent / "pwned-by-fsmonitor"
    _git(repo, "config", "core.fsmonitor", f"touch {marker}")
    (repo / "a.txt").write_text("two\n")
    assert not is_read_only(["git", "status"], repo)
    # The classifier asks; should something still run git unasked, the overrides hold.
    env = {**os.environ, **git_safe_env()}
    done = subprocess.run(["git", "status"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert "a.txt" in done.stdout
    assert not marker.exists()
    # Without them the same repository does run the program: the test is not vacuous.
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=False)
    assert marker.exists()


def test_git_safe_env_keeps_diff_working(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    env = {**os.environ, **git_safe_env()}
    done = subprocess.run(["git", "diff"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert "+two" in done.stdout
    assert env["GIT_PAGER"] == "cat"
    keys = {env[f"GIT_CONFIG_KEY_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert {"core.fsmonitor", "core.hooksPath", "core.pager"} <= keys
