"""array and percpu_array (kernel/bpf/arraymap.c semantics).

Every index always exists: elements are created once (lazily, zero-filled, so a
million-entry array costs nothing until touched) and updated in place, so an Element a
program holds always shows the current value. Errors as the kernel gives them: an index
>= max_entries is -E2BIG on update, BPF_NOEXIST is -EEXIST (every element exists), delete
is -EINVAL. Element ids are the index (percpu: ``cpu * max_entries + index``), stable no
matter in which order elements are first touched.
"""

from __future__ import annotations

import errno

from emulator.maps.base import (
    PCPU_MIN_UNIT_SIZE,
    Element,
    Map,
    MapCreateError,
    MapError,
    MapOpError,
    Value,
    access_ok,
    round8,
    u32,
)
from emulator.maps.spec import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    F_ACCESS_MASK,
    F_INNER_MAP,
    F_MMAPABLE,
    F_NUMA_NODE,
    F_PRESERVE_ELEMS,
    F_WRONLY,
    MapSpec,
    MapType,
)

ARRAY_CREATE_FLAGS = F_NUMA_NODE | F_MMAPABLE | F_ACCESS_MASK | F_PRESERVE_ELEMS | F_INNER_MAP
INT_MAX = (1 << 31) - 1


def validate_array(spec: MapSpec) -> None:
    """array_map_alloc_check, shared by every array-shaped map."""
    percpu = spec.type == MapType.PERCPU_ARRAY
    flags = spec.flags
    if (
        spec.max_entries == 0
        or spec.key_size != 4
        or spec.value_size == 0
        or flags & ~ARRAY_CREATE_FLAGS
        or not access_ok(flags)
        or (percpu and flags & F_NUMA_NODE)
    ):
        raise MapCreateError(
            spec, -errno.EINVAL, "arrays need key_size 4, value_size > 0, max_entries > 0 and valid flags"
        )
    if spec.type != MapType.ARRAY and flags & (F_MMAPABLE | F_INNER_MAP):
        raise MapCreateError(spec, -errno.EINVAL, "only plain arrays take BPF_F_MMAPABLE/BPF_F_INNER_MAP")
    if spec.type != MapType.PERF_EVENT_ARRAY and flags & F_PRESERVE_ELEMS:
        raise MapCreateError(spec, -errno.EINVAL, "BPF_F_PRESERVE_ELEMS is for perf_event_array")
    if spec.value_size > INT_MAX:
        raise MapCreateError(spec, -errno.E2BIG, "value_size is too large")
    if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
        raise MapCreateError(spec, -errno.E2BIG, f"a per-CPU value is at most {PCPU_MIN_UNIT_SIZE} bytes")


def array_next_key(key: bytes | None, max_entries: int) -> bytes | None:
    """array_map_get_next_key: no key or one out of range restarts at 0; the last has none."""
    index = 0xFFFFFFFF if key is None else u32(key)
    if index >= max_entries:
        return (0).to_bytes(4, "little")
    if index == max_entries - 1:
        return None
    return (index + 1).to_bytes(4, "little")


class ArrayMap(Map):
    """BPF_MAP_TYPE_ARRAY (also ``.data``/``.rodata``/``.bss``)."""

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._elems: dict[int, Element] = {}

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        validate_array(spec)

    def element(self, index: int, cpu: int = 0) -> Element:
        """The element at ``index`` (created zero-filled on first use)."""
        elem = self._elems.get(index)
        if elem is None:
            elem = Element(index.to_bytes(4, "little"), bytearray(self.value_size), index)
            self._elems[index] = elem
        return elem

    def _index(self, key: bytes | None) -> int:
        return u32(self._check_key(key))

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        index = self._index(key)
        return self.element(index, cpu) if index < self.max_entries else None

    def _peek(self, key: bytes) -> Element | None:
        return self.lookup(key)

    def _update_checks(self, index: int, flags: int) -> int:
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if flags & BPF_NOEXIST:
            return -errno.EEXIST
        if flags & BPF_F_LOCK and self.spec.spin_lock_off is None:
            return -errno.EINVAL
        return 0

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        index = self._index(key)
        value = self._check_value(value)
        err = self._update_checks(index, flags)
        if err:
            return err
        self._copy_in(self.element(index).data, value)
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        """Array elements cannot be deleted: -EINVAL (-EPERM first for a frozen map)."""
        self._index(key)
        return (self._user_write_check(0) if cpu is None else 0) or -errno.EINVAL

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)

    def elements(self, cpu: int = 0) -> list[Element]:
        return [self.element(i, cpu) for i in range(self.max_entries)]

    def items(self) -> list[tuple[bytes, Value]]:
        zero = bytes(self.value_size)
        out: list[tuple[bytes, Value]] = []
        for index in range(self.max_entries):
            elem = self._elems.get(index)
            out.append((index.to_bytes(4, "little"), self._copy_out(elem.data) if elem else zero))
        return out


class PercpuArrayMap(ArrayMap):
    """BPF_MAP_TYPE_PERCPU_ARRAY: one value per CPU and index."""

    percpu = True

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._cpu_elems: dict[tuple[int, int], Element] = {}

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        """``cpu``'s value; a CPU that does not exist finds nothing (as
        bpf_map_lookup_percpu_elem answers)."""
        index = self._index(key)
        return self.element(index, cpu) if index < self.max_entries and 0 <= cpu < self.ncpus else None

    def element(self, index: int, cpu: int = 0) -> Element:
        self._check_cpu(cpu)
        elem = self._cpu_elems.get((cpu, index))
        if elem is None:
            elem = Element(
                index.to_bytes(4, "little"), bytearray(self.value_size), cpu * self.max_entries + index
            )
            self._cpu_elems[(cpu, index)] = elem
        return elem

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is not None:
            index = self._index(key)
            value = self._check_value(value)
            self._check_cpu(cpu)
            err = self._update_checks(index, flags)
            if err:
                return err
            self._copy_in(self.element(index, cpu).data, value)
            return 0
        err = self._user_write_check(flags)
        if err:
            return err
        index = self._index(key)
        values = self._percpu_values(value)
        err = self._array_slot_check(index, flags)
        if err:
            return err
        for c, slot in enumerate(values):
            self._put_slot(self.element(index, c), slot)
        return 0

    def _values_at(self, index: int) -> list[bytes]:
        out = []
        for c in range(self.ncpus):
            elem = self._cpu_elems.get((c, index))
            out.append(self._copy_out(elem.data) if elem else bytes(self.value_size))
        return out

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        err = self._user_read_check(flags)
        if err:
            return err
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        index = self._index(key)
        if index >= self.max_entries:
            return -errno.ENOENT
        return self._percpu_out([self._cpu_elems.get((c, index)) for c in range(self.ncpus)])

    def items(self) -> list[tuple[bytes, Value]]:
        return [(i.to_bytes(4, "little"), self._values_at(i)) for i in range(self.max_entries)]
