"""Map keys and values as text, by their BTF type, the way ``bpftool -j map dump`` shows them.

Users compare what bpfdbg shows with what bpftool shows for the same map, so the rules are
bpftool's (tools/bpf/bpftool/btf_dumper.c): structs and unions become objects with member
names, arrays become lists, ``char`` arrays holding a printable NUL-terminated string become
strings, enums print their enumerator name when the value has one (else the value as a
signed number, whatever the enum's signedness), pointers print as
unsigned numbers, and bitfields and 128-bit integers print as ``"0x..."`` strings. A DATASEC
(the value of a ``.data``/``.rodata``/``.bss`` map) prints as ``{".data": [{"var": value},
...]}``.

Deliberate differences: ``_Bool`` reads its one byte (bpftool reads four), and floats,
which bpftool cannot print, print as numbers. The output is one line of JSON with the
separators of :func:`json.dumps`.
"""

from __future__ import annotations

import json
import math
import struct

from emulator.elf.btf import (
    INT_BOOL,
    INT_CHAR,
    INT_SIGNED,
    MAX_RESOLVE_DEPTH,
    MODIFIERS,
    Btf,
    BtfKind,
    BtfType,
)


def format_value(btf: Btf, type_id: int, data: bytes) -> str:
    """``data`` (at least ``sizeof(type)`` bytes, little-endian) rendered as bpftool's JSON.

    ValueError when ``data`` is shorter than the type or the type has no size.
    """
    size = btf.size_of(type_id)
    if len(data) < size:
        raise ValueError(f"{btf.type_name(type_id)} is {size} bytes, only {len(data)} given")
    return _render(btf, type_id, data, 0, 0, 0)


def _render(btf: Btf, type_id: int, data: bytes, offset: int, bit_offset: int, depth: int) -> str:
    if depth > 2 * MAX_RESOLVE_DEPTH:
        return '"(too deep)"'
    t = btf.type(type_id)
    kind = t.kind
    if kind is BtfKind.INT:
        return _int(t, data, offset, bit_offset)
    if kind in (BtfKind.STRUCT, BtfKind.UNION):
        return _struct(btf, t, data, offset, depth)
    if kind is BtfKind.ARRAY:
        return _array(btf, t, data, offset, depth)
    if kind in (BtfKind.ENUM, BtfKind.ENUM64):
        return _enum(t, data, offset)
    if kind is BtfKind.PTR:
        return str(int.from_bytes(data[offset : offset + 8], "little"))
    if kind is BtfKind.FLOAT:
        return _float(t, data, offset)
    if kind in MODIFIERS or kind is BtfKind.TYPEDEF:
        return _render(btf, t.type, data, offset, bit_offset, depth + 1)
    if kind is BtfKind.VAR:
        return (
            "{" + json.dumps(t.name) + ": " + _render(btf, t.type, data, offset, bit_offset, depth + 1) + "}"
        )
    if kind is BtfKind.DATASEC:
        items = [_render(btf, s.type, data, offset + s.offset, 0, depth + 1) for s in t.secinfos]
        return "{" + json.dumps(t.name) + ": [" + ", ".join(items) + "]}"
    return json.dumps(f"({kind.name.lower()})")


def _bits(data: bytes, offset: int, bit_offset: int, nbits: int) -> int:
    """``nbits`` bits starting ``bit_offset`` bits into ``data[offset:]`` (little-endian)."""
    nbytes = (bit_offset + nbits + 7) // 8
    word = int.from_bytes(data[offset : offset + nbytes], "little")
    return (word >> bit_offset) & ((1 << nbits) - 1)


def _int(t: BtfType, data: bytes, offset: int, bit_offset: int) -> str:
    bits = t.int_bits
    total = bit_offset + t.int_offset
    if total or bits % 8:
        return json.dumps(hex(_bits(data, offset + total // 8, total % 8, bits)))
    if bits == 128:
        return json.dumps(hex(int.from_bytes(data[offset : offset + 16], "little")))
    raw = data[offset : offset + bits // 8]
    enc = t.int_encoding
    if enc & INT_BOOL:
        return "true" if raw[0] else "false"
    if enc & INT_CHAR:
        ch = raw[0]
        return json.dumps(chr(ch)) if 0x20 <= ch < 0x7F else json.dumps(chr(ch), ensure_ascii=True)
    return str(int.from_bytes(raw, "little", signed=bool(enc & INT_SIGNED)))


def _struct(btf: Btf, t: BtfType, data: bytes, offset: int, depth: int) -> str:
    parts = []
    for m in t.members:
        where = offset + m.bit_offset // 8
        if m.bitfield_size:
            text = json.dumps(hex(_bits(data, where, m.bit_offset % 8, m.bitfield_size)))
        else:
            text = _render(btf, m.type, data, where, m.bit_offset % 8, depth + 1)
        parts.append(f"{json.dumps(m.name)}: {text}")
    return "{" + ", ".join(parts) + "}"


def _is_string(btf: Btf, t: BtfType, data: bytes, offset: int) -> bool:
    if not t.nelems:
        return False
    elem = btf.type(t.elem_type)
    while elem.kind in MODIFIERS:  # typedefs are not skipped: a typedef of char is no string
        elem = btf.type(elem.type)
    if elem.kind is not BtfKind.INT or elem.size != 1:
        return False
    if not elem.int_encoding & INT_CHAR and elem.name != "char":
        return False
    for byte in data[offset : offset + t.nelems]:
        if byte == 0:
            return True
        if byte < 0x20 or byte >= 0x7F:
            return False
    return False


def _array(btf: Btf, t: BtfType, data: bytes, offset: int, depth: int) -> str:
    if _is_string(btf, t, data, offset):
        end = data.index(0, offset)
        return json.dumps(data[offset:end].decode("ascii"))
    elem_size = btf.size_of(t.elem_type)
    items = [_render(btf, t.elem_type, data, offset + i * elem_size, 0, depth + 1) for i in range(t.nelems)]
    return "[" + ", ".join(items) + "]"


def _enum(t: BtfType, data: bytes, offset: int) -> str:
    raw = data[offset : offset + t.size]
    signed = int.from_bytes(raw, "little", signed=True)
    unsigned = int.from_bytes(raw, "little")
    for e in t.enumerators:
        if e.value in (signed, unsigned):
            return json.dumps(e.name)
    return str(signed)  # bpftool prints a value no enumerator has as a signed number


_FLOATS = {2: "<e", 4: "<f", 8: "<d"}


def _float(t: BtfType, data: bytes, offset: int) -> str:
    fmt = _FLOATS.get(t.size)
    if fmt is None:  # long double and friends: show the bits
        return json.dumps(hex(int.from_bytes(data[offset : offset + t.size], "little")))
    (value,) = struct.unpack_from(fmt, data, offset)
    if math.isnan(value) or math.isinf(value):
        return json.dumps(str(value))
    return repr(value)
