"""``.BTF.ext``: per-section function and line records (func_info, line_info).

clang writes, for every code section, which BTF FUNC starts at which instruction
(func_info) and which source line each instruction run comes from (line_info, with the
line's text stored in the .BTF string section). Offsets are byte offsets inside the ELF
section, before any relocation; :mod:`emulator.elf.lineinfo` moves them to program pcs.
CO-RE relocation records are located but not applied: the loader warns about the
instructions they name, whose offsets are then clang's (right for the types clang saw,
possibly wrong for another kernel's).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from emulator.elf.btf import BTF_MAGIC, Btf, BtfError, BtfKind

R = TypeVar("R", "FuncRecord", "LineRecord", "CoreRelocation")

_HEADER = struct.Struct("<HBBIIIII")
_U32 = struct.Struct("<I")
_FUNC_REC = struct.Struct("<II")
_LINE_REC = struct.Struct("<IIII")
_CORE_REC = struct.Struct("<IIII")
_CORE_HEADER = struct.Struct("<II")  # core_relo_off, core_relo_len, after the 24-byte header


@dataclass(frozen=True, slots=True)
class FuncRecord:
    """A function starting at byte ``insn_off`` of its section, typed by BTF FUNC ``type_id``."""

    insn_off: int
    type_id: int
    name: str


@dataclass(frozen=True, slots=True)
class LineRecord:
    """Instructions from byte ``insn_off`` on come from ``file:line:column`` (text = the line)."""

    insn_off: int
    file: str
    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class CoreRelocation:
    """A CO-RE relocation (``bpf_core_read`` and friends) on the instruction at ``insn_off``."""

    insn_off: int
    type_id: int
    access: str  # "0:1:2": the member path
    kind: int  # enum bpf_core_relo_kind


@dataclass(frozen=True)
class BtfExt:
    """Records by ELF section name, each list sorted by ``insn_off``."""

    funcs: Mapping[str, tuple[FuncRecord, ...]]
    lines: Mapping[str, tuple[LineRecord, ...]]
    core_relocations: Mapping[str, tuple[CoreRelocation, ...]] = field(default_factory=dict)


def parse_btf_ext(data: bytes, btf: Btf) -> BtfExt:
    """Parse a .BTF.ext section against its .BTF; BtfError names the first problem."""
    if len(data) < _HEADER.size:
        raise BtfError(f".BTF.ext is {len(data)} bytes, shorter than its 24-byte header")
    magic, version, _flags, hdr_len, func_off, func_len, line_off, line_len = _HEADER.unpack_from(data, 0)
    if magic != BTF_MAGIC:
        raise BtfError(f".BTF.ext has magic 0x{magic:04x}, not 0xeb9f")
    if version != 1:
        raise BtfError(f".BTF.ext version {version} is not supported")
    if hdr_len < _HEADER.size or hdr_len > len(data):
        raise BtfError(f".BTF.ext header length {hdr_len} is impossible for a {len(data)}-byte section")
    body = data[hdr_len:]
    funcs = _parse_info(body, func_off, func_len, _FUNC_REC.size, "func_info", btf, _func_record)
    lines = _parse_info(body, line_off, line_len, _LINE_REC.size, "line_info", btf, _line_record)
    core: dict[str, tuple[CoreRelocation, ...]] = {}
    if hdr_len >= _HEADER.size + _CORE_HEADER.size:
        core_off, core_len = _CORE_HEADER.unpack_from(data, _HEADER.size)
        core = _parse_info(body, core_off, core_len, _CORE_REC.size, "core_relo", btf, _core_record)
    return BtfExt(MappingProxyType(funcs), MappingProxyType(lines), MappingProxyType(core))


def _func_record(data: bytes, pos: int, btf: Btf, where: str) -> FuncRecord:
    insn_off, type_id = _FUNC_REC.unpack_from(data, pos)
    if not 0 < type_id < len(btf) or btf.types[type_id].kind is not BtfKind.FUNC:
        raise BtfError(f"{where}: func_info names type {type_id}, which is not a BTF FUNC")
    return FuncRecord(insn_off, type_id, btf.types[type_id].name)


def _line_record(data: bytes, pos: int, btf: Btf, where: str) -> LineRecord:
    insn_off, file_off, line_off, line_col = _LINE_REC.unpack_from(data, pos)
    for off in (file_off, line_off):
        if off >= max(len(btf.strings), 1):
            raise BtfError(f"{where}: line_info string offset {off} is past the .BTF strings")
    return LineRecord(
        insn_off, btf.string_at(file_off), line_col >> 10, line_col & 0x3FF, btf.string_at(line_off)
    )


def _core_record(data: bytes, pos: int, btf: Btf, where: str) -> CoreRelocation:
    insn_off, type_id, access_off, kind = _CORE_REC.unpack_from(data, pos)
    if access_off >= max(len(btf.strings), 1):
        raise BtfError(f"{where}: CO-RE access string offset {access_off} is past the .BTF strings")
    return CoreRelocation(insn_off, type_id, btf.string_at(access_off), kind)


def _parse_info(
    body: bytes,
    off: int,
    length: int,
    min_rec: int,
    what: str,
    btf: Btf,
    decode: Callable[[bytes, int, Btf, str], R],
) -> dict[str, tuple[R, ...]]:
    """One func_info or line_info block: ``u32 rec_size`` then per section
    ``{u32 sec_name_off; u32 num_info; rec[num_info]}``."""
    out: dict[str, tuple[R, ...]] = {}
    if length == 0:
        return out
    if off + length > len(body) or length < 4:
        raise BtfError(f".BTF.ext {what} ({off}+{length}) runs past the end of the section")
    block = body[off : off + length]
    (rec_size,) = _U32.unpack_from(block, 0)
    if rec_size < min_rec or rec_size % 4:
        raise BtfError(f".BTF.ext {what} record size {rec_size} is too small (at least {min_rec})")
    pos = 4
    while pos < len(block):
        if pos + 8 > len(block):
            raise BtfError(f".BTF.ext {what}: section header truncated at byte {pos}")
        name_off, count = struct.unpack_from("<II", block, pos)
        pos += 8
        if name_off >= len(btf.strings):
            raise BtfError(f".BTF.ext {what}: section name offset {name_off} is past the .BTF strings")
        section = btf.string_at(name_off)
        if pos + count * rec_size > len(block):
            raise BtfError(f".BTF.ext {what} for section {section}: {count} records run past the end")
        where = f".BTF.ext {what} for section {section}"
        records = [decode(block, pos + i * rec_size, btf, where) for i in range(count)]
        pos += count * rec_size
        merged = out.get(section, ()) + tuple(records)
        out[section] = tuple(sorted(merged, key=lambda r: r.insn_off))  # type: ignore[attr-defined]
    return out
