"""Redirect targets: devmap, devmap_hash, cpumap, xskmap (kernel/bpf/devmap.c, cpumap.c,
net/xdp/xskmap.c semantics as observed on 6.18). bpf_redirect_map reads them through
``target(index)``; programs may look entries up (read-only) but not update them.

Values, as the kernel lays them out:
- devmap/devmap_hash: ``struct bpf_devmap_val {u32 ifindex; u32 prog_fd_or_id}`` (4 or 8
  bytes). ifindex 0 clears a devmap slot (a program fd with it is -EINVAL); devmap_hash
  refuses ifindex 0.
- cpumap: ``struct bpf_cpumap_val {u32 qsize; u32 prog_fd_or_id}`` (4 or 8 bytes); the key
  is a CPU; qsize 0 clears, qsize > 16384 is -EOVERFLOW, a CPU that does not exist -ENODEV.
- xskmap: the value is an AF_XDP socket fd; we store the number as the socket's identity
  (user-space lookups are -EOPNOTSUPP in the kernel too).

bpfdbg has no network devices or sockets: every nonzero ifindex exists unless
``valid_ifindex`` says otherwise (the kernel answers -EINVAL for a missing one), any
socket value is accepted, and a program fd in a value is kept as the program's id.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from emulator.maps.array import array_next_key
from emulator.maps.base import Element, Map, MapCreateError, MapError, MapOpError, Value, u32
from emulator.maps.buckets import Buckets
from emulator.maps.spec import (
    BPF_EXIST,
    BPF_NOEXIST,
    F_NUMA_NODE,
    F_RDONLY,
    F_WRONLY,
    MapSpec,
    MapType,
)

DEV_CREATE_FLAGS = F_NUMA_NODE | F_RDONLY | F_WRONLY
NR_CPUS = 256  # CONFIG_NR_CPUS of the reference kernel: cpumap max_entries above it is E2BIG
CPUMAP_MAX_QSIZE = 16384


class _Slots(Map):
    """An array of optional entries: the shape of devmap, cpumap and xskmap."""

    value_sizes: tuple[int, ...] = (4,)
    create_flags = DEV_CREATE_FLAGS

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._slots: dict[int, Element] = {}

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        if (
            spec.max_entries == 0
            or spec.key_size != 4
            or spec.value_size not in cls.value_sizes
            or spec.flags & ~cls.create_flags
        ):
            sizes = " or ".join(str(s) for s in cls.value_sizes)
            raise MapCreateError(
                spec, -errno.EINVAL, f"{spec.type.label} needs key_size 4, value_size {sizes}, valid flags"
            )

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        key = self._check_key(key)
        index = u32(key)
        return self._slots.get(index) if index < self.max_entries else None

    def _peek(self, key: bytes) -> Element | None:
        return self.lookup(key)

    def _put(self, key: bytes, index: int, value: bytes | None) -> None:
        if value is None:
            self._slots.pop(index, None)
        else:  # the kernel allocates a new entry and swaps it in under RCU
            self._slots[index] = Element(key, bytearray(value), self._new_id())

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        index = self._user_slot(key, 0, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        if index >= self.max_entries:
            return -errno.EINVAL
        self._slots.pop(index, None)  # deleting an empty slot is fine
        return 0

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)

    def items(self) -> list[tuple[bytes, Value]]:
        return [(self._slots[i].key, bytes(self._slots[i].data)) for i in sorted(self._slots)]

    def target(self, index: int) -> int | None:
        """What bpf_redirect_map sends to through ``index`` (the value's first u32), or None."""
        elem = self._slots.get(index)
        return u32(bytes(elem.data)) if elem is not None else None


class DevMap(_Slots):
    """BPF_MAP_TYPE_DEVMAP."""

    value_sizes = (4, 8)

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self.valid_ifindex: Callable[[int], bool] = lambda ifindex: True

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        index = self._user_slot(key, flags, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        value = self._check_value(value)
        err = self._array_slot_check(index, flags)
        if err:
            return err
        ifindex = u32(value)
        prog = u32(value[4:]) if len(value) == 8 else 0
        if ifindex == 0:
            if prog:
                return -errno.EINVAL
            self._put(key, index, None)
            return 0
        if not self.valid_ifindex(ifindex):
            return -errno.EINVAL
        self._put(key, index, value)
        return 0


class DevMapHash(Map):
    """BPF_MAP_TYPE_DEVMAP_HASH: devmap entries keyed by any u32, in hash buckets whose
    index is the key itself (``key & (n_buckets - 1)``), newest first per bucket."""

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._table: Buckets[Element] = Buckets(spec.max_entries, u32)
        self.valid_ifindex: Callable[[int], bool] = lambda ifindex: True

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        DevMap.validate(spec, ncpus)

    def __len__(self) -> int:
        return len(self._table)

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        return self._table.get(self._check_key(key))

    def _peek(self, key: bytes) -> Element | None:
        return self._table.get(key)

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EINVAL
        err = self._user_write_check(flags)
        if err:
            return err
        key = self._check_key(key)
        value = self._check_value(value)
        ifindex = u32(value)
        if flags > BPF_EXIST or ifindex == 0:
            return -errno.EINVAL
        old = self._table.get(key)
        if old is not None and flags & BPF_NOEXIST:
            return -errno.EEXIST
        # BPF_EXIST on a missing key is not refused: the kernel does not check it here.
        if not self.valid_ifindex(ifindex):
            return -errno.EINVAL
        new = Element(key, bytearray(value), self._new_id())
        if old is not None:
            self._table.replace(old, new)
            return 0
        if len(self._table) >= self.max_entries:
            return -errno.E2BIG
        self._table.add_head(new)
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EINVAL
        err = self._user_write_check(0)
        if err:
            return err
        elem = self._table.get(self._check_key(key))
        if elem is None:
            return -errno.ENOENT
        self._table.remove(elem)
        return 0

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        return self._table.next_key(None if key is None else self._check_key(key))

    def items(self) -> list[tuple[bytes, Value]]:
        return [(e.key, bytes(e.data)) for e in self._table]

    def target(self, key: int) -> int | None:
        elem = self._table.get(key.to_bytes(4, "little"))
        return u32(bytes(elem.data)) if elem is not None else None


class CpuMap(_Slots):
    """BPF_MAP_TYPE_CPUMAP."""

    value_sizes = (4, 8)
    create_flags = F_NUMA_NODE

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        super().validate(spec, ncpus)
        if spec.max_entries > NR_CPUS:
            raise MapCreateError(spec, -errno.E2BIG, f"a cpumap has at most NR_CPUS ({NR_CPUS}) entries")

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        index = self._user_slot(key, flags, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        value = self._check_value(value)
        err = self._array_slot_check(index, flags)
        if err:
            return err
        qsize = u32(value)
        if qsize > CPUMAP_MAX_QSIZE:
            return -errno.EOVERFLOW
        if index >= self.ncpus:
            return -errno.ENODEV
        self._put(key, index, value if qsize else None)
        return 0


class XskMap(_Slots):
    """BPF_MAP_TYPE_XSKMAP."""

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        index = self._user_slot(key, flags, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        value = self._check_value(value)
        if flags > BPF_EXIST:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        old = self._slots.get(index)
        if old is not None and flags == BPF_NOEXIST:
            return -errno.EEXIST
        if old is None and flags == BPF_EXIST:
            return -errno.ENOENT
        self._put(key, index, value)
        return 0

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        return self._user_read_check(flags) or -errno.EOPNOTSUPP


REDIRECT_TYPES = {
    MapType.DEVMAP: DevMap,
    MapType.DEVMAP_HASH: DevMapHash,
    MapType.CPUMAP: CpuMap,
    MapType.XSKMAP: XskMap,
}
