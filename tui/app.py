"""BpfdbgApp: the Textual face of one bpfdbg Session.

The app holds no debugger logic. Keys, clicks and the command bar all become command
lines of the shared language; a worker thread runs each line on the Session, builds a
SessionView and the panes' lines from it (pure presenters), and hands them to the UI
thread, which only swaps what the panes draw. So the screen never waits on the debugger,
``Ctrl+C`` reaches a running ``continue`` at once, and everything the TUI can do can be
typed in the console or a script.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from bpfdbg.commands.registry import CommandResult
from bpfdbg.events import Event, ProgressMade
from bpfdbg.session import Session
from bpfdbg.view import SessionView, ViewBuilder, empty_view
from tui import presenters as present
from tui.bindings import app_bindings
from tui.gcpolicy import IDLE_SECONDS, GcPolicy
from tui.messages import EditEntry, Intent
from tui.palette import CommandsProvider
from tui.screens.edit_entry import EditEntryScreen
from tui.screens.help import HelpScreen
from tui.widgets.lines import LinesView
from tui.widgets.panes import (
    BackendsPane,
    CodePane,
    CommandBar,
    CompletionSuggester,
    OutputLog,
    StatusBar,
    set_title,
)

# Forward stepping keys on a program that is not running start it instead.
STARTS = frozenset({"continue", "next", "step", "nexti", "stepi", "finish"})
BUSY_AFTER = 0.15  # seconds before the status line says a command is running
QUEUE_LIMIT = 16  # commands that may wait while one runs
NARROW = 120  # columns below which the side panes fold into tabs
LOG_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class Rendered:
    """Everything the panes draw for one view, computed in the worker thread."""

    view: SessionView
    code: present.Lines
    source: present.Lines | None
    registers: present.Lines
    registers_compact: present.Lines
    stack: present.Lines
    packet: present.Lines
    packets: present.Lines
    maps: present.Lines
    stops: present.Lines


def render(view: SessionView) -> Rendered:
    pc = view.code.current
    return Rendered(
        view,
        present.code_lines(view.code),
        present.source_lines(view.source) if view.source is not None else None,
        present.register_lines(view.registers, pc),
        present.register_lines(view.registers, pc, compact=True),
        present.stack_lines(view.stack),
        present.packet_lines(view.packet),
        present.packet_list_lines(view.packets),
        present.map_lines(view.maps),
        present.stop_lines(view.stops),
    )


class BpfdbgApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "bpfdbg"
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        *app_bindings(),
        Binding("ctrl+c", "interrupt", "Interrupt", show=False, priority=True, id="interrupt-priority"),
        Binding("escape", "focus_code", "Code", show=False),
    ]
    COMMANDS = App.COMMANDS | {CommandsProvider}

    def __init__(
        self,
        session: Session,
        *,
        history: list[str] | None = None,
        history_writer: Callable[[str], None] | None = None,
        startup: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.session = session
        self.builder = ViewBuilder(session)
        self.lock = threading.Lock()  # one command at a time on the session
        self.busy: str | None = None
        self.progress: str | None = None
        self.rendered = render(empty_view())
        self.source_mode = False
        self.history = list(history or [])
        self._history_writer = history_writer
        self._startup = list(startup)
        self._unsubscribe: Callable[[], None] | None = None
        self.commands_run = 0
        self.gc = GcPolicy()
        self._first_view = True
        self._shown_divergence: Rendered | None = None
        self.pending: deque[tuple[list[str], bool, bool]] = deque()  # commands waiting their turn
        self._pending: list[Text] = []
        self.last_latency: float | None = None

    # -- layout ---------------------------------------------------------------------------------
    @property
    def main(self) -> Screen[Any]:
        """The screen the panes live on. ``App.query`` searches the active screen, which is
        the help screen or an editor while one is open; a command that finishes meanwhile
        must still find its panes."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="top"):
            yield CodePane(id="code")
            with Vertical(id="side"):
                yield LinesView(id="regs", follow=False)
                yield LinesView(id="stack", follow=False)
        with Horizontal(id="bottom"):
            with TabbedContent(id="tabs"):
                with TabPane("Packet", id="tab-packet"):
                    yield LinesView(id="packet", follow=False)
                with TabPane("Maps", id="tab-maps"):
                    yield LinesView(id="maps", follow=False)
                with TabPane("Packets", id="tab-packets"):
                    yield LinesView(id="packets", follow=False)
                with TabPane("Breakpoints", id="tab-breakpoints"):
                    yield LinesView(id="breakpoints", follow=False)
                with TabPane("Backends", id="tab-backends"):
                    yield BackendsPane(id="backends")
                with TabPane("Stack", id="tab-stack"):
                    yield LinesView(id="stack-tab", follow=False)
                with TabPane("Output", id="tab-output"):
                    yield OutputLog(id="output-tab")
            yield OutputLog(id="output")
        yield CommandBar(self.history, suggester=CompletionSuggester(self._suggest), id="command")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "code": "Code",
            "regs": "Registers",
            "stack": "Stack",
            "output": "Output",
        }
        for pane_id, title in titles.items():
            self.main.query_one(f"#{pane_id}").border_title = title
        self._unsubscribe = self.session.subscribe(self._from_session)
        self._layout_for(self.size.width)
        self.main.query_one("#code").focus()
        self._emit(Text(f"bpfdbg: {self._describe_load()}", style="bold"))
        for warning in self.session.load_warnings:
            self._emit(Text(f"warning: {warning}", style="yellow"))
        self._emit(
            Text("F5/c continue  F10/n next  F11/s step  F9/b breakpoint  ? help  : command", style="dim")
        )
        self._flush_output()
        self._start(list(self._startup) or [None])

    def on_unmount(self) -> None:
        self.gc.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.busy is not None:  # quitting during a long command: stop it, or the process
            self.session.interrupt()  # would wait at exit for its worker thread to finish

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width)

    def _layout_for(self, width: int) -> None:
        narrow = width < NARROW
        self.main.set_class(narrow, "-narrow")
        tabs = self.main.query_one("#tabs", TabbedContent)
        for tab in ("tab-stack", "tab-output"):
            if narrow:
                tabs.show_tab(tab)
            else:
                tabs.hide_tab(tab)
        self._draw_registers()

    def _describe_load(self) -> str:
        s = self.session
        if not s.loaded:
            return 'no program loaded: "load FILE.o"'
        progs = ", ".join(
            f"{p.name}: {p.prog_type}, {sum(i is not None for i in p.insns)} insns" for p in s.programs
        )
        text = f"{Path(s.path or '').name}: {len(s.programs)} program(s) ({progs})"
        if s.packets:
            text += f"; capture {Path(s.capture_path or '').name}: {len(s.packets)} packets"
        return text

    # -- running commands ---------------------------------------------------------------------
    def run_command(self, line: str, *then: str, echo: bool = True, key: bool = False) -> bool:
        """Run command lines on the session in a worker. While another command runs they
        wait their turn (a held step key steps on as fast as the debugger answers), up to
        QUEUE_LIMIT; False (and a notice) when the queue is full. Ctrl+C empties it."""
        if self.busy is not None:
            if len(self.pending) >= QUEUE_LIMIT:
                self.notify(
                    f'"{self.busy}" is still running and {len(self.pending)} commands wait; '
                    "Ctrl+C interrupts",
                    severity="warning",
                    timeout=3,
                )
                return False
            self.pending.append(([line, *then], echo, key))
            return True
        self._start([line, *then], echo=echo)
        return True

    def _next_pending(self) -> None:
        """Start the next waiting command; a key's command is mapped again now (a step key
        on a program that has meanwhile exited starts it, as it would have been pressed now)."""
        if self.busy is not None or not self.pending:
            return
        lines, echo, key = self.pending.popleft()
        if key and len(lines) == 1:
            self.action_command(lines[0])
        else:
            self._start(list(lines), echo=echo)

    def _start(self, lines: list[str | None], echo: bool = True) -> None:
        self.busy = next((line for line in lines if line), "loading")
        self.progress = None
        # "running ..." only for a command that takes a while: a step answers sooner, and
        # drawing the status twice per step would cost a screen update each time
        self.set_timer(BUSY_AFTER, self._draw_status)
        self._execute(lines, echo, time.perf_counter())

    @work(thread=True, exit_on_error=False, group="session")
    def _execute(self, lines: list[str | None], echo: bool, started: float) -> None:
        results: list[tuple[str, CommandResult]] = []
        rendered: Rendered | None = None
        failure: str | None = None
        with self.lock:
            try:
                for line in lines:
                    if line is None:
                        continue
                    result = self.session.execute(line)
                    results.append((line, result))
                    if not result.ok or result.quit:
                        break
                rendered = render(self.builder.build())
            except Exception as err:  # a bug in the debugger or the TUI: reported, never fatal
                failure = "".join(traceback.format_exception_only(type(err), err)).strip()
        self.call_from_thread(self._finished, results, rendered, failure, echo, started)

    def _finished(self, *outcome: Any) -> None:
        """The worker's outcome on the UI thread (see ``_finish``); a bug while drawing it
        is said, never swallowed by the worker."""
        try:
            self._finish(*outcome)
        except Exception as err:  # a bug in the TUI: said, never swallowed by the worker
            self.busy = None
            self.commands_run += 1
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            self._emit(Text(f"internal error in the TUI: {detail} (the session is intact)", style="bold red"))
            self._flush_output()
            self.notify(f"internal error in the TUI: {detail}", severity="error", timeout=8)

    def _finish(
        self,
        results: list[tuple[str, CommandResult]],
        rendered: Rendered | None,
        failure: str | None,
        echo: bool,
        started: float,
    ) -> None:
        self.busy = None
        self.progress = None
        for line, result in results:
            self._show_result(line, result, echo)
        if failure is not None:
            self._emit(Text(f"internal error: {failure} (the session is intact)", style="bold red"))
            self.notify(f"internal error: {failure}", severity="error", timeout=6)
        if rendered is not None:
            for out in rendered.view.output:  # what the program printed: bpf_printk, records
                self._emit(Text(out, style="green"))
            self._apply(rendered)
        self._flush_output()
        self.commands_run += 1
        if self._first_view:
            self._first_view = False
            self.gc.start()  # the session and the screen are built: freeze them
        ran = self.commands_run
        self.set_timer(IDLE_SECONDS, lambda: self._idle(ran))
        self.last_latency = time.perf_counter() - started
        if results and results[-1][1].quit:
            self.exit()
            return
        if results and not results[-1][1].ok:
            self.pending.clear()  # a failed command: what was typed ahead assumed it worked
        self._next_pending()

    def _idle(self, ran: int) -> None:
        """No command since command number ``ran``: the user reads the screen; collect now."""
        if self.commands_run == ran and self.busy is None:
            self.gc.idle()

    def _show_result(self, line: str, result: CommandResult, echo: bool) -> None:
        if echo:
            self._emit(Text(f"(bpfdbg) {line}", style="bold"))
            if line.strip() and self._history_writer is not None:
                self._history_writer(line)
        for out in result.lines:
            self._emit(Text(out))
        if result.error is not None:
            self._emit(Text(result.error, style="bold red"))
            if result.usage:
                self._emit(Text(f"usage: {result.usage}", style="red"))
            self.notify(result.error, severity="error", timeout=4)

    def _emit(self, text: Text) -> None:
        self._pending.append(text)

    def _flush_output(self) -> None:
        pending, self._pending = self._pending, []
        for log in self.main.query(OutputLog):
            log.add(pending)

    def _from_session(self, event: Event) -> None:
        """Session events arrive on the worker thread; only progress needs the UI now
        (output and stops come back with the command's result)."""
        if isinstance(event, ProgressMade) and self.busy is not None:
            total = f" of {event.total}" if event.total is not None else ""
            text = f"running {self.busy!r}: {event.done:,}{total} {event.what} (Ctrl+C interrupts)"
            try:
                self.call_from_thread(self._set_progress, text)
            except RuntimeError:
                pass  # the app is shutting down

    def _set_progress(self, text: str) -> None:
        self.progress = text
        self._draw_status()

    # -- drawing ------------------------------------------------------------------------------------
    def _apply(self, rendered: Rendered) -> None:
        self.rendered = rendered
        view = rendered.view
        code = self.main.query_one("#code", CodePane)
        # the cursor follows execution; a command that did not move it (a breakpoint set at
        # the cursor, a print) leaves the cursor where the user put it
        moved = (code.code.program, code.code.current, code.code.frame) != (
            view.code.program,
            view.code.current,
            view.code.frame,
        )
        code.code = view.code
        self._draw_code(keep_cursor=not moved)
        self._draw_registers()
        for stack_id in ("#stack", "#stack-tab"):
            self.main.query_one(stack_id, LinesView).show(rendered.stack)
        self.main.query_one("#packet", LinesView).show(rendered.packet, keep_cursor=True)
        self.main.query_one("#packets", LinesView).show(rendered.packets, keep_cursor=True)
        self.main.query_one("#maps", LinesView).show(rendered.maps, keep_cursor=True)
        self.main.query_one("#breakpoints", LinesView).show(rendered.stops, keep_cursor=True)
        backends = self.main.query_one("#backends", BackendsPane)
        backends.show_backends(view.backends)
        if view.reason == "divergence" and rendered is not self._shown_divergence:
            # the backends disagree: put them side by side where the user looks
            self._shown_divergence = rendered
            self.main.query_one("#tabs", TabbedContent).active = "tab-backends"
            if not backends.split:
                backends.toggle_split()
        maps_tab = self.main.query_one("#tabs", TabbedContent).get_tab("tab-maps")
        label = "Maps*" if any(m.changed for m in view.maps) else "Maps"
        if str(maps_tab.label) != label:
            maps_tab.label = label  # type: ignore[assignment]
        self._draw_status()

    def _draw_code(self, keep_cursor: bool) -> None:
        code = self.main.query_one("#code", CodePane)
        source = self.rendered.source
        code.source_mode = self.source_mode and source is not None
        if code.source_mode and source is not None:
            code.show(source, keep_cursor=keep_cursor)
            set_title(code, f"Source {Path(self.rendered.view.source.file).name}")  # type: ignore[union-attr]
        else:
            code.show(self.rendered.code, keep_cursor=keep_cursor)
            set_title(code, f"Code {self.rendered.view.code.program}")

    def _draw_registers(self) -> None:
        if not self.is_running:
            return
        compact = self.size.width < NARROW
        regs = self.rendered.registers_compact if compact else self.rendered.registers
        self.main.query_one("#regs", LinesView).show(regs)

    def _draw_status(self) -> None:
        if not self.is_running or not self.main.is_attached:
            return  # a timer that fired while the app shuts down
        busy = self.progress or (f"running {self.busy!r}..." if self.busy else None)
        self.main.query_one("#status", StatusBar).show(present.status_line(self.rendered.view, busy))

    # -- actions -----------------------------------------------------------------------------------
    def action_command(self, line: str) -> None:
        """A key's command line. A stepping key on a program that is not running starts
        it first (stopping at its first instruction), as an IDE's step key does; continue
        runs it. While a command runs, the key's line waits and is mapped when its turn
        comes."""
        if self.busy is not None:
            self.run_command(line, key=True)
            return
        word = line.split()[0]
        if self.rendered.view.state in ("idle", "exited", "faulted", "budget") and word in STARTS:
            if word in ("continue", "reverse-continue"):
                self.run_command("run")
            else:
                self.run_command("start")
            return
        self.run_command(line)

    def action_step_key(self, which: str) -> None:
        """F10/F11: by instruction in the disassembly, by source line in the source view."""
        if which in ("next", "step") and not self.source_mode:
            which = {"next": "nexti", "step": "stepi"}[which]
        self.action_command(which)

    def action_interrupt(self) -> None:
        self.pending.clear()
        if self.busy is not None:
            self.session.interrupt()
            self.notify("interrupting...", timeout=2)
        else:
            self.notify("nothing is running (q quits)", timeout=2)

    def action_focus_command(self) -> None:
        self.main.query_one("#command", CommandBar).focus()

    def action_focus_code(self) -> None:
        self.main.query_one("#code", CodePane).focus()

    def action_toggle_split(self) -> None:
        if not self.main.query_one("#backends", BackendsPane).toggle_split():
            self.notify("only one backend in this session: nothing to put side by side", timeout=3)
        else:
            self.main.query_one("#tabs", TabbedContent).active = "tab-backends"

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- intents from panes -------------------------------------------------------------------------
    @on(Intent)
    def _intent(self, message: Intent) -> None:
        command = message.command
        if command == "toggle-source":
            if self.rendered.source is None:
                self.notify("no source: this program has no line info", severity="warning", timeout=3)
                return
            self.source_mode = not self.source_mode
            self._draw_code(keep_cursor=False)
            return
        source = self.rendered.view.source
        if command.startswith(("toggle-line ", "run-to-line ")) and source is not None:
            line = int(command.split()[1])
            where = f"{Path(source.file).name}:{line}"
            if command.startswith("run-to-line "):
                command = f"advance {where}"
            else:
                numbers = [n for ln, n in source.breakpoints if ln == line]
                if not numbers and self.busy is None:  # no command runs: the stop table holds still
                    # a line without code got its breakpoint on the next line with code: the
                    # breakpoint set from this line is still this line's to toggle off
                    numbers = [bp.number for bp in self.session.stops.breakpoints() if bp.spec == where]
                command = "delete " + " ".join(map(str, numbers)) if numbers else f"break {where}"
        self.run_command(command, *message.then)

    @on(CodePane.TypeCommand)
    def _type_command(self, message: CodePane.TypeCommand) -> None:
        bar = self.main.query_one("#command", CommandBar)
        bar.value = message.text
        bar.cursor_position = len(bar.value)
        bar.focus()

    @on(CommandBar.Run)
    def _typed(self, message: CommandBar.Run) -> None:
        self.run_command(message.line)

    @on(CommandBar.Complete)
    def _complete(self, message: CommandBar.Complete) -> None:
        completed = self._common_completion(message.line)
        bar = self.main.query_one("#command", CommandBar)
        if completed is not None and completed != message.line:
            bar.value = completed
            bar.cursor_position = len(completed)
        else:
            self.bell()

    @on(LinesView.Activated)
    def _activated(self, message: LinesView.Activated) -> None:
        pane = message.view.id
        target = message.target
        if target is None:
            return
        if pane == "code" and message.click:
            # a click on an instruction toggles its breakpoint, as in pudb and IDE gutters
            self.main.query_one("#code", CodePane).action_toggle_breakpoint()
        elif pane == "packets" and isinstance(target, int):
            self.run_command(f"packet {target}", "start")
        elif pane == "maps" and isinstance(target, tuple):
            name, key = target
            if key is None:
                self.run_command(f"map show name {name}")
            elif message.click:
                self.run_command(f"map lookup name {name} key hex {key}")
            else:
                entry = next(
                    e for m in self.rendered.view.maps if m.name == name for e in m.entries if e.key == key
                )
                self.post_message(EditEntry(name, key, entry.value))
        elif pane == "breakpoints" and isinstance(target, int):
            row = next((s for s in self.rendered.view.stops if s.number == target), None)
            if row is not None:
                self.run_command(f"{'disable' if row.enabled else 'enable'} {target}")
        elif pane in ("stack", "stack-tab") and isinstance(target, tuple) and target[0] == "frame":
            self.run_command(f"frame {target[1]}")

    @on(EditEntry)
    def _edit_entry(self, message: EditEntry) -> None:
        def done(value: str | None) -> None:
            if value is not None:
                self.run_command(
                    f"map update name {message.map_name} key hex {message.key} value hex {value}"
                )

        self.push_screen(EditEntryScreen(message.map_name, message.key, message.value), done)

    # -- completion (shared with the console) ------------------------------------------------------
    def _suggest(self, line: str) -> str | None:
        if not self.lock.acquire(blocking=False):
            return None
        try:
            from bpfdbg.completion import suggest

            return suggest(self.session, line)
        except Exception:  # noqa: BLE001 - a suggestion is optional
            return None
        finally:
            self.lock.release()

    def _common_completion(self, line: str) -> str | None:
        if not self.lock.acquire(blocking=False):
            return None
        try:
            from bpfdbg.completion import common_completion

            return common_completion(self.session, line)
        except Exception:  # noqa: BLE001
            return None
        finally:
            self.lock.release()


def make_app(session: Session, *, startup: Sequence[str] = (), persist_history: bool = True) -> BpfdbgApp:
    """The app as the CLI starts it and the tests drive it (posting's factory pattern)."""
    history: list[str] = []
    writer: Callable[[str], None] | None = None
    if persist_history:
        from bpfdbg.cmdhistory import append_history, history_path, load_history

        path = history_path()
        history = load_history(path)

        def writer(line: str) -> None:
            append_history(path, line)

    return BpfdbgApp(session, history=history, history_writer=writer, startup=startup)
