"""Command-line completion for every front end: the console and the TUI's command bar.

The logic lives here, free of any UI toolkit, because two front ends need the same answers
and only ``bpfdbg.console`` may import prompt_toolkit (the import-linter contracts in
pyproject.toml). ``complete`` reads the text before the cursor and the session (maps,
functions, source files, registers) and returns plain ``Candidate`` values; the console wraps
them into prompt_toolkit ``Completion``s, the TUI uses ``common_completion`` for Tab in a
single-line input and ``suggest`` for an inline suggestion.

What a command's arguments complete to comes from its ``completes`` field in the registry
(``location``, ``expr``, ``file``, ``map``, ``command``, ``info``/``set``/``show``) and from its
``subcommands``; the few commands that need more (``map export FILE``, ``catch helper NAME``,
``load pcap FILE``) are described by the tables below.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bpfdbg.commands.registry import SUBCOMMANDS, Command, CommandError, alias_table, all_commands, lookup

if TYPE_CHECKING:
    from bpfdbg.session import Session

__all__ = ["Candidate", "common_completion", "complete", "suggest"]

REGISTERS = tuple(f"$r{i}" for i in range(11))
CONVENIENCE = ("$pc", "$fp", "$ctx", "$pkt", "$pkt_end", "$pkt_meta", "$retval", "$insns")

# What the arguments of a command complete to when its registry entry does not say.
KIND_BY_NAME = {
    "list": "location",
    "print": "expr",
    "output": "expr",
    "call": "expr",
    "x": "expr",
    "display": "expr",
    "condition": "expr",
    "jump": "location",
    "disassemble": "location",
    "help": "command",
    "apropos": "",
    "source": "file",
}
# Subcommands of families whose next word is a map name, or a file.
MAP_SUBCOMMANDS = frozenset(
    "show dump lookup update delete getnext peek pop push enqueue dequeue snapshot restore diff reset freeze "
    "watch".split()
)
FILE_SUBCOMMANDS = frozenset({"export", "import", "save", "load"})
# info/set/show subcommands whose arguments have a kind of their own.
SUB_KINDS = {
    "registers": "register",
    "all-registers": "register",
    "var": "expr",
    "variable": "expr",
    "line": "location",
    "source": "location",
    "scope": "location",
    "symbol": "expr",
    "map": "map",
    "maps": "map",
    "user": "user",
    "packet": "",
    "logging": "file",
}
LOAD_KEYWORDS = ("pcap", "maps", "raw")
EXPECT_KEYWORDS = ("action", "verdict", "map", "exit", "fault")
PROG_TYPES = ("xdp", "tc", "socket", "raw")

_EXPR_TOKEN = re.compile(r"\$?[\w.]*$")
_COMMAND_WORD = re.compile(r"\s*([A-Za-z_][\w-]*|[!#?]|\S)")


@dataclass(frozen=True)
class Candidate:
    """One completion: replace the ``-start`` characters before the cursor with ``text``.

    ``start`` is zero or negative, the same convention as prompt_toolkit's
    ``start_position``, so the console adapter passes it through untouched. ``display`` is
    what a menu shows (a directory's name with its "/"), and defaults to ``text``.
    """

    text: str
    start: int = 0
    meta: str = ""
    display: str = ""

    def __post_init__(self) -> None:
        if not self.display:
            object.__setattr__(self, "display", self.text)

    def apply(self, text_before_cursor: str) -> str:
        """The text before the cursor once this candidate is inserted."""
        return text_before_cursor[: len(text_before_cursor) + self.start] + self.text


def complete(session: Session, text_before_cursor: str) -> list[Candidate]:
    """Every completion for the text before the cursor, in the order a menu should show them.

    Nothing inside ``python`` or ``document`` blocks: those lines are Python code or prose, not
    commands. A ``define`` body is commands and completes like the prompt.
    """
    block = getattr(session.interpreter, "block", None)
    if block is not None and block.kind != "define":
        return []
    return list(_Completions(session).line(text_before_cursor.lstrip()))


def common_completion(session: Session, line: str) -> str | None:
    """The line extended to the longest common prefix of its completions: a Tab press in a
    single-line input, where there is no menu to choose from.

    None when nothing completes. When the candidates diverge right at the cursor the line comes
    back unchanged, so the caller can tell "ambiguous" (show ``complete``'s list) from "none".
    """
    lines = [c.apply(line) for c in complete(session, line)]
    if not lines:
        return None
    common = os.path.commonprefix(lines)
    # Every candidate starts with the word it replaces, so the prefix never loses typed text;
    # the guard keeps that promise should a future candidate break it.
    return common if common.startswith(line) else line


def suggest(session: Session, line: str) -> str | None:
    """The whole line with the first completion appended, for an inline (greyed) suggestion.

    None for a blank line (a command out of nothing is noise), when nothing completes, and when
    the word typed is already a complete candidate: after "step" the user means step, and a
    greyed "i" for stepi would only be in the way.
    """
    if not line.strip():
        return None
    completed = [c.apply(line) for c in complete(session, line)]
    if line in completed:
        return None
    return next((full for full in completed if full.startswith(line)), None)


class _Completions:
    """The walk from the command word to the kind of the word under the cursor.

    A class only to share the session between the steps; one instance per request.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- what to complete ---------------------------------------------------------------------
    def line(self, text: str) -> Iterator[Candidate]:
        if not text or not re.search(r"\s", text):
            if "/" not in text:
                yield from self._commands(text)
            return
        m = _COMMAND_WORD.match(text)
        if m is None:
            return
        word = m.group(1)
        rest = re.sub(r"^/\S*", "", text[m.end() :]).lstrip()  # x/4xb: the format is not an argument
        try:
            found = lookup(word, self.session.user_commands)
        except CommandError:
            found = None
        if not isinstance(found, Command):
            # unknown or user-defined: free text, but "$..." is a register in any command
            if rest[-1:].strip():
                yield from self._expression(self._expr_token(rest))
            return
        words = rest.split()
        current = "" if (not rest or rest[-1].isspace()) else words[-1]
        done = words if not current else words[:-1]
        yield from self._arguments(found, done, current, rest)

    def _arguments(self, cmd: Command, done: list[str], current: str, rest: str) -> Iterator[Candidate]:
        name = cmd.name
        if name in SUBCOMMANDS:
            if not done:
                yield from self._words(current, sorted(SUBCOMMANDS[name]), meta=f"{name} subcommand")
                return
            sub = self._resolve_sub(name, done[0])
            kind = SUB_KINDS.get(sub or "", "expr" if name == "set" else "")
            yield from self._kind(kind, current, rest)
            return
        if name == "help":
            if not done:
                yield from self._commands(current)
            elif len(done) == 1 and done[0] in SUBCOMMANDS:
                yield from self._words(current, sorted(SUBCOMMANDS[done[0]]))
            else:
                found = self._lookup(done[0])
                if found is not None and found.name in SUBCOMMANDS and len(done) == 1:
                    yield from self._words(current, sorted(SUBCOMMANDS[found.name]))
            return
        if name == "load":
            yield from self._load(done, current)
            return
        if name == "expect" and not current.startswith("$"):
            yield from self._expect(done, current, rest)
            return
        if cmd.subcommands:
            if not done:
                yield from self._words(current, cmd.subcommands, meta=f"{name} subcommand")
                return
            yield from self._after_subcommand(name, done, current, rest)
            return
        kind = cmd.completes or KIND_BY_NAME.get(name, "")
        yield from self._kind(kind, current, rest)

    def _after_subcommand(self, name: str, done: list[str], current: str, rest: str) -> Iterator[Candidate]:
        sub = done[0]
        if name == "catch":
            if sub == "helper":
                yield from self._words(current, self._helpers())
            elif sub == "map" and len(done) == 1:
                yield from self._words(current, self._maps())
            elif sub == "map":
                yield from self._words(current, ("lookup", "update", "delete"))
            elif sub == "exit":
                yield from self._words(current, self._actions())
            return
        if name == "prog" and sub == "select" and len(done) == 1:
            yield from self._words(current, self._program_names())
            return
        if sub in FILE_SUBCOMMANDS:  # "map export FILE [MAP...]", "map import FILE"
            if len(done) == 1:
                yield from _paths(current)
            elif sub == "export":
                yield from self._words(current, self._maps())
            return
        if sub in MAP_SUBCOMMANDS and len(done) == 1:
            yield from self._words(current, self._maps())
            return
        if current.startswith("$"):
            yield from self._expression(current)

    def _load(self, done: list[str], current: str) -> Iterator[Candidate]:
        if not done:
            yield from self._words(current, LOAD_KEYWORDS)
            yield from _paths(current)
        elif done[0] in LOAD_KEYWORDS and len(done) == 1:
            yield from _paths(current)
        elif done[0] == "raw" and len(done) == 2:
            yield from self._words(current, ("type",))
        elif done[0] == "raw" and len(done) == 3 and done[2] == "type":
            yield from self._words(current, PROG_TYPES)
        elif done[0] not in LOAD_KEYWORDS and len(done) == 1:
            yield from self._words(current, ("prog",))
        elif done[0] not in LOAD_KEYWORDS and len(done) == 2 and done[1] == "prog":
            yield from self._words(current, self._functions())

    def _expect(self, done: list[str], current: str, rest: str) -> Iterator[Candidate]:
        if not done:
            yield from self._words(current, EXPECT_KEYWORDS, meta="expect")
            yield from self._expression(self._expr_token(rest))
        elif done[0] in ("action", "verdict", "exit"):
            yield from self._words(current, self._actions())
        elif done[0] == "map" and len(done) == 1:
            yield from self._words(current, self._maps(), meta="map")
        elif done[0] not in ("fault", "map"):
            yield from self._expression(self._expr_token(rest))

    def _kind(self, kind: str, current: str, rest: str) -> Iterator[Candidate]:
        if kind == "location":
            if re.search(r"(^|\s)if\s", rest):
                yield from self._expression(self._expr_token(rest))
            else:
                yield from self._locations(current)
        elif kind == "expr":
            yield from self._expression(self._expr_token(rest))
        elif kind == "file":
            yield from _paths(current)
        elif kind == "map":
            yield from self._words(current, self._maps())
        elif kind == "register":
            yield from self._words(current, [f"r{i}" for i in range(11)] + ["pc"])
        elif kind == "command":
            yield from self._commands(current)
        elif kind == "user":
            yield from self._words(current, sorted(self.session.user_commands))
        elif current.startswith("$"):
            yield from self._expression(current)

    # -- candidates ---------------------------------------------------------------------------
    @staticmethod
    def _words(current: str, candidates: Iterable[str], meta: str = "") -> Iterator[Candidate]:
        seen: set[str] = set()
        for cand in candidates:
            if cand.startswith(current) and cand not in seen:
                seen.add(cand)
                yield Candidate(cand, -len(current), meta)

    def _commands(self, current: str) -> Iterator[Candidate]:
        seen: set[str] = set()
        for cmd in all_commands():
            if cmd.name.startswith(current):
                seen.add(cmd.name)
                yield Candidate(cmd.name, -len(current), cmd.summary)
        for alias, target in sorted(alias_table().items()):
            if alias.startswith(current) and alias not in seen and len(current) > 0 and alias.isalpha():
                seen.add(alias)
                yield Candidate(alias, -len(current), f"alias of {target}")
        for name in sorted(self.session.user_commands):
            if name.startswith(current) and name not in seen:
                doc = self.session.user_docs.get(name, "")
                yield Candidate(name, -len(current), doc.splitlines()[0] if doc else "user-defined")

    def _lookup(self, word: str) -> Command | None:
        try:
            found = lookup(word, self.session.user_commands)
        except CommandError:
            return None
        return found if isinstance(found, Command) else None

    @staticmethod
    def _resolve_sub(prefix: str, word: str) -> str | None:
        table = SUBCOMMANDS[prefix]
        if word in table:
            return word
        for name, sub in table.items():
            if word in sub.aliases:
                return name
        found = [n for n in table if n.startswith(word)]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _expr_token(rest: str) -> str:
        m = _EXPR_TOKEN.search(rest)
        return m.group(0) if m else ""

    def _expression(self, token: str) -> Iterator[Candidate]:
        if token.startswith("$"):
            names = [*REGISTERS, *CONVENIENCE, *(f"${v}" for v in sorted(self.session.user_vars))]
            yield from self._words(token, names, meta="register / variable")
        elif token and "." not in token:
            yield from self._words(token, self._maps(), meta="map")

    def _locations(self, current: str) -> Iterator[Candidate]:
        if current.startswith(("*", "+", "-")):
            return
        files = self._source_lines()
        if ":" in current:
            head, _, tail = current.partition(":")
            for number in files.get(head, []):
                if str(number).startswith(tail):
                    yield Candidate(f"{head}:{number}", -len(current))
            if head in self._program_names():
                yield from self._words(current, [f"{head}:{f}" for f in self._functions_of(head)])
            return
        yield from self._words(current, self._functions(), meta="function")
        yield from self._words(current, [f"{name}:" for name in sorted(files)], meta="source file")

    # -- what the session knows ---------------------------------------------------------------
    def _maps(self) -> list[str]:
        if not self.session.loaded:
            return []
        try:
            return [m.name for m in self.session.maps]
        except Exception:  # a half-loaded session must never break typing
            return []

    def _program_names(self) -> list[str]:
        return [p.name for p in self.session.programs] if self.session.loaded else []

    def _functions_of(self, program: str) -> list[str]:
        for p in self.session.programs:
            if p.name == program:
                return sorted(set(p.symbols.values()))
        return []

    def _functions(self) -> list[str]:
        if not self.session.loaded:
            return []
        names: list[str] = []
        for p in self.session.programs:
            names.append(p.name)
            names.extend(sorted(set(p.symbols.values())))
        return list(dict.fromkeys(names))

    def _source_lines(self) -> dict[str, list[int]]:
        """Source file base names -> the lines that have instructions."""
        if not self.session.loaded:
            return {}
        files: dict[str, set[int]] = {}
        for p in self.session.programs:
            for src in p.lines.values():
                files.setdefault(Path(src.file).name, set()).add(src.line)
        return {name: sorted(lines) for name, lines in sorted(files.items())}

    def _helpers(self) -> list[str]:
        try:
            return sorted(n for n in self.session.helper_ids() if n.startswith("bpf_"))
        except Exception:
            return []

    def _actions(self) -> list[str]:
        if not self.session.loaded:
            return []
        try:
            return list(self.session.prog_kind.actions.values())
        except Exception:
            return []


def _paths(current: str) -> Iterator[Candidate]:
    """Entries of the directory ``current`` points into whose names start with its last part,
    sorted by name; relative paths are taken from the working directory and ``~`` is expanded
    for the lookup only, so the typed word is kept as typed.

    A directory's candidate ends in "/" so a single-line input can go on completing inside it
    with the next Tab. An unreadable or missing directory completes to nothing: typing a path
    must never raise.
    """
    expanded = os.path.expanduser(current)
    directory, prefix = os.path.split(expanded)
    try:
        names = sorted(name for name in os.listdir(directory or ".") if name.startswith(prefix))
    except OSError:
        return
    for name in names:
        is_dir = os.path.isdir(os.path.join(directory or ".", name))
        slash = "/" if is_dir else ""
        yield Candidate(current + name[len(prefix) :] + slash, -len(current), display=name + slash)
