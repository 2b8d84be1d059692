"""The Backend contract, parametrised over every registered backend.

Each backend must agree with the vectors, report what each step wrote, stop where a
StopCondition says (and nowhere else), and turn faults and endless loops into StopEvents.
"""

from __future__ import annotations

import threading

import pytest

from emulator.asm import assemble
from emulator.backends.base import Backend, create, stepping_backend_names
from emulator.env import Environment, RunInput
from emulator.memory import frame_pointer
from emulator.program import Program
from emulator.state import Guard, StopCondition, StopReason
from tests.emulator.backends import vectors

BACKENDS = stepping_backend_names()
ALL_VECTORS = [
    (group, v)
    for group in ("ALU64", "ALU32", "ENDIAN", "JMP", "LDST", "ATOMIC", "CALLS")
    for v in getattr(vectors, group)
]


def make(backend: str, text: str, mem: bytes = b"", budget: int = 100_000) -> Backend:
    prog = Program.from_insns(assemble(text))
    machine = create(backend)
    report = machine.load(prog, Environment(budget=budget))
    if not report.ok and machine.capabilities.may_refuse:  # an offload device (nic) refuses by design
        pytest.skip(f"{backend} refuses this program: {report.errors[0].message if report.errors else ''}")
    assert report.ok, report.diagnostics
    machine.reset(RunInput(mem=mem))
    return machine


ENDLESS = "mov %r0, 0\nadd %r0, 1\nja -2"


def endless(backend: str, budget: int = 100_000) -> Backend:
    """The endless loop. An offload target first analyses it like the kernel verifier, to
    the 1M-instruction budget (about 25 s here), so it is skipped there; nic's budget,
    max_insns and interrupt are tested on a loop the analysis bounds
    (tests/emulator/backends/nic/test_backend.py)."""
    if create(backend).capabilities.may_refuse:
        pytest.skip(f"{backend}: the offload analysis follows an endless loop to its budget first")
    return make(backend, ENDLESS, budget=budget)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(("group", "vector"), ALL_VECTORS, ids=[f"{g}-{v.id}" for g, v in ALL_VECTORS])
def test_vectors(backend: str, group: str, vector: vectors.V) -> None:
    event = make(backend, vector.asm, vector.mem).run(StopCondition())
    assert event.reason is StopReason.EXIT, event
    assert event.retval == vector.expect, f"{event.retval:#x} != {vector.expect:#x}"


def test_step_reports_register_writes(backend: str) -> None:
    m = make(backend, "mov %r0, 5\nadd %r0, 2\nexit")
    first = m.step()
    assert (first.pc, first.next_pc, first.insns) == (0, 1, 1)
    assert [(w.reg, w.old, w.new) for w in first.regs] == [(0, 0, 5)]
    second = m.step()
    assert [(w.reg, w.old, w.new) for w in second.regs] == [(0, 5, 7)]
    last = m.step()
    assert last.stop is not None and last.stop.reason is StopReason.EXIT and last.stop.retval == 7


def test_step_journals_memory_writes(backend: str) -> None:
    m = make(backend, "stw [%r10-4], 0x01020304\nmov %r0, 0\nexit")
    event = m.step()
    (write,) = event.mem
    assert write.addr == frame_pointer(0) - 4
    assert write.old == bytes(4) and write.new == bytes([4, 3, 2, 1])
    assert write.where == "fp-4"


def test_run_stops_before_a_candidate_pc_but_not_at_the_first(backend: str) -> None:
    m = make(backend, "mov %r0, 1\nmov %r0, 2\nmov %r0, 3\nexit")
    event = m.run(StopCondition(pcs=frozenset({2})))
    assert (event.reason, event.pc, event.insns) == (StopReason.BREAKPOINT, 2, 2)
    assert m.state().regs[0] == 2
    again = m.run(StopCondition(pcs=frozenset({2})))  # continuing from the breakpoint
    assert again.reason is StopReason.EXIT and again.retval == 3


def test_breakpoint_inside_a_loop_hits_every_iteration(backend: str) -> None:
    m = make(backend, "mov %r0, 0\nmov %r1, 3\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, -3\nexit")
    hits = []
    while True:
        event = m.run(StopCondition(pcs=frozenset({3})))
        if event.reason is not StopReason.BREAKPOINT:
            break
        hits.append(m.state().regs[0])
    assert hits == [1, 2, 3] and event.retval == 3


def test_guarded_candidate_stops_only_when_the_guard_holds(backend: str) -> None:
    m = make(backend, "mov %r0, 0\nmov %r1, 5\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, -3\nexit")
    stop = StopCondition(pcs=frozenset({3}), guards=((3, Guard(0, "==", 4)),))
    event = m.run(stop)
    assert event.reason is StopReason.BREAKPOINT and m.state().regs[0] == 4
    assert m.run(stop).reason is StopReason.EXIT


@pytest.mark.parametrize("count", [1, 2, 5, 17])
def test_max_insns_is_exact(backend: str, count: int) -> None:
    m = endless(backend)
    event = m.run(StopCondition(max_insns=count))
    assert event.reason is StopReason.STEP and event.insns == count


def test_endless_loop_stops_on_the_budget(backend: str) -> None:
    m = endless(backend, budget=1000)
    event = m.run(StopCondition())
    assert event.reason is StopReason.BUDGET and event.insns == 1000
    assert m.step().stop == event  # the run is over until reset


def test_fault_is_a_stop_event_naming_the_access(backend: str) -> None:
    m = make(backend, "mov %r0, 0\nldxw %r0, [%r1+8]\nexit", mem=bytes(10))
    event = m.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.pc == 1 and event.insns == 1
    assert event.fault is not None
    assert event.fault.message == "read of 4 bytes at mem+8, input memory is 10 bytes"
    state = m.state()
    assert state.status == "faulted" and state.pc == 1


def test_null_pointer_and_stack_overflow_faults(backend: str) -> None:
    null = make(backend, "ldxb %r0, [%r1+0]\nexit").run(StopCondition())
    assert null.fault is not None and "NULL pointer" in null.fault.message
    below = make(backend, "stdw [%r10-520], 1\nexit").run(StopCondition())
    assert below.fault is not None
    assert below.fault.message == "write of 8 bytes at fp-520, stack frame is 512 bytes"


def test_dangling_pointer_into_a_returned_frame_faults(backend: str) -> None:
    m = make(backend, "call local sub\nldxdw %r0, [%r0+0]\nexit\nsub:\nmov %r0, %r10\nsub %r0, 8\nexit")
    event = m.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.pc == 1


def test_call_depth_limit(backend: str) -> None:
    m = make(backend, "call local f\nexit\nf:\ncall local f\nexit")
    event = m.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.fault is not None
    assert event.fault.kind == "call" and "8" in event.fault.message
    assert len(m.state().frames) == 8


def test_finish_stops_when_the_callee_returns(backend: str) -> None:
    m = make(backend, "mov %r6, 1\ncall local f\nmov %r0, 2\nexit\nf:\nmov %r0, 7\nexit")
    m.run(StopCondition(pcs=frozenset({5})))  # inside f
    assert m.state().depth == 1 and m.state().frames[1].entry == 4
    event = m.run(StopCondition(depth_at_most=0))
    assert (event.reason, event.pc) == (StopReason.DEPTH, 2)
    assert m.state().regs[0] == 7 and m.state().depth == 0


def test_unknown_helper_stops_with_its_id(backend: str) -> None:
    m = create(backend)
    report = m.load(Program.from_insns(assemble("call 999\nexit")), Environment())
    if not report.ok and m.capabilities.may_refuse:
        assert "999" in report.errors[0].message  # the offload refuses the helper at load instead
        return
    assert report.ok and any("999" in d.message for d in report.diagnostics)
    m.reset(RunInput())
    event = m.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.fault is not None
    assert "#999" in event.fault.message and event.fault.kind == "helper"


def test_unresolvable_map_reference_is_rejected_at_load(backend: str) -> None:
    m = create(backend)
    prog = Program.from_bytes(bytes.fromhex("181100000500000000000000000000009500000000000000"))
    report = m.load(prog, Environment())
    assert not report.ok and report.errors[0].pc == 0
    assert "map" in report.errors[0].message


def test_falling_off_the_end_faults(backend: str) -> None:
    event = make(backend, "mov %r0, 1").run(StopCondition())
    assert event.reason is StopReason.FAULT and event.fault is not None
    assert event.fault.kind == "end-of-program"


def test_interrupt_stops_a_long_run(backend: str) -> None:
    m = endless(backend, budget=10**12)
    timer = threading.Timer(0.2, m.interrupt)
    timer.start()
    event = m.run(StopCondition())
    timer.join()
    assert event.reason is StopReason.INTERRUPTED and event.insns > 0
    assert m.run(StopCondition(max_insns=3)).insns == event.insns + 3  # resumes


def test_reset_starts_over(backend: str) -> None:
    m = make(backend, "ldxb %r0, [%r1+0]\nadd %r0, 1\nstxb [%r1+0], %r0\nexit", mem=b"\x05")
    assert m.run(StopCondition()).retval == 6
    m.reset(RunInput(mem=b"\x05"))
    state = m.state()
    assert state.status == "ready" and state.insns == 0 and state.regions["mem"].data == b"\x05"
    assert m.run(StopCondition()).retval == 6


def test_state_is_comparable_across_instances(backend: str) -> None:
    text = "mov %r1, 3\nstxdw [%r10-8], %r1\nmov %r0, 1\nexit"
    a, b = make(backend, text), make(backend, text)
    a.run(StopCondition())
    while b.step().stop is None:
        pass
    assert a.state() == b.state()


def test_checkpoint_restores_exactly(backend: str) -> None:
    m = make(
        backend,
        "mov %r6, 3\nstdw [%r10-8], 1\ncall local f\nldxdw %r0, [%r10-8]\nadd %r0, %r6\nexit\n"
        "f:\nstdw [%r10-16], 9\nmov %r6, 0\nldxdw %r1, [%r10-16]\nexit",
    )
    if not m.capabilities.checkpointable:
        pytest.skip(f"{backend} is not checkpointable")
    expected = m.run(StopCondition())
    m.reset(RunInput())
    for _ in range(4):  # inside f, after its store
        m.step()
    saved_state = m.state()
    cp = m.checkpoint()  # type: ignore[attr-defined]
    assert m.run(StopCondition()) == expected
    m.restore(cp)  # type: ignore[attr-defined]
    assert m.state() == saved_state
    assert m.run(StopCondition()) == expected
