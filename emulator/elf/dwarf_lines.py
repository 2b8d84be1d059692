"""DWARF ``.debug_line`` through pyelftools: the line table for objects without .BTF.ext.

In a relocatable BPF object every code section starts at address 0, so a DWARF address alone
does not say which section a line row belongs to. Each line-table sequence starts with a
``DW_LNE_set_address`` whose operand carries an R_BPF_64_ABS64 relocation against the
section (or a function in it); those relocations appear in ``.rel.debug_line`` in the same
order as the set_address operations, which is how rows are matched to sections here. If
the counts do not agree (a producer that does it differently), DWARF lines are skipped
rather than guessed.

DWARF stores no source text; when the source file can be found (as recorded, or next to
the object file) the line's text is read from it.
"""

from __future__ import annotations

import os
from pathlib import Path

from emulator.elf.image import R_BPF_64_ABS64, ElfImage
from emulator.elf.lineinfo import SectionLines
from emulator.isa.insn import SLOT_SIZE
from emulator.program import SourceLine

DW_LNE_SET_ADDRESS = 0x02  # DWARF 5, 6.2.5.3 (pyelftools defines it at run time, invisible to mypy)


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value) if value is not None else ""


class _SourceTexts:
    """Source files read on demand (relative names tried from the object's directory too)."""

    def __init__(self, object_path: str) -> None:
        self._base = Path(object_path).resolve().parent
        self._cache: dict[str, list[str] | None] = {}

    def line(self, file: str, line: int) -> str:
        if file not in self._cache:
            self._cache[file] = self._read(file)
        lines = self._cache[file]
        if lines is None or not 0 < line <= len(lines):
            return ""
        return lines[line - 1]

    def _read(self, file: str) -> list[str] | None:
        for candidate in (Path(file), self._base / file):
            try:
                return candidate.read_text(errors="replace").splitlines()
            except OSError:
                continue
        return None


def _file_name(program: object, index: int, version: int) -> str:
    entries = program["file_entry"]  # type: ignore[index]
    dirs = program["include_directory"]  # type: ignore[index]
    if version < 5:
        index -= 1  # DWARF 2-4 count files from 1
    if not 0 <= index < len(entries):
        return ""
    entry = entries[index]
    name = _as_text(entry.name)
    dir_index = entry.dir_index if version >= 5 else entry.dir_index - 1
    directory = _as_text(dirs[dir_index]) if 0 <= dir_index < len(dirs) else ""
    if directory and not os.path.isabs(name):
        return f"{directory}/{name}"
    return name


def dwarf_section_lines(image: ElfImage) -> tuple[SectionLines, str]:
    """Line rows by section from .debug_line, and a problem description ("" if none).

    Line info is an aid, not a requirement: DWARF that pyelftools cannot read (or whose
    sequences cannot be matched to sections) gives no lines and a reason, never an error.
    """
    try:
        return _read_lines(image)
    except Exception as err:  # pyelftools on damaged DWARF: assertions, KeyError, ELFError, ...
        return {}, f"DWARF line info is unreadable ({type(err).__name__}: {err}); no source lines"


def _read_lines(image: ElfImage) -> tuple[SectionLines, str]:
    elf = image.elffile
    debug_line = image.section_named(".debug_line")
    if debug_line is None or not elf.has_dwarf_info():
        return {}, ""
    anchors = sorted(
        (r for r in image.relocations.get(debug_line.index, ()) if r.type == R_BPF_64_ABS64),
        key=lambda r: r.offset,
    )
    dwarf = elf.get_dwarf_info(relocate_dwarf_sections=True)
    texts = _SourceTexts(image.path)
    rows: list[tuple[int, int, SourceLine]] = []  # (sequence number, slot, line)
    sequence = -1
    for cu in dwarf.iter_CUs():
        program = dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        version = program["version"]
        for entry in program.get_entries():
            if entry.is_extended and entry.command == DW_LNE_SET_ADDRESS:
                sequence += 1
            state = entry.state
            if state is None or state.end_sequence or state.line == 0 or sequence < 0:
                continue
            file = _file_name(program, state.file, version)
            line = SourceLine(file, state.line, state.column, texts.line(file, state.line))
            rows.append((sequence, state.address // SLOT_SIZE, line))
    if len(anchors) != sequence + 1:
        return {}, (
            f"DWARF .debug_line has {sequence + 1} sequences but {len(anchors)} address relocations; "
            "cannot tell which section each belongs to, so there are no source lines"
        )
    out: dict[str, dict[int, SourceLine]] = {}
    for seq, slot, line in rows:  # addresses already include the relocation's symbol value
        section = image.section_at(anchors[seq].symbol.shndx)
        if section is None:
            continue
        out.setdefault(section.name, {})[slot] = line  # the last row at an address wins
    return {name: sorted(table.items()) for name, table in out.items()}, ""
