"""Diagnostics: problems found in a program before it runs, as data.

A Diagnostic names the instruction slot and carries the raw bytes of that slot, so that a
user can find the offending instruction in a hex dump as well as in a listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    pc: int  # instruction slot index
    code: str  # short stable identifier, e.g. "unknown-opcode"
    message: str
    raw: bytes = b""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        raw = f" [{self.raw.hex(' ')}]" if self.raw else ""
        return f"insn {self.pc}: {self.severity.value}: {self.message}{raw}"
