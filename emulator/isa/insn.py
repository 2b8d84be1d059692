"""Insn: one decoded instruction, and the byte-level decode/encode of whole programs.

An instruction is 8 bytes, little-endian: ``u8 opcode; u8 regs (dst low nibble, src high
nibble); s16 off; s32 imm``. The wide ``lddw`` occupies two slots and is one :class:`Insn`
whose ``imm_hi`` holds the second slot's immediate. A program is a list indexed by slot
(``pc``); the second slot of a ``lddw`` holds ``None``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from emulator.diagnostics import Diagnostic
from emulator.errors import DecodeError
from emulator.isa.table import Form, OpInfo, lookup

SLOT = struct.Struct("<BBhi")
SLOT_SIZE = 8
LDDW_OPCODE = 0x18


@dataclass(frozen=True, slots=True)
class Insn:
    """The fields of one instruction. ``off`` and ``imm`` are signed, as encoded."""

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm_hi: int = 0  # lddw only: the immediate of the second slot
    info: OpInfo | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.info is None:
            object.__setattr__(self, "info", lookup(self.opcode, self.src, self.off, self.imm))

    @property
    def slots(self) -> int:
        return 2 if self.opcode == LDDW_OPCODE else 1

    @property
    def imm64(self) -> int:
        """lddw's 64-bit immediate, unsigned."""
        return (self.imm & 0xFFFFFFFF) | ((self.imm_hi & 0xFFFFFFFF) << 32)

    @property
    def known(self) -> bool:
        return self.info is not None

    def encode(self) -> bytes:
        first = SLOT.pack(self.opcode, (self.src << 4) | self.dst, self.off, self.imm)
        if self.opcode == LDDW_OPCODE:
            return first + SLOT.pack(0, 0, 0, self.imm_hi)
        return first

    def jump_target(self, pc: int) -> int | None:
        """Absolute slot a branch or local call at ``pc`` goes to (None for others)."""
        info = self.info
        if info is None:
            return None
        if info.form in (Form.JA, Form.JCOND_REG, Form.JCOND_IMM):
            return pc + 1 + self.off
        if info.form is Form.JA32 or (info.form is Form.CALL and info.variant == 1):
            return pc + 1 + self.imm
        if info.form is Form.LDDW and info.variant == 4:  # code address of a subprogram
            return pc + 1 + self.imm
        return None


def insn_from_slot(raw: bytes) -> Insn:
    """Fields of one 8-byte slot (the second slot of lddw is not joined here)."""
    opcode, regs, off, imm = SLOT.unpack(raw)
    return Insn(opcode, regs & 0x0F, regs >> 4, off, imm)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded program: ``insns[pc]`` per slot (None for lddw's second slot)."""

    insns: tuple[Insn | None, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.severity.value == "error" for d in self.diagnostics)


def decode_program(data: bytes) -> Decoded:
    """Decode every slot; problems become diagnostics, never exceptions."""
    diags: list[Diagnostic] = []
    if len(data) % SLOT_SIZE:
        diags.append(
            Diagnostic(
                len(data) // SLOT_SIZE,
                "truncated",
                f"program is {len(data)} bytes, not a multiple of 8; "
                f"the last {len(data) % SLOT_SIZE} bytes are not an instruction",
                data[len(data) - len(data) % SLOT_SIZE :],
            )
        )
    nslots = len(data) // SLOT_SIZE
    insns: list[Insn | None] = []
    pc = 0
    while pc < nslots:
        raw = data[pc * SLOT_SIZE : (pc + 1) * SLOT_SIZE]
        insn = insn_from_slot(raw)
        if insn.opcode == LDDW_OPCODE:
            if pc + 1 >= nslots:
                diags.append(
                    Diagnostic(
                        pc, "lddw-truncated", "lddw needs two slots but the program ends after the first", raw
                    )
                )
                insns.append(insn)
                pc += 1
                continue
            raw2 = data[(pc + 1) * SLOT_SIZE : (pc + 2) * SLOT_SIZE]
            second = insn_from_slot(raw2)
            if second.opcode or second.dst or second.src or second.off:
                diags.append(
                    Diagnostic(
                        pc + 1,
                        "lddw-second-slot",
                        "second slot of lddw must have opcode, registers and offset 0",
                        raw2,
                    )
                )
            insns.append(Insn(insn.opcode, insn.dst, insn.src, insn.off, insn.imm, second.imm))
            insns.append(None)
            pc += 2
            continue
        insns.append(insn)
        pc += 1
    from emulator.isa.validate import validate  # local: validate imports this module

    diags.extend(validate(insns, raw=data))
    return Decoded(tuple(insns), tuple(sorted(diags, key=lambda d: d.pc)))


def decode(data: bytes) -> tuple[Insn | None, ...]:
    """Decode a program or raise DecodeError with every diagnostic."""
    result = decode_program(data)
    if not result.ok:
        raise DecodeError([d for d in result.diagnostics if d.severity.value == "error"])
    return result.insns


def encode_program(insns: Iterable[Insn | None]) -> bytes:
    """Bytes of a program given per slot (None entries are lddw second halves) or per insn."""
    return b"".join(i.encode() for i in insns if i is not None)


def slot_list(insns: Sequence[Insn]) -> tuple[Insn | None, ...]:
    """Spread a list of instructions over slots (lddw takes two, the second is None)."""
    out: list[Insn | None] = []
    for insn in insns:
        out.append(insn)
        if insn.slots == 2:
            out.append(None)
    return tuple(out)
