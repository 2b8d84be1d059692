"""The instruction-encoding vocabulary of RFC 9669, as typed enums.

Names follow the RFC without the ``BPF_`` prefix (``AluOp.ADD`` is ``BPF_ADD``).
Everything that needs a field value (table, decoder, assembler, interpreter) takes it
from here so that no module grows its own magic numbers.
"""

from __future__ import annotations

from enum import IntEnum


class Class(IntEnum):
    """Low three bits of the opcode."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Source(IntEnum):
    """Bit 3 of arithmetic and jump opcodes: immediate (K) or register (X) operand."""

    K = 0x00
    X = 0x08


class AluOp(IntEnum):
    """High four bits of ALU/ALU64 opcodes."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    """High four bits of JMP/JMP32 opcodes."""

    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0


class Size(IntEnum):
    """Bits 3-4 of load/store opcodes."""

    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        return {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}[self]


class Mode(IntEnum):
    """High three bits of load/store opcodes."""

    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class AtomicOp(IntEnum):
    """The ``imm`` field of atomic instructions (``FETCH`` is a flag bit)."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


class PseudoSrc(IntEnum):
    """``src`` of the wide ``lddw`` instruction: what its 64-bit immediate means.

    Kernel names: BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC,
    BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE.
    """

    IMM64 = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallKind(IntEnum):
    """``src`` of ``call`` (opcode 0x85): helper by id, bpf-to-bpf call, or kfunc by BTF id."""

    HELPER = 0
    LOCAL = 1
    KFUNC = 2


MAX_REG = 10
"""r0..r10; r10 is the read-only frame pointer."""

FRAME_POINTER = 10
