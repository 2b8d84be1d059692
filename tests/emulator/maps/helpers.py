"""Small builders shared by the map tests."""

from __future__ import annotations

import struct

from emulator.maps import Map, MapSpec, MapType, create_map
from emulator.maps.spec import F_NO_PREALLOC


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def u64(i: int) -> bytes:
    return struct.pack("<Q", i)


def lpm_key(prefixlen: int, *octets: int) -> bytes:
    return struct.pack("<I", prefixlen) + bytes(octets)


def make(
    kind: MapType,
    key_size: int = 4,
    value_size: int = 8,
    max_entries: int = 4,
    flags: int = 0,
    ncpus: int = 2,
    **extra: object,
) -> Map:
    if kind == MapType.LPM_TRIE:
        flags |= F_NO_PREALLOC
    return create_map(MapSpec("m", kind, key_size, value_size, max_entries, flags=flags, **extra), ncpus)  # type: ignore[arg-type]


def keys(m: Map) -> list[bytes]:
    return [k for k, _ in m.items()]


def walk(m: Map) -> list[bytes]:
    """Every key by get_next_key, as user space iterates."""
    out = []
    key = m.get_next_key(None)
    while key is not None:
        out.append(key)
        key = m.get_next_key(key)
    return out
