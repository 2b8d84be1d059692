"""MapSpec: what a map *is* (type, sizes, flags, initial contents), independent of any
machine. The ELF loader produces MapSpecs; every backend instantiates its own maps from
them (``interp`` in Python, ``kernel`` through bpf(), ``nic`` on the device model).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class MapType(IntEnum):
    """``enum bpf_map_type`` values (uapi/linux/bpf.h)."""

    UNSPEC = 0
    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    CGROUP_ARRAY = 8
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    DEVMAP = 14
    SOCKMAP = 15
    CPUMAP = 16
    XSKMAP = 17
    SOCKHASH = 18
    CGROUP_STORAGE = 19
    REUSEPORT_SOCKARRAY = 20
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    SK_STORAGE = 24
    DEVMAP_HASH = 25
    STRUCT_OPS = 26
    RINGBUF = 27
    INODE_STORAGE = 28
    TASK_STORAGE = 29
    BLOOM_FILTER = 30
    USER_RINGBUF = 31
    CGRP_STORAGE = 32
    ARENA = 33

    @property
    def label(self) -> str:
        """bpftool's spelling: ``percpu_array``, ``lru_hash``."""
        return self.name.lower()


# Map flags (BPF_F_*) that change behaviour we model.
F_NO_PREALLOC = 1 << 0
F_NO_COMMON_LRU = 1 << 1
F_NUMA_NODE = 1 << 2
F_RDONLY = 1 << 3  # user space may not write (EPERM)
F_WRONLY = 1 << 4  # user space may not read (EPERM)
F_ZERO_SEED = 1 << 6  # hash maps: hash seed 0, so iteration order is reproducible
F_RDONLY_PROG = 1 << 7
F_WRONLY_PROG = 1 << 8
F_MMAPABLE = 1 << 10
F_PRESERVE_ELEMS = 1 << 11
F_INNER_MAP = 1 << 12
F_ACCESS_MASK = F_RDONLY | F_WRONLY | F_RDONLY_PROG | F_WRONLY_PROG

# Update flags.
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4


@dataclass(frozen=True)
class MapSpec:
    """One map of an object.

    ``initial`` holds contents the loader knows before the run: the bytes of ``.data`` and
    ``.rodata`` (key 0 of a one-entry array), or ``prog_array`` slots given as program
    names in ``initial_programs``. For array_of_maps/hash_of_maps an initial value is the
    little-endian u32 index of another map of the same object (libbpf's ``.values =
    {&other}``). ``spin_lock_off`` says where the value's ``struct bpf_spin_lock`` is: only
    maps that have one accept BPF_F_LOCK, and copies never touch those 4 bytes.
    ``key_btf``/``value_btf`` are BTF type ids in the object's BTF (0 = unknown), so the
    debugger can format entries by field.
    """

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    pinning: int = 0
    section: str = ".maps"  # ".maps", "maps", ".data", ".rodata", ".bss", ".kconfig", ...
    inner: MapSpec | None = None
    initial: tuple[tuple[bytes, bytes], ...] = ()
    initial_programs: tuple[tuple[int, str], ...] = ()
    key_btf: int = 0
    value_btf: int = 0
    frozen: bool = False  # .rodata: read-only to the program after load
    spin_lock_off: int | None = None  # offset of struct bpf_spin_lock in the value (from BTF)

    @property
    def is_global_data(self) -> bool:
        return self.section in (".data", ".rodata", ".bss") or self.section.startswith((".data.", ".rodata."))
