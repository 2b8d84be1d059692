"""perf_event_array: where bpf_perf_event_output (and bpf_xdp_output/bpf_skb_output) send
records (kernel/trace/bpf_trace.c, kernel/bpf/arraymap.c semantics).

In the kernel each slot holds a perf event that a reader opened (libbpf's perf_buffer
opens one per CPU and stores it at index = CPU). A debugger wants the output without
setting that up, so by default slot i < ncpus holds an event on CPU i, as if perf_buffer
were reading; ``auto_attach=False`` gives the kernel's empty map (output: -ENOENT), which
is what a bare BPF_PROG_TEST_RUN sees. The helper's errors, in the kernel's order: unknown
flag bits -EINVAL, index >= max_entries -E2BIG, no event -ENOENT, an event on another CPU
-EOPNOTSUPP. Records are kept in output order with the index they went to.
"""

from __future__ import annotations

import errno

from emulator.maps.array import array_next_key
from emulator.maps.base import ENOTSUPP, Element, Map, MapError, MapOpError
from emulator.maps.fdmaps import validate_fd_array
from emulator.maps.spec import BPF_ANY, MapSpec

BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK
BPF_F_CTXLEN_MASK = 0xFFFFF << 32


class PerfEventArrayMap(Map):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY."""

    def __init__(self, spec: MapSpec, ncpus: int = 2, *, auto_attach: bool = True) -> None:
        super().__init__(spec, ncpus)
        # index -> the CPU its event counts on
        self.events: dict[int, int] = (
            {i: i for i in range(min(ncpus, spec.max_entries))} if auto_attach else {}
        )
        self.outputs: list[tuple[int, bytes]] = []

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        validate_fd_array(spec)

    def output(self, data: bytes, flags: int, cpu: int) -> int:
        """bpf_perf_event_output from a program on ``cpu``. ``flags`` holds the index (or
        BPF_F_CURRENT_CPU); the BPF_F_CTXLEN_MASK bits are the caller's business (the
        helper appends that many packet bytes to ``data`` before calling)."""
        self._check_cpu(cpu)
        if flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK):
            return -errno.EINVAL
        index = flags & BPF_F_INDEX_MASK
        if index == BPF_F_CURRENT_CPU:
            index = cpu
        if index >= self.max_entries:
            return -errno.E2BIG
        event_cpu = self.events.get(index)
        if event_cpu is None:
            return -errno.ENOENT
        if event_cpu != cpu:
            return -errno.EOPNOTSUPP
        self.outputs.append((index, bytes(data)))
        return 0

    def records(self, index: int | None = None) -> list[tuple[int, bytes]]:
        """(index, bytes) of every record in output order; only slot ``index`` if given."""
        return [r for r in self.outputs if index is None or r[0] == index]

    def clear(self) -> None:
        self.outputs.clear()

    # -- user space: attach and detach events ----------------------------------------------
    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        """Storing an event fd at ``key``: the event then counts on CPU ``key`` (how
        perf_buffer sets the map up). Programs cannot update this map (-EINVAL)."""
        index = self._user_slot(key, flags, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        self._check_value(value)
        if flags != BPF_ANY:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        self.events[index] = index
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        index = self._user_slot(key, 0, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        if index >= self.max_entries:
            return -errno.E2BIG
        return 0 if self.events.pop(index, None) is not None else -errno.ENOENT

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        raise MapOpError(f"programs cannot look up perf_event_array {self.name!r}", errno.EOPNOTSUPP)

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        return self._user_read_check(flags) or -ENOTSUPP

    def get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)
