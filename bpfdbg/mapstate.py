"""Map contents as plain data: what ``map snapshot``, ``map diff`` and the run-start record
(``Session.maps_at_run_start``) keep.

Values are in the syscall's layout (per-CPU maps: one 8-byte-aligned slot per CPU), which
is what ``update`` takes back. Kept out of the command modules because the stepping engine
records them too.
"""

from __future__ import annotations

from emulator.maps import Map, MapSet
from emulator.maps.base import round8
from emulator.maps.perf import PerfEventArrayMap
from emulator.maps.ringbuf import RingBufMap

Entries = list[tuple[bytes, bytes]]
Snapshot = dict[str, Entries]


def _slots(m: Map, value: bytes | list[bytes]) -> bytes:
    """A display value in the syscall's layout (per-CPU: each CPU's value padded to 8)."""
    if isinstance(value, list):
        stride = round8(m.value_size)
        return b"".join(v.ljust(stride, b"\0") for v in value)
    return value


def map_entries(m: Map) -> Entries:
    """One map's contents as (key, value) pairs that ``update`` takes back. Ring buffer and
    perf records are listed with their sequence number as key, so a diff shows the records
    a run added (they cannot be restored)."""
    if isinstance(m, RingBufMap):
        return [(i.to_bytes(4, "little"), r) for i, r in enumerate(m.records())]
    if isinstance(m, PerfEventArrayMap):
        return [(i.to_bytes(4, "little"), r) for i, (_, r) in enumerate(m.records())]
    return [(key, _slots(m, value)) for key, value in m.items()]


def capture_maps(maps: MapSet) -> Snapshot:
    """Every map's contents (:func:`map_entries`), keyed by map name."""
    return {m.name: map_entries(m) for m in maps}
