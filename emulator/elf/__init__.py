"""ELF loading: clang-compiled BPF objects -> :class:`~emulator.bpfobject.BpfObject`.

Public API::

    load_object(path) -> BpfObject        # every program, map, license, BTF; or ElfLoadError
    parse_btf(data) -> Btf                # a .BTF section on its own
    format_value(btf, type_id, data) -> str   # a map key/value as bpftool's JSON shows it
    source_line_at(program, pc) -> SourceLine | None
    classify_section(name) -> SectionKind # libbpf's section name -> program type rules
    KERNEL_PROG_TYPE                      # our prog_type names -> enum bpf_prog_type
    encode_btf(btf) -> bytes              # the BTF blob for BPF_BTF_LOAD
    func_info(btf, program) -> [(pc, type_id)]  # BPF_PROG_LOAD func_info (callbacks need it)

``BpfObject.btf`` is the object's :class:`Btf` (DATASEC layouts filled in from the ELF
file, as libbpf does before loading), so ``MapSpec.key_btf``/``value_btf`` index into it.

Conventions of the BpfObject produced here:

* ``maps`` are in libbpf's order (legacy ``maps``, BTF ``.maps``, then global data by
  section); a relocated ``lddw`` names a map by that index (``src`` MAP_IDX, or
  MAP_IDX_VALUE with the byte offset in ``imm_hi``), as the kernel's ``fd_array`` does;
* global-data maps are named as libbpf names them (``xdp_coun.rodata``, ``.rodata.str1.1``);
* a map-in-map's ``initial`` entries are ``(u32 slot, u32 index into maps)``; a
  prog_array's slots are ``initial_programs`` (slot, program name);
* ``Program.symbols`` gives the entry pc of the program and of every subprogram appended
  after it (libbpf's depth-first order); ``Program.lines`` is sparse (see
  :func:`source_line_at`).
"""

from emulator.elf.btf import Btf, BtfError, BtfKind, BtfMember, BtfType, parse_btf
from emulator.elf.btf_encode import encode_btf, func_info
from emulator.elf.btf_format import format_value
from emulator.elf.lineinfo import source_line_at
from emulator.elf.loader import load_object
from emulator.elf.section_names import KERNEL_PROG_TYPE, SectionKind, classify_section

__all__ = [
    "KERNEL_PROG_TYPE",
    "Btf",
    "BtfError",
    "BtfKind",
    "BtfMember",
    "BtfType",
    "SectionKind",
    "classify_section",
    "encode_btf",
    "format_value",
    "func_info",
    "load_object",
    "parse_btf",
    "source_line_at",
]
