"""queue (FIFO) and stack (LIFO) maps (kernel/bpf/queue_stack_maps.c semantics).

They have no keys (key_size 0). push: BPF_ANY on a full map is -E2BIG, BPF_EXIST
overwrites the *oldest* value (for a stack too: the bottom one), BPF_NOEXIST or unknown
flags are -EINVAL. pop/peek on an empty map: -ENOENT. User space pushes with
BPF_MAP_UPDATE_ELEM, peeks with BPF_MAP_LOOKUP_ELEM and pops with
BPF_MAP_LOOKUP_AND_DELETE_ELEM; delete and get_next_key are -EINVAL. Values are copied
in and out (programs never hold a pointer into these maps), so no Elements here.
"""

from __future__ import annotations

import errno
from collections import deque

from emulator.maps.base import KMALLOC_MAX_SIZE, Element, Map, MapCreateError, MapOpError, Value, access_ok
from emulator.maps.spec import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, F_ACCESS_MASK, F_NUMA_NODE, MapSpec

QUEUE_STACK_CREATE_FLAGS = F_NUMA_NODE | F_ACCESS_MASK


class QueueMap(Map):
    """BPF_MAP_TYPE_QUEUE; StackMap differs only in which end pop and peek take."""

    keyless = True
    lifo = False

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._values: deque[bytes] = deque()  # oldest on the left

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        if (
            spec.max_entries == 0
            or spec.key_size != 0
            or spec.value_size == 0
            or spec.flags & ~QUEUE_STACK_CREATE_FLAGS
            or not access_ok(spec.flags)
        ):
            raise MapCreateError(
                spec,
                -errno.EINVAL,
                f"{spec.type.label} maps need key_size 0, value_size > 0, max_entries > 0",
            )
        if spec.value_size > KMALLOC_MAX_SIZE:
            raise MapCreateError(spec, -errno.E2BIG, "value_size is too large")

    def __len__(self) -> int:
        return len(self._values)

    def push(self, value: bytes, flags: int = 0) -> int:
        """bpf_map_push_elem."""
        value = self._check_value(value)
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            return -errno.EINVAL
        if len(self._values) >= self.max_entries:
            if not flags & BPF_EXIST:
                return -errno.E2BIG
            self._values.popleft()
        self._values.append(value)
        return 0

    def peek(self) -> bytes | int:
        """bpf_map_peek_elem: the next value pop would return, or -ENOENT."""
        if not self._values:
            return -errno.ENOENT
        return self._values[-1] if self.lifo else self._values[0]

    def pop(self) -> bytes | int:
        """bpf_map_pop_elem."""
        if not self._values:
            return -errno.ENOENT
        return self._values.pop() if self.lifo else self._values.popleft()

    # -- the generic entry points, as bpf(2) and the helpers route them ------------------
    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        """bpf_map_lookup_elem on a queue/stack finds nothing (use peek)."""
        return None

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        """From user space a push; from a program (bpf_map_update_elem) -EINVAL."""
        if cpu is not None:
            return -errno.EINVAL
        err = self._user_write_check(flags)
        return err or self.push(value, flags)

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(0)
            if err:
                return err
        return -errno.EINVAL

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        return self._user_read_check(flags) or self.peek()

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if flags & ~BPF_F_LOCK:  # refused before the map type matters
            return -errno.EINVAL
        err = self._user_read_check(0) or self._user_write_check(0)
        if err:
            return err
        if flags:
            return -errno.EINVAL
        return self.pop()

    def get_next_key(self, key: bytes | None) -> bytes | None:
        raise MapOpError(
            f"{self.type.label} map {self.name!r} has no keys (BPF_MAP_GET_NEXT_KEY: EINVAL)", errno.EINVAL
        )

    def items(self) -> list[tuple[bytes, Value]]:
        """The values in the order successive pops would return them."""
        order = reversed(self._values) if self.lifo else iter(self._values)
        return [(b"", v) for v in order]


class StackMap(QueueMap):
    """BPF_MAP_TYPE_STACK."""

    lifo = True
