"""The environment that keeps ``git`` from running anything, for commands run unasked.

The config check (:mod:`.git_config`) decides whether a git command may run without asking;
these overrides are the second line, added by the runner to every command it runs unasked,
so that a setting the check failed to see is switched off anyway. Command-line config
(``GIT_CONFIG_COUNT``) outranks the repository's own.
"""

from __future__ import annotations

__all__ = ["git_safe_env"]

_CONFIG_OVERRIDES: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.untrackedCache", "false"),
    ("core.sshCommand", "false"),
    ("credential.helper", ""),
    ("log.showSignature", "false"),
    ("protocol.allow", "never"),
)


def git_safe_env() -> dict[str, str]:
    """Environment overrides for commands that run unasked: git settings that run programs
    are switched off (command-line config outranks the repository's), pagers are ``cat``,
    optional index writes and lazy fetches are skipped.

    ``diff.external`` is not overridden: git 2.39 treats an empty value as a program to run
    and fails every diff; the config check is what stops it.
    """
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_CONFIG_COUNT": str(len(_CONFIG_OVERRIDES)),
    }
    for index, (key, value) in enumerate(_CONFIG_OVERRIDES):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env
