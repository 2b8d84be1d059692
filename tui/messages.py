"""The app's own messages: intents that panes post upwards, and what the command worker
hands back to the UI thread. Dataclasses in one module, as toolong keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class Intent(Message):
    """A pane asks for a command line to be run (the screen decides, panes never act)."""

    command: str
    then: tuple[str, ...] = ()  # further command lines, run in the same worker afterwards


@dataclass
class EditEntry(Message):
    """Open the editor for one map entry."""

    map_name: str
    key: str
    value: str
