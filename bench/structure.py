"""How far a reader travels: from the `agent/send` handler to each line written to the
session file, the files and functions on the way (every call stack that reaches
`RolloutWriter.append`, in agentls's own code, for one turn with a shell call).

Run: `python -m bench.structure`. It drives the LSP method handler in-process, with a
scripted model, so the figure counts the code's structure, not the machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from tests.agentls.agent.scripted_model import ScriptedModel, call_reply, text_reply

import agentls

PACKAGE = str(Path(agentls.__file__).parent)


class _Host:
    """What the handlers ask of the LSP server, whichever version of it is checked out."""

    def __init__(self, workspace: Any, service: Any) -> None:
        self.agent = workspace
        self.service = service
        self.core = service

    def agent_workspace(self) -> Any:
        return self.agent

    async def resolve_model(self, timeout_s: float = 10) -> None:
        return None

    def turn_sink(self, _token: Any) -> Any:
        return lambda _event: None

    async def watching(self, timeout_s: float = 2.0) -> None:
        return None


Stack = list[tuple[str, str]]


def _own_frames(frame: FrameType | None) -> tuple[Stack, bool]:
    """agentls's frames from `frame` outwards, and whether `AgentMethods.send` was reached."""
    stack: Stack = []
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(PACKAGE):
            stack.append((code.co_filename[len(PACKAGE) + 1 :], code.co_qualname))
        if code.co_qualname.endswith("AgentMethods.send"):
            return stack, True
        frame = frame.f_back
    return stack, False


def _stacks(run: Any) -> list[Stack]:
    """Every stack that writes a rollout line; a task's stack goes on where it was made."""
    from agentls.rollout.writer import RolloutWriter

    append_code = RolloutWriter.append.__code__
    found: list[Stack] = []
    made_at: dict[asyncio.Task[Any], tuple[Stack, bool]] = {}

    def with_origin(stack: Stack, reached: bool) -> tuple[Stack, bool]:
        task = None if reached else asyncio.current_task()
        while not reached and task is not None and task in made_at:
            origin, reached = made_at[task]
            stack = stack + origin
            task = None
        return stack, reached

    def task_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made_at[task] = with_origin(*_own_frames(sys._getframe(1)))
        return task

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code is append_code:
            stack, reached = with_origin(*_own_frames(frame))
            if reached:
                found.append(stack)

    async def traced() -> None:
        asyncio.get_running_loop().set_task_factory(task_factory)
        sys.setprofile(profile)
        try:
            await run()
        finally:
            sys.setprofile(None)
            asyncio.get_running_loop().set_task_factory(None)

    asyncio.run(traced())
    return found


async def _one_turn(home: Path) -> None:
    from agentls.agent.context import AgentContext
    from agentls.agent.workspace import Workspace
    from agentls.config.settings import ApprovalPolicy, Settings
    from agentls.lsp.methods import AgentMethods
    from agentls.rollout.paths import WorkspaceLayout

    work = home / "work"
    work.mkdir()
    model = ScriptedModel(replies=[call_reply("echo hi"), text_reply("done")])
    settings = Settings(home=home / "state", approval=ApprovalPolicy.NEVER_ASK, checkpoints=False)
    context = AgentContext(
        settings=settings, workspace=work, model_stream=model.stream, env=dict(os.environ)
    )
    workspace = Workspace(context, WorkspaceLayout.for_path(settings.home, work))
    service: Any = None
    try:
        from agentls.agent.service import AgentService

        service = AgentService(dict(os.environ))
        service._workspace = workspace
    except ImportError:
        pass
    methods = AgentMethods(_Host(workspace, service))  # type: ignore[arg-type]
    await methods.send({"text": "run it"})
    await workspace.shutdown()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        stacks = _stacks(lambda: _one_turn(Path(folder)))
    files = {name for stack in stacks for name, _ in stack}
    functions = {(name, function) for stack in stacks for name, function in stack}
    print(f"{len(stacks)} rollout lines written; on the way from agent/send to them:")
    print(f"  {len(files)} files, {len(functions)} functions")
    for name in sorted(files):
        print(f"    {name}: {sorted(f for n, f in functions if n == name)}")


if __name__ == "__main__":
    main()
