"""Reverse execution is exact: going back to any position reproduces the machine there.

A hypothesis state machine drives a session on the sample programs with random forward and
backward moves (instructions, calls, breakpoints, edits), with a tiny checkpoint interval and
memory bound so that replay, thinning and edits are all exercised, and compares the full
machine state (registers, frames, every memory region, every map, the trace output) with
the state first seen at that position.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bpfdbg.session import Session

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
PROGRAMS = [
    "xdp_firewall",
    "xdp_lb",
    "xdp_subprog_globals",
    "xdp_tailcall",
    "xdp_percpu_counter",
    "xdp_printk",
    "xdp_ringbuf",
    "xdp_loop_parser",
    "xdp_map_in_map",
    "tc_classifier",
]


def open_sample(name: str, packet: int = 0, **settings: object) -> Session:
    session = Session.open(
        SAMPLES / f"{name}.o",
        pcap=SAMPLES / "pcaps" / f"{name}.pcap",
        maps=SAMPLES / "initial_maps.json",
        **settings,
    )
    session.select_packet(packet % len(session.packets))
    return session


def snapshot(session: Session) -> tuple[object, ...]:
    """Everything observable about the machine at this position."""
    backend = session.machine()
    state = backend.state()
    regions = {name: (r.base, r.data) for name, r in state.regions.items()}
    return (
        state.pc,
        state.regs,
        state.insns,
        state.frames,
        state.status,
        state.retval,
        state.fault,
        regions,
        json.dumps(state.maps, sort_keys=True, default=str),
        state.program,
        tuple(getattr(backend, "output", ())),
        backend.tail_chain(),
    )


class ReverseMachine(RuleBasedStateMachine):
    @initialize(
        name=st.sampled_from(PROGRAMS), packet=st.integers(0, 30), interval=st.sampled_from([1, 3, 16, 200])
    )
    def open(self, name: str, packet: int, interval: int) -> None:
        self.session = open_sample(name, packet, history_interval=interval, history_limit=64 << 10)
        self.session.start()
        self.seen: dict[tuple[int, str], tuple[object, ...]] = {}
        self.check_here()

    def check_here(self) -> None:
        # a fault does not advance the position, so the end of a faulted run and the live
        # machine before the faulting instruction share a position: tell them apart
        here = (self.session.insns, self.session.status)
        now = snapshot(self.session)
        if here in self.seen:
            assert now == self.seen[here], f"state at position {here} differs from the first visit"
        else:
            self.seen[here] = now

    @precondition(lambda self: self.session.live)
    @rule(n=st.integers(1, 25))
    def stepi(self, n: int) -> None:
        self.session.stepi(n)
        self.check_here()

    @precondition(lambda self: self.session.live)
    @rule(n=st.integers(1, 5))
    def nexti(self, n: int) -> None:
        self.session.nexti(n)
        self.check_here()

    @rule(n=st.integers(1, 30))
    def reverse_stepi(self, n: int) -> None:
        self.session.reverse_stepi(n)
        self.check_here()

    @rule()
    def reverse_nexti(self) -> None:
        self.session.reverse_nexti()
        self.check_here()

    @precondition(lambda self: self.session.live)
    @rule()
    def cont(self) -> None:
        self.session.cont()
        self.check_here()

    @precondition(lambda self: self.session.live)
    @rule(offset=st.integers(1, 60))
    def break_and_continue(self, offset: int) -> None:
        pc = self.session.pc
        nslots = self.session.program_named(self.session.current_program).nslots
        target = (pc + offset) % nslots
        if self.session.program_named(self.session.current_program).insns[target] is None:
            return
        self.session.break_at(f"*{target}")
        self.session.cont()
        self.check_here()

    @rule()
    def reverse_continue(self) -> None:
        self.session.reverse_continue()
        self.check_here()

    @precondition(lambda self: self.session.live and self.session.depth > 0)
    @rule()
    def finish(self) -> None:
        self.session.finish()
        self.check_here()

    @precondition(lambda self: self.session.started and self.session.depth > 0)
    @rule()
    def reverse_finish(self) -> None:
        self.session.reverse_finish()
        self.check_here()

    @precondition(lambda self: self.session.live)
    @rule(reg=st.integers(0, 9), value=st.integers(0, 255))
    def edit_register(self, reg: int, value: int) -> None:
        """An edit changes the future: what was recorded after this point no longer holds."""
        self.session.set_register(reg, value)
        here = self.session.insns
        self.seen = {pos: snap for pos, snap in self.seen.items() if pos[0] < here}
        self.seen[(here, self.session.status)] = snapshot(self.session)

    @invariant()
    def position_is_consistent(self) -> None:
        if self.session.started:
            assert self.session.insns >= 0


# a tenth of the profile's examples (each is up to 25 moves on a whole session)
ReverseMachine.TestCase.settings = settings(
    max_examples=max(settings.default.max_examples // 10, 10), stateful_step_count=25, deadline=None
)
TestReverse = ReverseMachine.TestCase


@pytest.mark.parametrize("name", PROGRAMS)
def test_n_steps_then_n_reverse_steps_restore_the_start(name: str) -> None:
    for packet in range(3):
        session = open_sample(name, packet, history_interval=16)
        session.start()
        first = snapshot(session)
        session.stepi(10_000)  # to the end, or 10,000 instructions in
        n = session.insns
        session.reverse_stepi(n)
        assert session.insns == 0
        assert snapshot(session) == first


def test_reverse_then_forward_replays_identically() -> None:
    session = open_sample("xdp_lb", 1, history_interval=5)
    session.start()
    trail = []
    while session.live:
        trail.append(snapshot(session))
        session.stepi()
    end = snapshot(session)
    session.reverse_stepi(len(trail))
    for i, expected in enumerate(trail):
        assert snapshot(session) == expected, f"position {i}"
        session.stepi()
    assert snapshot(session) == end


def test_history_memory_is_bounded_and_thins() -> None:
    session = open_sample("xdp_loop_parser", 0, history_interval=1, history_limit=200_000)
    session.start()
    session.cont()
    stats = session.history.stats()
    assert stats.bytes <= 200_000 + 20_000
    assert stats.interval > 1  # thinned at least once
    session.reverse_stepi(session.insns)
    assert session.insns == 0


@pytest.mark.parametrize("name", ["xdp_loop_parser", "xdp_subprog_globals", "xdp_tailcall"])
def test_exec_counts_add_up_and_leave_the_machine_untouched(name: str) -> None:
    for packet in range(4):
        session = open_sample(name, packet, history_interval=9)
        session.start()
        session.stepi(37)
        before = snapshot(session)
        counts = session.stepper.exec_counts()
        assert sum(counts.values()) == session.insns
        assert snapshot(session) == before
        if session.live:
            session.cont()
        end = snapshot(session)
        assert sum(session.stepper.exec_counts().values()) == session.insns
        assert snapshot(session) == end
        # the counts are those of the path actually taken: a step-by-step tally agrees
        replay = open_sample(name, packet)
        replay.start()
        tally: dict[tuple[str, int], int] = {}
        while replay.live:
            key = (replay.current_program, replay.pc)
            tally[key] = tally.get(key, 0) + 1
            replay.stepi()
        assert dict(session.stepper.exec_counts()) == tally


def test_exec_counts_after_a_fault_keep_the_fault() -> None:
    from emulator.program import Program

    prog = Program.from_bytes(
        bytes.fromhex("b70100000000000061120000000000009500000000000000"), name="nullread"
    )
    session = Session.from_program(prog)
    session.start()
    session.cont()
    assert session.status == "faulted"
    # the faulting instruction was reached, so it counts, though it never completed
    assert session.stepper.exec_counts() == {("nullread", 0): 1, ("nullread", 1): 1}
    assert session.status == "faulted" and session.machine().run_status() == "faulted"


@pytest.mark.parametrize("name", ["xdp_loop_parser", "xdp_tailcall"])
def test_exec_counts_stay_exact_when_counted_step_by_step_and_across_reverse_and_rerun(name: str) -> None:
    """The counts are kept between stops and extended (the TUI asks after every step):
    stepping on, going back, rerunning and an edit must each give the recomputed answer."""
    session = open_sample(name, 1, history_interval=7)
    session.start()
    for _ in range(25):
        session.stepi()
        assert sum(session.stepper.exec_counts().values()) == session.insns
        if not session.live:
            break
    session.reverse_stepi(9)
    assert sum(session.stepper.exec_counts().values()) == session.insns
    session.stepi(3)
    incremental = dict(session.stepper.exec_counts())
    session.stepper._counts = None  # forget: count from the start
    assert dict(session.stepper.exec_counts()) == incremental
    session.set_register(0, 1)  # an edit: the recorded future is dropped
    session.stepi(2)
    incremental = dict(session.stepper.exec_counts())
    session.stepper._counts = None
    assert dict(session.stepper.exec_counts()) == incremental
    session.run()
    assert sum(session.stepper.exec_counts().values()) == session.insns


def test_exec_counts_of_a_spent_budget_match_a_step_by_step_tally() -> None:
    """A loop stopped by the budget: counted by blocks at run speed, the counts equal what
    stepping one instruction at a time records, the instruction where it stopped included."""
    from emulator.program import Program

    # r0 = 0; loop: r0 += 1; if r0 != 0 goto loop (endless); exit
    code = bytes.fromhex("b70000000000000007000000010000005500feff000000009500000000000000")
    prog = Program.from_bytes(code, name="spin")
    session = Session.from_program(prog, budget=1001)
    session.start()
    session.cont()
    assert session.status == "budget"
    counts = dict(session.stepper.exec_counts())
    tally: dict[tuple[str, int], int] = {}
    replay = Session.from_program(prog, budget=1001)
    replay.start()
    while replay.live:
        key = (replay.current_program, replay.pc)
        tally[key] = tally.get(key, 0) + 1
        replay.stepi()  # the last one reaches the instruction the budget stops before: counted
    assert replay.status == "budget"
    assert counts == tally
    assert sum(counts.values()) == 1001 + 1
