"""The debugger's expression language: gdb-like C expressions over a stopped eBPF machine.

``print[/FMT] EXPR``, ``x/NFU ADDR``, ``display``, ``set var LVALUE = EXPR``,
``break LOC if EXPR``, ``watch EXPR`` and ``expect EXPR`` all go through this module, so
a user learns one language. It is C as gdb evaluates it, with a few additions for eBPF.
Nothing here knows about sessions or backends: the machine is reached only through the
:class:`EvalEnv` protocol, which makes the language testable with a fake machine.

Syntax
------
Literals
    ``42``, ``0x2a``, ``0b101010``, ``0o52`` or ``052`` (octal), ``'a'``, ``'\\n'``,
    suffixes ``u``/``l``/``ul``. A literal is a ``long`` (s64) when it fits, else an
    ``unsigned long``, as in C. ``"abc"`` is a byte string (no NUL added) and
    ``x"06 00 00 50"`` is a byte string written in hex (spaces allowed).
Machine state
    ``$r0``..``$r10`` (u64), ``$fp`` (= ``$r10``, a ``u8 *``), ``$pc``, ``$insns``,
    ``$retval`` (u64), ``$ctx`` (a pointer to the program's context), ``$pkt``,
    ``$pkt_end``, ``$pkt_meta`` (``u8 *``, so ``$pkt[12]`` is a byte and ``$pkt + 14`` is an
    address). Bare ``r0``..``r10`` and ``pc`` work too unless a map has that name.
    ``$name`` is a user convenience variable (a u64, set with ``set var $name = 3``).
Value history
    ``$`` (the last value), ``$$`` (the one before), ``$$N`` (N back), ``$N`` (value N).
Operators
    C's, with C's precedence: ``?:  ||  &&  |  ^  &  == !=  < <= > >=  << >>  + -  * / %``,
    unary ``- + ~ ! * &``, ``sizeof``, casts, ``a[i]``, ``.field``, ``->field``.
    Arithmetic follows C's usual conversions on a 64-bit target and wraps like the machine:
    registers are unsigned, so ``$r1 < 0`` is never true but ``(s64)$r1 < 0`` is. Shift
    counts are taken modulo the operand width, as BPF_LSH/RSH/ARSH do. Division by zero is
    an error, not the machine's 0. ``&&``, ``||`` and ``?:`` short-circuit, so
    ``$r2 != 0 && *(u8 *)$r2 == 6`` does not read through a null pointer.
Assignment
    ``=``, ``+=``, ``-=``, ``*=``, ``/=``, ``%=``, ``&=``, ``|=``, ``^=``, ``<<=``, ``>>=``,
    only at the top of an expression (``set var``, ``print $r1 = 5``).
Types and casts
    Builtin integer types (:data:`BUILTIN_TYPES`: ``u8``..``u64``, ``s8``..``s64``,
    ``__u32``, ``__be16``, ``int``, ``unsigned long``, ...), ``void``, pointers to any of
    them, and every ``struct``/``union``/``enum``/typedef name of the object's BTF:
    ``*(u32 *)($r10 - 8)``, ``((struct fw_key *)$r2)->port``, ``(s32)$r0``. ``__be16`` and
    friends are read as little-endian numbers, like the machine loads them (no byte swap).
    A cast of a ``{...}`` list is a compound literal: ``(struct fw_key){1, 6, 0x5000, 0}``.
    A cast between a byte string and a type of the same size reinterprets the bytes:
    ``(u16)$pkt[12:14]``, ``(struct fw_key)x"0106005000000000"``.
    ``(NAME)`` with a bare name is taken as a cast only when what follows starts an
    operand (``(__u32)$r1``); write ``(T)(-1)`` rather than ``(T)-1`` for typedefs.
Byte slices
    ``ADDR[start:end]`` reads ``end - start`` bytes at ``ADDR + start`` (byte offsets, whatever
    the pointer type): ``$pkt[12:14]``, ``$fp[-8:0]``. An omitted start is 0; an omitted end
    is the end of the packet for addresses inside it (``$pkt[14:]``) or the end of an array.
    Slices are lvalues: ``set var $pkt[12:14] = x"86dd"``.
Context
    ``$ctx->ingress_ifindex``: through the BTF's ``struct xdp_md``/``__sk_buff`` when the
    object has it, else through the program type's field table. As the kernel rewrites ctx
    loads, ``$ctx->data``/``data_end``/``data_meta`` are the packet pointers, not u32s.
Maps
    A map's name indexed by its key: ``fw_counters[3]``, ``fw_counters[3].bytes``. A key is
    an integer (little-endian in the map's key size), a ``{...}`` list built against the
    key's BTF type (``fw_rules[{1, 6, 0x5000, 0}]``, ``fw_rules[{.kind = 1, .proto = 6}]``;
    missing members are zero), a hex byte string of exactly the key size
    (``fw_rules[x"0106005000000000"]``), a string (zero-padded) or any value of the key's
    size (``fw_rules[*(struct fw_key *)$r2]``). The value has the map's BTF value type, or
    is raw bytes without BTF. Per-CPU maps show CPU 0. ``fw_counters[3].bytes = 0`` writes
    the map (read-modify-write of the whole value).
Enum constants
    Enumerators of the BTF (``RULE_SRC_V4``) and the verdicts ``XDP_*``/``TC_ACT_*``.
Global variables
    A C global (``.data``, ``.rodata``, ``.bss`` and their ``.*`` variants) by its name:
    ``pkts_seen``, ``last_blocked.dport``, ``blocked_ports[1]``. libbpf keeps each such
    section as a one-entry array map whose value BTF is the section's DATASEC, so the
    variable is read from key 0 of that map at its offset, typed by its BTF, and is an
    lvalue: ``set var pkts_seen = 5`` and ``watch pkts_seen`` write and watch the map.
    A bare name means, in order: a map, a register (``r0``..``r10``, ``pc``), an enum
    constant or verdict, and only then a global variable, so a variable that shares its
    name with one of those is reached through its map: ``$ctx`` and friends never clash.
"""

from __future__ import annotations

import difflib
import functools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, Protocol, TypeVar

from emulator.elf.btf import INT_BOOL, INT_CHAR, INT_SIGNED, Btf, BtfError, BtfKind, BtfType

__all__ = [
    "BUILTIN_TYPES",
    "CONSTANTS",
    "Assign",
    "CType",
    "EvalEnv",
    "EvalError",
    "Expr",
    "Lvalue",
    "MapInfo",
    "MapLoc",
    "MemLoc",
    "RegLoc",
    "Value",
    "VarLoc",
    "as_int",
    "assign",
    "evaluate",
    "format_value",
    "guard_of",
    "lvalue_of",
    "parse",
]

MASK64 = (1 << 64) - 1
MAX_SLICE = 1 << 16  # a longer slice is almost certainly a typo, not a wish to dump 4 GiB

# ---------------------------------------------------------------------------------------------
# errors, locations, types, values


class EvalError(Exception):
    """A user mistake in an expression (syntax, unknown name, bad address, ...).

    The message is complete and meant to be shown as is; callers never need a traceback.
    """


@dataclass(frozen=True)
class MapInfo:
    """What the evaluator needs to know about a map to index it and type its values."""

    name: str
    key_size: int
    value_size: int
    key_btf: int = 0
    value_btf: int = 0
    percpu: bool = False


@dataclass(frozen=True)
class RegLoc:
    """Register ``rN``."""

    n: int


@dataclass(frozen=True)
class VarLoc:
    """A convenience variable (name without ``$``)."""

    name: str


@dataclass(frozen=True)
class MemLoc:
    """``size`` bytes at ``addr``; for a bitfield, ``bit_size`` bits starting ``bit_offset``
    bits into those bytes (``bit_size == 0``: the whole bytes)."""

    addr: int
    size: int
    bit_offset: int = 0
    bit_size: int = 0


@dataclass(frozen=True)
class MapLoc:
    """``size`` bytes at ``offset`` in the value of ``map[key]`` (bitfields as in MemLoc)."""

    map: str
    key: bytes
    offset: int
    size: int
    bit_offset: int = 0
    bit_size: int = 0


Lvalue = RegLoc | VarLoc | MemLoc | MapLoc


@dataclass(frozen=True)
class CType:
    """A C type as the evaluator sees it: builtin integers and pointers need no BTF, and
    BTF types are converted once so that arithmetic and printing never walk typedefs.

    ``kind``: ``void``, ``int`` (booleans and chars too), ``enum``, ``ptr``, ``array``,
    ``struct`` (unions and DATASECs too), ``bytes`` (raw byte strings), ``float``, ``func``
    and ``ctx`` (the opaque context when the BTF has no ctx struct). ``target`` is the
    pointee of a pointer and the element of an array. ``btf`` is kept so that a value can be
    printed without the environment that produced it.
    """

    kind: str
    size: int
    name: str
    signed: bool = False
    char: bool = False
    boolean: bool = False
    target: CType | None = None
    count: int = 0
    btf_id: int = 0
    btf: Btf | None = field(default=None, repr=False, compare=False)

    @property
    def scalar(self) -> bool:
        return self.kind in ("int", "enum", "ptr")


_DATA_KINDS = ("struct", "array", "bytes", "float")


@dataclass(frozen=True)
class Value:
    """The result of an expression.

    ``kind`` is ``int`` (integers, enums, booleans, chars), ``ptr``, ``struct``, ``array``,
    ``bytes`` or ``float``. Scalars carry ``number``: the mathematical value in their type
    (``-1`` for an ``s32`` holding 0xffffffff, ``4294967295`` for a ``u32``); pointers
    carry the address. The other kinds carry ``data``, the raw little-endian bytes.
    ``lvalue`` says where the value lives when it can be assigned or watched.
    """

    kind: str
    type: CType
    number: int = 0
    data: bytes = b""
    lvalue: Lvalue | None = None

    def __str__(self) -> str:
        """The value as ``print`` shows it (gdb's natural format)."""
        return format_value(self, None)

    @property
    def type_name(self) -> str:
        return self.type.name


def _kind_of(t: CType) -> str:
    if t.kind in ("int", "enum"):
        return "int"
    if t.kind == "ptr":
        return "ptr"
    if t.kind in _DATA_KINDS:
        return t.kind
    raise EvalError(f"a value cannot have type {t.name}")


# Builtin integer types: name -> (size, signed). Kernel (__u32), libbpf (u32), C99 and C names.
BUILTIN_TYPES: dict[str, tuple[int, bool]] = {}
for _bits in (8, 16, 32, 64):
    for _name in (f"u{_bits}", f"__u{_bits}", f"uint{_bits}_t"):
        BUILTIN_TYPES[_name] = (_bits // 8, False)
    for _name in (f"s{_bits}", f"__s{_bits}", f"int{_bits}_t"):
        BUILTIN_TYPES[_name] = (_bits // 8, True)
    if _bits > 8:
        BUILTIN_TYPES[f"__be{_bits}"] = (_bits // 8, False)
        BUILTIN_TYPES[f"__le{_bits}"] = (_bits // 8, False)
BUILTIN_TYPES.update({
    "__sum16": (2, False), "__wsum": (4, False),
    "char": (1, True), "signed char": (1, True), "unsigned char": (1, False),
    "short": (2, True), "unsigned short": (2, False), "int": (4, True), "unsigned int": (4, False),
    "long": (8, True), "unsigned long": (8, False),
    "long long": (8, True), "unsigned long long": (8, False),
    "bool": (1, False), "_Bool": (1, False),
    "size_t": (8, False), "ssize_t": (8, True), "uintptr_t": (8, False), "intptr_t": (8, True),
})  # fmt: skip

# Program verdicts, usable without BTF (an enumerator of the object's BTF wins).
CONSTANTS: dict[str, int] = {
    "XDP_ABORTED": 0, "XDP_DROP": 1, "XDP_PASS": 2, "XDP_TX": 3, "XDP_REDIRECT": 4,
    "TC_ACT_UNSPEC": -1, "TC_ACT_OK": 0, "TC_ACT_RECLASSIFY": 1, "TC_ACT_SHOT": 2, "TC_ACT_PIPE": 3,
    "TC_ACT_STOLEN": 4, "TC_ACT_QUEUED": 5, "TC_ACT_REPEAT": 6, "TC_ACT_REDIRECT": 7,
}  # fmt: skip


def _builtin(name: str) -> CType:
    size, signed = BUILTIN_TYPES[name]
    return CType("int", size, name, signed=signed, char=name == "char", boolean=name in ("bool", "_Bool"))


def _ptr(target: CType) -> CType:
    name = f"{target.name}*" if target.name.endswith("*") else f"{target.name} *"
    return CType("ptr", 8, name, target=target)


def _bytes_type(n: int) -> CType:
    return CType("bytes", n, f"u8[{n}]")


VOID = CType("void", 0, "void")
INT = _builtin("int")
UINT = _builtin("unsigned int")
LONG = _builtin("long")
ULONG = _builtin("unsigned long")
U8 = _builtin("u8")
U64 = _builtin("u64")
U8P = _ptr(U8)
CTX = CType("ctx", 0, "ctx")
CHAR = _builtin("char")
_ARITH_NAMES = {(4, True): "int", (4, False): "unsigned int", (8, True): "long", (8, False): "unsigned long"}


class EvalEnv(Protocol):
    """The stopped machine, as the evaluator reaches it (the Session implements this).

    ``variable`` answers the convenience variables without ``$``: ``pc``, ``ctx``, ``pkt``,
    ``pkt_end``, ``pkt_meta``, ``fp``, ``retval``, ``insns`` and user variables; None when
    not defined. ``read_memory``/``write_memory``/``set_variable``/``map_write`` raise
    EvalError with a complete message when the machine refuses. ``value_history(index)``:
    ``index > 0`` is value ``$index``; ``index <= 0`` counts back from the last value
    (``$`` is 0, ``$$`` is -1, ``$$N`` is -N); EvalError when out of range.
    ``map_names`` lists every map (in the object's order) so that a bare name can be looked
    up among the variables of the global-data maps, whose value BTF is a DATASEC.
    """

    btf: Btf | None

    def register(self, n: int) -> int: ...
    def set_register(self, n: int, value: int) -> None: ...
    def variable(self, name: str) -> int | None: ...
    def set_variable(self, name: str, value: int) -> None: ...
    def read_memory(self, addr: int, size: int) -> bytes: ...
    def write_memory(self, addr: int, data: bytes) -> None: ...
    def ctx_field(self, name: str) -> tuple[int, int] | None: ...
    def ctx_fields(self) -> list[str]: ...
    def map_info(self, name: str) -> MapInfo | None: ...
    def map_names(self) -> list[str]: ...
    def map_read(self, name: str, key: bytes) -> bytes | None: ...
    def map_write(self, name: str, key: bytes, value: bytes) -> None: ...
    def value_history(self, index: int) -> Value: ...


# ---------------------------------------------------------------------------------------------
# syntax tree


class Expr:
    """A parsed expression (immutable, so a breakpoint condition is parsed once)."""


@dataclass(frozen=True)
class Num(Expr):
    value: int
    type: CType


@dataclass(frozen=True)
class Str(Expr):
    data: bytes
    hex: bool = False


@dataclass(frozen=True)
class Reg(Expr):
    n: int


@dataclass(frozen=True)
class Dollar(Expr):
    name: str


@dataclass(frozen=True)
class History(Expr):
    index: int


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class TypeName:
    """A type as written: ``base`` is builtin, void, struct, union, enum or typedef."""

    base: str
    name: str
    pointers: int = 0

    def __str__(self) -> str:
        head = f"{self.base} {self.name}" if self.base in ("struct", "union", "enum") else self.name
        return head + (" " + "*" * self.pointers if self.pointers else "")


@dataclass(frozen=True)
class Cast(Expr):
    type: TypeName
    operand: Expr


@dataclass(frozen=True)
class SizeOf(Expr):
    """``sizeof(T)``/``sizeof EXPR``; ``sizeof(name)`` keeps both readings until evaluation."""

    type: TypeName | None
    operand: Expr | None


@dataclass(frozen=True)
class Index(Expr):
    base: Expr
    index: Expr


@dataclass(frozen=True)
class Slice(Expr):
    base: Expr
    start: Expr | None
    end: Expr | None


@dataclass(frozen=True)
class Member(Expr):
    base: Expr
    name: str
    arrow: bool


@dataclass(frozen=True)
class BraceList(Expr):
    items: tuple[tuple[str | None, Expr], ...]


@dataclass(frozen=True)
class Assign(Expr):
    op: str
    target: Expr
    value: Expr


# ---------------------------------------------------------------------------------------------
# tokens


@dataclass(frozen=True)
class _Tok:
    kind: str  # num char str hex dollar ident op end
    text: str
    col: int
    value: object = None


_OPS = (
    "<<=", ">>=", "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "+", "-", "*", "/", "%", "<", ">", "=", "!", "~", "&", "|", "^", "?", ":",
    "(", ")", "[", "]", "{", "}", ".", ",",
)  # fmt: skip
_ASSIGN_OPS = ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SUFFIX = re.compile(r"[uUlL]*")
_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27,
                   "\\": 92, "'": 39, '"': 34, "?": 63}  # fmt: skip


def _read_escape(text: str, i: int, col_of: Callable[[int], int]) -> tuple[int, int]:
    """The byte of the escape starting at ``text[i] == '\\\\'`` and the index after it."""
    if i + 1 >= len(text):
        raise EvalError(f"unfinished escape at column {col_of(i)}")
    c = text[i + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 2
    if c == "x":
        m = re.compile(r"[0-9a-fA-F]{1,2}").match(text, i + 2)
        if not m:
            raise EvalError(f"\\x needs hex digits at column {col_of(i)}")
        return int(m.group(), 16), m.end()
    if c in "01234567":
        m = re.compile(r"[0-7]{1,3}").match(text, i + 1)
        assert m is not None
        value = int(m.group(), 8)
        if value > 255:
            raise EvalError(f"octal escape \\{m.group()} at column {col_of(i)} is more than a byte")
        return value, m.end()
    raise EvalError(f"unknown escape \\{c} at column {col_of(i)}")


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)

    def col(k: int) -> int:
        return k + 1

    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c in "xX" and i + 1 < n and text[i + 1] == '"':
            end = text.find('"', i + 2)
            if end < 0:
                raise EvalError(f'unterminated x"..." at column {col(start)}')
            digits = re.sub(r"\s+", "", text[i + 2 : end])
            if not re.fullmatch(r"[0-9a-fA-F]*", digits) or len(digits) % 2:
                raise EvalError(
                    f'x"..." at column {col(start)} must hold pairs of hex digits, got "{text[i + 2 : end]}"'
                )
            toks.append(_Tok("hex", text[start : end + 1], col(start), bytes.fromhex(digits)))
            i = end + 1
            continue
        if c.isdigit():
            m = _NUMBER.match(text, i)
            assert m is not None
            digits = m.group()
            sm = _SUFFIX.match(text, m.end())
            assert sm is not None
            suffix = sm.group().lower()
            end = sm.end()
            if end < n and (text[end].isalnum() or text[end] == "_"):
                bad = re.compile(r"[A-Za-z0-9_]*").match(text, i)
                assert bad is not None
                raise EvalError(f"invalid number '{bad.group()}' at column {col(start)}")
            if suffix not in ("", "u", "l", "ul", "lu", "ll", "ull", "llu"):
                raise EvalError(f"invalid number suffix '{suffix}' at column {col(start)}")
            if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
                if not re.fullmatch(r"[0-7]+", digits):
                    raise EvalError(
                        f"invalid octal number '{digits}' at column {col(start)} (a leading 0 means octal)"
                    )
                value = int(digits, 8)
            else:
                value = int(digits, 0)
            if value > MASK64:
                raise EvalError(f"number '{digits}' at column {col(start)} does not fit in 64 bits")
            if "u" in suffix or value >= 1 << 63:
                ntype = ULONG
            else:
                ntype = LONG
            toks.append(_Tok("num", text[start:end], col(start), (value, ntype)))
            i = end
            continue
        if c == "'":
            if i + 1 < n and text[i + 1] == "\\":
                value, j = _read_escape(text, i + 1, col)
            elif i + 1 < n and text[i + 1] != "'":
                value, j = ord(text[i + 1]), i + 2
                if value > 255:
                    raise EvalError(f"character {text[i + 1]!r} at column {col(start)} is not one byte")
            else:
                raise EvalError(f"empty character constant at column {col(start)}")
            if j >= n or text[j] != "'":
                raise EvalError(f"unterminated character constant at column {col(start)}")
            toks.append(_Tok("char", text[start : j + 1], col(start), value))
            i = j + 1
            continue
        if c == '"':
            out = bytearray()
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    byte, j = _read_escape(text, j, col)
                    out.append(byte)
                else:
                    out.extend(text[j].encode())
                    j += 1
            if j >= n:
                raise EvalError(f"unterminated string at column {col(start)}")
            toks.append(_Tok("str", text[start : j + 1], col(start), bytes(out)))
            i = j + 1
            continue
        if c == "$":
            j = i + 1
            node: Expr
            if j < n and text[j] == "$":
                m = re.compile(r"[0-9]+").match(text, j + 1)
                node = History(-int(m.group())) if m else History(-1)
                j = m.end() if m else j + 1
            elif j < n and text[j].isdigit():
                m = re.compile(r"[0-9]+").match(text, j)
                assert m is not None
                node, j = History(int(m.group())), m.end()
            elif j < n and (text[j].isalpha() or text[j] == "_"):
                m = _IDENT.match(text, j)
                assert m is not None
                name = m.group()
                rm = re.fullmatch(r"r([0-9]|10)", name)
                node = Reg(int(rm.group(1))) if rm else Dollar(name)
                j = m.end()
            else:
                node = History(0)
            toks.append(_Tok("dollar", text[start:j], col(start), node))
            i = j
            continue
        if c.isalpha() or c == "_":
            m = _IDENT.match(text, i)
            assert m is not None
            toks.append(_Tok("ident", m.group(), col(start)))
            i = m.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                toks.append(_Tok("op", op, col(start)))
                i += len(op)
                break
        else:
            raise EvalError(f"unexpected character {c!r} at column {col(start)}")
    toks.append(_Tok("end", "", n + 1))
    return toks


# ---------------------------------------------------------------------------------------------
# parser (recursive descent, C precedence)

_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
    ("+", "-"), ("*", "/", "%"),
)  # fmt: skip
_C_WORDS = frozenset({"unsigned", "signed", "char", "short", "int", "long"})
_QUALIFIERS = frozenset({"const", "volatile", "restrict"})
_TYPE_WORDS = _C_WORDS | _QUALIFIERS | {"struct", "union", "enum", "void"}


def _c_type_name(words: list[str], col: int) -> str:
    """``unsigned long int`` -> ``unsigned long``: the canonical name of a specifier list."""
    unsigned = "unsigned" in words
    longs = words.count("long")
    if ("unsigned" in words and "signed" in words) or longs > 2 or ("short" in words and longs):
        raise EvalError(f"invalid type '{' '.join(words)}' at column {col}")
    if "char" in words:
        base = "char"
        return f"unsigned {base}" if unsigned else ("signed char" if "signed" in words else base)
    base = "short" if "short" in words else {0: "int", 1: "long", 2: "long long"}[longs]
    return f"unsigned {base}" if unsigned else base


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    def fail(self, tok: _Tok | None = None) -> NoReturn:
        tok = tok or self.peek()
        if tok.kind == "end":
            raise EvalError(f"unexpected end of expression at column {tok.col}")
        hint = ""
        if tok.text in _ASSIGN_OPS:
            hint = " (assignment is only allowed at the top: X = V; compare with ==)"
        raise EvalError(f"unexpected '{tok.text}' at column {tok.col}{hint}")

    def expect(self, op: str) -> _Tok:
        if not self.at(op):
            tok = self.peek()
            if tok.text in _ASSIGN_OPS:
                self.fail(tok)
            what = "end of expression" if tok.kind == "end" else f"'{tok.text}'"
            raise EvalError(f"expected '{op}' at column {tok.col}, found {what}")
        return self.advance()

    def ident(self) -> str:
        tok = self.peek()
        if tok.kind != "ident":
            what = "end of expression" if tok.kind == "end" else f"'{tok.text}'"
            raise EvalError(f"expected a name at column {tok.col}, found {what}")
        self.advance()
        return tok.text

    # -- grammar -------------------------------------------------------------------------------

    def top(self) -> Expr:
        if self.peek().kind == "end":
            raise EvalError("empty expression")
        left = self.ternary()
        if self.peek().kind == "op" and self.peek().text in _ASSIGN_OPS:
            op = self.advance().text
            right = self.brace_list() if self.at("{") else self.ternary()
            left = Assign(op, left, right)
        if self.peek().kind != "end":
            self.fail()
        return left

    def ternary(self) -> Expr:
        cond = self.binary(0)
        if self.at("?"):
            self.advance()
            then = self.ternary()
            self.expect(":")
            other = self.ternary()
            return Ternary(cond, then, other)
        return cond

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.at(*_LEVELS[level]):
            op = self.advance().text
            left = Binary(op, left, self.binary(level + 1))
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "~", "!", "*", "&"):
            self.advance()
            return Unary(tok.text, self.unary())
        if tok.kind == "ident" and tok.text == "sizeof":
            self.advance()
            return self.sizeof()
        if self.at("(") and self.cast_ahead():
            self.advance()
            tn = self.type_name()
            self.expect(")")
            operand = self.brace_list() if self.at("{") else self.unary()
            return Cast(tn, operand)
        return self.postfix(self.primary())

    def sizeof(self) -> Expr:
        if self.at("("):
            nxt, after = self.peek(1), self.peek(2)
            if nxt.kind == "ident" and (nxt.text in _TYPE_WORDS or nxt.text in BUILTIN_TYPES):
                self.advance()
                tn = self.type_name()
                self.expect(")")
                return SizeOf(tn, None)
            if nxt.kind == "ident" and after.kind == "op" and after.text == ")":
                self.advance()
                self.advance()
                self.advance()
                return SizeOf(TypeName("typedef", nxt.text), Name(nxt.text))
            if nxt.kind == "ident" and after.kind == "op" and after.text == "*" and self.stars_then_close(2):
                self.advance()
                tn = self.type_name()
                self.expect(")")
                return SizeOf(tn, None)
        return SizeOf(None, self.unary())

    def stars_then_close(self, k: int) -> bool:
        """Whether tokens from ``k`` on are ``*``... followed by ``)`` (at least one star)."""
        j = k
        while self.peek(j).kind == "op" and self.peek(j).text == "*" or self.peek(j).text in _QUALIFIERS:
            j += 1
        return j > k and self.peek(j).kind == "op" and self.peek(j).text == ")"

    def cast_ahead(self) -> bool:
        """At ``(``: does a type name follow? Types need no BTF to be recognised, so
        ``parse`` stays environment-free; see the module docstring for the one ambiguity."""
        nxt = self.peek(1)
        if nxt.kind != "ident":
            return False
        if nxt.text in _TYPE_WORDS or nxt.text in BUILTIN_TYPES:
            return True
        if self.stars_then_close(2):
            return True
        close = self.peek(2)
        if not (close.kind == "op" and close.text == ")"):
            return False
        if nxt.text.startswith("__") or nxt.text.endswith("_t"):
            return True
        after = self.peek(3)
        return after.kind in ("num", "char", "str", "hex", "dollar", "ident") or (
            after.kind == "op" and after.text in ("(", "~", "!", "{")
        )

    def type_name(self) -> TypeName:
        while self.peek().kind == "ident" and self.peek().text in _QUALIFIERS:
            self.advance()
        tok = self.peek()
        word = self.ident()
        if word in ("struct", "union", "enum"):
            base, name = word, self.ident()
        elif word == "void":
            base, name = "void", "void"
        elif word in _C_WORDS:
            words = [word]
            while self.peek().kind == "ident" and self.peek().text in _C_WORDS | _QUALIFIERS:
                w = self.advance().text
                if w not in _QUALIFIERS:
                    words.append(w)
            base, name = "builtin", _c_type_name(words, tok.col)
        elif word in BUILTIN_TYPES:
            base, name = "builtin", word
        else:
            base, name = "typedef", word
        stars = 0
        while self.at("*") or (self.peek().kind == "ident" and self.peek().text in _QUALIFIERS):
            if self.advance().text == "*":
                stars += 1
        return TypeName(base, name, stars)

    def postfix(self, node: Expr) -> Expr:
        while True:
            if self.at("["):
                self.advance()
                start: Expr | None = None
                if not self.at(":"):
                    start = self.brace_list() if self.at("{") else self.ternary()
                if self.at(":"):
                    self.advance()
                    end = None if self.at("]") else self.ternary()
                    self.expect("]")
                    node = Slice(node, start, end)
                else:
                    self.expect("]")
                    assert start is not None
                    node = Index(node, start)
            elif self.at(".", "->"):
                arrow = self.advance().text == "->"
                node = Member(node, self.ident(), arrow)
            else:
                return node

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "num":
            self.advance()
            assert isinstance(tok.value, tuple)
            return Num(*tok.value)
        if tok.kind == "char":
            self.advance()
            assert isinstance(tok.value, int)
            return Num(tok.value - 256 if tok.value > 127 else tok.value, CHAR)
        if tok.kind in ("str", "hex"):
            self.advance()
            assert isinstance(tok.value, bytes)
            return Str(tok.value, tok.kind == "hex")
        if tok.kind == "dollar":
            self.advance()
            assert isinstance(tok.value, Expr)
            return tok.value
        if tok.kind == "ident" and tok.text not in _TYPE_WORDS:
            self.advance()
            return Name(tok.text)
        if self.at("("):
            self.advance()
            inner = self.ternary()
            self.expect(")")
            return inner
        if self.at("{"):
            return self.brace_list()
        self.fail()

    def brace_list(self) -> BraceList:
        self.expect("{")
        items: list[tuple[str | None, Expr]] = []
        while not self.at("}"):
            designator = None
            if self.at("."):
                self.advance()
                designator = self.ident()
                self.expect("=")
            items.append((designator, self.brace_list() if self.at("{") else self.ternary()))
            if not self.at(","):
                break
            self.advance()
        self.expect("}")
        return BraceList(tuple(items))


@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Expr:
    try:
        return _Parser(text).top()
    except RecursionError:
        raise EvalError("expression is nested too deeply") from None


def parse(text: str) -> Expr:
    """The syntax tree of ``text``; EvalError names the column of the first problem."""
    return _parse_cached(text.strip())


# ---------------------------------------------------------------------------------------------
# types from BTF


def _cache(btf: Btf, name: str) -> dict:  # type: ignore[type-arg]
    """A per-BTF cache kept on the Btf itself: CTypes refer back to their Btf, so a
    WeakKeyDictionary would keep every Btf alive, while this cycle is collectable."""
    return vars(btf).setdefault(f"_bpfdbg_expr_{name}", {})  # type: ignore[no-any-return]


_CTX_STRUCTS = ("xdp_md", "__sk_buff", "sk_msg_md", "sk_reuseport_md", "bpf_sock_ops", "bpf_sk_lookup")
_CTX_POINTERS = {"data": "pkt", "data_end": "pkt_end", "data_meta": "pkt_meta"}


def _from_btf(btf: Btf, type_id: int, depth: int = 0) -> CType:
    """The CType of BTF ``type_id`` (cached per BTF: conditions run on every hit)."""
    cache: dict[int, CType] = _cache(btf, "types")
    cached = cache.get(type_id)
    if cached is not None:
        return cached
    if depth > 32:
        raise EvalError(f"BTF type {type_id} nests too deeply")
    try:
        result = _convert_btf(btf, type_id, depth)
    except (BtfError, KeyError) as e:
        raise EvalError(f"BTF type {type_id}: {e}") from None
    cache[type_id] = result
    return result


def _convert_btf(btf: Btf, type_id: int, depth: int) -> CType:
    if type_id == 0:
        return VOID
    name = btf.type_name(type_id)
    t = btf.resolve(type_id)
    kind = t.kind
    if kind is BtfKind.INT:
        enc = t.int_encoding
        return CType(
            "int", t.size, name, signed=bool(enc & INT_SIGNED),
            char=bool(enc & INT_CHAR) or t.name == "char", boolean=bool(enc & INT_BOOL),
        )  # fmt: skip
    if kind is BtfKind.PTR:
        return CType("ptr", 8, name, target=_from_btf(btf, t.type, depth + 1))
    if kind is BtfKind.ARRAY:
        elem = _from_btf(btf, t.elem_type, depth + 1)
        return CType("array", elem.size * t.nelems, name, target=elem, count=t.nelems)
    if kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.DATASEC):
        label = name if kind is not BtfKind.DATASEC else t.name
        return CType("struct", t.size, label, btf_id=t.id, btf=btf)
    if kind is BtfKind.FWD:
        return CType("struct", 0, name, btf_id=t.id, btf=btf)
    if kind in (BtfKind.ENUM, BtfKind.ENUM64):
        return CType("enum", t.size, name, signed=t.kind_flag, btf_id=t.id, btf=btf)
    if kind is BtfKind.FLOAT:
        return CType("float", t.size, name)
    return CType("func", 0, name)


def _enum_constants(btf: Btf) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = _cache(btf, "enums")
    if not found:
        for t in btf:
            if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
                for e in t.enumerators:
                    found.setdefault(e.name, (e.value, t.id))
        found.setdefault("", (0, 0))  # marks the cache as built, even for a BTF without enums
    return found


@dataclass(frozen=True)
class _Field:
    name: str
    bit_offset: int
    bit_size: int
    type: CType


def _fields(t: CType) -> list[_Field]:
    """Members of a struct/union/DATASEC type, in order (anonymous members unexpanded)."""
    btf = t.btf
    if btf is None or t.kind != "struct":
        return []
    bt = btf.type(t.btf_id)
    if bt.kind is BtfKind.DATASEC:
        return [
            _Field(btf.type(s.type).name, s.offset * 8, 0, _from_btf(btf, btf.type(s.type).type))
            for s in bt.secinfos
        ]
    return [_Field(m.name, m.bit_offset, m.bitfield_size, _from_btf(btf, m.type)) for m in bt.members]


def _find_field(t: CType, name: str) -> _Field | None:
    """Member ``name``, looking into anonymous struct/union members as C does."""
    for f in _fields(t):
        if f.name == name:
            return f
        if not f.name and f.type.kind == "struct":
            inner = _find_field(f.type, name)
            if inner is not None:
                return _Field(inner.name, f.bit_offset + inner.bit_offset, inner.bit_size, inner.type)
    return None


def _field_names(t: CType) -> list[str]:
    names: list[str] = []
    for f in _fields(t):
        names.extend(_field_names(f.type) if not f.name and f.type.kind == "struct" else [f.name])
    return names


# ---------------------------------------------------------------------------------------------
# integer helpers


def _wrap(n: int, size: int, signed: bool) -> int:
    bits = (size or 8) * 8
    n &= (1 << bits) - 1
    if signed and n >> (bits - 1):
        n -= 1 << bits
    return n


def _arith_type(t: CType) -> CType:
    """C's integer promotion on LP64: small types become int; enums their integer type."""
    if t.kind == "ptr":
        return ULONG
    if t.size < 4:
        return INT
    if t.kind == "enum" or t.boolean or t.char:
        return _builtin(_ARITH_NAMES[(t.size, t.signed)])
    return t


def _common(a: CType, b: CType) -> CType:
    """C's usual arithmetic conversions between two promoted types."""
    if a.signed == b.signed:
        return a if a.size >= b.size else b
    u, s = (a, b) if not a.signed else (b, a)
    return u if u.size >= s.size else s


def _c_div(x: int, y: int) -> tuple[int, int]:
    """Quotient and remainder truncated toward zero, as C (and BPF's sdiv/smod) does."""
    q = abs(x) // abs(y)
    if (x < 0) != (y < 0):
        q = -q
    return q, x - q * y


def _char_literal(b: int) -> str:
    names = {0: "\\000", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
             39: "\\'", 92: "\\\\"}  # fmt: skip
    if b in names:
        return f"'{names[b]}'"
    return f"'{chr(b)}'" if 0x20 <= b < 0x7F else f"'\\{b:03o}'"


def _c_string(data: bytes) -> str:
    out = []
    for b in data:
        if b == 34:
            out.append('\\"')
        elif b == 92:
            out.append("\\\\")
        elif b in (9, 10, 13):
            out.append({9: "\\t", 10: "\\n", 13: "\\r"}[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _hex_bytes(data: bytes) -> str:
    return "".join(f"{b:02x}" for b in data)


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass(frozen=True)
class _Place:
    loc: Lvalue
    type: CType


_TYPE_KINDS = (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.TYPEDEF, BtfKind.INT,
               BtfKind.FLOAT, BtfKind.FWD)  # fmt: skip
_BUILTIN_VARS = ("pc", "fp", "ctx", "pkt", "pkt_end", "pkt_meta", "retval", "insns")
_VAR_TYPES = {"pkt": U8P, "pkt_end": U8P, "pkt_meta": U8P}
_CMP = ("==", "!=", "<", "<=", ">", ">=")


class _Evaluator:
    """Evaluates one expression against one environment (holds no state between calls)."""

    def __init__(self, env: EvalEnv) -> None:
        self.env = env
        self.btf = env.btf

    # -- entry points -------------------------------------------------------------------------

    def eval(self, node: Expr) -> Value:
        got = self.access(node)
        return self.load(got) if isinstance(got, _Place) else got

    def place(self, node: Expr) -> _Place | None:
        got = self.access(node)
        return got if isinstance(got, _Place) else None

    def access(self, node: Expr) -> _Place | Value:
        """A storage location when ``node`` denotes one (so that it can be assigned, watched
        or have its address taken without being read), else the node's value."""
        if isinstance(node, Reg):
            return _Place(RegLoc(node.n), U64)
        if isinstance(node, Dollar):
            return self.dollar(node.name)
        if isinstance(node, Name):
            return self.name(node.name)
        if isinstance(node, Unary) and node.op == "*":
            return self.deref(self.eval(node.operand))
        if isinstance(node, Index):
            return self.index(node)
        if isinstance(node, Slice):
            return self.slice(node)
        if isinstance(node, Member):
            return self.member(node)
        return self.rvalue(node)

    def rvalue(self, node: Expr) -> Value:
        if isinstance(node, Num):
            return _mk(node.type, node.value)
        if isinstance(node, Str):
            return Value("bytes", _bytes_type(len(node.data)), data=node.data)
        if isinstance(node, History):
            return self.env.value_history(node.index)
        if isinstance(node, Unary):
            return self.unary(node.op, node.operand)
        if isinstance(node, Binary):
            if node.op in ("&&", "||"):
                left = self.truth(self.eval(node.left))
                if (node.op == "&&") != left:
                    return _mk(INT, int(left))
                return _mk(INT, int(self.truth(self.eval(node.right))))
            return self.binary(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, Ternary):
            return self.eval(node.then if self.truth(self.eval(node.cond)) else node.other)
        if isinstance(node, Cast):
            target = self.resolve_type(node.type)
            if isinstance(node.operand, BraceList):
                data = self.encode_init(target, node.operand)
                return self.decode(target, data, None)
            return self.cast(self.eval(node.operand), target)
        if isinstance(node, SizeOf):
            return _mk(ULONG, self.sizeof(node))
        if isinstance(node, BraceList):
            raise EvalError(
                "a {...} list needs a type: use it as a map key, assign it, or cast it: (struct T){...}"
            )
        if isinstance(node, Assign):
            return self.assign(node)
        raise EvalError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover

    # -- names ----------------------------------------------------------------------------------

    def dollar(self, name: str) -> _Place | Value:
        if name == "fp":
            return _Place(RegLoc(10), U8P)
        if re.fullmatch(r"r[0-9]+", name):
            raise EvalError(f"there is no register ${name}: eBPF has $r0..$r10")
        if name == "ctx":
            return _Place(VarLoc("ctx"), self.ctx_type())
        return _Place(VarLoc(name), _VAR_TYPES.get(name, U64))

    def ctx_type(self) -> CType:
        """``$ctx`` points at the BTF's context struct when the BTF has the one whose layout
        the program type uses; otherwise at an opaque ctx answered by ``env.ctx_field``."""
        fields = self.env.ctx_fields()
        if self.btf is not None and fields:
            where = self.env.ctx_field(fields[0])
            for name in _CTX_STRUCTS:
                t = self.btf.find(name, BtfKind.STRUCT)
                if t is not None and where is not None:
                    if any(m.name == fields[0] and m.byte_offset == where[0] for m in t.members):
                        return _ptr(_from_btf(self.btf, t.id))
        return _ptr(CTX)

    def name(self, name: str) -> _Place | Value:
        if self.env.map_info(name) is not None:
            raise EvalError(f"{name} is a map: index it by a key, like {name}[0]")
        m = re.fullmatch(r"r([0-9]|10)", name)
        if m:
            return _Place(RegLoc(int(m.group(1))), U64)
        if name == "pc":
            return _Place(VarLoc("pc"), U64)
        if self.btf is not None:
            found = _enum_constants(self.btf).get(name)
            if found is not None:
                return _mk(_from_btf(self.btf, found[1]), found[0])
        if name in CONSTANTS:
            return _mk(INT, CONSTANTS[name])
        variables = self.global_vars()
        if name in variables:
            return variables[name]
        close = difflib.get_close_matches(name, list(variables), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise EvalError(
            f"no symbol '{name}': not a register (r0..r10, $r0..$r10), a map, an enum constant"
            f" or a global variable{hint} (convenience variables start with $)"
        )

    def global_vars(self) -> dict[str, _Place]:
        """The C globals of the object: name -> where it lives in its global-data map.

        Found through the maps rather than the sections, because a global exists for the
        program only as a map value (key 0 of a one-entry array) and that is where the
        debugger must read and write it. The first map wins if two sections define a
        name (C forbids it; hand-written BTF might not). Built per lookup: a few maps of a
        few variables each, and the maps of a session can change with ``load``."""
        btf = self.btf
        found: dict[str, _Place] = {}
        if btf is None:
            return found
        for map_name in self.env.map_names():
            info = self.env.map_info(map_name)
            if info is None or not info.value_btf:
                continue
            try:
                sec = btf.type(info.value_btf)
            except KeyError:
                continue
            if sec.kind is not BtfKind.DATASEC:
                continue
            key = bytes(info.key_size)  # key 0: the one entry of the section's array
            for s in sec.secinfos:
                try:
                    var = btf.type(s.type)
                    if var.kind is not BtfKind.VAR or not var.name or var.name in found:
                        continue
                    t = _from_btf(btf, var.type)
                except (KeyError, EvalError):
                    continue  # a damaged record hides one variable, not the whole lookup
                if t.size == 0 or s.offset + t.size > info.value_size:
                    continue  # no layout, or a DATASEC that does not match its map: not readable
                found[var.name] = _Place(MapLoc(info.name, key, s.offset, t.size), t)
        return found

    # -- loading and storing ----------------------------------------------------------------------

    def load(self, p: _Place) -> Value:
        loc, t = p.loc, p.type
        if isinstance(loc, RegLoc):
            return _mk(t, self.env.register(loc.n), loc)
        if isinstance(loc, VarLoc):
            v = self.env.variable(loc.name)
            if v is None:
                raise EvalError(self.unset_message(loc.name))
            return _mk(t, v, loc)
        if isinstance(loc, MemLoc):
            data = self.env.read_memory(loc.addr, loc.size)
            if len(data) != loc.size:
                raise EvalError(f"read of {loc.size} bytes at {loc.addr:#x} returned {len(data)}")
        else:
            whole = self.map_value(loc.map, loc.key)
            data = whole[loc.offset : loc.offset + loc.size]
        if loc.bit_size:
            bits = (int.from_bytes(data, "little") >> loc.bit_offset) & ((1 << loc.bit_size) - 1)
            if t.signed and bits >> (loc.bit_size - 1):
                bits -= 1 << loc.bit_size
            return Value("int", t, number=bits, lvalue=loc)
        return self.decode(t, data, loc)

    def unset_message(self, name: str) -> str:
        if name in _BUILTIN_VARS:
            return f"${name} is not available at this point (no run, or no such thing for this program)"
        builtins = " ".join("$" + v for v in _BUILTIN_VARS)
        return f"${name} is not set (set one with: set var ${name} = 1; builtin: {builtins})"

    def decode(self, t: CType, data: bytes, loc: Lvalue | None) -> Value:
        if t.kind in ("int", "enum"):
            return Value(
                "int", t, number=int.from_bytes(data[: t.size], "little", signed=t.signed), lvalue=loc
            )
        if t.kind == "ptr":
            return Value("ptr", t, number=int.from_bytes(data[:8], "little"), lvalue=loc)
        if t.kind in _DATA_KINDS:
            return Value(t.kind, t, data=bytes(data[: t.size]), lvalue=loc)
        raise EvalError(f"cannot read a value of type {t.name}")

    def map_value(self, name: str, key: bytes) -> bytes:
        data = self.env.map_read(name, key)
        if data is None:
            raise EvalError(f"{name} has no key {_key_text(key)}")
        return data

    def store(self, p: _Place, v: Value) -> None:
        loc, t = p.loc, p.type
        if isinstance(loc, RegLoc):
            self.env.set_register(loc.n, self.scalar_in(v, t) & MASK64)
        elif isinstance(loc, VarLoc):
            if not v.type.scalar and v.kind != "array":
                raise EvalError(f"${loc.name} can hold a number, not a {v.type.name}")
            self.env.set_variable(loc.name, self.scalar_in(v, t) & MASK64)
        elif loc.bit_size:
            n = self.scalar_in(v, t) & ((1 << loc.bit_size) - 1)
            old = int.from_bytes(self.load(_Place(_whole(loc), _bytes_type(loc.size))).data, "little")
            mask = ((1 << loc.bit_size) - 1) << loc.bit_offset
            new = (old & ~mask) | (n << loc.bit_offset)
            self.store_bytes(_whole(loc), new.to_bytes(loc.size, "little"))
        else:
            self.store_bytes(loc, self.encode_value(v, t))

    def store_bytes(self, loc: Lvalue, data: bytes) -> None:
        if isinstance(loc, MemLoc):
            self.env.write_memory(loc.addr, data)
        elif isinstance(loc, MapLoc):
            whole = bytearray(self.map_value(loc.map, loc.key))
            whole[loc.offset : loc.offset + len(data)] = data
            self.env.map_write(loc.map, loc.key, bytes(whole))
        else:
            raise EvalError("a register or convenience variable holds a number, not bytes")

    # -- conversions ------------------------------------------------------------------------------

    def scalar(self, v: Value) -> tuple[int, CType]:
        """The number and type of a value used in arithmetic (arrays in memory decay to
        their address, as in C)."""
        if v.kind in ("int", "ptr"):
            return v.number, v.type
        if v.kind == "array" and isinstance(v.lvalue, MemLoc) and v.type.target is not None:
            return v.lvalue.addr, _ptr(v.type.target)
        if v.kind == "bytes":
            size = v.type.size
            cast = f"(u{8 * size})" if size in (1, 2, 4, 8) else "(struct T)"
            raise EvalError(
                f'a byte string ({v.type.name}) is not a number: compare it with x"..." or cast it,'
                f" like {cast}EXPR"
            )
        if v.kind == "float":
            raise EvalError("floating-point values are not supported in expressions")
        raise EvalError(f"{v.type.name} is not a number: pick a field or an element")

    def truth(self, v: Value) -> bool:
        return self.scalar(v)[0] != 0

    def scalar_in(self, v: Value, t: CType) -> int:
        """``v`` converted to scalar type ``t`` (a raw byte value of the same size is
        reinterpreted, so ``*(u32 *)$r2 = x"01020304"`` stores those bytes)."""
        if v.kind in ("struct", "bytes") or (v.kind == "array" and not isinstance(v.lvalue, MemLoc)):
            if len(v.data) != t.size:
                raise EvalError(
                    f"cannot convert {v.type.name} ({len(v.data)} bytes) to {t.name} ({t.size} bytes)"
                )
            n = int.from_bytes(v.data, "little")
        else:
            n, _ = self.scalar(v)
        if t.boolean:
            return int(n != 0)
        return _wrap(n, t.size, t.signed) if t.kind != "ptr" else n & MASK64

    def cast(self, v: Value, t: CType) -> Value:
        if t.kind == "void":
            raise EvalError("cannot cast to void")
        if t.scalar:
            return _mk(t, self.scalar_in(v, t))
        if t.kind in ("struct", "array", "bytes"):
            if t.size == 0:
                raise EvalError(f"{t.name} is incomplete: the BTF has no layout for it")
            if v.kind in _DATA_KINDS and len(v.data) == t.size:
                return self.decode(t, v.data, None)
            raise EvalError(
                f"cannot cast {v.type.name} to {t.name}: only bytes of the same size ({t.size}) can be"
                " reinterpreted; use a pointer cast: *(T *)ADDR"
            )
        raise EvalError(f"cannot cast to {t.name}")

    def encode_value(self, v: Value, t: CType) -> bytes:
        """The bytes that assigning ``v`` to an object of type ``t`` stores."""
        if t.scalar:
            return (self.scalar_in(v, t) & ((1 << (8 * t.size)) - 1)).to_bytes(t.size, "little")
        if v.kind in _DATA_KINDS and len(v.data) == t.size:
            return v.data
        if (
            v.kind == "bytes" and v.lvalue is None and len(v.data) < t.size
            and t.kind == "array" and t.target is not None and t.target.size == 1
        ):  # fmt: skip
            return v.data + bytes(t.size - len(v.data))  # a string into a char array
        if v.kind in _DATA_KINDS:
            raise EvalError(f"cannot assign {len(v.data)} bytes ({v.type.name}) to {t.name} ({t.size} bytes)")
        raise EvalError(f'cannot assign a number to {t.name}: write {{...}} or x"..." of {t.size} bytes')

    def encode_init(self, t: CType, node: Expr) -> bytes:
        """Bytes of an object of type ``t`` initialised by ``node`` (a {...} list or an
        expression): C's rules, without brace elision; missing members are zero."""
        if not isinstance(node, BraceList):
            return self.encode_value(self.eval(node), t)
        if t.size == 0:
            raise EvalError(f"{t.name} has no size: cannot build one from {{...}}")
        out = bytearray(t.size)
        if t.kind == "struct":
            fields = [f for f in _fields(t) if f.name or f.type.kind == "struct"]
            pos = 0
            for designator, item in node.items:
                if designator is not None:
                    f = _find_field(t, designator)
                    if f is None:
                        raise EvalError(_no_field(t, designator))
                    pos = next((i + 1 for i, g in enumerate(fields) if g.name == designator), len(fields))
                else:
                    if pos >= len(fields):
                        raise EvalError(f"too many initializers for {t.name} ({len(fields)} members)")
                    f = fields[pos]
                    pos += 1
                _put_field(out, f, self.encode_init(f.type, item) if not f.bit_size else b"", self, item)
            return bytes(out)
        if t.kind == "array" and t.target is not None:
            elem = t.target
            if len(node.items) > t.count:
                raise EvalError(f"too many initializers for {t.name} ({t.count} elements)")
            for i, (designator, item) in enumerate(node.items):
                if designator is not None:
                    raise EvalError(f".{designator} = ...: {t.name} is an array, not a struct")
                out[i * elem.size : (i + 1) * elem.size] = self.encode_init(elem, item)
            return bytes(out)
        if t.scalar and len(node.items) == 1 and node.items[0][0] is None:
            return self.encode_init(t, node.items[0][1])
        raise EvalError(f"cannot initialise {t.name} from a {{...}} list")

    # -- types ----------------------------------------------------------------------------------

    def resolve_type(self, tn: TypeName) -> CType:
        t = self.base_type(tn)
        for _ in range(tn.pointers):
            t = _ptr(t)
        return t

    def base_type(self, tn: TypeName) -> CType:
        tn = TypeName(tn.base, tn.name)  # messages name the type that is missing, not its pointer
        if tn.base == "builtin":
            return _builtin(tn.name)
        if tn.base == "void":
            return VOID
        btf = self.btf
        if btf is None:
            raise EvalError(
                f"unknown type '{tn}': this object has no BTF, so only builtin types"
                " (u8..u64, s8..s64, __u32, __be16, int, long, ...) are known"
            )
        if tn.base == "struct":
            found = btf.find(tn.name, BtfKind.STRUCT) or _fwd(btf, tn.name, union=False)
        elif tn.base == "union":
            found = btf.find(tn.name, BtfKind.UNION) or _fwd(btf, tn.name, union=True)
        elif tn.base == "enum":
            found = btf.find(tn.name, BtfKind.ENUM) or btf.find(tn.name, BtfKind.ENUM64)
        else:
            found = btf.find(tn.name, BtfKind.TYPEDEF) or next(
                (t for t in btf if t.name == tn.name and t.kind in (BtfKind.INT, BtfKind.FLOAT)), None
            )
        if found is None:
            raise EvalError(f"unknown type '{tn}'{_suggest(btf, tn)}")
        return _from_btf(btf, found.id)

    def names_type(self, name: str) -> bool:
        """Whether ``sizeof(name)`` means a type: the BTF also names variables (VAR) and
        functions, and ``sizeof(pkts_seen)`` is the size of the global, not an error."""
        if self.btf is None:
            return False
        return any(self.btf.find(name, kind) is not None for kind in _TYPE_KINDS)

    def sizeof(self, node: SizeOf) -> int:
        if node.type is not None:
            if node.operand is None or self.names_type(node.type.name):
                return self.resolve_type(node.type).size
        assert node.operand is not None
        got = self.access(node.operand)
        return got.type.size

    # -- operators --------------------------------------------------------------------------------

    def unary(self, op: str, operand: Expr) -> Value:
        if op == "&":
            got = self.access(operand)
            if not isinstance(got, _Place):
                raise EvalError("cannot take the address of a value that is not in memory")
            if isinstance(got.loc, MemLoc) and not got.loc.bit_size:
                return _mk(_ptr(got.type if got.type.kind != "bytes" else U8), got.loc.addr)
            if isinstance(got.loc, MapLoc):
                raise EvalError(f"the values of {got.loc.map} live in the map, not in addressable memory")
            if isinstance(got.loc, MemLoc):
                raise EvalError("cannot take the address of a bitfield")
            raise EvalError("a register or convenience variable has no address")
        v = self.eval(operand)
        if op == "!":
            return _mk(INT, int(not self.truth(v)))
        n, t = self.scalar(v)
        t = _arith_type(t)
        if op == "-":
            return _mk(t, -n)
        if op == "~":
            return _mk(t, ~n)
        return _mk(t, n)  # unary +

    def binary(self, op: str, a: Value, b: Value) -> Value:
        if op in ("==", "!=") and a.kind in _DATA_KINDS and b.kind in _DATA_KINDS:
            return _mk(INT, int((a.data == b.data) == (op == "==")))
        x, ta = self.scalar(a)
        y, tb = self.scalar(b)
        if op in ("+", "-") and (ta.kind == "ptr" or tb.kind == "ptr"):
            return self.pointer_arith(op, x, ta, y, tb)
        pa, pb = _arith_type(ta), _arith_type(tb)
        if op in ("<<", ">>"):
            bits = pa.size * 8
            count = (y & MASK64) & (bits - 1)
            x = _wrap(x, pa.size, pa.signed)
            return _mk(pa, x << count if op == "<<" else x >> count)
        ct = _common(pa, pb)
        x, y = _wrap(x, ct.size, ct.signed), _wrap(y, ct.size, ct.signed)
        if op in _CMP:
            result = {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
            return _mk(INT, int(result))
        if op in ("/", "%"):
            if y == 0:
                raise EvalError("division by zero")
            q, r = _c_div(x, y)
            return _mk(ct, q if op == "/" else r)
        ops: dict[str, Callable[[int, int], int]] = {
            "+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q,
            "&": lambda p, q: p & q, "|": lambda p, q: p | q, "^": lambda p, q: p ^ q,
        }  # fmt: skip
        if op not in ops:
            raise EvalError(f"unknown operator {op}")  # pragma: no cover
        return _mk(ct, ops[op](x, y))

    def pointer_arith(self, op: str, x: int, ta: CType, y: int, tb: CType) -> Value:
        if ta.kind == "ptr" and tb.kind == "ptr":
            if op == "+":
                return _mk(ULONG, x + y)
            scale = _scale(ta)
            return _mk(LONG, _c_div(_wrap(x - y, 8, True), scale)[0])
        if ta.kind == "ptr":
            return _mk(ta, x + y * _scale(ta) if op == "+" else x - y * _scale(ta))
        if op == "-":
            raise EvalError(f"cannot subtract a pointer ({tb.name}) from a number")
        return _mk(tb, y + x * _scale(tb))

    def deref(self, v: Value) -> _Place:
        if v.kind != "ptr" or v.type.target is None:
            what = v.type.name
            raise EvalError(
                f"cannot dereference a {what}: it is not a pointer; cast it first, like *(u64 *)EXPR"
            )
        target = v.type.target
        if target.kind in ("void", "func", "ctx"):
            raise EvalError(
                f"cannot dereference a {v.type.name}: cast it to a typed pointer, like *(u32 *)EXPR"
            )
        if target.size == 0:
            raise EvalError(f"{target.name} is incomplete: the BTF has no layout for it")
        return _Place(MemLoc(v.number & MASK64, target.size), target)

    # -- postfix ----------------------------------------------------------------------------------

    def index(self, node: Index) -> _Place | Value:
        if isinstance(node.base, Name):
            info = self.env.map_info(node.base.name)
            if info is not None:
                return self.map_place(info, node.index)
        base = self.access(node.base)
        i = self.scalar(self.eval(node.index))[0]
        i = _wrap(i, 8, True)
        btype = base.type
        if btype.kind in ("array", "bytes"):
            elem = btype.target if btype.kind == "array" and btype.target is not None else U8
            count = btype.count if btype.kind == "array" else btype.size
            off = i * elem.size
            if isinstance(base, _Place):
                if isinstance(base.loc, MemLoc) and not 0 <= i < count:
                    return _Place(MemLoc((base.loc.addr + off) & MASK64, elem.size), elem)  # C: no check
                _check_range(i, count, btype)
                return _Place(_sub(base.loc, off, elem.size), elem)
            _check_range(i, count, btype)
            return self.decode(elem, base.data[off : off + elem.size], None)
        v = self.load(base) if isinstance(base, _Place) else base
        if v.kind == "ptr":
            return self.deref(_mk(v.type, v.number + i * _scale(v.type)))
        raise EvalError(f"cannot index a {v.type.name}: cast it to a pointer, like ((u8 *)EXPR)[i]")

    def map_place(self, info: MapInfo, key_node: Expr) -> _Place:
        key = self.map_key(info, key_node)
        t = _bytes_type(info.value_size)
        if info.value_btf and self.btf is not None:
            vt = _from_btf(self.btf, info.value_btf)
            if vt.size == info.value_size:
                t = vt
        return _Place(MapLoc(info.name, key, 0, info.value_size), t)

    def map_key(self, info: MapInfo, node: Expr) -> bytes:
        size = info.key_size
        key_type = _from_btf(self.btf, info.key_btf) if info.key_btf and self.btf is not None else None
        if isinstance(node, BraceList):
            if key_type is None:
                raise EvalError(
                    f'{info.name} has no BTF type for its key: write the key as x"..." ({size} bytes)'
                )
            return self.encode_init(key_type, node)
        v = self.eval(node)
        if v.kind in _DATA_KINDS:
            if len(v.data) == size:
                return v.data
            if v.kind == "bytes" and isinstance(node, Str) and not node.hex and len(v.data) < size:
                return v.data + bytes(size - len(v.data))
            raise EvalError(f"{info.name} has {size}-byte keys; {v.type.name} is {len(v.data)} bytes")
        n, t = self.scalar(v)
        if size > 8:
            raise EvalError(
                f'{info.name} has {size}-byte keys: write one as x"..." or {{...}}, not as a number'
            )
        if not -(1 << (8 * size - 1)) <= n < 1 << (8 * size):
            raise EvalError(f"key {n} does not fit the {size}-byte keys of {info.name}")
        return (n & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def slice(self, node: Slice) -> _Place | Value:
        base = self.access(node.base)
        start = self.offset(node.start, 0)
        if base.type.kind in ("array", "bytes", "struct") and not (
            isinstance(base, _Place) and isinstance(base.loc, (RegLoc, VarLoc))
        ):
            size = base.type.size
            end = self.offset(node.end, size)
            if not 0 <= start <= end <= size:
                raise EvalError(f"slice [{start}:{end}] is outside {base.type.name} ({size} bytes)")
            if isinstance(base, _Place):
                return _Place(_sub(base.loc, start, end - start), _bytes_type(end - start))
            return Value("bytes", _bytes_type(end - start), data=base.data[start:end])
        v = self.load(base) if isinstance(base, _Place) else base
        addr = self.scalar(v)[0] & MASK64
        if node.end is None:
            end = self.packet_end(addr) - addr
        else:
            end = self.offset(node.end, 0)
        if end < start:
            raise EvalError(f"slice end {end} is before its start {start}")
        if end - start > MAX_SLICE:
            raise EvalError(f"a slice of {end - start} bytes is too long (at most {MAX_SLICE})")
        return _Place(MemLoc((addr + start) & MASK64, end - start), _bytes_type(end - start))

    def offset(self, node: Expr | None, default: int) -> int:
        if node is None:
            return default
        return _wrap(self.scalar(self.eval(node))[0], 8, True)

    def packet_end(self, addr: int) -> int:
        """``ADDR[a:]`` ends at ``$pkt_end`` when ADDR is in the packet (or its metadata)."""
        end = self.env.variable("pkt_end")
        first = self.env.variable("pkt_meta") or self.env.variable("pkt")
        if end is None or first is None or not first <= addr <= end:
            raise EvalError("give the end of the slice, like X[a:b]: only packet slices end at $pkt_end")
        return end

    def member(self, node: Member) -> _Place | Value:
        base = self.access(node.base)
        btype = base.type
        if btype.kind == "ptr":  # ptr->f, and ptr.f as gdb allows
            v = self.load(base) if isinstance(base, _Place) else base
            target = btype.target
            assert target is not None
            if target.kind == "ctx" or (target.kind == "struct" and target.name.split()[-1] in _CTX_STRUCTS):
                found = self.ctx_member(v.number, target, node.name)
                if found is not None:
                    return found
            if target.kind != "struct":
                raise EvalError(
                    f"{btype.name} does not point to a struct: cast it, like ((struct T *)EXPR)->{node.name}"
                )
            f = _find_field(target, node.name)
            if f is None:
                raise EvalError(_no_field(target, node.name))
            return _Place(_field_loc(MemLoc(v.number & MASK64, target.size), f), f.type)
        if btype.kind != "struct":
            arrow = "->" if node.arrow else "."
            raise EvalError(
                f"{btype.name} is not a struct: cannot use {arrow}{node.name}"
                + ("; cast it, like ((struct T *)EXPR)->field" if btype.kind == "int" else "")
            )
        f = _find_field(btype, node.name)
        if f is None:
            raise EvalError(_no_field(btype, node.name))
        if isinstance(base, _Place):
            return _Place(_field_loc(base.loc, f), f.type)
        return _field_value(base, f, self)

    def ctx_member(self, addr: int, target: CType, name: str) -> _Place | Value | None:
        """``$ctx->field`` with the kernel's meaning: pointer fields load the packet pointers;
        others go through the BTF struct when there is one, else ``env.ctx_field``."""
        ctx = self.env.variable("ctx")
        if ctx is None or ctx != addr:
            return None
        if name in _CTX_POINTERS and self.env.ctx_field(name) is not None:
            value = self.env.variable(_CTX_POINTERS[name])
            if value is not None:
                return _mk(U8P, value)
        if target.kind == "struct" and _find_field(target, name) is not None:
            return None  # the BTF answers
        where = self.env.ctx_field(name)
        if where is None:
            if target.kind == "struct":
                raise EvalError(_no_field(target, name))
            raise EvalError(
                f"the context has no field '{name}'; its fields: {', '.join(self.env.ctx_fields())}"
            )
        off, size = where
        t = _builtin(f"u{size * 8}") if size in (1, 2, 4, 8) else _bytes_type(size)
        return _Place(MemLoc((addr + off) & MASK64, size), t)

    # -- assignment ------------------------------------------------------------------------------

    def assign(self, node: Assign) -> Value:
        got = self.access(node.target)
        if not isinstance(got, _Place):
            raise EvalError(
                "the left side of an assignment must be a register, variable, memory or map value"
            )
        if isinstance(node.value, BraceList):
            if node.op != "=":
                raise EvalError(f"{node.op} needs a number on its right, not a {{...}} list")
            self.store_bytes(got.loc, self.encode_init(got.type, node.value))
        else:
            value = self.eval(node.value)
            if node.op != "=":
                value = self.binary(node.op[:-1], self.load(got), value)
            self.store(got, value)
        return self.load(got)


def _mk(t: CType, n: int, loc: Lvalue | None = None) -> Value:
    """A scalar value of type ``t`` (``n`` wrapped into the type)."""
    if t.kind == "ptr":
        return Value("ptr", t, number=n & MASK64, lvalue=loc)
    return Value(_kind_of(t), t, number=_wrap(n, t.size, t.signed), lvalue=loc)


def _scale(t: CType) -> int:
    target = t.target
    return target.size if target is not None and target.size > 0 else 1


def _sub(loc: Lvalue, offset: int, size: int) -> Lvalue:
    if isinstance(loc, MemLoc):
        return MemLoc((loc.addr + offset) & MASK64, size)
    if isinstance(loc, MapLoc):
        return MapLoc(loc.map, loc.key, loc.offset + offset, size)
    raise EvalError("a register holds a number, not bytes")  # pragma: no cover


def _whole(loc: MemLoc | MapLoc) -> MemLoc | MapLoc:
    if isinstance(loc, MemLoc):
        return MemLoc(loc.addr, loc.size)
    return MapLoc(loc.map, loc.key, loc.offset, loc.size)


def _field_loc(loc: Lvalue, f: _Field) -> Lvalue:
    byte = f.bit_offset // 8
    if not f.bit_size:
        return _sub(loc, byte, f.type.size)
    bit = f.bit_offset % 8
    nbytes = (bit + f.bit_size + 7) // 8
    if isinstance(loc, MemLoc):
        return MemLoc((loc.addr + byte) & MASK64, nbytes, bit, f.bit_size)
    if isinstance(loc, MapLoc):
        return MapLoc(loc.map, loc.key, loc.offset + byte, nbytes, bit, f.bit_size)
    raise EvalError("a register holds a number, not a struct")  # pragma: no cover


def _field_value(v: Value, f: _Field, ev: _Evaluator) -> Value:
    byte = f.bit_offset // 8
    if f.bit_size:
        bit = f.bit_offset % 8
        nbytes = (bit + f.bit_size + 7) // 8
        bits = (int.from_bytes(v.data[byte : byte + nbytes], "little") >> bit) & ((1 << f.bit_size) - 1)
        if f.type.signed and bits >> (f.bit_size - 1):
            bits -= 1 << f.bit_size
        return Value("int", f.type, number=bits)
    return ev.decode(f.type, v.data[byte : byte + f.type.size], None)


def _put_field(out: bytearray, f: _Field, data: bytes, ev: _Evaluator, item: Expr) -> None:
    byte = f.bit_offset // 8
    if not f.bit_size:
        out[byte : byte + len(data)] = data
        return
    n = ev.scalar_in(ev.eval(item), f.type) & ((1 << f.bit_size) - 1)
    bit = f.bit_offset % 8
    nbytes = (bit + f.bit_size + 7) // 8
    word = int.from_bytes(out[byte : byte + nbytes], "little")
    word = (word & ~(((1 << f.bit_size) - 1) << bit)) | (n << bit)
    out[byte : byte + nbytes] = word.to_bytes(nbytes, "little")


def _check_range(i: int, count: int, t: CType) -> None:
    if not 0 <= i < count:
        raise EvalError(f"index {i} is out of range for {t.name} (0..{count - 1})")


def _no_field(t: CType, name: str) -> str:
    names = _field_names(t)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{t.name} has no field '{name}'{hint}; its fields: {', '.join(names) or '(none)'}"


def _fwd(btf: Btf, name: str, union: bool) -> BtfType | None:
    return next((t for t in btf if t.kind is BtfKind.FWD and t.name == name and t.kind_flag == union), None)


def _suggest(btf: Btf, tn: TypeName) -> str:
    """A hint for an unknown type name: the struct it probably meant, or close spellings."""
    words = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union", BtfKind.ENUM: "enum", BtfKind.ENUM64: "enum"}
    spelled: dict[str, str] = {}
    for t in btf:
        if t.name and (t.kind in words or t.kind is BtfKind.TYPEDEF):
            spelled.setdefault(t.name, f"{words[t.kind]} {t.name}" if t.kind in words else t.name)
    if tn.base == "typedef" and tn.name in spelled:
        return f" (write '{spelled[tn.name]}')"
    close = difflib.get_close_matches(tn.name, list(spelled), n=3)
    if close:
        return f" (did you mean {', '.join(spelled[c] for c in close)}?)"
    return " in this object's BTF"


def _key_text(key: bytes) -> str:
    text = f'x"{_hex_bytes(key)}"'
    if len(key) <= 8:
        return f"{int.from_bytes(key, 'little')} ({text})"
    return text


# ---------------------------------------------------------------------------------------------
# formatting

_FORMATS = frozenset("xdutocazs")
REPEAT_THRESHOLD = 10  # gdb's default `set print repeats`


class _Formatter:
    def __init__(self, fmt: str | None, btf: Btf | None) -> None:
        self.fmt = fmt
        self.btf = btf

    def value(self, v: Value) -> str:
        if v.kind == "ptr" and self.fmt is None:
            return f"({v.type.name}) {v.number & MASK64:#x}"
        if v.kind in ("int", "ptr"):
            return self.number(v.type, v.number)
        return self.data(v.type, v.data)

    def number(self, t: CType, n: int) -> str:
        size = t.size or 8
        unsigned = n & ((1 << (8 * size)) - 1)
        fmt = self.fmt
        if fmt in ("x", "a"):
            return f"{unsigned:#x}"
        if fmt == "z":
            return f"0x{unsigned:0{2 * size}x}"
        if fmt == "o":
            return f"0{unsigned:o}" if unsigned else "0"
        if fmt == "t":
            return f"{unsigned:b}"
        if fmt == "d":
            return str(_wrap(n, size, True))
        if fmt == "u":
            return str(unsigned)
        if fmt == "c":
            return f"{_wrap(n, 1, True)} {_char_literal(unsigned & 0xFF)}"
        if t.kind == "ptr":
            return f"{unsigned:#x}"
        if t.boolean and n in (0, 1):
            return "true" if n else "false"
        if t.kind == "enum":
            btf = t.btf or self.btf
            if btf is not None:
                for e in btf.type(t.btf_id).enumerators:
                    if e.value in (n, unsigned):
                        return e.name
        if t.char:
            return f"{n} {_char_literal(unsigned & 0xFF)}"
        return str(n)

    def data(self, t: CType, data: bytes) -> str:
        if t.kind in ("int", "enum"):
            return self.number(t, int.from_bytes(data[: t.size], "little", signed=t.signed))
        if t.kind == "ptr":
            return self.number(t, int.from_bytes(data[:8], "little"))
        if t.kind == "bytes":
            if self.fmt in (None, "x", "z"):
                return " ".join(f"{b:02x}" for b in data) if data else "{}"
            if self.fmt == "s":
                return _c_string(data)
            return self.items([self.number(U8, b) for b in data])
        if t.kind == "float":
            return self.float(t, data)
        if t.kind == "array" and t.target is not None:
            elem = t.target
            if elem.char and elem.size == 1 and self.fmt in (None, "s"):
                nul = data.find(0)
                if nul >= 0 and not any(data[nul:]):
                    data = data[:nul]
                return _c_string(data)
            size = elem.size
            return self.items([self.data(elem, data[i * size : (i + 1) * size]) for i in range(t.count)])
        if t.kind == "struct":
            return self.struct(t, data)
        return "?"

    def struct(self, t: CType, data: bytes) -> str:
        if t.btf is None and self.btf is not None and t.btf_id:
            t = _from_btf(self.btf, t.btf_id)
        if t.size == 0:
            return "<incomplete type>"
        fields = _fields(t)
        if not fields and t.btf is None:
            return " ".join(f"{b:02x}" for b in data)
        parts = []
        for f in fields:
            byte = f.bit_offset // 8
            if f.bit_size:
                bit = f.bit_offset % 8
                nbytes = (bit + f.bit_size + 7) // 8
                n = (int.from_bytes(data[byte : byte + nbytes], "little") >> bit) & ((1 << f.bit_size) - 1)
                if f.type.signed and n >> (f.bit_size - 1):
                    n -= 1 << f.bit_size
                text = self.number(f.type, n)
            else:
                text = self.data(f.type, data[byte : byte + f.type.size])
            parts.append(f"{f.name} = {text}" if f.name else text)
        return "{" + ", ".join(parts) + "}"

    def float(self, t: CType, data: bytes) -> str:
        codes = {2: "<e", 4: "<f", 8: "<d"}
        if self.fmt is not None or t.size not in codes:
            return self.number(_builtin(f"u{t.size * 8}") if t.size in (1, 2, 4, 8) else U64,
                               int.from_bytes(data, "little"))  # fmt: skip
        return repr(struct.unpack(codes[t.size], data[: t.size])[0])

    @staticmethod
    def items(texts: list[str]) -> str:
        """``{a, b, 0 <repeats 12 times>}``: runs of equal elements collapse as in gdb."""
        out: list[str] = []
        i = 0
        while i < len(texts):
            j = i
            while j < len(texts) and texts[j] == texts[i]:
                j += 1
            if j - i >= REPEAT_THRESHOLD:
                out.append(f"{texts[i]} <repeats {j - i} times>")
            else:
                out.extend(texts[i:j])
            i = j
        return "{" + ", ".join(out) + "}"


# ---------------------------------------------------------------------------------------------
# public API


_T = TypeVar("_T")


def _run(what: Callable[[], _T]) -> _T:
    try:
        return what()
    except RecursionError:
        raise EvalError("expression is nested too deeply") from None
    except BtfError as e:
        raise EvalError(f"BTF: {e}") from None


def evaluate(text_or_expr: str | Expr, env: EvalEnv) -> Value:
    """The value of an expression; a top-level assignment is performed (``print $r1 = 5``)."""
    node = parse(text_or_expr) if isinstance(text_or_expr, str) else text_or_expr
    return _run(lambda: _Evaluator(env).eval(node))


def assign(text: str, env: EvalEnv) -> Value:
    """Perform ``LVALUE = EXPR`` (or a compound assignment) and return the stored value, read
    back from the machine (so a write the machine truncated shows as truncated)."""
    node = parse(text)
    if not isinstance(node, Assign):
        raise EvalError(
            f"expected an assignment, like $r1 = 5 or *(u32 *)($fp - 8) = 0; got '{text.strip()}'"
        )
    return _run(lambda: _Evaluator(env).assign(node))


def as_int(value: Value) -> int:
    """The value as a u64 bit pattern: for truth tests and addresses (``x/4xb EXPR``). An
    array in memory is its address, as in C; structs and byte strings are errors."""
    if value.kind in ("int", "ptr"):
        return value.number & MASK64
    if value.kind == "array" and isinstance(value.lvalue, MemLoc):
        return value.lvalue.addr
    raise EvalError(f"{value.type.name} is not a number or an address: pick a field, or cast it")


def format_value(value: Value, fmt: str | None = None, env_btf: Btf | None = None) -> str:
    """``value`` as gdb's ``print[/FMT]`` shows it.

    Natural format (``fmt=None``): integers in decimal (signed types signed), ``char`` as
    ``97 'a'``, booleans, enumerator names, pointers as ``(u32 *) 0x1000`` (bare hex inside
    structs), structs as ``{proto = 6, pad = 0, dport = 20480}``, arrays as ``{1, 2, 3}``
    with runs of ten or more as ``0 <repeats 16 times>``, char arrays as strings, byte
    strings as hex bytes ``06 00 00 50``. ``x d u t o c a z s`` are gdb's letters, applied
    to every number inside structs and arrays. ``env_btf`` names struct members when the
    value's type does not carry its BTF.
    """
    if fmt is not None and (len(fmt) != 1 or fmt not in _FORMATS):
        raise EvalError(f"undefined output format '{fmt}' (use one of x d u t o c a z s)")
    return _Formatter(fmt, env_btf).value(value)


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "&": "&"}


class _NoEnv:
    """An environment without a machine: evaluates constants, refuses everything else."""

    btf: Btf | None = None

    def _refuse(self, *args: object) -> NoReturn:
        raise EvalError("not a constant")

    register = set_register = variable = set_variable = read_memory = write_memory = _refuse
    ctx_field = map_read = map_write = value_history = _refuse

    def ctx_fields(self) -> list[str]:
        return []

    def map_info(self, name: str) -> MapInfo | None:
        return None

    def map_names(self) -> list[str]:
        return []


def _guard_reg(node: Expr) -> int | None:
    if isinstance(node, Reg):
        return node.n
    if isinstance(node, Name):
        m = re.fullmatch(r"r([0-9]|10)", node.name)
        if m:
            return int(m.group(1))
    return None


def _constant(node: Expr) -> int | None:
    try:
        v = _Evaluator(_NoEnv()).eval(node)  # type: ignore[arg-type]
    except (EvalError, RecursionError):
        return None
    return v.number & MASK64 if v.kind == "int" else None


def guard_of(text: str) -> tuple[int, str, int] | None:
    """``(N, op, const)`` when the condition is exactly ``$rN OP CONST`` (or ``CONST OP $rN``,
    flipped), OP one of ``== != < <= > >=`` compared unsigned or ``&`` (true when non-zero),
    CONST a constant expression; a backend can then test it natively. Else None.

    The comparison is unsigned because registers are u64 and C converts the constant to
    u64: ``$r1 < -1`` is ``r1 < 0xffffffffffffffff`` here as in the full evaluator."""
    try:
        node = parse(text)
    except EvalError:
        return None
    if not isinstance(node, Binary) or node.op not in _FLIP:
        return None
    left, right = _guard_reg(node.left), _guard_reg(node.right)
    if left is not None and right is None:
        const = _constant(node.right)
        return None if const is None else (left, node.op, const)
    if right is not None and left is None:
        const = _constant(node.left)
        return None if const is None else (right, _FLIP[node.op], const)
    return None


def lvalue_of(text: str, env: EvalEnv) -> Lvalue | None:
    """Where the expression lives, for ``watch``: a register, a variable, a memory range or a
    part of a map value; None when it is a computed value (watch it by re-evaluating).

    Nothing is read, so a map key that does not exist yet can be watched until it appears."""
    node = parse(text)
    if isinstance(node, Assign):
        raise EvalError("watch an expression, not an assignment")

    def locate() -> Lvalue | None:
        got = _Evaluator(env).place(node)
        return got.loc if got is not None else None

    return _run(locate)
