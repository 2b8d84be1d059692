"""create_map's BPF_MAP_CREATE checks, unsupported types, and MapSet (initial contents, ids,
the ``bpfdbg run --json`` dump)."""

from __future__ import annotations

import errno
import json

import pytest

from emulator.maps import (
    ENOTSUPP,
    MAP_CLASSES,
    MapCreateError,
    MapError,
    MapSet,
    MapSpec,
    MapType,
    UnsupportedMapError,
    create_map,
)
from emulator.maps.spec import F_NO_COMMON_LRU, F_NO_PREALLOC, F_RDONLY_PROG, F_WRONLY_PROG

from .helpers import lpm_key, u32, u64

T = MapType
# (type, key_size, value_size, max_entries, flags, inner, errno or 0): each row observed on the
# reference kernel (BPF_MAP_CREATE), so these are the kernel's answers, not our guesses
CREATE = [
    (T.ARRAY, 8, 4, 4, 0, None, errno.EINVAL),
    (T.ARRAY, 4, 0, 4, 0, None, errno.EINVAL),
    (T.ARRAY, 4, 4, 0, 0, None, errno.EINVAL),
    (T.ARRAY, 4, 4, 4, F_NO_PREALLOC, None, errno.EINVAL),
    (T.PERCPU_ARRAY, 4, 32768, 4, 0, None, 0),
    (T.HASH, 0, 4, 4, 0, None, errno.EINVAL),
    (T.HASH, 4, 4, 4, F_NO_COMMON_LRU, None, errno.EINVAL),
    (T.HASH, 4, 4, 4, F_RDONLY_PROG | F_WRONLY_PROG, None, errno.EINVAL),
    (T.HASH, 4096, 4, 4, 0, None, 0),
    (T.PERCPU_HASH, 4, 32769, 4, 0, None, errno.E2BIG),
    (T.LRU_HASH, 4, 4, 4, F_NO_PREALLOC, None, ENOTSUPP),
    (T.LRU_HASH, 4, 4, 1, F_NO_COMMON_LRU, None, 0),
    (T.LPM_TRIE, 8, 4, 4, 0, None, errno.EINVAL),  # needs BPF_F_NO_PREALLOC
    (T.LPM_TRIE, 4, 4, 4, F_NO_PREALLOC, None, errno.EINVAL),
    (T.LPM_TRIE, 261, 4, 4, F_NO_PREALLOC, None, errno.EINVAL),
    (T.LPM_TRIE, 260, 4, 4, F_NO_PREALLOC, None, 0),
    (T.QUEUE, 4, 4, 4, 0, None, errno.EINVAL),
    (T.QUEUE, 0, 4, 4, F_NO_PREALLOC, None, errno.EINVAL),
    (T.RINGBUF, 0, 0, 12288, 0, None, errno.EINVAL),
    (T.RINGBUF, 0, 0, 2048, 0, None, errno.EINVAL),
    (T.RINGBUF, 0, 0, 8192, 0, None, 0),
    (T.PROG_ARRAY, 4, 8, 4, 0, None, errno.EINVAL),
    (T.DEVMAP, 4, 12, 4, 0, None, errno.EINVAL),
    (T.DEVMAP, 4, 4, 4, F_RDONLY_PROG, None, errno.EINVAL),
    (T.CPUMAP, 4, 4, 8192, 0, None, errno.E2BIG),
    (T.XSKMAP, 4, 8, 4, 0, None, errno.EINVAL),
    (T.ARRAY_OF_MAPS, 4, 4, 2, 0, None, errno.EINVAL),
    (T.ARRAY_OF_MAPS, 4, 4, 2, 0, MapSpec("i", T.PROG_ARRAY, 4, 4, 2), ENOTSUPP),
    (T.ARRAY_OF_MAPS, 4, 4, 2, 0, MapSpec("i", T.HASH_OF_MAPS, 4, 4, 2), errno.EINVAL),
    (T.ARRAY_OF_MAPS, 4, 4, 2, 0, MapSpec("i", T.RINGBUF, 0, 0, 4096), 0),
]


@pytest.mark.parametrize(("kind", "ks", "vs", "n", "flags", "inner", "err"), CREATE)
def test_create_checks(
    kind: MapType, ks: int, vs: int, n: int, flags: int, inner: MapSpec | None, err: int
) -> None:
    spec = MapSpec("m", kind, ks, vs, n, flags=flags, inner=inner)
    if err == 0:
        create_map(spec)
        return
    with pytest.raises(MapCreateError) as info:
        create_map(spec)
    assert info.value.errno == err
    assert "'m'" in str(info.value)


@pytest.mark.parametrize("kind", [t for t in MapType if t not in MAP_CLASSES])
def test_unsupported_types_are_named(kind: MapType) -> None:
    with pytest.raises(UnsupportedMapError, match=f"map type {kind.label} is not supported by bpfdbg"):
        create_map(MapSpec("s", kind, 4, 4, 4))


def test_all_issue_types_are_supported() -> None:
    wanted = (
        "array percpu_array hash percpu_hash lru_hash lru_percpu_hash lpm_trie prog_array array_of_maps "
        "hash_of_maps devmap devmap_hash cpumap xskmap ringbuf perf_event_array queue stack"
    ).split()
    assert sorted(t.label for t in MAP_CLASSES) == sorted(wanted)


def specs() -> list[MapSpec]:
    inner = MapSpec("inner", T.HASH, 4, 4, 8)
    return [
        MapSpec("counters", T.ARRAY, 4, 8, 2),
        MapSpec("percpu_stats", T.PERCPU_ARRAY, 4, 8, 1),
        MapSpec(".rodata", T.ARRAY, 4, 4, 1, section=".rodata", frozen=True, initial=((u32(0), b"ro!!"),)),
        MapSpec("jump", T.PROG_ARRAY, 4, 4, 4, initial_programs=((2, "tail_b"),)),
        MapSpec("by_flow", T.HASH_OF_MAPS, 4, 4, 4, inner=inner, initial=((u32(7), u32(5)),)),
        MapSpec("flows", T.HASH, 4, 4, 8, initial=((u32(1), b"one!"),)),
        MapSpec("routes", T.LPM_TRIE, 8, 4, 8, flags=F_NO_PREALLOC),
        MapSpec("events", T.RINGBUF, 0, 0, 4096),
        MapSpec("q", T.QUEUE, 0, 4, 4),
    ]


def test_mapset_builds_everything_with_initial_contents() -> None:
    ms = MapSet(specs(), ncpus=2)
    assert len(ms) == 9 and ms[0] is ms["counters"] and [m.map_id for m in ms] == list(range(1, 10))
    assert ms[".rodata"].user_lookup(u32(0)) == b"ro!!"
    assert ms[".rodata"].update(u32(0), b"nope") == -errno.EPERM  # frozen after loading
    assert ms["jump"].program(2) == "tail_b"  # type: ignore[attr-defined]
    inner = ms["by_flow"].lookup(u32(7))
    assert inner is not None and inner.ref is ms["flows"]
    assert ms.by_id(6) is ms["flows"]
    with pytest.raises(KeyError, match="counters"):
        ms["nope"]


def test_new_inner_maps_get_ids() -> None:
    ms = MapSet(specs())
    fresh = ms.new_inner("by_flow")
    assert fresh.map_id == 10 and ms.by_id(10) is fresh
    assert ms["by_flow"].update(u32(3), u32(10)) == 0  # user space names it by id
    with pytest.raises(MapError, match="not a map of maps"):
        ms.new_inner("counters")


def test_bad_initial_contents_name_the_map() -> None:
    with pytest.raises(MapError, match="'small'.*E2BIG"):
        MapSet([MapSpec("small", T.HASH, 4, 4, 1, initial=((u32(1), b"aaaa"), (u32(2), b"bbbb")))])


def test_dump_has_the_design_shape() -> None:
    ms = MapSet(specs())
    counters = ms["counters"].lookup(u32(0), 0)
    assert counters is not None
    counters.data[:] = u64(1)
    ms["percpu_stats"].update(u32(0), u64(5), cpu=1)
    ms["routes"].update(lpm_key(24, 10, 0, 0, 0), b"r24!")
    ms["events"].output(b"\x01\x02")  # type: ignore[attr-defined]
    ms["q"].push(u32(9))  # type: ignore[attr-defined]
    dump = ms.dump()
    json.dumps(dump)  # JSON-able
    assert dump["counters"] == [
        {"key": "00000000", "value": "0100000000000000"},
        {"key": "01000000", "value": "0000000000000000"},
    ]
    assert dump["percpu_stats"] == [
        {
            "key": "00000000",
            "values": [{"cpu": 0, "value": "0000000000000000"}, {"cpu": 1, "value": "0500000000000000"}],
        }
    ]
    assert dump["jump"] == [{"key": "02000000", "value": "00000000", "program": "tail_b"}]
    assert dump["by_flow"] == [
        {
            "key": "07000000",
            "value": "06000000",
            "map": "flows",
            "inner": [{"key": "01000000", "value": "6f6e6521"}],
        }
    ]
    assert dump["routes"] == [{"key": "180000000a000000", "value": "72323421"}]
    assert dump["events"] == [{"record": "0102"}]
    assert dump["q"] == [{"key": "", "value": "09000000"}]
