"""create_map: a MapSpec -> the Map of its family, checked the way BPF_MAP_CREATE checks it.

One table from map type to class; a type we do not model is refused by name, so a program
that needs a sockmap says so up front instead of failing somewhere in a helper.
"""

from __future__ import annotations

import errno
import random

from emulator.maps.array import ArrayMap, PercpuArrayMap
from emulator.maps.base import Map, MapCreateError, MapError
from emulator.maps.devmap import CpuMap, DevMap, DevMapHash, XskMap
from emulator.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from emulator.maps.hashtab import HashMap, PercpuHashMap
from emulator.maps.lpm import LpmTrieMap
from emulator.maps.lru import LruHashMap, LruPercpuHashMap
from emulator.maps.perf import PerfEventArrayMap
from emulator.maps.queue import QueueMap, StackMap
from emulator.maps.ringbuf import RingBufMap
from emulator.maps.spec import F_RDONLY, F_WRONLY, MapSpec, MapType

MAP_CLASSES: dict[MapType, type[Map]] = {
    MapType.ARRAY: ArrayMap,
    MapType.PERCPU_ARRAY: PercpuArrayMap,
    MapType.HASH: HashMap,
    MapType.PERCPU_HASH: PercpuHashMap,
    MapType.LRU_HASH: LruHashMap,
    MapType.LRU_PERCPU_HASH: LruPercpuHashMap,
    MapType.LPM_TRIE: LpmTrieMap,
    MapType.PROG_ARRAY: ProgArrayMap,
    MapType.ARRAY_OF_MAPS: ArrayOfMapsMap,
    MapType.HASH_OF_MAPS: HashOfMapsMap,
    MapType.DEVMAP: DevMap,
    MapType.DEVMAP_HASH: DevMapHash,
    MapType.CPUMAP: CpuMap,
    MapType.XSKMAP: XskMap,
    MapType.RINGBUF: RingBufMap,
    MapType.PERF_EVENT_ARRAY: PerfEventArrayMap,
    MapType.QUEUE: QueueMap,
    MapType.STACK: StackMap,
}

_SEEDED = (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.HASH_OF_MAPS)


class UnsupportedMapError(MapError):
    """A map type the kernel has and bpfdbg does not model."""

    def __init__(self, spec: MapSpec) -> None:
        try:
            label = MapType(spec.type).label
        except ValueError:
            label = f"#{int(spec.type)}"
        supported = ", ".join(t.label for t in MAP_CLASSES)
        super().__init__(
            f"map {spec.name!r}: map type {label} is not supported by bpfdbg (supported: {supported})"
        )
        self.map_type = spec.type


def create_map(spec: MapSpec, ncpus: int = 2, *, rng: random.Random | None = None) -> Map:
    """A new, empty map for ``spec`` on a machine with ``ncpus`` CPUs.

    Raises MapCreateError (with the kernel's errno) for a spec BPF_MAP_CREATE would refuse,
    UnsupportedMapError for a type bpfdbg does not model. ``rng`` draws the hash seed of
    hash maps created without BPF_F_ZERO_SEED (none: seed 0, see hashtab.py).
    """
    try:
        cls = MAP_CLASSES[MapType(spec.type)]
    except (KeyError, ValueError):
        raise UnsupportedMapError(spec) from None
    if spec.flags & F_RDONLY and spec.flags & F_WRONLY:  # bpf_get_file_flag, before any type check
        raise MapCreateError(spec, -errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY exclude each other")
    cls.validate(spec, ncpus)
    if spec.inner is not None and spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        create_map(spec.inner, ncpus)  # the template must itself be a valid map
    if spec.type in _SEEDED:
        return cls(spec, ncpus, rng=rng)  # type: ignore[call-arg]
    return cls(spec, ncpus)
