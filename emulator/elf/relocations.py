"""What each relocation in a code section asks for, decided once per section.

clang leaves every reference the kernel must resolve as a relocation:

* ``R_BPF_64_64`` on a ``lddw``: the address of a map (symbol in ``.maps``/``maps``), of a
  global variable (symbol, or section symbol plus the offset clang put in ``imm``, in a
  global-data section), or of a function (``src = BPF_PSEUDO_FUNC``: callbacks for
  ``bpf_loop`` and ``bpf_for_each_map_elem``);
* ``R_BPF_64_32`` on a ``call`` with ``src = 1``: a bpf-to-bpf call. Against a function
  symbol ``imm`` is -1; against a section symbol ``imm + 1`` is the callee's slot (libbpf:
  ``sym_off / 8 + imm + 1``).

Calls to static functions in the same section carry no relocation: ``imm`` is already
pc-relative. This module turns all of that into :data:`Fixup` values keyed by slot; the
linker applies them when it copies a function into a program, because call offsets depend
on where each callee ends up.

Anything else (externs, other relocation types, relocations on the wrong instruction) is
one ElfLoadError naming the symbol and the instruction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emulator.elf.functions import CodeSection
from emulator.elf.image import (
    R_BPF_64_32,
    R_BPF_64_64,
    R_BPF_NONE,
    SHN_LORESERVE,
    STT_SECTION,
    ElfImage,
    Relocation,
    Symbol,
    relocation_name,
)
from emulator.errors import ElfLoadError
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import LDDW_OPCODE, SLOT_SIZE, Insn

CALL_OPCODE = 0x85


@dataclass(frozen=True, slots=True)
class MapLoad:
    """``lddw`` of a map: becomes ``src = MAP_IDX, imm = map index``."""

    map_index: int


@dataclass(frozen=True, slots=True)
class MapValueLoad:
    """``lddw`` of a global variable: ``src = MAP_IDX_VALUE, imm = map index,
    imm_hi = byte offset`` into the map's single value."""

    map_index: int
    offset: int


@dataclass(frozen=True, slots=True)
class CodeRef:
    """A bpf-to-bpf ``call`` or a ``lddw`` of a function address: the target slot in a code
    section. The linker places the target and fixes ``imm``."""

    section_index: int
    slot: int
    is_call: bool


Fixup = MapLoad | MapValueLoad | CodeRef


@dataclass(frozen=True)
class MapLocator:
    """Where maps live in the file: definitions by (section, offset), and global-data
    sections (whose one map covers the whole section) by section."""

    by_definition: Mapping[tuple[int, int], int]
    by_data_section: Mapping[int, int]


def symbol_label(image: ElfImage, sym: Symbol) -> str:
    """A symbol's name, or its section's name for a section symbol."""
    if sym.type == STT_SECTION or not sym.name:
        section = image.section_at(sym.shndx)
        return section.name if section is not None else f"symbol #{sym.index}"
    return sym.name


def _where(code: CodeSection, slot: int) -> str:
    func = code.function_containing(slot)
    inside = f", in {func.name}" if func is not None else ""
    return f"{code.name}+{slot * SLOT_SIZE:#x} (insn {slot}{inside})"


def _extern_error(image: ElfImage, sym: Symbol, where: str) -> ElfLoadError:
    return ElfLoadError(
        f"{image.path}: {where} refers to extern {sym.name!r}; externs (.kconfig values, .ksyms "
        "kernel symbols and kfuncs) are not supported yet: remove it or give the value in the program "
        "(e.g. a const volatile global)"
    )


def _lddw_fixup(
    image: ElfImage,
    code: CodeSection,
    slot: int,
    insn: Insn,
    rel: Relocation,
    maps: MapLocator,
    code_sections: Mapping[int, CodeSection],
) -> Fixup:
    sym = rel.symbol
    where = _where(code, slot)
    if sym.shndx == 0 or sym.shndx >= SHN_LORESERVE:
        if sym.shndx == 0 and sym.name:
            raise _extern_error(image, sym, where)
        raise ElfLoadError(
            f"{image.path}: {where} loads the address of {symbol_label(image, sym)!r}, which is in no section"
        )
    if sym.shndx in code_sections:
        byte = sym.value + insn.imm
        if byte % SLOT_SIZE:
            raise ElfLoadError(
                f"{image.path}: {where} takes the address of byte {byte} of "
                f"{symbol_label(image, sym)}, not an instruction"
            )
        return CodeRef(sym.shndx, byte // SLOT_SIZE, is_call=False)
    data_map = maps.by_data_section.get(sym.shndx)
    if data_map is not None:
        return MapValueLoad(data_map, (insn.imm + sym.value) & 0xFFFFFFFF)
    map_offset = sym.value + (insn.imm if sym.type == STT_SECTION else 0)
    map_index = maps.by_definition.get((sym.shndx, map_offset))
    if map_index is not None:
        return MapLoad(map_index)
    section = image.section_at(sym.shndx)
    sec_name = section.name if section is not None else f"#{sym.shndx}"
    raise ElfLoadError(
        f"{image.path}: {where} loads the address of {symbol_label(image, sym)!r} in section {sec_name}, "
        "which is neither a map, global data nor code"
    )


def _call_fixup(
    image: ElfImage,
    code: CodeSection,
    slot: int,
    insn: Insn,
    rel: Relocation,
    code_sections: Mapping[int, CodeSection],
) -> Fixup:
    sym = rel.symbol
    where = _where(code, slot)
    if sym.shndx == 0 and sym.name:
        raise _extern_error(image, sym, where)
    if sym.shndx not in code_sections:
        raise ElfLoadError(
            f"{image.path}: {where} calls {symbol_label(image, sym)!r}, which is not a function"
        )
    if sym.value % SLOT_SIZE:
        raise ElfLoadError(
            f"{image.path}: {where} calls byte {sym.value} of {symbol_label(image, sym)}, not an instruction"
        )
    return CodeRef(sym.shndx, sym.value // SLOT_SIZE + insn.imm + 1, is_call=True)


def section_fixups(
    image: ElfImage, code: CodeSection, maps: MapLocator, code_sections: Mapping[int, CodeSection]
) -> dict[int, Fixup]:
    """Fixups of one code section by slot, relocated and already-resolved references alike."""
    fixups: dict[int, Fixup] = {}
    nslots = len(code.slots)
    for rel in image.relocations.get(code.section.index, ()):
        if rel.type == R_BPF_NONE:
            continue
        if rel.offset % SLOT_SIZE or rel.offset // SLOT_SIZE >= nslots:
            raise ElfLoadError(
                f"{image.path}: a relocation in {code.name} points at byte {rel.offset}, "
                "which is not the start of an instruction in that section"
            )
        slot = rel.offset // SLOT_SIZE
        insn = code.slots[slot]
        where = _where(code, slot)
        if insn is None:
            raise ElfLoadError(f"{image.path}: a relocation points at {where}, the second half of a lddw")
        if rel.type == R_BPF_64_64:
            if insn.opcode != LDDW_OPCODE:
                raise ElfLoadError(
                    f"{image.path}: R_BPF_64_64 against {symbol_label(image, rel.symbol)!r} at {where} "
                    f"is on opcode 0x{insn.opcode:02x}, not on a lddw"
                )
            fixups[slot] = _lddw_fixup(image, code, slot, insn, rel, maps, code_sections)
        elif rel.type == R_BPF_64_32:
            if insn.opcode != CALL_OPCODE or insn.src != CallKind.LOCAL:
                raise ElfLoadError(
                    f"{image.path}: R_BPF_64_32 against {symbol_label(image, rel.symbol)!r} at {where} "
                    "is not on a bpf-to-bpf call (call with src=1)"
                )
            fixups[slot] = _call_fixup(image, code, slot, insn, rel, code_sections)
        else:
            raise ElfLoadError(
                f"{image.path}: unsupported relocation {relocation_name(rel.type)} against "
                f"{symbol_label(image, rel.symbol)!r} at {where}; code sections may only carry "
                "R_BPF_64_64 (lddw) and R_BPF_64_32 (call) relocations"
            )
    for slot, insn in enumerate(code.slots):
        if insn is None or slot in fixups:
            continue
        if insn.opcode == CALL_OPCODE and insn.src == CallKind.LOCAL:
            fixups[slot] = CodeRef(code.section.index, slot + 1 + insn.imm, is_call=True)
        elif insn.opcode == LDDW_OPCODE and insn.src == PseudoSrc.FUNC:
            raise ElfLoadError(
                f"{image.path}: {_where(code, slot)} loads a function address without a relocation; "
                "the object is damaged (clang always emits one)"
            )
    return fixups
