"""What the instruction about to execute will do, from the registers now (pwndbg's branch
prediction and bpfvv's named helper arguments): ``# taken``/``# not taken`` after a
conditional jump, ``bpf_map_lookup_elem(map: map_ptr(fw_rules), key: fp-16)`` under a call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from emulator.helpers.kernel import kernel_helpers
from emulator.isa.fields import CallKind, JmpOp
from emulator.isa.insn import Insn
from emulator.isa.table import Form

if TYPE_CHECKING:
    from bpfdbg.session import Session

_U64 = (1 << 64) - 1


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


_COMPARE: dict[int, Callable[[int, int, int], bool]] = {
    JmpOp.JEQ: lambda a, b, bits: a == b,
    JmpOp.JNE: lambda a, b, bits: a != b,
    JmpOp.JGT: lambda a, b, bits: a > b,
    JmpOp.JGE: lambda a, b, bits: a >= b,
    JmpOp.JLT: lambda a, b, bits: a < b,
    JmpOp.JLE: lambda a, b, bits: a <= b,
    JmpOp.JSET: lambda a, b, bits: bool(a & b),
    JmpOp.JSGT: lambda a, b, bits: _signed(a, bits) > _signed(b, bits),
    JmpOp.JSGE: lambda a, b, bits: _signed(a, bits) >= _signed(b, bits),
    JmpOp.JSLT: lambda a, b, bits: _signed(a, bits) < _signed(b, bits),
    JmpOp.JSLE: lambda a, b, bits: _signed(a, bits) <= _signed(b, bits),
}


def branch_taken(insn: Insn, regs: Sequence[int]) -> bool | None:
    """Whether the conditional jump ``insn`` jumps with these registers (None: not one)."""
    info = insn.info
    if info is None or info.form not in (Form.JCOND_REG, Form.JCOND_IMM):
        return None
    bits = 64 if info.is64 else 32
    mask = (1 << bits) - 1
    left = regs[insn.dst] & mask
    right = regs[insn.src] if info.form is Form.JCOND_REG else insn.imm & _U64  # imm is sign-extended
    compare = _COMPARE.get(info.op)
    return None if compare is None else compare(left, right & mask, bits)


def helper_call(session: Session, insn: Insn, regs: Sequence[int]) -> str | None:
    """``bpf_map_lookup_elem(map: map_ptr(fw_rules), key: fp-16)`` for a helper call."""
    info = insn.info
    if info is None or info.form is not Form.CALL or info.variant != CallKind.HELPER:
        return None
    if session.program.prog_type == "raw":
        return None
    spec = kernel_helpers().get(insn.imm & 0xFFFFFFFF)
    if spec is None:
        return None
    args = []
    for i, arg in enumerate(a for a in spec.args if a != "..."):
        if i >= 5:
            break
        value = regs[i + 1]
        name = arg.replace("*", " ").split()[-1] if arg.split() else f"r{i + 1}"
        kind = session.pointer_kind(value)
        args.append(f"{name}: {kind if kind is not None else hex(value)}")
    return f"{spec.name}({', '.join(args)})"


def preview(session: Session, pc: int, program: str) -> tuple[str, str | None]:
    """A suffix for the ``=> pc: insn`` line and an optional line under it, for the
    instruction the stopped machine will execute next."""
    insn = session.program_named(program).insn_at(pc)
    if insn is None or not session.live:
        return "", None
    regs = session.regs
    taken = branch_taken(insn, regs)
    if taken is not None:
        return ("   # taken" if taken else "   # not taken"), None
    return "", helper_call(session, insn, regs)
