"""Which registers may still be read: a backward dataflow pass over the instructions.

The analysis forgets dead registers when it decides whether a state at a join point was
already explored (as the kernel's liveness marks do): two paths that differ only in a value
nobody reads again lead to the same behaviour. The pass is per instruction, with calls
summarised: a helper reads r1-r5 and clobbers them, a bpf-to-bpf call reads r1-r5 and keeps
r6-r9, an exit reads r0.
"""

from __future__ import annotations

from collections.abc import Sequence

from emulator.isa.fields import AluOp, AtomicOp
from emulator.isa.insn import Insn
from emulator.isa.table import Form

ARGS = 0b111110  # r1..r5
CALLER_SAVED = 0b111111  # r0..r5


def _bit(r: int) -> int:
    return 1 << r


def _uses_defs(insn: Insn) -> tuple[int, int]:
    """(registers read, registers written) by one instruction."""
    info = insn.info
    if info is None:
        return 0x7FF, 0
    form = info.form
    d, s = _bit(insn.dst), _bit(insn.src)
    if form is Form.ALU_REG:
        if info.op == AluOp.MOV:
            return s, d
        return d | s, d
    if form is Form.ALU_IMM:
        if info.op == AluOp.MOV:
            return 0, d
        return d, d
    if form in (Form.NEG, Form.END):
        return d, d
    if form is Form.MOVSX:
        return s, d
    if form in (Form.LDX, Form.LDXSX):
        return s, d
    if form is Form.ST:
        return d, 0
    if form is Form.STX:
        return d | s, 0
    if form is Form.ATOMIC:
        if info.op == AtomicOp.CMPXCHG:
            return d | s | 1, 1
        if info.op & AtomicOp.FETCH:
            return d | s, s
        return d | s, 0
    if form is Form.LDDW:
        return 0, d
    if form in (Form.JCOND_REG,):
        return d | s, 0
    if form is Form.JCOND_IMM:
        return d, 0
    if form in (Form.CALL, Form.CALLX):
        return ARGS | (d if form is Form.CALLX else 0), CALLER_SAVED
    if form is Form.EXIT:
        return 1, 0
    if form is Form.LD_ABS:
        return _bit(6), CALLER_SAVED
    if form is Form.LD_IND:
        return _bit(6) | s, CALLER_SAVED
    return 0, 0


def live_in(insns: Sequence[Insn | None]) -> list[int]:
    """Bit r of ``result[pc]`` set: register r may be read on some path from pc before it
    is written (r10 is always live)."""
    n = len(insns)
    uses = [0] * n
    defs = [0] * n
    succs: list[tuple[int, ...]] = [()] * n
    for pc, insn in enumerate(insns):
        if insn is None:
            continue
        uses[pc], defs[pc] = _uses_defs(insn)
        info = insn.info
        if info is None:
            continue
        form = info.form
        if form is Form.EXIT:
            continue
        nxt = pc + insn.slots
        if form in (Form.JA, Form.JA32):
            target = insn.jump_target(pc)
            succs[pc] = (target,) if target is not None else ()
        elif form in (Form.JCOND_REG, Form.JCOND_IMM):
            target = insn.jump_target(pc)
            succs[pc] = (nxt, target) if target is not None else (nxt,)
        else:
            succs[pc] = (nxt,)
    live = [0] * n
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            if insns[pc] is None:
                continue
            out = 0
            for s in succs[pc]:
                if 0 <= s < n:
                    out |= live[s]
            value = uses[pc] | (out & ~defs[pc]) | _bit(10)
            if value != live[pc]:
                live[pc] = value
                changed = True
    return live
