"""array and percpu_array: in-place elements, the kernel's errno for every flag and index."""

from __future__ import annotations

import errno

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, ENOTSUPP, MapSpec, MapType, create_map
from emulator.maps.spec import F_RDONLY, F_WRONLY

from .helpers import make, u32, u64, walk

# (index, flags, cpu (None = user space), expected return): observed on the 6.18 kernel
UPDATES = [
    (1, BPF_ANY, None, 0),
    (1, BPF_EXIST, None, 0),  # every element exists
    (1, BPF_NOEXIST, None, -errno.EEXIST),
    (4, BPF_ANY, None, -errno.E2BIG),
    (4, BPF_NOEXIST, None, -errno.E2BIG),  # the index is checked before NOEXIST
    (1, 3, None, -errno.EINVAL),
    (4, 3, None, -errno.EINVAL),  # unknown flags before the index
    (1, BPF_F_LOCK, None, -errno.EINVAL),  # no bpf_spin_lock in the value
    (4, BPF_F_LOCK, None, -errno.EINVAL),  # user space: the syscall refuses F_LOCK first
    (4, BPF_F_LOCK, 0, -errno.E2BIG),  # a program: the index first
    (1, BPF_ANY, 0, 0),
    (1, BPF_NOEXIST, 1, -errno.EEXIST),
]


@pytest.mark.parametrize("kind", [MapType.ARRAY, MapType.PERCPU_ARRAY])
@pytest.mark.parametrize(("index", "flags", "cpu", "expected"), UPDATES)
def test_update_errors(kind: MapType, index: int, flags: int, cpu: int | None, expected: int) -> None:
    m = make(kind)
    value = u64(7) * (2 if kind == MapType.PERCPU_ARRAY and cpu is None else 1)
    assert m.update(u32(index), value, flags, cpu) == expected


def test_elements_live_in_place() -> None:
    m = make(MapType.ARRAY)
    elem = m.lookup(u32(2))
    assert elem is not None and elem.data == bytes(8)
    assert m.update(u32(2), u64(5)) == 0
    assert elem.data == u64(5)  # same buffer: arrays update in place
    assert m.lookup(u32(2)) is elem and elem.id == 2
    elem.data[0] = 9  # a program store is visible to user space
    assert m.user_lookup(u32(2)) == u64(9)


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, True), (3, True), (4, False), (0xFFFFFFFF, False)],
)
def test_lookup_range(index: int, expected: bool) -> None:
    m = make(MapType.ARRAY)
    assert (m.lookup(u32(index)) is not None) is expected
    assert (m.user_lookup(u32(index)) == bytes(8)) is expected


def test_delete_and_lookup_and_delete_are_refused() -> None:
    m = make(MapType.ARRAY)
    assert m.delete(u32(0)) == -errno.EINVAL
    assert m.delete(u32(9)) == -errno.EINVAL
    assert m.lookup_and_delete(u32(0)) == -ENOTSUPP


@pytest.mark.parametrize(
    ("key", "expected"),
    [(None, 0), (0, 1), (2, 3), (3, None), (4, 0), (1000, 0)],
)
def test_get_next_key(key: int | None, expected: int | None) -> None:
    m = make(MapType.ARRAY)
    got = m.get_next_key(None if key is None else u32(key))
    assert got == (None if expected is None else u32(expected))


def test_walk_and_items_cover_every_index() -> None:
    m = make(MapType.ARRAY, max_entries=3)
    m.update(u32(1), u64(1))
    assert walk(m) == [u32(0), u32(1), u32(2)]
    assert m.items() == [(u32(0), bytes(8)), (u32(1), u64(1)), (u32(2), bytes(8))]


def test_percpu_program_update_touches_one_cpu() -> None:
    m = make(MapType.PERCPU_ARRAY, value_size=4, ncpus=3)
    assert m.update(u32(0), b"abcd", BPF_ANY, cpu=1) == 0
    assert m.items()[0] == (u32(0), [bytes(4), b"abcd", bytes(4)])
    e0, e1 = m.lookup(u32(0), 0), m.lookup(u32(0), 1)
    assert e0 is not None and e1 is not None and e0.id != e1.id
    assert e1.data == b"abcd"


def test_percpu_user_values_are_padded_per_cpu() -> None:
    m = make(MapType.PERCPU_ARRAY, value_size=4, ncpus=2)
    # user space: one round_up(4, 8) = 8-byte slot per CPU
    assert m.update(u32(1), b"aaaa\0\0\0\0bbbb\0\0\0\0") == 0
    assert m.user_lookup(u32(1)) == b"aaaa\0\0\0\0bbbb\0\0\0\0"
    # the debugger's shorthand: one value for every CPU
    assert m.update(u32(1), b"cccc") == 0
    assert m.items()[1] == (u32(1), [b"cccc", b"cccc"])


def test_percpu_wrong_length_is_an_api_error() -> None:
    from emulator.maps import MapError

    m = make(MapType.PERCPU_ARRAY, value_size=4, ncpus=2)
    with pytest.raises(MapError, match="2 x 8 bytes"):
        m.update(u32(0), b"x" * 7)


def test_frozen_and_readonly_maps_refuse_user_writes() -> None:
    spec = MapSpec(".rodata", MapType.ARRAY, 4, 4, 1, section=".rodata", frozen=True)
    m = create_map(spec)
    m.freeze()
    assert m.update(u32(0), b"abcd") == -errno.EPERM
    assert m.delete(u32(0)) == -errno.EPERM
    assert m.update(u32(0), b"abcd", cpu=0) == 0  # the verifier, not the map, guards .rodata
    ro = make(MapType.ARRAY, flags=F_RDONLY)
    assert ro.update(u32(0), u64(1)) == -errno.EPERM
    wo = make(MapType.ARRAY, flags=F_WRONLY)
    assert wo.user_lookup(u32(0)) == -errno.EPERM


def test_spin_lock_bytes_belong_to_the_map() -> None:
    m = create_map(MapSpec("locked", MapType.ARRAY, 4, 8, 1, spin_lock_off=0))
    assert m.update(u32(0), b"\xff\xff\xff\xff" + b"data", BPF_F_LOCK) == 0
    elem = m.lookup(u32(0))
    assert elem is not None and elem.data == bytes(4) + b"data"
    elem.data[:4] = b"\x01\0\0\0"  # a held lock
    assert m.user_lookup(u32(0)) == bytes(4) + b"data"  # user space never sees the lock


def test_big_arrays_cost_nothing_until_touched() -> None:
    m = make(MapType.ARRAY, max_entries=1 << 24)
    assert m.update(u32((1 << 24) - 1), u64(3)) == 0
    assert m.get_next_key(u32((1 << 24) - 2)) == u32((1 << 24) - 1)
