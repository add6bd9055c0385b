"""Is a stored item something the model API will accept back?

A rollout line can be valid JSON and still not be a valid item (a byte flipped inside a
role or a type by a bad disk, a hand edit). Replaying it would make every later request of
the session fail, so resume drops such items and says so. The checks follow what the
Responses API requires of input items; they are cheap enough for 50,000 items.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PART_TYPES = {
    "user": {"input_text", "input_image", "input_file"},
    "system": {"input_text"},
    "developer": {"input_text"},
    "assistant": {"output_text", "refusal"},
}


def _text_parts_ok(content: Any, role: str) -> bool:
    if isinstance(content, str):
        return True
    if not isinstance(content, list):
        return False
    allowed = _PART_TYPES[role]
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in allowed:
            return False
        if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            return False
        if part["type"] == "refusal" and not isinstance(part.get("refusal"), str):
            return False
    return True


def item_problem(item: dict[str, Any]) -> str | None:
    """Why the API would refuse this item, or None when it is fine."""
    kind = item.get("type")
    if kind == "message":
        role = item.get("role")
        if role not in _PART_TYPES:
            return f"a message with unknown role {role!r}"
        if not _text_parts_ok(item.get("content"), str(role)):
            return f"a {role} message with malformed content"
        return None
    if kind == "function_call":
        if not isinstance(item.get("call_id"), str) or not item["call_id"]:
            return "a function call without a call id"
        if not isinstance(item.get("name"), str) or not _NAME.fullmatch(item["name"]):
            return "a function call with an invalid name"
        if not isinstance(item.get("arguments"), str):
            return "a function call whose arguments are not a string"
        return None
    if kind == "function_call_output":
        if not isinstance(item.get("call_id"), str) or not item["call_id"]:
            return "a call output without a call id"
        output = item.get("output")
        if not isinstance(output, str | list):
            return "a call output that is neither text nor a list of parts"
        return None
    if kind == "reasoning":
        return None if isinstance(item.get("summary", []), list) else "malformed reasoning"
    return f"an item of unknown type {kind!r}"


def drop_invalid(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The items the API accepts, and one warning per kind of item dropped."""
    kept: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for item in items:
        problem = item_problem(item)
        if problem is None:
            kept.append(item)
        else:
            dropped[problem] = dropped.get(problem, 0) + 1
    warnings = [f"skipped {count} damaged item(s): {problem}" for problem, count in dropped.items()]
    return kept, warnings
