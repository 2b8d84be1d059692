"""Driving the app under a Pilot: the app over a session, keys that run commands, what the
panes show."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from rich.console import Console
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from bpfdbg.session import Session
from tests.tui.sessions import WIDE
from tests.tui.waiting import ran, wait_for
from tui.app import BpfdbgApp, make_app
from tui.widgets.lines import LinesView
from tui.widgets.panes import CommandBar, OutputLog


# -- driving the app --------------------------------------------------------------------------------
@asynccontextmanager
async def driving(
    session: Session, size: tuple[int, int] = WIDE, startup: Sequence[str] = ()
) -> AsyncIterator[tuple[BpfdbgApp, Pilot[None]]]:
    """The app over ``session`` under a Pilot, once its startup commands have run."""
    app = make_app(session, startup=startup, persist_history=False)
    app.animation_level = "none"  # the tab underline's slide would cost every tab switch 0.4 s
    async with app.run_test(size=size) as pilot:
        await ran(pilot, app, 0, timeout=20)
        yield app, pilot


async def press_and_run(pilot: Pilot[None], app: BpfdbgApp, *keys: str, timeout: float = 10.0) -> None:
    """Press ``keys`` and wait until the command they start has run."""
    before = app.commands_run
    await pilot.press(*keys)
    await ran(pilot, app, before, timeout)


async def run_typed(pilot: Pilot[None], app: BpfdbgApp, line: str) -> None:
    """Type ``line`` in the command bar (``:`` focuses it unless it has the focus), Enter, and
    wait until it ran."""
    if not isinstance(app.focused, CommandBar):
        await pilot.press("colon")
        await wait_for(
            pilot, lambda: isinstance(app.focused, CommandBar), "the command bar to take the focus"
        )
    await pilot.press(*line)
    await wait_for(pilot, lambda: app.query_one("#command", CommandBar).value == line, f"{line!r} typed")
    await press_and_run(pilot, app, "enter")


def output(app: BpfdbgApp, pane: str = "#output") -> list[str]:
    return app.query_one(pane, OutputLog).plain_lines


def pane_text(app: BpfdbgApp, pane: str) -> str:
    return app.query_one(pane, LinesView).text()


def status(app: BpfdbgApp) -> str:
    """The status line as drawn (its widget's text)."""
    widget = app.query_one("#status")
    text = getattr(widget, "text", None)
    if isinstance(text, Text):
        return text.plain
    content = widget.render()
    return content.plain if isinstance(content, Text) else str(content)


def notices(app: BpfdbgApp) -> list[str]:
    """The messages of the notifications shown (or still queued)."""
    return [n.message for n in app._notifications]


def static_text(app: BpfdbgApp, selector: str, width: int = 160) -> str:
    """What a Static on the active screen shows, as plain text."""
    content = app.screen.query_one(selector, Static).content
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


def press_while_busy(app: BpfdbgApp, key: str, character: str | None = None) -> None:
    """Send one key as the terminal driver would, without ``pilot.press``'s wait for the
    process to go idle: while a command keeps a worker busy, that wait lasts its full second
    for every key. The caller waits for what the key should do."""
    if character is None and len(key) == 1:
        character = key
    app.post_message(events.Key(key, character))
