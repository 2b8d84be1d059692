"""Stmt: one assembled line before labels are resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from emulator.isa.insn import LDDW_OPCODE, SLOT, Insn
from emulator.isa.table import OpInfo

TargetField = Literal["off", "imm"]


@dataclass(slots=True)
class Stmt:
    """The fields of one instruction, possibly still waiting for a label's address.

    ``target`` names a label whose distance (from the next slot) goes into
    ``target_field``. ``helper_fallback`` marks ``call NAME``: a local call when NAME is a
    label, otherwise a helper looked up by name. ``slots`` is 1 for a lone ``.insn`` slot
    even when its opcode is 0x18, which an :class:`Insn` cannot express.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm_hi: int = 0
    slots: int = 1
    target: str | None = None
    target_field: TargetField = "off"
    helper_fallback: bool = False
    pc: int = 0
    line: int = 0
    text: str = ""

    @classmethod
    def of(
        cls,
        row: OpInfo,
        *,
        dst: int = 0,
        src: int = 0,
        off: int = 0,
        imm: int = 0,
        imm_hi: int = 0,
        target_field: TargetField = "off",
    ) -> Stmt:
        """A statement for ``row``, with the row's variant written into its field."""
        stmt = cls(row.opcode, dst, src, off, imm, imm_hi, slots=row.slots, target_field=target_field)
        if row.variant_field:
            setattr(stmt, row.variant_field, row.variant)
        return stmt

    @property
    def lone_wide_slot(self) -> bool:
        return self.opcode == LDDW_OPCODE and self.slots == 1

    def to_insn(self) -> Insn:
        return Insn(self.opcode, self.dst, self.src, self.off, self.imm, self.imm_hi)

    def to_bytes(self) -> bytes:
        first = SLOT.pack(self.opcode, (self.src << 4) | self.dst, self.off, self.imm)
        if self.slots == 2:
            return first + SLOT.pack(0, 0, 0, self.imm_hi)
        return first
