import io

from agentls.chat.render import TerminalRenderer


def test_answer_text_to_stdout_and_tool_activity_to_stderr() -> None:
    out, info = io.StringIO(), io.StringIO()
    renderer = TerminalRenderer(out, info)
    renderer.event({"type": "textDelta", "delta": "Hello"})
    renderer.event(
        {
            "type": "toolCallStarted",
            "name": "shell",
            "arguments": '{"command": ["bash", "-lc", "ls -la"]}',
        }
    )
    renderer.event({"type": "toolOutputDelta", "delta": "file\n"})
    renderer.event({"type": "toolCallCompleted", "status": "completed", "exitCode": 0})
    renderer.event({"type": "textDelta", "delta": "done"})
    renderer.event({"type": "turnCompleted", "status": "interrupted"})
    assert out.getvalue() == "Hello\ndone\n"
    assert "$ ls -la" in info.getvalue()
    assert "[exit 0]" in info.getvalue()
    assert "(stopped)" in info.getvalue()


def test_failed_turn_shows_the_error() -> None:
    out, info = io.StringIO(), io.StringIO()
    TerminalRenderer(out, info).event(
        {
            "type": "turnCompleted",
            "status": "failed",
            "error": {"message": "401 from the model API"},
        }
    )
    assert "error: 401 from the model API" in info.getvalue()
