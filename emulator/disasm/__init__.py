"""Disassembler: instructions to text in the LLVM/bpftool or the conformance dialect.

Public API::

    format_insn(insn, pc=0, *, dialect="llvm", resolver=None, raw=False) -> str
    disassemble(insns_per_slot, *, dialect="llvm", resolver=None, raw=False) -> list[Line]
    disassemble_bytes(data, *, dialect="llvm", resolver=None, raw=False) -> list[Line]
    render_listing(lines) -> str          # text that emulator.asm assembles back

Everything derives from the opcode table (``insn.info``); names for helpers, maps and
subprograms come from a :class:`SymbolResolver`.
"""

from emulator.disasm.listing import (
    Dialect,
    Line,
    disassemble,
    disassemble_bytes,
    format_insn,
    hex_bytes,
    render_listing,
)
from emulator.disasm.resolver import MapKind, NullResolver, SymbolResolver, TableResolver

__all__ = [
    "Dialect",
    "Line",
    "MapKind",
    "NullResolver",
    "SymbolResolver",
    "TableResolver",
    "disassemble",
    "disassemble_bytes",
    "format_insn",
    "hex_bytes",
    "render_listing",
]
