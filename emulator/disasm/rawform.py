"""The ``.insn`` escape: text for encodings that no mnemonic can express.

Any slot whose fields the normal syntax cannot carry (unknown opcode, unknown variant,
reserved field set, a register above r10 in the LLVM dialect, a lddw pseudo form with a
stray second-slot immediate) is written as its raw fields, so that every 8 bytes survive a
disassemble/assemble round trip:

    .insn 0xOP, 0xREGS, 0xOFF, 0xIMM            one slot; REGS = src << 4 | dst
    .insn 0x18, 0xREGS, 0xOFF, 0xIMM, 0xIMMHI   a two-slot lddw whose second slot is zero
                                                except for its immediate
"""

from __future__ import annotations

from typing import Literal

from emulator.isa.insn import Insn
from emulator.isa.validate import validate_insn

Dialect = Literal["llvm", "conformance"]

_FATAL_CODES = {"unknown-opcode", "unknown-variant", "reserved-field"}


def unrepresentable(insn: Insn, dialect: Dialect) -> str | None:
    """Why ``insn`` needs the ``.insn`` escape in ``dialect``, or None when it does not."""
    if not _fields_in_range(insn):
        return "fields out of range"
    for diag in validate_insn(insn, 0):
        if diag.code in _FATAL_CODES:
            return diag.message
        # The conformance assembler accepts %r11-%r15 (for negative tests); LLVM has no r11.
        if diag.code == "bad-register" and dialect == "llvm":
            return diag.message
    return None


def _fields_in_range(insn: Insn) -> bool:
    return (
        0 <= insn.opcode <= 0xFF
        and 0 <= insn.dst <= 0xF
        and 0 <= insn.src <= 0xF
        and -(1 << 15) <= insn.off < (1 << 15)
        and -(1 << 31) <= insn.imm < (1 << 31)
        and -(1 << 31) <= insn.imm_hi < (1 << 31)
    )


def slot_directive(opcode: int, regs: int, off: int, imm: int, imm_hi: int | None = None) -> str:
    """``.insn`` text for raw fields (``imm_hi`` given: the two-slot form)."""
    text = f".insn 0x{opcode & 0xFF:02x}, 0x{regs & 0xFF:02x}, 0x{off & 0xFFFF:04x}, 0x{imm & 0xFFFFFFFF:08x}"
    if imm_hi is not None:
        text += f", 0x{imm_hi & 0xFFFFFFFF:08x}"
    return text


def insn_directive(insn: Insn) -> str:
    """``.insn`` text for a whole Insn (two-slot form for opcode 0x18)."""
    regs = ((insn.src & 0xF) << 4) | (insn.dst & 0xF)
    hi = insn.imm_hi if insn.slots == 2 else None
    return slot_directive(insn.opcode, regs, insn.off, insn.imm, hi)
