"""queue and stack maps: order, overwrite with BPF_EXIST, the kernel's errno values."""

from __future__ import annotations

import errno

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapOpError, MapType
from emulator.maps.queue import QueueMap

from .helpers import make, u32


def queue(kind: MapType, max_entries: int) -> QueueMap:
    m = make(kind, key_size=0, value_size=4, max_entries=max_entries)
    assert isinstance(m, QueueMap)
    return m


# push 1..3 into a max_entries=2 map, then 4 with BPF_EXIST, then pop everything
CASES = [
    (MapType.QUEUE, [0, 0, -errno.E2BIG, 0], [2, 4]),  # BPF_EXIST dropped the oldest (1)
    (MapType.STACK, [0, 0, -errno.E2BIG, 0], [4, 2]),  # for a stack too: the bottom one
]


@pytest.mark.parametrize(("kind", "pushes", "pops"), CASES)
def test_order_and_overwrite(kind: MapType, pushes: list[int], pops: list[int]) -> None:
    m = queue(kind, 2)
    got = [m.push(u32(1)), m.push(u32(2)), m.push(u32(3)), m.push(u32(4), BPF_EXIST)]
    assert got == pushes
    out = []
    while not isinstance(value := m.pop(), int):
        out.append(int.from_bytes(value, "little"))
    assert value == -errno.ENOENT
    assert out == pops


@pytest.mark.parametrize("kind", [MapType.QUEUE, MapType.STACK])
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (BPF_ANY, 0),
        (BPF_EXIST, 0),
        (BPF_NOEXIST, -errno.EINVAL),
        (3, -errno.EINVAL),
        (BPF_F_LOCK, -errno.EINVAL),
    ],
)
def test_push_flags(kind: MapType, flags: int, expected: int) -> None:
    m = queue(kind, 2)
    assert m.update(None, u32(1), flags) == expected  # user space: a push


@pytest.mark.parametrize("kind", [MapType.QUEUE, MapType.STACK])
def test_user_space_entry_points(kind: MapType) -> None:
    m = queue(kind, 3)
    assert m.user_lookup(None) == -errno.ENOENT
    for i in (1, 2, 3):
        assert m.update(None, u32(i)) == 0
    first = u32(1) if kind == MapType.QUEUE else u32(3)
    assert m.user_lookup(None) == first == m.peek()
    assert [v for _, v in m.items()][0] == first
    assert m.lookup_and_delete(None, BPF_F_LOCK) == -errno.EINVAL
    assert m.lookup_and_delete(None) == first
    assert m.delete(None) == -errno.EINVAL
    assert m.user_lookup(None, BPF_F_LOCK) == -errno.EINVAL
    assert m.update(None, u32(9), BPF_ANY, cpu=0) == -errno.EINVAL  # bpf_map_update_elem
    assert m.lookup(b"", 0) is None
    with pytest.raises(MapOpError) as info:
        m.get_next_key(None)
    assert info.value.errno == errno.EINVAL
