"""Work in a session is a task: a conversation turn, a compaction, the user's own command.

Each kind is its own class implementing `SessionTask`; none subclasses another. One
`TaskControl` per session starts a task, stops it and waits for it, so "a send while the
session is busy is refused" and "stop means stop" hold for every kind alike.

Where a turn starts: `TaskControl.start` (`control.py`); where it is stopped:
`TaskControl.interrupt`; where it ends: `end_turn` (`ending.py`), the one way out of every
turn-shaped task.
"""

from agentls.agent.tasks.control import SessionTask, TaskControl, prepare
from agentls.agent.tasks.events import EventSink, TaskEvents

__all__ = ["EventSink", "SessionTask", "TaskControl", "TaskEvents", "prepare"]
