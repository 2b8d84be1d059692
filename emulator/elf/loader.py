"""``load_object``: a clang-compiled BPF object file -> :class:`BpfObject`.

The stages, each in its own module:

1. :mod:`~emulator.elf.image` reads and checks the ELF file (pyelftools);
2. :mod:`~emulator.elf.btf` / :mod:`~emulator.elf.btf_ext` parse the type and line info;
3. maps come from ``maps`` (:mod:`~emulator.elf.legacy_maps`), ``.maps``
   (:mod:`~emulator.elf.btf_maps`) and the global-data sections
   (:mod:`~emulator.elf.global_data`), in that order, which is libbpf's;
4. code sections are cut into functions (:mod:`~emulator.elf.functions`), their
   relocations decided (:mod:`~emulator.elf.relocations`), and every global function of a
   program section is assembled with its callees into one Program
   (:mod:`~emulator.elf.linker`), with its source lines (:mod:`~emulator.elf.lineinfo`).

Every problem is one :class:`ElfLoadError` whose message names the file, what is wrong
and what to do. An unexpected exception from a damaged file (pyelftools, struct) is
turned into one too: a debugger must not die on a bad input file.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from emulator.bpfobject import BpfObject
from emulator.diagnostics import Diagnostic, Severity
from emulator.elf.btf import Btf, BtfError, BtfKind, parse_btf
from emulator.elf.btf_ext import BtfExt, CoreRelocation, parse_btf_ext
from emulator.elf.btf_maps import MapDefinition, read_btf_maps
from emulator.elf.datasec_layout import fix_datasec_layout
from emulator.elf.dwarf_lines import dwarf_section_lines
from emulator.elf.functions import CodeSection, Function, read_code_section
from emulator.elf.global_data import read_global_data
from emulator.elf.image import ElfImage, Symbol, read_image
from emulator.elf.legacy_maps import LEGACY_SECTION, read_legacy_maps
from emulator.elf.lineinfo import SectionLines, btf_ext_lines, program_lines
from emulator.elf.linker import Placement, link_program
from emulator.elf.relocations import Fixup, MapLocator, section_fixups, symbol_label
from emulator.elf.section_names import classify_section
from emulator.errors import ElfLoadError
from emulator.isa.insn import SLOT_SIZE
from emulator.isa.validate import validate
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program

TEXT_SECTION = ".text"  # bpf-to-bpf subprograms only, never an entry point (libbpf)
BTF_MAPS_SECTION = ".maps"
# Sections that never hold programs, left out when listing what an object does have.
_METADATA_PREFIXES = (".debug", ".rel", ".BTF", ".llvm", ".strtab", ".symtab", ".shstrtab")


def load_object(path: str | Path) -> BpfObject:
    """Load every program and map of a BPF object file; ElfLoadError says why not."""
    shown = str(path)
    try:
        return _load(shown)
    except ElfLoadError as err:
        text = str(err)
        if shown in text:
            raise
        raise ElfLoadError(f"{shown}: {text}") from None
    except (RecursionError, MemoryError) as err:
        raise ElfLoadError(f"{shown} is damaged: {type(err).__name__} while reading it") from err
    except Exception as err:  # a damaged file tripped a parser: report it, do not crash
        raise ElfLoadError(
            f"{shown} is damaged or not a BPF object ({type(err).__name__}: {err}); "
            "recompile it with clang -O2 -g -target bpf -c"
        ) from err


def _load(path: str) -> BpfObject:
    image = read_image(path)
    btf, ext = _read_btf(image)
    _reject_externs(image, btf)
    code_sections = _code_sections(image)
    entries = _entry_functions(image, code_sections)
    maps = _read_maps(image, btf)
    locator = _locate(maps)
    fixups = {
        index: section_fixups(image, code, locator, code_sections) for index, code in code_sections.items()
    }
    programs_by_slot = {(f.section_index, f.start): f.name for f in entries}
    specs = tuple(_finish_map(image, d, locator, code_sections, programs_by_slot) for d in maps)
    license_ = _license(image)
    lines, line_problem = (btf_ext_lines(ext), "") if ext is not None else dwarf_section_lines(image)
    notes = (Diagnostic(0, "line-info", line_problem, severity=Severity.WARNING),) if line_problem else ()
    core = ext.core_relocations if ext is not None else {}
    programs = tuple(
        _build_program(image, func, code_sections, fixups, lines, license_, notes, core) for func in entries
    )
    return BpfObject(path=path, programs=programs, maps=specs, license=license_, btf=btf)


# -- BTF -----------------------------------------------------------------------------------


def _read_btf(image: ElfImage) -> tuple[Btf | None, BtfExt | None]:
    btf_section = image.section_named(".BTF")
    ext_section = image.section_named(".BTF.ext")
    if btf_section is None:
        return None, None
    try:
        btf = fix_datasec_layout(image, parse_btf(btf_section.data))
        ext = parse_btf_ext(ext_section.data, btf) if ext_section is not None else None
    except BtfError as err:
        raise ElfLoadError(f"{image.path}: bad BTF: {err}; recompile with clang -g -target bpf") from None
    return btf, ext


def _extern_kind(btf: Btf | None, name: str) -> str:
    """What kind of extern ``name`` is, from the .kconfig/.ksyms DATASECs clang writes."""
    if btf is not None:
        for datasec_name in (".kconfig", ".ksyms"):
            datasec = btf.find(datasec_name, BtfKind.DATASEC)
            for info in datasec.secinfos if datasec is not None else ():
                entry = btf.type(info.type)
                if entry.name != name:
                    continue
                if entry.kind is BtfKind.FUNC:
                    return "a kfunc (a .ksyms extern function)"
                return f"a {datasec_name} extern variable"
    return "an extern (undefined) symbol"


def _reject_externs(image: ElfImage, btf: Btf | None) -> None:
    for sym in image.symbols:
        if sym.is_extern:
            raise ElfLoadError(
                f"{image.path}: {sym.name!r} is {_extern_kind(btf, sym.name)}; externs (.kconfig values, "
                ".ksyms kernel symbols and kfuncs) are not supported yet: remove it or give the value in "
                "the program (e.g. a const volatile global)"
            )


# -- code ----------------------------------------------------------------------------------


def _code_sections(image: ElfImage) -> dict[int, CodeSection]:
    return {
        sec.index: read_code_section(image, sec) for sec in image.sections[1:] if sec.is_exec and sec.size
    }


def _entry_functions(image: ElfImage, code_sections: Mapping[int, CodeSection]) -> list[Function]:
    """Global functions of the program sections, in file order (static ones only if a
    section has nothing else: then they are its programs)."""
    entries: list[Function] = []
    for code in code_sections.values():
        if code.name == TEXT_SECTION:
            continue
        funcs = [f for f in code.functions if f.is_global] or list(code.functions)
        entries.extend(funcs)
    if not entries:
        names = ", ".join(n for n in image.section_names if not n.startswith(_METADATA_PREFIXES)) or "none"
        raise ElfLoadError(
            f"no BPF programs found in {image.path} (sections: {names}); put each program in a "
            'section such as SEC("xdp"), SEC("tc") or SEC("socket")'
        )
    return entries


def _build_program(
    image: ElfImage,
    entry: Function,
    code_sections: Mapping[int, CodeSection],
    fixups: Mapping[int, Mapping[int, Fixup]],
    lines: SectionLines,
    license_: str,
    notes: tuple[Diagnostic, ...],
    core: Mapping[str, tuple[CoreRelocation, ...]],
) -> Program:
    linked = link_program(image.path, entry, code_sections, fixups)
    notes = notes + _core_warnings(linked.placements, core)
    diagnostics = validate(linked.insns)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ElfLoadError(
            f"{image.path}: program {entry.name} (section {entry.section}) is not valid BPF: "
            f"{errors[0]}{more}"
        )
    kind = classify_section(entry.section)
    warnings = [*notes, *diagnostics]
    if kind.warning:
        warnings.insert(0, Diagnostic(0, "section-name", kind.warning, severity=Severity.WARNING))
    return Program(
        insns=linked.insns,
        name=entry.name,
        prog_type=kind.prog_type,
        section=entry.section,
        symbols=MappingProxyType({p.pc: p.function.name for p in linked.placements}),
        warnings=tuple(warnings),
        lines=program_lines(linked.placements, lines),
        license=license_,
    )


def _core_warnings(
    placements: Sequence[Placement], core: Mapping[str, tuple[CoreRelocation, ...]]
) -> tuple[Diagnostic, ...]:
    """One warning per instruction carrying a CO-RE relocation, which is not applied."""
    out = []
    for placement in placements:
        func = placement.function
        for relo in core.get(func.section, ()):
            slot = relo.insn_off // SLOT_SIZE
            if func.start <= slot < func.end:
                pc = placement.pc + slot - func.start
                out.append(
                    Diagnostic(
                        pc,
                        "core-relocation",
                        f"CO-RE relocation (kind {relo.kind}, access {relo.access}) is not applied: the "
                        "instruction keeps the offset clang computed from the program's own type definitions",
                        severity=Severity.WARNING,
                    )
                )
    return tuple(sorted(out, key=lambda d: d.pc))


def _license(image: ElfImage) -> str:
    section = image.section_named("license")
    if section is None:
        return ""
    return section.data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


# -- maps ----------------------------------------------------------------------------------


def _rel_entries(image: ElfImage, section_index: int) -> list[tuple[int, int, Symbol]]:
    return [(r.offset, r.type, r.symbol) for r in image.relocations.get(section_index, ())]


def _read_maps(image: ElfImage, btf: Btf | None) -> list[MapDefinition]:
    maps: list[MapDefinition] = []
    legacy = image.section_named(LEGACY_SECTION)
    if legacy is not None and not legacy.is_exec:
        maps.extend(read_legacy_maps(image, legacy))
    btf_maps = image.section_named(BTF_MAPS_SECTION)
    if btf_maps is not None:
        try:
            maps.extend(read_btf_maps(image, btf, btf_maps, _rel_entries(image, btf_maps.index)))
        except BtfError as err:
            raise ElfLoadError(f"{err}; check the map definition") from None
    maps.extend(read_global_data(image, btf))
    return maps


def _locate(maps: list[MapDefinition]) -> MapLocator:
    by_definition: dict[tuple[int, int], int] = {}
    by_data: dict[int, int] = {}
    for index, definition in enumerate(maps):
        if definition.whole_section:
            by_data[definition.section_index] = index
        else:
            by_definition[(definition.section_index, definition.offset)] = index
    return MapLocator(MappingProxyType(by_definition), MappingProxyType(by_data))


def _finish_map(
    image: ElfImage,
    definition: MapDefinition,
    locator: MapLocator,
    code_sections: Mapping[int, CodeSection],
    programs_by_slot: Mapping[tuple[int, int], str],
) -> MapSpec:
    """Resolve ``.values = { [i] = &x }``: program names for a prog_array, map indexes for
    map-in-map (stored as ``initial`` entries: u32 slot -> u32 index into BpfObject.maps,
    the same index a MAP_IDX lddw uses)."""
    spec = definition.spec
    if not definition.slot_refs:
        return spec
    name = spec.name
    if spec.type is MapType.PROG_ARRAY:
        progs: list[tuple[int, str]] = []
        for slot, sym in definition.slot_refs:
            code = code_sections.get(sym.shndx)
            prog = programs_by_slot.get((sym.shndx, sym.value // SLOT_SIZE)) if code is not None else None
            if prog is None:
                raise ElfLoadError(
                    f"{image.path}: prog_array {name!r} slot {slot} refers to {symbol_label(image, sym)!r}, "
                    "which is not a program of this object"
                )
            progs.append((slot, prog))
        return replace(spec, initial_programs=tuple(progs))
    entries: list[tuple[bytes, bytes]] = []
    for slot, sym in definition.slot_refs:
        index = locator.by_definition.get((sym.shndx, sym.value))
        if index is None:
            raise ElfLoadError(
                f"{image.path}: map {name!r} slot {slot} refers to {symbol_label(image, sym)!r}, "
                "which is not a map"
            )
        entries.append((struct.pack("<I", slot), struct.pack("<I", index)))
    return replace(spec, initial=tuple(entries))
