"""The panes that do more than show lines: the code pane (breakpoints and run-to-cursor
at its cursor), the command bar (history and completion shared with the console), the
output log, and the per-backend execution panes."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input, Tab, Tabs

from bpfdbg.view import BackendView, CodeView
from tui.bindings import bound_keys, code_bindings
from tui.messages import Intent
from tui.presenters import Lines, backend_lines
from tui.widgets.lines import LinesView, LogView


class CodePane(LinesView):
    """Disassembly (or the source file, toggled with ``v``) with the cursor the code keys
    act on: F9/b toggles a breakpoint there, t runs to it, H brings it back to pc."""

    BINDINGS = code_bindings()  # type: ignore[assignment]

    class TypeCommand(Message):
        """A key no binding uses was typed in the code pane: start a command line with it
        (gdb's SingleKey mode drops into the prompt the same way)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.code = CodeView("", (), None)
        self.source_mode = False

    @property
    def cursor_pc(self) -> int | None:
        target = self.target
        return target if isinstance(target, int) else None

    @property
    def cursor_line(self) -> int | None:
        target = self.target
        if isinstance(target, tuple) and target[0] == "line":
            return int(target[1])
        return None

    def breakpoint_numbers(self, pc: int) -> tuple[int, ...]:
        for row in self.code.rows:
            if row.pc == pc:
                return row.bp_numbers
        return ()

    def on_key(self, event: events.Key) -> None:
        if event.character is None or not event.character.isprintable() or event.character == " ":
            return
        if event.key in bound_keys() or event.character in bound_keys():
            return
        event.stop()
        event.prevent_default()
        self.post_message(self.TypeCommand(event.character))

    def action_toggle_breakpoint(self) -> None:
        line = self.cursor_line
        if line is not None:
            self.post_message(Intent(f"toggle-line {line}"))
            return
        pc = self.cursor_pc
        if pc is None:
            self.app.bell()
            return
        numbers = self.breakpoint_numbers(pc)
        if numbers:
            self.post_message(Intent("delete " + " ".join(str(n) for n in numbers)))
        else:
            self.post_message(Intent(f"break {self._spec(pc)}"))

    def action_run_to_cursor(self) -> None:
        line = self.cursor_line
        pc = self.cursor_pc
        if line is not None:
            self.post_message(Intent(f"run-to-line {line}"))
        elif pc is not None:
            self.post_message(Intent(f"advance {self._spec(pc)}"))
        else:
            self.app.bell()

    def action_cursor_to_pc(self) -> None:
        if self.code.current is not None:
            self.move_to_target(self.code.current)

    def action_toggle_source(self) -> None:
        self.post_message(Intent("toggle-source"))

    def _spec(self, pc: int) -> str:
        return f"*{pc}"


def set_title(widget: Widget, title: str) -> None:
    """A border title, set only when it changes (every change is a repaint)."""
    if widget.border_title != title:
        widget.border_title = title


class StatusBar(Widget):
    """The one-line status at the top: program, packet, where execution stopped."""

    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text()

    def show(self, text: Text) -> None:
        if text != self.text:
            self.text = text
            self.refresh()

    def render(self) -> Text:
        return self.text


class OutputLog(LogView):
    """The debugger's messages, the commands typed and bpf_printk/ring buffer output."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=5000)

    @property
    def plain_lines(self) -> list[str]:
        return [t.plain for t in self.lines]

    def add(self, texts: list[Text]) -> None:
        """Append lines (a log that is not on screen draws nothing until it is shown)."""
        self.append(texts)


class CompletionSuggester(Suggester):
    """Inline suggestions from the shared completion (bpfdbg.completion), computed off the
    UI thread and skipped while a command holds the session."""

    def __init__(self, suggest: Callable[[str], str | None]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._suggest = suggest

    async def get_suggestion(self, value: str) -> str | None:
        import asyncio

        if not value.strip():
            return None
        return await asyncio.to_thread(self._suggest, value)


class CommandBar(Input):
    """The console's command language: Enter runs the line, Up/Down walk the history
    (shared with the console's history file), Tab completes, Escape goes back to the code."""

    BINDINGS = [
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("escape", "leave", "Back to code", show=False),
    ]

    class Run(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Complete(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def __init__(
        self, history: list[str], *, suggester: Suggester | None = None, id: str | None = None
    ) -> None:
        super().__init__(
            placeholder="(bpfdbg) command - Tab completes, Up/Down history, Esc back",
            id=id,
            select_on_focus=False,  # text put in from a key or the palette is kept, not selected
        )
        self.suggester = suggester
        self.history = history
        self._index = len(history)

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        self._index = max(0, min(len(self.history), self._index + delta))
        self.value = self.history[self._index] if self._index < len(self.history) else ""
        self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        self.post_message(self.Complete(self.value))

    def action_leave(self) -> None:
        self.value = ""
        self.app.action_focus_code()  # type: ignore[attr-defined]

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            line = self.value
            if line.strip() and (not self.history or self.history[-1] != line):
                self.history.append(line)
            self._index = len(self.history)
            self.value = ""
            self.post_message(self.Run(line))
            return
        await super()._on_key(event)


class BackendsPane(Vertical):
    """One execution pane per backend of the session: tabs switch between them, ``x``
    puts two side by side; after a divergence both highlight what differs."""

    DEFAULT_CSS = """
    BackendsPane { height: 1fr; }
    BackendsPane #backend-panes { height: 1fr; }
    BackendsPane LinesView { width: 1fr; }
    BackendsPane Tabs { height: 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.backends: tuple[BackendView, ...] = ()
        self.split = False
        self.selected = 0
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Tabs(id="backend-tabs")
        with Horizontal(id="backend-panes"):
            yield LinesView(id="backend-a", follow=False)
            yield LinesView(id="backend-b", follow=False)

    def on_mount(self) -> None:
        self.query_one("#backend-b").display = False

    def show_backends(self, backends: tuple[BackendView, ...]) -> None:
        names = [b.name for b in backends]
        if names != [b.name for b in self.backends]:
            # a new set of tabs gets new ids: the old tabs leave the DOM only after this
            # message, and Textual refuses two widgets with one id
            self._generation += 1
            tabs = self.query_one(Tabs)
            tabs.clear()
            for i, name in enumerate(names):
                tabs.add_tab(Tab(name, id=f"backend-{self._generation}-{i}"))
            self.selected = 0
        self.backends = backends
        self._draw()

    def toggle_split(self) -> bool:
        """Side by side (the selected backend and the next one); False with one backend."""
        if len(self.backends) < 2:
            return False
        self.split = not self.split
        self._draw()
        return True

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        tab_id = event.tab.id if event.tab is not None else None
        prefix = f"backend-{self._generation}-"
        if tab_id is not None and tab_id.startswith(prefix):
            self.selected = int(tab_id[len(prefix) :])
        self._draw()

    def _draw(self) -> None:
        a = self.query_one("#backend-a", LinesView)
        b = self.query_one("#backend-b", LinesView)
        if not self.backends:
            a.show(Lines((Text("no backend"),)))
            b.display = False
            return
        first = self.backends[self.selected % len(self.backends)]
        a.show(backend_lines(first))
        set_title(a, first.name)
        b.display = self.split and len(self.backends) > 1
        if b.display:
            second = self.backends[(self.selected + 1) % len(self.backends)]
            b.show(backend_lines(second))
            set_title(b, second.name)

    def texts(self) -> list[str]:
        views = [self.query_one("#backend-a", LinesView)]
        if self.query_one("#backend-b").display:
            views.append(self.query_one("#backend-b", LinesView))
        return [v.text() for v in views]
