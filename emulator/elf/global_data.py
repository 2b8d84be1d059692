"""Global variables as maps: ``.data``, ``.rodata``, ``.bss`` and their ``.*`` variants.

The kernel has no global variables. libbpf turns each global-data section into an ARRAY map
of one entry whose value is the whole section (``.bss`` zeroed; ``.rodata`` frozen and
read-only to programs), and points every ``lddw`` of a variable at that value plus the
variable's offset (:mod:`emulator.elf.relocations`). String literals land in
``.rodata.str1.1`` and friends, which are ``.rodata.*`` sections and so maps too.

Map names are libbpf's, so bpfdbg, bpftool and the kernel agree on them: up to 8
characters of the object's name (the file name up to its first ``.``) and the section name
with at least 7 characters reserved for it (``xdp_coun.rodata``, ``global_d.bss``), except
that a section name with a second dot (``.rodata.str1.1``, ``.data.tuning``) is used alone;
at most 15 characters in all, and characters the kernel rejects become ``_``.
"""

from __future__ import annotations

from pathlib import Path

from emulator.elf.btf import Btf, BtfKind
from emulator.elf.btf_maps import MapDefinition
from emulator.elf.image import SHT_NOBITS, SHT_PROGBITS, ElfImage, Section
from emulator.errors import ElfLoadError
from emulator.maps.spec import F_MMAPABLE, F_RDONLY_PROG, MapSpec, MapType

OBJ_NAME_LEN = 16  # BPF_OBJ_NAME_LEN, with the terminating NUL
# Far above what the kernel accepts as an array value (KMALLOC_MAX_SIZE, a few MiB), low
# enough that a damaged .bss size cannot make the loader allocate gigabytes of zeros.
MAX_SECTION_SIZE = 64 << 20
_KINDS = (".data", ".rodata", ".bss")


def global_data_kind(section: Section) -> str | None:
    """``.data``, ``.rodata`` or ``.bss`` for a global-data section, else None.

    Empty sections make no map (the kernel rejects a zero value size).
    """
    if section.size == 0 or section.type not in (SHT_PROGBITS, SHT_NOBITS) or section.is_exec:
        return None
    for kind in _KINDS:
        if section.name == kind or section.name.startswith(kind + "."):
            if (kind == ".bss") != (section.type == SHT_NOBITS):
                return None
            return kind
    return None


def object_name(path: str) -> str:
    """libbpf's object name: the file name up to its first dot, at most 15 characters."""
    return Path(path).name[: OBJ_NAME_LEN - 1].split(".", 1)[0]


def internal_map_name(obj_name: str, section_name: str) -> str:
    """The name libbpf gives the map of a global-data section (see the module docstring)."""
    suffix_len = min(max(7, len(section_name)), OBJ_NAME_LEN - 1)
    prefix_len = 0 if "." in section_name[1:] else min(OBJ_NAME_LEN - suffix_len - 1, len(obj_name))
    name = (obj_name[:prefix_len] + section_name[:suffix_len])[: OBJ_NAME_LEN - 1]
    return "".join(c if c.isascii() and (c.isalnum() or c in "_.") else "_" for c in name)


def read_global_data(image: ElfImage, btf: Btf | None) -> list[MapDefinition]:
    """One map per non-empty global-data section, in section order (libbpf's order)."""
    obj = object_name(image.path)
    out: list[MapDefinition] = []
    for section in image.sections[1:]:
        kind = global_data_kind(section)
        if kind is None:
            continue
        if section.size > MAX_SECTION_SIZE:
            raise ElfLoadError(
                f"{image.path}: global-data section {section.name} is {section.size} bytes; no BPF map value "
                "can be that large (the kernel allows a few MiB), so the file is damaged"
            )
        datasec = btf.find(section.name, BtfKind.DATASEC) if btf is not None else None
        value = bytes(section.size) if kind == ".bss" else section.data
        spec = MapSpec(
            name=internal_map_name(obj, section.name),
            type=MapType.ARRAY,
            key_size=4,
            value_size=section.size,
            max_entries=1,
            flags=(F_RDONLY_PROG if kind == ".rodata" else 0) | F_MMAPABLE,
            section=section.name,
            initial=((bytes(4), value),),
            value_btf=datasec.id if datasec is not None else 0,
            frozen=kind == ".rodata",
        )
        out.append(MapDefinition(spec, section.index, 0, section.size, whole_section=True))
    return out
