"""The command language's table: every command, its aliases, subcommands and help.

One table serves the console, the TUI command bar, scripts and ``Session.execute``. A
command is a function ``(session, args) -> CommandResult`` registered with :func:`command`;
its docstring is its help (first line: the usage, then a blank line, then the text), so
``help``, ``apropos`` and completion can never drift from what the code accepts.

Name lookup follows gdb: exact names and aliases first, then a unique prefix of a command
name. An ambiguous prefix is an error that lists the candidates.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfdbg.session import Session


class CommandError(Exception):
    """A user mistake in a command line: one clear line, optionally with the usage."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass
class CommandResult:
    """What one command line produced. Never printed by the command itself.

    ``lines`` is the human rendering (bpfdbg.render builds it from ``data``); ``data`` is
    the structured payload (JSON-able: what ``-j`` prints and what front ends read);
    ``events`` the session events published while the command ran.
    """

    command: str = ""
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    data: Any = None
    error: str | None = None
    usage: str | None = None
    events: list[object] = field(default_factory=list)
    quit: bool = False
    expect_failed: bool = False  # an `expect` that did not hold (--batch exits non-zero)

    @property
    def text(self) -> str:
        """Everything the user should see, errors included, as one string."""
        out = list(self.lines)
        if self.error is not None:
            out.append(self.error)
            if self.usage:
                out.append(f"usage: {self.usage}")
        return "\n".join(out)


Handler = Callable[["Session", str], CommandResult]


SUMMARY_WIDTH = 76


def summary_of(doc: str) -> str:
    """The first sentence of the text after the usage line (docstrings wrap their lines,
    so the first line alone often stops mid-phrase), shortened at a word when long."""
    parts = inspect.cleandoc(doc).split("\n\n", 1)
    if len(parts) == 2 and parts[1].strip():
        paragraph = " ".join(parts[1].strip().split("\n\n", 1)[0].split())
    else:
        paragraph = parts[0].splitlines()[0] if parts[0] else ""
    match = re.search(r"\.(\s|$)", paragraph)
    sentence = paragraph[: match.start() + 1] if match else paragraph
    if len(sentence) > SUMMARY_WIDTH:
        sentence = sentence[: SUMMARY_WIDTH - 3].rsplit(" ", 1)[0].rstrip(",:;") + "..."
    return sentence


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    category: str = "misc"
    subcommands: tuple[str, ...] = ()
    repeatable: bool = False  # an empty line repeats it (stepping commands)
    completes: str = ""  # what its arguments complete to: "location", "map", "expr", "file", ...

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.handler.__doc__ or self.name)

    @property
    def usage(self) -> str:
        return self.doc.splitlines()[0]

    @property
    def summary(self) -> str:
        """The one-line description: the first sentence of the text after the usage."""
        return summary_of(self.doc)


_COMMANDS: dict[str, Command] = {}
_ALIASES: dict[str, str] = {}


def command(
    name: str,
    *,
    aliases: Iterable[str] = (),
    category: str = "misc",
    subcommands: Iterable[str] = (),
    repeatable: bool = False,
    completes: str = "",
) -> Callable[[Handler], Handler]:
    """Register the decorated function as command ``name``."""

    def register(fn: Handler) -> Handler:
        cmd = Command(name, fn, tuple(aliases), category, tuple(subcommands), repeatable, completes)
        if name in _COMMANDS or name in _ALIASES:
            raise ValueError(f"command {name!r} registered twice")
        _COMMANDS[name] = cmd
        for alias in cmd.aliases:
            if alias in _ALIASES or alias in _COMMANDS:
                raise ValueError(f"alias {alias!r} registered twice")
            _ALIASES[alias] = name
        return fn

    return register


_LOADED = False
_NOT_FAMILIES = ("registry", "interpreter", "common")


def _load() -> None:
    """Import every command family module once (each registers its commands)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    import bpfdbg.commands as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_FAMILIES:
            importlib.import_module(f"bpfdbg.commands.{module.name}")


def all_commands() -> list[Command]:
    _load()
    return sorted(_COMMANDS.values(), key=lambda c: c.name)


def alias_table() -> dict[str, str]:
    _load()
    return dict(_ALIASES)


def lookup(word: str, extra: Iterable[str] = ()) -> Command | str:
    """The command a typed word means, or the name of a user-defined command in ``extra``.

    Raises CommandError for unknown or ambiguous words.
    """
    _load()
    user = set(extra)
    if word in _COMMANDS:
        return _COMMANDS[word]
    if word in user:
        return word
    if word in _ALIASES:
        return _COMMANDS[_ALIASES[word]]
    names = sorted({*(n for n in _COMMANDS if n.startswith(word)), *(n for n in user if n.startswith(word))})
    if len(names) == 1:
        return _COMMANDS.get(names[0]) or names[0]
    if not names:
        raise CommandError(f'undefined command: "{word}". Try "help".')
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    raise CommandError(f'ambiguous command "{word}": {shown}.')


def subcommand(word: str, choices: Iterable[str], what: str) -> str:
    """Resolve a subcommand keyword by exact name or unique prefix (bpftool's is_prefix)."""
    options = list(choices)
    if word in options:
        return word
    found = [c for c in options if c.startswith(word)] if word else []
    if len(found) == 1:
        return found[0]
    listed = "|".join(options)
    if not found:
        raise CommandError(f"unknown {what} {word!r}; expected one of {listed}")
    raise CommandError(f"ambiguous {what} {word!r}: {', '.join(found)}")


# -- prefix commands whose subcommands several families contribute (info, set, show) ------
@dataclass(frozen=True)
class Sub:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.handler.__doc__ or self.name)


SUBCOMMANDS: dict[str, dict[str, Sub]] = {"info": {}, "set": {}, "show": {}}


def sub_of(prefix: str, name: str, *, aliases: Iterable[str] = ()) -> Callable[[Handler], Handler]:
    """Register ``prefix name`` (e.g. ``info registers``) from any command family."""

    def register(fn: Handler) -> Handler:
        table = SUBCOMMANDS[prefix]
        if name in table:
            raise ValueError(f"{prefix} {name} registered twice")
        table[name] = Sub(name, fn, tuple(aliases))
        return fn

    return register


def dispatch_sub(prefix: str, session: Session, args: str) -> CommandResult:
    """Run ``prefix WORD REST``: WORD by exact name, alias or unique prefix."""
    _load()
    table = SUBCOMMANDS[prefix]
    word, _, rest = args.strip().partition(" ")
    if not word:
        names = ", ".join(sorted(table))
        raise CommandError(f'"{prefix}" must be followed by a subcommand: {names}')
    for sub in table.values():
        if word in sub.aliases:
            return sub.handler(session, rest.strip())
    name = subcommand(word, sorted(table), f"{prefix} subcommand")
    return table[name].handler(session, rest.strip())
