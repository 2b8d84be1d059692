"""Assembler for both text dialects: LLVM/bpftool (``r0 = *(u32 *)(r1 + 0)``) and the
conformance suite's (``ldxw %r0, [%r1+4]``), with labels.

Public API::

    assemble(text, *, dialect="auto", symbols=None) -> list[Insn]
    assemble_bytes(text, *, dialect="auto", symbols=None) -> bytes

Errors raise :class:`emulator.errors.AsmError` with the 1-based line number and the text.
All opcode knowledge comes from :mod:`emulator.isa.table`.
"""

from emulator.asm.assembler import AsmDialect, assemble, assemble_bytes, strip_comment
from emulator.asm.common import AsmSymbols

__all__ = ["AsmDialect", "AsmSymbols", "assemble", "assemble_bytes", "strip_comment"]
