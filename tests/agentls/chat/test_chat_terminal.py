"""`agentls chat` in a pseudo-terminal, driven key by key against the strict fake model API."""

from __future__ import annotations

import os
import re
import signal
import sys
import termios
import uuid
from pathlib import Path

import pytest
from fixtures.fake_api import CallItem, FakeModelAPI, Reply, SlowStart, TextItem
from tests.agentls.chat.terminal import ROOT, Terminal
from tests.helpers import alive, children_of, pids_with_marker, wait_for

PROMPT = r"(?m)^> $"


def user_texts(request: dict[str, object]) -> list[str]:
    texts = []
    for item in request["input"]:  # type: ignore[attr-defined]
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, list):
                content = "".join(str(part.get("text", "")) for part in content)
            texts.append(str(content))
    return texts


async def open_chat(
    terminals: list[Terminal], env: dict[str, str], workspace: Path, *args: str
) -> Terminal:
    terminal = Terminal.chat(env, workspace, *args)
    terminals.append(terminal)
    await terminal.expect(PROMPT)
    return terminal


async def quit_chat(terminal: Terminal) -> int:
    await terminal.type("/quit\r")
    return await terminal.wait()


async def test_ctrl_c_while_streaming_stops_the_turn_and_the_chat_goes_on(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("slow: 0.05\r")
    await chat.expect("tick")
    chat.ctrl_c()
    await chat.expect(r"\(stopped\)")
    await chat.expect(PROMPT)
    await chat.type("are you there\r")
    await chat.expect("You said: are you there")
    assert await quit_chat(chat) == 0
    assert api.rejected == []
    assert [i.get("role") for i in api.requests[-1]["input"]] == ["user", "assistant", "user"]


async def test_ctrl_c_while_a_command_runs_ends_the_command(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    marker = f"agentls-chat-sleep-{uuid.uuid4().hex[:8]}"
    chat = await open_chat(terminals, env, workspace, "--approval", "never-ask")
    await chat.type(f"run: echo started; exec -a {marker} sleep 60\r")
    await chat.expect(rf"\$ echo started; exec -a {marker} sleep 60")
    await chat.expect("started")
    await wait_for(lambda: bool(pids_with_marker(marker)), 10)
    pids = pids_with_marker(marker)
    chat.ctrl_c()
    await chat.expect(r"\[aborted\]")
    await chat.expect(r"\(stopped\)")
    await chat.expect(PROMPT)
    await wait_for(lambda: not any(alive(p) for p in pids), 10)
    assert await quit_chat(chat) == 0


async def test_approval_prompt_explains_always_repeats_on_enter_and_ctrl_c_stops(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace, "--approval", "always-ask")
    await chat.type("run: touch made-by-the-agent\r")
    await chat.expect(r"Run `touch made-by-the-agent`\?")
    await chat.expect(r"\[a\]lways: this exact command, for this session")
    chat.write("\r")  # Enter decides nothing: the question comes again
    await chat.expect(r"press y, a, n or s")
    await chat.expect(r"Run `touch made-by-the-agent`\?")
    chat.ctrl_c()
    await chat.expect("stopping…")
    await chat.expect(r"\(stopped\)")
    await chat.expect(PROMPT)
    assert not (workspace / "made-by-the-agent").exists()
    assert "WARNING" not in chat.text
    assert await quit_chat(chat) == 0


async def test_approval_yes_runs_the_command(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace, "--approval", "always-ask")
    await chat.type("run: touch approved-file\r")
    await chat.expect(r"Run `touch approved-file`\?")
    chat.write("y")
    await chat.expect(r"\(approved\)")
    await chat.expect("Tool output")
    await chat.expect(PROMPT)
    assert (workspace / "approved-file").exists()
    assert await quit_chat(chat) == 0


async def test_ctrl_c_at_the_idle_prompt_clears_the_line_and_redraws_the_prompt(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("half a thought")
    chat.ctrl_c()
    await chat.expect(r"\^C")
    await chat.expect(r"type /quit or press Ctrl-D to leave")
    await chat.expect(PROMPT)  # a fresh, empty prompt
    await chat.type("hello\r")
    await chat.expect("You said: hello")
    assert await quit_chat(chat) == 0
    # the cleared words were never sent
    assert all("half a thought" not in t for r in api.requests for t in user_texts(r))


async def test_ctrl_d_at_an_empty_prompt_leaves(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    chat.write(b"\x04")
    assert await chat.wait() == 0


def _outside_input_labels(text: str, typed: str) -> list[str]:
    """Where `typed` shows up other than on the input line, in a notice or in the fake's echo."""
    allowed = re.compile(r"(steer › |next › |> |steering: |queued for the next turn: |You said: )$")
    found = []
    for match in re.finditer(re.escape(typed), text):
        before = text[max(0, match.start() - 40) : match.start()]
        if not allowed.search(before):
            found.append(before + typed)
    return found


async def test_typing_during_a_turn_is_not_echoed_and_steers_or_waits(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace, "--approval", "never-ask")
    await chat.type("run: sleep 1.5; echo slept\r")
    await chat.expect(r"\$ sleep 1.5; echo slept")
    typed = "mention the weather"
    await chat.type(typed + "\r")
    how = await chat.expect(r"\((steering|queued for the next turn): mention the weather\)")
    await chat.expect(r"\[exit 0\]")
    if how.group(1) == "steering":
        # the text joined the running turn: the model's request after the command has it
        await chat.expect(PROMPT)
        assert len(api.requests) == 2
        assert user_texts(api.requests[1]) == ["run: sleep 1.5; echo slept", typed]
    else:  # a server without agent/steer: it is the next turn
        await chat.expect(f"You said: {typed}")
        await chat.expect(PROMPT)
    assert _outside_input_labels(chat.text, typed) == []
    assert await quit_chat(chat) == 0


async def test_queue_mode_sends_the_typed_line_as_the_next_turn(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("/queue\r")
    await chat.expect("waits for the next turn")
    api.enqueue(Reply([TextItem("first answer " * 30, delay_s=0.03)]))
    await chat.type("start\r")
    await chat.expect("first answer")
    await chat.type("and then this\r")
    await chat.expect(r"queued for the next turn: and then this")
    await chat.expect("You said: and then this", timeout=30)
    assert user_texts(api.requests[-1])[-1] == "and then this"
    assert _outside_input_labels(chat.text, "and then this") == []
    assert await quit_chat(chat) == 0


async def test_after_ctrl_c_the_queued_line_waits_in_the_prompt(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("/queue\r")
    await chat.type("slow: 0.05\r")
    await chat.expect("tick")
    await chat.type("not yet\r")
    await chat.expect("queued for the next turn: not yet")
    chat.ctrl_c()
    await chat.expect(r"\(stopped\)")
    await chat.expect("back in the prompt")
    await chat.expect(r"> not yet")
    requests = len(api.requests)
    # a key typed now is edited into the waiting line at the idle prompt: the chat took no
    # line on its own (a turn would show it as `steer ›` or `next ›`)
    await chat.type("!")
    await chat.expect(r"> not yet!")
    chat.write("\x7f")
    await chat.expect(r"(?m)^> not yet$")
    assert len(api.requests) == requests  # nothing was sent on its own
    chat.write("\r")
    await chat.expect("You said: not yet")
    assert await quit_chat(chat) == 0


async def test_markdown_is_rendered_and_wrapped(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    words = " ".join(f"word{n:02d}" for n in range(40))
    answer = f"Some **bold** text.\n\n- item one\n- item two\n\n{words}\n\n```\ncode line\n```\n"
    api.enqueue(Reply([TextItem(answer, delay_s=0.005)]))
    chat = await open_chat(terminals, env, workspace)
    await chat.type("show me\r")
    await chat.expect("code line")
    await chat.expect(PROMPT)
    text = chat.text
    assert "**bold**" not in text and "bold" in text
    assert re.search(r"• item one", text)
    assert "```" not in text
    # the 280-character paragraph is wrapped at a word boundary to the 100 columns
    assert re.search(r"word\d\d *\n *word\d\d", text)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert await quit_chat(chat) == 0


async def test_a_spinner_shows_before_the_first_token(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    api.enqueue(SlowStart(1.5))
    chat = await open_chat(terminals, env, workspace)
    await chat.type("take your time\r")
    await chat.expect("thinking…")
    await chat.expect("You said: take your time")
    assert await quit_chat(chat) == 0


async def test_make_chat_exits_0_after_ctrl_c_and_quit(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    # `-o` keeps make from reinstalling: this is about the chat recipe and its signals
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        "-o",
        ".venv/.installed-runtime",
        "chat",
        f"ARGS=--workspace {workspace}",
    ]
    chat = Terminal(command, env)
    terminals.append(chat)
    await chat.expect(PROMPT)
    chat.ctrl_c()
    await chat.expect(r"type /quit")
    await chat.type("slow: 0.05\r")
    await chat.expect("tick")
    chat.ctrl_c()
    await chat.expect(r"\(stopped\)")
    await chat.expect(PROMPT)
    await chat.type("/quit\r")
    assert await chat.wait() == 0, chat.text[-2000:]
    assert "Interrupt" not in chat.text and "Error" not in chat.text


async def test_serve_on_a_terminal_says_it_expects_an_editor(
    env: dict[str, str], terminals: list[Terminal]
) -> None:
    serve = Terminal([sys.executable, "-m", "agentls", "serve"], env)
    terminals.append(serve)
    await serve.expect(r"serving LSP on stdin/stdout, for an editor to talk to")
    await serve.expect(r"run `agentls chat` instead")
    serve.ctrl_c()
    await serve.wait()


async def test_a_server_that_dies_is_reported_and_the_chat_ends(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    servers = children_of(chat.process.pid)
    assert len(servers) == 1
    os.kill(servers[0], signal.SIGKILL)
    await chat.type("anyone there?\r")
    await chat.expect(r"the agentls server stopped \(exit status -9\)")
    assert await chat.wait() == 1


async def test_one_shot_on_a_terminal_renders_markdown(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    api.enqueue(Reply([TextItem("A **short** answer.")]))
    chat = Terminal.chat(env, workspace, "-p", "question")
    terminals.append(chat)
    await chat.expect("A short answer.")
    assert await chat.wait() == 0
    assert "**" not in chat.text


async def test_bang_runs_the_users_command_and_ctrl_c_stops_it(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("!echo typed-by-me\r")
    first = await chat.expect(r"\$ echo typed-by-me|does not support !COMMAND yet")
    if "does not support" in first.group(0):
        pytest.skip("this server does not offer agent/runCommand yet")
    await chat.expect(r"(?m)^ *typed-by-me")
    await chat.expect(r"\[exit 0\]")
    await chat.expect(PROMPT)
    marker = f"agentls-chat-user-sleep-{uuid.uuid4().hex[:8]}"
    await chat.type(f"!exec -a {marker} sleep 60\r")
    await wait_for(lambda: bool(pids_with_marker(marker)), 10)
    pids = pids_with_marker(marker)
    chat.ctrl_c()
    await chat.expect(r"\(stopped\)")
    await chat.expect(PROMPT)
    await wait_for(lambda: not any(alive(p) for p in pids), 10)
    await chat.type("what did I run?\r")
    await chat.expect("You said: what did I run?")
    sent = str(api.requests[-1]["input"])
    assert "echo typed-by-me" in sent and "typed-by-me" in sent
    assert api.rejected == []
    assert await quit_chat(chat) == 0


async def test_sigterm_stops_the_turn_and_gives_the_terminal_back(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    await chat.type("slow: 0.05\r")
    await chat.expect("tick")
    assert not termios.tcgetattr(chat.master)[3] & (termios.ECHO | termios.ISIG)
    chat.process.terminate()
    assert await chat.wait() == 0
    await chat.expect(r"\(stopped\)")
    mode = termios.tcgetattr(chat.master)
    assert mode[3] & termios.ECHO and mode[3] & termios.ICANON and mode[3] & termios.ISIG


async def test_one_shot_on_a_terminal_asks_and_ctrl_c_stops_it(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    asked = Terminal.chat(env, workspace, "--approval", "always-ask", "-p", "run: touch asked")
    terminals.append(asked)
    await asked.expect(r"Run `touch asked`\?")
    asked.write("y")
    await asked.expect("Tool output")
    assert await asked.wait() == 0
    assert (workspace / "asked").exists()
    stopped = Terminal.chat(env, workspace, "-p", "slow: 0.05")
    terminals.append(stopped)
    await stopped.expect("tick")
    stopped.ctrl_c()
    assert await stopped.wait() == 130
    await stopped.expect(r"\(stopped\)")


async def test_resume_redraws_the_conversation(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    first = await open_chat(terminals, env, workspace)
    await first.type("remember the word pineapple\r")
    await first.expect("You said: remember the word pineapple")
    assert await quit_chat(first) == 0
    again = Terminal.chat(env, workspace, "--resume")
    terminals.append(again)
    await again.expect(r"> remember the word pineapple")
    await again.expect(r"You said: remember the word pineapple")
    await again.expect(r"\(resumed ")
    await again.expect(PROMPT)
    await again.type("and now?\r")
    await again.expect("You said: and now?")
    assert [i.get("role") for i in api.requests[-1]["input"]] == ["user", "assistant", "user"]
    assert await quit_chat(again) == 0


async def test_a_patch_is_shown_as_a_coloured_diff_and_its_approval_shows_it(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    (workspace / "notes.txt").write_text("old line\nsame line\n")
    patch = (
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line\n same line\n"
        "*** End Patch\n"
    )
    api.enqueue(Reply([CallItem("apply_patch", {"input": patch})]))
    chat = await open_chat(terminals, env, workspace, "--approval", "always-ask")
    await chat.type("edit the notes\r")
    await chat.expect(r"\$ apply_patch")
    await chat.expect(r"update notes.txt")
    await chat.expect(r"-old line")
    await chat.expect(r"\+new line")
    await chat.expect(r"Apply these changes\? \[y\]es")
    chat.write("y")
    await chat.expect(r"changed: notes.txt \(\+1 -1\)")
    await chat.expect(PROMPT)
    assert (workspace / "notes.txt").read_text() == "new line\nsame line\n"
    raw = chat.raw.decode()
    assert re.search(r"\x1b\[[0-9;]*32m\+new line", raw)  # additions in green
    assert re.search(r"\x1b\[[0-9;]*31m-old line", raw)  # removals in red
    assert await quit_chat(chat) == 0


async def test_each_turn_ends_with_how_full_the_context_is(
    api: FakeModelAPI, home: Path, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("context_window = 2000\n")
    chat = await open_chat(terminals, env, workspace)
    await chat.type("how full is it\r")
    await chat.expect("You said: how full is it")
    used = await chat.expect(r"\(\d+ in / \d+ out · context (\d+)% used\)")
    assert 0 < int(used.group(1)) <= 100
    assert await quit_chat(chat) == 0


async def test_pasted_lines_are_one_message(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = await open_chat(terminals, env, workspace)
    chat.write(b"\x1b[200~first pasted line\rsecond pasted line\x1b[201~")
    await chat.expect("second pasted line")
    chat.write(b"\r")
    await chat.expect(r"You said: first pasted line")
    await chat.expect(PROMPT)
    assert len(api.requests) == 1
    assert user_texts(api.requests[0]) == ["first pasted line\nsecond pasted line"]
    assert await quit_chat(chat) == 0
