"""Which registers may still be read: a backward dataflow pass over the instructions.

The analysis forgets dead registers when it decides whether a state at a join point was
already explored (as the kernel's liveness marks do): two paths that differ only in a value
nobody reads again lead to the same behaviour. The pass is per instruction, with calls
summarised: a helper reads r1-r5 and clobbers them, a bpf-to-bpf call reads r1-r5 and keeps
r6-r9, an exit reads r0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def _successors(insns: Sequence[Insn | None]) -> list[tuple[int, ...]]:
    """Where control may go after each instruction (none after an exit)."""
    succs: list[tuple[int, ...]] = [()] * len(insns)
    for pc, insn in enumerate(insns):
        info = insn.info if insn is not None else None
        if insn is None or info is None or info.form is Form.EXIT:
            continue
        nxt = pc + insn.slots
        target = insn.jump_target(pc)
        if info.form in (Form.JA, Form.JA32):
            succs[pc] = (target,) if target is not None else ()
        elif info.form in (Form.JCOND_REG, Form.JCOND_IMM):
            succs[pc] = (nxt, target) if target is not None else (nxt,)
        else:
            succs[pc] = (nxt,)
    return succs


def _backward(
    insns: Sequence[Insn | None], reads: Sequence[int], kills: Sequence[int], always: int = 0
) -> tuple[list[int], list[int]]:
    """The least fixpoint of ``in = reads | (out & ~kills) | always`` over the control-flow
    graph, ``out`` the union of the successors' ``in``: (live-in, live-out) per pc."""
    n = len(insns)
    succs = _successors(insns)
    live_out = [0] * n
    live_in_ = [0] * n
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            if insns[pc] is None:
                continue
            out = 0
            for s in succs[pc]:
                if 0 <= s < n:
                    out |= live_in_[s]
            live_out[pc] = out
            value = reads[pc] | (out & ~kills[pc]) | always
            if value != live_in_[pc]:
                live_in_[pc] = value
                changed = True
    return live_in_, live_out


def live_in(insns: Sequence[Insn | None]) -> list[int]:
    """Bit r of ``result[pc]`` set: register r may be read on some path from pc before it
    is written (r10 is always live)."""
    n = len(insns)
    uses = [0] * n
    defs = [0] * n
    for pc, insn in enumerate(insns):
        if insn is not None:
            uses[pc], defs[pc] = _uses_defs(insn)
    return _backward(insns, uses, defs, always=_bit(10))[0]


def _reads64_defs32(insn: Insn, helper_args: int) -> tuple[int, int, int]:
    """(registers whose upper half the instruction reads, registers it writes as a whole
    64-bit value, registers it writes as a 32-bit subregister), after the kernel's
    ``is_reg64``."""
    info = insn.info
    if info is None:
        return 0x7FF, 0, 0
    form = info.form
    group = info.group.value
    d, s = _bit(insn.dst), _bit(insn.src)
    if form in (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.MOVSX, Form.END):
        uses, defs = _uses_defs(insn)
        if form is Form.END:
            wide = (group == "alu32" and info.size == 64) or (group == "alu64" and info.size == 64)
        else:
            wide = group == "alu64"
        if wide:
            return uses, defs, 0
        return 0, 0, defs
    if form is Form.LDX:
        return s, d if info.size == 8 else 0, 0 if info.size == 8 else d
    if form is Form.LDXSX:
        return s, d, 0
    if form is Form.ST:
        return d, 0, 0
    if form is Form.STX:
        return d | (s if info.size == 8 else 0), 0, 0
    if form is Form.ATOMIC:
        wide = info.size == 8
        reads = d | (s if wide else 0)
        if info.op == AtomicOp.CMPXCHG:
            reads |= 1 if wide else 0
            return reads, 1 if wide else 0, 0 if wide else 1
        if info.op & AtomicOp.FETCH:
            return reads, s if wide else 0, 0 if wide else s
        return reads, 0, 0
    if form is Form.LDDW:
        return 0, d, 0
    if form is Form.JCOND_REG:
        return (d | s, 0, 0) if group == "jmp" else (0, 0, 0)
    if form is Form.JCOND_IMM:
        return (d, 0, 0) if group == "jmp" else (0, 0, 0)
    if form is Form.CALL:
        if info.variant == 0:  # helper: the arguments it takes, 64-bit
            return (ARGS & ((1 << (helper_args + 1)) - 1)), CALLER_SAVED, 0
        return ARGS, CALLER_SAVED, 0  # bpf-to-bpf (the callee may read them whole), kfunc
    if form is Form.CALLX:
        return ARGS | d, CALLER_SAVED, 0
    if form is Form.EXIT:
        return 1, 0, 0
    if form in (Form.LD_ABS, Form.LD_IND):
        return _bit(6) | (s if form is Form.LD_IND else 0), CALLER_SAVED & ~1, 1
    return 0x7FF, 0, 0


def needs_zext(insns: Sequence[Insn | None], helper_args: Callable[[int], int]) -> frozenset[int]:
    """pcs of the instructions that write a 32-bit subregister whose upper half some later
    instruction may read as part of a 64-bit value (the kernel's ``zext_dst``).

    A static over-approximation of the kernel's path-sensitive marks (it may ask for a
    zero extension the kernel would not, never the reverse). ``helper_args(id)`` is the
    number of arguments a helper takes.
    """
    defs32, live_in_, live_out = _upper_half_liveness(insns, helper_args)
    return frozenset(pc for pc in range(len(insns)) if defs32[pc] & live_out[pc])


def upper_halves_live(insns: Sequence[Insn | None], helper_args: Callable[[int], int]) -> list[int]:
    """For each pc, a bit mask of the registers whose upper 32 bits some instruction from
    there on may read (before writing them whole). The others' upper halves are never
    observed: a machine that leaves them unzeroed (the NFP, §5.22) behaves the same."""
    return _upper_half_liveness(insns, helper_args)[1]


def _upper_half_liveness(
    insns: Sequence[Insn | None], helper_args: Callable[[int], int]
) -> tuple[list[int], list[int], list[int]]:
    """A backward pass over "registers whose upper half may be read before being written":
    (32-bit subregister writes, live-in, live-out) per pc."""
    n = len(insns)
    reads = [0] * n
    kills = [0] * n
    defs32 = [0] * n
    for pc, insn in enumerate(insns):
        if insn is None:
            continue
        nargs = helper_args(insn.imm) if insn.info is not None and insn.info.form is Form.CALL else 5
        r64, d64, d32 = _reads64_defs32(insn, nargs)
        reads[pc], kills[pc], defs32[pc] = r64, d64 | d32, d32
    live_in_, live_out = _backward(insns, reads, kills)
    return defs32, live_in_, live_out
