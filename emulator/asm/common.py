"""Lines that read the same in both dialects: calls, ``exit``, ``.insn``, lddw operands.

``call`` accepts every spelling either side uses: ``call 1``, ``call helper 1``,
``call bpf_map_lookup_elem#1``, ``call pc+3``, ``call local LABEL``, ``call kfunc#7``,
``call kfunc 7``, ``call runtime 7``, ``call %r2`` (callx) and ``call NAME`` (a local call when
NAME is a label, otherwise a helper looked up through the symbols).
"""

from __future__ import annotations

import re
from typing import Protocol

from emulator.asm.operands import (
    LABEL,
    NUMBER,
    UNSIGNED,
    SyntaxProblem,
    any_reg,
    imm32,
    imm64,
    off16,
    parse_int,
    target,
    uint32,
)
from emulator.asm.rows import find_row
from emulator.asm.stmt import Stmt
from emulator.disasm.resolver import MapKind
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import LDDW_OPCODE
from emulator.isa.table import Form, OpInfo


class AsmSymbols(Protocol):
    """Optional name lookups for the assembler (the reverse of the disassembler's resolver)."""

    def helper_id(self, name: str) -> int | None:
        """Id of the helper called ``name`` (for ``call bpf_trace_printk``)."""
        ...

    def map_ref(self, name: str) -> tuple[MapKind, int] | None:
        """How ``map[name]`` is encoded: by fd or by index, and the number."""
        ...


def _row(form: Form, **attrs: int) -> OpInfo:
    row = find_row(form, **attrs)
    if row is None:  # pragma: no cover - the table always has these
        raise SyntaxProblem(f"the opcode table has no {form.value} row for {attrs}")
    return row


def is_neutral(line: str) -> bool:
    """True for lines both dialects spell alike (handled here, not by a dialect parser)."""
    word = line.split(None, 1)[0].lower()
    return word in ("call", "callx", "exit", ".insn")


def parse_neutral(line: str, symbols: AsmSymbols | None) -> Stmt:
    word, _, rest = line.partition(" ")
    word = word.lower()
    rest = rest.strip()
    if word == "exit":
        if rest:
            raise SyntaxProblem(f"exit takes no operands, got {rest!r}")
        return Stmt.of(_row(Form.EXIT))
    if word == "callx":
        return Stmt.of(_row(Form.CALLX), dst=any_reg(rest))
    if word == "call":
        return _call(rest, symbols)
    return _directive(rest)


_CALL_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"%r\d+"), "callx"),
    (re.compile(r"local\s+(?P<t>\S+)"), "local"),
    (re.compile(rf"pc\s*(?P<t>[-+]\s*{UNSIGNED})"), "local"),
    (re.compile(r"helper\s+(?P<n>\S+)"), "helper"),
    (re.compile(r"(?:kfunc|runtime)(?:\s+|\s*#\s*)(?P<n>\S+)"), "kfunc"),
    (re.compile(rf"{LABEL}#(?P<n>{NUMBER})"), "helper"),
    (re.compile(rf"(?P<n>{NUMBER})"), "helper"),
    (re.compile(rf"(?P<name>{LABEL})"), "name"),
]


def _call(rest: str, symbols: AsmSymbols | None) -> Stmt:
    for pattern, kind in _CALL_FORMS:
        match = pattern.fullmatch(rest)
        if not match:
            continue
        if kind == "callx":
            return Stmt.of(_row(Form.CALLX), dst=any_reg(rest))
        if kind == "local":
            dest = target(match.group("t"), 32)
            stmt = Stmt.of(_row(Form.CALL, variant=CallKind.LOCAL), target_field="imm")
            stmt.imm, stmt.target = dest.rel or 0, dest.label
            return stmt
        if kind == "helper":
            return Stmt.of(_row(Form.CALL, variant=CallKind.HELPER), imm=imm32(match.group("n"), "helper id"))
        if kind == "kfunc":
            return Stmt.of(
                _row(Form.CALL, variant=CallKind.KFUNC), imm=imm32(match.group("n"), "kfunc BTF id")
            )
        stmt = Stmt.of(_row(Form.CALL, variant=CallKind.LOCAL), target_field="imm")
        stmt.target, stmt.helper_fallback = match.group("name"), True
        return stmt
    raise SyntaxProblem(
        "expected a call target: a helper id (call 1, call name#1), a local call "
        f"(call pc+3, call local LABEL), call kfunc#ID or call %rN; got {rest!r}"
    )


def _directive(rest: str) -> Stmt:
    parts = [p.strip() for p in rest.split(",")] if rest else []
    if len(parts) not in (4, 5):
        raise SyntaxProblem(
            ".insn expects 4 operands (opcode, regs, off, imm) or 5 for a two-slot lddw "
            f"(opcode, regs, off, imm, imm of the second slot), got {len(parts)}"
        )
    opcode, _ = parse_int(parts[0], "an opcode byte")
    regs, _ = parse_int(parts[1], "a register byte (src << 4 | dst)")
    for value, what in ((opcode, "opcode"), (regs, "register byte")):
        if not 0 <= value <= 0xFF:
            raise SyntaxProblem(f".insn {what} {value:#x} does not fit in a byte")
    stmt = Stmt(opcode, regs & 0xF, regs >> 4, off=off16(parts[2]), imm=imm32(parts[3]))
    if len(parts) == 5:
        if opcode != LDDW_OPCODE:
            raise SyntaxProblem(
                f".insn with 5 operands is the two-slot lddw form; opcode must be 0x18, not {opcode:#04x}"
            )
        stmt.imm_hi = imm32(parts[4], "second-slot immediate")
        stmt.slots = 2
    return stmt


# lddw operands beyond a plain number: the pseudo forms of the wide instruction.
_MAP_RE = re.compile(
    rf"map\s*\[\s*(?:(?P<kind>fd|idx)\s*:\s*(?P<num>{NUMBER})|(?P<name>{LABEL}))"
    rf"\s*\]\s*(?:\[\s*0\s*\]\s*\+\s*(?P<value>{NUMBER}))?"
)
_BTF_RE = re.compile(
    rf"btf_id\s*\[\s*(?P<id>{NUMBER})\s*\]"
    rf"\s*(?:\[\s*fd\s*:\s*(?P<fd>{NUMBER})\s*\])?"
)
_FUNC_RE = re.compile(r"func\s*\[\s*(?P<t>[^\]]+?)\s*\]")


def parse_lddw_value(dst: int, value: str, symbols: AsmSymbols | None) -> Stmt:
    """A lddw of ``value``: a 64-bit number or one of the pseudo forms."""
    value = value.strip()
    if match := _MAP_RE.fullmatch(value):
        if match.group("name"):
            ref = symbols.map_ref(match.group("name")) if symbols else None
            if ref is None:
                raise SyntaxProblem(
                    f"unknown map {match.group('name')!r}: write map[fd:N] or "
                    f"map[idx:N], or pass symbols that know the name"
                )
            by_fd, number = ref[0] == "fd", ref[1]
        else:
            by_fd, number = match.group("kind") == "fd", imm32(match.group("num"), "map number")
        with_value = match.group("value") is not None
        if by_fd:
            pseudo = PseudoSrc.MAP_VALUE if with_value else PseudoSrc.MAP_FD
        else:
            pseudo = PseudoSrc.MAP_IDX_VALUE if with_value else PseudoSrc.MAP_IDX
        hi = uint32(match.group("value"), "map value offset") if with_value else 0
        return Stmt.of(_row(Form.LDDW, variant=pseudo), dst=dst, imm=number, imm_hi=hi)
    if match := _BTF_RE.fullmatch(value):
        hi = imm32(match.group("fd"), "BTF fd") if match.group("fd") else 0
        return Stmt.of(
            _row(Form.LDDW, variant=PseudoSrc.BTF_ID),
            dst=dst,
            imm=imm32(match.group("id"), "BTF id"),
            imm_hi=hi,
        )
    if match := _FUNC_RE.fullmatch(value):
        dest = target(match.group("t"), 32)
        stmt = Stmt.of(_row(Form.LDDW, variant=PseudoSrc.FUNC), dst=dst, target_field="imm")
        stmt.imm, stmt.target = dest.rel or 0, dest.label
        return stmt
    if re.fullmatch(NUMBER, value):
        lo, hi = imm64(value)
        return Stmt.of(_row(Form.LDDW, variant=PseudoSrc.IMM64), dst=dst, imm=lo, imm_hi=hi)
    raise SyntaxProblem(
        "expected a 64-bit value or map[fd:N], map[fd:N][0]+OFF, map[idx:N], "
        f"map[idx:N][0]+OFF, btf_id[N], func[pc+N] or func[LABEL]; got {value!r}"
    )
