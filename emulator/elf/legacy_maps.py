"""Maps declared the pre-BTF way: ``struct bpf_map_def`` variables in a section named ``maps``.

Each symbol in the section is one map; its definition is five u32s: type, key_size,
value_size, max_entries, map_flags. Loaders that grew the struct (iproute2's
``bpf_elf_map`` adds id, pinning, inner_id, inner_idx after those five) keep the same
first five fields, so the extra words are ignored here; a definition shorter than five
words is zero-extended, as libbpf 0.x did.
"""

from __future__ import annotations

import struct

from emulator.elf.btf_maps import MapDefinition
from emulator.elf.image import STT_SECTION, ElfImage, Section
from emulator.elf.map_types import map_type_from_number
from emulator.errors import ElfLoadError
from emulator.maps.spec import MapSpec

LEGACY_SECTION = "maps"
_DEF_WORDS = 5


def read_legacy_maps(image: ElfImage, section: Section) -> list[MapDefinition]:
    """Maps of the legacy ``maps`` section, in the order of their offsets."""
    symbols = sorted(
        (s for s in image.symbols if s.shndx == section.index and s.name and s.type != STT_SECTION),
        key=lambda s: s.value,
    )
    if not symbols:
        if section.size:
            raise ElfLoadError(
                f"{image.path}: the legacy 'maps' section has {section.size} bytes "
                "but no symbols naming its maps"
            )
        return []
    even_size = section.size // len(symbols)
    out: list[MapDefinition] = []
    for sym in symbols:
        size = sym.size or even_size
        if sym.value + size > section.size or size == 0:
            raise ElfLoadError(
                f"{image.path}: legacy map {sym.name!r} (bytes {sym.value}-{sym.value + size}) does not fit "
                f"in the 'maps' section ({section.size} bytes)"
            )
        raw = section.data[sym.value : sym.value + min(size, 4 * _DEF_WORDS)].ljust(4 * _DEF_WORDS, b"\0")
        map_type, key_size, value_size, max_entries, flags = struct.unpack("<5I", raw)
        spec = MapSpec(
            name=sym.name,
            type=map_type_from_number(image.path, sym.name, map_type),
            key_size=key_size,
            value_size=value_size,
            max_entries=max_entries,
            flags=flags,
            section=LEGACY_SECTION,
        )
        out.append(MapDefinition(spec, section.index, sym.value, size))
    return out
