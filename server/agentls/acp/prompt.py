"""A `session/prompt`'s content blocks, as the text and attachments `agent/send` takes.

Clients put mentions between pieces of text (Zed sends `"Read "`, a `resource_link`,
`" and fix it"`), so a mention leaves `@path` in the text where it stood, and its content
joins the message as an attachment in agentls's `context` form (`{uri, range?, text?}`),
which the core reads and caps the same way for both front ends. What agentls cannot take
(audio, binary resources, images for a model without vision) is refused with the block's
index, never dropped: the user's words are not lost without a word.

A prompt that is a slash command (`/compact`, `/undo`, `/fork`, `/run`) is read by
`parse_command`; clients send commands back as the prompt's text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from acp.schema import (
    AudioContentBlock,
    BlobResourceContents,
    EmbeddedResourceContentBlock,
    ImageContentBlock,
    ResourceContentBlock,
    TextContentBlock,
)

__all__ = [
    "COMMAND_NAMES",
    "ContentBlock",
    "Prompt",
    "PromptError",
    "SlashCommand",
    "UndoRestore",
    "parse_command",
    "read_prompt",
    "undo_options",
]

ContentBlock = (
    TextContentBlock
    | ImageContentBlock
    | AudioContentBlock
    | ResourceContentBlock
    | EmbeddedResourceContentBlock
)
UndoRestore = Literal["all", "files", "conversation"]

COMMAND_NAMES = ("compact", "undo", "fork", "run")
# Zed's mention of a selection: `file:///path#L10:20` (1-based, both ends included);
# `#L10`, `#L10-20` and `#L10-L20` are read too.
_LINES = re.compile(r"^L(\d+)(?:[:-]L?(\d+))?$")


class PromptError(ValueError):
    """A prompt agentls cannot take as it is; the message says which block and why."""


@dataclass(frozen=True)
class Prompt:
    text: str
    # `agent/send.context` items: `{uri, range?, text?}` (an LSP range, 0-based, end excluded)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # images for a model that takes them: `{mimeType, data, uri?}` (data base64, as sent)
    images: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SlashCommand:
    name: str  # one of COMMAND_NAMES
    args: str


def _file_uri(uri: str, cwd: Path) -> str:
    """A `file:` URI for `uri`; a bare path (some clients send one) is taken from `cwd`."""
    if urlparse(uri).scheme:
        return uri
    return (cwd / uri).resolve().as_uri()


def _split_lines(uri: str) -> tuple[str, dict[str, Any] | None]:
    """The URI without a `#L..` fragment, and that fragment as an LSP range."""
    base, _, fragment = uri.partition("#")
    match = _LINES.match(fragment)
    if not match:
        return uri, None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1 or last < first:
        return base, None
    # lines first..last (1-based, inclusive) = 0-based first-1 up to the start of line `last`
    return base, {
        "start": {"line": first - 1, "character": 0},
        "end": {"line": last, "character": 0},
    }


def _mention(uri: str, span: dict[str, Any] | None, cwd: Path, name: str | None) -> str:
    """How a mention stands in the text: `@src/a.py` or `@src/a.py:10-20`."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        relative = os.path.relpath(path, cwd)
        shown = path if relative.startswith("..") else Path(relative).as_posix()
    else:
        shown = name or uri
    if span is not None:
        first, last = span["start"]["line"] + 1, span["end"]["line"]
        shown += f":{first}" if first == last else f":{first}-{last}"
    return f"@{shown}"


def _join(pieces: list[tuple[str, bool]]) -> str:
    """Text pieces and mentions (`True`) in order. Text is kept as the client split it;
    a mention gets a space where it would touch a word, and two texts that meet without
    any whitespace are separate paragraphs."""
    out = ""
    previous_mention = False
    for text, is_mention in pieces:
        if out and not out[-1].isspace() and text and not text[0].isspace():
            if is_mention or previous_mention:
                out += " "
            else:
                out += "\n\n"
        out += text
        previous_mention = is_mention
    return out


def _image(block: ImageContentBlock | BlobResourceContents, where: str) -> dict[str, str]:
    if isinstance(block, ImageContentBlock):
        image = {"mimeType": block.mime_type, "data": block.data}
        if block.uri:
            image["uri"] = block.uri
        return image
    if not block.mime_type:
        raise PromptError(f"{where}: an image needs its mimeType")
    return {"mimeType": block.mime_type, "data": block.blob, "uri": block.uri}


def read_prompt(blocks: Sequence[ContentBlock], cwd: Path, *, images: bool = False) -> Prompt:
    """The text and attachments of a prompt; `images` when the model takes them.

    Raises `PromptError` for a block agentls cannot take, and for a prompt with nothing
    in it.
    """
    pieces: list[tuple[str, bool]] = []
    attachments: list[dict[str, Any]] = []
    pictures: list[dict[str, str]] = []
    for index, block in enumerate(blocks):
        where = f"prompt[{index}]"
        if isinstance(block, TextContentBlock):
            pieces.append((block.text, False))
        elif isinstance(block, ResourceContentBlock):
            uri, span = _split_lines(_file_uri(block.uri, cwd))
            pieces.append((_mention(uri, span, cwd, block.name), True))
            if urlparse(uri).scheme == "file":
                attachments.append({"uri": uri, **({"range": span} if span else {})})
            # any other link (https:, a client's own scheme) is left to the model as text
        elif isinstance(block, EmbeddedResourceContentBlock):
            resource = block.resource
            if isinstance(resource, BlobResourceContents):
                mime = resource.mime_type or "no type"
                if images and mime.startswith("image/"):
                    pictures.append(_image(resource, where))
                    continue
                raise PromptError(
                    f"{where}: the binary resource {resource.uri} ({mime}) cannot be attached; "
                    "agentls takes text files and selections"
                )
            uri, span = _split_lines(_file_uri(resource.uri, cwd))
            pieces.append((_mention(uri, span, cwd, None), True))
            attachment: dict[str, Any] = {"uri": uri, "text": resource.text}
            if span is not None:
                attachment["range"] = span
            attachments.append(attachment)
        elif isinstance(block, ImageContentBlock):
            if not images:
                raise PromptError(f"{where}: the model in use does not take images")
            pictures.append(_image(block, where))
        elif isinstance(block, AudioContentBlock):
            raise PromptError(f"{where}: audio is not supported")
        else:  # pragma: no cover - the SDK validates blocks before they get here
            raise PromptError(f"{where}: unknown content block")
    text = _join(pieces)
    if not text.strip() and not attachments and not pictures:
        raise PromptError("the prompt is empty")
    return Prompt(text=text, attachments=attachments, images=pictures)


def parse_command(text: str) -> SlashCommand | None:
    """The slash command `text` is (`/name args`), or None for an ordinary message.

    Only agentls's own commands are commands: `/etc/hosts is broken` is a message.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    name, _, args = stripped[1:].partition(" ")
    name, newline, rest = name.partition("\n")
    if newline:
        args = f"{rest} {args}" if args else rest
    if name not in COMMAND_NAMES:
        return None
    return SlashCommand(name=name, args=args.strip())


def undo_options(args: str) -> tuple[UndoRestore, bool]:
    """`/undo [all|files|conversation] [force]` as (restore, force)."""
    restore: UndoRestore = "all"
    force = False
    for word in args.split():
        if word == "force":
            force = True
        elif word == "all":
            restore = "all"
        elif word == "files":
            restore = "files"
        elif word == "conversation":
            restore = "conversation"
        else:
            raise PromptError(
                f"/undo: unknown option '{word}'; use /undo [files|conversation] [force]"
            )
    return restore, force
