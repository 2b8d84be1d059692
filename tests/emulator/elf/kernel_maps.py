"""Just enough bpf(2) to create an object's maps in the real kernel, for load tests.

The kernel backend creates maps for real runs; this test helper exists so the ELF tests
check the loader's output against the verifier without depending on that backend: each
MapSpec becomes a kernel map (inner map templates, initial values, rodata frozen), and the
fds go to BPF_PROG_LOAD's fd_array, which is what MAP_IDX / MAP_IDX_VALUE lddws index.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import struct

from emulator.backends.kernel.syscall import Bpf, BpfError, VerifierError
from emulator.elf import KERNEL_PROG_TYPE
from emulator.isa.fields import PseudoSrc
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program

BPF_MAP_CREATE = 0
BPF_MAP_UPDATE_ELEM = 2
BPF_PROG_LOAD = 5
BPF_MAP_FREEZE = 22
BPF_BTF_LOAD = 18

# Our prog_type names -> the names Bpf.prog_load takes.
_BPF_NAMES = {"xdp": "xdp", "tc": "sched_cls", "socket": "socket_filter"}


def _sanitized(name: str) -> bytes:
    return bytes(c if chr(c).isalnum() or c in b"_." else ord("_") for c in name.encode())[:15]


class KernelMaps:
    """Creates maps with a :class:`Bpf` handle (whose private syscall it uses) and closes
    them with it."""

    def __init__(self, bpf: Bpf) -> None:
        self.bpf = bpf
        self.fds: list[int] = []

    def _syscall(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        return self.bpf._call(cmd, attr)

    def create(self, spec: MapSpec, inner_fd: int = 0) -> int:
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
            inner_fd,
        )
        struct.pack_into("16s", attr, 28, _sanitized(spec.name))
        fd = self._syscall(BPF_MAP_CREATE, attr)
        self.fds.append(fd)
        return fd

    def update(self, fd: int, key: bytes, value: bytes) -> None:
        key_buf = ctypes.create_string_buffer(key, len(key))
        value_buf = ctypes.create_string_buffer(value, len(value))
        attr = ctypes.create_string_buffer(32)
        struct.pack_into("<IIQQQ", attr, 0, fd, 0, ctypes.addressof(key_buf), ctypes.addressof(value_buf), 0)
        self._syscall(BPF_MAP_UPDATE_ELEM, attr)

    def freeze(self, fd: int) -> None:
        attr = ctypes.create_string_buffer(8)
        struct.pack_into("<I", attr, 0, fd)
        self._syscall(BPF_MAP_FREEZE, attr)

    def create_all(self, maps: tuple[MapSpec, ...]) -> list[int]:
        """One fd per MapSpec, in order (the fd_array for the object's programs)."""
        fds: list[int] = []
        for spec in maps:
            inner_fd = self.create(spec.inner) if spec.inner is not None else 0
            fd = self.create(spec, inner_fd)
            fds.append(fd)
            if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                for key, value in spec.initial:  # value: u32 index of the inner map
                    (index,) = struct.unpack("<I", value)
                    self.update(fd, key, struct.pack("<I", fds[index]))
            elif spec.initial and spec.type is not MapType.PROG_ARRAY:
                for key, value in spec.initial:
                    self.update(fd, key, value)
            if spec.frozen:
                self.freeze(fd)
        return fds

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def load_btf(bpf: Bpf, blob: bytes) -> int:
    """BPF_BTF_LOAD (cmd 18); VerifierError with the kernel's BTF log if it is rejected."""
    data = ctypes.create_string_buffer(blob, len(blob))
    log = ctypes.create_string_buffer(1 << 16)
    attr = ctypes.create_string_buffer(32)
    struct.pack_into("<QQIII", attr, 0, ctypes.addressof(data), ctypes.addressof(log), len(blob), len(log), 1)
    try:
        return bpf._call(BPF_BTF_LOAD, attr)
    except BpfError as err:
        raise VerifierError(err.errno or 0, log.value.decode(errors="replace")) from None


def load_with_btf(prog: Program, fd_array: list[int], btf_fd: int, funcs: list[tuple[int, int]]) -> None:
    """PROG_LOAD with fd_array@120 and the program's BTF (prog_btf_fd@72, func_info@80):
    what callbacks need. The fd is closed again at once."""
    bpf = Bpf()
    code = prog.encode()
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 20)
    fds = (ctypes.c_int * max(len(fd_array), 1))(*fd_array)
    records = b"".join(struct.pack("<II", pc, type_id) for pc, type_id in funcs)
    info = ctypes.create_string_buffer(records, max(len(records), 1))
    attr = ctypes.create_string_buffer(144)
    struct.pack_into(
        "<IIQQIIQ",
        attr,
        0,
        KERNEL_PROG_TYPE[prog.prog_type],
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license_),
        1,
        len(log),
        ctypes.addressof(log),
    )
    struct.pack_into("16s", attr, 48, _sanitized(prog.name))
    struct.pack_into("<IIQI", attr, 72, btf_fd, 8, ctypes.addressof(info), len(funcs))
    struct.pack_into("<Q", attr, 120, ctypes.addressof(fds))
    try:
        fd = bpf._call(BPF_PROG_LOAD, attr)
    except BpfError as err:
        raise VerifierError(err.errno or 0, log.value.decode(errors="replace")) from None
    os.close(fd)


def needs_btf(prog: Program) -> bool:
    """Callbacks (lddw src=BPF_PSEUDO_FUNC) are only accepted with BTF func_info."""
    return any(i is not None and i.opcode == 0x18 and i.src == PseudoSrc.FUNC for i in prog.insns)


def load_program(bpf: Bpf, prog: Program, fd_array: list[int]) -> None:
    """Load ``prog`` through Bpf.prog_load (fd_array); VerifierError if it is rejected."""
    name = _BPF_NAMES[prog.prog_type]
    if "fd_array" not in inspect.signature(bpf.prog_load).parameters:
        raise RuntimeError(
            "Bpf.prog_load has no fd_array parameter: add `fd_array: list[int] | None = None` and pack "
            "the address of a ctypes int array of it at attr offset 120"
        )
    bpf.prog_load(prog.encode(), name, name=prog.name[:15], fd_array=fd_array)  # type: ignore[call-arg]
