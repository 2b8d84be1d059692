"""ringbuf (sizes, full, wraparound, commit order) and perf_event_array output."""

from __future__ import annotations

import errno

import pytest

from emulator.maps import ENOTSUPP, MapError, MapSpec, MapType, create_map
from emulator.maps.perf import BPF_F_CTXLEN_MASK, BPF_F_CURRENT_CPU, PerfEventArrayMap
from emulator.maps.ringbuf import (
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    RingBufMap,
)

from .helpers import u32


def ring(size: int = 4096) -> RingBufMap:
    m = create_map(MapSpec("rb", MapType.RINGBUF, 0, 0, size))
    assert isinstance(m, RingBufMap)
    return m


@pytest.mark.parametrize(
    ("size", "fits"),
    [(0, True), (1, True), (4080, True), (4081, False), (4096, False), (-1, False)],
)
def test_record_size_limit(size: int, fits: bool) -> None:
    # header 8 + size, rounded up to 8, must stay below the 4096-byte ring
    assert (ring().reserve(size) is not None) is fits


def test_fills_up_and_output_says_eagain() -> None:
    m = ring()
    for _ in range(36):  # 36 records of 112 bytes = 4032
        assert m.output(b"x" * 100) == 0
    assert m.output(b"x" * 100) == -errno.EAGAIN
    assert m.reserve(100) is None
    assert m.output(b"x" * 48) == 0  # 56 more bytes still fit: 4088 <= 4095
    assert m.query(BPF_RB_AVAIL_DATA) == 4088
    assert len(m.records()) == 37


def test_wraparound_after_consuming() -> None:
    m = ring()
    for i in range(3):
        assert m.output(bytes([i]) * 1000) == 0
    assert [r[0] for r in m.consume()] == [0, 1, 2]
    assert m.query(BPF_RB_CONS_POS) == 3024
    for i in range(3, 7):  # these straddle the end of the ring
        assert m.output(bytes([i]) * 1000) == 0
    assert m.output(b"z" * 100) == -errno.EAGAIN  # 4032 in flight, 112 more would pass 4095
    assert m.query(BPF_RB_PROD_POS) == 3024 + 4 * 1008
    assert m.query(BPF_RB_RING_SIZE) == 4096
    assert [r[0] for r in m.records()] == [3, 4, 5, 6]


def test_records_follow_reservation_order_and_consumer_stops_at_busy() -> None:
    m = ring()
    a, b, c = m.reserve(4), m.reserve(4), m.reserve(4)
    assert a is not None and b is not None and c is not None
    b.data[:] = b"bbbb"
    m.submit(b)
    m.discard(c)
    assert m.records() == [b"bbbb"]
    assert m.consume() == []  # a is still reserved
    a.data[:] = b"aaaa"
    m.submit(a)
    assert m.consume() == [b"aaaa", b"bbbb"]  # the discarded one is skipped
    assert m.query(BPF_RB_AVAIL_DATA) == 0
    with pytest.raises(MapError):
        m.submit(a)  # already committed


def test_flags() -> None:
    m = ring()
    assert m.reserve(8, flags=1) is None
    assert m.output(b"x", flags=4) == -errno.EINVAL
    assert m.output(b"x", flags=3) == 0  # NO_WAKEUP | FORCE_WAKEUP only change wakeups
    assert m.update(None, b"") == m.user_lookup(None) == m.delete(None) == -ENOTSUPP


def perf(auto_attach: bool = True, max_entries: int = 4) -> PerfEventArrayMap:
    return PerfEventArrayMap(
        MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, max_entries), 2, auto_attach=auto_attach
    )


@pytest.mark.parametrize(
    ("flags", "cpu", "expected"),
    [
        (BPF_F_CURRENT_CPU, 0, 0),
        (BPF_F_CURRENT_CPU, 1, 0),
        (1, 1, 0),
        (0, 1, -errno.EOPNOTSUPP),  # the event on index 0 counts on CPU 0
        (2, 0, -errno.ENOENT),  # no event there (2 CPUs)
        (4, 0, -errno.E2BIG),
        (BPF_F_CURRENT_CPU | (64 << 32), 0, 0),  # ctx length bits are the helper's business
        (1 << 52, 0, -errno.EINVAL),
    ],
)
def test_perf_output(flags: int, cpu: int, expected: int) -> None:
    assert BPF_F_CTXLEN_MASK & (64 << 32)
    m = perf()
    assert m.output(b"rec", flags, cpu) == expected
    assert m.records() == (
        [(cpu if flags & 0xFFFFFFFF == BPF_F_CURRENT_CPU else flags, b"rec")] if expected == 0 else []
    )


def test_perf_attach_detach() -> None:
    m = perf(auto_attach=False)
    assert m.output(b"x", BPF_F_CURRENT_CPU, 0) == -errno.ENOENT  # a bare test run
    assert m.update(u32(0), u32(7)) == 0
    assert m.output(b"x", BPF_F_CURRENT_CPU, 0) == 0
    assert m.records(0) == [(0, b"x")]
    assert m.delete(u32(0)) == 0
    assert m.delete(u32(0)) == -errno.ENOENT
    assert m.delete(u32(9)) == -errno.E2BIG
    assert m.update(u32(0), u32(7), 1) == -errno.EINVAL
    assert m.user_lookup(u32(0)) == -ENOTSUPP
