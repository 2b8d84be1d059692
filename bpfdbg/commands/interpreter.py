"""The command interpreter: one command line (or a script) in, a CommandResult out.

It splits the command word from its arguments the way gdb does (``x/4xb $r10`` is the
command ``x`` with ``/4xb $r10``), resolves aliases and unique prefixes, runs user-defined
commands and multi-line blocks (``define NAME ... end``, ``python ... end``), and turns every
user mistake into a result with ``ok=False`` and a one-line error. A bug in a command is
reported the same way (with "internal error"), so the session survives it.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpfdbg.commands.registry import Command, CommandError, CommandResult, lookup

if TYPE_CHECKING:
    from bpfdbg.session import Session

_WORD = re.compile(r"\s*([A-Za-z_][\w-]*|[!#]|\S)(.*)$", re.S)
MAX_NESTING = 32


@dataclass
class _Block:
    """A multi-line construct being read: ``define NAME`` or ``python``, until ``end``."""

    kind: str
    name: str
    lines: list[str] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)  # blocks opened inside it, innermost last


def split_command(line: str) -> tuple[str, str]:
    """``"x/4xb $pkt"`` -> ``("x", "/4xb $pkt")``; ``"info registers"`` -> ``("info", "registers")``."""
    m = _WORD.match(line)
    if m is None:
        return "", ""
    word, rest = m.group(1), m.group(2)
    if "/" in word:
        word, _, fmt = word.partition("/")
        rest = "/" + fmt + rest
    return word, rest.strip()


class Interpreter:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.last_repeatable: str | None = None
        self.block: _Block | None = None
        self._events: list[object] | None = None
        self._nesting = 0

    # -- events published while a command runs ------------------------------------------
    def collect(self, event: object) -> None:
        if self._events is not None:
            self._events.append(event)

    @property
    def in_block(self) -> bool:
        return self.block is not None

    def begin_block(self, kind: str, name: str) -> None:
        self.block = _Block(kind, name)

    # -- entry points ---------------------------------------------------------------------
    def execute(self, text: str, *, repeat_empty: bool = False) -> CommandResult:
        """One command line, or several separated by newlines (run as a script)."""
        if "\n" in text.strip("\n"):
            return self.run_script(text.splitlines())
        return self.feed(text.rstrip("\n"), repeat_empty=repeat_empty)

    def run_script(self, lines: list[str], where: str = "") -> CommandResult:
        """Run lines as a script: stops at the first failing command (like gdb's source)."""
        merged = CommandResult("source")
        for number, line in enumerate(lines, 1):
            result = self.feed(line)
            merged.lines.extend(result.lines)
            merged.events.extend(result.events)
            merged.expect_failed |= result.expect_failed
            if result.quit:
                merged.quit = True
                break
            if not result.ok:
                merged.ok = False
                prefix = f"{where}:{number}: " if where else ""
                merged.error = prefix + (result.error or "error")
                merged.usage = result.usage
                break
        if self.block is not None and where:
            merged.ok = False
            merged.error = f"{where}: missing 'end' for {self.block.kind} {self.block.name}".rstrip()
            self.block = None
        return merged

    def feed(self, line: str, *, repeat_empty: bool = False) -> CommandResult:
        """One line: part of an open block, or a command."""
        if self.block is not None:
            return self._block_line(line)
        stripped = line.strip()
        if not stripped:
            if repeat_empty and self.last_repeatable:
                return self._run(self.last_repeatable)
            return CommandResult("")
        if stripped.startswith("#"):
            return CommandResult("#")
        return self._run(stripped)

    def _block_line(self, line: str) -> CommandResult:
        """Collect a block's line. Blocks nest (a python block inside a define); inside a
        python block only a bare ``end`` counts, since ``if``/``while`` there are Python."""
        block = self.block
        assert block is not None
        word, rest = split_command(line)
        innermost = block.nested[-1] if block.nested else block.kind
        if line.strip() == "end" or (word == "end" and innermost != "python"):
            if not block.nested:
                self.block = None
                return self._finish_block(block)
            block.nested.pop()
        elif innermost != "python":
            if word == "python" and not rest:
                block.nested.append("python")
            elif word in ("define", "document", "while", "if", "commands"):
                block.nested.append(word)
        block.lines.append(line)
        return CommandResult("", data={"continuation": True})

    def _finish_block(self, block: _Block) -> CommandResult:
        from bpfdbg.commands import scripting

        return scripting.finish_block(self.session, block.kind, block.name, block.lines)

    def _run(self, line: str) -> CommandResult:
        word, args = split_command(line)
        if self._nesting >= MAX_NESTING:
            return CommandResult(word, ok=False, error="user commands nest too deeply (recursive define?)")
        outer = self._events
        self._events = [] if outer is None else outer
        self._nesting += 1
        try:
            try:
                found = lookup(word, self.session.user_commands)
            except CommandError as err:
                return CommandResult(word, ok=False, error=err.message)
            if isinstance(found, str):
                return self._user_command(found, args)
            result = self._call(found, args)
            if found.repeatable and result.ok:
                self.last_repeatable = line
            return result
        finally:
            self._nesting -= 1
            events = self._events
            self._events = outer
            if outer is None and events:
                pass

    def _call(self, cmd: Command, args: str) -> CommandResult:
        events_before = len(self._events or [])
        try:
            result = cmd.handler(self.session, args)
        except CommandError as err:
            result = CommandResult(cmd.name, ok=False, error=err.message, usage=err.usage)
        except KeyboardInterrupt:
            result = CommandResult(cmd.name, ok=False, error="Quit (interrupted)")
        except Exception as err:  # a bug: report it, keep the session
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            result = CommandResult(
                cmd.name,
                ok=False,
                error=f"internal error in {cmd.name}: {detail} (the session is intact; please report this)",
                data={"traceback": traceback.format_exc()},
            )
        result.command = result.command or cmd.name
        if self._events is not None:
            result.events = list(self._events[events_before:])
        return result

    def _user_command(self, name: str, args: str) -> CommandResult:
        argv = args.split()
        merged = CommandResult(name)
        for raw in self.session.user_commands[name]:
            line = raw
            for i, value in enumerate(argv):
                line = line.replace(f"$arg{i}", value)
            line = line.replace("$argc", str(len(argv)))
            result = self.feed(line)
            merged.lines.extend(result.lines)
            merged.events.extend(result.events)
            merged.expect_failed |= result.expect_failed
            if not result.ok:
                merged.ok = False
                error = result.error or "error"
                merged.error = error if error.startswith(f"{name}: ") else f"{name}: {error}"
                break
        return merged
