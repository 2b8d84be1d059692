"""bpf(2) through ctypes: load a program, run it with BPF_PROG_TEST_RUN, read the verifier log.

Only what an oracle needs: nothing here attaches a program to anything. Struct offsets are
those of ``union bpf_attr`` on Linux 6.1-6.18 (reference/kernel_oracle.md, checked against
the running kernel's BTF); shorter attrs are fine, the kernel zero-fills the rest.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
import platform
import struct
from dataclasses import dataclass
from types import TracebackType

from emulator.maps.spec import MapSpec

_SYSCALL_NR = {"x86_64": 321, "aarch64": 280}
BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_PROG_LOAD = 5
BPF_PROG_TEST_RUN = 10
BPF_BTF_LOAD = 18
BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21

PROG_TYPES = {"socket_filter": 1, "sched_cls": 3, "xdp": 6}
LOG_SIZE = 1 << 20


class BpfError(OSError):
    """bpf() failed; ``errno`` says why."""


class VerifierError(BpfError):
    """The verifier rejected the program; ``log`` holds its explanation."""

    def __init__(self, err: int, log: str) -> None:
        super().__init__(err, f"verifier rejected the program ({errno_mod.errorcode.get(err, err)})")
        self.log = log


@dataclass(frozen=True)
class TestRun:
    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes


class Bpf:
    """A handle on bpf(2) that closes every program fd it created."""

    def __init__(self) -> None:
        nr = _SYSCALL_NR.get(platform.machine())
        if nr is None:
            raise BpfError(errno_mod.ENOSYS, f"bpf() syscall number unknown on {platform.machine()}")
        self._nr = nr
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long
        self._fds: list[int] = []
        self.last_log = ""

    def __enter__(self) -> Bpf:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()

    def _call(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        ret = self._libc.syscall(self._nr, cmd, attr, len(attr))
        if ret < 0:
            err = ctypes.get_errno()
            raise BpfError(err, os.strerror(err))
        return int(ret)

    def prog_load(
        self,
        code: bytes,
        prog_type: str = "xdp",
        log_level: int = 1,
        name: str = "bpfdbg",
        fd_array: list[int] | None = None,
        btf_fd: int = 0,
        func_info: list[tuple[int, int]] | None = None,
    ) -> int:
        """Load raw instruction slots; returns the program fd or raises VerifierError.

        The verifier's log of an accepted program is kept in ``last_log``: at log level 1
        it is only the ``processed N insns (limit 1000000) max_states_per_insn ...`` summary,
        which says how hard the program was to verify (how close to the limit it is)
        without the per-instruction trace that level 2 costs. ``last_log`` is cleared on
        every load, so a rejection never leaves an earlier program's summary behind.

        ``fd_array`` (PROG_LOAD attr fd_array@120) lets ``lddw`` with src_reg 5 (MAP_IDX) or
        6 (MAP_IDX_VALUE) name a map by its index in this list instead of by fd, so one
        program image can be loaded with whatever fds this process happens to hold.
        """
        insns = ctypes.create_string_buffer(code, len(code))
        license_ = ctypes.create_string_buffer(b"GPL")
        log = ctypes.create_string_buffer(LOG_SIZE)
        attr = ctypes.create_string_buffer(144)
        struct.pack_into("<II", attr, 0, PROG_TYPES[prog_type], len(code) // 8)
        struct.pack_into("<Q", attr, 8, ctypes.addressof(insns))
        struct.pack_into("<Q", attr, 16, ctypes.addressof(license_))
        struct.pack_into("<II", attr, 24, log_level, LOG_SIZE)
        struct.pack_into("<Q", attr, 32, ctypes.addressof(log))
        struct.pack_into("16s", attr, 48, name.encode()[:15])
        fds = None
        if fd_array:
            fds = (ctypes.c_int * len(fd_array))(*fd_array)  # kept alive until the call returns
            struct.pack_into("<Q", attr, 120, ctypes.addressof(fds))
        records = None
        if btf_fd and func_info:  # callbacks (bpf_loop, for_each_map_elem) need BTF func_info
            flat = [v for pc_type in func_info for v in pc_type]
            records = (ctypes.c_uint32 * len(flat))(*flat)
            struct.pack_into("<IIQI", attr, 72, btf_fd, 8, ctypes.addressof(records), len(func_info))
        self.last_log = ""
        try:
            fd = self._call(BPF_PROG_LOAD, attr)
        except BpfError as err:
            text = log.value.decode(errors="replace")
            if text or err.errno in (errno_mod.EACCES, errno_mod.EINVAL):
                raise VerifierError(err.errno or 0, text) from None
            raise
        self.last_log = log.value.decode(errors="replace")
        self._fds.append(fd)
        return fd

    def btf_load(self, blob: bytes) -> int:
        """BPF_BTF_LOAD: the object's BTF, for programs that need func_info."""
        data = ctypes.create_string_buffer(blob, len(blob))
        log = ctypes.create_string_buffer(1 << 16)
        attr = ctypes.create_string_buffer(32)
        struct.pack_into(
            "<QQIII", attr, 0, ctypes.addressof(data), ctypes.addressof(log), len(blob), len(log), 1
        )
        try:
            fd = self._call(BPF_BTF_LOAD, attr)
        except BpfError as err:
            raise BpfError(
                err.errno or 0, f"BTF rejected: {log.value.decode(errors='replace')[-300:]}"
            ) from None
        self._fds.append(fd)
        return fd

    def test_run(self, fd: int, data: bytes, ctx: bytes = b"", repeat: int = 1) -> TestRun:
        """BPF_PROG_TEST_RUN once (repeat=1: iterations share packet and map state)."""
        data_in = ctypes.create_string_buffer(data, max(len(data), 1))
        data_out = ctypes.create_string_buffer(len(data) + 4096)
        ctx_in = ctypes.create_string_buffer(ctx, max(len(ctx), 1))
        ctx_out = ctypes.create_string_buffer(max(len(ctx), 1) + 256)
        attr = ctypes.create_string_buffer(80)
        struct.pack_into("<IIII", attr, 0, fd, 0, len(data), len(data_out))
        struct.pack_into("<QQ", attr, 16, ctypes.addressof(data_in), ctypes.addressof(data_out))
        struct.pack_into("<II", attr, 32, repeat, 0)
        if ctx:
            struct.pack_into("<II", attr, 40, len(ctx), len(ctx_out))
            struct.pack_into("<QQ", attr, 48, ctypes.addressof(ctx_in), ctypes.addressof(ctx_out))
        self._call(BPF_PROG_TEST_RUN, attr)
        retval, size_out = struct.unpack_from("<I4xI", attr, 4)
        duration = struct.unpack_from("<I", attr, 36)[0]
        ctx_size_out = struct.unpack_from("<I", attr, 44)[0] if ctx else 0
        return TestRun(retval, duration, data_out.raw[:size_out], ctx_out.raw[:ctx_size_out])

    # -- maps ------------------------------------------------------------------------------
    # The kernel copies exactly key_size / value_size bytes from the pointers it is given,
    # so every buffer here is allocated at the size the map expects, never shorter.

    def map_create(self, spec: MapSpec, inner_map_fd: int = 0, name: str | None = None) -> int:
        """BPF_MAP_CREATE from a MapSpec; returns the map fd (closed with this handle).

        Map-in-map specs need ``inner_map_fd``: a map of the inner spec's shape that the
        kernel uses as the template (create it first from ``spec.inner``).
        """
        attr = ctypes.create_string_buffer(72)
        struct.pack_into(
            "<IIIIII",
            attr,
            0,
            int(spec.type),
            spec.key_size,
            spec.value_size,
            spec.max_entries,
            spec.flags,
            inner_map_fd,
        )
        label = (spec.name if name is None else name).encode()
        struct.pack_into("16s", attr, 28, _map_name(label))
        fd = self._call(BPF_MAP_CREATE, attr)
        self._fds.append(fd)
        return fd

    def _elem(
        self, cmd: int, fd: int, key: bytes | None, value: ctypes.Array[ctypes.c_char] | None, flags: int = 0
    ) -> None:
        key_buf = ctypes.create_string_buffer(key, max(len(key), 1)) if key is not None else None
        attr = ctypes.create_string_buffer(32)
        struct.pack_into("<I", attr, 0, fd)
        struct.pack_into("<Q", attr, 8, ctypes.addressof(key_buf) if key_buf is not None else 0)
        struct.pack_into("<Q", attr, 16, ctypes.addressof(value) if value is not None else 0)
        struct.pack_into("<Q", attr, 24, flags)
        self._call(cmd, attr)

    def map_update(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
        """BPF_MAP_UPDATE_ELEM. ``key`` None for queue/stack (a push). Raises BpfError.

        Percpu maps take ``possible_cpus() * round_up(value_size, 8)`` bytes, one slot per CPU.
        """
        self._elem(
            BPF_MAP_UPDATE_ELEM, fd, key, ctypes.create_string_buffer(value, max(len(value), 1)), flags
        )

    def map_lookup(self, fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes:
        """BPF_MAP_LOOKUP_ELEM (a peek for queue/stack, key None); raises BpfError (ENOENT)."""
        out = ctypes.create_string_buffer(max(value_size, 1))
        self._elem(BPF_MAP_LOOKUP_ELEM, fd, key, out, flags)
        return out.raw[:value_size]

    def map_delete(self, fd: int, key: bytes | None) -> None:
        """BPF_MAP_DELETE_ELEM; raises BpfError (ENOENT, EINVAL for arrays)."""
        self._elem(BPF_MAP_DELETE_ELEM, fd, key, None)

    def map_get_next_key(self, fd: int, key: bytes | None, key_size: int) -> bytes | None:
        """BPF_MAP_GET_NEXT_KEY: the key after ``key`` (None: the first), or None at the end."""
        out = ctypes.create_string_buffer(max(key_size, 1))
        try:
            self._elem(BPF_MAP_GET_NEXT_KEY, fd, key, out)
        except BpfError as err:
            if err.errno == errno_mod.ENOENT:
                return None
            raise
        return out.raw[:key_size]

    def map_lookup_and_delete(self, fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM: a pop for queue/stack (key None), or hash take."""
        out = ctypes.create_string_buffer(max(value_size, 1))
        self._elem(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, out, flags)
        return out.raw[:value_size]

    def map_items(self, fd: int, key_size: int, value_size: int) -> list[tuple[bytes, bytes]]:
        """Every (key, value) in get_next_key order (a value that vanished midway is skipped)."""
        items: list[tuple[bytes, bytes]] = []
        key = self.map_get_next_key(fd, None, key_size)
        while key is not None:
            try:
                items.append((key, self.map_lookup(fd, key, value_size)))
            except BpfError as err:
                if err.errno != errno_mod.ENOENT:
                    raise
            key = self.map_get_next_key(fd, key, key_size)
        return items

    def close_fd(self, fd: int) -> None:
        """Close one fd this handle created (a map or program no longer needed)."""
        if fd in self._fds:
            self._fds.remove(fd)
            os.close(fd)


def _map_name(label: bytes) -> bytes:
    """The kernel accepts only [A-Za-z0-9_.] in object names (EINVAL otherwise), 15 bytes."""
    allowed = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."
    return bytes(c if c in allowed else ord("_") for c in label)[:15]


def possible_cpus() -> int:
    """num_possible_cpus(): the number of per-CPU slots a percpu map value has from user space."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def xdp_md(packet_len: int) -> bytes:
    """An xdp_md ctx_in whose linear packet is the whole of data_in (no metadata)."""
    return struct.pack("<IIIIII", 0, packet_len, 0, 0, 0, 0)


def available() -> str | None:
    """None when bpf() can load and run a program here, else the reason it cannot."""
    try:
        with Bpf() as bpf:
            fd = bpf.prog_load(bytes.fromhex("b7000000020000009500000000000000"), "xdp")
            if bpf.test_run(fd, bytes(64), xdp_md(64)).retval != 2:
                return "test run returned an unexpected value"
    except (BpfError, OSError) as err:
        return f"bpf() is not permitted here: {err}"
    return None
