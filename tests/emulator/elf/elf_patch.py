"""Damaged copies of fixtures, made by changing a few bytes where a field lives."""

from __future__ import annotations

import struct
from pathlib import Path

from emulator.elf.image import read_image
from tests.emulator.elf.paths import fixture


def section_offset(name: str, section: str) -> int:
    """File offset of ``section``'s bytes in fixture ``name``."""
    image = read_image(fixture(name))
    sec = image.section_named(section)
    assert sec is not None, f"{name} has no section {section}"
    return int(image.elffile.get_section(sec.index)["sh_offset"])


def symbol_entry_offset(name: str, symbol: str) -> int:
    """File offset of the .symtab entry of ``symbol`` in fixture ``name``."""
    image = read_image(fixture(name))
    sym = next(s for s in image.symbols if s.name == symbol)
    return section_offset(name, ".symtab") + 24 * sym.index


def patched(tmp: Path, name: str, edits: dict[int, bytes], suffix: str = "") -> Path:
    """A copy of fixture ``name`` in ``tmp`` with ``edits`` (file offset -> new bytes)."""
    data = bytearray(fixture(name).read_bytes())
    for offset, raw in edits.items():
        data[offset : offset + len(raw)] = raw
    out = tmp / f"{name}{suffix}.o"
    out.write_bytes(bytes(data))
    return out


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)
