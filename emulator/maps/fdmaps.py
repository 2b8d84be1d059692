"""Maps whose values are references to other kernel objects: prog_array (tail calls),
array_of_maps and hash_of_maps (kernel/bpf/arraymap.c, hashtab.c, map_in_map.c).

User space stores an object by writing its fd; a user-space lookup returns the object's
id. We have no fds: ``update(key, value)`` takes the 4-byte id/fd and turns it into an
object with ``resolve`` (a MapSet resolves map ids; prog_array keeps the number itself as
the program reference), and ``update_ref(key, obj)`` stores an object directly (a program
name or index for prog_array, a Map for map-in-map). Programs cannot update these maps (the
verifier refuses), so a program-side update answers -EINVAL.

- prog_array: slots indexed like an array; only BPF_ANY; an empty slot is -ENOENT on
  delete and lookup; ``program(index)`` is what bpf_tail_call uses.
- array_of_maps: the same slots holding inner maps; a program's lookup returns an Element
  whose ``ref`` is the inner Map (its ``data`` holds the inner map's id).
- hash_of_maps: a hash table of inner maps; replacing a key swaps the map in place.
- An inner map must match the template ``spec.inner``: same type, key and value size and
  flags, and the same max_entries unless the template has BPF_F_INNER_MAP; else -EINVAL.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable

from emulator.maps.array import array_next_key, validate_array
from emulator.maps.base import ENOTSUPP, Element, Map, MapCreateError, MapError, MapOpError, Value, u32
from emulator.maps.hashtab import BPF_EXIST, HashEntry, _HashBase, check_flags
from emulator.maps.spec import (
    BPF_ANY,
    F_INNER_MAP,
    F_MMAPABLE,
    F_RDONLY_PROG,
    F_WRONLY,
    F_WRONLY_PROG,
    MapSpec,
    MapType,
)

ProgRef = str | int
"""A program in a prog_array: its name, or an index/id the caller understands."""

_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


def validate_fd_array(spec: MapSpec) -> None:
    """fd_array_map_alloc_check: 4-byte values (an fd in, an id out), no mmap/inner flags,
    and no program-side access flags (programs never read or write these slots directly)."""
    if spec.value_size != 4 or spec.flags & (F_MMAPABLE | F_INNER_MAP | F_RDONLY_PROG | F_WRONLY_PROG):
        raise MapCreateError(
            spec,
            -errno.EINVAL,
            f"{spec.type.label} values are 4 bytes (an fd), without mmap/prog-access flags",
        )
    validate_array(spec)


def validate_inner(spec: MapSpec) -> None:
    inner = spec.inner
    if inner is None:
        raise MapCreateError(spec, -errno.EINVAL, "a map-in-map needs an inner map template (spec.inner)")
    if inner.type in _MAP_IN_MAP:
        raise MapCreateError(spec, -errno.EINVAL, "maps of maps of maps are not supported by the kernel")
    if inner.type == MapType.PROG_ARRAY:
        raise MapCreateError(spec, -ENOTSUPP, "a prog_array cannot be an inner map")


def inner_matches(template: MapSpec, candidate: Map) -> bool:
    """bpf_map_meta_equal: the kernel's compatibility test for an inner map."""
    other = candidate.spec
    return (
        template.type == other.type
        and template.key_size == other.key_size
        and template.value_size == other.value_size
        and template.flags == other.flags
        and (bool(template.flags & F_INNER_MAP) or template.max_entries == candidate.max_entries)
    )


class _SlotArray(Map):
    """The array-of-references shape shared by prog_array and array_of_maps."""

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self._slots: dict[int, Element] = {}
        self.resolve: Callable[[int], object | None] = self._default_resolve

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        validate_fd_array(spec)

    def _default_resolve(self, ident: int) -> object | None:
        return None

    def _ref_id(self, ref: object) -> int:
        return 0

    def _accepts(self, ref: object) -> int:
        return 0

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EINVAL
        value = self._check_value(value)
        return self._store(key, None, u32(value), flags)

    def update_ref(self, key: bytes | None, ref: object, flags: int = BPF_ANY) -> int:
        """Store ``ref`` itself (a program name/index, or a Map) as user space would."""
        return self._store(key, ref, None, flags)

    def _store(self, key: bytes | None, ref: object | None, ident: int | None, flags: int) -> int:
        err = self._user_write_check(flags)
        if err:
            return err
        key = self._check_key(key)
        index = u32(key)
        if flags != BPF_ANY:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if ref is None:
            assert ident is not None
            ref = self.resolve(ident)
            if ref is None:
                return -errno.EBADF
        else:
            ident = self._ref_id(ref)
        err = self._accepts(ref)
        if err:
            return err
        self._slots[index] = Element(key, bytearray(ident.to_bytes(4, "little")), self._new_id(), ref)
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        index = self._user_slot(key, 0, cpu)
        if index < 0:
            return index
        key = self._check_key(key)
        if index >= self.max_entries:
            return -errno.E2BIG
        return 0 if self._slots.pop(index, None) is not None else -errno.ENOENT

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        err = self._user_read_check(flags)
        if err:
            return err
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        elem = self._slots.get(u32(self._check_key(key)))
        return bytes(elem.data) if elem is not None else -errno.ENOENT

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)

    def items(self) -> list[tuple[bytes, Value]]:
        return [(self._slots[i].key, bytes(self._slots[i].data)) for i in sorted(self._slots)]

    def refs(self) -> list[tuple[int, object]]:
        """(index, stored object) for every filled slot, for display."""
        return [(i, self._slots[i].ref) for i in sorted(self._slots)]


class ProgArrayMap(_SlotArray):
    """BPF_MAP_TYPE_PROG_ARRAY: program references for bpf_tail_call."""

    def _default_resolve(self, ident: int) -> object | None:
        return ident  # without a registry the number itself names the program

    def _ref_id(self, ref: object) -> int:
        return ref if isinstance(ref, int) else 0

    def _accepts(self, ref: object) -> int:
        return 0 if isinstance(ref, str | int) else -errno.EINVAL

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        raise MapOpError(
            f"programs cannot look up prog_array {self.name!r}; bpf_tail_call uses it", errno.EOPNOTSUPP
        )

    def program(self, index: int) -> ProgRef | None:
        """The program a tail call through slot ``index`` jumps to (None: the call falls
        through, as with an empty slot or an index >= max_entries)."""
        elem = self._slots.get(index) if 0 <= index < self.max_entries else None
        ref = elem.ref if elem is not None else None
        return ref if isinstance(ref, str | int) else None


class ArrayOfMapsMap(_SlotArray):
    """BPF_MAP_TYPE_ARRAY_OF_MAPS."""

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        validate_fd_array(spec)
        validate_inner(spec)

    def _ref_id(self, ref: object) -> int:
        return ref.map_id if isinstance(ref, Map) else 0

    def _accepts(self, ref: object) -> int:
        assert self.spec.inner is not None
        return 0 if isinstance(ref, Map) and inner_matches(self.spec.inner, ref) else -errno.EINVAL

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        key = self._check_key(key)
        index = u32(key)
        return self._slots.get(index) if index < self.max_entries else None


class HashOfMapsMap(_HashBase):
    """BPF_MAP_TYPE_HASH_OF_MAPS."""

    def __init__(self, spec: MapSpec, ncpus: int = 2, *, rng: random.Random | None = None) -> None:
        super().__init__(spec, ncpus, rng=rng)
        self.resolve: Callable[[int], object | None] = lambda ident: None

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        if spec.value_size != 4:
            raise MapCreateError(spec, -errno.EINVAL, "hash_of_maps values are 4 bytes (an fd)")
        super().validate(spec, ncpus)
        validate_inner(spec)

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        return self._peek(self._check_key(key))

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EINVAL
        return self._store(key, None, u32(self._check_value(value)), flags)

    def update_ref(self, key: bytes | None, ref: object, flags: int = BPF_ANY) -> int:
        return self._store(key, ref, None, flags)

    def _store(self, key: bytes | None, ref: object | None, ident: int | None, flags: int) -> int:
        err = self._user_write_check(flags)
        if err:
            return err
        key = self._check_key(key)
        if ref is None:
            assert ident is not None
            ref = self.resolve(ident)
            if ref is None:
                return -errno.EBADF
        assert self.spec.inner is not None
        if not isinstance(ref, Map) or not inner_matches(self.spec.inner, ref):
            return -errno.EINVAL
        if flags > BPF_EXIST:
            return -errno.EINVAL
        old = self._table.get(key)
        err = check_flags(old, flags)
        if err:
            return err
        data = ref.map_id.to_bytes(4, "little")
        if old is not None:  # the pointer is swapped in place
            old.elems[0].data[:] = data
            old.elems[0].ref = ref
            return 0
        if len(self._table) >= self.max_entries:
            return -errno.E2BIG
        self._table.add_head(HashEntry(key, [Element(key, bytearray(data), self._new_id(), ref)]))
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EINVAL
        return super().delete(key)

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes | int:
        return -ENOTSUPP

    def refs(self) -> list[tuple[bytes, object]]:
        return [(e.key, e.elems[0].ref) for e in self._table]
