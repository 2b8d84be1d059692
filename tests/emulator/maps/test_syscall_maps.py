"""The map commands added to the bpf(2) wrapper, and PROG_LOAD's fd_array (lddw with
src_reg 5 = BPF_PSEUDO_MAP_IDX and 6 = BPF_PSEUDO_MAP_IDX_VALUE index that array)."""

from __future__ import annotations

import errno
import struct

import pytest

from emulator.backends.kernel.syscall import Bpf, BpfError, available, possible_cpus, xdp_md
from emulator.maps import MapSpec, MapType

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")


def ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def test_fd_array_names_maps_by_index() -> None:
    with Bpf() as bpf:
        counters = bpf.map_create(MapSpec("counters", MapType.ARRAY, 4, 8, 1))
        flags = bpf.map_create(MapSpec("flag", MapType.ARRAY, 4, 8, 1))
        code = b"".join(
            [
                ins(0x62, 10, 0, -4, 0),  # *(u32 *)(r10 - 4) = 0
                ins(0xBF, 2, 10),
                ins(0x07, 2, 0, 0, -4),
                ins(0x18, 1, 5, 0, 1),  # r1 = map fd_array[1]  (BPF_PSEUDO_MAP_IDX)
                ins(0x00),
                ins(0x85, 0, 0, 0, 1),  # bpf_map_lookup_elem
                ins(0x15, 0, 0, 3, 0),
                ins(0x79, 1, 0, 0, 0),
                ins(0x07, 1, 0, 0, 1),
                ins(0x7B, 0, 1, 0, 0),  # (*value)++
                ins(0x18, 1, 6, 0, 0),  # r1 = &fd_array[0]'s value + 0  (BPF_PSEUDO_MAP_IDX_VALUE)
                ins(0x00),
                ins(0x7A, 1, 0, 0, 42),  # *(u64 *)r1 = 42
                ins(0xB7, 0, 0, 0, 2),
                ins(0x95),
            ]
        )
        prog = bpf.prog_load(code, "xdp", fd_array=[flags, counters])
        for _ in range(3):
            assert bpf.test_run(prog, bytes(64), xdp_md(64)).retval == 2
        assert bpf.map_lookup(counters, bytes(4), 8) == struct.pack("<Q", 3)
        assert bpf.map_lookup(flags, bytes(4), 8) == struct.pack("<Q", 42)


def test_map_commands() -> None:
    with Bpf() as bpf:
        fd = bpf.map_create(MapSpec("a name with spaces!", MapType.HASH, 4, 4, 2))  # sanitised
        bpf.map_update(fd, b"\1\0\0\0", b"one!")
        with pytest.raises(BpfError) as info:
            bpf.map_update(fd, b"\1\0\0\0", b"two!", 1)
        assert info.value.errno == errno.EEXIST
        assert bpf.map_lookup(fd, b"\1\0\0\0", 4) == b"one!"
        assert bpf.map_get_next_key(fd, None, 4) == b"\1\0\0\0"
        assert bpf.map_get_next_key(fd, b"\1\0\0\0", 4) is None
        assert bpf.map_items(fd, 4, 4) == [(b"\1\0\0\0", b"one!")]
        assert bpf.map_lookup_and_delete(fd, b"\1\0\0\0", 4) == b"one!"
        with pytest.raises(BpfError):
            bpf.map_delete(fd, b"\1\0\0\0")
        q = bpf.map_create(MapSpec("q", MapType.QUEUE, 0, 4, 2))
        bpf.map_update(q, None, b"abcd")
        assert bpf.map_lookup(q, None, 4) == b"abcd"
        assert bpf.map_lookup_and_delete(q, None, 4) == b"abcd"
        bpf.close_fd(q)
        pa = bpf.map_create(MapSpec("pa", MapType.PERCPU_ARRAY, 4, 4, 1))
        slot = 8 * possible_cpus()
        bpf.map_update(pa, bytes(4), b"\7" * slot)
        assert bpf.map_lookup(pa, bytes(4), slot) == b"\7" * slot  # padding included


def test_map_in_map_create_takes_the_inner_fd() -> None:
    inner = MapSpec("inner", MapType.ARRAY, 4, 4, 1)
    with Bpf() as bpf:
        inner_fd = bpf.map_create(inner)
        outer = bpf.map_create(
            MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner=inner), inner_map_fd=inner_fd
        )
        bpf.map_update(outer, bytes(4), struct.pack("<I", inner_fd))
        assert len(bpf.map_lookup(outer, bytes(4), 4)) == 4  # the inner map's id
