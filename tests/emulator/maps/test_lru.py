"""LRU hash maps: which key the kernel evicts. Every expected outcome below was observed on
the reference kernel (6.18, 2 CPUs) with the same operations from user space on the CPUs
given and program lookups through BPF_PROG_TEST_RUN; the differential test re-checks the
model against the live kernel with random sequences."""

from __future__ import annotations

import errno

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapType
from emulator.maps.spec import F_NO_COMMON_LRU

from .helpers import make, u32

Op = tuple[str, int, int]  # ("cpu", n, 0) | ("upd", key, flags) | ("del", key, 0) | ("plk", key, 0)

SCENARIOS: dict[str, list[Op]] = {
    "fill_then_overflow": [("upd", i, BPF_ANY) for i in range(8)],
    "lookups_protect": [("upd", i, BPF_ANY) for i in range(4)]
    + [("plk", 0, 0), ("plk", 1, 0)]
    + [("upd", i, BPF_ANY) for i in range(10, 14)],
    "replace_evicts_other": [("upd", i, BPF_ANY) for i in range(4)] + [("upd", 2, BPF_ANY)],
    "noexist_fails_but_evicts": [("upd", i, BPF_ANY) for i in range(4)] + [("upd", 1, BPF_NOEXIST)],
    "exist_self_evict": [("upd", i, BPF_ANY) for i in range(4)] + [("upd", 0, BPF_EXIST)],
    "two_cpus": [("upd", 0, 0), ("upd", 1, 0), ("cpu", 1, 0), ("upd", 2, 0), ("upd", 3, 0), ("upd", 4, 0)]
    + [("cpu", 0, 0), ("upd", 5, 0)],
    "delete_frees": [("upd", i, BPF_ANY) for i in range(4)] + [("del", 1, 0), ("upd", 9, BPF_ANY)],
}

# (map type, flags, scenario) -> (non-zero returns, surviving keys); max_entries 4, 2 CPUs
EXPECTED: list[tuple[MapType, int, str, list[int], list[int]]] = [
    (MapType.LRU_HASH, 0, "fill_then_overflow", [], [4, 5, 6, 7]),
    (MapType.LRU_HASH, 0, "lookups_protect", [], [0, 1, 12, 13]),
    (MapType.LRU_HASH, 0, "replace_evicts_other", [], [1, 2, 3]),
    (MapType.LRU_HASH, 0, "noexist_fails_but_evicts", [-errno.EEXIST], [1, 2, 3]),
    (MapType.LRU_HASH, 0, "exist_self_evict", [-errno.ENOENT], [1, 2, 3]),
    (MapType.LRU_HASH, 0, "two_cpus", [], [1, 3, 4, 5]),
    (MapType.LRU_HASH, 0, "delete_frees", [], [0, 2, 3, 9]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "fill_then_overflow", [], [6, 7]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "lookups_protect", [], [12, 13]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "replace_evicts_other", [], [2]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "noexist_fails_but_evicts", [], [1]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "exist_self_evict", [-errno.ENOENT], []),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "two_cpus", [], [4, 5]),
    (MapType.LRU_HASH, F_NO_COMMON_LRU, "delete_frees", [-errno.ENOENT], [9]),
    (MapType.LRU_PERCPU_HASH, 0, "fill_then_overflow", [], [4, 5, 6, 7]),
    (MapType.LRU_PERCPU_HASH, 0, "lookups_protect", [], [0, 1, 12, 13]),
    (MapType.LRU_PERCPU_HASH, 0, "replace_evicts_other", [], [1, 2, 3]),
    (MapType.LRU_PERCPU_HASH, 0, "noexist_fails_but_evicts", [-errno.EEXIST], [1, 2, 3]),
    (MapType.LRU_PERCPU_HASH, 0, "exist_self_evict", [], [0, 1, 2, 3]),  # no allocation for EXIST
    (MapType.LRU_PERCPU_HASH, 0, "two_cpus", [], [1, 3, 4, 5]),
    (MapType.LRU_PERCPU_HASH, 0, "delete_frees", [], [0, 2, 3, 9]),
]


def run(m: Map, ops: list[Op]) -> tuple[list[int], list[int]]:
    width = 8 * m.ncpus if m.percpu else 8
    cpu = 0
    errors = []
    for op, arg, flags in ops:
        if op == "cpu":
            cpu = m.user_cpu = arg
        elif op == "upd":
            errors.append(m.update(u32(arg), bytes(width), flags))
        elif op == "del":
            errors.append(m.delete(u32(arg)))
        else:
            m.lookup(u32(arg), cpu)  # a program's lookup (None if already evicted)
    survivors = sorted(int.from_bytes(k, "little") for k, _ in m.items())
    return [e for e in errors if e], survivors


@pytest.mark.parametrize(
    ("kind", "flags", "scenario", "errors", "survivors"),
    EXPECTED,
    ids=[f"{k.label}{'-percpu_lru' if f else ''}-{s}" for k, f, s, _, _ in EXPECTED],
)
def test_eviction_matches_the_kernel(
    kind: MapType, flags: int, scenario: str, errors: list[int], survivors: list[int]
) -> None:
    m = make(kind, max_entries=4, flags=flags, ncpus=2)
    assert run(m, SCENARIOS[scenario]) == (errors, survivors)


def test_percpu_lists_round_max_entries_to_the_cpu_count() -> None:
    assert make(MapType.LRU_HASH, max_entries=5, flags=F_NO_COMMON_LRU, ncpus=2).max_entries == 6
    assert make(MapType.LRU_HASH, max_entries=1, flags=F_NO_COMMON_LRU, ncpus=4).max_entries == 4
    assert make(MapType.LRU_HASH, max_entries=5, ncpus=2).max_entries == 5


def test_user_lookups_do_not_mark_elements() -> None:
    ops: list[Op] = [("upd", i, BPF_ANY) for i in range(4)]
    m = make(MapType.LRU_HASH, max_entries=4)
    run(m, ops)
    for k in (0, 1):
        assert m.user_lookup(u32(k)) == bytes(8)
    for k in range(10, 14):
        m.update(u32(k), bytes(8))
    assert sorted(int.from_bytes(k, "little") for k, _ in m.items()) == [10, 11, 12, 13]


def test_evicted_element_stays_readable() -> None:
    m = make(MapType.LRU_HASH, max_entries=2, ncpus=1)
    m.update(u32(1), b"11111111")
    held = m.lookup(u32(1), 0)
    for k in (2, 3, 4):
        m.update(u32(k), bytes(8))
    assert m.lookup(u32(1)) is None
    assert held is not None and held.data == b"11111111"
