"""Reading a program's options the way getopt_long does, to find the ones that write or run.

GNU getopt_long (and git's parse-options) accept any unambiguous prefix of a long option,
so ``--comp`` is ``--compile`` and ``--out`` is ``--output``. Checking options by name
would miss those; instead each long option given is matched against the program's full
list, and the command is refused when the prefix could stand for a forbidden option, or
for nothing we know. Short options are read as clusters (``-uo out``), with the value of
an option that takes one ending the cluster, as getopt does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Options", "Parsed", "parse_options", "resolve_long"]


@dataclass(frozen=True)
class Options:
    """What one program accepts, as far as safety is concerned."""

    long: frozenset[str] | None
    """Every long option the program knows (without ``--``); ``None`` when we do not keep
    the full list, in which case only forbidden prefixes are refused."""
    forbidden_long: frozenset[str] = frozenset()
    forbidden_short: str = ""
    short_values: str = ""
    """Short options that take a value (the rest of the cluster, or the next argument)."""
    long_values: frozenset[str] = frozenset()
    """Long options that require a value (after ``=``, or the next argument)."""


@dataclass
class Parsed:
    options: list[tuple[str, str | None]] = field(default_factory=list)
    """``("-x", value)`` or ``("--full-name", value)``, in order."""
    operands: list[str] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.options)

    def values(self, *names: str) -> list[str]:
        return [value for name, value in self.options if name in names and value is not None]


def resolve_long(given: str, options: Options) -> str | None:
    """The long option getopt would take ``given`` (without ``--``) for, or ``None`` if it
    may be forbidden, unknown or ambiguous."""
    if any(name.startswith(given) for name in options.forbidden_long):
        return None
    if options.long is None:
        return given
    if given in options.long:
        return given
    matches = [name for name in options.long if name.startswith(given)]
    return matches[0] if len(matches) == 1 else None


def parse_options(args: list[str], options: Options, permute: bool = True) -> Parsed | None:
    """Splits ``args`` into options and operands; ``None`` if an option is not allowed.

    With ``permute`` (GNU's default), options may follow operands, as getopt reorders them.
    """
    parsed = Parsed()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            parsed.operands.extend(args[i:])
            break
        if arg.startswith("--"):
            given, equals, attached = arg[2:].partition("=")
            name = resolve_long(given, options)
            if name is None:
                return None
            value: str | None = attached if equals else None
            if value is None and name in options.long_values:
                if i >= len(args):
                    return None
                value = args[i]
                i += 1
            parsed.options.append((f"--{name}", value))
        elif arg.startswith("-") and arg != "-":
            cluster = arg[1:]
            for position, letter in enumerate(cluster):
                if letter in options.forbidden_short:
                    return None
                if letter in options.short_values:
                    rest = cluster[position + 1 :]
                    if not rest:
                        if i >= len(args):
                            return None
                        rest = args[i]
                        i += 1
                    parsed.options.append((f"-{letter}", rest))
                    break
                parsed.options.append((f"-{letter}", None))
        else:
            parsed.operands.append(arg)
            if not permute:
                parsed.operands.extend(args[i:])
                break
    return parsed
