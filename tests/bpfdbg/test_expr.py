"""The expression language against a fake machine: every operator, C's conversions on a
64-bit target, casts through builtin and BTF types, slices, ctx fields, maps, the value
history, assignment, the print formats, and one clear EvalError for each user mistake.

The fake environment is deliberately small and explicit (a stack, a packet, a ctx, three
maps and a .bss of globals) so that each expectation can be checked by hand; a hypothesis property holds the
integer arithmetic to Python's modulo-2**64 results, and one test runs against the BTF of
a real sample object.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfdbg.expr import (
    BUILTIN_TYPES,
    Assign,
    EvalError,
    MapInfo,
    MapLoc,
    MemLoc,
    RegLoc,
    Value,
    VarLoc,
    as_int,
    assign,
    evaluate,
    format_value,
    guard_of,
    lvalue_of,
    parse,
)
from emulator.elf.btf import (
    INT_BOOL,
    INT_SIGNED,
    Btf,
    BtfEnumerator,
    BtfKind,
    BtfMember,
    BtfType,
    BtfVarSecinfo,
)

MASK = (1 << 64) - 1
ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# a tiny BTF, written out record by record


def _make_btf() -> Btf:
    types: list[BtfType] = [BtfType(0, BtfKind.UNKN, "void")]

    def add(kind: BtfKind, name: str = "", **kw: object) -> int:
        types.append(BtfType(len(types), kind, name, **kw))  # type: ignore[arg-type]
        return len(types) - 1

    def member(name: str, type_id: int, bit: int, bits: int = 0) -> BtfMember:
        return BtfMember(name, type_id, bit, bits)

    uchar = add(BtfKind.INT, "unsigned char", size=1, int_bits=8)
    u8 = add(BtfKind.TYPEDEF, "__u8", type=uchar)
    ushort = add(BtfKind.INT, "unsigned short", size=2, int_bits=16)
    u16 = add(BtfKind.TYPEDEF, "__u16", type=ushort)
    be16 = add(BtfKind.TYPEDEF, "__be16", type=u16)
    uint = add(BtfKind.INT, "unsigned int", size=4, int_bits=32)
    u32 = add(BtfKind.TYPEDEF, "__u32", type=uint)
    ull = add(BtfKind.INT, "unsigned long long", size=8, int_bits=64)
    u64 = add(BtfKind.TYPEDEF, "__u64", type=ull)
    sint = add(BtfKind.INT, "int", size=4, int_bits=32, int_encoding=INT_SIGNED)
    char = add(BtfKind.INT, "char", size=1, int_bits=8, int_encoding=INT_SIGNED)
    boolean = add(BtfKind.INT, "_Bool", size=1, int_bits=8, int_encoding=INT_BOOL)
    idx = add(BtfKind.INT, "__ARRAY_SIZE_TYPE__", size=4, int_bits=32)
    char6 = add(BtfKind.ARRAY, elem_type=char, index_type=idx, nelems=6)
    u8x4 = add(BtfKind.ARRAY, elem_type=u8, index_type=idx, nelems=4)
    u16x3 = add(BtfKind.ARRAY, elem_type=u16, index_type=idx, nelems=3)
    add(
        BtfKind.STRUCT, "rule_key", size=4,
        members=(member("proto", u8, 0), member("pad", u8, 8), member("dport", be16, 16)),
    )  # fmt: skip
    rule_key = len(types) - 1
    add(BtfKind.TYPEDEF, "rule_key_t", type=rule_key)
    add(BtfKind.STRUCT, "counter", size=16, members=(member("packets", u64, 0), member("bytes", u64, 64)))
    enumerators = tuple(
        BtfEnumerator(n, v)
        for v, n in enumerate(["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"])
    )
    add(BtfKind.ENUM, "xdp_action", size=4, enumerators=enumerators)
    color = add(
        BtfKind.ENUM, "color", size=4,
        enumerators=(BtfEnumerator("RED", 0), BtfEnumerator("GREEN", 1), BtfEnumerator("BLUE", 7)),
    )  # fmt: skip
    add(
        BtfKind.STRUCT, "flags", size=4, kind_flag=True,
        members=(
            member("a", u32, 0, 1), member("b", u32, 1, 3), member("c", sint, 4, 4), member("d", u16, 16),
        ),
    )  # fmt: skip
    anon = add(BtfKind.UNION, "", size=4, members=(member("as_u32", u32, 0), member("as_bytes", u8x4, 0)))
    rich_ptr = len(types) + 1  # the PTR record right after "rich"
    add(
        BtfKind.STRUCT, "rich", size=40,
        members=(
            member("id", u32, 0), member("", anon, 32), member("name", char6, 64),
            member("color", color, 128), member("next", rich_ptr, 192), member("vals", u16x3, 256),
            member("ok", boolean, 304),
        ),
    )  # fmt: skip
    rich = len(types) - 1
    add(BtfKind.PTR, type=rich)
    xdp_fields = ["data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex"]
    add(
        BtfKind.STRUCT,
        "xdp_md",
        size=24,
        members=tuple(member(n, u32, 32 * i) for i, n in enumerate(xdp_fields)),
    )
    add(BtfKind.FWD, "opaque")
    # C globals: a .bss DATASEC as clang writes it once the loader has fixed its layout.
    # "counters" and "RED" clash with a map and an enumerator, which win.
    variables = [("hits", u64, 0, 8), ("last_key", rule_key, 8, 4), ("ports", u16x3, 12, 6),
                 ("counters", u32, 20, 4), ("RED", u32, 24, 4)]  # fmt: skip
    infos = tuple(
        BtfVarSecinfo(add(BtfKind.VAR, name, type=type_id, linkage=1), offset, size)
        for name, type_id, offset, size in variables
    )
    add(BtfKind.DATASEC, ".bss", size=GLOBALS_SIZE, secinfos=infos)
    return Btf(types, b"\0")


GLOBALS_SIZE = 28


BTF = _make_btf()


def _id(name: str) -> int:
    t = BTF.find(name)
    assert t is not None
    return t.id


# ---------------------------------------------------------------------------------------------
# a fake machine

STACK = 0x3_0000_0000  # 512 bytes; r10 = STACK + 512
PKT = 0x2_0000_0100
CTX = 0x1_0000_0000
RICH = 0x4_0000_0000
XDP_FIELDS = {"data": (0, 4), "data_end": (4, 4), "data_meta": (8, 4), "ingress_ifindex": (12, 4),
              "rx_queue_index": (16, 4)}  # fmt: skip


def _packet() -> bytes:
    eth = bytes.fromhex("0200000000020200000000010800")
    ip = bytes.fromhex("4500002e00010000400600000a0000010a000002")
    tcp = bytes.fromhex("30390050") + bytes(16)
    return (eth + ip + tcp + b"payload!!!" + bytes(60))[:60]


def _rich() -> bytes:
    v = bytearray(40)
    struct.pack_into("<I", v, 0, 7)
    v[4:8] = b"abcd"
    v[8:14] = b"eth0\0\0"
    struct.pack_into("<I", v, 16, 7)  # BLUE
    struct.pack_into("<Q", v, 24, RICH)  # points to itself
    struct.pack_into("<3H", v, 32, 1, 2, 3)
    v[38] = 1
    return bytes(v)


def _globals() -> bytes:
    """The .bss value: hits = 41, last_key = {6, 0, 0x5000}, ports = {1, 2, 3}, counters = 9,
    RED = 5."""
    v = bytearray(GLOBALS_SIZE)
    struct.pack_into("<Q", v, 0, 41)
    v[8:12] = bytes([6, 0, 0, 0x50])
    struct.pack_into("<3H", v, 12, 1, 2, 3)
    struct.pack_into("<II", v, 20, 9, 5)
    return bytes(v)


class FakeEnv:
    """Registers, a few memory regions, an xdp ctx, four maps (one of them a .bss of C
    globals) and a value history."""

    def __init__(self, btf: Btf | None = BTF) -> None:
        self.btf = btf
        self.regs = [0] * 11
        self.regs[1] = CTX
        self.regs[2] = STACK + 512 - 16
        self.regs[3] = 0xFFFF_FFFF_FFFF_FFFF
        self.regs[10] = STACK + 512
        self.vars: dict[str, int] = {"pc": 7, "insns": 12, "ctx": CTX, "pkt": PKT, "pkt_end": PKT + 60,
                                     "pkt_meta": PKT}  # fmt: skip
        stack = bytearray(512)
        stack[496:500] = bytes([6, 0, 0, 0x50])  # a rule_key {6, 0, 0x5000} at r2
        struct.pack_into("<I", stack, 504, 0xDEADBEEF)  # fp - 8
        ctx = bytearray(24)
        struct.pack_into("<IIIII", ctx, 0, 0, 60, 0, 3, 0)
        self.regions: dict[str, tuple[int, bytearray, bool]] = {
            "stack": (STACK, stack, True),
            "pkt": (PKT, bytearray(_packet()), True),
            "ctx": (CTX, ctx, False),
            "rich": (RICH, bytearray(_rich()), True),
        }
        self.maps: dict[str, tuple[MapInfo, dict[bytes, bytes]]] = {
            "counters": (
                MapInfo("counters", 4, 16, _id("__u32"), _id("counter")),
                {struct.pack("<I", i): struct.pack("<QQ", i, 100 * i) for i in range(3)},
            ),
            "rules": (
                MapInfo("rules", 4, 4, _id("rule_key"), 0),
                {bytes([6, 0, 0, 0x50]): struct.pack("<I", 1)},
            ),
            "wide": (MapInfo("wide", 12, 8, 0, 0, percpu=True), {bytes(range(12)): bytes(8)}),
            "glob.bss": (MapInfo("glob.bss", 4, GLOBALS_SIZE, 0, _id(".bss")), {bytes(4): _globals()}),
        }
        self.history: list[Value] = []
        self.writes: list[tuple[int, bytes]] = []

    # EvalEnv
    def register(self, n: int) -> int:
        return self.regs[n]

    def set_register(self, n: int, value: int) -> None:
        self.regs[n] = value

    def variable(self, name: str) -> int | None:
        return self.vars.get(name)

    def set_variable(self, name: str, value: int) -> None:
        if name in ("pkt", "pkt_end", "ctx"):
            raise EvalError(f"${name} cannot be changed")
        self.vars[name] = value

    def _region(self, addr: int, size: int, verb: str) -> tuple[bytearray, int, bool]:
        for name, (base, data, writable) in self.regions.items():
            if base <= addr and addr + size <= base + len(data):
                return data, addr - base, writable
            if base <= addr < base + len(data):
                raise EvalError(
                    f"{verb} of {size} bytes at {name}+{addr - base}, {name} is {len(data)} bytes"
                )
        raise EvalError(f"{verb} of {size} bytes at {addr:#x}: no memory there")

    def read_memory(self, addr: int, size: int) -> bytes:
        data, off, _ = self._region(addr, size, "read")
        return bytes(data[off : off + size])

    def write_memory(self, addr: int, data: bytes) -> None:
        region, off, writable = self._region(addr, len(data), "write")
        if not writable:
            raise EvalError(f"write of {len(data)} bytes at {addr:#x}: read-only")
        region[off : off + len(data)] = data
        self.writes.append((addr, data))

    def ctx_field(self, name: str) -> tuple[int, int] | None:
        return XDP_FIELDS.get(name)

    def ctx_fields(self) -> list[str]:
        return list(XDP_FIELDS)

    def map_info(self, name: str) -> MapInfo | None:
        found = self.maps.get(name)
        return found[0] if found else None

    def map_names(self) -> list[str]:
        return list(self.maps)

    def map_read(self, name: str, key: bytes) -> bytes | None:
        return self.maps[name][1].get(key)

    def map_write(self, name: str, key: bytes, value: bytes) -> None:
        info, entries = self.maps[name]
        assert len(value) == info.value_size
        entries[key] = value

    def value_history(self, index: int) -> Value:
        pos = index - 1 if index > 0 else len(self.history) - 1 + index
        if not 0 <= pos < len(self.history):
            raise EvalError(f"history has {len(self.history)} values")
        return self.history[pos]


@pytest.fixture
def env() -> FakeEnv:
    return FakeEnv()


def ev(text: str, env: FakeEnv) -> int:
    """The u64 bit pattern of a scalar expression."""
    return as_int(evaluate(text, env))


def num(text: str, env: FakeEnv) -> int:
    """The mathematical value (signed types negative) of a scalar expression."""
    v = evaluate(text, env)
    assert v.kind in ("int", "ptr"), v
    return v.number


def show(text: str, env: FakeEnv, fmt: str | None = None) -> str:
    return format_value(evaluate(text, env), fmt)


def err(text: str, env: FakeEnv) -> str:
    with pytest.raises(EvalError) as info:
        evaluate(text, env)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# literals


@pytest.mark.parametrize(
    ("text", "value"),
    [("42", 42), ("0x2a", 42), ("0X2A", 42), ("0b101010", 42), ("0o52", 42), ("052", 42), ("0", 0),
     ("'a'", 97), ("'\\n'", 10), ("'\\x41'", 65), ("'\\0'", 0), ("'\\''", 39), ("18446744073709551615", MASK),
     ("42u", 42), ("42UL", 42), ("-1", -1), ("- 5", -5), ("+7", 7)],
)  # fmt: skip
def test_literals(env: FakeEnv, text: str, value: int) -> None:
    assert num(text, env) == value


def test_literal_types_follow_c(env: FakeEnv) -> None:
    assert evaluate("5", env).type.name == "long"
    assert evaluate("5u", env).type.name == "unsigned long"
    assert evaluate("0x8000000000000000", env).type.name == "unsigned long"  # too big for long
    assert evaluate("'a'", env).type.name == "char"
    assert show("'a'", env) == "97 'a'"


def test_strings_and_hex_strings(env: FakeEnv) -> None:
    v = evaluate('"ab\\x00c"', env)
    assert (v.kind, v.data) == ("bytes", b"ab\0c")
    assert evaluate('x"06 00 00 50"', env).data == bytes([6, 0, 0, 0x50])
    assert show('x"0600"', env) == "06 00"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty expression"), ("1 +", "unexpected end of expression at column 4"),
     ("(1 + 2))", "unexpected ')' at column 8"), ("1 2", "unexpected '2' at column 3"),
     ("$r1 @ 2", "unexpected character '@' at column 5"), ("08", "invalid octal number '08'"),
     ("12abc", "invalid number '12abc' at column 1"), ("0x1_0000_0000_0000_0000", "invalid number"),
     ("0x10000000000000000", "does not fit in 64 bits"), ("'ab'", "unterminated character constant"),
     ('"abc', "unterminated string at column 1"), ('x"123"', "pairs of hex digits"),
     ("(1", "expected ')' at column 3, found end of expression"), ("a.", "expected a name at column 3"),
     ("($r1 = 2) + 1", "unexpected '=' at column 6 (assignment is only allowed at the top"),
     ("'\\q'", "unknown escape \\q"), ("$r1 = = 2", "unexpected '=' at column 7")],
)  # fmt: skip
def test_syntax_errors_name_the_column(text: str, message: str) -> None:
    with pytest.raises(EvalError) as info:
        parse(text)
    assert message in str(info.value)


def test_parse_is_cached_and_reusable(env: FakeEnv) -> None:
    tree = parse("$r2 - 8")
    assert parse(" $r2 - 8 ") is tree
    assert as_int(evaluate(tree, env)) == STACK + 512 - 24


# ---------------------------------------------------------------------------------------------
# operators, precedence, wrapping, signedness


@pytest.mark.parametrize(
    ("text", "value"),
    [("7 + 3", 10), ("7 - 3", 4), ("7 * 3", 21), ("7 / 3", 2), ("7 % 3", 1), ("6 & 3", 2), ("6 | 3", 7),
     ("6 ^ 3", 5), ("1 << 4", 16), ("256 >> 4", 16), ("~0", -1), ("!0", 1), ("!5", 0), ("-(3)", -3),
     ("3 == 3", 1), ("3 != 3", 0), ("2 < 3", 1), ("3 <= 3", 1), ("4 > 3", 1), ("2 >= 3", 0),
     ("1 && 2", 1), ("1 && 0", 0), ("0 || 3", 1), ("0 || 0", 0), ("1 ? 10 : 20", 10), ("0 ? 10 : 20", 20),
     # precedence
     ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("1 << 2 + 1", 8), ("1 | 2 ^ 3 & 4", 3), ("10 - 4 - 3", 3),
     ("2 * 3 % 4", 2), ("1 + 2 == 3", 1), ("1 < 2 == 1", 1), ("0 || 1 && 0", 0), ("1 ? 0 ? 5 : 6 : 7", 6),
     ("-2 * -3", 6), ("!1 + 1", 1), ("~1 & 0xff", 0xFE), ("1 == 1 ? 4 : 5", 4)],
)  # fmt: skip
def test_operators_and_precedence(env: FakeEnv, text: str, value: int) -> None:
    assert num(text, env) == value


def test_signed_arithmetic_follows_c(env: FakeEnv) -> None:
    assert num("-7 / 2", env) == -3  # truncation toward zero, not Python's floor
    assert num("-7 % 2", env) == -1
    assert num("7 / -2", env) == -3
    assert num("-1 < 0", env) == 1  # long < long
    assert num("-8 >> 1", env) == -4  # arithmetic shift of a signed value
    assert num("(u64)-8 >> 1", env) == (MASK - 7) >> 1
    assert num("(s32)0x7fffffff + (s32)1", env) == -(1 << 31)  # int + int wraps at 32 bits
    assert num("(s32)0x7fffffff + 1", env) == 1 << 31  # int + long is a long
    assert num("(u32)1 - (u32)2", env) == 0xFFFFFFFF  # unsigned int stays 32 bits
    assert num("(u8)1 - (u8)2", env) == -1  # u8 promotes to int
    assert evaluate("(u8)1 + (u8)2", env).type.name == "int"
    assert evaluate("(u32)1 + 1", env).type.name == "long"  # long holds every u32
    assert evaluate("$r1 + 1", env).type.name == "u64"  # registers are unsigned 64-bit


def test_registers_are_unsigned(env: FakeEnv) -> None:
    assert num("$r3 == -1", env) == 1  # -1 converts to u64
    assert num("$r3 < 0", env) == 0
    assert num("(s64)$r3 < 0", env) == 1
    assert num("(s32)$r3", env) == -1
    assert num("$r3 / 2", env) == MASK // 2
    assert num("(s64)$r3 / 2", env) == 0
    assert num("$r3 + 2", env) == 1  # wraps modulo 2**64


def test_shift_counts_wrap_like_bpf(env: FakeEnv) -> None:
    assert num("1 << 64", env) == 1
    assert num("1 << 65", env) == 2
    assert num("(u32)1 << 33", env) == 2  # 32-bit operand: count modulo 32


def test_division_by_zero_is_an_error(env: FakeEnv) -> None:
    assert err("1 / 0", env) == "division by zero"
    assert err("$r1 % ($r0 & 1)", env) == "division by zero"


def test_logical_operators_short_circuit(env: FakeEnv) -> None:
    assert num("$r0 != 0 && *(u8 *)$r0 == 1", env) == 0  # r0 = 0 is never read through
    assert num("$r0 == 0 || *(u8 *)$r0 == 1", env) == 1
    assert num("$r0 ? *(u8 *)$r0 : 9", env) == 9
    assert "no memory there" in err("$r0 == 0 && *(u8 *)$r0", env)


def test_overflowing_signed_division_wraps(env: FakeEnv) -> None:
    assert num("(s64)0x8000000000000000 / -1", env) == -(1 << 63)


_OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a // b, "%": lambda a, b: a % b, "&": lambda a, b: a & b,
    "|": lambda a, b: a | b, "^": lambda a, b: a ^ b, "<<": lambda a, b: a << (b & 63),
    ">>": lambda a, b: a >> (b & 63), "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b), "<=": lambda a, b: int(a <= b), ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
}  # fmt: skip


@given(a=st.integers(0, MASK), b=st.integers(0, MASK), op=st.sampled_from(sorted(_OPS)))
def test_integer_arithmetic_matches_u64(a: int, b: int, op: str) -> None:
    env = FakeEnv(btf=None)
    if op in "/%" and b == 0:
        with pytest.raises(EvalError):
            evaluate(f"{a} {op} {b}", env)
        return
    if op in ("/", "%", ">>", "<", "<=", ">", ">=") and (a >= 1 << 63) != (b >= 1 << 63):
        b = b & (MASK >> 1) if a < 1 << 63 else b | (1 << 63)  # mixed long/unsigned long: make both one kind
    got = as_int(evaluate(f"{a} {op} {b}", env))
    assert got == _OPS[op](a, b) & MASK


@given(a=st.integers(0, MASK), b=st.integers(0, MASK), op=st.sampled_from(sorted(_OPS)))
def test_register_arithmetic_matches_u64(a: int, b: int, op: str) -> None:
    env = FakeEnv(btf=None)
    env.regs[4], env.regs[5] = a, b
    if op in "/%" and b == 0:
        return
    assert as_int(evaluate(f"$r4 {op} $r5", env)) == _OPS[op](a, b) & MASK


# ---------------------------------------------------------------------------------------------
# registers, convenience variables, value history


def test_registers_and_convenience_variables(env: FakeEnv) -> None:
    assert ev("$r10", env) == STACK + 512
    assert ev("r10", env) == STACK + 512  # bare names work when no map shadows them
    assert ev("$fp", env) == STACK + 512
    assert ev("$pc", env) == 7 and ev("pc", env) == 7
    assert ev("$insns", env) == 12
    assert ev("$pkt_end - $pkt", env) == 60
    assert ev("$ctx", env) == CTX
    assert show("$pkt", env) == f"(u8 *) {PKT:#x}"
    assert show("$ctx", env) == f"(struct xdp_md *) {CTX:#x}"
    assert show("$r1", env) == str(CTX)


def test_unknown_registers_and_variables(env: FakeEnv) -> None:
    assert err("$r11", env) == "there is no register $r11: eBPF has $r0..$r10"
    assert "$foo is not set (set one with: set var $foo = 1" in err("$foo", env)
    assert "$retval is not available at this point" in err("$retval", env)
    assert "no symbol 'foo'" in err("foo + 1", env)


def test_value_history(env: FakeEnv) -> None:
    env.history = [evaluate("10", env), evaluate("*(struct rule_key *)$r2", env), evaluate("30", env)]
    assert num("$", env) == 30
    assert show("$$", env) == "{proto = 6, pad = 0, dport = 20480}"
    assert num("$$2", env) == 10
    assert num("$1 + $3", env) == 40
    assert num("$2.dport", env) == 0x5000  # a snapshot: fields come from its bytes
    assert num("$$0", env) == 30
    assert err("$9", env) == "history has 3 values"


# ---------------------------------------------------------------------------------------------
# types, casts, memory


def test_builtin_types_table() -> None:
    assert BUILTIN_TYPES["u32"] == (4, False)
    assert BUILTIN_TYPES["__s16"] == (2, True)
    assert BUILTIN_TYPES["__be32"] == (4, False)
    assert BUILTIN_TYPES["unsigned long long"] == (8, False)
    assert BUILTIN_TYPES["char"] == (1, True)


@pytest.mark.parametrize(
    ("text", "value"),
    [("(u8)300", 44), ("(s8)200", -56), ("(u16)-1", 0xFFFF), ("(__s32)0xffffffff", -1), ("(char)65", 65),
     ("(unsigned char)-1", 255), ("(short)0x18000", -0x8000), ("(unsigned long int)-1", MASK),
     ("(long long)-2", -2), ("(signed)0xffffffff", -1), ("(unsigned)-1", 0xFFFFFFFF), ("(bool)7", 1),
     ("(_Bool)0", 0), ("(__be16)0x12345", 0x2345), ("(const volatile u8)257", 1),
     ("(uint32_t)-1", 0xFFFFFFFF)],
)  # fmt: skip
def test_integer_casts(env: FakeEnv, text: str, value: int) -> None:
    assert num(text, env) == value


def test_deref_and_pointer_arithmetic(env: FakeEnv) -> None:
    assert ev("*(u32 *)($r10 - 8)", env) == 0xDEADBEEF
    assert ev("*(u16 *)($fp - 8)", env) == 0xBEEF
    assert ev("*(u8 *)($r10 - 5)", env) == 0xDE
    assert ev("(u32 *)$r2 + 1", env) == STACK + 512 - 12  # scaled by the pointee
    assert ev("(u64 *)$r2 - 1", env) == STACK + 512 - 24
    assert ev("$r2 + 1", env) == STACK + 512 - 15  # plain registers are not scaled
    assert ev("((u32 *)$r10 - 2)[0]", env) == 0xDEADBEEF
    assert ev("((u16 *)($r10 - 8))[1]", env) == 0xDEAD
    assert num("(u32 *)$r10 - (u32 *)$r2", env) == 4
    assert ev("*&*(u32 *)($r10 - 8)", env) == 0xDEADBEEF
    assert ev("&*(u32 *)($r10 - 8)", env) == STACK + 504
    assert show("(u32 *)$r2", env) == f"(u32 *) {STACK + 496:#x}"
    assert show("(void *)$r2", env) == f"(void *) {STACK + 496:#x}"
    assert ev("(void *)$r2 + 1", env) == STACK + 497  # void * arithmetic counts bytes (GNU C)
    assert ev("$pkt[12]", env) == 0x08  # $pkt is a u8 *
    assert ev("*$pkt", env) == 0x02


def test_memory_errors_come_from_the_environment(env: FakeEnv) -> None:
    assert err("*(u32 *)($pkt + 58)", env) == "read of 4 bytes at pkt+58, pkt is 60 bytes"
    assert err("*(u64 *)0", env) == "read of 8 bytes at 0x0: no memory there"
    assert "cannot dereference a u64: it is not a pointer" in err("*$r2", env)
    assert "cannot dereference a void *" in err("*(void *)$r2", env)
    assert "cannot index a u64" in err("$r2[1]", env)


def test_struct_through_btf(env: FakeEnv) -> None:
    v = evaluate("*(struct rule_key *)$r2", env)
    assert v.kind == "struct" and v.data == bytes([6, 0, 0, 0x50])
    assert v.lvalue == MemLoc(STACK + 496, 4)
    assert format_value(v, None) == "{proto = 6, pad = 0, dport = 20480}"
    assert format_value(v, "x") == "{proto = 0x6, pad = 0x0, dport = 0x5000}"
    assert ev("((struct rule_key *)$r2)->dport", env) == 0x5000
    assert ev("(*(struct rule_key *)$r2).proto", env) == 6
    assert ev("((rule_key_t *)$r2)->proto", env) == 6  # typedef names work
    assert ev("((struct rule_key *)$r2).proto", env) == 6  # gdb lets . follow a pointer
    assert evaluate("((struct rule_key *)$r2)->dport", env).type.name == "__be16"
    assert ev("sizeof(struct rule_key)", env) == 4
    assert ev("sizeof(rule_key_t)", env) == 4
    assert ev("sizeof(struct counter *)", env) == 8
    assert ev("sizeof *(struct counter *)$r2", env) == 16
    assert ev("sizeof(u16)", env) == 2
    assert ev("sizeof($r1)", env) == 8


def test_nested_members_arrays_bitfields_enums(env: FakeEnv) -> None:
    rich = f"((struct rich *){RICH:#x})"
    assert ev(f"{rich}->id", env) == 7
    assert ev(f"{rich}->as_u32", env) == 0x64636261  # through the anonymous union
    assert ev(f"{rich}->as_bytes[1]", env) == ord("b")
    assert ev(f"{rich}->vals[2]", env) == 3
    assert ev(f"{rich}->next->next->vals[1]", env) == 2
    assert ev(f"{rich}->name[1]", env) == ord("t")
    assert show(f"{rich}->name", env) == '"eth0"'
    assert show(f"{rich}->color", env) == "BLUE"
    assert show(f"{rich}->ok", env) == "true"
    assert show(f"*{rich}", env) == (
        '{id = 7, {as_u32 = 1684234849, as_bytes = {97, 98, 99, 100}}, name = "eth0", color = BLUE, '
        f"next = {RICH:#x}, vals = {{1, 2, 3}}, ok = true}}"
    )
    assert num(f"{rich}->color == BLUE", env) == 1  # BTF enumerators are constants
    assert show("BLUE", env) == "BLUE"
    assert show("(enum color)1", env) == "GREEN"
    assert show("(enum color)5", env) == "5"
    assert ev(f"&{rich}->vals[1]", env) == RICH + 34
    assert ev(f"{rich}->vals + 1", env) == RICH + 34  # an array in memory decays to a pointer
    assert as_int(evaluate(f"{rich}->vals", env)) == RICH + 32

    env.regions["rich"][1][0:4] = struct.pack("<I", 1 | (5 << 1) | (0xA << 4) | (0x1234 << 16))
    flags = f"((struct flags *){RICH:#x})"
    assert (num(f"{flags}->a", env), num(f"{flags}->b", env), num(f"{flags}->c", env)) == (1, 5, -6)
    assert show(f"*{flags}", env) == "{a = 1, b = 5, c = -6, d = 4660}"
    assert lvalue_of(f"{flags}->b", env) == MemLoc(RICH, 1, 1, 3)
    assign(f"{flags}->b = 2", env)
    assign(f"{flags}->c = 3", env)
    assert (num(f"{flags}->a", env), num(f"{flags}->b", env), num(f"{flags}->c", env)) == (1, 2, 3)
    assert num(f"{flags}->d", env) == 0x1234
    assert "cannot take the address of a bitfield" in err(f"&{flags}->b", env)


def test_type_errors(env: FakeEnv) -> None:
    assert err("(struct nope *)$r2", env).startswith("unknown type 'struct nope'")
    assert "did you mean struct rule_key" in err("(struct rule_kye *)$r2", env)
    assert "write 'struct rule_key'" in err("sizeof(rule_key)", env)
    assert "(write 'struct rule_key')" in err("(rule_key *)$r2", env)
    assert err("((struct rule_key *)$r2)->port", env) == (
        "struct rule_key has no field 'port' (did you mean 'dport'?); its fields: proto, pad, dport"
    )
    assert "u64 is not a struct: cannot use ->proto; cast it" in err("$r2->proto", env)
    assert "struct opaque is incomplete" in err("*(struct opaque *)$r2", env)
    assert "struct rule_key is not a number" in err("*(struct rule_key *)$r2 + 1", env)
    assert "is not a number" in err("!*(struct rule_key *)$r2", env)
    no_btf = FakeEnv(btf=None)
    assert "this object has no BTF, so only builtin types" in err("(struct rule_key *)$r2", no_btf)
    assert ev("*(__u32 *)($r10 - 8)", no_btf) == 0xDEADBEEF


def test_compound_literals_and_reinterpreting_bytes(env: FakeEnv) -> None:
    assert show("(struct rule_key){6, 0, 0x5000}", env) == "{proto = 6, pad = 0, dport = 20480}"
    assert show("(struct rule_key){.dport = 80}", env) == "{proto = 0, pad = 0, dport = 80}"
    assert show('(struct rule_key)x"11005000"', env) == "{proto = 17, pad = 0, dport = 80}"
    assert show("(struct rule_key)$pkt[0:4]", env) == "{proto = 2, pad = 0, dport = 0}"
    assert num("(u16)$pkt[12:14]", env) == 0x0008  # little-endian, like the machine's load
    assert num("(u32){5}", env) == 5
    assert "too many initializers for struct rule_key (3 members)" in err(
        "(struct rule_key){1, 2, 3, 4}", env
    )
    assert "only bytes of the same size (4)" in err('(struct rule_key)x"1100"', env)
    assert "cannot convert u8[2] (2 bytes) to u32 (4 bytes)" in err("(u32)$pkt[12:14]", env)
    assert "a {...} list needs a type" in err("{1, 2}", env)


# ---------------------------------------------------------------------------------------------
# slices


def test_packet_slices(env: FakeEnv) -> None:
    v = evaluate("$pkt[12:14]", env)
    assert (v.kind, v.data, v.lvalue) == ("bytes", b"\x08\x00", MemLoc(PKT + 12, 2))
    assert show("$pkt[12:14]", env) == "08 00"
    assert evaluate("$pkt[54:]", env).data == b"payload!!!"[:6]  # up to $pkt_end
    assert len(evaluate("$pkt[:]", env).data) == 60
    assert evaluate("$pkt[:2]", env).data == b"\x02\x00"
    assert evaluate("($pkt + 14)[9:10]", env).data == b"\x06"
    assert evaluate("$r10[-8:-4]", env).data == struct.pack("<I", 0xDEADBEEF)
    assert num('$pkt[12:14] == x"0800"', env) == 1
    assert num('$pkt[54:58] != "payl"', env) == 0
    assert show("$pkt[54:60]", env, "s") == '"payloa"'
    assert show("$pkt[12:14]", env, "d") == "{8, 0}"
    assert evaluate("$pkt[12:20][1:3]", env).lvalue == MemLoc(PKT + 13, 2)
    assert num("$pkt[12:20][1]", env) == 0
    assert show("$pkt[5:5]", env) == "{}"


def test_slice_errors(env: FakeEnv) -> None:
    assert "only packet slices end at $pkt_end" in err("$r10[-8:]", env)
    assert err("$pkt[14:12]", env) == "slice end 12 is before its start 14"
    assert "too long" in err("$pkt[0:0x100000]", env)
    assert "is outside char[6]" in err(f"((struct rich *){RICH:#x})->name[2:9]", env)
    assert "read of 10 bytes at pkt+55, pkt is 60 bytes" == err("$pkt[55:65]", env)
    assert "a byte string (u8[2]) is not a number" in err("$pkt[12:14] + 1", env)


def test_slices_of_structs_and_arrays(env: FakeEnv) -> None:
    assert evaluate("(*(struct rule_key *)$r2)[2:4]", env).data == b"\x00\x50"
    assert evaluate(f"((struct rich *){RICH:#x})->name[:4]", env).data == b"eth0"
    assert evaluate("((struct rule_key){1, 2, 3})[0:2]", env).data == b"\x01\x02"


# ---------------------------------------------------------------------------------------------
# ctx


def test_ctx_fields_through_btf(env: FakeEnv) -> None:
    assert ev("$ctx->ingress_ifindex", env) == 3
    assert evaluate("$ctx->ingress_ifindex", env).type.name == "__u32"
    assert ev("$ctx->data", env) == PKT  # the kernel's rewrite: the packet pointer
    assert ev("$ctx->data_end - $ctx->data", env) == 60
    assert ev("*(u8 *)($ctx->data + 12)", env) == 8
    assert err("$ctx->ingress_ifindx", env).startswith(
        "struct xdp_md has no field 'ingress_ifindx' (did you mean 'ingress_ifindex'?);"
        " its fields: data, data_end"
    )


def test_ctx_fields_without_btf() -> None:
    env = FakeEnv(btf=None)
    assert ev("$ctx->ingress_ifindex", env) == 3
    assert ev("$ctx->data", env) == PKT
    assert show("$ctx", env) == f"(ctx *) {CTX:#x}"
    assert err("$ctx->nope", env) == (
        "the context has no field 'nope';"
        " its fields: data, data_end, data_meta, ingress_ifindex, rx_queue_index"
    )
    assert "cannot dereference a ctx *" in err("*$ctx", env)


def test_ctx_writes_go_to_the_environment(env: FakeEnv) -> None:
    assert err("$ctx->ingress_ifindex = 4", env) == "write of 4 bytes at 0x100000000c: read-only".replace(
        "0x100000000c", f"{CTX + 12:#x}"
    )


# ---------------------------------------------------------------------------------------------
# maps


def test_map_reads(env: FakeEnv) -> None:
    v = evaluate("counters[2]", env)
    assert v.kind == "struct" and v.type.name == "struct counter"
    assert v.lvalue == MapLoc("counters", struct.pack("<I", 2), 0, 16)
    assert format_value(v) == "{packets = 2, bytes = 200}"
    assert ev("counters[2].bytes", env) == 200
    assert ev("counters[1].packets + counters[2].packets", env) == 3
    assert evaluate("counters[1].bytes", env).lvalue == MapLoc("counters", struct.pack("<I", 1), 8, 8)
    assert show("rules[{6, 0, 0x5000}]", env) == "01 00 00 00"  # no value BTF: raw bytes
    assert show("rules[{.proto = 6, .dport = 0x5000}]", env) == "01 00 00 00"
    assert show('rules[x"06000050"]', env) == "01 00 00 00"
    assert show("rules[*(struct rule_key *)$r2]", env) == "01 00 00 00"
    assert show("rules[(struct rule_key){6, 0, 0x5000}]", env) == "01 00 00 00"
    assert num("(u32)rules[0x50000006]", env) == 1  # integer keys are little-endian
    assert show('wide[x"000102030405060708090a0b"]', env) == "00 00 00 00 00 00 00 00"


def test_map_errors(env: FakeEnv) -> None:
    assert err("counters[7]", env) == 'counters has no key 7 (x"07000000")'
    assert err("rules[{17}]", env) == 'rules has no key 17 (x"11000000")'
    assert err("counters[0x100000000]", env) == "key 4294967296 does not fit the 4-byte keys of counters"
    assert err("counters", env) == "counters is a map: index it by a key, like counters[0]"
    assert err('rules[x"0600"]', env) == "rules has 4-byte keys; u8[2] is 2 bytes"
    assert err("wide[1]", env) == 'wide has 12-byte keys: write one as x"..." or {...}, not as a number'
    assert 'wide has no BTF type for its key: write the key as x"..." (12 bytes)' == err("wide[{1}]", env)
    assert "the values of counters live in the map" in err("&counters[0]", env)


def test_map_key_strings_pad_and_negative_keys(env: FakeEnv) -> None:
    env.maps["counters"][1][b"ab\0\0"] = struct.pack("<QQ", 5, 6)
    env.maps["counters"][1][b"\xff\xff\xff\xff"] = struct.pack("<QQ", 8, 9)
    assert ev('counters["ab"].bytes', env) == 6
    assert ev("counters[-1].packets", env) == 8


def test_map_writes(env: FakeEnv) -> None:
    assert ev("counters[1].bytes = 5", env) == 5
    assert env.maps["counters"][1][struct.pack("<I", 1)] == struct.pack("<QQ", 1, 5)
    assign("counters[1].packets += 10", env)
    assert env.maps["counters"][1][struct.pack("<I", 1)] == struct.pack("<QQ", 11, 5)
    assign("counters[2] = {.bytes = 1}", env)
    assert env.maps["counters"][1][struct.pack("<I", 2)] == struct.pack("<QQ", 0, 1)
    assign('rules[{6, 0, 0x5000}] = x"02000000"', env)
    assert env.maps["rules"][1][bytes([6, 0, 0, 0x50])] == struct.pack("<I", 2)
    assign('rules[{6, 0, 0x5000}][0:1] = x"07"', env)
    assert env.maps["rules"][1][bytes([6, 0, 0, 0x50])] == struct.pack("<I", 7)
    assert err("counters[9].bytes = 1", env) == 'counters has no key 9 (x"09000000")'


# ---------------------------------------------------------------------------------------------
# assignment


def test_register_and_variable_assignment(env: FakeEnv) -> None:
    assert ev("$r1 = 5", env) == 5 and env.regs[1] == 5
    assert as_int(assign("r4 = -1", env)) == MASK
    assign("$r1 += 3", env)
    assign("$r1 <<= 2", env)
    assign("$r1 |= 1", env)
    assign("$r1 -= 1", env)
    assign("$r1 *= 3", env)
    assign("$r1 /= 2", env)
    assign("$r1 %= 7", env)
    assign("$r1 ^= 0xff", env)
    assign("$r1 &= 0xf0", env)
    assign("$r1 >>= 4", env)
    assert env.regs[1] == ((((((((5 + 3) << 2) | 1) - 1) * 3 // 2) % 7) ^ 0xFF) & 0xF0) >> 4
    assign("$foo = $r10 - 8", env)
    assert env.vars["foo"] == STACK + 504
    assert ev("$foo + 8", env) == STACK + 512
    assign("$fp = $fp - 16", env)
    assert env.regs[10] == STACK + 496
    assert err("$pkt = 0", env) == "$pkt cannot be changed"
    assert "can hold a number, not a struct rule_key" in err("$k = *(struct rule_key *)$r2", env)


def test_memory_assignment(env: FakeEnv) -> None:
    assign("*(u32 *)($r10 - 8) = 0x11223344", env)
    assert ev("*(u32 *)($r10 - 8)", env) == 0x11223344
    assign("*(u16 *)($r10 - 8) += 1", env)
    assert ev("*(u32 *)($r10 - 8)", env) == 0x11223345
    assign("*(u8 *)($r10 - 8) = 0x1ff", env)  # truncated to the type, like C
    assert ev("*(u8 *)($r10 - 8)", env) == 0xFF
    assign("*(s32 *)($r10 - 4) = -2", env)
    assert ev("*(u32 *)($r10 - 4)", env) == 0xFFFFFFFE
    assign("((struct rule_key *)$r2)->dport = 0x1600", env)
    assert ev("*(u32 *)$r2", env) == 0x16000006
    assign("*(struct rule_key *)$r2 = {17, 0, 0x3500}", env)
    assert show("*(struct rule_key *)$r2", env) == "{proto = 17, pad = 0, dport = 13568}"
    assign('*(u32 *)$r2 = x"01020304"', env)
    assert evaluate("$r2[0:4]", env).data == b"\x01\x02\x03\x04"
    assign('$pkt[12:14] = x"86dd"', env)
    assert env.regions["pkt"][1][12:14] == b"\x86\xdd"
    rich = f"((struct rich *){RICH:#x})"
    assign(f'{rich}->name = "lo"', env)  # a string pads a char array
    assert show(f"{rich}->name", env) == '"lo"'
    assign(f"{rich}->vals = {{7, 8}}", env)
    assert show(f"{rich}->vals", env) == "{7, 8, 0}"
    assign(f"{rich}->vals[2] = 9", env)
    assert show(f"{rich}->vals", env, "x") == "{0x7, 0x8, 0x9}"


def test_assignment_errors(env: FakeEnv) -> None:
    with pytest.raises(EvalError, match="expected an assignment"):
        assign("$r1 + 1", env)
    assert "the left side of an assignment must be" in err("$r1 + 1 = 2", env)
    assert "the left side of an assignment must be" in err("5 = 2", env)
    assert err('$pkt[12:14] = x"86"', env) == "cannot assign 1 bytes (u8[1]) to u8[2] (2 bytes)"
    assert 'cannot assign a number to struct rule_key: write {...} or x"..." of 4 bytes' == err(
        "*(struct rule_key *)$r2 = 5", env
    )
    assert "the left side of an assignment must be" in err("$ctx->data_meta = 1", env)  # a pointer, rewritten
    assert "+= needs a number on its right" in err("*(struct rule_key *)$r2 += {1}", env)
    assert "write of 4 bytes at 0x0: no memory there" == err("*(u32 *)0 = 1", env)
    assert isinstance(parse("$r1 = 2"), Assign)


# ---------------------------------------------------------------------------------------------
# formats


@pytest.mark.parametrize(
    ("text", "fmt", "shown"),
    [("255", None, "255"), ("255", "x", "0xff"), ("255", "o", "0377"), ("5", "t", "101"), ("0", "t", "0"),
     ("0", "o", "0"), ("-1", "x", "0xffffffffffffffff"), ("(s32)-1", "x", "0xffffffff"),
     ("(u8)255", "d", "-1"),
     ("-1", "u", "18446744073709551615"), ("(u16)6", "z", "0x0006"), ("65", "c", "65 'A'"),
     ("10", "c", "10 '\\n'"), ("200", "c", "-56 '\\310'"), ("4096", "a", "0x1000"), ("(s8)-3", None, "-3"),
     ("$r3", None, "18446744073709551615"), ("$r3", "d", "-1"), ("(bool)1", None, "true"),
     ("XDP_PASS", None, "XDP_PASS"), ("XDP_PASS", "d", "2"), ("7", "s", "7"), ("'\\0'", None, "0 '\\000'")],
)  # fmt: skip
def test_print_formats(env: FakeEnv, text: str, fmt: str | None, shown: str) -> None:
    assert show(text, env, fmt) == shown


def test_struct_and_array_formats(env: FakeEnv) -> None:
    key = "*(struct rule_key *)$r2"
    assert show(key, env, "z") == "{proto = 0x06, pad = 0x00, dport = 0x5000}"
    assert show(key, env, "t") == "{proto = 110, pad = 0, dport = 101000000000000}"
    rich = f"*((struct rich *){RICH:#x})"
    assert f"next = {RICH:#x}" in show(rich, env)  # pointers inside structs: bare hex
    assert "name = {0x65, 0x74, 0x68, 0x30, 0x0, 0x0}" in show(rich, env, "x")
    env.regions["rich"][1][8:14] = b"a\x01\0b\0\0"
    assert 'name = "a\\001\\000b\\000\\000"' in show(rich, env)
    assert show("$r10[-20:-4]", env) == "00 00 00 00 06 00 00 50 00 00 00 00 ef be ad de"
    assert show("$r10[-32:-16]", env, "u") == "{0 <repeats 16 times>}"
    assert show("$r10[-11:-8]", env, "u") == "{0, 0, 0}"
    assert show("$pkt[0:2]", env, "c") == "{2 '\\002', 0 '\\000'}"
    assert show("$pkt[54:56]", env, "s") == '"pa"'


def test_format_without_btf_in_the_type() -> None:
    env = FakeEnv()
    v = evaluate("*(struct rule_key *)$r2", env)
    stripped = replace(v, type=replace(v.type, btf=None))
    assert format_value(stripped, None) == "06 00 00 50"
    assert format_value(stripped, None, env_btf=BTF) == "{proto = 6, pad = 0, dport = 20480}"


def test_bad_formats_and_as_int_errors(env: FakeEnv) -> None:
    with pytest.raises(EvalError, match="undefined output format 'q'"):
        format_value(evaluate("1", env), "q")
    with pytest.raises(EvalError, match="struct rule_key is not a number or an address"):
        as_int(evaluate("*(struct rule_key *)$r2", env))
    with pytest.raises(EvalError, match="is not a number or an address"):
        as_int(evaluate("$pkt[0:2]", env))


# ---------------------------------------------------------------------------------------------
# guard_of, lvalue_of


@pytest.mark.parametrize(
    ("text", "guard"),
    [("$r2 == 0x800", (2, "==", 0x800)), ("$r0 != 2", (0, "!=", 2)), ("$r1 < 10", (1, "<", 10)),
     ("$r1 <= 10", (1, "<=", 10)), ("$r1 > 10", (1, ">", 10)), ("$r1 >= 10", (1, ">=", 10)),
     ("10 < $r1", (1, ">", 10)), ("10 >= $r3", (3, "<=", 10)), ("5 == $r10", (10, "==", 5)),
     ("$r4 & 4", (4, "&", 4)), ("4 & $r4", (4, "&", 4)), ("$r1 == -1", (1, "==", MASK)),
     ("r1 == 1 + 2 * 3", (1, "==", 7)), ("$r0 == XDP_PASS", (0, "==", 2)), ("$r7 == 'a'", (7, "==", 97)),
     ("($r1) == (2)", (1, "==", 2)), ("$r1 == (u8)300", (1, "==", 44))],
)  # fmt: skip
def test_guard_of_native_conditions(text: str, guard: tuple[int, str, int]) -> None:
    assert guard_of(text) == guard


@pytest.mark.parametrize(
    "text",
    [
        "$r1 == $r2",
        "$r1 + 1 == 2",
        "(s64)$r1 < 0",
        "$r1",
        "$r1 == $foo",
        "$r1 | 4",
        "$r1 && 1",
        "*(u32 *)$r1 == 4",
        "$r1 == ",
        "$r1 = 5",
        "$pc == 4",
        "$r1 == counters[0]",
        "1 == 2",
    ],
)
def test_guard_of_declines_the_rest(text: str) -> None:
    assert guard_of(text) is None


def test_lvalue_of(env: FakeEnv) -> None:
    assert lvalue_of("$r3", env) == RegLoc(3)
    assert lvalue_of("r3", env) == RegLoc(3)
    assert lvalue_of("$fp", env) == RegLoc(10)
    assert lvalue_of("$foo", env) == VarLoc("foo")
    assert lvalue_of("*(u32 *)($r10 - 8)", env) == MemLoc(STACK + 504, 4)
    assert lvalue_of("$pkt[12:14]", env) == MemLoc(PKT + 12, 2)
    assert lvalue_of("$pkt[12]", env) == MemLoc(PKT + 12, 1)
    assert lvalue_of("((struct rule_key *)$r2)->dport", env) == MemLoc(STACK + 498, 2)
    assert lvalue_of("counters[1].bytes", env) == MapLoc("counters", struct.pack("<I", 1), 8, 8)
    assert lvalue_of("$ctx->ingress_ifindex", env) == MemLoc(CTX + 12, 4)
    assert lvalue_of("$r1 + 1", env) is None
    assert lvalue_of("(u32)$r1", env) is None
    with pytest.raises(EvalError, match="not an assignment"):
        lvalue_of("$r1 = 1", env)
    assert lvalue_of("counters[9]", env) == MapLoc("counters", struct.pack("<I", 9), 0, 16)  # not read
    with pytest.raises(EvalError, match="no symbol 'nope'"):
        lvalue_of("nope[1]", env)


# ---------------------------------------------------------------------------------------------
# global variables


def test_globals_read_from_their_section_map(env: FakeEnv) -> None:
    assert ev("hits", env) == 41
    assert evaluate("hits", env).type.name == "__u64"
    assert show("last_key", env) == "{proto = 6, pad = 0, dport = 20480}"
    assert ev("last_key.dport", env) == 0x5000
    assert show("ports", env) == "{1, 2, 3}"
    assert ev("ports[2] + hits", env) == 44
    assert ev("sizeof(hits)", env) == 8
    assert ev("sizeof hits", env) == 8
    assert show("rules[last_key]", env) == "01 00 00 00"  # a struct global as a map key


def test_globals_are_lvalues_in_their_map(env: FakeEnv) -> None:
    assert lvalue_of("hits", env) == MapLoc("glob.bss", bytes(4), 0, 8)
    assert lvalue_of("last_key.dport", env) == MapLoc("glob.bss", bytes(4), 10, 2)
    assert lvalue_of("ports[1]", env) == MapLoc("glob.bss", bytes(4), 14, 2)
    assert as_int(assign("hits += 1", env)) == 42
    assign("last_key.dport = 0x1234", env)
    value = env.maps["glob.bss"][1][bytes(4)]
    assert struct.unpack_from("<Q", value, 0)[0] == 42
    assert value[8:12] == bytes([6, 0, 0x34, 0x12])
    assert value[12:] == _globals()[12:]  # the rest of the section is untouched
    assert "live in the map, not in addressable memory" in err("&hits", env)


def test_maps_registers_and_enum_constants_win_over_globals(env: FakeEnv) -> None:
    assert "counters is a map" in err("counters", env)
    assert ev("counters[1].packets", env) == 1
    assert num("RED", env) == 0  # the enumerator, not the global holding 5
    assert ev("r1", env) == CTX


def test_unknown_names_suggest_a_global(env: FakeEnv) -> None:
    message = err("hitz", env)
    assert message.startswith("no symbol 'hitz': not a register (r0..r10, $r0..$r10), a map, an enum")
    assert "global variable (did you mean 'hits'?)" in message


def test_no_globals_without_btf_or_a_datasec(env: FakeEnv) -> None:
    assert "no symbol 'hits'" in err("hits", FakeEnv(btf=None))
    env.maps["glob.bss"] = (MapInfo("glob.bss", 4, GLOBALS_SIZE, 0, _id("counter")), {})
    assert "no symbol 'hits'" in err("hits", env)  # a struct value is a map, not a section
    env.maps["glob.bss"] = (MapInfo("glob.bss", 4, 16, 0, _id(".bss")), {bytes(4): _globals()[:16]})
    assert ev("hits", env) == 41
    assert "no symbol 'ports'" in err("ports", env)  # past the end of a damaged section's value


def test_a_map_shadows_a_bare_register_name(env: FakeEnv) -> None:
    env.maps["r1"] = (MapInfo("r1", 4, 4), {bytes(4): b"\x09\0\0\0"})
    assert show("r1[0]", env) == "09 00 00 00"
    assert ev("$r1", env) == CTX
    assert "r1 is a map" in err("r1 + 1", env)


@given(st.text(alphabet="$r0123456789xu'\"\\()[]{}*&+-<>=!~?:., _abcdefgpkt", max_size=24))
def test_any_input_is_a_value_or_an_eval_error(text: str) -> None:
    env = FakeEnv()
    try:
        value = evaluate(text, env)
    except EvalError:
        return
    for fmt in (None, *"xdutocazs"):
        format_value(value, fmt)
    guard_of(text)


def test_deep_nesting_is_an_error_not_a_crash(env: FakeEnv) -> None:
    with pytest.raises(EvalError, match="nested too deeply"):
        evaluate("(" * 5000 + "1" + ")" * 5000, env)


# ---------------------------------------------------------------------------------------------
# a real object's BTF


def test_sample_object_btf_resolves_its_map_types() -> None:
    path = ROOT / "sample_progs" / "xdp_firewall.o"
    if not path.exists():
        pytest.skip("sample_progs/xdp_firewall.o is not built")
    from emulator.elf import load_object

    obj = load_object(path)
    assert isinstance(obj.btf, Btf)
    env = FakeEnv(btf=obj.btf)
    counters = next(m for m in obj.maps if m.name == "fw_counters")
    rules = next(m for m in obj.maps if m.name == "fw_rules")
    env.maps = {
        "fw_counters": (
            MapInfo(
                "fw_counters", counters.key_size, counters.value_size, counters.key_btf, counters.value_btf
            ),
            {struct.pack("<I", 3): struct.pack("<QQ", 4, 400)},
        ),
        "fw_rules": (
            MapInfo("fw_rules", rules.key_size, rules.value_size, rules.key_btf, rules.value_btf),
            {bytes([1, 6, 0, 0x50, 0, 0, 0, 0]): struct.pack("<II", 1, 3)},
        ),
    }
    assert show("fw_counters[3]", env) == "{packets = 4, bytes = 400}"
    assert show("fw_rules[{.kind = 1, .proto = 6, .port = 0x5000}]", env) == "{action = 1, id = 3}"
    assert ev("fw_rules[{1, 6, 0x5000, 0}].id", env) == 3
    assert ev("sizeof(struct fw_key)", env) == 8
    assert evaluate("((struct fw_key *)$r2)->port", env).type.name == "__be16"
    assert show("$ctx", env) == f"(struct xdp_md *) {CTX:#x}"
    assert ev("$ctx->rx_queue_index", env) == 0
