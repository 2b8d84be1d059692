"""ringbuf: the BPF ring buffer (kernel/bpf/ringbuf.c semantics).

The buffer is ``max_entries`` bytes (a power of 2 and a multiple of the page size).
Every record takes an 8-byte header plus its size, rounded up to 8; positions only grow
and wrap through the buffer modulo its size. A reservation fails (NULL, or -EAGAIN from
bpf_ringbuf_output) when the producer would get a full buffer ahead of the consumer, i.e.
when ``new_producer_pos - consumer_pos > size - 1``; nothing consumes unless the
debugger does, just as nothing reads a ring buffer during BPF_PROG_TEST_RUN.

``reserve`` returns an Element the program fills in place, then ``submit`` or
``discard``; records appear in reservation order whatever the order of commits, and a
consumer stops at the first record still reserved. One deliberate difference: the kernel
hands out the bytes previously stored at that spot of the ring (the verifier does not make
programs initialise a reservation); we hand out zeroes.
"""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass

from emulator.maps.base import ENOTSUPP, PAGE_SIZE, Element, Map, MapCreateError, MapError, MapOpError
from emulator.maps.spec import F_NUMA_NODE, MapSpec

BPF_RINGBUF_HDR_SZ = 8
BPF_RB_NO_WAKEUP = 1
BPF_RB_FORCE_WAKEUP = 2
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = range(4)
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF >> 2

BUSY, COMMITTED, DISCARDED = range(3)


@dataclass(eq=False, slots=True)
class Record:
    pos: int  # producer position of the header
    elem: Element
    state: int = BUSY

    @property
    def length(self) -> int:
        return (len(self.elem.data) + BPF_RINGBUF_HDR_SZ + 7) & ~7


class RingBufMap(Map):
    """BPF_MAP_TYPE_RINGBUF."""

    keyless = True

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self.size = spec.max_entries
        self.mask = self.size - 1
        self.consumer_pos = 0
        self.producer_pos = 0
        self._records: deque[Record] = deque()  # everything not yet consumed, by position
        self._by_id: dict[int, Record] = {}

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        size = spec.max_entries
        if (
            spec.flags & ~F_NUMA_NODE
            or spec.key_size
            or spec.value_size
            or size <= 0
            or size & (size - 1)
            or size % PAGE_SIZE
        ):
            raise MapCreateError(
                spec,
                -errno.EINVAL,
                "a ringbuf needs key_size 0, value_size 0 and max_entries a power of 2 multiple of 4096",
            )

    # -- the program side ---------------------------------------------------------------
    def reserve(self, size: int, flags: int = 0) -> Element | None:
        """bpf_ringbuf_reserve: a zero-filled Element of ``size`` bytes, or None."""
        if flags or size < 0 or size > RINGBUF_MAX_RECORD_SZ:
            return None
        length = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7
        if length > self.size:
            return None
        new_pos = self.producer_pos + length
        if new_pos - self.consumer_pos > self.mask:
            return None
        rec = Record(self.producer_pos, Element(b"", bytearray(size), self._new_id()))
        self.producer_pos = new_pos
        self._records.append(rec)
        self._by_id[rec.elem.id] = rec
        return rec.elem

    def _commit(self, elem: Element, state: int) -> None:
        rec = self._by_id.get(elem.id)
        if rec is None or rec.elem is not elem or rec.state != BUSY:
            raise MapError(
                f"ringbuf {self.name!r}: that record was not reserved here or is already committed"
            )
        rec.state = state

    def submit(self, elem: Element, flags: int = 0) -> None:
        """bpf_ringbuf_submit (the wakeup flags change nothing we model)."""
        self._commit(elem, COMMITTED)

    def discard(self, elem: Element, flags: int = 0) -> None:
        """bpf_ringbuf_discard: the space stays used until consumed, the record is skipped."""
        self._commit(elem, DISCARDED)

    def output(self, data: bytes, flags: int = 0) -> int:
        """bpf_ringbuf_output: reserve, copy, submit; -EAGAIN when there is no room."""
        if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
            return -errno.EINVAL
        elem = self.reserve(len(data))
        if elem is None:
            return -errno.EAGAIN
        elem.data[:] = data
        self.submit(elem)
        return 0

    def query(self, flags: int) -> int:
        """bpf_ringbuf_query; unknown flags give 0 as in the kernel."""
        if flags == BPF_RB_AVAIL_DATA:
            return self.producer_pos - self.consumer_pos
        if flags == BPF_RB_RING_SIZE:
            return self.size
        if flags == BPF_RB_CONS_POS:
            return self.consumer_pos
        if flags == BPF_RB_PROD_POS:
            return self.producer_pos
        return 0

    # -- the debugger's side -------------------------------------------------------------
    def records(self) -> list[bytes]:
        """Submitted records not consumed yet, in ring order (discarded ones left out)."""
        return [bytes(r.elem.data) for r in self._records if r.state == COMMITTED]

    def consume(self) -> list[bytes]:
        """What a user-space consumer reads now: records up to the first one still
        reserved; their space is freed (the consumer position advances)."""
        out = []
        while self._records and self._records[0].state != BUSY:
            rec = self._records.popleft()
            del self._by_id[rec.elem.id]
            self.consumer_pos = rec.pos + rec.length
            if rec.state == COMMITTED:
                out.append(bytes(rec.elem.data))
        return out

    # -- bpf(2) has no element commands for a ring buffer --------------------------------
    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        return -ENOTSUPP

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        return -ENOTSUPP

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        return -ENOTSUPP

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        raise MapOpError(f"programs use bpf_ringbuf_reserve/output on ringbuf {self.name!r}", errno.EINVAL)

    def get_next_key(self, key: bytes | None) -> bytes | None:
        raise MapOpError(f"ringbuf {self.name!r} has no keys (BPF_MAP_GET_NEXT_KEY: ENOTSUPP)", ENOTSUPP)
