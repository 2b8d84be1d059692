"""Long and failing runs under a Pilot: a fault shows in the status line, an endless loop
shows its progress while the screen keeps answering keys, Ctrl+C stops it, and a debugger
bug is reported without losing the session."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.tui.helpers import driving, notices, output, pane_text, press_and_run, press_while_busy, status
from tests.tui.sessions import ENDLESS, NULL_READ, raw, sample
from tests.tui.waiting import settle, wait_for
from tui.app import BpfdbgApp
from tui.screens.help import HelpScreen
from tui.widgets.panes import CodePane


def progress_count(app: BpfdbgApp) -> int:
    """The instruction count of the progress shown in the status line (0 when none)."""
    found = re.search(r"running 'continue': ([\d,]+) ", status(app))
    return int(found.group(1).replace(",", "")) if found else 0


async def test_a_fault_shows_in_the_status_line_and_the_code_pane() -> None:
    async with driving(raw(NULL_READ, "nullread")) as (app, pilot):
        await press_and_run(pilot, app, "c")  # not running: continue runs the program
        assert app.session.status == "faulted"
        assert "faulted at insn 1: read of 4 bytes at 0x0: NULL pointer dereference" in status(app)
        assert "  =>    1: r2 = *(u32 *)(r1 + 0)" in pane_text(app, "#code")
        assert any(line.startswith("[nullread] fault at insn 1") for line in output(app))
        assert pane_text(app, "#packet").startswith("a raw program has no packet")
        await press_and_run(pilot, app, "I")  # back before the fault
        assert app.session.status == "stopped" and app.session.pc == 1
        assert "stopped: stepped back, insn 1" in status(app)
        await press_and_run(pilot, app, "r")  # and the whole run again
        assert app.session.status == "faulted"


async def test_an_endless_loop_shows_progress_stays_responsive_and_ctrl_c_stops_it() -> None:
    async with driving(raw(ENDLESS, "endless", budget=10**12), startup=["start"]) as (app, pilot):
        done = app.commands_run
        press_while_busy(app, "c")
        await wait_for(pilot, lambda: progress_count(app) > 0, "progress in the status line")
        assert app.busy == "continue" and "(Ctrl+C interrupts)" in status(app)
        first = progress_count(app)
        await wait_for(pilot, lambda: progress_count(app) > first, "the progress to advance")
        # the screen answers keys meanwhile: the cursor moves, help opens and closes
        code = app.query_one("#code", CodePane)
        line = code.cursor
        press_while_busy(app, "down")
        await wait_for(pilot, lambda: code.cursor == line + 1, "the cursor to move")
        press_while_busy(app, "question_mark", "?")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        press_while_busy(app, "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help screen closed")
        # another command waits its turn; Ctrl+C interrupts the run and drops what waits
        press_while_busy(app, "i")
        await wait_for(pilot, lambda: len(app.pending) == 1, "the key's command to wait")
        assert app.busy == "continue" and app.commands_run == done
        assert progress_count(app) > first
        press_while_busy(app, "ctrl+c")
        await settle(pilot, app, timeout=15)
        assert app.commands_run == done + 1
        assert app.session.status == "stopped" and app.session.live
        assert "stopped: interrupted, insn 1" in status(app)
        assert "running" not in status(app)
        assert any(line.startswith("Program interrupted") for line in output(app))
        insns = app.session.insns
        assert insns >= first
        await press_and_run(pilot, app, "i")  # the run goes on from where it stopped
        assert app.session.insns == insns + 1 and app.session.pc == 1


async def test_a_budget_spent_shows_in_the_status_line() -> None:
    async with driving(raw(ENDLESS, "endless", budget=5000)) as (app, pilot):
        await press_and_run(pilot, app, "c")
        assert app.session.status == "budget"
        assert "budget spent at insn 1 after 5000 insns" in status(app)
        assert pane_text(app, "#code").splitlines()[1].rstrip().endswith("x5000")


async def test_a_debugger_bug_is_reported_and_the_session_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        execute = app.session.execute

        def broken(line: str):  # type: ignore[no-untyped-def]
            if line == "stepi":
                raise RuntimeError("boom")
            return execute(line)

        monkeypatch.setattr(app.session, "execute", broken)
        await press_and_run(pilot, app, "i")
        assert "internal error: RuntimeError: boom (the session is intact)" in output(app)
        assert any("boom" in n for n in notices(app))
        monkeypatch.setattr(app.session, "execute", execute)
        await press_and_run(pilot, app, "i")
        assert app.session.pc == 1 and "stopped: stepped, insn 1" in status(app)


async def test_quitting_during_an_endless_loop_stops_it() -> None:
    """q while a command runs: the app exits and the command is interrupted, so the
    process does not wait forever at exit for the worker thread."""
    async with driving(raw(ENDLESS, "endless", budget=10**12)) as (app, pilot):
        press_while_busy(app, "c")
        await wait_for(pilot, lambda: "(Ctrl+C interrupts)" in status(app), "progress in the status line")
        workers = [w for w in app.workers if w.group == "session" and not w.is_finished]
        assert workers
        press_while_busy(app, "q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    deadline = time.monotonic() + 10
    while not all(w.is_finished for w in workers):
        assert time.monotonic() < deadline, "the command still runs after the app quit"
        await asyncio.sleep(0.05)
    assert app.session.status == "stopped"


async def test_keys_pressed_while_a_command_runs_wait_their_turn() -> None:
    """A held step key: every press steps once, in order, none is lost."""
    async with driving(raw(ENDLESS, "endless", budget=10**12), startup=["start"]) as (app, pilot):
        start = app.session.insns
        for _ in range(5):
            press_while_busy(app, "i")
        await wait_for(pilot, lambda: app.busy is None and not app.pending and app.session.insns == start + 5,
                       "five steps")  # fmt: skip
        assert app.session.insns == start + 5


async def test_a_command_that_ends_under_the_help_screen_still_updates_the_panes() -> None:
    """App queries look at the active screen; the panes live on the main one. A run that
    ends while help is open must land there, not crash the app."""
    async with driving(raw(ENDLESS, "endless", budget=10**12), startup=["start"]) as (app, pilot):
        press_while_busy(app, "c")
        await wait_for(pilot, lambda: app.busy == "continue", "the run to start")
        press_while_busy(app, "question_mark", "?")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        press_while_busy(app, "ctrl+c")
        await settle(pilot, app, timeout=15)
        assert isinstance(app.screen, HelpScreen)
        assert "stopped: interrupted" in status(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help screen closed")
        await press_and_run(pilot, app, "i")
        assert app.session.live


async def test_a_bug_while_drawing_is_reported_and_the_app_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception while the panes take a new view is a bug: it is said in the output and
    a notification, the command counts as done, and the next key works."""
    from tui.widgets.panes import BackendsPane

    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):

        def broken(self: BackendsPane, backends: object) -> None:
            raise RuntimeError("drawing went wrong")

        monkeypatch.setattr(BackendsPane, "show_backends", broken)
        await press_and_run(pilot, app, "i")
        assert any(
            "internal error in the TUI: RuntimeError: drawing went wrong" in line for line in output(app)
        )
        assert any("drawing went wrong" in n for n in notices(app))
        monkeypatch.undo()
        await press_and_run(pilot, app, "i")
        assert app.session.insns == 2 and app.busy is None
