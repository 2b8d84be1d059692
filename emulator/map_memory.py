"""Maps as memory: where map objects and their values live in a machine's address space.

A program holds two kinds of map pointers: the map itself (``r1 = map[counters]``, only
ever passed to helpers) and pointers to values (what bpf_map_lookup_elem returns, and
global data). Map ``i`` owns a 1 GiB window: its "struct bpf_map" (a small region that
faults when read, because the verifier forbids it) at the window's start, and its values
after the first page, ``round_up(value_size, 8)`` bytes apart by element id, so an array's
values sit exactly as the kernel lays them out. Value regions are made on first use and
kept: a program may still read an element it looked up after the element was deleted or
replaced, as it may in the kernel (RCU), and it then sees the old bytes.

Every backend uses this placement, so pointer values agree across backends.
"""

from __future__ import annotations

from collections.abc import Sequence

from emulator.maps.base import Element, Map
from emulator.maps.spec import MapSpec, MapType
from emulator.memory import MAP_BASE, MAP_WINDOW, AddressSpace, MemoryFaultError, Region

MAP_OBJECT_SIZE = 256
VALUES_OFFSET = 0x1000


class _MapObject:
    """The map pointer's target: the verifier lets programs pass it to helpers only."""

    def __init__(self, name: str) -> None:
        self.name = name

    def load(self, off: int, size: int) -> int:
        raise MemoryFaultError(
            f"read of {size} bytes at map_ptr({self.name})+{off}: a map pointer can "
            "only be passed to helpers, not dereferenced",
            off,
            size,
        )

    def store(self, off: int, size: int, value: int) -> None:
        raise MemoryFaultError(
            f"write of {size} bytes at map_ptr({self.name})+{off}: a map pointer "
            "can only be passed to helpers",
            off,
            size,
        )

    def snapshot(self) -> bytes:
        return b""


def round8(n: int) -> int:
    return (n + 7) & ~7


class MapMemory:
    """The maps of one machine, placed in its address space."""

    def __init__(self, space: AddressSpace, maps: Sequence[Map]) -> None:
        self.space = space
        self.maps = list(maps)
        self._regions: dict[tuple[int, int], Region] = {}  # (map index, element id) -> region
        self._elements: dict[tuple[int, int], Element] = {}
        self.install()

    def install(self) -> None:
        """(Re)create the map-object regions, e.g. after the address space was cleared, and
        the value regions of global data (``.data``/``.rodata``/``.bss``), which programs
        reach through constant addresses rather than through a lookup."""
        self._regions.clear()
        self._elements.clear()
        for index, m in enumerate(self.maps):
            self._add_map_object(index, m)
            if m.spec.is_global_data and m.type is MapType.ARRAY:
                element = m.lookup(bytes(4))
                if element is not None:
                    self.value_ptr(index, element)

    def _add_map_object(self, index: int, m: Map) -> None:
        self.space.add(
            Region(
                f"map:{m.name}#{index}",
                "map",
                self.map_ptr(index),
                bytearray(),
                writable=False,
                label=f"map_ptr({m.name})",
                what=f"map {m.name}",
                handler=_MapObject(m.name),
                vsize=MAP_OBJECT_SIZE,
            )
        )

    @staticmethod
    def map_ptr(index: int) -> int:
        return MAP_BASE + index * MAP_WINDOW

    @staticmethod
    def global_value_ptr(index: int, spec: MapSpec) -> int:
        """Where value 0 of array map ``index`` lives (array element ids are their indexes)."""
        return MAP_BASE + index * MAP_WINDOW + VALUES_OFFSET

    def inner_map_ptr(self, inner: object) -> int:
        """The map pointer of a map found inside a map of maps (placed on first use)."""
        for index, m in enumerate(self.maps):
            if m is inner:
                return self.map_ptr(index)
        assert isinstance(inner, Map)
        self.maps.append(inner)
        self._add_map_object(len(self.maps) - 1, inner)
        return self.map_ptr(len(self.maps) - 1)

    def map_at(self, addr: int) -> tuple[int, Map] | None:
        """The map a map pointer points at (None when it is not one)."""
        off = addr - MAP_BASE
        if off < 0 or off % MAP_WINDOW:
            return None
        index = off // MAP_WINDOW
        if index >= len(self.maps):
            return None
        return index, self.maps[index]

    def value_ptr(self, index: int, element: Element) -> int:
        """The address of ``element``'s value, mapping it on first use."""
        key = (index, element.id)
        region = self._regions.get(key)
        if region is None or region.data is not element.data:
            m = self.maps[index]
            base = self.map_ptr(index) + VALUES_OFFSET + element.id * round8(max(m.value_size, 1))
            name = f"map:{m.name}#{index}[{element.id}]"
            if self.space.get(name) is not None:
                self.space.remove(name)
            writable = not getattr(m.spec, "frozen", False)
            region = Region(
                name,
                "map_value",
                base,
                element.data,
                writable=writable,
                label=f"map_value({m.name})",
                what="map value",
            )
            self.space.add(region)
            self._regions[key] = region
            self._elements[key] = element
        return region.base

    def mapped(self) -> list[tuple[int, Element]]:
        """Every element given an address so far (a checkpoint keeps them reachable)."""
        return [(index, region_elem) for (index, _), region_elem in self._elements.items()]

    def element_at(self, addr: int) -> tuple[str, int] | None:
        """For display: which map value ``addr`` points into, as (map name, offset)."""
        region = self.space.find(addr)
        if region is None or region.kind != "map_value":
            return None
        return region.label[len("map_value(") : -1], addr - region.base
