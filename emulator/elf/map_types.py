"""Map type numbers from an object file, checked against ``enum bpf_map_type``."""

from __future__ import annotations

from emulator.errors import ElfLoadError
from emulator.maps.spec import MapType


def map_type_from_number(path: str, map_name: str, number: int) -> MapType:
    """The MapType for ``number``; an ElfLoadError naming the map for numbers the kernel
    headers bpfdbg knows do not have (a newer kernel's type, or a damaged definition)."""
    try:
        return MapType(number)
    except ValueError:
        known = max(MapType)
        raise ElfLoadError(
            f"{path}: map {map_name!r} has map type {number}, which bpfdbg does not know "
            f"(known: 0-{int(known)}, enum bpf_map_type in linux/bpf.h); check the map's type field"
        ) from None
