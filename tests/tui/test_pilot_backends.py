"""The backends panes with host-jit in lockstep: tabs, side by side, native code and
registers, and a divergence brought up with the differing register marked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import TabbedContent

from emulator.backends.base import _REGISTRY, register
from emulator.backends.interp.backend import InterpBackend
from emulator.state import StepEvent
from tests.tui.helpers import driving, press_and_run, status
from tests.tui.sessions import sample
from tui.widgets.panes import BackendsPane


class OffByOne(InterpBackend):
    """The interpreter with r2 off by one after its 12th instruction (test-only)."""

    name = "off-by-one"

    def step(self) -> StepEvent:
        ev = super().step()
        if ev.insns == 12:
            self.set_register(2, self.registers()[2] + 1)
        return ev


@pytest.fixture
def off_by_one() -> Iterator[str]:
    register("off-by-one", OffByOne)
    yield "off-by-one"
    _REGISTRY.pop("off-by-one", None)


async def test_host_jit_beside_interp_with_native_code_and_registers() -> None:
    async with driving(sample("xdp_lb", 0), startup=["lockstep on host-jit", "start"]) as (app, pilot):
        pane = app.main.query_one("#backends", BackendsPane)
        assert [b.name for b in pane.backends] == ["interp", "host-jit"]
        await press_and_run(pilot, app, "i")
        await pilot.press("x")  # side by side
        await pilot.pause()
        assert app.main.query_one("#tabs", TabbedContent).active == "tab-backends"
        left, right = pane.texts()
        assert left.startswith("interp") and "(executes eBPF directly: no native code)" in left
        assert (
            right.startswith("host-jit") and "mov esi, dword ptr [rdi + 4]" in right
        )  # r2 = *(u32 *)(r1 + 4)
        assert "rdi (r1)" in right and "native registers" in right
        assert "!" not in "".join(line[:1] for line in right.splitlines())  # they agree


async def test_a_divergence_puts_the_backends_side_by_side_and_marks_what_differs(off_by_one: str) -> None:
    async with driving(sample("xdp_lb", 0), startup=[f"lockstep on {off_by_one}"]) as (app, pilot):
        await press_and_run(pilot, app, "c")  # continue on a program not running: run
        assert "backends disagree" in status(app)
        pane = app.main.query_one("#backends", BackendsPane)
        assert app.main.query_one("#tabs", TabbedContent).active == "tab-backends" and pane.split
        left, right = pane.texts()
        for text in (left, right):
            marked = [line for line in text.splitlines() if line.startswith("!")]
            assert [line.split()[0] for line in marked] == ["!r2"]
        ours = next(line for line in left.splitlines() if line.startswith("!r2"))
        theirs = next(line for line in right.splitlines() if line.startswith("!r2"))
        assert int(theirs.split()[1], 16) == int(ours.split()[1], 16) + 1


async def test_the_nic_pane_shows_microcode_and_register_pairs_at_a_divergence() -> None:
    """The offload sample's first packet is a new connection: the program samples it with
    bpf_get_prandom_u32, whose number comes from the microengine on the device (§5.12)."""
    startup = ["divergence packet 1 with nic"]
    async with driving(sample("xdp_lb_offload", 0), startup=startup) as (app, pilot):
        await pilot.pause()
        assert "backends disagree" in status(app)
        pane = app.main.query_one("#backends", BackendsPane)
        assert [b.name for b in pane.backends] == ["interp", "nic"]
        assert app.main.query_one("#tabs", TabbedContent).active == "tab-backends" and pane.split
        left, right = pane.texts()
        # stopped just after the call: the next instruction, w0 &= 7, in microcode
        assert right.startswith("nic") and "diverged at insn 141" in right
        assert "alu[gprA_0, gprA_0, AND, 0x7]" in right
        assert "r0 (gpr0:1)" in right and "B22 plen" in right
        marked = [line for line in right.splitlines() if line.startswith("!")]
        assert marked and all("r0" in line for line in marked)  # only r0 differs
