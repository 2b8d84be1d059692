"""Parser for the conformance-suite dialect (``ldxw %r0, [%r1+4]``, ``jeq %r1, 0x10, +3``).

The mnemonic (up to three words: ``lock fetch add32``) names the table rows; when a
mnemonic has a register and an immediate form (``add``, ``jeq``) the second operand decides.
Operands are separated by commas; unlike the suite's own tokenizer, spaces inside an operand
(``[%r10 - 8]``) are tolerated.
"""

from __future__ import annotations

import re

from emulator.asm.common import AsmSymbols, parse_lddw_value
from emulator.asm.operands import UNSIGNED, SyntaxProblem, conf_reg, imm32, off16, target
from emulator.asm.rows import conformance_mnemonics, max_mnemonic_words
from emulator.asm.stmt import Stmt
from emulator.isa.table import Form, OpInfo

_MEM = re.compile(rf"\[\s*(?P<base>%r\d+)\s*(?P<disp>[-+]\s*{UNSIGNED})?\s*\]")

# Operand names per form, for arity errors ("ldxw expects 2 operands (dst, [src+off])").
_SHAPES: dict[Form, tuple[str, ...]] = {
    Form.ALU_REG: ("dst", "src"),
    Form.ALU_IMM: ("dst", "imm"),
    Form.NEG: ("dst",),
    Form.MOVSX: ("dst", "src"),
    Form.END: ("dst",),
    Form.JA: ("target",),
    Form.JA32: ("target",),
    Form.JCOND_REG: ("dst", "src", "target"),
    Form.JCOND_IMM: ("dst", "imm", "target"),
    Form.LDDW: ("dst", "value"),
    Form.LD_ABS: ("imm",),
    Form.LD_IND: ("src", "imm"),
    Form.LDX: ("dst", "[src+off]"),
    Form.LDXSX: ("dst", "[src+off]"),
    Form.ST: ("[dst+off]", "imm"),
    Form.STX: ("[dst+off]", "src"),
    Form.ATOMIC: ("[dst+off]", "src"),
}


def split_mnemonic(line: str) -> tuple[str, str] | None:
    """(mnemonic, operand text) using the longest known mnemonic at the start of ``line``."""
    words = line.split()
    index = conformance_mnemonics()
    for count in range(min(max_mnemonic_words(), len(words)), 0, -1):
        candidate = " ".join(words[:count]).lower()
        if candidate in index:
            prefix = re.match(r"\s*" + r"\s+".join(re.escape(w) for w in words[:count]), line)
            assert prefix is not None
            return candidate, line[prefix.end() :].strip()
    return None


def _mem(token: str) -> tuple[int, int]:
    match = _MEM.fullmatch(token.strip())
    if not match:
        raise SyntaxProblem(f"expected a memory operand like [%r1+4] or [%r10-8], got {token!r}")
    disp = match.group("disp")
    off = off16(disp.replace(" ", ""), "memory offset") if disp else 0
    return conf_reg(match.group("base")), off


def _imm(token: str, what: str = "immediate") -> int:
    """An immediate operand; a register spelled without ``%`` gets a pointed message."""
    if re.fullmatch(r"\s*[A-Za-z]\w*\s*", token):
        raise SyntaxProblem(f"expected a register %r0-%r10 or an {what}, got {token.strip()!r}")
    return imm32(token, what)


def _is_reg(token: str) -> bool:
    return token.strip().startswith("%")


def _pick(rows: tuple[OpInfo, ...], operands: list[str]) -> OpInfo:
    """Choose between a register and an immediate form by the operand that differs."""
    if len(rows) == 1:
        return rows[0]
    reg_forms = {Form.ALU_REG, Form.JCOND_REG}
    by_reg = len(operands) > 1 and _is_reg(operands[1])
    for row in rows:
        if (row.form in reg_forms) == by_reg:
            return row
    return rows[0]


def parse(line: str, symbols: AsmSymbols | None) -> Stmt:
    """One conformance-dialect instruction (labels and comments already removed)."""
    split = split_mnemonic(line)
    if split is None:
        word = line.split()[0]
        raise SyntaxProblem(f"unknown mnemonic {word!r}")
    mnemonic, rest = split
    operands = [p.strip() for p in rest.split(",")] if rest else []
    rows = conformance_mnemonics()[mnemonic]
    row = _pick(rows, operands)
    shape = _SHAPES.get(row.form)
    if shape is None:  # pragma: no cover - call/exit are handled as dialect-neutral lines
        raise SyntaxProblem(f"{mnemonic} is not written in this form")
    if len(operands) != len(shape):
        raise SyntaxProblem(
            f"{mnemonic} expects {len(shape)} operand"
            f"{'s' if len(shape) != 1 else ''} ({', '.join(shape)}), "
            f"got {len(operands)}"
        )
    return _build(row, operands, symbols)


def _build(row: OpInfo, ops: list[str], symbols: AsmSymbols | None) -> Stmt:
    form = row.form
    if form is Form.ALU_REG or form is Form.MOVSX:
        return Stmt.of(row, dst=conf_reg(ops[0]), src=conf_reg(ops[1]))
    if form is Form.ALU_IMM:
        return Stmt.of(row, dst=conf_reg(ops[0]), imm=_imm(ops[1]))
    if form is Form.NEG or form is Form.END:
        return Stmt.of(row, dst=conf_reg(ops[0]))
    if form is Form.JA or form is Form.JA32:
        wide = form is Form.JA32
        dest = target(ops[0], 32 if wide else 16)
        stmt = Stmt.of(row, target_field="imm" if wide else "off")
        setattr(stmt, stmt.target_field, dest.rel or 0)
        stmt.target = dest.label
        return stmt
    if form is Form.JCOND_REG or form is Form.JCOND_IMM:
        if form is Form.JCOND_REG:
            stmt = Stmt.of(row, dst=conf_reg(ops[0]), src=conf_reg(ops[1]))
        else:
            stmt = Stmt.of(row, dst=conf_reg(ops[0]), imm=_imm(ops[1]))
        dest = target(ops[2], 16)
        stmt.off, stmt.target = dest.rel or 0, dest.label
        return stmt
    if form is Form.LDDW:
        return parse_lddw_value(conf_reg(ops[0]), ops[1], symbols)
    if form is Form.LD_ABS:
        return Stmt.of(row, imm=imm32(ops[0], "packet offset"))
    if form is Form.LD_IND:
        return Stmt.of(row, src=conf_reg(ops[0]), imm=imm32(ops[1], "packet offset"))
    if form is Form.LDX or form is Form.LDXSX:
        base, off = _mem(ops[1])
        return Stmt.of(row, dst=conf_reg(ops[0]), src=base, off=off)
    base, off = _mem(ops[0])
    if form is Form.ST:
        return Stmt.of(row, dst=base, off=off, imm=_imm(ops[1]))
    return Stmt.of(row, dst=base, src=conf_reg(ops[1]), off=off)  # STX, ATOMIC
