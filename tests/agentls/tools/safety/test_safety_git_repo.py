"""git: the repository is the one git itself finds, and every config it reads is checked.

Each hostile case plants a program that would create a marker file. A command the
classifier lets through is then run the way the server runs an unasked command (with
``git_safe_env()``, no sandbox: the classifier must hold on its own), and the marker must
not appear. The controls show that git really does run the planted program when asked
to, so the cases are not vacuous.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import git_safe_env, is_read_only

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always"]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout


def _commit(repo: Path, name: str = "a.txt", text: str = "one\n") -> None:
    (repo / name).write_text(text)
    _git(repo, "add", name)
    _git(repo, "commit", "-qm", f"add {name}")


def _plant(marker: Path) -> str:
    """A shell command that leaves ``marker`` behind and passes its input through (usable
    as a filter, a textconv or an external diff)."""
    return f"touch {marker}; cat"


def run_unasked_if_read_only(argv: list[str], cwd: Path) -> bool:
    """What the server does under ask-unsafe with the sandbox off: a read-only command runs
    at once, with the safe environment. Returns whether it ran."""
    if not is_read_only(argv, cwd):
        return False
    env = {**os.environ, **git_safe_env()}
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=30, check=False)
    return True


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    _git(folder, "init", "-q")
    _commit(folder)
    return folder


def _bare_with_textconv(path: Path, marker: Path, scratch: Path) -> None:
    """A bare repository with one commit whose files all go through a textconv program."""
    source = scratch / f"source-{path.name}"
    source.mkdir()
    _git(source, "init", "-q")
    _commit(source, "lib.c", "int x;\n")
    _commit(source, "lib.c", "int y;\n")
    _git(scratch, "clone", "-q", "--bare", str(source), str(path))
    (path / "info").mkdir(exist_ok=True)
    (path / "info" / "attributes").write_text("* diff=evil\n")
    _git(path, "config", "diff.evil.textconv", _plant(marker))


# --------------------------------------------------------------------------------------------
# The decoy: a bare repository behind an empty `.git/`
# --------------------------------------------------------------------------------------------


def test_the_control_git_runs_a_bare_repositorys_textconv(
    workspace: Path, marker: Path, tmp_path: Path
) -> None:
    lib = workspace / "vendor" / "lib"
    lib.parent.mkdir()
    _bare_with_textconv(lib, marker, tmp_path)
    (lib / ".git").mkdir()  # the decoy git ignores
    subprocess.run(["git", "-C", "vendor/lib", "log", "-p"], cwd=workspace, capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["git", "-C", "vendor/lib", "log", "-p"], "."),
        (["git", "-C", "vendor/lib", "status"], "."),
        (["git", "-C", "vendor/lib", "diff", "HEAD~1", "HEAD"], "."),
        (["git", "log", "-p"], "vendor/lib"),
        (["git", "show"], "vendor/lib/refs"),
        (sh("cd vendor/lib && git log -p"), "."),
        (sh("git -C vendor/lib log -p"), "."),
    ],
    ids=repr,
)
def test_a_bare_repository_behind_a_decoy_dot_git_is_found(
    argv: list[str], where: str, workspace: Path, marker: Path, tmp_path: Path
) -> None:
    lib = workspace / "vendor" / "lib"
    lib.parent.mkdir()
    _bare_with_textconv(lib, marker, tmp_path)
    (lib / ".git").mkdir()
    assert not run_unasked_if_read_only(argv, workspace / where)
    assert not marker.exists()


def test_a_clean_bare_repository_still_reads_unasked(workspace: Path, tmp_path: Path) -> None:
    lib = workspace / "vendor" / "lib"
    lib.parent.mkdir()
    _bare_with_textconv(lib, tmp_path / "unused", tmp_path)
    _git(lib, "config", "--unset", "diff.evil.textconv")
    (lib / ".git").mkdir()
    assert is_read_only(["git", "-C", "vendor/lib", "log", "-p"], workspace)


def test_a_decoy_planted_after_a_first_classification_is_seen(
    workspace: Path, marker: Path, tmp_path: Path
) -> None:
    # First, vendor/lib is an ordinary folder of the workspace's repository: read-only.
    lib = workspace / "vendor" / "lib"
    lib.mkdir(parents=True)
    argv = ["git", "log", "-p"]
    assert is_read_only(argv, lib)
    # Then it becomes a bare repository: what was remembered must not be reused.
    lib.rmdir()
    _bare_with_textconv(lib, marker, tmp_path)
    (lib / ".git").mkdir()
    assert not run_unasked_if_read_only(argv, lib)
    assert not marker.exists()


def test_a_repository_created_later_in_a_subfolder_is_seen(workspace: Path, marker: Path) -> None:
    sub = workspace / "sub"
    sub.mkdir()
    assert is_read_only(["git", "status"], sub)
    _git(sub, "init", "-q")
    _commit(sub)
    _git(sub, "config", "core.fsmonitor", f"touch {marker}")
    assert not run_unasked_if_read_only(["git", "status"], sub)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# Repositories named by the command: GIT_DIR, --git-dir, --work-tree, -c
# --------------------------------------------------------------------------------------------


@pytest.fixture
def elsewhere(tmp_path: Path, marker: Path) -> Path:
    """A repository outside the workspace whose diffs run a program."""
    repo = tmp_path / "elsewhere"
    repo.mkdir()
    _git(repo, "init", "-q")
    # In the git dir's attributes: they apply whatever the work tree.
    (repo / ".git" / "info" / "attributes").write_text("* diff=evil\n")
    _commit(repo, "a.txt", "one\n")
    _commit(repo, "a.txt", "two\n")
    _git(repo, "config", "diff.evil.textconv", _plant(marker))
    return repo


@pytest.mark.parametrize(
    "script",
    [
        "GIT_DIR={git} git log -p",
        "GIT_DIR={git} GIT_WORK_TREE={repo} git diff HEAD~1",
        "LANG=C GIT_DIR={git} git log -p",
        "git --git-dir={git} log -p",
        "git --git-dir {git} log -p",
        "git --git-dir={git} --work-tree={repo} diff HEAD~1",
        "git --work-tree=. --git-dir={git} show",
        "git -C {repo} log -p",
        "cd {repo} && git log -p",
    ],
)
def test_a_repository_named_by_the_command_is_the_one_checked(
    script: str, workspace: Path, elsewhere: Path, marker: Path
) -> None:
    argv = sh(script.format(git=elsewhere / ".git", repo=elsewhere))
    assert not run_unasked_if_read_only(argv, workspace)
    assert not marker.exists()


def test_the_control_git_dir_runs_the_textconv(
    workspace: Path, elsewhere: Path, marker: Path
) -> None:
    env = {**os.environ, "GIT_DIR": str(elsewhere / ".git")}
    subprocess.run(["git", "log", "-p"], cwd=workspace, env=env, capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize(
    "script",
    [
        "GIT_DIR={git} git log -p",
        "git --git-dir={git} log --oneline",
        "git --git-dir={git} --work-tree={repo} status",
        "git -C sub --work-tree=. status",
    ],
)
def test_a_clean_repository_named_by_the_command_reads_unasked(
    script: str, workspace: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    _git(other, "init", "-q")
    _commit(other)
    (workspace / "sub").mkdir()
    assert is_read_only(sh(script.format(git=other / ".git", repo=other)), workspace)


def test_the_servers_own_git_dir_is_honoured(
    workspace: Path, elsewhere: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started from a git hook, the server (and so every command) has GIT_DIR set.
    assert is_read_only(["git", "log", "-p"], workspace)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    assert not run_unasked_if_read_only(["git", "log", "-p"], workspace)
    assert not marker.exists()


@pytest.mark.parametrize(
    "script",
    [
        "GIT_DIR=$HOME/x git log",  # the value must be literal
        "GIT_DIR=~/x git log",
        "GIT_DIR=a:~/x git log",  # bash expands a tilde after `:` in an assignment
        "GIT_DIR=/proc/self/cwd/.git git log",
        "GIT_DIR=.git ls",  # only before git
        "GIT_DIR=.git; git log",
        "GIT_DIR= git log",
        "GIT_COMMON_DIR=x git log",
        "GIT_CONFIG_PARAMETERS=x git log",
        "git --git-dir=/proc/self/cwd/.git log",
        "git --work-tree=/ status",
        "git -C / --work-tree=. status",
        "git -C / --work-tree=proc status",
        "GIT_WORK_TREE=/ git diff",
        "git -C / -C proc status",
        "git --namespace=x log",
        "git --bare log",
        "git --git-dir log",
    ],
)
def test_repository_options_that_are_refused(script: str, workspace: Path) -> None:
    assert not is_read_only(sh(script), workspace)


@pytest.mark.parametrize(
    "setting",
    [
        "core.pager=sh",
        "core.fsmonitor=touch x",
        "core.fsmonitor",  # a bare name is true: the built-in daemon
        "diff.external=touch x",
        "diff.x.textconv=touch x",
        "filter.x.clean=touch x",
        "include.path=other",
        "includeIf.gitdir:/.path=other",
        "core.hooksPath=hooks",
        "credential.helper=!touch x",
        "alias.st=!touch x",
        "log.showSignature=true",
        "blame.ignoreRevsFile=/proc/self/environ",
        "core.attributesFile=x",
        "gpg.program=touch",
        "lfs.extension.x.clean=touch x",
    ],
)
def test_command_line_settings_that_are_refused(setting: str, workspace: Path) -> None:
    assert not is_read_only(["git", "-c", setting, "log"], workspace)


@pytest.mark.parametrize(
    "setting",
    ["core.quotepath=off", "color.ui=always", "log.showSignature=false", "pager.log=false"],
)
def test_command_line_settings_that_only_read(setting: str, workspace: Path) -> None:
    assert is_read_only(["git", "-c", setting, "log"], workspace)
    assert is_read_only(sh(f"git -c {setting} status"), workspace)


def test_command_line_settings_reach_discovery(workspace: Path, tmp_path: Path) -> None:
    # `-c safe.bareRepository=explicit` makes git refuse an implicit bare repository:
    # whatever git says about it, it is what the classifier goes by.
    lib = workspace / "lib"
    _bare_with_textconv(lib, tmp_path / "unused", tmp_path)
    _git(lib, "config", "--unset", "diff.evil.textconv")
    assert is_read_only(["git", "-C", "lib", "log"], workspace)
    assert not is_read_only(
        ["git", "-c", "safe.bareRepository=explicit", "-C", "lib", "log"], workspace
    )


# --------------------------------------------------------------------------------------------
# Gitfiles, worktrees, includes
# --------------------------------------------------------------------------------------------


def test_a_gitfile_pointing_outside(workspace: Path, elsewhere: Path, marker: Path) -> None:
    checkout = workspace / "checkout"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    assert not run_unasked_if_read_only(["git", "log", "-p"], checkout)
    assert not run_unasked_if_read_only(["git", "-C", "checkout", "log", "-p"], workspace)
    assert not marker.exists()
    subprocess.run(["git", "log", "-p"], cwd=checkout, capture_output=True)  # the control
    assert marker.exists()


def test_a_worktree_whose_common_config_has_a_filter(
    workspace: Path, marker: Path, tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    _git(workspace, "worktree", "add", "-q", str(linked))
    (linked / ".gitattributes").write_text("*.txt filter=evil\n")
    assert is_read_only(["git", "status"], linked)
    _git(workspace, "config", "filter.evil.clean", _plant(marker))
    # git status runs the clean filter on a file whose stat changed
    (linked / "a.txt").write_text("changed\n")
    assert not run_unasked_if_read_only(["git", "status"], linked)
    assert not run_unasked_if_read_only(["git", "diff"], linked)
    assert not marker.exists()
    subprocess.run(["git", "diff"], cwd=linked, capture_output=True)  # the control
    assert marker.exists()


def test_a_worktrees_own_config_worktree(workspace: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    _git(workspace, "worktree", "add", "-q", str(linked))
    _git(workspace, "config", "extensions.worktreeConfig", "true")
    assert is_read_only(["git", "status"], linked)
    _git(linked, "config", "--worktree", "core.fsmonitor", "touch x")
    assert not is_read_only(["git", "status"], linked)
    assert is_read_only(["git", "status"], workspace)


def test_include_if_pulling_in_another_file(workspace: Path, marker: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.config"
    extra.write_text("[user]\n\tname = someone\n")
    _git(workspace, "config", f"includeIf.gitdir:{workspace}/.path", str(extra))
    assert is_read_only(["git", "diff"], workspace)  # the included file is read, and clean
    program = tmp_path / "program.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(0o755)
    extra.write_text(f"[diff]\n\texternal = {program}\n")
    (workspace / "a.txt").write_text("changed\n")
    assert not run_unasked_if_read_only(["git", "diff"], workspace)
    assert not marker.exists()
    subprocess.run(["git", "diff"], cwd=workspace, capture_output=True)  # the control
    assert marker.exists()


def test_includes_are_followed_through_relative_paths_and_chains(
    workspace: Path, tmp_path: Path
) -> None:
    git_dir = workspace / ".git"
    (git_dir / "one.config").write_text("[include]\n\tpath = two.config\n")
    (git_dir / "two.config").write_text("[core]\n\tquotepath = off\n")
    _git(workspace, "config", "include.path", "one.config")
    assert is_read_only(["git", "status"], workspace)
    (git_dir / "two.config").write_text("[core]\n\tfsmonitor = touch x\n")
    assert not is_read_only(["git", "status"], workspace)
    (git_dir / "two.config").write_text("[include]\n\tpath = one.config\n")  # a loop
    assert is_read_only(["git", "status"], workspace)


@pytest.mark.parametrize(
    "target", ["/proc/self/environ", "~user/x", "%(prefix)/x", "missing.config", "."]
)
def test_includes_we_cannot_follow_are_asked(workspace: Path, target: str) -> None:
    _git(workspace, "config", "include.path", target)
    assert not is_read_only(["git", "status"], workspace)


# --------------------------------------------------------------------------------------------
# Submodules
# --------------------------------------------------------------------------------------------


@pytest.fixture
def with_submodule(workspace: Path, tmp_path: Path) -> Path:
    library = tmp_path / "library"
    library.mkdir()
    _git(library, "init", "-q")
    _commit(library, "lib.txt", "lib\n")
    _git(workspace, "submodule", "add", "-q", str(library), "lib")
    _git(workspace, "commit", "-qm", "submodule")
    return workspace / "lib"


def test_a_submodule_is_found_through_its_gitfile(
    workspace: Path, with_submodule: Path, marker: Path
) -> None:
    assert (with_submodule / ".git").is_file()
    assert is_read_only(["git", "status"], workspace)
    assert is_read_only(["git", "status"], with_submodule)
    (with_submodule / ".gitattributes").write_text("*.txt filter=evil\n")
    _git(with_submodule, "config", "filter.evil.clean", _plant(marker))
    # Same size, newer time: git must hash the file again, through the filter.
    os.utime(with_submodule / "lib.txt", (1, 1))
    (with_submodule / "lib.txt").write_text("LIB\n")
    assert not run_unasked_if_read_only(["git", "status"], workspace)
    assert not run_unasked_if_read_only(["git", "status"], with_submodule)
    assert not run_unasked_if_read_only(["git", "diff"], with_submodule)
    assert not marker.exists()
    subprocess.run(["git", "status"], cwd=workspace, capture_output=True)  # the control
    assert marker.exists()


def test_a_submodule_whose_gitfile_points_elsewhere(
    workspace: Path, with_submodule: Path, elsewhere: Path, marker: Path
) -> None:
    (with_submodule / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    assert not run_unasked_if_read_only(["git", "status"], workspace)
    assert not marker.exists()


def test_a_submodule_folder_with_a_decoy_dot_git(
    workspace: Path, with_submodule: Path, marker: Path, tmp_path: Path
) -> None:
    # The checked-out submodule is replaced by a bare repository behind an empty `.git/`.
    shutil.rmtree(with_submodule)
    _bare_with_textconv(with_submodule, marker, tmp_path)
    (with_submodule / ".git").mkdir()
    assert not run_unasked_if_read_only(["git", "log", "-p"], with_submodule)
    assert not run_unasked_if_read_only(["git", "status"], workspace)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# Settings that run programs, or read the kernel's files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "argv"),
    [
        ("core.fsmonitor", "{program}", ["git", "status"]),
        ("diff.external", "{program}", ["git", "diff"]),
        ("filter.evil.clean", "touch {marker}; cat", ["git", "status"]),
        ("filter.evil.clean", "touch {marker}; cat", ["git", "diff"]),
        ("diff.evil.textconv", "touch {marker}; cat", ["git", "diff"]),
        ("diff.evil.textconv", "touch {marker}; cat", ["git", "log", "-p"]),
    ],
    ids=repr,
)
def test_settings_that_run_programs_never_run_unasked(
    key: str, value: str, argv: list[str], workspace: Path, marker: Path
) -> None:
    program = workspace.parent / "program.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    program.chmod(0o755)
    _commit(workspace, ".gitattributes", "* diff=evil filter=evil\n")
    _commit(workspace, "a.txt", "two\n")
    _git(workspace, "config", key, value.format(program=program, marker=marker))
    (workspace / "a.txt").write_text("changed\n")
    assert not run_unasked_if_read_only(argv, workspace)
    assert not marker.exists()
    subprocess.run(argv, cwd=workspace, capture_output=True)  # the control
    assert marker.exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("blame.ignoreRevsFile", "/proc/self/environ"),
        ("blame.ignoreRevsFile", "../../../../../../../../proc/1/environ"),
        ("blame.ignoreRevsFile", "link-to-proc"),
        ("mailmap.file", "/sys/kernel/x"),
        ("core.excludesFile", "/proc/1/environ"),
        ("lfs.extension.x.clean", "touch x"),
        ("lfs.customtransfer.x.path", "touch"),
        ("pretty.mine", "%G?"),
        ("format.pretty", "%GS"),
        ("submodule.lib.update", "!touch x"),
        ("trailer.x.command", "touch x"),
        ("log.showSignature", ""),
        ("pager.log", "touch x"),
        ("alias.log", "!touch x"),
    ],
    ids=repr,
)
def test_more_settings_that_are_asked(key: str, value: str, workspace: Path) -> None:
    (workspace / "link-to-proc").symlink_to("/proc/self/environ")
    _git(workspace, "config", key, value)
    assert not is_read_only(["git", "blame", "a.txt"], workspace)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("blame.ignoreRevsFile", ".git-blame-ignore-revs"),
        ("core.fsmonitor", "false"),
        ("log.showSignature", "false"),
        ("pager.branch", "false"),
        ("alias.st", "status"),
        ("lfs.repositoryformatversion", "0"),
        ("pretty.short", "%h %s"),
        ("core.worktree", "."),
    ],
    ids=repr,
)
def test_settings_that_only_read(key: str, value: str, workspace: Path) -> None:
    _git(workspace, "config", key, value)
    assert is_read_only(["git", "blame", "a.txt"], workspace)


def test_inside_the_git_dir(workspace: Path, marker: Path) -> None:
    # Inside the git dir there is no work tree: attributes come from info/attributes.
    (workspace / ".git" / "info" / "attributes").write_text("* diff=evil\n")
    _commit(workspace, "a.txt", "two\n")
    assert is_read_only(["git", "log", "-p"], workspace / ".git")
    _git(workspace, "config", "diff.evil.textconv", _plant(marker))
    assert not run_unasked_if_read_only(["git", "log", "-p"], workspace / ".git")
    assert not run_unasked_if_read_only(sh("cd .git/refs && git log -p"), workspace)
    assert not marker.exists()
    subprocess.run(["git", "log", "-p"], cwd=workspace / ".git", capture_output=True)
    assert marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to give a repository to another user")
def test_a_repository_of_another_user(workspace: Path, marker: Path) -> None:
    # git refuses it (dubious ownership): not knowing what git does, the command is asked;
    # with `safe.directory` on the command line git uses it, and its config is checked.
    _git(workspace, "config", "core.fsmonitor", f"touch {marker}")
    (workspace / "a.txt").write_text("changed\n")
    subprocess.run(["chown", "-R", "65534:65534", str(workspace)], check=True)
    assert not is_read_only(["git", "log"], workspace)
    assert not run_unasked_if_read_only(["git", "-c", "safe.directory=*", "status"], workspace)
    assert not marker.exists()


def test_git_init_and_clone_are_asked(workspace: Path, tmp_path: Path) -> None:
    assert not is_read_only(["git", "init"], workspace / "new")
    assert not is_read_only(["git", "init", "--bare", "x"], workspace)
    assert not is_read_only(["git", "clone", str(workspace), "copy"], tmp_path)
    assert not is_read_only(["git", "worktree", "add", "x"], workspace)
    assert not is_read_only(["git", "submodule", "update"], workspace)


def test_folders_git_cannot_enter_need_no_question(workspace: Path) -> None:
    # git stops before it reads any config; the `cd` that fails leaves bash where it was,
    # and that place is checked as usual.
    assert is_read_only(["git", "-C", "missing", "status"], workspace)
    assert is_read_only(sh("cd missing; git status"), workspace)
    assert is_read_only(sh("cd missing && git status"), workspace)
    _git(workspace, "config", "core.fsmonitor", "touch x")
    assert not is_read_only(sh("cd missing; git status"), workspace)
