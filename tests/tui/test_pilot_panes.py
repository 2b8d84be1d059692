"""Every pane of the TUI under a Pilot, the mouse on the panes that take clicks, the narrow
layout and NO_COLOR. Assertions read app state and the panes' text, never the clock."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent

from bpfdbg.mapstate import map_entries
from tests.tui.helpers import driving, output, pane_text, press_and_run, run_typed, status
from tests.tui.sessions import NARROW, WIDE, sample
from tests.tui.waiting import ran, settle, wait_for
from tui.app import BpfdbgApp
from tui.screens.edit_entry import EditEntryScreen
from tui.widgets.lines import LinesView
from tui.widgets.panes import BackendsPane, CodePane, CommandBar, OutputLog


def line_of(app: BpfdbgApp, pane: str, target: object) -> int:
    """The row inside ``pane``'s content area that shows ``target`` (scroll accounted)."""
    view = app.query_one(pane, LinesView)
    return view.content.cursor_of[target] - view.scroll_offset.y


async def click_line(app: BpfdbgApp, pilot: object, pane: str, target: object) -> None:
    """Click the line of ``target`` (scrolled into view first), inside the pane's border if it
    has one."""
    view = app.query_one(pane, LinesView)
    line = view.content.cursor_of[target]
    if not view.scroll_offset.y <= line < view.scroll_offset.y + view.scrollable_content_region.height:
        assert view.move_to_target(target)  # scrolls it into view
        await wait_for(pilot, lambda: view.scroll_offset.y <= line, f"{target} scrolled into view")  # type: ignore[arg-type]
    left, top = view.gutter.top_left
    await pilot.click(pane, offset=(left + 12, top + line_of(app, pane, target)))  # type: ignore[attr-defined]


async def show_tab(app: BpfdbgApp, pilot: object, tab: str) -> None:
    """Click the tab's label and wait until its pane is shown."""
    await pilot.click(f"#--content-tab-{tab}")  # type: ignore[attr-defined]
    tabs = app.query_one("#tabs", TabbedContent)
    await wait_for(pilot, lambda: tabs.active == tab and tabs.get_pane(tab).region.height > 0, f"tab {tab}")  # type: ignore[arg-type]


# -- every pane ---------------------------------------------------------------------------------
async def test_every_pane_shows_the_stopped_program() -> None:
    async with driving(sample("xdp_lb", 0), startup=["start", "stepi 4"]) as (app, pilot):
        assert status(app).startswith(" xdp_lb.o:xdp_lb (xdp)  packet 1/20  stopped: stepped, insn 4")
        code = pane_text(app, "#code")
        assert "  =>    4: r8 = r2" in code and "    ; xdp_lb.c:185 __u64 bytes = data_end - data;" in code
        assert app.query_one("#code").border_title == "Code xdp_lb"
        regs = pane_text(app, "#regs").splitlines()
        assert len(regs) == 12 and regs[-1] == "pc   4"
        assert regs[6].startswith("r6  0x0000000200000100") and regs[6].rstrip().endswith("pkt")
        stack = pane_text(app, "#stack")
        assert "fp-16  *00 00 00 00 00 00 00 00" in stack and "> #0 xdp_lb insn 4 (xdp_lb.c:185)" in stack
        assert pane_text(app, "#stack-tab") == stack
        assert pane_text(app, "#packet").startswith("Packet 1 (74 B): eth/ipv4/tcp 192.168.1.10:40000")
        maps = pane_text(app, "#maps")
        assert "vips  hash 8->8  3/64" in maps and "{vip_id=1, slot=0} -> {addr=184549642, id=11}" in maps
        packets = pane_text(app, "#packets").splitlines()
        assert len(packets) == 20 and packets[0].startswith(">    1     74 B")
        assert pane_text(app, "#breakpoints").startswith("no breakpoints")
        backend = app.query_one("#backends", BackendsPane).texts()
        assert len(backend) == 1
        assert backend[0].splitlines()[:2] == ["interp  in xdp_lb", "=> 4: r8 = r2"]
        assert "(executes eBPF directly: no native code)" in backend[0]
        for log in ("#output", "#output-tab"):
            lines = output(app, log)
            assert lines[0].startswith("bpfdbg: xdp_lb.o: 1 program(s) (xdp_lb: xdp, 387 insns)")
            assert "(bpfdbg) start" in lines and "(bpfdbg) stepi 4" in lines
        assert app.query_one("#command", CommandBar).value == ""
        assert isinstance(app.focused, CodePane)


async def test_tabs_switch_the_bottom_pane() -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.active == "tab-packet"
        for tab in ("tab-maps", "tab-packets", "tab-breakpoints", "tab-backends", "tab-packet"):
            await show_tab(app, pilot, tab)


# -- layout --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "narrow"), [(WIDE, False), (NARROW, True)])
async def test_narrow_terminals_fold_stack_and_output_into_tabs(size: tuple[int, int], narrow: bool) -> None:
    async with driving(sample("xdp_lb", 0), size=size, startup=["start"]) as (app, pilot):
        tabs = app.query_one("#tabs", TabbedContent)
        for tab in ("tab-stack", "tab-output"):
            label = tabs.get_tab(tab)
            assert label.has_class("-hidden") is not narrow
            assert (label.region.width > 0) is narrow
        for side in ("#stack", "#output"):
            assert (app.query_one(side).region.width > 0) is not narrow
        assert app.screen.has_class("-narrow") is narrow
        regs = pane_text(app, "#regs").splitlines()
        assert (len(regs[1].split()) == 3) is narrow, "the compact registers drop the decimal column"
        if narrow:
            await show_tab(app, pilot, "tab-stack")
            assert "> #0 xdp_lb insn 0" in pane_text(app, "#stack-tab")
            await show_tab(app, pilot, "tab-output")
            assert "(bpfdbg) start" in output(app, "#output-tab")


async def test_resizing_switches_the_layout() -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.get_tab("tab-stack").has_class("-hidden")
        await pilot.resize_terminal(*NARROW)
        await wait_for(pilot, lambda: not tabs.get_tab("tab-stack").has_class("-hidden"), "the narrow layout")
        await pilot.resize_terminal(*WIDE)
        await wait_for(pilot, lambda: tabs.get_tab("tab-stack").has_class("-hidden"), "the wide layout")


async def test_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        assert app.no_color
        await press_and_run(pilot, app, "i")
        assert "  =>    1: r2 = *(u32 *)(r1 + 4)" in pane_text(app, "#code")
        assert "stopped: stepped, insn 1" in status(app)
        svg = app.export_screenshot()
        assert "stopped:&#160;stepped" in svg or "stopped: stepped" in svg


# -- the mouse -----------------------------------------------------------------------------------
def bp_pcs(app: BpfdbgApp) -> list[int]:
    return sorted(site.pc for bp in app.session.stops.breakpoints() for site in bp.sites)


async def test_clicking_an_instruction_toggles_its_breakpoint() -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        await click_line(app, pilot, "#code", 2)
        await ran(pilot, app, 1)
        assert bp_pcs(app) == [2] and "(bpfdbg) break *2" in output(app)
        assert (
            pane_text(app, "#code").splitlines()[app.query_one("#code", LinesView).content.cursor_of[2]][0]
            == "●"
        )
        before = app.commands_run
        await click_line(app, pilot, "#code", 2)
        await ran(pilot, app, before)
        assert bp_pcs(app) == [] and "(bpfdbg) delete 1" in output(app)
        # a source line is no instruction: a click there runs nothing
        code = app.query_one("#code", CodePane)
        comment = next(i for i, t in enumerate(code.content.targets) if t is None)
        await pilot.click("#code", offset=(12, 1 + comment - code.scroll_offset.y))
        await wait_for(pilot, lambda: code.cursor == comment, "the cursor on the clicked line")
        await settle(pilot, app)
        assert app.commands_run == before + 1 and bp_pcs(app) == []


async def test_clicking_a_packet_selects_it_and_starts() -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await show_tab(app, pilot, "tab-packets")
        before = app.commands_run
        await click_line(app, pilot, "#packets", 3)
        await ran(pilot, app, before)
        assert app.session.packet_index == 2 and app.session.status == "stopped"
        assert "(bpfdbg) packet 3" in output(app) and "(bpfdbg) start" in output(app)
        assert "packet 3/20  stopped: started, insn 0" in status(app)
        rows = pane_text(app, "#packets").splitlines()
        assert rows[2].startswith(">    3") and rows[0].startswith("     1")
        assert pane_text(app, "#packet").startswith("Packet 3 (74 B): eth/ipv4/tcp 192.168.1.11:40001")


async def test_clicking_a_map_entry_looks_it_up() -> None:
    key = "0a 64 00 01 00 50 06 00"
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await show_tab(app, pilot, "tab-maps")
        before = app.commands_run
        await click_line(app, pilot, "#maps", ("vips", key))
        await ran(pilot, app, before)
        assert f"(bpfdbg) map lookup name vips key hex {key}" in output(app)
        echo = output(app).index(f"(bpfdbg) map lookup name vips key hex {key}")
        assert any(
            "n_backends" in line or "01 00 00 00 03 00 00 00" in line for line in output(app)[echo + 1 :]
        )
        before = app.commands_run
        await click_line(app, pilot, "#maps", ("vips", None))  # the map's header shows it all
        await ran(pilot, app, before)
        assert "(bpfdbg) map show name vips" in output(app)


async def test_enter_on_a_map_entry_edits_it_with_map_update() -> None:
    key = "0a 64 00 02 01 bb 06 00"
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await show_tab(app, pilot, "tab-maps")
        maps = app.query_one("#maps", LinesView)
        maps.focus()
        assert maps.move_to_target(("vips", key))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EditEntryScreen), "the entry editor")
        from textual.widgets import Input

        field = app.screen.query_one("#entry-value", Input)
        assert field.value == "03 00 00 00 00 00 00 00"
        field.value = "03 00 00 00 02 00 00 00"
        before = app.commands_run
        await pilot.press("enter")
        await ran(pilot, app, before)
        assert not isinstance(app.screen, EditEntryScreen)
        assert f"(bpfdbg) map update name vips key hex {key} value hex 03 00 00 00 02 00 00 00" in output(app)
        vips = next(m for m in app.session.maps if m.name == "vips")
        assert dict(map_entries(vips))[bytes.fromhex(key)] == bytes.fromhex("0300000002000000")
        assert "{id=3, n_backends=2}" in pane_text(app, "#maps")
        assert "[changed]" in pane_text(app, "#maps")
        # Escape cancels: nothing runs
        maps.focus()
        assert maps.move_to_target(("vips", key))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EditEntryScreen), "the entry editor again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditEntryScreen), "the editor closed")
        await settle(pilot, app)
        assert app.commands_run == before + 1


async def test_clicking_a_breakpoint_row_toggles_enable() -> None:
    async with driving(sample("xdp_lb", 0), startup=["break *18"]) as (app, pilot):
        await show_tab(app, pilot, "tab-breakpoints")
        assert pane_text(app, "#breakpoints").startswith("  1 y breakpoint      insn 18")
        before = app.commands_run
        await click_line(app, pilot, "#breakpoints", 1)
        await ran(pilot, app, before)
        assert "(bpfdbg) disable 1" in output(app)
        assert not app.session.stops.breakpoints()[0].enabled
        assert pane_text(app, "#breakpoints").startswith("  1 n breakpoint")
        assert (
            pane_text(app, "#code").splitlines()[app.query_one("#code", LinesView).content.cursor_of[18]][0]
            == "○"
        )
        before = app.commands_run
        await click_line(app, pilot, "#breakpoints", 1)
        await ran(pilot, app, before)
        assert "(bpfdbg) enable 1" in output(app) and app.session.stops.breakpoints()[0].enabled


@pytest.mark.parametrize(("size", "pane"), [(WIDE, "#stack"), (NARROW, "#stack-tab")])
async def test_clicking_a_frame_selects_it(size: tuple[int, int], pane: str) -> None:
    startup = ["break parse_ipv4", "run"]
    async with driving(sample("xdp_subprog_globals", 0), size=size, startup=startup) as (app, pilot):
        if pane == "#stack-tab":
            await show_tab(app, pilot, "tab-stack")
        before = app.commands_run
        await click_line(app, pilot, pane, ("frame", 1))
        await ran(pilot, app, before)
        assert "(bpfdbg) frame 1" in output(app) and app.session.selected_frame == 1
        assert "> #1 xdp_port_blocker insn 10" in pane_text(app, pane)
        before = app.commands_run
        await click_line(app, pilot, pane, ("frame", 0))
        await ran(pilot, app, before)
        assert "(bpfdbg) frame 0" in output(app) and app.session.selected_frame == 0


# -- the command bar -----------------------------------------------------------------------------
async def test_typed_commands_run_and_show_in_the_output_pane() -> None:
    async with driving(sample("xdp_lb", 0)) as (app, pilot):
        await run_typed(pilot, app, "break *18")
        assert "(bpfdbg) break *18" in output(app)
        assert any(line.startswith("Breakpoint 1 at insn 18") for line in output(app))
        assert bp_pcs(app) == [18]
        await run_typed(pilot, app, "run")
        assert app.session.pc == 18 and "stopped: breakpoint 1, insn 18" in status(app)
        assert isinstance(app.focused, CommandBar), "the bar keeps the focus for the next command"
        bar = app.query_one("#command", CommandBar)
        assert bar.value == ""
        # Up recalls the history, newest first; Down walks back to an empty line
        await pilot.press("up")
        assert bar.value == "run"
        await pilot.press("up")
        assert bar.value == "break *18"
        await pilot.press("up")
        assert bar.value == "break *18"
        await pilot.press("down", "down")
        assert bar.value == ""
        # Escape goes back to the code pane, where letters are keys again
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.focused, CodePane), "the code pane focused")
        await press_and_run(pilot, app, "i")
        assert app.session.pc == 19


async def test_tab_completes_in_the_command_bar() -> None:
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        bar = app.query_one("#command", CommandBar)
        await pilot.press("colon", *"info reg")
        await wait_for(pilot, lambda: bar.value == "info reg", "typed")
        await pilot.press("tab")
        await wait_for(pilot, lambda: bar.value == "info registers", "info registers completed")
        assert bar.cursor_position == len("info registers")
        await press_and_run(pilot, app, "enter")
        assert "(bpfdbg) info registers" in output(app)
        assert any(line.startswith("r10") for line in output(app))


async def test_history_is_shared_through_the_history_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    from bpfdbg.cmdhistory import append_history, load_history
    from tui.app import make_app

    path = Path(str(tmp_path)) / "history"
    append_history(path, "info maps")
    monkeypatch.setenv("BPFDBG_HISTORY", str(path))
    app = make_app(sample("xdp_lb", 0))
    async with app.run_test(size=WIDE) as pilot:
        await ran(pilot, app, 0)
        await pilot.press("colon", "up")
        assert app.query_one("#command", CommandBar).value == "info maps"
        await pilot.press("escape")
        await press_and_run(pilot, app, "i")
    assert load_history(path) == ["info maps", "start"]


# -- errors ------------------------------------------------------------------------------------------
async def test_a_mistyped_command_shows_an_error_and_leaves_the_session_alone() -> None:
    async with driving(sample("xdp_lb", 0), startup=["start", "stepi 3"]) as (app, pilot):
        before = (app.session.pc, app.session.insns, app.rendered.view.status)
        await run_typed(pilot, app, "stpei")
        lines = output(app)
        echo = lines.index("(bpfdbg) stpei")
        error = lines[echo + 1]
        assert "stpei" in error
        log = app.query_one("#output", OutputLog)
        shown = [text for text in log.lines if text.plain == error]
        assert shown and all("red" in str(text.style) for text in shown)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "stpei" in errors[-1].message
        assert (app.session.pc, app.session.insns, app.rendered.view.status) == before
        await pilot.press("escape")
        await press_and_run(pilot, app, "i")
        assert app.session.pc == 4


async def test_the_output_pane_follows_its_end_until_the_user_scrolls_up() -> None:
    """Long output keeps the newest line in view (the output pane grows past its height);
    scrolling up to read stops the following, scrolling back down resumes it."""
    async with driving(sample("xdp_lb", 0), startup=["start"]) as (app, pilot):
        log = app.query_one("#output", OutputLog)
        for _ in range(4):
            await run_typed(pilot, app, "info registers")
        await wait_for(
            pilot,
            lambda: log.max_scroll_y > 0 and log.scroll_offset.y == log.max_scroll_y,
            f"the end of {len(log.lines)} lines",
        )
        assert len(log.lines) > log.scrollable_content_region.height
        await pilot.pause()
        log.scroll_to(y=0, animate=False, immediate=True)
        log.on_mouse_scroll_up(None)  # type: ignore[arg-type]  # what a wheel turn upwards does
        await run_typed(pilot, app, "info registers")
        await pilot.pause()
        assert log.scroll_offset.y == 0, "a user reading back is left where they are"
        log.scroll_end(animate=False, immediate=True)
        log._at_end()
        await run_typed(pilot, app, "info registers")
        await wait_for(pilot, lambda: log.scroll_offset.y == log.max_scroll_y, "following again")
