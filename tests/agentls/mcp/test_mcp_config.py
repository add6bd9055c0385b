from __future__ import annotations

from agentls.config.settings import ApprovalPolicy
from agentls.mcp import parse_server_configs
from agentls.mcp.config import (
    DEFAULT_MAX_MESSAGE_MB,
    DEFAULT_STARTUP_TIMEOUT_S,
    DEFAULT_TOOL_TIMEOUT_S,
)


def test_a_stdio_server_gets_the_defaults() -> None:
    configs, warnings = parse_server_configs({"docs": {"command": "docs-mcp"}})
    assert warnings == []
    [config] = configs
    assert config.name == "docs"
    assert config.transport == "stdio"
    assert config.args == ()
    assert config.enabled is True
    assert config.startup_timeout_s == DEFAULT_STARTUP_TIMEOUT_S
    assert config.tool_timeout_s == DEFAULT_TOOL_TIMEOUT_S
    assert config.approval is None


def test_every_key_is_read() -> None:
    configs, warnings = parse_server_configs(
        {
            "db": {
                "command": "db-mcp",
                "args": ["--ro"],
                "env": {"DB_PASSWORD": "hunter22"},
                "cwd": "/srv",
                "enabled": False,
                "startup_timeout_s": 3,
                "tool_timeout_s": 2.5,
                "approval": "never-ask",
            },
            "web": {
                "url": "https://mcp.example.com/mcp",
                "bearer_token_env_var": "WEB_TOKEN",
                "http_headers": {"X-Team": "core"},
            },
        }
    )
    assert warnings == []
    db, web = configs
    assert (db.args, dict(db.env), db.cwd, db.enabled) == (
        ("--ro",),
        {"DB_PASSWORD": "hunter22"},
        "/srv",
        False,
    )
    assert (db.startup_timeout_s, db.tool_timeout_s) == (3.0, 2.5)
    assert db.approval is ApprovalPolicy.NEVER_ASK
    assert web.transport == "http"
    assert web.bearer_token_env_var == "WEB_TOKEN"
    assert dict(web.http_headers) == {"X-Team": "core"}


def test_codex_timeout_spellings_are_accepted() -> None:
    configs, warnings = parse_server_configs(
        {"s": {"command": "x", "startup_timeout_sec": 4, "tool_timeout_sec": 9}}
    )
    assert warnings == []
    assert (configs[0].startup_timeout_s, configs[0].tool_timeout_s) == (4.0, 9.0)


def test_unknown_keys_are_reported_by_name() -> None:
    configs, warnings = parse_server_configs({"s": {"command": "x", "comand": "y", "envs": {}}})
    assert len(configs) == 1
    assert any("'comand'" in w and "mcp_servers.s" in w for w in warnings)
    assert any("'envs'" in w for w in warnings)


def test_a_bad_value_falls_back_to_the_default_without_quoting_it() -> None:
    configs, warnings = parse_server_configs(
        {
            "s": {
                "command": "x",
                "startup_timeout_s": "sk-secret-value",
                "approval": "sometimes",
                "enabled": "yes",
            }
        }
    )
    [config] = configs
    assert config.startup_timeout_s == DEFAULT_STARTUP_TIMEOUT_S
    assert config.approval is None
    assert config.enabled is True
    assert any("mcp_servers.s.startup_timeout_s" in w for w in warnings)
    assert any("mcp_servers.s.approval" in w and "ask-unsafe" in w for w in warnings)
    assert any("mcp_servers.s.enabled" in w for w in warnings)
    assert not any("sk-secret-value" in w for w in warnings)


def test_a_server_needs_exactly_one_of_command_and_url() -> None:
    configs, warnings = parse_server_configs(
        {
            "neither": {"args": ["a"]},
            "both": {"command": "x", "url": "http://127.0.0.1:1/mcp"},
            "table": "not a table",
            "fine": {"url": "http://127.0.0.1:1/mcp"},
        }
    )
    assert [c.name for c in configs] == ["fine"]
    assert any("mcp_servers.neither" in w and "neither" in w for w in warnings)
    assert any("mcp_servers.both" in w and "both" in w for w in warnings)
    assert any("mcp_servers.table" in w for w in warnings)


def test_keys_of_the_other_transport_are_reported() -> None:
    configs, warnings = parse_server_configs(
        {
            "a": {"command": "x", "bearer_token_env_var": "T"},
            "b": {"url": "http://127.0.0.1:1/mcp", "args": ["z"]},
        }
    )
    assert configs[0].bearer_token_env_var is None
    assert configs[1].args == ()
    assert any("mcp_servers.a.bearer_token_env_var" in w for w in warnings)
    assert any("mcp_servers.b.args" in w for w in warnings)


def test_env_and_headers_stay_out_of_the_repr() -> None:
    configs, _ = parse_server_configs(
        {
            "a": {"command": "x", "env": {"TOKEN": "tok-abcdef"}},
            "b": {"url": "http://127.0.0.1:1/mcp", "http_headers": {"X-Key": "key-123456"}},
        }
    )
    text = repr(configs)
    assert "tok-abcdef" not in text
    assert "key-123456" not in text


def test_a_timeout_beyond_a_float_falls_back_to_the_default() -> None:
    configs, warnings = parse_server_configs({"s": {"command": "x", "tool_timeout_s": 10**400}})
    assert configs[0].tool_timeout_s == DEFAULT_TOOL_TIMEOUT_S
    assert any("mcp_servers.s.tool_timeout_s" in w for w in warnings)


def test_a_url_needs_a_host() -> None:
    configs, warnings = parse_server_configs({"s": {"url": "http://"}})
    assert configs == []
    assert any("mcp_servers.s.url" in w and "http://" in w for w in warnings)


def test_the_message_cap_and_the_read_only_trust() -> None:
    configs, warnings = parse_server_configs(
        {
            "a": {"command": "x"},
            "b": {"command": "x", "max_message_mb": 0.5, "trust_read_only_hint": True},
            "c": {"url": "http://127.0.0.1:1/mcp", "max_message_mb": 64},
        }
    )
    assert warnings == []
    a, b, c = configs
    assert (a.max_message_mb, a.trust_read_only_hint) == (DEFAULT_MAX_MESSAGE_MB, False)
    assert a.max_message_bytes == 32 * 1024 * 1024
    assert (b.max_message_bytes, b.trust_read_only_hint) == (512 * 1024, True)
    assert c.max_message_bytes == 64 * 1024 * 1024  # HTTP servers have the cap too


def test_bad_caps_and_trust_fall_back_to_the_defaults() -> None:
    for bad in (0, -1, 10**400, "32", True, 4096):
        configs, warnings = parse_server_configs({"s": {"command": "x", "max_message_mb": bad}})
        assert configs[0].max_message_mb == DEFAULT_MAX_MESSAGE_MB, bad
        assert any("mcp_servers.s.max_message_mb" in w for w in warnings), bad
    configs, warnings = parse_server_configs({"s": {"command": "x", "trust_read_only_hint": "yes"}})
    assert configs[0].trust_read_only_hint is False
    assert any("mcp_servers.s.trust_read_only_hint" in w for w in warnings)
