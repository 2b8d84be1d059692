"""hash and percpu_hash: kernel semantics (kernel/bpf/hashtab.c, as observed on 6.18).

Decisions that follow the kernel:
- A full map refuses a *new* key with -E2BIG; replacing an existing key always works
  (preallocated maps keep a spare element per CPU for exactly that).
- ``hash``: an update of an existing key writes a NEW element (RCU): a program still
  holding the old Element sees the old bytes. With BPF_F_LOCK (maps whose value has a
  struct bpf_spin_lock) the value is updated in place instead.
- ``percpu_hash``: an existing key is always updated in place. A program's update writes
  its own CPU's value; creating a key from a program zeroes the other CPUs' values.
- Order: kernel bucket order (see buckets.py). The bucket hash is jhash with the map's
  seed; the kernel draws that seed at random unless BPF_F_ZERO_SEED, so without the flag
  our order is the kernel's *for seed 0* (or for a seed drawn from the ``rng`` given to
  create_map): deterministic, but not the order one particular kernel map would show.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass, field

from emulator.maps.base import (
    ENOTSUPP,
    KMALLOC_MAX_SIZE,
    PCPU_MIN_UNIT_SIZE,
    Element,
    Map,
    MapCreateError,
    MapError,
    MapOpError,
    Value,
    access_ok,
    round8,
)
from emulator.maps.buckets import Buckets
from emulator.maps.jhash import jhash
from emulator.maps.spec import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    F_ACCESS_MASK,
    F_NO_COMMON_LRU,
    F_NO_PREALLOC,
    F_NUMA_NODE,
    F_WRONLY,
    F_ZERO_SEED,
    MapSpec,
    MapType,
)

HTAB_CREATE_FLAGS = F_NO_PREALLOC | F_NO_COMMON_LRU | F_NUMA_NODE | F_ACCESS_MASK | F_ZERO_SEED
HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem) on x86-64, for the E2BIG size check
_LRU_TYPES = (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
_PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)


@dataclass(eq=False, slots=True)
class HashEntry:
    """One key's element(s): one Element, or one per CPU for percpu maps. ``node`` is the
    entry's place in the LRU lists (LRU maps only)."""

    key: bytes
    elems: list[Element]
    node: object | None = field(default=None)


def check_flags(old: object | None, flags: int) -> int:
    """The kernel's check_flags: NOEXIST on a present key, EXIST on a missing one."""
    mode = flags & ~BPF_F_LOCK
    if old is not None and mode == BPF_NOEXIST:
        return -errno.EEXIST
    if old is None and mode == BPF_EXIST:
        return -errno.ENOENT
    return 0


class _HashBase(Map):
    """What every hashtab-based map shares: validation, buckets, iteration, delete."""

    def __init__(self, spec: MapSpec, ncpus: int = 2, *, rng: random.Random | None = None) -> None:
        super().__init__(spec, ncpus)
        if spec.flags & F_ZERO_SEED or rng is None:
            self.seed = 0
        else:
            self.seed = rng.getrandbits(32)
        self._table: Buckets[HashEntry] = Buckets(self.max_entries, lambda k: jhash(k, self.seed))

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        lru = spec.type in _LRU_TYPES
        percpu = spec.type in _PERCPU_TYPES
        flags = spec.flags
        if flags & ~HTAB_CREATE_FLAGS or not access_ok(flags):
            raise MapCreateError(spec, -errno.EINVAL, f"flags {flags:#x} are not valid for hash maps")
        if flags & F_NO_COMMON_LRU and not lru:
            raise MapCreateError(spec, -errno.EINVAL, "BPF_F_NO_COMMON_LRU needs an LRU map")
        if lru and flags & F_NO_PREALLOC:
            raise MapCreateError(spec, -ENOTSUPP, "LRU maps are always preallocated (drop BPF_F_NO_PREALLOC)")
        if flags & F_NUMA_NODE and (percpu or flags & F_NO_COMMON_LRU):
            raise MapCreateError(spec, -errno.EINVAL, "a NUMA node makes no sense for per-CPU storage")
        if spec.max_entries == 0 or spec.key_size == 0 or spec.value_size == 0:
            raise MapCreateError(spec, -errno.EINVAL, "key_size, value_size and max_entries must be non-zero")
        if spec.key_size + spec.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE:
            raise MapCreateError(spec, -errno.E2BIG, "key and value are too large")
        if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
            raise MapCreateError(spec, -errno.E2BIG, f"a per-CPU value is at most {PCPU_MIN_UNIT_SIZE} bytes")
        if spec.max_entries > 1 << 31:
            raise MapCreateError(spec, -errno.E2BIG, "max_entries is above 2^31")

    def __len__(self) -> int:
        return len(self._table)

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        return self._table.next_key(None if key is None else self._check_key(key))

    def _peek(self, key: bytes) -> Element | None:
        entry = self._table.get(key)
        return entry.elems[0] if entry is not None else None

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(0)
            if err:
                return err
        entry = self._table.get(self._check_key(key))
        if entry is None:
            return -errno.ENOENT
        self._unlink(entry)
        return 0

    def _unlink(self, entry: HashEntry) -> None:
        """Take ``entry`` out of the map (LRU maps also give its node back)."""
        self._table.remove(entry)
        self._forget(entry)

    def _forget(self, entry: HashEntry) -> None:
        for elem in entry.elems:
            self._pad.pop(elem.id, None)

    def elements(self, cpu: int = 0) -> list[Element]:
        index = cpu if self.percpu else 0
        return [entry.elems[index] for entry in self._table]

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if flags & ~BPF_F_LOCK:
            return -errno.EINVAL
        err = self._user_read_check(0) or self._user_write_check(flags)
        if err:
            return err
        if key is None:
            raise MapError(f"map {self.name!r}: lookup_and_delete needs a key")
        entry = self._table.get(self._check_key(key))
        if entry is None:
            return -errno.ENOENT
        out = self._value_out(entry)
        self._unlink(entry)
        return out

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        err = self._user_read_check(flags)
        if err:
            return err
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        entry = self._table.get(self._check_key(key))
        if entry is None:
            return -errno.ENOENT
        return self._value_out(entry)

    def _value_out(self, entry: HashEntry) -> bytes:
        if self.percpu:
            return self._percpu_out(entry.elems)
        return self._copy_out(entry.elems[0].data)

    def items(self) -> list[tuple[bytes, Value]]:
        if self.percpu:
            return [(e.key, [self._copy_out(x.data) for x in e.elems]) for e in self._table]
        return [(e.key, self._copy_out(e.elems[0].data)) for e in self._table]


class HashMap(_HashBase):
    """BPF_MAP_TYPE_HASH."""

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        return self._peek(self._check_key(key))

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        key = self._check_key(key)
        value = self._check_value(value)
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return -errno.EINVAL
        old = self._table.get(key)
        if flags & BPF_F_LOCK:
            if self.spec.spin_lock_off is None:
                return -errno.EINVAL
            err = check_flags(old, flags)
            if err:
                return err
            if old is not None:  # under the element's lock, in place
                self._copy_in(old.elems[0].data, value)
                return 0
        err = check_flags(old, flags)
        if err:
            return err
        if old is None and len(self._table) >= self.max_entries:
            return -errno.E2BIG
        new = HashEntry(key, [self._fresh(key, value)])
        if old is None:
            self._table.add_head(new)
        else:
            self._table.replace(old, new)
            self._forget(old)
        return 0


class PercpuHashMap(_HashBase):
    """BPF_MAP_TYPE_PERCPU_HASH: one value per CPU, updated in place."""

    percpu = True

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        """``cpu``'s value; a CPU that does not exist finds nothing (as
        bpf_map_lookup_percpu_elem answers)."""
        entry = self._table.get(self._check_key(key))
        return entry.elems[cpu] if entry is not None and 0 <= cpu < self.ncpus else None

    def _flags_ok(self, flags: int, user: bool) -> int:
        """htab_map_check_update_flags: programs take ANY/NOEXIST/EXIST; so does user space,
        where BPF_F_LOCK is never valid for a percpu value."""
        if flags > BPF_EXIST or (user and flags & BPF_F_LOCK):
            return -errno.EINVAL
        return 0

    def _new_entry(self, key: bytes, values: list[bytes] | None, value: bytes, cpu: int | None) -> HashEntry:
        """A new key: user space sets every CPU (padding included); a program sets its CPU
        and zeroes the rest. (The kernel may leave a recycled element's old padding there;
        only user space could see it, and we give zeroes.)"""
        if values is None:
            return HashEntry(
                key,
                [self._fresh(key, value if c == cpu else bytes(self.value_size)) for c in range(self.ncpus)],
            )
        elems = [self._fresh(key, bytes(self.value_size)) for _ in range(self.ncpus)]
        for elem, slot in zip(elems, values, strict=True):
            self._put_slot(elem, slot)
        return HashEntry(key, elems)

    def _write(self, entry: HashEntry, values: list[bytes] | None, value: bytes, cpu: int | None) -> None:
        if values is None:
            assert cpu is not None
            self._copy_in(entry.elems[cpu].data, value)
        else:
            for elem, slot in zip(entry.elems, values, strict=True):
                self._put_slot(elem, slot)

    def _values(self, value: bytes, cpu: int | None) -> tuple[list[bytes] | None, bytes]:
        if cpu is None:
            return self._percpu_values(value), b""
        self._check_cpu(cpu)
        return None, self._check_value(value)

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        key = self._check_key(key)
        values, one = self._values(value, cpu)
        err = self._flags_ok(flags, cpu is None)
        if err:
            return err
        old = self._table.get(key)
        err = check_flags(old, flags)
        if err:
            return err
        if old is not None:
            self._write(old, values, one, cpu)
            return 0
        if len(self._table) >= self.max_entries:
            return -errno.E2BIG
        self._table.add_head(self._new_entry(key, values, one, cpu))
        return 0
