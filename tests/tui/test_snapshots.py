"""Screenshots of the TUI at fixed sizes on a deterministic state (xdp_lb, packet 1, started
and stepped with the keys), compared with the SVGs in __snapshots__ by pytest-textual-snapshot.

After an intended change of the screen: ``pytest tests/tui/test_snapshots.py --snapshot-update``,
look at the new SVGs, commit them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.helpers import press_and_run
from tests.tui.sessions import NARROW, WIDE, sample
from tests.tui.waiting import ran, wait_for
from tui.app import BpfdbgApp, make_app
from tui.widgets.panes import CodePane

SnapCompare = Callable[..., bool]


def stepped_app() -> BpfdbgApp:
    return make_app(sample("xdp_lb", 0), persist_history=False)


def stepping(app: BpfdbgApp, *extra: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Start with ``i``, three more ``i`` (stepi), then ``extra`` keys, each waited for."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ran(pilot, app, 0, timeout=20)
        for _ in range(4):
            await press_and_run(pilot, app, "i")
        assert app.session.pc == 3
        for key in extra:
            if key == "v":
                await pilot.press(key)
                await wait_for(pilot, lambda: app.query_one("#code", CodePane).source_mode, "the source view")
            else:
                await press_and_run(pilot, app, key)

    return run_before


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["140x45", "80x24"])
def test_stepped(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app = stepped_app()
    assert snap_compare(app, terminal_size=size, run_before=stepping(app))


def test_breakpoint_in_the_source_view(snap_compare: SnapCompare) -> None:
    """``b`` at the current line of the source view, then ``c`` runs to the next stop."""
    app = stepped_app()
    assert snap_compare(app, terminal_size=WIDE, run_before=stepping(app, "v", "b"))


def test_exited_with_the_packet_diff(snap_compare: SnapCompare) -> None:
    """``c`` to the end: XDP_TX, the rewritten packet with its changed bytes, Maps*."""
    app = stepped_app()
    assert snap_compare(app, terminal_size=WIDE, run_before=stepping(app, "c"))
