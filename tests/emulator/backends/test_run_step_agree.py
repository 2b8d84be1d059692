"""Property: ``run`` and repeated ``step`` end in the same machine state, faults included.

The interpreter's two modes are compiled separately (whole blocks vs one instruction), so
random programs over the whole opcode table are the check that they cannot drift apart.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from emulator.backends.base import create, stepping_backend_names
from emulator.env import Environment, RunInput
from emulator.isa.insn import Insn, decode_program, encode_program, slot_list
from emulator.isa.table import ROWS, Form
from emulator.isa.validate import UNUSED_FIELDS
from emulator.program import Program
from emulator.state import StopCondition, StopReason

_ROWS = [
    r
    for r in ROWS
    if r.form not in (Form.CALL, Form.CALLX, Form.EXIT, Form.LD_ABS, Form.LD_IND, Form.JA32)
    and not (r.form is Form.LDDW and r.variant != 0)
]
_MEM = {Form.LDX, Form.LDXSX, Form.ST, Form.STX, Form.ATOMIC}


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@st.composite
def programs(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(1, 30))
    insns: list[Insn] = []
    # seed registers with interesting values
    for reg in range(10):
        value = draw(
            st.sampled_from(
                [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF]
            )
            | st.integers(0, 2**64 - 1)
        )
        insns.append(Insn(0x18, reg, 0, 0, _s32(value), _s32(value >> 32)))
    # a pointer to the input memory survives in r9 half of the time
    if draw(st.booleans()):
        insns.append(Insn(0xBF, 9, 1))
    for i in range(count):
        row = draw(st.sampled_from(_ROWS))
        dst = draw(st.integers(0, 9))
        src = draw(st.integers(0, 10))
        off = draw(st.integers(-4, 4))
        imm = draw(
            st.sampled_from([0, 1, -1, 31, 32, 63, 64, 0x7FFFFFFF, -(2**31)])
            | st.integers(-(2**31), 2**31 - 1)
        )
        if row.form in _MEM:
            size = row.size
            base = draw(st.sampled_from([10, 9, dst]))
            if row.form in (Form.LDX, Form.LDXSX):
                src = base
                off = draw(st.integers(-64, 16)) if base == 10 else draw(st.integers(-4, 40))
            else:
                dst = base
                off = draw(st.integers(-64, 16)) if base == 10 else draw(st.integers(-4, 40))
            off -= off % size if draw(st.booleans()) else 0
        if row.is_branch:
            off = draw(st.integers(0, max(0, count - i - 1)))
            if row.form is Form.JA:
                dst = src = imm = 0
        if row.form in (Form.ALU_IMM, Form.NEG, Form.END, Form.JCOND_IMM, Form.ST):
            src = 0
        if row.form in (
            Form.ALU_REG,
            Form.MOVSX,
            Form.JCOND_REG,
            Form.LDX,
            Form.LDXSX,
            Form.STX,
            Form.ATOMIC,
        ):
            imm = 0
        if row.form not in _MEM and not row.is_branch:
            off = 0
        if row.variant_field:
            locals_ = {"off": off, "imm": imm, "src": src}
            locals_[row.variant_field] = row.variant
            off, imm, src = locals_["off"], locals_["imm"], locals_["src"]
        fields = {"dst": dst, "src": src, "off": off, "imm": imm}
        for unused in UNUSED_FIELDS[row.form]:
            if unused != row.variant_field:
                fields[unused] = 0
        dst, src, off, imm = fields["dst"], fields["src"], fields["off"], fields["imm"]
        if row.form is Form.LDDW:
            insns.append(Insn(row.opcode, dst, 0, 0, imm, draw(st.integers(-(2**31), 2**31 - 1))))
        else:
            insns.append(Insn(row.opcode, dst, src, off, imm))
    insns.append(Insn(0x95))
    return encode_program(slot_list(insns))


def _final_by_run(backend_name: str, prog: Program, mem: bytes):  # type: ignore[no-untyped-def]
    b = create(backend_name)
    assert b.load(prog, Environment(budget=10_000)).ok
    b.reset(RunInput(mem=mem))
    event = b.run(StopCondition())
    return event, b.state()


def _final_by_step(backend_name: str, prog: Program, mem: bytes):  # type: ignore[no-untyped-def]
    b = create(backend_name)
    assert b.load(prog, Environment(budget=10_000)).ok
    b.reset(RunInput(mem=mem))
    while True:
        ev = b.step()
        if ev.stop is not None:
            return ev.stop, b.state()


@given(programs(), st.binary(min_size=0, max_size=48))
def test_run_and_step_agree(code: bytes, mem: bytes) -> None:
    assume(decode_program(code).ok)  # forward jumps may land inside a lddw
    prog = Program.from_bytes(code)
    for name in stepping_backend_names():
        if not create(name).capabilities.can_step:
            continue
        if not create(name).load(prog, Environment(budget=10_000)).ok:
            assert create(name).capabilities.may_refuse  # only an offload device may refuse it
            continue
        run_event, run_state = _final_by_run(name, prog, mem)
        step_event, step_state = _final_by_step(name, prog, mem)
        assert run_event == step_event
        assert run_state == step_state
        assert run_event.reason in (StopReason.EXIT, StopReason.FAULT)
