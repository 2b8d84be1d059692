"""BTF back to bytes, and the func_info a program needs when it is loaded with BTF.

The kernel refuses some programs without BTF: a callback passed to ``bpf_loop`` or
``bpf_for_each_map_elem`` (``lddw src=BPF_PSEUDO_FUNC``) needs ``func_info`` for every
function, which needs the object's BTF loaded with BPF_BTF_LOAD. That BTF must be the one
with DATASEC sizes and offsets filled in (the kernel rejects clang's zeros), which is the
:class:`Btf` :func:`~emulator.elf.load_object` keeps; this module writes it out in the
kernel's format. ``encode_btf(parse_btf(data)) == data`` for any BTF clang writes.
"""

from __future__ import annotations

import struct

from emulator.elf.btf import BTF_MAGIC, Btf, BtfKind, BtfType
from emulator.program import Program

_HEADER = struct.Struct("<HBBIIIII")


def _info(t: BtfType, vlen: int) -> int:
    return (int(t.kind_flag) << 31) | (int(t.kind) << 24) | (vlen & 0xFFFF)


def _size_or_type(t: BtfType) -> int:
    if t.kind in (BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64,
                  BtfKind.DATASEC, BtfKind.FLOAT):  # fmt: skip
        return t.size
    return t.type


def _encode_type(t: BtfType, name_off: int, names: dict[str, int]) -> bytes:
    kind = t.kind
    vlen = {
        BtfKind.STRUCT: len(t.members),
        BtfKind.UNION: len(t.members),
        BtfKind.ENUM: len(t.enumerators),
        BtfKind.ENUM64: len(t.enumerators),
        BtfKind.FUNC_PROTO: len(t.params),
        BtfKind.DATASEC: len(t.secinfos),
        BtfKind.FUNC: t.linkage,
    }.get(kind, 0)
    out = struct.pack("<III", name_off, _info(t, vlen), _size_or_type(t) & 0xFFFFFFFF)
    if kind is BtfKind.INT:
        out += struct.pack("<I", (t.int_encoding << 24) | (t.int_offset << 16) | t.int_bits)
    elif kind is BtfKind.ARRAY:
        out += struct.pack("<III", t.elem_type, t.index_type, t.nelems)
    elif kind in (BtfKind.STRUCT, BtfKind.UNION):
        for m in t.members:
            offset = (m.bitfield_size << 24) | m.bit_offset if t.kind_flag else m.bit_offset
            out += struct.pack("<III", names[m.name], m.type, offset)
    elif kind is BtfKind.ENUM:
        for e in t.enumerators:
            out += struct.pack("<II", names[e.name], e.value & 0xFFFFFFFF)
    elif kind is BtfKind.ENUM64:
        for e in t.enumerators:
            value = e.value & 0xFFFFFFFFFFFFFFFF
            out += struct.pack("<III", names[e.name], value & 0xFFFFFFFF, value >> 32)
    elif kind is BtfKind.FUNC_PROTO:
        for p in t.params:
            out += struct.pack("<II", names[p.name], p.type)
    elif kind is BtfKind.VAR:
        out += struct.pack("<I", t.linkage)
    elif kind is BtfKind.DATASEC:
        for s in t.secinfos:
            out += struct.pack("<III", s.type, s.offset, s.size)
    elif kind is BtfKind.DECL_TAG:
        out += struct.pack("<i", t.component_idx)
    return out


def encode_btf(btf: Btf) -> bytes:
    """The BTF blob for BPF_BTF_LOAD (the original string section is kept as it is)."""
    strings = btf.strings or b"\0"
    names: dict[str, int] = {"": 0}

    def offset_of(name: str) -> int:
        if name not in names:
            raw = name.encode()
            pos = strings.find(b"\0" + raw + b"\0")
            if pos < 0:
                raise ValueError(f"BTF name {name!r} is not in the string section")
            names[name] = pos + 1
        return names[name]

    body = bytearray()
    for t in btf:
        for n in (
            *(m.name for m in t.members),
            *(e.name for e in t.enumerators),
            *(p.name for p in t.params),
        ):
            offset_of(n)
        body += _encode_type(t, offset_of(t.name), names)
    header = _HEADER.pack(BTF_MAGIC, 1, 0, _HEADER.size, 0, len(body), len(body), len(strings))
    return header + bytes(body) + strings


def func_info(btf: Btf, program: Program) -> list[tuple[int, int]]:
    """(pc, BTF FUNC type id) for every function of ``program``, as BPF_PROG_LOAD's
    func_info wants it; empty if some function has no BTF FUNC."""
    out: list[tuple[int, int]] = []
    for pc, name in sorted(program.symbols.items()):
        func = btf.find(name, BtfKind.FUNC)
        if func is None:
            return []
        out.append((pc, func.id))
    return out
