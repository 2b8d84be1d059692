"""Parser for the LLVM/bpftool dialect (``r0 = *(u32 *)(r1 + 0)``, ``if w1 > 5 goto +1``).

A line is matched against a handful of statement shapes (assignment, compound assignment,
store, ``lock``, ``if``, ``goto``); the operation symbol and register width then pick the
opcode-table row. The register letter chooses the class where it matters: ``w`` registers
mean ALU32 / JMP32, ``r`` registers ALU64 / JMP. Loads, stores, byte swaps and atomics
accept either letter, since their width is in the type.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from emulator.asm.common import AsmSymbols, parse_lddw_value
from emulator.asm.operands import (
    NUMBER,
    UNSIGNED,
    SyntaxProblem,
    imm32,
    llvm_reg,
    off16,
    target,
)
from emulator.asm.rows import find_row
from emulator.asm.stmt import Stmt
from emulator.disasm.spelling import ALU_SYMBOL, ATOMIC_SYMBOL, BITS_SIZE, JMP_SYMBOL
from emulator.isa.fields import AluOp
from emulator.isa.table import ATOMIC_NAMES, Form, OpInfo, rows_by_mnemonic

_R = r"[rw]\d+"
_DISP = rf"[-+]\s*{UNSIGNED}"
_MEM = rf"\(\s*(?P<base>{_R})\s*(?P<disp>{_DISP})?\s*\)"
_PTR = r"\*\s*\(\s*(?P<sign>[us])(?P<bits>\d+)\s*\*\s*\)"

_SYMBOL_TO_ALU = {sym: op for op, sym in ALU_SYMBOL.items() if sym}
_SYMBOL_TO_JMP = {sym: op for op, sym in JMP_SYMBOL.items()}
_SYMBOL_TO_ATOMIC = {sym: name for name, sym in ATOMIC_SYMBOL.items()}
_ATOMIC_VARIANT = {name: imm for imm, name in ATOMIC_NAMES.items()}


def _alternatives(symbols: list[str]) -> str:
    return "|".join(re.escape(s) for s in sorted(symbols, key=len, reverse=True))


_ALU_OPS = _alternatives(list(_SYMBOL_TO_ALU) + ["s" + s for s in ("/", "%")])
_JMP_OPS = _alternatives(list(_SYMBOL_TO_JMP))

_COMPOUND = re.compile(rf"(?P<dst>{_R})\s*(?P<op>{_ALU_OPS})=\s*(?P<rhs>\S.*)")
_ASSIGN = re.compile(rf"(?P<dst>{_R})\s*=\s*(?P<rhs>\S.*)")
_STORE = re.compile(rf"{_PTR}\s*{_MEM}\s*=\s*(?P<value>\S.*)")
_LOCK = re.compile(rf"lock\s+{_PTR}\s*{_MEM}\s*(?P<op>\S+?)=\s*(?P<src>{_R})")
_IF = re.compile(
    rf"if\s+(?P<dst>{_R})\s*(?P<op>{_JMP_OPS})\s*(?P<rhs>{_R}|{NUMBER})"
    rf"\s+goto\s+(?P<t>.+)"
)
_GOTO = re.compile(r"(?P<word>gotol|goto)\s+(?P<t>.+)")

_RHS_REG = re.compile(_R)
_RHS_NEG = re.compile(rf"-\s*(?P<src>{_R})")
_RHS_MOVSX = re.compile(rf"\(\s*s(?P<bits>\d+)\s*\)\s*(?P<src>{_R})")
_RHS_END = re.compile(rf"(?P<mnemonic>(?:be|le|bswap)\d+)\s+(?P<src>{_R})")
_RHS_LOAD = re.compile(rf"{_PTR}\s*{_MEM}")
_RHS_SKB = re.compile(r"\*\s*\(\s*u(?P<bits>\d+)\s*\*\s*\)\s*skb\s*\[\s*(?P<index>[^\]]*?)\s*\]")
_RHS_LDDW = re.compile(rf"(?P<value>{NUMBER})\s+ll")
_RHS_PSEUDO = re.compile(r"(?:map|btf_id|func)\s*\[.*")
_RHS_FETCH = re.compile(
    rf"atomic_fetch_(?P<name>\w+)\s*\(\s*\(\s*u(?P<bits>\d+)\s*\*\s*\)\s*{_MEM}\s*,\s*(?P<src>{_R})\s*\)"
)
_RHS_XCHG = re.compile(
    rf"(?P<fn>xchg|xchg32)_(?P<bits>\d+)\s*\(\s*(?P<base>{_R})\s*(?P<disp>{_DISP})?\s*,"
    rf"\s*(?P<src>{_R})\s*\)"
)
_RHS_CMPXCHG = re.compile(
    rf"(?P<fn>cmpxchg|cmpxchg32)_(?P<bits>\d+)\s*\(\s*(?P<base>{_R})\s*(?P<disp>{_DISP})?\s*,"
    rf"\s*(?P<old>{_R})\s*,\s*(?P<src>{_R})\s*\)"
)
_RHS_IMM = re.compile(NUMBER)

_EXAMPLES = (
    "expected an LLVM-dialect instruction such as 'r0 = 1', 'w0 += w1', "
    "'r0 = *(u32 *)(r1 + 0)', '*(u64 *)(r10 - 8) = r1', 'if r1 > 5 goto +2', 'goto +1', "
    "'call 1' or 'exit'"
)


def _row(form: Form, what: str, **attrs: object) -> OpInfo:
    row = find_row(form, **attrs)
    if row is None:
        raise SyntaxProblem(f"there is no {what} instruction")
    return row


def _width(bits: str, what: str, allowed: tuple[int, ...] = (8, 16, 32, 64)) -> int:
    if int(bits) not in allowed:
        names = ", ".join(str(b) for b in allowed)
        raise SyntaxProblem(f"{what} width must be one of {names} bits, got {bits}")
    return BITS_SIZE[int(bits)]


def _disp(match: re.Match[str]) -> int:
    disp = match.group("disp")
    return off16(disp.replace(" ", ""), "memory offset") if disp else 0


def _same_width(dst: tuple[int, bool], src_token: str, where: str) -> int:
    num, is64 = llvm_reg(src_token)
    if is64 != dst[1]:
        want = "r" if dst[1] else "w"
        raise SyntaxProblem(f"{where}: expected a {want} register like the destination, got {src_token!r}")
    return num


def parse(line: str, symbols: AsmSymbols | None) -> Stmt:
    """One LLVM-dialect instruction (labels, comments and annotations already removed)."""
    for pattern, handler in _STATEMENTS:
        match = pattern.fullmatch(line)
        if match:
            return handler(match, symbols)
    raise SyntaxProblem(_EXAMPLES)


def _compound(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    dst = llvm_reg(m.group("dst"))
    symbol = m.group("op")
    signed = symbol in ("s/", "s%")
    op = _SYMBOL_TO_ALU[symbol[1:] if signed else symbol]
    rhs = m.group("rhs").strip()
    if _RHS_REG.fullmatch(rhs):
        src = _same_width(dst, rhs, f"'{symbol}='")
        row = _row(Form.ALU_REG, f"'{symbol}=' register", is64=dst[1], op=op, signed=signed)
        return Stmt.of(row, dst=dst[0], src=src)
    row = _row(Form.ALU_IMM, f"'{symbol}=' immediate", is64=dst[1], op=op, signed=signed)
    return Stmt.of(row, dst=dst[0], imm=imm32(rhs))


def _assign(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    dst = llvm_reg(m.group("dst"))
    rhs = m.group("rhs").strip()
    for pattern, handler in _RIGHT_HAND_SIDES:
        match = pattern.fullmatch(rhs)
        if match:
            return handler(dst, match, symbols)
    raise SyntaxProblem(
        f"cannot read the right-hand side {rhs!r}: expected a register, a number, '-rN', "
        "'(s8)rN', 'be16 rN', '*(u32 *)(rN + off)', 'N ll', 'map[fd:N]', 'atomic_fetch_add(...)', "
        "'xchg_64(...)' or 'cmpxchg_64(...)'"
    )


Dst = tuple[int, bool]


def _mov_reg(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    src = _same_width(dst, m.group(0), "'='")
    row = _row(Form.ALU_REG, "register move", is64=dst[1], op=AluOp.MOV, signed=False)
    return Stmt.of(row, dst=dst[0], src=src)


def _neg(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    src = _same_width(dst, m.group("src"), "negation")
    if src != dst[0]:
        raise SyntaxProblem(f"negation works in place: write 'r{dst[0]} = -r{dst[0]}'")
    return Stmt.of(_row(Form.NEG, "negation", is64=dst[1]), dst=dst[0])


def _movsx(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    src = _same_width(dst, m.group("src"), "sign-extending move")
    bits = int(m.group("bits"))
    row = find_row(Form.MOVSX, is64=dst[1], size=bits)
    if row is None:
        widths = "(s8), (s16) or (s32)" if dst[1] else "(s8) or (s16)"
        letter = "r" if dst[1] else "w"
        raise SyntaxProblem(f"a sign-extending move into {letter} registers takes {widths}, not (s{bits})")
    return Stmt.of(row, dst=dst[0], src=src)


def _end(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    rows = [r for r in rows_by_mnemonic().get(m.group("mnemonic"), ()) if r.form is Form.END]
    if not rows:
        raise SyntaxProblem(
            f"unknown byte swap {m.group('mnemonic')!r}: expected be16/32/64, le16/32/64 or bswap16/32/64"
        )
    if llvm_reg(m.group("src"))[0] != dst[0]:
        raise SyntaxProblem(f"byte swaps work in place: write 'r{dst[0]} = {m.group('mnemonic')} r{dst[0]}'")
    return Stmt.of(rows[0], dst=dst[0])


def _load(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    signed = m.group("sign") == "s"
    size = _width(m.group("bits"), "load", (8, 16, 32) if signed else (8, 16, 32, 64))
    form = Form.LDXSX if signed else Form.LDX
    row = _row(form, "such load", size=size)
    return Stmt.of(row, dst=dst[0], src=llvm_reg(m.group("base"))[0], off=_disp(m))


def _skb(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    size = _width(m.group("bits"), "packet load", (8, 16, 32))
    if dst[0] != 0:
        raise SyntaxProblem("legacy packet loads always write r0: write 'r0 = *(u8 *)skb[...]'")
    index = m.group("index")
    ind = re.fullmatch(rf"(?P<base>{_R})\s*(?P<disp>[-+]\s*{UNSIGNED})?", index)
    if ind:
        disp = ind.group("disp")
        imm = imm32(disp.replace(" ", ""), "packet offset") if disp else 0
        row = _row(Form.LD_IND, "such packet load", size=size)
        return Stmt.of(row, src=llvm_reg(ind.group("base"))[0], imm=imm)
    row = _row(Form.LD_ABS, "such packet load", size=size)
    return Stmt.of(row, imm=imm32(index, "packet offset"))


def _lddw(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    return parse_lddw_value(dst[0], m.group("value"), symbols)


def _pseudo(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    return parse_lddw_value(dst[0], m.group(0), symbols)


def _atomic_row(name: str, bits: str) -> OpInfo:
    size = _width(bits, "atomic", (32, 64))
    variant = _ATOMIC_VARIANT.get(name)
    row = find_row(Form.ATOMIC, size=size, variant=variant) if variant is not None else None
    if row is None:
        raise SyntaxProblem(f"there is no atomic {name!r} on u{bits}")
    return row


def _fetch(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    row = _atomic_row(f"fetch {m.group('name')}", m.group("bits"))
    src = llvm_reg(m.group("src"))[0]
    if src != dst[0]:
        fn = f"atomic_fetch_{m.group('name')}"
        raise SyntaxProblem(f"{fn} returns into its source register: write 'r{src} = {fn}(..., r{src})'")
    return Stmt.of(row, dst=llvm_reg(m.group("base"))[0], src=src, off=_disp(m))


def _check_fn_width(fn: str, bits: str) -> None:
    if fn.endswith("32") != (bits == "32"):
        base = fn.removesuffix("32")
        raise SyntaxProblem(
            f"write {base}_64(...) for 64 bits and {base}32_32(...) for 32 bits, not {fn}_{bits}"
        )


def _xchg(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    _check_fn_width(m.group("fn"), m.group("bits"))
    row = _atomic_row("xchg", m.group("bits"))
    src = llvm_reg(m.group("src"))[0]
    if src != dst[0]:
        fn = f"{m.group('fn')}_{m.group('bits')}"
        raise SyntaxProblem(f"xchg returns into its source register: write 'r{src} = {fn}(..., r{src})'")
    return Stmt.of(row, dst=llvm_reg(m.group("base"))[0], src=src, off=_disp(m))


def _cmpxchg(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    _check_fn_width(m.group("fn"), m.group("bits"))
    row = _atomic_row("cmpxchg", m.group("bits"))
    if dst[0] != 0 or llvm_reg(m.group("old"))[0] != 0:
        fn = f"{m.group('fn')}_{m.group('bits')}"
        raise SyntaxProblem(f"cmpxchg compares with and returns into r0: write 'r0 = {fn}(rN + off, r0, rM)'")
    src = llvm_reg(m.group("src"))[0]
    return Stmt.of(row, dst=llvm_reg(m.group("base"))[0], src=src, off=_disp(m))


def _mov_imm(dst: Dst, m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    row = _row(Form.ALU_IMM, "immediate move", is64=dst[1], op=AluOp.MOV, signed=False)
    return Stmt.of(row, dst=dst[0], imm=imm32(m.group(0)))


def _store(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    if m.group("sign") != "u":
        raise SyntaxProblem("stores write unsigned types: use *(u8/u16/u32/u64 *)")
    size = _width(m.group("bits"), "store")
    base, off = llvm_reg(m.group("base"))[0], _disp(m)
    value = m.group("value").strip()
    if _RHS_REG.fullmatch(value):
        row = _row(Form.STX, "such store", size=size)
        return Stmt.of(row, dst=base, src=llvm_reg(value)[0], off=off)
    row = _row(Form.ST, "such store", size=size)
    return Stmt.of(row, dst=base, off=off, imm=imm32(value))


def _lock(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    name = _SYMBOL_TO_ATOMIC.get(m.group("op"))
    if name is None or m.group("sign") != "u":
        ops = ", ".join(f"{s}=" for s in _SYMBOL_TO_ATOMIC)
        raise SyntaxProblem(f"lock takes *(u32 *) or *(u64 *) and one of {ops}")
    row = _atomic_row(name, m.group("bits"))
    return Stmt.of(row, dst=llvm_reg(m.group("base"))[0], src=llvm_reg(m.group("src"))[0], off=_disp(m))


def _if(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    dst = llvm_reg(m.group("dst"))
    op = _SYMBOL_TO_JMP[m.group("op")]
    rhs = m.group("rhs")
    if _RHS_REG.fullmatch(rhs):
        row = _row(Form.JCOND_REG, "such jump", is64=dst[1], op=op)
        stmt = Stmt.of(row, dst=dst[0], src=_same_width(dst, rhs, "comparison"))
    else:
        row = _row(Form.JCOND_IMM, "such jump", is64=dst[1], op=op)
        stmt = Stmt.of(row, dst=dst[0], imm=imm32(rhs))
    dest = target(m.group("t"), 16)
    stmt.off, stmt.target = dest.rel or 0, dest.label
    return stmt


def _goto(m: re.Match[str], symbols: AsmSymbols | None) -> Stmt:
    wide = m.group("word") == "gotol"
    dest = target(m.group("t"), 32 if wide else 16)
    if wide:
        stmt = Stmt.of(_row(Form.JA32, "gotol"), target_field="imm")
        stmt.imm = dest.rel or 0
    else:
        stmt = Stmt.of(_row(Form.JA, "goto"))
        stmt.off = dest.rel or 0
    stmt.target = dest.label
    return stmt


StatementParser = Callable[[re.Match[str], AsmSymbols | None], Stmt]
RhsParser = Callable[[Dst, re.Match[str], AsmSymbols | None], Stmt]

_STATEMENTS: list[tuple[re.Pattern[str], StatementParser]] = [
    (_COMPOUND, _compound),
    (_ASSIGN, _assign),
    (_STORE, _store),
    (_LOCK, _lock),
    (_IF, _if),
    (_GOTO, _goto),
]

_RIGHT_HAND_SIDES: list[tuple[re.Pattern[str], RhsParser]] = [
    (_RHS_REG, _mov_reg),
    (_RHS_NEG, _neg),
    (_RHS_MOVSX, _movsx),
    (_RHS_END, _end),
    (_RHS_LOAD, _load),
    (_RHS_SKB, _skb),
    (_RHS_LDDW, _lddw),
    (_RHS_PSEUDO, _pseudo),
    (_RHS_FETCH, _fetch),
    (_RHS_XCHG, _xchg),
    (_RHS_CMPXCHG, _cmpxchg),
    (_RHS_IMM, _mov_imm),
]
