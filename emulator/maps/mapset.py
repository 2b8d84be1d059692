"""MapSet: the maps of one program (or object), built from its MapSpecs, plus the dump that
``bpfdbg run --json`` prints.

Index-aligned with the specs (a program's ``lddw`` map index is the index here). Each map
gets an id (index + 1; inner maps created later get the next ones): the number a
user-space lookup in a map-in-map returns, and what ``update`` of a map-in-map resolves.
Initial contents are applied as user space would before loading (BPF_ANY updates), then
``.rodata``-style maps are frozen.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from emulator.maps.base import Map, MapError, errno_name
from emulator.maps.factory import create_map
from emulator.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from emulator.maps.perf import PerfEventArrayMap
from emulator.maps.ringbuf import RingBufMap
from emulator.maps.spec import BPF_ANY, MapSpec

DumpEntry = dict[str, object]


class MapSet:
    """All maps of a list of MapSpecs, with their initial contents applied."""

    def __init__(self, specs: Sequence[MapSpec], ncpus: int = 2, *, rng: random.Random | None = None) -> None:
        self.specs = tuple(specs)
        self.ncpus = ncpus
        self.rng = rng
        self.maps: list[Map] = [create_map(spec, ncpus, rng=rng) for spec in self.specs]
        self._by_id: dict[int, Map] = {}
        for m in self.maps:
            self.register(m)
        for m in self.maps:
            if isinstance(m, ArrayOfMapsMap | HashOfMapsMap):
                m.resolve = self.by_id
        for spec, m in zip(self.specs, self.maps, strict=True):
            self._apply_initial(spec, m)

    # -- access -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.maps)

    def __iter__(self) -> Iterator[Map]:
        return iter(self.maps)

    def __getitem__(self, which: int | str) -> Map:
        """A map by index, or by name (KeyError lists the names)."""
        if isinstance(which, int):
            return self.maps[which]
        for m in self.maps:
            if m.name == which:
                return m
        raise KeyError(f"no map {which!r}; maps: {', '.join(m.name for m in self.maps) or 'none'}")

    def by_id(self, map_id: int) -> Map | None:
        return self._by_id.get(map_id)

    def register(self, m: Map) -> int:
        """Give ``m`` the next map id (so map-in-map updates can name it)."""
        if not m.map_id:
            m.map_id = max(self._by_id, default=0) + 1
            self._by_id[m.map_id] = m
        return m.map_id

    def new_inner(self, outer: int | str | Map) -> Map:
        """A fresh, empty map shaped like ``outer``'s inner template, registered here, ready
        for ``outer.update_ref(key, inner)``."""
        m = outer if isinstance(outer, Map) else self[outer]
        if m.spec.inner is None:
            raise MapError(f"map {m.name!r} is not a map of maps")
        inner = create_map(m.spec.inner, self.ncpus, rng=self.rng)
        self.register(inner)
        return inner

    # -- initial contents -----------------------------------------------------------------
    def _apply_initial(self, spec: MapSpec, m: Map) -> None:
        for key, value in spec.initial:
            if isinstance(m, ArrayOfMapsMap | HashOfMapsMap):
                index = int.from_bytes(value[:4], "little")
                if not 0 <= index < len(self.maps):
                    raise MapError(f"map {m.name!r}: initial value names map #{index}, which does not exist")
                err = m.update_ref(key, self.maps[index], BPF_ANY)
            else:
                err = m.update(key, value, BPF_ANY)
            if err:
                raise MapError(
                    f"map {m.name!r}: initial entry {key.hex() or '-'} refused ({errno_name(err)})"
                )
        if isinstance(m, ProgArrayMap):
            for index, prog in spec.initial_programs:
                err = m.update_ref(index.to_bytes(4, "little"), prog, BPF_ANY)
                if err:
                    raise MapError(f"map {m.name!r}: slot {index} <- {prog!r} refused ({errno_name(err)})")
        if spec.frozen:
            m.freeze()

    # -- the JSON dump ----------------------------------------------------------------------
    def dump(self) -> dict[str, list[DumpEntry]]:
        """Every map's contents in DESIGN.md's shape, keyed by map name: ``{"key": hex,
        "value": hex}`` per entry, ``"values": [{"cpu": n, "value": hex}]`` for percpu maps.
        Extras where a map holds more than bytes: ``"program"`` for prog_array slots,
        ``"map"`` and ``"inner"`` (the inner map's dump) for maps of maps, ``"record"`` per
        ring buffer record and ``{"cpu", "record"}`` per perf event output."""
        return {m.name: dump_map(m) for m in self.maps}


def dump_map(m: Map) -> list[DumpEntry]:
    """One map's entries as JSON-able dicts (see MapSet.dump)."""
    if isinstance(m, RingBufMap):
        return [{"record": r.hex()} for r in m.records()]
    if isinstance(m, PerfEventArrayMap):
        return [{"cpu": index, "record": data.hex()} for index, data in m.records()]
    if isinstance(m, ProgArrayMap):
        return [
            {"key": i.to_bytes(4, "little").hex(), "value": _ref_id(ref), "program": ref}
            for i, ref in m.refs()
        ]
    if isinstance(m, ArrayOfMapsMap | HashOfMapsMap):
        rows: list[DumpEntry] = []
        pairs = (
            [(i.to_bytes(4, "little"), ref) for i, ref in m.refs()]
            if isinstance(m, ArrayOfMapsMap)
            else m.refs()
        )
        for key, ref in pairs:
            assert isinstance(ref, Map)
            rows.append(
                {
                    "key": key.hex(),
                    "value": ref.map_id.to_bytes(4, "little").hex(),
                    "map": ref.name,
                    "inner": dump_map(ref),
                }
            )
        return rows
    out: list[DumpEntry] = []
    for key, value in m.items():
        if isinstance(value, list):
            out.append(
                {"key": key.hex(), "values": [{"cpu": c, "value": v.hex()} for c, v in enumerate(value)]}
            )
        else:
            out.append({"key": key.hex(), "value": value.hex()})
    return out


def _ref_id(ref: object) -> str:
    return (ref if isinstance(ref, int) else 0).to_bytes(4, "little").hex()
