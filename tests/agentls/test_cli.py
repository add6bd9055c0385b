import argparse
import os
import subprocess
import sys

import pytest

from agentls.cli import _host_port, build_parser, serve_banner

ENV_NAMES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AGENTLS_MODEL",
    "AGENTLS_WIRE_API",
    "AGENTLS_APPROVAL",
    "AGENTLS_HOME",
    "AGENTLS_SANDBOX",
)


def test_network_transports_default_to_loopback() -> None:
    assert _host_port("7777") == ("127.0.0.1", 7777)
    assert _host_port(":7777") == ("127.0.0.1", 7777)
    assert _host_port("0.0.0.0:80") == ("0.0.0.0", 80)
    assert _host_port("[::1]:9000") == ("::1", 9000)
    for bad in ("host", "host:port", "1:70000", "0"):
        with pytest.raises(argparse.ArgumentTypeError):
            _host_port(bad)


def test_commands_parse() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve"]).tcp is None
    assert parser.parse_args(["serve", "--tcp", "7000"]).tcp == ("127.0.0.1", 7000)
    chat = parser.parse_args(["chat", "-p", "hi", "--resume"])
    assert chat.prompt == "hi" and chat.resume == ""  # bare: the last conversation
    assert parser.parse_args(["chat"]).resume is None
    assert parser.parse_args(["chat", "--resume", "abc123"]).resume == "abc123"
    assert parser.parse_args(["chat", "--model", "qwen3"]).model == "qwen3"
    assert parser.parse_args(["sessions", "--workspace", "/w"]).workspace == "/w"


def _help(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "agentls", *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    ).stdout


def test_help_texts_are_for_users() -> None:
    top = _help()
    assert "agentls chat" in top and "agentls sessions" in top
    for name in ENV_NAMES:
        assert name in top
    chat = _help("chat")
    for name in ENV_NAMES:
        assert name in chat
    for command in ("/undo", "/fork", "/compact", "/sessions", "/steer", "/queue", "/quit"):
        assert command in chat
    assert "!COMMAND" in chat and "Ctrl-C" in chat and "--model" in chat
    assert "embedded model" in chat and "never runs commands" in chat


def test_serve_on_a_terminal_says_it_expects_an_editor() -> None:
    assert serve_banner(False) == ""
    banner = serve_banner(True)
    assert "stdin/stdout" in banner and "editor" in banner and "agentls chat" in banner
