from __future__ import annotations

from typing import Any

import pytest

from agentls.config.check import (
    BadValue,
    BadValueError,
    UnknownKey,
    check_table,
    choice,
    http_url,
    string_table,
)
from agentls.config.settings import ApprovalPolicy


def _positive(value: Any) -> int:
    if not isinstance(value, int) or value <= 0:
        raise BadValueError("expected a positive integer")
    return value


def _broken(value: Any) -> int:
    return int(value)  # a ValueError of Python's own, quoting the value


def test_known_keys_are_checked_and_problems_kept_in_the_tables_order() -> None:
    checked = check_table(
        {"a": 1, "typo": 2, "b": -1, "c": 3},
        {"a": _positive, "b": _positive, "c": _positive},
    )
    assert checked.values == {"a": 1, "c": 3}
    assert checked.problems == [
        UnknownKey("typo", "typo"),
        BadValue("b", "b", -1, "expected a positive integer"),
    ]


def test_keys_are_normalised_and_understood_keys_pass_in_silence() -> None:
    checked = check_table(
        {"Retries": 2, "profile": "x", "Other": 1},
        {"retries": _positive},
        key=str.lower,
        understood={"profile"},
    )
    assert checked.values == {"retries": 2}
    assert checked.problems == [UnknownKey("Other", "other")]


def test_a_refused_value_stays_out_of_the_repr_and_of_the_reason() -> None:
    checked = check_table({"n": "sk-secret"}, {"n": _broken})
    [problem] = checked.problems
    assert isinstance(problem, BadValue)
    assert problem.value == "sk-secret"
    assert problem.reason == "not a valid value"
    assert "sk-secret" not in repr(problem)


def test_choice_names_every_allowed_value() -> None:
    check = choice(ApprovalPolicy)
    assert check("never-ask") is ApprovalPolicy.NEVER_ASK
    with pytest.raises(BadValueError, match="expected one of always-ask, ask-unsafe, never-ask"):
        check("sometimes")
    with pytest.raises(BadValueError):
        check(["never-ask"])


def test_string_table_names_what_it_holds() -> None:
    check = string_table("header names")
    assert check({"X-A": "1"}) == {"X-A": "1"}
    reason = "expected a table of header names to string values"
    for bad in ({"X-A": 1}, {1: "x"}, ["X-A"], "X-A: 1"):
        with pytest.raises(BadValueError, match=reason):
            check(bad)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/mcp", "https://api.example.com"])
def test_http_urls_with_a_host_pass(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize("url", ["http://", "https:///path", "ftp://x", "api.example.com", ""])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(BadValueError, match="expected an http:// or https:// URL"):
        http_url(url)
