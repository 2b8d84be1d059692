"""How each dialect spells operators, numbers and memory operands.

The opcode table says *what* an instruction is (form, operation, width); this module only
says how the two text dialects write those facts down. The assembler imports the same
tables, so that printing and parsing cannot drift apart.

Number rules (documented once, used everywhere):

* LLVM dialect immediates (ALU, conditional-jump and store values) are printed as signed
  values: decimal when ``-10 < v < 10``, otherwise ``0x`` hex with a leading ``-`` for
  negative values (``-0x80000000``). 32-bit fields are shown sign-extended, which is how the
  64-bit forms use them.
* LLVM dialect offsets (memory displacement, jump distance, helper ids, legacy packet
  offsets) are always signed decimal: ``(r10 - 8)``, ``goto +3``, ``call 1``.
* ``lddw`` 64-bit values are unsigned; decimal below 10, otherwise hex: ``r0 = 0x1234 ll``.
* The conformance dialect follows ``bpf_disasm``: immediates that are negative (except
  INT32_MIN) or within ``[-10, 10]`` are decimal, everything else is the raw 32 bits in hex.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from emulator.isa.fields import AluOp, JmpOp

ALU_SYMBOL: Final[Mapping[int, str]] = MappingProxyType(
    {
        AluOp.ADD: "+",
        AluOp.SUB: "-",
        AluOp.MUL: "*",
        AluOp.DIV: "/",
        AluOp.OR: "|",
        AluOp.AND: "&",
        AluOp.LSH: "<<",
        AluOp.RSH: ">>",
        AluOp.MOD: "%",
        AluOp.XOR: "^",
        AluOp.ARSH: "s>>",
        AluOp.MOV: "",
    }
)
"""LLVM compound-assignment operator of each binary ALU op (``r0 += r1``); mov is ``=``.

Signed division and modulo (``off == 1``) put an ``s`` in front: ``s/=``, ``s%=``."""

JMP_SYMBOL: Final[Mapping[int, str]] = MappingProxyType(
    {
        JmpOp.JEQ: "==",
        JmpOp.JGT: ">",
        JmpOp.JGE: ">=",
        JmpOp.JSET: "&",
        JmpOp.JNE: "!=",
        JmpOp.JSGT: "s>",
        JmpOp.JSGE: "s>=",
        JmpOp.JLT: "<",
        JmpOp.JLE: "<=",
        JmpOp.JSLT: "s<",
        JmpOp.JSLE: "s<=",
    }
)
"""LLVM comparison operator of each conditional jump (``if r1 s< r2 goto +1``)."""

ATOMIC_SYMBOL: Final[Mapping[str, str]] = MappingProxyType({"add": "+", "or": "|", "and": "&", "xor": "^"})
"""LLVM operator of the non-fetching atomics, keyed by the base name in ATOMIC_NAMES."""

SIZE_BITS: Final[Mapping[int, int]] = MappingProxyType({1: 8, 2: 16, 4: 32, 8: 64})
BITS_SIZE: Final[Mapping[int, int]] = MappingProxyType({v: k for k, v in SIZE_BITS.items()})

INT32_MIN: Final = -(1 << 31)


def llvm_imm(value: int) -> str:
    """A signed immediate in the LLVM dialect (see the module docstring)."""
    if -10 < value < 10:
        return str(value)
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def llvm_imm64(value: int) -> str:
    """lddw's unsigned 64-bit value."""
    value &= (1 << 64) - 1
    return str(value) if value < 10 else f"0x{value:x}"


def llvm_disp(value: int) -> str:
    """A memory displacement with spaces around the sign: ``+ 0``, ``- 8``."""
    return f"- {-value}" if value < 0 else f"+ {value}"


def rel(value: int) -> str:
    """A relative slot distance: ``+3``, ``-2``, ``+0``."""
    return f"{value:+d}"


def conf_imm(value: int) -> str:
    """An immediate as ``bpf_disasm`` prints it (decimal when small or negative)."""
    if (value < 0 and value != INT32_MIN) or -10 <= value <= 10:
        return str(value)
    return f"0x{value & 0xFFFFFFFF:x}"


def conf_mem(reg: str, off: int) -> str:
    """``[%r1]``, ``[%r1+4]``, ``[%r10-8]``: no spaces, so the suite's tokenizer reads it."""
    if off == 0:
        return f"[{reg}]"
    return f"[{reg}{off:+d}]"
