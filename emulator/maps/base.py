"""The contract every map family implements, and the Element a program points into.

Why the shape: the interpreter maps map values into the program's address space, so a
value must be a *mutable buffer that lives as long as the kernel's would*. ``lookup``
therefore hands out an :class:`Element` whose ``data`` the program reads and writes in
place, and whose ``id`` stays the same for that buffer's lifetime (the interpreter keys a
stable address and a cached memory region on it). When the kernel would allocate a new
element (a hash update through RCU), we create a new Element too, and an Element a
program still holds keeps its old bytes, exactly like a stale RCU pointer.

Two callers, two sets of rules. ``cpu`` given: a BPF program running on that CPU (the
helper's semantics). ``cpu`` None: user space through bpf(2) (the syscall's semantics,
including its extra permission and flag checks, and for percpu maps one value per CPU).
Every operation returns 0 or a negative errno the way the kernel would; only misuse of
this API (a key of the wrong length, say) raises, because the kernel cannot see that case.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from emulator.errors import EmulatorError
from emulator.maps.spec import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    F_RDONLY,
    F_RDONLY_PROG,
    F_WRONLY,
    F_WRONLY_PROG,
    MapSpec,
    MapType,
)

ENOTSUPP = 524
"""The kernel-internal "operation not supported" errno that bpf(2) leaks to user space
(``-ENOTSUPP``, not ``-EOPNOTSUPP``); the errno module has no name for it."""

Value = bytes | list[bytes]
"""What ``items()`` gives per key: the value, or one value per CPU for percpu maps."""


def errno_name(err: int) -> str:
    """``-2`` -> ``ENOENT``: for messages and test output."""
    code = -err if err < 0 else err
    if code == ENOTSUPP:
        return "ENOTSUPP"
    return errno.errorcode.get(code, str(code))


def round8(n: int) -> int:
    return (n + 7) & ~7


KMALLOC_MAX_SIZE = 1 << 22  # x86-64: the largest kmalloc (MAX_PAGE_ORDER 10 + PAGE_SHIFT 12)
PCPU_MIN_UNIT_SIZE = 32 << 10  # a percpu value may not exceed this per CPU
PAGE_SIZE = 4096


def access_ok(flags: int) -> bool:
    """bpf_map_flags_access_ok: not both read-only and write-only, for either side."""
    return not (flags & F_RDONLY and flags & F_WRONLY) and not (
        flags & F_RDONLY_PROG and flags & F_WRONLY_PROG
    )


class MapError(EmulatorError):
    """This API was used in a way the kernel cannot even express (wrong key length, a value
    that is not bytes). The message says which map and what was expected."""


class MapCreateError(MapError):
    """The kernel would refuse this MapSpec at BPF_MAP_CREATE; ``errno`` is its answer
    (positive, as in OSError)."""

    def __init__(self, spec: MapSpec, err: int, why: str) -> None:
        super().__init__(f"map {spec.name!r} ({spec.type.label}): {why} ({errno_name(err)})")
        self.errno = abs(err)


class MapOpError(MapError):
    """An operation this map type does not have at all (the kernel answers with ``errno``
    or the verifier rejects the call); e.g. iterating a queue, a program lookup in a
    prog_array."""

    def __init__(self, message: str, err: int) -> None:
        super().__init__(message)
        self.errno = abs(err)


@dataclass(eq=False, slots=True)
class Element:
    """One value buffer. ``data`` is what a program's pointer points at (for percpu maps:
    one CPU's buffer). ``id`` is unique among the Elements of its map for the map's life.
    ``ref`` is the object an fd-holding map stores (an inner Map, a program reference)."""

    key: bytes
    data: bytearray
    id: int
    ref: object | None = None


class Map:
    """Base of every map family. Subclasses override what their type supports; the defaults
    answer the way the kernel does for a type that lacks the operation."""

    percpu: ClassVar[bool] = False
    keyless: ClassVar[bool] = False  # queue, stack, ringbuf: key_size 0

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        if ncpus < 1:
            raise MapError(f"map {spec.name!r}: ncpus must be at least 1, not {ncpus}")
        self.spec = spec
        self.ncpus = ncpus
        self.user_cpu = 0  # the CPU a bpf() syscall runs on (matters only to LRU lists)
        self.frozen = False
        self.map_id = 0  # assigned by a MapSet; what user-space lookups of map-in-map return
        self.max_entries = spec.max_entries  # the kernel may round it (percpu LRU lists)
        self._ids = 0
        self._pad: dict[int, bytes] = {}  # element id -> percpu padding bytes user space wrote

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        """Raise MapCreateError where the kernel's map_alloc_check would refuse ``spec``."""

    # -- description ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> MapType:
        return self.spec.type

    @property
    def key_size(self) -> int:
        return self.spec.key_size

    @property
    def value_size(self) -> int:
        return self.spec.value_size

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.type.label} max_entries={self.max_entries}>"

    # -- the operations ---------------------------------------------------------------
    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        """bpf_map_lookup_elem from a program on ``cpu``: the live Element, or None."""
        raise MapOpError(
            f"programs cannot look up elements of {self.type.label} map {self.name!r}", errno.EINVAL
        )

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        """bpf_map_update_elem: 0 or a negative errno (see the module docstring for ``cpu``)."""
        return -errno.EINVAL

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        """bpf_map_delete_elem: 0 or a negative errno."""
        return -errno.EINVAL

    def get_next_key(self, key: bytes | None) -> bytes | None:
        """BPF_MAP_GET_NEXT_KEY: the key after ``key`` (None or a missing key: the first),
        None after the last."""
        raise MapOpError(f"{self.type.label} map {self.name!r} has no keys to iterate", errno.EINVAL)

    def items(self) -> list[tuple[bytes, Value]]:
        """A snapshot for display, in get_next_key order."""
        return []

    def elements(self, cpu: int = 0) -> list[Element]:
        """bpf_for_each_map_elem's walk: every element in iteration order (``cpu``'s buffer
        for percpu maps). Only arrays and hash maps have one; the verifier refuses others."""
        raise MapOpError(
            f"bpf_for_each_map_elem does not take {self.type.label} map {self.name!r}", errno.EINVAL
        )

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        """BPF_MAP_LOOKUP_ELEM from user space: the value bytes (percpu: one
        round_up(value_size, 8) slot per CPU) or a negative errno."""
        err = self._user_read_check(flags)
        if err:
            return err
        if key is None:
            return -errno.EINVAL
        elem = self._peek(self._check_key(key))
        if elem is None:
            return -errno.ENOENT
        return self._copy_out(elem.data)

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes | int:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM from user space; only hash maps, queues and stacks
        have it (everything else: -ENOTSUPP)."""
        if flags & ~BPF_F_LOCK:
            return -errno.EINVAL
        err = self._user_read_check(0) or self._user_write_check(0)
        if err:
            return err
        if flags & BPF_F_LOCK and self.spec.spin_lock_off is None:
            return -errno.EINVAL
        return -ENOTSUPP

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: user space may no longer write (``.rodata`` after loading)."""
        self.frozen = True

    # -- shared machinery ---------------------------------------------------------------
    def _peek(self, key: bytes) -> Element | None:
        """The element for ``key`` without side effects (no LRU reference bit)."""
        return None

    def _new_id(self) -> int:
        self._ids += 1
        return self._ids

    def _check_key(self, key: bytes | None) -> bytes:
        if key is None:
            raise MapError(f"map {self.name!r}: this operation needs a key ({self.key_size} bytes)")
        if not isinstance(key, bytes | bytearray | memoryview):
            raise MapError(f"map {self.name!r}: key must be bytes, not {type(key).__name__}")
        key = bytes(key)
        if len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key is {len(key)} bytes, the map's keys are {self.key_size}")
        return key

    def _check_value(self, value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise MapError(f"map {self.name!r}: value must be bytes, not {type(value).__name__}")
        value = bytes(value)
        if len(value) != self.value_size:
            raise MapError(
                f"map {self.name!r}: value is {len(value)} bytes, the map's values are {self.value_size}"
            )
        return value

    def _check_cpu(self, cpu: int) -> int:
        if not 0 <= cpu < self.ncpus:
            raise MapError(f"map {self.name!r}: cpu {cpu} does not exist (ncpus={self.ncpus})")
        return cpu

    def _percpu_values(self, value: bytes) -> list[bytes]:
        """A user-space percpu value split into one round_up(value_size, 8)-byte slot per
        CPU, as the syscall takes it. A single value_size value is also accepted and set on
        every CPU (a convenience for the debugger's commands; the kernel has no such form)."""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise MapError(f"map {self.name!r}: value must be bytes, not {type(value).__name__}")
        value = bytes(value)
        stride = round8(self.value_size)
        if len(value) == stride * self.ncpus:
            return [value[i * stride : (i + 1) * stride] for i in range(self.ncpus)]
        if len(value) == self.value_size:
            return [value.ljust(stride, b"\0")] * self.ncpus
        raise MapError(
            f"map {self.name!r}: a percpu value from user space is {self.ncpus} x {stride} bytes "
            f"(or one {self.value_size}-byte value for every CPU), not {len(value)}"
        )

    def _put_slot(self, elem: Element, slot: bytes) -> None:
        """A user-space percpu write (copy_map_value_long): the kernel copies the whole
        8-byte-rounded slot, so padding bytes are stored and come back on lookup. Programs
        cannot reach the padding, so it lives beside the Element, not in ``data``."""
        self._copy_in(elem.data, slot[: self.value_size])
        pad = slot[self.value_size :]
        if pad.strip(b"\0"):
            self._pad[elem.id] = pad
        else:
            self._pad.pop(elem.id, None)

    def _percpu_out(self, elems: Sequence[Element | None]) -> bytes:
        """The syscall's percpu layout: each CPU's value with its stored padding."""
        stride = round8(self.value_size)
        zero_pad = bytes(stride - self.value_size)
        return b"".join(
            self._copy_out(e.data) + self._pad.get(e.id, zero_pad) if e is not None else bytes(stride)
            for e in elems
        )

    def _user_write_check(self, flags: int) -> int:
        """map_update_elem/map_delete_elem's checks before the map type sees the call."""
        if self.frozen or self.spec.flags & F_RDONLY:
            return -errno.EPERM
        if flags & BPF_F_LOCK and self.spec.spin_lock_off is None:
            return -errno.EINVAL
        return 0

    def _user_slot(self, key: bytes | None, flags: int, cpu: int | None) -> int:
        """The shared start of update/delete on maps that only user space writes (device,
        CPU, socket, program and event arrays): the slot index, or a negative errno (a
        program's call, or a write the map refuses)."""
        if cpu is not None:
            return -errno.EINVAL
        err = self._user_write_check(flags)
        if err:
            return err
        return int.from_bytes(self._check_key(key), "little")

    def _array_slot_check(self, index: int, flags: int) -> int:
        """array_map_update_elem's order for slot-indexed maps where every slot exists:
        unknown flags -EINVAL, index past the end -E2BIG, BPF_NOEXIST -EEXIST."""
        if flags > BPF_EXIST:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if flags == BPF_NOEXIST:
            return -errno.EEXIST
        return 0

    def _user_read_check(self, flags: int) -> int:
        if flags & ~BPF_F_LOCK:
            return -errno.EINVAL
        if self.spec.flags & F_WRONLY:
            return -errno.EPERM
        if flags & BPF_F_LOCK and self.spec.spin_lock_off is None:
            return -errno.EINVAL
        return 0

    def _copy_in(self, dst: bytearray, src: bytes) -> None:
        """copy_map_value: every byte except a struct bpf_spin_lock, which belongs to the map."""
        off = self.spec.spin_lock_off
        if off is None:
            dst[:] = src
        else:
            dst[:off] = src[:off]
            dst[off + 4 :] = src[off + 4 :]

    def _copy_out(self, data: bytes | bytearray) -> bytes:
        """What user space gets: the value with the spin lock's bytes zeroed."""
        off = self.spec.spin_lock_off
        if off is None:
            return bytes(data)
        return bytes(data[:off]) + b"\0\0\0\0" + bytes(data[off + 4 :])

    def _fresh(self, key: bytes, value: bytes) -> Element:
        """A new element holding ``value`` (its spin lock zeroed)."""
        elem = Element(key, bytearray(self.value_size), self._new_id())
        self._copy_in(elem.data, value)
        return elem


def u32(key: bytes) -> int:
    return int.from_bytes(key[:4], "little")
