"""Editing one map entry from the Maps pane: the value in hex, prefilled. Saving runs
``map update name MAP key hex KEY value hex VALUE``, so the edit goes through the same
checks as a typed update (sizes, flags) and is recorded for reverse execution."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class EditEntryScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    EditEntryScreen { align: center middle; }
    EditEntryScreen > Vertical {
        width: 80%; height: auto; border: round $accent; background: $surface; padding: 1 2;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, map_name: str, key: str, value: str) -> None:
        super().__init__()
        self.map_name, self.key, self.value = map_name, key, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"map {self.map_name}, key {self.key}: new value in hex (Enter saves, Esc cancels)")
            yield Input(self.value, id="entry-value")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
