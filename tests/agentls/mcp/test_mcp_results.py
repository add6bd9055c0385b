from __future__ import annotations

import base64
import json

import mcp_types as types

from agentls.mcp.results import describe_size, render_result


def _b64(size: int) -> str:
    return base64.b64encode(bytes(size)).decode()


def test_text_blocks_are_joined() -> None:
    result = render_result(
        types.CallToolResult(content=[types.TextContent(text="one"), types.TextContent(text="two")])
    )
    assert (result.output, result.is_error) == ("one\ntwo", False)


def test_binary_content_is_described_not_dropped() -> None:
    result = render_result(
        types.CallToolResult(
            content=[
                types.ImageContent(data=_b64(12 * 1024), mime_type="image/png"),
                types.AudioContent(data=_b64(300), mime_type="audio/wav"),
                types.ResourceLink(
                    name="log", uri="file:///log.txt", mime_type="text/plain", size=2048
                ),
                types.EmbeddedResource(
                    resource=types.TextResourceContents(uri="file:///a.md", text="# A")
                ),
                types.EmbeddedResource(
                    resource=types.BlobResourceContents(
                        uri="file:///b.bin", mime_type="application/octet-stream", blob=_b64(5000)
                    )
                ),
            ]
        )
    )
    lines = result.output.split("\n")
    assert lines[0] == "[image: image/png, 12 KB]"
    assert lines[1] == "[audio: audio/wav, 300 B]"
    assert lines[2] == "[resource link: file:///log.txt, text/plain, 2 KB]"
    assert lines[3:5] == ["[resource: file:///a.md]", "# A"]
    assert lines[5] == "[resource: file:///b.bin, application/octet-stream, 5 KB]"


def test_structured_content_is_rendered_once() -> None:
    data = {"rows": [1, 2], "more": False}
    alone = render_result(types.CallToolResult(content=[], structured_content=data))
    assert json.loads(alone.output) == data
    mirrored = render_result(
        types.CallToolResult(
            content=[types.TextContent(text=json.dumps(data))], structured_content=data
        )
    )
    assert mirrored.output == json.dumps(data)
    wrapped = render_result(
        types.CallToolResult(
            content=[types.TextContent(text="hi")], structured_content={"result": "hi"}
        )
    )
    assert wrapped.output == "hi"
    beside = render_result(
        types.CallToolResult(content=[types.TextContent(text="summary")], structured_content=data)
    )
    assert beside.output.startswith("summary\n")
    assert json.loads(beside.output.split("\n", 1)[1]) == data


def test_errors_keep_their_flag() -> None:
    result = render_result(
        types.CallToolResult(content=[types.TextContent(text="no such row")], is_error=True)
    )
    assert (result.output, result.is_error) == ("no such row", True)


def test_long_output_is_cut_in_the_middle() -> None:
    text = "".join(f"line {i}\n" for i in range(100_000))
    result = render_result(types.CallToolResult(content=[types.TextContent(text=text)]))
    assert len(result.output.encode()) < 20 * 1024
    assert result.output.startswith("line 0\n")
    assert "bytes omitted" in result.output
    assert result.output.rstrip().endswith("line 99999")


def test_sizes_read_naturally() -> None:
    assert [describe_size(n) for n in (5, 2048, 3 * 1024 * 1024)] == ["5 B", "2 KB", "3.0 MB"]
