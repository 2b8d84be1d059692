"""The help screen (``?``/F1): every key from tui.bindings and every command with its
one-line summary, from the command registry (the same text ``help`` prints)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from bpfdbg.commands.registry import all_commands
from tui.bindings import GROUPS, KEYS, key_display


def keys_table() -> Table:
    table = Table(title="Keys", expand=True, show_edge=False, pad_edge=False)
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("does")
    table.add_column("as a command", style="dim")
    for group, title in GROUPS.items():
        table.add_row(Text(title, style="underline"), "", "")
        for k in KEYS:
            if k.group == group:
                where = " (code pane)" if k.code else ""
                table.add_row(key_display(k.keys), k.description + where, k.as_command)
    table.add_row(Text("Mouse", style="underline"), "", "")
    table.add_row("click an instruction", "toggle its breakpoint", "break *N / delete N")
    table.add_row("click a packet", "select it and start on it", "packet N; start")
    table.add_row("click a map entry", "look it up (Enter edits it)", "map lookup / map update")
    table.add_row("click a breakpoint", "enable or disable it", "enable N / disable N")
    table.add_row("click a frame", "select it", "frame N")
    return table


def commands_table() -> Table:
    table = Table(title="Commands (type them after :)", expand=True, show_edge=False, pad_edge=False)
    table.add_column("command", style="bold", no_wrap=True)
    table.add_column("summary")
    for cmd in all_commands():
        aliases = f" ({', '.join(cmd.aliases)})" if cmd.aliases else ""
        table.add_row(cmd.name + aliases, cmd.summary)
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; background: $surface; }
    """
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(keys_table(), id="help-keys")
            yield Static(commands_table(), id="help-commands")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
