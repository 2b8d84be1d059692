"""BTF (the BPF Type Format) from a ``.BTF`` section: every kind, names, sizes, layouts.

pyelftools does not read BTF, and the debugger needs it to show map keys and values, ctx
fields and global variables by name. The format is the kernel's (Documentation/bpf/btf.rst):
a 24-byte header, a type section of variable-length records and a string section. Type ids
count from 1 in file order; id 0 is ``void``.

:func:`parse_btf` checks everything a later lookup relies on (every referenced type id
exists, every name offset is inside the string section, kinds are known), so a damaged
object fails here with one :class:`BtfError` instead of somewhere in the debugger.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import IntEnum

from emulator.errors import ElfLoadError

BTF_MAGIC = 0xEB9F
MAX_RESOLVE_DEPTH = 32  # libbpf's limit on typedef/modifier chains; also stops cycles


class BtfError(ElfLoadError):
    """A .BTF or .BTF.ext section that cannot be parsed; the message says where."""


class BtfKind(IntEnum):
    """``BTF_KIND_*`` (bits 24-28 of ``btf_type.info``)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Kinds that only qualify another type; resolving a type skips them (TYPEDEF too).
MODIFIERS = frozenset({BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG})

# BTF_INT_ENCODING bits.
INT_SIGNED = 1
INT_CHAR = 2
INT_BOOL = 4

# FUNC linkage (vlen of a FUNC) and VAR linkage.
LINKAGE_NAMES = {0: "static", 1: "global", 2: "extern"}


@dataclass(frozen=True, slots=True)
class BtfMember:
    """A struct/union member. ``bit_offset`` counts from the start of the struct;
    ``bitfield_size`` is 0 unless the member is a bitfield."""

    name: str
    type: int
    bit_offset: int
    bitfield_size: int = 0

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8


@dataclass(frozen=True, slots=True)
class BtfEnumerator:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class BtfParam:
    """A FUNC_PROTO parameter (an unnamed ``type 0`` last parameter means ``...``)."""

    name: str
    type: int


@dataclass(frozen=True, slots=True)
class BtfVarSecinfo:
    """A variable placed in a DATASEC: its VAR type id, byte offset and size."""

    type: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BtfType:
    """One type record. Fields that a kind does not use stay at their defaults.

    ``size``: INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT. ``type``: the referenced type
    of PTR, TYPEDEF, the modifiers, FUNC (its FUNC_PROTO), VAR, DECL_TAG, TYPE_TAG, and the
    return type of FUNC_PROTO.
    """

    id: int
    kind: BtfKind
    name: str = ""
    size: int = 0
    type: int = 0
    kind_flag: bool = False
    int_encoding: int = 0
    int_offset: int = 0
    int_bits: int = 0
    elem_type: int = 0
    index_type: int = 0
    nelems: int = 0
    members: tuple[BtfMember, ...] = ()
    enumerators: tuple[BtfEnumerator, ...] = ()
    params: tuple[BtfParam, ...] = ()
    secinfos: tuple[BtfVarSecinfo, ...] = ()
    linkage: int = 0  # FUNC and VAR
    component_idx: int = -1  # DECL_TAG: member/param index, -1 for the type itself

    @property
    def is_signed_enum(self) -> bool:
        return self.kind in (BtfKind.ENUM, BtfKind.ENUM64) and self.kind_flag


VOID = BtfType(0, BtfKind.UNKN, "void")


class Btf:
    """Parsed BTF: ``types[id]`` (``types[0]`` is void) and the string section."""

    def __init__(self, types: list[BtfType], strings: bytes) -> None:
        self.types: tuple[BtfType, ...] = tuple(types)
        self.strings = strings
        self._by_name: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.types)

    def __iter__(self) -> Iterator[BtfType]:
        return iter(self.types[1:])

    def type(self, type_id: int) -> BtfType:
        """The record for ``type_id``; KeyError for an id the BTF does not have."""
        if 0 <= type_id < len(self.types):
            return self.types[type_id]
        raise KeyError(f"BTF has no type id {type_id} (ids are 1-{len(self.types) - 1})")

    def string_at(self, offset: int) -> str:
        return _string(self.strings, offset)

    def find(self, name: str, kind: BtfKind | None = None) -> BtfType | None:
        """The first type named ``name`` (of ``kind``, if given)."""
        if self._by_name is None:
            index: dict[str, list[int]] = {}
            for t in self.types[1:]:
                if t.name:
                    index.setdefault(t.name, []).append(t.id)
            self._by_name = index
        for type_id in self._by_name.get(name, []):
            t = self.types[type_id]
            if kind is None or t.kind == kind:
                return t
        return None

    # -- resolving -------------------------------------------------------------------------

    def skip_modifiers(self, type_id: int) -> BtfType:
        """The type behind const/volatile/restrict/type_tag (typedefs kept: they name things)."""
        t = self.type(type_id)
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in MODIFIERS:
                return t
            t = self.type(t.type)
        raise BtfError(f"BTF type {type_id}: modifier chain longer than {MAX_RESOLVE_DEPTH}")

    def resolve(self, type_id: int) -> BtfType:
        """The type behind typedefs and modifiers (what the bytes really are)."""
        t = self.type(type_id)
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in MODIFIERS and t.kind is not BtfKind.TYPEDEF and t.kind is not BtfKind.VAR:
                return t
            t = self.type(t.type)
        raise BtfError(f"BTF type {type_id}: typedef/modifier chain longer than {MAX_RESOLVE_DEPTH}")

    def size_of(self, type_id: int) -> int:
        """Size in bytes, as ``sizeof`` would say; BtfError for types without one."""
        return self._size(type_id, 0)

    def _size(self, type_id: int, depth: int) -> int:
        if depth > MAX_RESOLVE_DEPTH:
            raise BtfError(f"BTF type {type_id}: type chain longer than {MAX_RESOLVE_DEPTH} (a cycle?)")
        t = self.type(type_id)
        kind = t.kind
        if kind in (BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64,
                    BtfKind.DATASEC, BtfKind.FLOAT):  # fmt: skip
            return t.size
        if kind is BtfKind.PTR:
            return 8
        if kind is BtfKind.ARRAY:
            return t.nelems * self._size(t.elem_type, depth + 1)
        if kind in MODIFIERS or kind in (BtfKind.TYPEDEF, BtfKind.VAR):
            return self._size(t.type, depth + 1)
        raise BtfError(f"BTF type {type_id} ({kind.name}{' ' + t.name if t.name else ''}) has no size")

    # -- names -------------------------------------------------------------------------------

    def type_name(self, type_id: int) -> str:
        """C spelling of a type: ``struct flow_key``, ``__u32``, ``char[8]``, ``int *``."""
        return self._name(type_id, 0)

    def _name(self, type_id: int, depth: int) -> str:
        if depth > MAX_RESOLVE_DEPTH:
            return "?"
        if not 0 <= type_id < len(self.types):
            return f"<bad type {type_id}>"
        t = self.types[type_id]
        kind = t.kind
        if type_id == 0:
            return "void"
        if kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64):
            word = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union"}.get(kind, "enum")
            return f"{word} {t.name or '(anon)'}"
        if kind is BtfKind.FWD:
            return f"{'union' if t.kind_flag else 'struct'} {t.name}"
        if kind is BtfKind.PTR:
            return f"{self._name(t.type, depth + 1)} *"
        if kind is BtfKind.ARRAY:
            dims = ""
            while t.kind is BtfKind.ARRAY and depth <= MAX_RESOLVE_DEPTH and t.elem_type < len(self.types):
                dims += f"[{t.nelems}]"
                t = self.types[t.elem_type]
                depth += 1
            return f"{self._name(t.id, depth + 1)}{dims}"
        if kind in (BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT):
            inner = self._name(t.type, depth + 1)
            if t.type < len(self.types) and self.types[t.type].kind is BtfKind.PTR:
                return f"{inner} {kind.name.lower()}"  # int * restrict: qualifies the pointer
            return f"{kind.name.lower()} {inner}"
        if kind is BtfKind.TYPE_TAG:
            return self._name(t.type, depth + 1)
        if kind is BtfKind.FUNC_PROTO:
            args = ", ".join(self._name(p.type, depth + 1) if p.type else "..." for p in t.params)
            return f"{self._name(t.type, depth + 1)} (*)({args or 'void'})"
        return t.name or f"({kind.name.lower()})"

    def members_of(self, type_id: int) -> tuple[BtfMember, ...]:
        """Members of the struct/union behind ``type_id`` (typedefs and modifiers skipped)."""
        t = self.resolve(type_id)
        if t.kind not in (BtfKind.STRUCT, BtfKind.UNION):
            raise BtfError(f"BTF type {type_id} is {t.kind.name}, not a struct or union")
        return t.members

    def spin_lock_offset(self, type_id: int) -> int | None:
        """Byte offset of a top-level ``struct bpf_spin_lock`` member of the struct behind
        ``type_id`` (where the kernel looks for it), or None."""
        t = self.resolve(type_id) if type_id else VOID
        if t.kind not in (BtfKind.STRUCT, BtfKind.UNION):
            return None
        for member in t.members:
            inner = self.resolve(member.type)
            if inner.kind is BtfKind.STRUCT and inner.name == "bpf_spin_lock":
                return member.byte_offset
        return None

    def with_types(self, replaced: dict[int, BtfType]) -> Btf:
        """A copy with some records replaced (the loader fixes DATASEC layouts this way)."""
        types = [replaced.get(t.id, t) for t in self.types]
        return Btf(types, self.strings)


# ---------------------------------------------------------------------------------------------
# parsing

_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
_U32 = struct.Struct("<I")
_TRIPLE = struct.Struct("<III")
_PAIR = struct.Struct("<II")
_ENUM = struct.Struct("<Ii")
_ENUM64 = struct.Struct("<III")


def _string(strings: bytes, offset: int) -> str:
    if offset == 0 or offset >= len(strings):
        return ""
    end = strings.find(b"\0", offset)
    raw = strings[offset:] if end < 0 else strings[offset:end]
    return raw.decode("utf-8", errors="replace")


def _check_name(strings: bytes, offset: int, where: str) -> str:
    if offset >= len(strings):
        raise BtfError(f"{where}: name offset {offset} is past the string section ({len(strings)} bytes)")
    return _string(strings, offset)


def parse_btf(data: bytes) -> Btf:
    """Parse a .BTF section; BtfError names the first problem."""
    if len(data) < _HEADER.size:
        raise BtfError(f".BTF is {len(data)} bytes, shorter than its 24-byte header")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data, 0)
    if magic != BTF_MAGIC:
        if magic == 0x9FEB:
            raise BtfError(".BTF is big-endian; bpfdbg reads little-endian BPF objects")
        raise BtfError(f".BTF has magic 0x{magic:04x}, not 0xeb9f")
    if version != 1:
        raise BtfError(f".BTF version {version} is not supported (only version 1 exists)")
    if hdr_len < _HEADER.size or hdr_len > len(data):
        raise BtfError(f".BTF header length {hdr_len} is impossible for a {len(data)}-byte section")
    body = data[hdr_len:]
    if type_off + type_len > len(body) or str_off + str_len > len(body):
        raise BtfError(
            f".BTF type section ({type_off}+{type_len}) or string section ({str_off}+{str_len}) "
            f"runs past the end of the section ({len(body)} bytes after the header)"
        )
    if type_off % 4:
        raise BtfError(f".BTF type section offset {type_off} is not 4-byte aligned")
    strings = body[str_off : str_off + str_len]
    if strings and strings[0] != 0:
        raise BtfError(".BTF string section does not start with an empty string")
    types = _parse_types(body[type_off : type_off + type_len], strings)
    _check_references(types)
    return Btf(types, strings)


def _parse_types(data: bytes, strings: bytes) -> list[BtfType]:
    types: list[BtfType] = [VOID]
    pos = 0
    end = len(data)
    while pos < end:
        type_id = len(types)
        where = f".BTF type {type_id}"
        if pos + _TYPE.size > end:
            raise BtfError(f"{where}: record truncated at byte {pos} of the type section")
        name_off, info, size_or_type = _TYPE.unpack_from(data, pos)
        pos += _TYPE.size
        kind_num = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kind_flag = bool(info >> 31)
        try:
            kind = BtfKind(kind_num)
        except ValueError:
            raise BtfError(f"{where}: unknown kind {kind_num}") from None
        if kind is BtfKind.UNKN:
            raise BtfError(f"{where}: kind 0 (UNKN) is not a valid type record")
        name = _check_name(strings, name_off, where)
        extra = _EXTRA_SIZE[kind](vlen)
        if pos + extra > end:
            raise BtfError(f"{where} ({kind.name}): needs {extra} more bytes, the type section ends first")
        t = _decode_kind(type_id, kind, name, kind_flag, vlen, size_or_type, data, pos, strings, where)
        pos += extra
        types.append(t)
    return types


_EXTRA_SIZE = {
    BtfKind.UNKN: lambda vlen: 0,
    BtfKind.INT: lambda vlen: 4,
    BtfKind.PTR: lambda vlen: 0,
    BtfKind.ARRAY: lambda vlen: 12,
    BtfKind.STRUCT: lambda vlen: 12 * vlen,
    BtfKind.UNION: lambda vlen: 12 * vlen,
    BtfKind.ENUM: lambda vlen: 8 * vlen,
    BtfKind.FWD: lambda vlen: 0,
    BtfKind.TYPEDEF: lambda vlen: 0,
    BtfKind.VOLATILE: lambda vlen: 0,
    BtfKind.CONST: lambda vlen: 0,
    BtfKind.RESTRICT: lambda vlen: 0,
    BtfKind.FUNC: lambda vlen: 0,
    BtfKind.FUNC_PROTO: lambda vlen: 8 * vlen,
    BtfKind.VAR: lambda vlen: 4,
    BtfKind.DATASEC: lambda vlen: 12 * vlen,
    BtfKind.FLOAT: lambda vlen: 0,
    BtfKind.DECL_TAG: lambda vlen: 4,
    BtfKind.TYPE_TAG: lambda vlen: 0,
    BtfKind.ENUM64: lambda vlen: 12 * vlen,
}


def _decode_kind(
    type_id: int,
    kind: BtfKind,
    name: str,
    kind_flag: bool,
    vlen: int,
    size_or_type: int,
    data: bytes,
    pos: int,
    strings: bytes,
    where: str,
) -> BtfType:
    base = BtfType(type_id, kind, name, kind_flag=kind_flag)
    if kind is BtfKind.INT:
        (word,) = _U32.unpack_from(data, pos)
        bits, offset, encoding = word & 0xFF, (word >> 16) & 0xFF, (word >> 24) & 0x0F
        if (
            size_or_type not in (1, 2, 4, 8, 16)
            or bits > size_or_type * 8
            or offset + bits > size_or_type * 8
        ):
            raise BtfError(
                f"{where}: INT {name!r} of {size_or_type} bytes with {bits} bits at offset {offset}"
            )
        return replace(base, size=size_or_type, int_encoding=encoding, int_offset=offset, int_bits=bits)
    if kind is BtfKind.ARRAY:
        elem, index, nelems = _TRIPLE.unpack_from(data, pos)
        return replace(base, elem_type=elem, index_type=index, nelems=nelems)
    if kind in (BtfKind.STRUCT, BtfKind.UNION):
        members = []
        for i in range(vlen):
            m_name, m_type, m_off = _TRIPLE.unpack_from(data, pos + 12 * i)
            bit_offset, bitfield = (m_off & 0xFFFFFF, m_off >> 24) if kind_flag else (m_off, 0)
            members.append(BtfMember(_check_name(strings, m_name, where), m_type, bit_offset, bitfield))
        return replace(base, size=size_or_type, members=tuple(members))
    if kind is BtfKind.ENUM:
        values = []
        for i in range(vlen):
            e_name, e_val = _ENUM.unpack_from(data, pos + 8 * i)
            values.append(
                BtfEnumerator(_check_name(strings, e_name, where), e_val if kind_flag else e_val & 0xFFFFFFFF)
            )
        return replace(base, size=size_or_type, enumerators=tuple(values))
    if kind is BtfKind.ENUM64:
        values = []
        for i in range(vlen):
            e_name, lo, hi = _ENUM64.unpack_from(data, pos + 12 * i)
            value = (hi << 32) | lo
            if kind_flag and value >= 1 << 63:
                value -= 1 << 64
            values.append(BtfEnumerator(_check_name(strings, e_name, where), value))
        return replace(base, size=size_or_type, enumerators=tuple(values))
    if kind is BtfKind.FUNC_PROTO:
        params = []
        for i in range(vlen):
            p_name, p_type = _PAIR.unpack_from(data, pos + 8 * i)
            params.append(BtfParam(_check_name(strings, p_name, where), p_type))
        return replace(base, type=size_or_type, params=tuple(params))
    if kind is BtfKind.FUNC:
        return replace(base, type=size_or_type, linkage=vlen)
    if kind is BtfKind.VAR:
        (linkage,) = _U32.unpack_from(data, pos)
        return replace(base, type=size_or_type, linkage=linkage)
    if kind is BtfKind.DATASEC:
        infos = tuple(BtfVarSecinfo(*_TRIPLE.unpack_from(data, pos + 12 * i)) for i in range(vlen))
        return replace(base, size=size_or_type, secinfos=infos)
    if kind is BtfKind.DECL_TAG:
        (component,) = struct.unpack_from("<i", data, pos)
        return replace(base, type=size_or_type, component_idx=component)
    if kind is BtfKind.FLOAT:
        if size_or_type not in (2, 4, 8, 12, 16):
            raise BtfError(f"{where}: FLOAT {name!r} of {size_or_type} bytes")
        return replace(base, size=size_or_type)
    if kind is BtfKind.FWD:
        return base
    # PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
    return replace(base, type=size_or_type)


def _references(t: BtfType) -> Iterator[int]:
    kind = t.kind
    if kind in (BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.FUNC, BtfKind.VAR, BtfKind.DECL_TAG,
                BtfKind.FUNC_PROTO) or kind in MODIFIERS:  # fmt: skip
        yield t.type
    if kind is BtfKind.ARRAY:
        yield t.elem_type
        yield t.index_type
    for m in t.members:
        yield m.type
    for p in t.params:
        yield p.type
    for s in t.secinfos:
        yield s.type


def _check_references(types: list[BtfType]) -> None:
    count = len(types)
    for t in types[1:]:
        for ref in _references(t):
            if ref >= count:
                raise BtfError(
                    f".BTF type {t.id} ({t.kind.name}{' ' + t.name if t.name else ''}) refers to "
                    f"type {ref}, but the BTF has {count - 1} types"
                )
        if t.kind is BtfKind.FUNC and types[t.type].kind is not BtfKind.FUNC_PROTO:
            raise BtfError(
                f".BTF type {t.id} (FUNC {t.name}) points at a {types[t.type].kind.name}, not a FUNC_PROTO"
            )
        if t.kind is BtfKind.DATASEC:
            for info in t.secinfos:
                if types[info.type].kind is not BtfKind.VAR and types[info.type].kind is not BtfKind.FUNC:
                    raise BtfError(f".BTF DATASEC {t.name} lists type {info.type}, which is not a variable")
