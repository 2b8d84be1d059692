"""hash and percpu_hash: flags, full maps, RCU-style element replacement, bucket order."""

from __future__ import annotations

import errno
import random

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapSpec, MapType, create_map
from emulator.maps.jhash import jhash
from emulator.maps.spec import F_NO_PREALLOC, F_ZERO_SEED

from .helpers import keys, make, u32, u64, walk

HASHES = [MapType.HASH, MapType.PERCPU_HASH]

# A max_entries=2 map through a sequence of (op, key, flags) -> expected return
SEQUENCE = [
    ("update", 1, BPF_EXIST, -errno.ENOENT),
    ("update", 1, BPF_NOEXIST, 0),
    ("update", 1, BPF_NOEXIST, -errno.EEXIST),
    ("update", 1, BPF_EXIST, 0),
    ("update", 1, 3, -errno.EINVAL),
    ("update", 1, BPF_F_LOCK, -errno.EINVAL),
    ("update", 2, BPF_ANY, 0),
    ("update", 3, BPF_ANY, -errno.E2BIG),  # full: a new key is refused
    ("update", 3, BPF_EXIST, -errno.ENOENT),  # the flags are checked before fullness
    ("update", 2, BPF_ANY, 0),  # replacing works on a full map
    ("delete", 3, 0, -errno.ENOENT),
    ("delete", 2, 0, 0),
    ("update", 3, BPF_ANY, 0),
    ("lookup_and_delete", 9, 0, -errno.ENOENT),
    ("lookup_and_delete", 3, BPF_NOEXIST, -errno.EINVAL),
]


@pytest.mark.parametrize("kind", HASHES)
@pytest.mark.parametrize("flags", [0, F_NO_PREALLOC])
def test_flag_and_fullness_sequence(kind: MapType, flags: int) -> None:
    m = make(kind, max_entries=2, flags=flags)
    width = 16 if kind == MapType.PERCPU_HASH else 8
    for op, key, fl, expected in SEQUENCE:
        if op == "update":
            got = m.update(u32(key), bytes(width), fl)
        elif op == "delete":
            got = m.delete(u32(key))
        else:
            taken = m.lookup_and_delete(u32(key), fl)
            got = taken if isinstance(taken, int) else 0
        assert got == expected, (op, key, fl)
    assert sorted(keys(m)) == [u32(1), u32(3)]


def test_replacement_makes_a_new_element_old_one_keeps_its_bytes() -> None:
    m = make(MapType.HASH)
    m.update(u32(1), u64(10))
    old = m.lookup(u32(1))
    assert m.update(u32(1), u64(11)) == 0
    new = m.lookup(u32(1))
    assert old is not None and new is not None
    assert new is not old and new.id != old.id
    assert old.data == u64(10) and new.data == u64(11)  # a stale RCU pointer
    assert m.delete(u32(1)) == 0
    assert new.data == u64(11)  # deleted elements stay readable
    assert m.lookup(u32(1)) is None


def test_bpf_f_lock_updates_in_place() -> None:
    m = create_map(MapSpec("locked", MapType.HASH, 4, 8, 4, spin_lock_off=4))
    assert m.update(u32(1), b"aaaa\xff\xff\xff\xff", BPF_F_LOCK) == 0
    elem = m.lookup(u32(1))
    assert elem is not None and elem.data == b"aaaa" + bytes(4)  # the lock word is the map's
    assert m.update(u32(1), b"bbbb\0\0\0\0", BPF_F_LOCK) == 0
    assert m.lookup(u32(1)) is elem and elem.data == b"bbbb" + bytes(4)
    assert m.update(u32(1), b"cccc\0\0\0\0", BPF_ANY) == 0
    assert m.lookup(u32(1)) is not elem  # without the flag: a new element as usual
    assert m.update(u32(2), bytes(8), BPF_F_LOCK | BPF_EXIST) == -errno.ENOENT


def test_percpu_hash_updates_in_place_and_zeroes_other_cpus() -> None:
    m = make(MapType.PERCPU_HASH, value_size=4, ncpus=2)
    assert m.update(u32(1), b"prog", BPF_ANY, cpu=1) == 0
    assert m.items() == [(u32(1), [bytes(4), b"prog"])]
    e1 = m.lookup(u32(1), 1)
    assert e1 is not None
    assert m.update(u32(1), b"next", BPF_ANY, cpu=1) == 0
    assert m.lookup(u32(1), 1) is e1 and e1.data == b"next"
    assert m.update(u32(1), b"aaaa\0\0\0\0bbbb\0\0\0\0") == 0  # user space: every CPU
    assert e1.data == b"bbbb"
    assert m.user_lookup(u32(1)) == b"aaaa\0\0\0\0bbbb\0\0\0\0"
    assert m.update(u32(1), b"aaaa\0\0\0\0bbbb\0\0\0\0", BPF_F_LOCK) == -errno.EINVAL


def test_iteration_is_kernel_bucket_order_for_seed_zero() -> None:
    m = make(MapType.HASH, max_entries=16, flags=F_ZERO_SEED)
    ks = [u32(k) for k in (5, 17, 3, 99, 1000, 7)]
    for k in ks:
        m.update(k, bytes(8))
    # buckets ascending, newest first inside a bucket
    expected = sorted(ks, key=lambda k: (jhash(k) & 15, -ks.index(k)))
    assert walk(m) == keys(m) == expected
    assert m.get_next_key(u32(123456)) == expected[0]  # a missing key restarts the walk
    assert m.get_next_key(expected[-1]) is None


def test_replaced_key_moves_to_its_bucket_head() -> None:
    m = make(MapType.HASH, max_entries=2, flags=F_ZERO_SEED)  # two buckets
    a, b = [k for k in map(u32, range(100)) if jhash(k) & 1 == 0][:2]  # same bucket
    m.update(a, bytes(8))
    m.update(b, bytes(8))
    assert walk(m) == [b, a]  # newest first
    m.update(a, u64(1))  # the new element goes to the head, the old one is unlinked
    assert walk(m) == [a, b]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # reference values of the kernel's jhash with seed 0 (checked against bucket order
        # of BPF_F_ZERO_SEED maps on the reference kernel by the differential tests)
        (b"", 0xDEADBEEF),
        (u32(0), jhash(u32(0))),
    ],
)
def test_jhash_basics(data: bytes, expected: int) -> None:
    assert jhash(data) == expected
    assert 0 <= jhash(data, 12345) < 1 << 32


def test_random_seed_comes_from_rng() -> None:
    spec = MapSpec("h", MapType.HASH, 4, 8, 64)
    a = create_map(spec, rng=random.Random(1))
    b = create_map(spec, rng=random.Random(1))
    c = create_map(MapSpec("h", MapType.HASH, 4, 8, 64, flags=F_ZERO_SEED), rng=random.Random(1))
    assert a.seed == b.seed != 0  # type: ignore[attr-defined]
    assert c.seed == 0  # type: ignore[attr-defined]


def test_wrong_key_length_is_an_api_error() -> None:
    from emulator.maps import MapError

    m = make(MapType.HASH)
    with pytest.raises(MapError, match="key is 3 bytes"):
        m.update(b"abc", bytes(8))
    with pytest.raises(MapError, match="value is 2 bytes"):
        m.update(u32(0), b"ab")
