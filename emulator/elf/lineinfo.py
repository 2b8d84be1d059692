"""Source lines of a program: pc -> file:line:column (and the line's text).

Both sources clang writes are read: BTF.ext line_info (which also stores each line's text)
and, for objects without .BTF.ext, DWARF ``.debug_line`` (:mod:`emulator.elf.dwarf_lines`).
Either way the records are first collected per ELF section by slot, then moved to program
pcs through the linker's placements, because a ``.text`` function has a different pc in
every program that calls it.

The table is sparse, as both sources are: a record at pc N applies to the following pcs of
the same function up to the next record. :func:`source_line_at` does that lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from emulator.elf.btf_ext import BtfExt
from emulator.elf.linker import Placement
from emulator.isa.insn import SLOT_SIZE
from emulator.program import Program, SourceLine

SectionLines = Mapping[str, Sequence[tuple[int, SourceLine]]]
"""ELF section name -> (slot, line) records sorted by slot."""


def btf_ext_lines(ext: BtfExt) -> SectionLines:
    """BTF.ext line_info by section; records not on an instruction boundary are dropped."""
    out: dict[str, list[tuple[int, SourceLine]]] = {}
    for section, records in ext.lines.items():
        out[section] = [
            (r.insn_off // SLOT_SIZE, SourceLine(r.file, r.line, r.column, r.text))
            for r in records
            if r.insn_off % SLOT_SIZE == 0
        ]
    return MappingProxyType(out)


def program_lines(placements: Sequence[Placement], lines: SectionLines) -> Mapping[int, SourceLine]:
    """The records of every placed function, at their pcs in the assembled program."""
    out: dict[int, SourceLine] = {}
    for placement in placements:
        func = placement.function
        for slot, line in lines.get(func.section, ()):
            if func.start <= slot < func.end:
                out[placement.pc + slot - func.start] = line
    return MappingProxyType(dict(sorted(out.items())))


def source_line_at(program: Program, pc: int) -> SourceLine | None:
    """The line pc belongs to: the nearest record at or before pc in the same function."""
    start = max((p for p in program.symbols if p <= pc), default=0)
    best = None
    for line_pc, line in program.lines.items():
        if start <= line_pc <= pc:
            best = line
        elif line_pc > pc:
            break
    return best
