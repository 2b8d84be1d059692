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

_SYSCALL_NR = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD = 5
BPF_PROG_TEST_RUN = 10

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

    def prog_load(self, code: bytes, prog_type: str = "xdp", log_level: int = 1, name: str = "bpfdbg") -> int:
        """Load raw instruction slots; returns the program fd or raises VerifierError."""
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
        try:
            fd = self._call(BPF_PROG_LOAD, attr)
        except BpfError as err:
            text = log.value.decode(errors="replace")
            if text or err.errno in (errno_mod.EACCES, errno_mod.EINVAL):
                raise VerifierError(err.errno or 0, text) from None
            raise
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
