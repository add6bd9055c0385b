import pytest

from agentls.lsp.errors import RpcError
from agentls.lsp.params import ListSessionsParams, SendParams, parse_params


def test_valid_send() -> None:
    params = parse_params(SendParams, {"text": "hi", "sessionId": "x", "other": 1}, "agent/send")
    assert params.text == "hi" and params.sessionId == "x"


@pytest.mark.parametrize(
    ("raw", "field"),
    [({}, "text"), ({"text": 1}, "text"), ({"text": "a", "sessionId": 3}, "sessionId")],
)
def test_bad_send_names_the_field(raw: object, field: str) -> None:
    with pytest.raises(RpcError) as error:
        parse_params(SendParams, raw, "agent/send")
    assert error.value.code == -32602
    assert f"'{field}'" in error.value.message


def test_params_must_be_an_object() -> None:
    with pytest.raises(RpcError, match="must be an object"):
        parse_params(SendParams, ["text"], "agent/send")


def test_list_defaults_and_limits() -> None:
    assert parse_params(ListSessionsParams, None, "m").limit == 50
    with pytest.raises(RpcError, match="'limit'"):
        parse_params(ListSessionsParams, {"limit": 10_000}, "m")


def test_lone_surrogates_become_replacement_characters() -> None:
    params = parse_params(SendParams, {"text": "cut emoji \ud83d!"}, "agent/send")
    assert params.text == "cut emoji \ufffd!"
    params.text.encode("utf-8")  # encodable now
