"""How each kind of tool call runs inside a turn: approval, sandbox, events, outcome."""
