"""Every binding of tui.bindings.KEYS, pressed under a Pilot, with each of its keys.

A key that runs a command of the shared language is checked against a plain Session that
runs the same command lines: after the key, the app's session must stand where the
reference stands (status, pc, frame), the panes must show it and the output pane must echo
the command. Keys that drive the UI have a case of their own. A binding added to KEYS
without a case here fails ``test_every_binding_has_a_case``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from textual.command import CommandList, CommandPalette

from bpfdbg.session import Session
from bpfdbg.view import status_text
from tests.tui.helpers import (
    driving,
    notices,
    output,
    pane_text,
    press_and_run,
    press_while_busy,
    static_text,
    status,
)
from tests.tui.sessions import ENDLESS, raw, sample
from tests.tui.waiting import settle, wait_for
from tui.app import BpfdbgApp
from tui.bindings import KEYS, Key
from tui.screens.help import HelpScreen
from tui.widgets.panes import CodePane, CommandBar


@dataclass(frozen=True)
class Case:
    """Where a command key is pressed: a sample, packet 1, the command lines run first."""

    sample: str
    before: tuple[str, ...]


# -- command keys: compared with a plain Session ---------------------------------------------------
COMMAND_CASES: dict[str, Case] = {
    "continue": Case("xdp_lb", ("break *18", "start")),
    "next": Case("xdp_lb", ("start", "stepi 4")),
    "step": Case("xdp_lb", ("start", "stepi 4")),
    "stepi": Case("xdp_lb", ("start", "stepi 4")),
    "nexti": Case("xdp_subprog_globals", ("start", "advance *10")),  # a call: nexti steps over it
    "finish": Case("xdp_subprog_globals", ("break parse_ipv4", "run")),
    "run": Case("xdp_lb", ("start", "stepi 5")),
    "reverse-continue": Case("xdp_lb", ("break *18", "start", "stepi 30")),
    "reverse-next": Case("xdp_lb", ("start", "stepi 6")),
    "reverse-step": Case("xdp_lb", ("start", "stepi 6")),
    "reverse-stepi": Case("xdp_lb", ("start", "stepi 6")),
    "reverse-nexti": Case("xdp_subprog_globals", ("start", "advance *10", "nexti")),
    "reverse-finish": Case("xdp_subprog_globals", ("break parse_ipv4", "run", "stepi 3")),
    "up": Case("xdp_subprog_globals", ("break parse_ipv4", "run")),
    "down": Case("xdp_subprog_globals", ("break parse_ipv4", "run", "up")),
}


def where(session: Session) -> tuple[str, int | None, int, int]:
    return (
        status_text(session),
        session.pc if session.started else None,
        session.selected_frame,
        session.insns,
    )


def reference(case: Case, *lines: str) -> Session:
    session = sample(case.sample, 0)
    for line in (*case.before, *lines):
        result = session.execute(line)
        assert result.ok, (line, result.error)
    return session


async def check_command_key(key: Key, press: str) -> None:
    assert key.command is not None
    case = COMMAND_CASES[key.id]
    before = reference(case)
    expected = reference(case, key.command)
    assert where(expected) != where(before), f"the case of {key.id} does not move the session"
    async with driving(sample(case.sample, 0), startup=case.before) as (app, pilot):
        assert where(app.session) == where(before)
        await press_and_run(pilot, app, press)
        assert where(app.session) == where(expected)
        assert f"(bpfdbg) {key.command}" in output(app)
        assert app.rendered.view.status == status_text(expected)
        assert status_text(expected) in status(app)
        if expected.started:
            code = app.query_one("#code", CodePane)
            assert code.code.current == expected.pc
            # the cursor follows the current instruction, or the call of a selected caller frame
            looked_at = (
                expected.frames()[expected.selected_frame][2] if expected.selected_frame else expected.pc
            )
            assert code.target == looked_at, "the cursor follows the current instruction"
            assert pane_text(app, "#regs").splitlines()[-1] == f"pc   {expected.pc}"


# -- the step keys F10/F11: by instruction in the disassembly, by line in the source -----------------
STEP_KEYS = {"next-key": ("nexti", "next"), "step-key": ("stepi", "step")}


async def check_step_key(key: Key, press: str) -> None:
    by_insn, by_line = STEP_KEYS[key.id]
    case = Case("xdp_lb", ("start", "stepi 4"))
    insn, line = reference(case, by_insn), reference(case, by_line)
    assert insn.pc != line.pc, "the case must tell a line step from an instruction step"
    async with driving(sample(case.sample, 0), startup=case.before) as (app, pilot):
        await press_and_run(pilot, app, press)
        assert where(app.session) == where(insn)
        assert f"(bpfdbg) {by_insn}" in output(app)
    async with driving(sample(case.sample, 0), startup=case.before) as (app, pilot):
        await pilot.press("v")
        await wait_for(pilot, lambda: app.query_one("#code", CodePane).source_mode, "the source view")
        await press_and_run(pilot, app, press)
        assert where(app.session) == where(line)
        assert f"(bpfdbg) {by_line}" in output(app)
        assert app.query_one("#code", CodePane).target == ("line", app.rendered.view.source.current)  # type: ignore[union-attr]


# -- keys that drive the UI -----------------------------------------------------------------------
def bp_pcs(app: BpfdbgApp) -> list[int]:
    return sorted(site.pc for bp in app.session.stops.breakpoints() for site in bp.sites)


async def toggle_breakpoint(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        code = app.query_one("#code", CodePane)
        assert code.has_focus
        assert code.move_to_target(18)
        await press_and_run(pilot, app, press)
        assert bp_pcs(app) == [18]
        assert "(bpfdbg) break *18" in output(app)
        assert code.target == 18, "the cursor stays where the breakpoint was set"
        assert pane_text(app, "#code").splitlines()[code.cursor].startswith("●")
        assert "breakpoint" in pane_text(app, "#breakpoints") and "insn 18" in pane_text(app, "#breakpoints")
        await press_and_run(pilot, app, press)  # again: deletes it
        assert bp_pcs(app) == []
        assert "(bpfdbg) delete 1" in output(app)
        assert pane_text(app, "#code").splitlines()[code.cursor].startswith(" ")
        # in the source view, by line; a line without code gets its breakpoint on the next
        # line with code, and the key on the same line takes it away again
        await pilot.press("v")
        await wait_for(pilot, lambda: code.source_mode, "the source view")
        for line, site in ((201, 18), (186, 3)):
            assert code.move_to_target(("line", line))
            await press_and_run(pilot, app, press)
            assert f"(bpfdbg) break xdp_lb.c:{line}" in output(app) and bp_pcs(app) == [site]
            assert code.target == ("line", line)
            marked = app.rendered.view.source.breakpoints  # type: ignore[union-attr]
            assert [ln for ln, _ in marked] == [201 if line == 201 else 188]
            await press_and_run(pilot, app, press)
            assert output(app)[-1].startswith("(bpfdbg) delete ") and bp_pcs(app) == []


async def run_to_cursor(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        code = app.query_one("#code", CodePane)
        assert code.move_to_target(22)
        await press_and_run(pilot, app, press)
        assert app.session.pc == 22 and app.session.status == "stopped"
        assert "(bpfdbg) advance *22" in output(app)
        assert code.target == 22 and bp_pcs(app) == []
        await pilot.press("v")  # in the source view: to the cursor's line
        await wait_for(pilot, lambda: code.source_mode, "the source view")
        assert code.move_to_target(("line", 213))
        await press_and_run(pilot, app, press)
        assert "(bpfdbg) advance xdp_lb.c:213" in output(app)
        assert app.rendered.view.source.current == 213 and code.target == ("line", 213)  # type: ignore[union-attr]


async def cursor_to_pc(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start", "stepi 3"]) as (app, pilot):
        code = app.query_one("#code", CodePane)
        assert code.move_to_target(40)
        await pilot.press(press)
        await wait_for(pilot, lambda: code.target == 3, "the cursor back on pc 3")
        assert app.commands_run == 1, "H runs no command"


async def toggle_source(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start", "stepi 3"]) as (app, pilot):
        code = app.query_one("#code", CodePane)
        await pilot.press(press)
        await wait_for(pilot, lambda: code.source_mode, "the source view")
        text = pane_text(app, "#code")
        assert text.splitlines()[0].endswith("xdp_lb.c")
        assert code.target == ("line", 188)
        assert text.splitlines()[code.cursor].startswith("  =>  188 ")
        assert "Source xdp_lb.c" in str(code.border_title)
        await pilot.press(press)
        await wait_for(pilot, lambda: not code.source_mode, "the disassembly again")
        assert code.target == 3 and "Code xdp_lb" in str(code.border_title)
    async with driving(raw(ENDLESS, "endless")) as (app, pilot):  # no line info: nothing to toggle
        await pilot.press(press)
        await wait_for(pilot, lambda: any("no source" in n for n in notices(app)), "the no-source notice")
        assert not app.query_one("#code", CodePane).source_mode


async def interrupt(key: Key, press: str) -> None:
    async with driving(raw(ENDLESS, "endless", budget=10**12)) as (app, pilot):
        await pilot.press(press)  # nothing runs yet
        await wait_for(pilot, lambda: any("nothing is running" in n for n in notices(app)), "the idle notice")
        press_while_busy(app, "c")
        await wait_for(pilot, lambda: "(Ctrl+C interrupts)" in status(app), "progress in the status line")
        assert app.busy == "run"
        press_while_busy(app, press)
        await settle(pilot, app)
        assert app.session.status == "stopped" and app.session.live
        assert "stopped: interrupted" in status(app)


async def command_bar(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        assert isinstance(app.focused, CodePane)
        await pilot.press(press)
        await wait_for(pilot, lambda: isinstance(app.focused, CommandBar), "the command bar focused")
        assert app.query_one("#command", CommandBar).value == ""
        await pilot.press("i")  # typed, not the stepi key
        assert app.query_one("#command", CommandBar).value == "i"
        assert app.session.status == "idle" and app.commands_run == 1


async def split_backends(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await pilot.press(press)
        await wait_for(
            pilot, lambda: any("only one backend" in n for n in notices(app)), "the one-backend notice"
        )


async def help_screen(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await pilot.press(press)
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        shown = static_text(app, "#help-keys")
        for k in KEYS:
            assert k.description in shown
        assert "Commands" in static_text(app, "#help-commands")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help screen closed")
        assert isinstance(app.focused, CodePane)


async def palette(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        await pilot.press(press)
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
        await pilot.press(*"info reg")
        await wait_for(
            pilot,
            lambda: (
                app.screen.query_one(CommandList).option_count > 0
                and "info registers" in str(app.screen.query_one(CommandList).get_option_at_index(0).prompt)
            ),
            "the palette to offer info registers first",
        )
        await press_and_run(pilot, app, "enter")
        assert not isinstance(app.screen, CommandPalette)
        assert "(bpfdbg) info registers" in output(app)
        assert any(line.startswith("r10") for line in output(app))


async def quit_key(key: Key, press: str) -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await pilot.press(press)
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


UI_CASES: dict[str, Callable[[Key, str], Awaitable[None]]] = {
    "toggle-breakpoint": toggle_breakpoint,
    "run-to-cursor": run_to_cursor,
    "cursor-to-pc": cursor_to_pc,
    "toggle-source": toggle_source,
    "interrupt": interrupt,
    "command-bar": command_bar,
    "split-backends": split_backends,
    "help": help_screen,
    "palette": palette,
    "quit": quit_key,
}


def test_every_binding_has_a_case() -> None:
    ids = [k.id for k in KEYS]
    assert len(ids) == len(set(ids))
    covered = set(COMMAND_CASES) | set(STEP_KEYS) | set(UI_CASES)
    assert set(ids) - covered == set(), "bindings without a Pilot test"
    assert covered - set(ids) == set(), "cases for bindings that are gone"
    assert {k.id for k in KEYS if k.command is not None} == set(COMMAND_CASES)


PRESSES = [pytest.param(k, press, id=f"{k.id}-{press}") for k in KEYS for press in k.keys.split(",")]


@pytest.mark.parametrize(("key", "press"), PRESSES)
async def test_binding(key: Key, press: str) -> None:
    if key.id in COMMAND_CASES:
        await check_command_key(key, press)
    elif key.id in STEP_KEYS:
        await check_step_key(key, press)
    else:
        await UI_CASES[key.id](key, press)


@pytest.mark.parametrize(("press", "command", "state"), [("c", "run", "exited"), ("i", "start", "stopped")])
async def test_a_stepping_key_on_an_idle_program_starts_it(press: str, command: str, state: str) -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        assert app.session.status == "idle"
        await press_and_run(pilot, app, press)
        assert app.session.status == state
        assert f"(bpfdbg) {command}" in output(app)
