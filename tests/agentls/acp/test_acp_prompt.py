"""Prompt content blocks as agentls's text and attachments; slash commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from acp import (
    audio_block,
    embedded_blob_resource,
    embedded_text_resource,
    image_block,
    resource_block,
    resource_link_block,
    text_block,
)

from agentls.acp.prompt import (
    Prompt,
    PromptError,
    SlashCommand,
    parse_command,
    read_prompt,
    undo_options,
)
from agentls.agent.attachments import parse_attachments, render_attachments

CWD = Path("/work/project")


def test_plain_text() -> None:
    assert read_prompt([text_block("fix the build")], CWD) == Prompt("fix the build")


def test_a_mention_between_texts_stays_in_place_and_is_attached() -> None:
    prompt = read_prompt(
        [
            text_block("Read "),
            resource_link_block("a.py", "file:///work/project/src/a.py"),
            text_block(" and fix it"),
        ],
        CWD,
    )
    assert prompt.text == "Read @src/a.py and fix it"
    assert prompt.attachments == [{"uri": "file:///work/project/src/a.py"}]


def test_a_selection_has_its_lines_as_an_lsp_range() -> None:
    prompt = read_prompt(
        [
            text_block("Why?"),
            resource_link_block("a.py (10-20)", "file:///work/project/a.py#L10:20"),
        ],
        CWD,
    )
    assert prompt.text == "Why? @a.py:10-20"
    assert prompt.attachments == [
        {
            "uri": "file:///work/project/a.py",
            "range": {"start": {"line": 9, "character": 0}, "end": {"line": 20, "character": 0}},
        }
    ]
    # the core reads that range as lines 10 to 20
    (attachment,) = parse_attachments(prompt.attachments)
    text = "".join(f"line {n}\n" for n in range(1, 31))
    (part,) = render_attachments([attachment], lambda uri: (text, False), workspace=CWD)
    assert "line 10\n" in part["text"]
    assert "line 20\n" in part["text"]
    assert "line 9\n" not in part["text"]
    assert "line 21\n" not in part["text"]


@pytest.mark.parametrize(
    ("fragment", "lines"), [("#L7", (7, 7)), ("#L3-9", (3, 9)), ("#L3-L9", (3, 9))]
)
def test_other_line_fragments(fragment: str, lines: tuple[int, int]) -> None:
    prompt = read_prompt([resource_link_block("x", f"file:///work/project/x.c{fragment}")], CWD)
    span = prompt.attachments[0]["range"]
    assert (span["start"]["line"] + 1, span["end"]["line"]) == lines


def test_embedded_context_carries_its_text() -> None:
    prompt = read_prompt(
        [
            text_block("Explain"),
            resource_block(
                embedded_text_resource("file:///work/project/a.py#L2:3", "x = 1\ny = 2\n")
            ),
            resource_block(embedded_text_resource("zed:///agent/rule/1", "Be brief.")),
        ],
        CWD,
    )
    assert prompt.text == "Explain @a.py:2-3 @zed:///agent/rule/1"
    assert prompt.attachments == [
        {
            "uri": "file:///work/project/a.py",
            "text": "x = 1\ny = 2\n",
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}},
        },
        {"uri": "zed:///agent/rule/1", "text": "Be brief."},
    ]


def test_links_outside_the_workspace_and_bare_paths() -> None:
    prompt = read_prompt(
        [
            resource_link_block("hosts", "file:///etc/hosts"),
            resource_link_block("foo.rs", "foo.rs"),
            resource_link_block("docs", "https://example.com/docs"),
        ],
        CWD,
    )
    assert prompt.text == "@/etc/hosts @foo.rs @docs"
    assert prompt.attachments == [
        {"uri": "file:///etc/hosts"},
        {"uri": "file:///work/project/foo.rs"},
    ]  # a web link is left to the model as text


def test_texts_that_meet_without_space_are_paragraphs() -> None:
    assert read_prompt([text_block("one"), text_block("two")], CWD).text == "one\n\ntwo"
    assert read_prompt([text_block("one "), text_block("two")], CWD).text == "one two"


def test_images_only_for_a_model_that_takes_them() -> None:
    blocks = [text_block("what is this?"), image_block("aGVsbG8=", "image/png")]
    with pytest.raises(PromptError, match=r"prompt\[1\]: the model in use does not take images"):
        read_prompt(blocks, CWD)
    prompt = read_prompt(blocks, CWD, images=True)
    assert prompt.images == [{"mimeType": "image/png", "data": "aGVsbG8="}]
    blob = resource_block(embedded_blob_resource("file:///a.png", "aGk=", mime_type="image/png"))
    assert read_prompt([blob], CWD, images=True).images == [
        {"mimeType": "image/png", "data": "aGk=", "uri": "file:///a.png"}
    ]


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([text_block("hear"), audio_block("aGk=", "audio/wav")], r"prompt\[1\]: audio"),
        (
            [resource_block(embedded_blob_resource("file:///a.bin", "aGk="))],
            r"prompt\[0\]: the binary resource file:///a.bin \(no type\)",
        ),
        ([], "the prompt is empty"),
        ([text_block("  \n")], "the prompt is empty"),
    ],
)
def test_what_cannot_be_taken_is_refused(blocks: list[object], message: str) -> None:
    with pytest.raises(PromptError, match=message):
        read_prompt(blocks, CWD)  # type: ignore[arg-type]


def test_slash_commands() -> None:
    assert parse_command("/compact") == SlashCommand("compact", "")
    assert parse_command("  /undo files force ") == SlashCommand("undo", "files force")
    assert parse_command("/fork") == SlashCommand("fork", "")
    assert parse_command("/run npm test -- --watch=false") == SlashCommand(
        "run", "npm test -- --watch=false"
    )
    assert parse_command("/run\nmake") == SlashCommand("run", "make")
    assert parse_command("/etc/hosts is broken") is None
    assert parse_command("/review") is None  # not one of agentls's
    assert parse_command("please /compact") is None


def test_undo_options() -> None:
    assert undo_options("") == ("all", False)
    assert undo_options("files") == ("files", False)
    assert undo_options("conversation force") == ("conversation", True)
    with pytest.raises(PromptError, match="unknown option 'everything'"):
        undo_options("everything")
