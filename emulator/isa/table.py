"""THE opcode table: one row per (opcode, variant). Everything else derives from it.

Decoding needs more than the opcode byte: ``off`` tells ``div`` from ``sdiv`` and ``mov`` from
``movsx``, ``imm`` picks the atomic operation and the byte-swap width, and ``src`` picks the
``lddw`` pseudo-form and the ``call`` kind. Each opcode therefore names (at most) one
*variant field*, and a row is keyed by ``(opcode, value of that field)``.

The decoder (:mod:`emulator.isa.insn`), the validator, the assembler, the disassembler and
the interpreter's code generator all look rows up here; none of them keeps its own list of
mnemonics or opcodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from itertools import chain
from types import MappingProxyType
from typing import Final, Literal

from emulator.isa.fields import (
    AluOp,
    AtomicOp,
    CallKind,
    Class,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
)

VariantField = Literal["", "off", "imm", "src"]


class Group(Enum):
    """Broad instruction family; used by docs, coverage and the interpreter."""

    ALU32 = "alu32"
    ALU64 = "alu64"
    JMP = "jmp"
    JMP32 = "jmp32"
    LOAD = "load"
    STORE = "store"
    ATOMIC = "atomic"
    LDDW = "lddw"
    LEGACY = "legacy"


class Form(Enum):
    """Operand shape: decides text templates, field checks and semantics."""

    ALU_REG = "alu_reg"  # dst op= src
    ALU_IMM = "alu_imm"  # dst op= imm
    NEG = "neg"  # dst = -dst
    MOVSX = "movsx"  # dst = (sN) src
    END = "end"  # byte order conversion of dst, width in imm
    JA = "ja"  # goto off
    JA32 = "ja32"  # goto imm (gotol)
    JCOND_REG = "jcond_reg"
    JCOND_IMM = "jcond_imm"
    CALL = "call"  # helper / local / kfunc, by imm
    CALLX = "callx"  # call through dst register
    EXIT = "exit"
    LDDW = "lddw"  # two slots, 64-bit immediate or a pseudo source
    LD_ABS = "ld_abs"  # legacy packet load, absolute offset
    LD_IND = "ld_ind"  # legacy packet load, src + imm
    LDX = "ldx"  # dst = *(size *)(src + off)
    LDXSX = "ldxsx"  # dst = *(s size *)(src + off)
    ST = "st"  # *(size *)(dst + off) = imm
    STX = "stx"  # *(size *)(dst + off) = src
    ATOMIC = "atomic"  # atomic read-modify-write on *(size *)(dst + off)


@dataclass(frozen=True, slots=True)
class OpInfo:
    """One instruction form.

    ``mnemonic`` is the conformance-suite dialect spelling (``add32``, ``ldxw``, ``lock fetch
    add32``); the LLVM/bpftool dialect is rendered from ``form`` and ``op``.
    """

    opcode: int
    variant: int
    variant_field: VariantField
    mnemonic: str
    group: Group
    form: Form
    op: int  # AluOp / JmpOp / AtomicOp value, PseudoSrc or CallKind for variant rows
    size: int = 0  # memory access width in bytes; END: width in bits; MOVSX: source bits
    signed: bool = False  # sdiv/smod, ldxs*
    slots: int = 1
    min_cpu: int = 1  # lowest bpf_conformance --cpu_version that has it

    @property
    def cls(self) -> Class:
        return Class(self.opcode & 0x07)

    @property
    def is64(self) -> bool:
        """True for ALU64 and JMP (64-bit compares); False for their 32-bit siblings."""
        return self.cls in (Class.ALU64, Class.JMP)

    @property
    def is_branch(self) -> bool:
        return self.form in (Form.JA, Form.JA32, Form.JCOND_REG, Form.JCOND_IMM)

    @property
    def key(self) -> tuple[int, int]:
        return (self.opcode, self.variant)


_BINARY_ALU: Final = (
    AluOp.ADD,
    AluOp.SUB,
    AluOp.MUL,
    AluOp.DIV,
    AluOp.OR,
    AluOp.AND,
    AluOp.LSH,
    AluOp.RSH,
    AluOp.MOD,
    AluOp.XOR,
    AluOp.MOV,
    AluOp.ARSH,
)

_ALU_CLASSES: Final = ((Class.ALU64, "", Group.ALU64), (Class.ALU, "32", Group.ALU32))


def _alu_rows() -> Iterator[OpInfo]:
    for cls, suffix, group in _ALU_CLASSES:
        cpu32 = 3 if cls is Class.ALU else 1
        for op in _BINARY_ALU:
            name = op.name.lower()
            for src, form in ((Source.X, Form.ALU_REG), (Source.K, Form.ALU_IMM)):
                opcode = cls | src | op
                if op in (AluOp.DIV, AluOp.MOD):
                    yield OpInfo(opcode, 0, "off", name + suffix, group, form, op, min_cpu=1)
                    signed = "s" + name
                    yield OpInfo(opcode, 1, "off", signed + suffix, group, form, op, signed=True, min_cpu=4)
                elif op is AluOp.MOV and src is Source.X:
                    yield OpInfo(opcode, 0, "off", name + suffix, group, form, op)
                    widths = (8, 16, 32) if cls is Class.ALU64 else (8, 16)
                    for bits in widths:
                        mnem = f"movsx{bits}{'64' if cls is Class.ALU64 else '32'}"
                        yield OpInfo(
                            opcode,
                            bits,
                            "off",
                            mnem,
                            group,
                            Form.MOVSX,
                            op,
                            size=bits,
                            signed=True,
                            min_cpu=4,
                        )
                else:
                    cpu = 1 if cls is Class.ALU64 or op is not AluOp.ARSH else cpu32
                    yield OpInfo(opcode, 0, "", name + suffix, group, form, op, min_cpu=cpu)
        yield OpInfo(cls | AluOp.NEG, 0, "", "neg" + suffix, group, Form.NEG, AluOp.NEG)
    # Byte-order conversions: ALU class, K = to little endian, X = to big endian;
    # ALU64 class, K = unconditional swap (v4 "bswap").
    for src, prefix in ((Source.K, "le"), (Source.X, "be")):
        for bits in (16, 32, 64):
            yield OpInfo(
                Class.ALU | src | AluOp.END,
                bits,
                "imm",
                f"{prefix}{bits}",
                Group.ALU32,
                Form.END,
                AluOp.END,
                size=bits,
            )
    for bits in (16, 32, 64):
        yield OpInfo(
            Class.ALU64 | Source.K | AluOp.END,
            bits,
            "imm",
            f"bswap{bits}",
            Group.ALU64,
            Form.END,
            AluOp.END,
            size=bits,
            min_cpu=4,
        )


_CONDITIONAL: Final = (
    JmpOp.JEQ,
    JmpOp.JGT,
    JmpOp.JGE,
    JmpOp.JSET,
    JmpOp.JNE,
    JmpOp.JSGT,
    JmpOp.JSGE,
    JmpOp.JLT,
    JmpOp.JLE,
    JmpOp.JSLT,
    JmpOp.JSLE,
)


def _jmp_rows() -> Iterator[OpInfo]:
    yield OpInfo(Class.JMP | JmpOp.JA, 0, "", "ja", Group.JMP, Form.JA, JmpOp.JA)
    yield OpInfo(Class.JMP32 | JmpOp.JA, 0, "", "ja32", Group.JMP32, Form.JA32, JmpOp.JA, min_cpu=4)
    for cls, suffix, group in ((Class.JMP, "", Group.JMP), (Class.JMP32, "32", Group.JMP32)):
        for op in _CONDITIONAL:
            late = op in (JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE)
            cpu = 3 if cls is Class.JMP32 else (2 if late else 1)
            name = op.name.lower() + suffix
            yield OpInfo(cls | Source.X | op, 0, "", name, group, Form.JCOND_REG, op, min_cpu=cpu)
            yield OpInfo(cls | Source.K | op, 0, "", name, group, Form.JCOND_IMM, op, min_cpu=cpu)
    call = Class.JMP | Source.K | JmpOp.CALL
    yield OpInfo(call, CallKind.HELPER, "src", "call", Group.JMP, Form.CALL, CallKind.HELPER)
    yield OpInfo(call, CallKind.LOCAL, "src", "call local", Group.JMP, Form.CALL, CallKind.LOCAL, min_cpu=3)
    yield OpInfo(call, CallKind.KFUNC, "src", "call kfunc", Group.JMP, Form.CALL, CallKind.KFUNC)
    yield OpInfo(Class.JMP | Source.X | JmpOp.CALL, 0, "", "callx", Group.JMP, Form.CALLX, JmpOp.CALL)
    yield OpInfo(Class.JMP | JmpOp.EXIT, 0, "", "exit", Group.JMP, Form.EXIT, JmpOp.EXIT)


_SIZES: Final = ((Size.B, "b", 1), (Size.H, "h", 2), (Size.W, "w", 4), (Size.DW, "dw", 8))


def _ldst_rows() -> Iterator[OpInfo]:
    for size, suffix, nbytes in _SIZES:
        yield OpInfo(Class.LDX | Mode.MEM | size, 0, "", "ldx" + suffix, Group.LOAD, Form.LDX, 0, size=nbytes)
        yield OpInfo(Class.ST | Mode.MEM | size, 0, "", "st" + suffix, Group.STORE, Form.ST, 0, size=nbytes)
        yield OpInfo(
            Class.STX | Mode.MEM | size, 0, "", "stx" + suffix, Group.STORE, Form.STX, 0, size=nbytes
        )
        if size is not Size.DW:
            yield OpInfo(
                Class.LDX | Mode.MEMSX | size,
                0,
                "",
                "ldxs" + suffix,
                Group.LOAD,
                Form.LDXSX,
                0,
                size=nbytes,
                signed=True,
                min_cpu=4,
            )
            yield OpInfo(
                Class.LD | Mode.ABS | size, 0, "", "ldabs" + suffix, Group.LEGACY, Form.LD_ABS, 0, size=nbytes
            )
            yield OpInfo(
                Class.LD | Mode.IND | size, 0, "", "ldind" + suffix, Group.LEGACY, Form.LD_IND, 0, size=nbytes
            )
    lddw = Class.LD | Mode.IMM | Size.DW
    for pseudo in PseudoSrc:
        yield OpInfo(lddw, pseudo, "src", "lddw", Group.LDDW, Form.LDDW, pseudo, size=8, slots=2)


ATOMIC_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        AtomicOp.ADD: "add",
        AtomicOp.OR: "or",
        AtomicOp.AND: "and",
        AtomicOp.XOR: "xor",
        AtomicOp.ADD | AtomicOp.FETCH: "fetch add",
        AtomicOp.OR | AtomicOp.FETCH: "fetch or",
        AtomicOp.AND | AtomicOp.FETCH: "fetch and",
        AtomicOp.XOR | AtomicOp.FETCH: "fetch xor",
        AtomicOp.XCHG: "xchg",
        AtomicOp.CMPXCHG: "cmpxchg",
    }
)


def _atomic_rows() -> Iterator[OpInfo]:
    for size, suffix, nbytes in ((Size.W, "32", 4), (Size.DW, "", 8)):
        for imm, name in ATOMIC_NAMES.items():
            yield OpInfo(
                Class.STX | Mode.ATOMIC | size,
                imm,
                "imm",
                f"lock {name}{suffix}",
                Group.ATOMIC,
                Form.ATOMIC,
                imm,
                size=nbytes,
                min_cpu=3,
            )


ROWS: Final[tuple[OpInfo, ...]] = tuple(chain(_alu_rows(), _jmp_rows(), _ldst_rows(), _atomic_rows()))

OPCODE_TABLE: Final[Mapping[tuple[int, int], OpInfo]] = MappingProxyType({r.key: r for r in ROWS})
assert len(OPCODE_TABLE) == len(ROWS), "duplicate (opcode, variant) rows"

VARIANT_FIELD: Final[Mapping[int, VariantField]] = MappingProxyType({r.opcode: r.variant_field for r in ROWS})
"""For every known opcode, the field whose value selects the row ("" = none)."""


def variant_of(opcode: int, src: int, off: int, imm: int) -> int:
    """The variant value of an instruction, read from the field its opcode names."""
    field = VARIANT_FIELD.get(opcode, "")
    if field == "off":
        return off
    if field == "imm":
        return imm
    if field == "src":
        return src
    return 0


def lookup(opcode: int, src: int, off: int, imm: int) -> OpInfo | None:
    """The row for these fields, or None for an unknown or malformed encoding."""
    return OPCODE_TABLE.get((opcode, variant_of(opcode, src, off, imm)))


def rows_by_mnemonic() -> Mapping[str, tuple[OpInfo, ...]]:
    """Inverse index for the assemblers: mnemonic -> rows (several forms may share one)."""
    index: dict[str, list[OpInfo]] = {}
    for row in ROWS:
        index.setdefault(row.mnemonic, []).append(row)
    return MappingProxyType({k: tuple(v) for k, v in index.items()})
