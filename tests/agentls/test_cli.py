import argparse

import pytest

from agentls.cli import _host_port, build_parser


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
    assert chat.prompt == "hi" and chat.resume
