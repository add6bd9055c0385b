from pathlib import Path

from agentls.config.settings import (
    ApprovalPolicy,
    WireApi,
    load_settings,
)


def test_defaults_without_anything(tmp_path: Path) -> None:
    loaded = load_settings(env={"AGENTLS_HOME": str(tmp_path)})
    assert loaded.warnings == []
    settings = loaded.settings
    assert settings.base_url == "https://api.openai.com/v1"
    assert settings.approval is ApprovalPolicy.ASK_UNSAFE
    assert not settings.has_model_endpoint({})


def test_precedence_init_options_over_config_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'model = "from-file"\nwire_api = "chat"\nmax_retries = 7\n'
    )
    env = {
        "AGENTLS_HOME": str(tmp_path),
        "AGENTLS_MODEL": "from-env",
        "AGENTLS_APPROVAL": "never-ask",
    }
    loaded = load_settings(
        env=env,
        workspace_config={"model": "from-config", "maxRetries": 5},
        init_options={"model": "from-init", "approvals": True, "approval": "always-ask"},
    )
    s = loaded.settings
    assert s.model == "from-init"
    assert s.approval is ApprovalPolicy.ALWAYS_ASK
    assert s.wire_api is WireApi.CHAT
    assert s.max_retries == 5
    assert s.home == tmp_path
    assert loaded.warnings == []
    without_init = load_settings(env=env, workspace_config={"model": "from-config"}).settings
    assert without_init.model == "from-config"
    assert without_init.max_retries == 7
    assert without_init.approval is ApprovalPolicy.NEVER_ASK


def test_camel_case_keys_are_accepted(tmp_path: Path) -> None:
    s = load_settings(
        env={"AGENTLS_HOME": str(tmp_path)},
        init_options={"baseUrl": "http://x/v1", "maxRetries": 1},
    ).settings
    assert s.base_url == "http://x/v1"
    assert s.max_retries == 1
    assert s.has_model_endpoint({})


def test_bad_values_are_named_and_fall_back(tmp_path: Path) -> None:
    env = {"AGENTLS_HOME": str(tmp_path), "AGENTLS_APPROVAL": "never-ask"}
    loaded = load_settings(
        env=env, init_options={"approval": "sometimes", "max_retries": -3, "model": ""}
    )
    assert loaded.settings.approval is ApprovalPolicy.NEVER_ASK
    assert loaded.settings.max_retries == 4
    assert loaded.settings.model == "gpt-5-mini"
    joined = "\n".join(loaded.warnings)
    assert "'approval' from initializationOptions" in joined
    assert "'max_retries'" in joined
    assert "'model'" in joined


def test_broken_config_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("model = [unclosed")
    loaded = load_settings(env={"AGENTLS_HOME": str(tmp_path)})
    assert "config file" in loaded.warnings[0]
    assert loaded.settings.model == "gpt-5-mini"


def test_api_key_comes_from_the_named_variable() -> None:
    s = load_settings(env={"AGENTLS_HOME": "/tmp/x"}, init_options={"apiKeyEnv": "MY_KEY"}).settings
    assert s.api_key({"MY_KEY": "k-123"}) == "k-123"
    assert s.api_key({"OPENAI_API_KEY": "k"}) is None
    assert "k-123" not in repr(s)


def test_provider_profiles_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'model = "top"\n'
        "[providers.local]\n"
        'base_url = "http://127.0.0.1:11434/v1"\nwire_api = "chat"\nmodel = "qwen"\n'
        "[providers.openai]\n"
        'history = "server"\n'
    )
    env = {"AGENTLS_HOME": str(tmp_path)}
    local = load_settings(env=env, init_options={"provider": "local"}).settings
    assert (local.base_url, local.wire_api, local.model) == (
        "http://127.0.0.1:11434/v1",
        WireApi.CHAT,
        "qwen",
    )
    chosen_by_env = load_settings(env={**env, "AGENTLS_PROVIDER": "openai"}).settings
    assert chosen_by_env.history.value == "server"
    assert chosen_by_env.model == "top"
    missing = load_settings(env=env, init_options={"provider": "nope"})
    assert "no [providers.nope] table" in missing.warnings[0]


def test_embedded_model_is_wanted_without_an_endpoint(tmp_path: Path) -> None:
    s = load_settings(env={"AGENTLS_HOME": str(tmp_path)}).settings
    assert s.wants_embedded_model({})
    assert not s.wants_embedded_model({"OPENAI_API_KEY": "k"})
    with_path = load_settings(
        env={"AGENTLS_HOME": str(tmp_path), "AGENTLS_MODEL_PATH": "/m.gguf"}
    ).settings
    assert with_path.wants_embedded_model({"OPENAI_API_KEY": "k"})


def test_the_embedded_model_can_be_turned_off(tmp_path: Path) -> None:
    s = load_settings(env={"AGENTLS_HOME": str(tmp_path), "AGENTLS_LOCAL_MODEL": "0"}).settings
    assert not s.wants_embedded_model({})


def test_unknown_keys_are_reported_by_name_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('modle = "gpt-x"\n')
    loaded = load_settings(
        env={"AGENTLS_HOME": str(tmp_path)},
        init_options={"approvals": True, "sandbx": "off", "server": {"command": "x"}},
        workspace_config={"panel": {"fontSize": 12}},
    )
    text = "\n".join(loaded.warnings)
    assert "'modle' from the config file" in text and "did you mean 'model'" in text
    assert "'sandbx' from initializationOptions" in text and "did you mean 'sandbox'" in text
    assert "approvals" not in text and "'server'" not in text
    assert len(loaded.warnings) == 2


def test_a_provider_line_written_after_a_table_is_explained(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[providers.local]\nbase_url = "http://127.0.0.1:9/v1"\nprovider = "local"\n'
    )
    loaded = load_settings(env={"AGENTLS_HOME": str(tmp_path)})
    assert any("move the 'provider' line above the first table" in w for w in loaded.warnings)
    assert loaded.settings.base_url == "https://api.openai.com/v1"


def test_v2_settings_are_checked(tmp_path: Path) -> None:
    loaded = load_settings(
        env={"AGENTLS_HOME": str(tmp_path)},
        init_options={
            "sandbox": "read-only",
            "sandboxNetwork": False,
            "checkpoints": "false",
            "contextWindow": 32000,
            "autoCompactPercent": 101,
            "mcpServers": {"db": {"command": "x"}},
        },
    )
    s = loaded.settings
    assert s.sandbox.value == "read-only" and s.sandbox_network is False
    assert s.checkpoints is False and s.context_window == 32000
    assert s.auto_compact_percent == 85
    assert any("auto_compact_percent" in w for w in loaded.warnings)
    assert s.mcp_servers == {"db": {"command": "x"}}


def test_numbers_beyond_a_float_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_retries = inf\n")
    loaded = load_settings(
        env={"AGENTLS_HOME": str(tmp_path)}, init_options={"connectTimeoutS": 10**400}
    )
    assert loaded.settings.max_retries == 4
    assert loaded.settings.connect_timeout_s == 10.0
    assert any("'max_retries' from the config file" in w for w in loaded.warnings)
    assert any("'connect_timeout_s' from initializationOptions" in w for w in loaded.warnings)


def test_the_transport_token_is_not_reported_as_an_unknown_setting(tmp_path: Path) -> None:
    loaded = load_settings(
        env={"AGENTLS_HOME": str(tmp_path)}, init_options={"authToken": "t0ken-value"}
    )
    assert not any("auth" in warning.lower() for warning in loaded.warnings), loaded.warnings
