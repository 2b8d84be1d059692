"""Give BTF DATASECs the sizes and variable offsets that the ELF file knows.

clang writes each DATASEC of a ``.o`` with size 0 and every variable at offset 0 (the
linker would fill them in, and BPF objects are never linked): the real numbers are the
section's size and each variable's symbol value. libbpf patches them before it loads the
BTF (``btf_fixup_datasec``); so does this module, so that a ``.data`` map's value can be
shown variable by variable, and variables are listed in offset order as libbpf leaves them.
"""

from __future__ import annotations

from dataclasses import replace

from emulator.elf.btf import Btf, BtfKind, BtfType, BtfVarSecinfo
from emulator.elf.image import STT_SECTION, ElfImage


def fix_datasec_layout(image: ElfImage, btf: Btf) -> Btf:
    """A copy of ``btf`` whose DATASECs match the object's sections and symbols.

    DATASECs with no ELF section (``.kconfig``, ``.ksyms``) and variables without a symbol
    are left as clang wrote them.
    """
    replaced: dict[int, BtfType] = {}
    for t in btf:
        if t.kind is not BtfKind.DATASEC:
            continue
        section = image.section_named(t.name)
        if section is None:
            continue
        offsets = {
            s.name: s.value
            for s in image.symbols
            if s.shndx == section.index and s.name and s.type != STT_SECTION
        }
        infos = []
        for info in t.secinfos:
            var = btf.type(info.type)
            offset = offsets.get(var.name, info.offset)
            infos.append(BtfVarSecinfo(info.type, offset, info.size))
        infos.sort(key=lambda i: i.offset)
        replaced[t.id] = replace(t, size=t.size or section.size, secinfos=tuple(infos))
    return btf.with_types(replaced) if replaced else btf
