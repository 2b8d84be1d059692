"""BPF_OBJ_GET_INFO_BY_FD for a loaded program: its xlated and JITed images.

Used to compare bpfdbg's host JIT with the kernel's (``prog dump jited --kernel``). Offsets
are those of ``struct bpf_prog_info`` (reference/kernel_oracle.md), the same in 6.1 and 6.18.
The call is made twice: once to learn the lengths, once with buffers of those sizes.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from dataclasses import dataclass

BPF_OBJ_GET_INFO_BY_FD = 15
INFO_SIZE = 232
_SYSCALL_NR = {"x86_64": 321, "aarch64": 280}


class ProgInfoError(OSError):
    """bpf(BPF_OBJ_GET_INFO_BY_FD) failed."""


@dataclass(frozen=True)
class JitedInfo:
    """A kernel program's images: ``jited`` is every function's code concatenated in
    ``func_lens`` order, each placed at the matching ``ksyms`` address."""

    xlated: bytes
    jited: bytes
    ksyms: tuple[int, ...]
    func_lens: tuple[int, ...]

    def functions(self) -> list[tuple[int, bytes]]:
        """(address, code) of each function image."""
        out, pos = [], 0
        lens = self.func_lens or (len(self.jited),)
        syms = self.ksyms or (0,) * len(lens)
        for addr, n in zip(syms, lens, strict=True):
            out.append((addr, self.jited[pos : pos + n]))
            pos += n
        return out


def _info_call(fd: int, info: ctypes.Array[ctypes.c_char]) -> None:
    nr = _SYSCALL_NR.get(platform.machine())
    if nr is None:
        raise ProgInfoError(38, f"bpf() syscall number unknown on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    if libc.syscall(nr, BPF_OBJ_GET_INFO_BY_FD, attr, len(attr)) < 0:
        err = ctypes.get_errno()
        raise ProgInfoError(err, os.strerror(err))


def jited_info(fd: int) -> JitedInfo:
    """The xlated program and JIT images of the loaded program ``fd``."""
    info = ctypes.create_string_buffer(INFO_SIZE)
    _info_call(fd, info)
    jited_len, xlated_len = struct.unpack_from("<II", info, 16)
    nksyms, nlens = struct.unpack_from("<II", info, 104)
    jited = ctypes.create_string_buffer(max(jited_len, 1))
    xlated = ctypes.create_string_buffer(max(xlated_len, 1))
    ksyms = (ctypes.c_uint64 * max(nksyms, 1))()
    lens = (ctypes.c_uint32 * max(nlens, 1))()
    info = ctypes.create_string_buffer(INFO_SIZE)
    struct.pack_into("<II", info, 16, jited_len, xlated_len)
    struct.pack_into("<QQ", info, 24, ctypes.addressof(jited), ctypes.addressof(xlated))
    struct.pack_into("<II", info, 104, nksyms, nlens)
    struct.pack_into("<QQ", info, 112, ctypes.addressof(ksyms), ctypes.addressof(lens))
    _info_call(fd, info)
    return JitedInfo(
        xlated.raw[:xlated_len],
        jited.raw[:jited_len],
        tuple(ksyms[:nksyms]),
        tuple(lens[:nlens]),
    )
