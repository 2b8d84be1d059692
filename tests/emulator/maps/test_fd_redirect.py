"""prog_array, maps of maps and the redirect maps, with the kernel's errno values
(observed on the reference kernel where the kernel can express the case)."""

from __future__ import annotations

import errno
import struct

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapOpError, MapSpec, MapType, create_map
from emulator.maps.devmap import CpuMap, DevMap, DevMapHash, XskMap
from emulator.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap

from .helpers import make, u32, walk


def prog_array() -> ProgArrayMap:
    m = make(MapType.PROG_ARRAY, value_size=4, max_entries=4)
    assert isinstance(m, ProgArrayMap)
    return m


def test_prog_array_slots() -> None:
    m = prog_array()
    assert m.update_ref(u32(1), "handle_ipv4") == 0
    assert m.update(u32(2), u32(7)) == 0  # a program id from user space
    assert m.program(1) == "handle_ipv4" and m.program(2) == 7
    assert m.program(0) is None and m.program(99) is None  # a tail call falls through
    assert m.update_ref(u32(1), "x", BPF_NOEXIST) == -errno.EINVAL  # only BPF_ANY
    assert m.update(u32(9), u32(1)) == -errno.E2BIG
    assert m.user_lookup(u32(2)) == u32(7)
    assert m.user_lookup(u32(0)) == -errno.ENOENT
    assert m.delete(u32(0)) == -errno.ENOENT
    assert m.delete(u32(9)) == -errno.E2BIG
    assert m.delete(u32(1)) == 0
    assert walk(m) == [u32(i) for i in range(4)]  # every index, like an array
    assert m.update(u32(0), u32(1), BPF_ANY, cpu=0) == -errno.EINVAL  # programs cannot
    with pytest.raises(MapOpError):
        m.lookup(u32(0))


INNER = MapSpec("inner", MapType.ARRAY, 4, 4, 2)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (INNER, 0),
        (MapSpec("other", MapType.ARRAY, 4, 4, 3), -errno.EINVAL),  # max_entries differs
        (MapSpec("other", MapType.ARRAY, 4, 8, 2), -errno.EINVAL),
        (MapSpec("other", MapType.HASH, 4, 4, 2), -errno.EINVAL),
    ],
)
def test_inner_maps_must_match_the_template(candidate: MapSpec, expected: int) -> None:
    outer = create_map(MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner=INNER))
    assert outer.update_ref(u32(0), create_map(candidate)) == expected  # type: ignore[attr-defined]


def test_inner_map_flag_relaxes_max_entries() -> None:
    template = MapSpec("inner", MapType.ARRAY, 4, 4, 2, flags=1 << 12)
    outer = create_map(MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner=template))
    bigger = create_map(MapSpec("big", MapType.ARRAY, 4, 4, 100, flags=1 << 12))
    assert isinstance(outer, ArrayOfMapsMap)
    assert outer.update_ref(u32(0), bigger) == 0
    assert outer.update_ref(u32(1), create_map(INNER)) == -errno.EINVAL  # flags differ


def test_array_of_maps() -> None:
    outer = create_map(MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner=INNER))
    assert isinstance(outer, ArrayOfMapsMap)
    inner = create_map(INNER)
    inner.map_id = 42
    outer.resolve = lambda ident: inner if ident == 42 else None
    assert outer.update(u32(0), u32(42), BPF_NOEXIST) == -errno.EINVAL
    assert outer.update(u32(5), u32(42)) == -errno.E2BIG
    assert outer.update(u32(0), u32(999)) == -errno.EBADF
    assert outer.update(u32(0), u32(42)) == 0
    elem = outer.lookup(u32(0))
    assert elem is not None and elem.ref is inner and elem.data == u32(42)
    assert outer.lookup(u32(1)) is None
    assert outer.user_lookup(u32(0)) == u32(42)
    assert outer.delete(u32(1)) == -errno.ENOENT
    assert outer.delete(u32(0)) == 0


def test_hash_of_maps() -> None:
    outer = create_map(MapSpec("outer", MapType.HASH_OF_MAPS, 4, 4, 1, inner=INNER))
    assert isinstance(outer, HashOfMapsMap)
    a, b = create_map(INNER), create_map(INNER)
    a.map_id, b.map_id = 1, 2
    assert outer.update_ref(u32(0), a, BPF_EXIST) == -errno.ENOENT
    assert outer.update_ref(u32(0), a) == 0
    assert outer.update_ref(u32(0), a, BPF_NOEXIST) == -errno.EEXIST
    assert outer.update_ref(u32(1), a) == -errno.E2BIG
    assert outer.update_ref(u32(0), a, 3) == -errno.EINVAL
    elem = outer.lookup(u32(0))
    assert outer.update_ref(u32(0), b) == 0
    assert elem is not None and outer.lookup(u32(0)) is elem and elem.ref is b  # swapped in place
    assert outer.user_lookup(u32(0)) == u32(2)
    assert outer.delete(u32(1)) == -errno.ENOENT


def test_devmap() -> None:
    m = make(MapType.DEVMAP, value_size=8, max_entries=4)
    assert isinstance(m, DevMap)
    val = lambda ifindex, prog=0: struct.pack("<II", ifindex, prog)  # noqa: E731
    assert m.update(u32(0), val(1)) == 0
    assert m.update(u32(0), val(1), BPF_NOEXIST) == -errno.EEXIST
    assert m.update(u32(1), val(1), BPF_EXIST) == 0  # every slot "exists"
    assert m.update(u32(4), val(1)) == -errno.E2BIG
    assert m.update(u32(1), val(0, 5)) == -errno.EINVAL  # a program without a device
    assert m.update(u32(1), val(0)) == 0  # ifindex 0 clears
    assert m.update(u32(2), val(1), 3) == -errno.EINVAL
    m.valid_ifindex = lambda ifindex: ifindex < 100
    assert m.update(u32(1), val(999)) == -errno.EINVAL  # no such device
    assert m.user_lookup(u32(0)) == val(1) and m.user_lookup(u32(1)) == -errno.ENOENT
    assert m.target(0) == 1 and m.target(1) is None
    assert m.delete(u32(1)) == 0 and m.delete(u32(4)) == -errno.EINVAL
    assert m.update(u32(0), val(1), cpu=0) == -errno.EINVAL


def test_devmap_hash() -> None:
    m = make(MapType.DEVMAP_HASH, value_size=4, max_entries=2)
    assert isinstance(m, DevMapHash)
    got = [
        m.update(u32(5), u32(1), BPF_EXIST),  # not refused: the kernel does not check EXIST
        m.update(u32(5), u32(1), BPF_NOEXIST),
        m.update(u32(7), u32(1)),
        m.update(u32(9), u32(1)),
        m.update(u32(9), u32(1), BPF_EXIST),
        m.update(u32(5), u32(0)),
    ]
    assert got == [0, -errno.EEXIST, 0, -errno.E2BIG, -errno.E2BIG, -errno.EINVAL]
    assert m.delete(u32(9)) == -errno.ENOENT
    assert m.delete(u32(5)) == 0
    assert m.get_next_key(None) == u32(7) and m.target(7) == 1


def test_cpumap() -> None:
    m = make(MapType.CPUMAP, value_size=4, max_entries=4, ncpus=2)
    assert isinstance(m, CpuMap)
    got = [
        m.update(u32(0), u32(16)),
        m.update(u32(0), u32(16), BPF_NOEXIST),
        m.update(u32(1), u32(16), BPF_EXIST),
        m.update(u32(4), u32(16)),
        m.update(u32(1), u32(16385)),
        m.update(u32(3), u32(16)),  # CPU 3 does not exist
        m.update(u32(1), u32(0)),  # qsize 0 clears
        m.update(u32(2), u32(16), 3),
    ]
    assert got == [0, -errno.EEXIST, 0, -errno.E2BIG, -errno.EOVERFLOW, -errno.ENODEV, 0, -errno.EINVAL]
    assert m.user_lookup(u32(0)) == u32(16) and m.user_lookup(u32(1)) == -errno.ENOENT
    assert m.delete(u32(1)) == 0 and m.delete(u32(4)) == -errno.EINVAL


def test_xskmap() -> None:
    m = make(MapType.XSKMAP, value_size=4, max_entries=4)
    assert isinstance(m, XskMap)
    assert m.update(u32(0), u32(3), 3) == -errno.EINVAL
    assert m.update(u32(4), u32(3)) == -errno.E2BIG
    assert m.update(u32(0), u32(3), BPF_EXIST) == -errno.ENOENT
    assert m.update(u32(0), u32(3)) == 0
    assert m.update(u32(0), u32(3), BPF_NOEXIST) == -errno.EEXIST
    assert m.user_lookup(u32(0)) == -errno.EOPNOTSUPP
    elem = m.lookup(u32(0))
    assert elem is not None and m.target(0) == 3
    assert m.delete(u32(0)) == 0 and m.delete(u32(4)) == -errno.EINVAL
