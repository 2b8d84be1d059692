"""The assembler driver: lines -> statements -> resolved labels -> instructions or bytes.

Per line: comments (``#``, ``;``, ``//``) and a trailing ``<name>`` annotation are dropped,
an optional leading byte column (``b7 00 00 00 01 00 00 00  r0 = 1``, as a raw listing
prints it) is skipped, ``name:`` labels are recorded (an instruction may follow on the
same line), and the rest is parsed in the requested dialect, or, with ``dialect="auto"``,
in the dialect the line looks like (an ``=``, or a leading ``if``/``goto``/``gotol``,
register or ``*(`` means LLVM). ``call``, ``callx``, ``exit`` and ``.insn`` read the same in both.

After the last line, the first ``exit`` gets the implicit label ``exit`` (a conformance
suite quirk: ``ja exit``) unless a label of that name exists, and jump/call targets that
name labels are resolved relative to the next slot.
"""

from __future__ import annotations

import re
from typing import Literal

from emulator.asm import conformance, llvm
from emulator.asm.common import AsmSymbols, is_neutral, parse_neutral
from emulator.asm.operands import LABEL, SyntaxProblem
from emulator.asm.rows import find_row
from emulator.asm.stmt import Stmt
from emulator.errors import AsmError
from emulator.isa.insn import Insn
from emulator.isa.table import Form

AsmDialect = Literal["auto", "llvm", "conformance"]

# A '#' starts a comment unless it is bpftool's helper spelling `name#id`.
_COMMENT = re.compile(r"//|;|#(?!(?<=[A-Za-z0-9_]#)-?\d)")
_ANNOTATION = re.compile(r"\s*<[^<>]*>\s*$")
_HEX2 = r"[0-9a-fA-F]{2}"
_BYTE_COLUMN = re.compile(rf"(?:{_HEX2}[ \t]+){{7}}{_HEX2}(?:(?:[ \t]+{_HEX2}){{8}})?[ \t]+(?=\S)")
_LABEL_DEF = re.compile(rf"(?P<name>{LABEL}):(?:\s+|$)")
_LLVM_START = re.compile(r"(?:if|goto|gotol)\b|[rw]\d+\b|\*|lock\s+\*")


def strip_comment(line: str) -> str:
    """The line without its comment."""
    match = _COMMENT.search(line)
    return line[: match.start()] if match else line


def looks_like_llvm(line: str) -> bool:
    """Auto-detection: LLVM statements assign (``=``) or start with if/goto/gotol, a
    register or a ``*(...)`` memory reference; conformance lines start with a mnemonic."""
    return "=" in line or bool(_LLVM_START.match(line))


def _parse(line: str, dialect: AsmDialect, symbols: AsmSymbols | None) -> Stmt:
    if is_neutral(line):
        return parse_neutral(line, symbols)
    if dialect == "llvm" or (dialect == "auto" and looks_like_llvm(line)):
        try:
            return llvm.parse(line, symbols)
        except SyntaxProblem as exc:
            if dialect == "llvm" and "%" in line:
                hint = "this looks like conformance syntax; use dialect='conformance' or 'auto'"
                raise SyntaxProblem(f"{exc} ({hint})") from None
            raise
    try:
        return conformance.parse(line, symbols)
    except SyntaxProblem as exc:
        if dialect == "conformance" and looks_like_llvm(line):
            hint = "this looks like LLVM syntax; use dialect='llvm' or 'auto'"
            raise SyntaxProblem(f"{exc} ({hint})") from None
        raise


def parse_program(text: str, dialect: AsmDialect = "auto", symbols: AsmSymbols | None = None) -> list[Stmt]:
    """Statements with every label resolved (AsmError on the first problem)."""
    if dialect not in ("auto", "llvm", "conformance"):
        raise ValueError(f"unknown dialect {dialect!r}: expected 'auto', 'llvm' or 'conformance'")
    stmts: list[Stmt] = []
    labels: dict[str, tuple[int, int]] = {}  # name -> (pc, line)
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _ANNOTATION.sub("", strip_comment(raw)).strip()
        line = _BYTE_COLUMN.sub("", line, count=1)
        while match := _LABEL_DEF.match(line):
            name = match.group("name")
            if name in labels:
                raise AsmError(
                    f"duplicate label {name!r} (first defined on line {labels[name][1]})", lineno, raw
                )
            labels[name] = (pc, lineno)
            line = line[match.end() :]
        if not line:
            continue
        try:
            stmt = _parse(line, dialect, symbols)
        except SyntaxProblem as exc:
            raise AsmError(str(exc), lineno, raw) from None
        stmt.pc, stmt.line, stmt.text = pc, lineno, raw
        stmts.append(stmt)
        pc += stmt.slots
    if "exit" not in labels:
        exit_opcode = _exit_opcode()
        first_exit = next((s for s in stmts if s.opcode == exit_opcode and s.slots == 1), None)
        if first_exit is not None:
            labels["exit"] = (first_exit.pc, first_exit.line)
    for stmt in stmts:
        if stmt.target is not None:
            _resolve(stmt, {name: where[0] for name, where in labels.items()}, symbols)
    return stmts


def _exit_opcode() -> int:
    row = find_row(Form.EXIT)
    assert row is not None
    return row.opcode


def _resolve(stmt: Stmt, labels: dict[str, int], symbols: AsmSymbols | None) -> None:
    name = stmt.target
    assert name is not None
    if name not in labels:
        if stmt.helper_fallback:
            helper = symbols.helper_id(name) if symbols is not None else None
            if helper is not None:
                stmt.src, stmt.imm, stmt.target = 0, helper, None  # helper call by name
                return
            raise AsmError(f"unknown label or helper {name!r}", stmt.line, stmt.text)
        known = ", ".join(sorted(labels)) or "none"
        raise AsmError(f"unknown label {name!r} (known labels: {known})", stmt.line, stmt.text)
    distance = labels[name] - (stmt.pc + 1)
    bits = 16 if stmt.target_field == "off" else 32
    if not -(1 << (bits - 1)) <= distance < (1 << (bits - 1)):
        raise AsmError(
            f"label {name!r} is {distance:+d} slots away, which does not fit the "
            f"{bits}-bit {stmt.target_field} field",
            stmt.line,
            stmt.text,
        )
    setattr(stmt, stmt.target_field, distance)


def assemble(text: str, *, dialect: AsmDialect = "auto", symbols: AsmSymbols | None = None) -> list[Insn]:
    """Instructions of ``text`` (a lddw is one Insn covering two slots)."""
    out: list[Insn] = []
    for stmt in parse_program(text, dialect, symbols):
        if stmt.lone_wide_slot:
            raise AsmError(
                ".insn with opcode 0x18 and 4 operands is a lone lddw slot, which an "
                "Insn cannot hold; use assemble_bytes() or give the 5-operand form",
                stmt.line,
                stmt.text,
            )
        out.append(stmt.to_insn())
    return out


def assemble_bytes(text: str, *, dialect: AsmDialect = "auto", symbols: AsmSymbols | None = None) -> bytes:
    """The program bytes of ``text`` (8 per slot, little-endian)."""
    return b"".join(stmt.to_bytes() for stmt in parse_program(text, dialect, symbols))
