"""A secret printed in pieces never reaches the editor, and no other output is lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentls.agent.redaction import REDACTED, StreamRedactor
from agentls.agent.tasks.events import TaskEvents

SECRET = "sk-test-0123456789abcdef"


def _stream(chunks: list[str], secrets: list[str]) -> str:
    stream = StreamRedactor(lambda: secrets)
    return "".join(stream.feed(chunk) for chunk in chunks) + stream.flush()


def test_a_secret_split_in_two_is_redacted() -> None:
    shown = _stream(["key=sk-test-0123", "456789abcdef done"], [SECRET])
    assert SECRET not in shown
    assert shown == f"key={REDACTED} done"


def test_a_secret_a_character_at_a_time_is_redacted() -> None:
    shown = _stream(list(f"a{SECRET}b"), [SECRET])
    assert shown == f"a{REDACTED}b"


def test_what_only_looked_like_a_secret_comes_out_at_the_end() -> None:
    stream = StreamRedactor(lambda: [SECRET])
    first = stream.feed("value sk-te")
    assert first == "value "  # the rest could begin the key: kept back
    assert stream.feed("a") == "sk-tea"
    assert stream.feed("sk-") == ""
    assert stream.flush() == "sk-"


def test_without_secrets_nothing_is_kept_back() -> None:
    stream = StreamRedactor(list)
    assert stream.feed("sk-te") == "sk-te"
    assert stream.flush() == ""


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet="sk-tab0123 \n", max_size=30),
    after=st.text(alphabet="sk-tab0123 \n", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=90), max_size=8),
)
def test_any_split_hides_the_secret_and_keeps_the_rest(
    before: str, after: str, cuts: list[int]
) -> None:
    text = before + SECRET + after
    points = sorted({c % (len(text) + 1) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    shown = _stream(chunks, [SECRET])
    assert SECRET not in shown
    assert shown == text.replace(SECRET, REDACTED)


def test_task_events_send_the_kept_back_part_before_the_call_completes() -> None:
    sent: list[dict[str, object]] = []
    events = TaskEvents("s", "t", sent.append, lambda fields: fields, lambda: [SECRET])
    events.emit("toolOutputDelta", callId="c", delta="out sk-test-01")
    events.emit("toolOutputDelta", callId="c", delta="23456789abcdef sk")
    events.emit("toolCallCompleted", callId="c", status="completed", output="")
    kinds = [(e["type"], e.get("delta")) for e in sent]
    assert kinds == [
        ("toolOutputDelta", "out "),
        ("toolOutputDelta", f"{REDACTED} "),
        ("toolOutputDelta", "sk"),
        ("toolCallCompleted", None),
    ]
    assert [e["seq"] for e in sent] == [0, 1, 2, 3]
