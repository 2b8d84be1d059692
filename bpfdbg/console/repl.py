"""The interactive console: a prompt_toolkit REPL over one Session.

gdb's habits (reference/ux_anchors.md 1.3, 1.7): the prompt is ``(bpfdbg) `` and ``>``
inside ``define``/``python`` blocks, history persists in ``~/.bpfdbg_history`` (or
``$BPFDBG_HISTORY``), Tab completes, an empty line repeats the last stepping command,
Ctrl-C stops a running command (or clears the line at the prompt), Ctrl-D leaves.

Commands run in a worker thread so the main thread stays free to take Ctrl-C: the
KeyboardInterrupt lands here, not inside the machine, and becomes ``session.interrupt()``,
which the stepping engine honours at the next instruction boundary and reports as a stop.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from bpfdbg.cmdhistory import history_path
from bpfdbg.commands.registry import CommandError, CommandResult, lookup
from bpfdbg.console.completer import BpfdbgCompleter

if TYPE_CHECKING:
    from bpfdbg.session import Session

PROMPT = "(bpfdbg) "
CONTINUATION_PROMPT = ">"
# Commands that take over the terminal themselves: they run on the main thread.
TERMINAL_COMMANDS = frozenset({"python-interactive"})


def open_history(path: Path | None = None) -> tuple[History, str | None]:
    """A FileHistory, or an in-memory one (and a warning) when the file cannot be written,
    so an unwritable home directory never keeps the console from starting.

    The path comes from ``bpfdbg.cmdhistory``, which reads and writes the same file in the
    same format for the TUI, so both front ends share one history."""
    path = path or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        return InMemoryHistory(), f"warning: history is not saved: cannot write {path}: {err.strerror or err}"
    return FileHistory(str(path)), None


def print_result(result: CommandResult, out: TextIO, err: TextIO, *, interactive: bool = True) -> None:
    """Output lines to ``out``; the error (and usage) to ``err`` as one line each."""
    if result.lines:
        out.write("\n".join(result.lines) + "\n")
    if interactive and isinstance(result.data, dict) and isinstance(result.data.get("hint"), str):
        out.write(result.data["hint"] + "\n")
    if result.error is not None:
        err.write(result.error + "\n")
        if result.usage:
            err.write(f"usage: {result.usage}\n")
    out.flush()
    err.flush()


class Console:
    """The REPL. ``input``/``output`` are for tests (prompt_toolkit pipe input and
    DummyOutput); results go to ``stdout``/``stderr``."""

    def __init__(
        self,
        session: Session,
        *,
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.session = session
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        warning = None
        if history is None:
            history, warning = open_history()
        if warning:
            self.stderr.write(warning + "\n")
        self.prompt_session: PromptSession[str] = PromptSession(
            message=self.message,
            history=history,
            completer=BpfdbgCompleter(session),
            complete_while_typing=False,
            auto_suggest=AutoSuggestFromHistory(),
            input=input,
            output=output,
        )
        self.exit_status: int | None = None  # from "quit N"

    def message(self) -> str:
        return CONTINUATION_PROMPT if self.session.interpreter.in_block else PROMPT

    # -- running one line -----------------------------------------------------------------------
    def execute(self, line: str) -> CommandResult:
        """One line as typed (an empty line repeats), interruptible with Ctrl-C."""
        interpreter = self.session.interpreter
        if self._needs_terminal(line):
            return interpreter.execute(line, repeat_empty=True)
        self.session.interrupt_event.clear()
        box: list[CommandResult] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append(interpreter.execute(line, repeat_empty=True))
            except BaseException as err:  # never lose the console to a worker's exception
                failure.append(err)
            finally:
                done.set()

        # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave
        # the thread marked as finished while it still runs (CPython 3.11, bpo-45274).
        threading.Thread(target=work, name="bpfdbg-command", daemon=True).start()
        interrupted = False
        while not done.is_set():
            try:
                done.wait(0.05)
            except KeyboardInterrupt:
                if interrupted:
                    self.stderr.write("(still stopping: the command ends at the next instruction)\n")
                interrupted = True
                self.session.interrupt()
        if failure:
            detail = f"{type(failure[0]).__name__}: {failure[0]}"
            return CommandResult(line, ok=False, error=f"internal error: {detail} (the session is intact)")
        return box[0]

    def _needs_terminal(self, line: str) -> bool:
        if self.session.interpreter.in_block:
            return False
        words = line.split()
        if not words:
            return False
        try:
            found = lookup(words[0], self.session.user_commands)
        except CommandError:
            return False
        return not isinstance(found, str) and found.name in TERMINAL_COMMANDS

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        """Read, run and print until quit or Ctrl-D; returns the exit status for the CLI."""
        while True:
            try:
                line = self.prompt_session.prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt: a fresh line
            except EOFError:
                if self.session.interpreter.in_block:
                    self.session.interpreter.block = None
                self.stdout.write("quit\n")
                break
            result = self.execute(line)
            print_result(result, self.stdout, self.stderr)
            if result.quit:
                status = result.data.get("status") if isinstance(result.data, dict) else None
                self.exit_status = status if isinstance(status, int) else None
                break
        return self.exit_status or 0


def run_console(session: Session) -> int:
    """The interactive console on a terminal."""
    return Console(session).run()
