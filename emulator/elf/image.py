"""The ELF file as plain data: sections, symbols and relocations, checked once.

pyelftools is used here and in :mod:`emulator.elf.dwarf_lines` only; everything else in
``emulator.elf`` works on the frozen dataclasses below. Converting at the boundary keeps
pyelftools' stringly-typed containers (``sym['st_info']['bind']``) out of the loader, and
gives one place that checks what a damaged file could get wrong (offsets past the end,
symbols pointing at sections that do not exist), so later stages can trust their input.

Header problems (not ELF, 32-bit, big-endian, not BPF, not relocatable) are diagnosed from
the raw bytes before pyelftools sees them: its own messages for those cases would not say
what to do.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_SH_TYPE_BASE

from emulator.errors import ElfLoadError

EM_BPF = 247
ET_REL = 1

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_RELA = 4
SHT_NOBITS = 8
SHT_REL = 9

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00

STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2

STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3

# Relocation types of EM_BPF (llvm/BinaryFormat/ELFRelocs/BPF.def).
R_BPF_NONE = 0
R_BPF_64_64 = 1  # lddw: 64-bit immediate split over both slots
R_BPF_64_ABS64 = 2  # data: 64-bit absolute (.maps initial values, DWARF)
R_BPF_64_ABS32 = 3  # data: 32-bit absolute (DWARF)
R_BPF_64_NODYLD32 = 4  # .BTF/.BTF.ext: section offsets, nothing to do at load time
R_BPF_64_32 = 10  # call: pc-relative, in instructions
RELOCATION_NAMES = {
    R_BPF_NONE: "R_BPF_NONE",
    R_BPF_64_64: "R_BPF_64_64",
    R_BPF_64_ABS64: "R_BPF_64_ABS64",
    R_BPF_64_ABS32: "R_BPF_64_ABS32",
    R_BPF_64_NODYLD32: "R_BPF_64_NODYLD32",
    R_BPF_64_32: "R_BPF_64_32",
}


def relocation_name(rtype: int) -> str:
    return RELOCATION_NAMES.get(rtype, f"type {rtype}")


# e_machine values a user is likely to hand us by mistake, named the way `file` names them.
_MACHINES = {
    2: "SPARC",
    3: "x86 (i386)",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "s390",
    40: "ARM",
    43: "SPARC V9",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    258: "LoongArch",
}

_ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}


@dataclass(frozen=True, slots=True)
class Section:
    """One section header and its bytes (empty for SHT_NOBITS such as .bss)."""

    index: int
    name: str
    type: int
    flags: int
    size: int
    data: bytes
    link: int
    info: int
    entsize: int

    @property
    def is_exec(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    @property
    def is_nobits(self) -> bool:
        return self.type == SHT_NOBITS


@dataclass(frozen=True, slots=True)
class Symbol:
    """One .symtab entry, with the raw binding/type numbers (STB_*, STT_*)."""

    index: int
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int  # SHN_UNDEF (0) for externs; >= SHN_LORESERVE for ABS/COMMON

    @property
    def is_extern(self) -> bool:
        return self.shndx == SHN_UNDEF and self.bind in (STB_GLOBAL, STB_WEAK) and bool(self.name)


@dataclass(frozen=True, slots=True)
class Relocation:
    """A REL entry: at byte ``offset`` of the target section, relocation ``type`` against
    ``symbol``. BPF objects use REL (implicit addend in place), never RELA."""

    offset: int
    type: int
    symbol: Symbol


@dataclass(frozen=True)
class ElfImage:
    """Everything the loader needs from the file; immutable after :func:`read_image`."""

    path: str
    data: bytes
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocations: Mapping[int, tuple[Relocation, ...]]  # target section index -> entries
    elffile: ELFFile  # kept for DWARF only (see emulator.elf.dwarf_lines)

    def section_named(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_at(self, index: int) -> Section | None:
        if 0 < index < len(self.sections):
            return self.sections[index]
        return None

    @property
    def section_names(self) -> list[str]:
        return [s.name for s in self.sections[1:] if s.name]


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, or one ElfLoadError saying why they cannot be read."""
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise ElfLoadError(f"{shown}: no such file")
    if p.is_dir():
        raise ElfLoadError(f"{shown} is a directory, not an object file; give the path of a .o file")
    if not p.is_file():
        raise ElfLoadError(f"{shown} is not a regular file; give the path of a .o file")
    try:
        return p.read_bytes()
    except OSError as err:
        raise ElfLoadError(f"cannot read {shown}: {err.strerror or err}") from None


def check_header(path: str, data: bytes) -> None:
    """Reject what is not a little-endian ELF64 relocatable BPF object, saying what it is."""
    if not data:
        raise ElfLoadError(f"{path}: the file is empty; compile the program with clang -O2 -g -target bpf -c")
    if not data.startswith(b"\x7fELF"):
        raise ElfLoadError(
            f"{path} is not an ELF file (it starts with {data[:4]!r}); "
            "give the .o that clang -target bpf -c produced"
        )
    if len(data) < 20:
        raise ElfLoadError(f"{path} is truncated: {len(data)} bytes is not even an ELF header")
    ei_class, ei_data = data[4], data[5]
    if ei_data not in (1, 2):
        raise ElfLoadError(f"{path} has an invalid ELF byte-order field ({ei_data}); the file is damaged")
    endian = "<" if ei_data == 1 else ">"
    e_type, e_machine = struct.unpack_from(endian + "HH", data, 16)
    if e_machine != EM_BPF:
        arch = _MACHINES.get(e_machine, f"machine type {e_machine}")
        raise ElfLoadError(f"{path} is an ELF object for {arch}, not BPF; compile with clang -target bpf")
    if ei_class == 1:
        raise ElfLoadError(
            f"{path} is a 32-bit ELF object; BPF objects are ELF64: compile with clang -target bpf"
        )
    if ei_class != 2:
        raise ElfLoadError(f"{path} has an invalid ELF class field ({ei_class}); the file is damaged")
    if ei_data == 2:
        raise ElfLoadError(
            f"{path} is a big-endian BPF object (clang -target bpfeb); bpfdbg runs little-endian BPF: "
            "compile with clang -target bpf"
        )
    if e_type != ET_REL:
        kind = _ET_NAMES.get(e_type, f"type {e_type}")
        raise ElfLoadError(
            f"{path} is not a relocatable object ({kind}); load the .o that clang -target bpf -c produced"
        )
    if len(data) < 64:
        raise ElfLoadError(f"{path} is truncated: {len(data)} bytes, the ELF64 header alone is 64")


def _check_section_table(path: str, data: bytes) -> None:
    (e_shoff,) = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 58)
    if e_shnum == 0:
        raise ElfLoadError(f"{path} has no section headers; it is damaged or not a compiler's object file")
    if e_shentsize != 64:
        raise ElfLoadError(f"{path} has section headers of {e_shentsize} bytes, not 64; the file is damaged")
    end = e_shoff + e_shnum * e_shentsize
    if end > len(data):
        raise ElfLoadError(
            f"{path} is truncated: its section headers end at byte {end}, the file has {len(data)} bytes"
        )
    if e_shstrndx >= e_shnum:
        raise ElfLoadError(
            f"{path} names section {e_shstrndx} as its string table, but has {e_shnum} sections"
        )


def _read_sections(path: str, data: bytes, elf: ELFFile) -> tuple[Section, ...]:
    out: list[Section] = []
    for index in range(elf.num_sections()):
        sec = elf.get_section(index)
        hdr = sec.header
        sh_type, sh_offset, sh_size = hdr["sh_type"], hdr["sh_offset"], hdr["sh_size"]
        type_num = _SHT.get(sh_type, -1) if isinstance(sh_type, str) else int(sh_type)
        name = sec.name if index else ""
        if type_num != SHT_NOBITS and index and sh_offset + sh_size > len(data):
            raise ElfLoadError(
                f"{path} is truncated: section {name or index} ends at byte {sh_offset + sh_size}, "
                f"the file has {len(data)} bytes"
            )
        body = b"" if type_num == SHT_NOBITS or not index else data[sh_offset : sh_offset + sh_size]
        out.append(
            Section(
                index=index,
                name=name,
                type=type_num,
                flags=int(hdr["sh_flags"]),
                size=int(sh_size),
                data=body,
                link=int(hdr["sh_link"]),
                info=int(hdr["sh_info"]),
                entsize=int(hdr["sh_entsize"]),
            )
        )
    return tuple(out)


# pyelftools reports sh_type as a name when it knows it; numbers come from its own table.
_SHT: dict[str, int] = {
    name: int(value) for name, value in ENUM_SH_TYPE_BASE.items() if isinstance(value, int)
}

_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")


def _strtab_name(strtab: bytes, offset: int) -> str:
    if offset >= len(strtab):
        return ""
    end = strtab.find(b"\0", offset)
    raw = strtab[offset:] if end < 0 else strtab[offset:end]
    return raw.decode("utf-8", errors="replace")


def _read_symbols(path: str, sections: tuple[Section, ...]) -> tuple[Symbol, ...]:
    symtabs = [s for s in sections if s.type == SHT_SYMTAB]
    if not symtabs:
        raise ElfLoadError(
            f"{path} has no symbol table; it was stripped, so functions and maps cannot be found"
        )
    symtab = symtabs[0]
    if not 0 < symtab.link < len(sections):
        raise ElfLoadError(f"{path}: the symbol table's string table (section {symtab.link}) does not exist")
    strtab = sections[symtab.link].data
    count = len(symtab.data) // _SYM.size
    out: list[Symbol] = []
    for i in range(count):
        st_name, st_info, _other, st_shndx, st_value, st_size = _SYM.unpack_from(symtab.data, i * _SYM.size)
        out.append(
            Symbol(
                index=i,
                name=_strtab_name(strtab, st_name),
                value=st_value,
                size=st_size,
                type=st_info & 0xF,
                bind=st_info >> 4,
                shndx=st_shndx,
            )
        )
    return tuple(out)


def _read_relocations(
    path: str, sections: tuple[Section, ...], symbols: tuple[Symbol, ...]
) -> Mapping[int, tuple[Relocation, ...]]:
    out: dict[int, tuple[Relocation, ...]] = {}
    for sec in sections:
        if sec.type == SHT_RELA:
            raise ElfLoadError(
                f"{path}: relocation section {sec.name} uses RELA entries; BPF objects use REL. "
                "Was it produced by clang -target bpf?"
            )
        if sec.type != SHT_REL:
            continue
        if not 0 < sec.info < len(sections):
            raise ElfLoadError(
                f"{path}: relocation section {sec.name} applies to section {sec.info}, which does not exist"
            )
        entries: list[Relocation] = []
        for i in range(len(sec.data) // _REL.size):
            r_offset, r_info = _REL.unpack_from(sec.data, i * _REL.size)
            sym_index, rtype = r_info >> 32, r_info & 0xFFFFFFFF
            if sym_index >= len(symbols):
                raise ElfLoadError(
                    f"{path}: relocation {i} in {sec.name} names symbol {sym_index}, "
                    f"but the symbol table has {len(symbols)} entries"
                )
            entries.append(Relocation(r_offset, rtype, symbols[sym_index]))
        out[sec.info] = out.get(sec.info, ()) + tuple(entries)
    return MappingProxyType(out)


def read_image(path: str | Path) -> ElfImage:
    """Read and check an object file; every problem is one ElfLoadError."""
    shown = str(path)
    data = read_bytes(path)
    check_header(shown, data)
    _check_section_table(shown, data)
    try:
        elf = ELFFile(io.BytesIO(data))
        sections = _read_sections(shown, data, elf)
    except ElfLoadError:
        raise
    except (ELFError, struct.error, ValueError, KeyError, IndexError, UnicodeDecodeError) as err:
        raise ElfLoadError(f"{shown} is damaged: {err}; recompile it with clang -target bpf") from None
    symbols = _read_symbols(shown, sections)
    relocations = _read_relocations(shown, sections, symbols)
    return ElfImage(shown, data, sections, symbols, relocations, elf)
