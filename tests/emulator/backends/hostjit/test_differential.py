"""Random programs (the generator of test_run_step_agree: every opcode row, interesting
register values, loads and stores around the stack and the input memory, forward branches)
end the same on host-jit as on interp: the same stop, fault (kind, pc, message), registers,
instruction count and memory; and stepping gives the same r0-r10 after every instruction."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emulator.backends.base import create
from emulator.env import Environment, RunInput
from emulator.errors import DecodeError
from emulator.isa.insn import Insn, encode_program, slot_list
from emulator.program import Program
from emulator.state import StopCondition
from tests.differential.test_kernel_alu import WORK, _lddw, bodies
from tests.emulator.backends.test_run_step_agree import programs


def _machines(code: bytes, mem: bytes):  # type: ignore[no-untyped-def]
    try:
        prog = Program.from_bytes(code)
    except DecodeError:  # e.g. a jump into the second half of a lddw: rejected before any backend
        assume(False)
        raise
    machines = []
    for name in ("interp", "host-jit"):
        machine = create(name)
        assert machine.load(prog, Environment(budget=5_000)).ok
        machine.reset(RunInput(mem=mem))
        machines.append(machine)
    return machines


@settings(max_examples=150, deadline=None)
@given(programs(), st.binary(min_size=0, max_size=48))
def test_random_programs_end_alike(code: bytes, mem: bytes) -> None:
    ends = []
    for machine in _machines(code, mem):
        event = machine.run(StopCondition())
        state = machine.state()
        ends.append((event, state.regs, state.insns, state.status, dict(state.regions)))
    assert ends[0] == ends[1]


def _step_alike(interp: Any, jit: Any) -> None:
    """Step both to the end: every step event and the registers after it the same."""
    while True:
        a, b = interp.step(), jit.step()
        assert (a.pc, a.next_pc, a.insns, a.regs, a.mem, a.stop) == (
            b.pc,
            b.next_pc,
            b.insns,
            b.regs,
            b.mem,
            b.stop,
        )
        assert interp.registers() == jit.registers()
        if a.stop is not None:
            break


@settings(max_examples=60, deadline=None)
@given(programs(), st.binary(min_size=0, max_size=48))
def test_random_programs_step_alike(code: bytes, mem: bytes) -> None:
    _step_alike(*_machines(code, mem))


@settings(max_examples=150, deadline=None)
@given(bodies())
def test_alu_bodies_step_alike(case: tuple[list[int], list[Insn]]) -> None:
    """The kernel-differential generator's programs (every ALU/JMP form, zero-byte
    instructions such as ``ja +0`` and ``le64`` among conditional jumps, stack atomics)."""
    inits, body = case
    insns = [_lddw(reg, value) for reg, value in zip(WORK, inits, strict=True)] + body + [Insn(0x95)]
    _step_alike(*_machines(encode_program(slot_list(insns)), b""))
