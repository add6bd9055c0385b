"""Whether a command the model asks for can run without the user's approval.

The rest of the server needs two names from here: :func:`is_read_only`, which
``ask-unsafe`` asks before it runs a command unasked, and :func:`git_safe_env`, the
environment overrides every such command gets (:func:`script_commands` shows what bash
would run, for display and for tests). Importing this package loads neither
tree-sitter nor its grammar: the parser is built on the first classification, so start-up
does not pay for it.
"""

from __future__ import annotations

from agentls.tools.safety.classify import is_read_only
from agentls.tools.safety.git_env import git_safe_env
from agentls.tools.safety.script import script_commands

__all__ = ["git_safe_env", "is_read_only", "script_commands"]
