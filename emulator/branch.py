"""Whether a conditional eBPF jump is taken, from the registers it compares.

Native code (x86 on host-jit, NFP microcode on nic) answers this by itself; a translating
backend only needs it to tell which eBPF instruction it arrived at when a jump's target and
its fall-through start at the same native address (instructions in between produced no
code, e.g. ``if r0 == r1 goto +1; ja +0``)."""

from __future__ import annotations

from collections.abc import Sequence

from emulator.isa.fields import JmpOp
from emulator.isa.insn import Insn
from emulator.isa.table import Form

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF


def _signed(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value ^ sign) - sign


def taken(insn: Insn, regs: Sequence[int]) -> bool:
    """The outcome of the conditional jump ``insn`` for registers ``regs``."""
    info = insn.info
    assert info is not None and info.form in (Form.JCOND_REG, Form.JCOND_IMM)
    bits = 64 if info.is64 else 32
    mask = M64 if info.is64 else M32
    a = regs[insn.dst] & mask
    b = (regs[insn.src] if info.form is Form.JCOND_REG else insn.imm) & mask
    op = JmpOp(info.op)
    if op in (JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE):
        a, b = _signed(a, bits), _signed(b, bits)
    return {
        JmpOp.JEQ: a == b,
        JmpOp.JNE: a != b,
        JmpOp.JSET: bool(a & b),
        JmpOp.JGT: a > b,
        JmpOp.JGE: a >= b,
        JmpOp.JLT: a < b,
        JmpOp.JLE: a <= b,
        JmpOp.JSGT: a > b,
        JmpOp.JSGE: a >= b,
        JmpOp.JSLT: a < b,
        JmpOp.JSLE: a <= b,
    }[op]
