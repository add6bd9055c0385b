"""What the model reads back from an MCP tool call.

The model only takes text as a function call's output, so every content block becomes
text: text as is, structured content as JSON, and binary blocks as a one-line description
(so the model knows an image was produced instead of seeing an empty result). The whole is
cut in the middle like shell output, so a tool that returns megabytes cannot flood the
context or the server's memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from agentls.tools.truncate import OutputBuffer

__all__ = ["McpCallResult", "describe_size", "error_result", "render_result"]


@dataclass(frozen=True)
class McpCallResult:
    output: str
    is_error: bool


def describe_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _base64_size(data: str) -> int:
    """Decoded size of a base64 string, without decoding it."""
    stripped = data.rstrip("=")
    return len(stripped) * 3 // 4


def _resource_line(contents: types.TextResourceContents | types.BlobResourceContents) -> str:
    parts = [contents.uri]
    if contents.mime_type:
        parts.append(contents.mime_type)
    if isinstance(contents, types.BlobResourceContents):
        parts.append(describe_size(_base64_size(contents.blob)))
    return f"[resource: {', '.join(parts)}]"


def _render_block(block: types.ContentBlock) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent):
        return f"[image: {block.mime_type}, {describe_size(_base64_size(block.data))}]"
    if isinstance(block, types.AudioContent):
        return f"[audio: {block.mime_type}, {describe_size(_base64_size(block.data))}]"
    if isinstance(block, types.ResourceLink):
        parts = [block.uri]
        if block.mime_type:
            parts.append(block.mime_type)
        if block.size is not None:
            parts.append(describe_size(block.size))
        return f"[resource link: {', '.join(parts)}]"
    if isinstance(block, types.EmbeddedResource):
        line = _resource_line(block.resource)
        if isinstance(block.resource, types.TextResourceContents):
            return f"{line}\n{block.resource.text}"
        return line
    return f"[{getattr(block, 'type', 'unknown')} content]"


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


def _mirrored(structured: Any, content: list[types.ContentBlock]) -> bool:
    """Whether the text blocks already say what the structured content says.

    The spec asks servers to mirror structured content in a text block for older clients,
    and the SDK wraps a plain return value as `{"result": value}` next to its text; the
    model needs each fact once.
    """
    texts = [block.text for block in content if isinstance(block, types.TextContent)]
    if any(_same_json(text, structured) for text in texts):
        return True
    if isinstance(structured, dict) and set(structured) == {"result"}:
        value = structured["result"]
        joined = "\n".join(texts)
        return value == joined or _same_json(joined, value)
    return False


def render_result(result: types.CallToolResult) -> McpCallResult:
    """The call's text for the model, truncated, with the server's error flag."""
    parts = [_render_block(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not _mirrored(structured, result.content):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    buffer = OutputBuffer()
    buffer.append("\n".join(parts))
    return McpCallResult(output=buffer.text(), is_error=bool(result.is_error))


def error_result(message: str) -> McpCallResult:
    return McpCallResult(output=message, is_error=True)
