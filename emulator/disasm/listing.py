"""Instructions to text: one instruction, a decoded program, or raw bytes.

Nothing here raises on odd input: an encoding that no mnemonic expresses becomes a
``.insn`` line with the reason in a comment, so a listing of any bytes can be assembled
back to the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from emulator.disasm import conformance, llvm
from emulator.disasm.rawform import insn_directive, slot_directive, unrepresentable
from emulator.disasm.resolver import NullResolver, SymbolResolver
from emulator.isa.insn import LDDW_OPCODE, SLOT, SLOT_SIZE, Insn, insn_from_slot

Dialect = Literal["llvm", "conformance"]

_COMMENT = {"llvm": ";", "conformance": "#"}


@dataclass(frozen=True, slots=True)
class Line:
    """One listing line: the instruction starting at slot ``pc``.

    ``raw`` holds the instruction's bytes (16 for lddw); ``label`` is the resolver's label
    (or else subprogram name) for ``pc``, to be shown on a line of its own before ``text``.
    """

    pc: int
    text: str
    raw: bytes
    label: str | None = None


def _check_dialect(dialect: str) -> Dialect:
    if dialect not in _COMMENT:
        raise ValueError(f"unknown dialect {dialect!r}: expected 'llvm' or 'conformance'")
    return dialect  # type: ignore[return-value]


def hex_bytes(raw: bytes) -> str:
    """``b7 00 00 00 01 00 00 00``: the byte column of a raw listing."""
    return raw.hex(" ")


def _with_raw(text: str, raw: bytes, show: bool) -> str:
    return f"{hex_bytes(raw)}  {text}" if show else text


def _text(insn: Insn, pc: int, dialect: Dialect, resolver: SymbolResolver) -> str:
    reason = unrepresentable(insn, dialect)
    info = insn.info
    if reason is not None or info is None:
        return f"{insn_directive(insn)}  {_COMMENT[dialect]} {reason}"
    try:
        if dialect == "llvm":
            return llvm.render(insn, info, pc, resolver)
        return conformance.render(insn, info, pc, resolver)
    except Exception as exc:  # a resolver bug must not take the listing down
        return f"{insn_directive(insn)}  {_COMMENT[dialect]} cannot render: {exc}"


def _label(resolver: SymbolResolver, pc: int) -> str | None:
    return resolver.label(pc) or resolver.subprog_name(pc)


def _encode(insn: Insn) -> bytes:
    try:
        return insn.encode()
    except Exception:  # fields out of range; the text already says so
        return b""


def format_insn(
    insn: Insn,
    pc: int = 0,
    *,
    dialect: Dialect = "llvm",
    resolver: SymbolResolver | None = None,
    raw: bool = False,
) -> str:
    """Text of one instruction at slot ``pc`` (pc makes relative targets nameable)."""
    dialect = _check_dialect(dialect)
    text = _text(insn, pc, dialect, resolver or NullResolver())
    return _with_raw(text, _encode(insn), raw)


def disassemble(
    insns_per_slot: Sequence[Insn | None],
    *,
    dialect: Dialect = "llvm",
    resolver: SymbolResolver | None = None,
    raw: bool = False,
) -> list[Line]:
    """Lines for a decoded program (``None`` slots, lddw second halves, are skipped)."""
    dialect = _check_dialect(dialect)
    res = resolver or NullResolver()
    lines: list[Line] = []
    for pc, insn in enumerate(insns_per_slot):
        if insn is None:
            continue
        data = _encode(insn)
        text = _with_raw(_text(insn, pc, dialect, res), data, raw)
        lines.append(Line(pc, text, data, _label(res, pc)))
    return lines


def disassemble_bytes(
    data: bytes,
    *,
    dialect: Dialect = "llvm",
    resolver: SymbolResolver | None = None,
    raw: bool = False,
) -> list[Line]:
    """Lines for raw program bytes, byte-exact.

    Unlike :func:`disassemble` this sees the second slot of a lddw, so a lddw whose second
    slot has stray fields (or is missing) becomes a one-slot ``.insn`` and the following
    slot is listed on its own. Trailing bytes that do not fill a slot become a comment line
    (the only output that does not assemble back).
    """
    dialect = _check_dialect(dialect)
    res = resolver or NullResolver()
    comment = _COMMENT[dialect]
    nslots = len(data) // SLOT_SIZE
    lines: list[Line] = []
    pc = 0
    while pc < nslots:
        first = data[pc * SLOT_SIZE : (pc + 1) * SLOT_SIZE]
        insn = insn_from_slot(first)
        if insn.opcode == LDDW_OPCODE:
            second = data[(pc + 1) * SLOT_SIZE : (pc + 2) * SLOT_SIZE]
            op2, regs2, off2, imm2 = SLOT.unpack(second) if len(second) == 8 else (1, 0, 0, 0)
            if op2 or regs2 or off2:
                why = (
                    "lddw without its second slot"
                    if len(second) < 8
                    else "lddw whose second slot has opcode, registers or offset set"
                )
                text = f"{slot_directive(first[0], first[1], insn.off, insn.imm)}  {comment} {why}"
                lines.append(Line(pc, _with_raw(text, first, raw), first, _label(res, pc)))
                pc += 1
                continue
            wide = Insn(insn.opcode, insn.dst, insn.src, insn.off, insn.imm, imm2)
            text = _with_raw(_text(wide, pc, dialect, res), first + second, raw)
            lines.append(Line(pc, text, first + second, _label(res, pc)))
            pc += 2
            continue
        text = _with_raw(_text(insn, pc, dialect, res), first, raw)
        lines.append(Line(pc, text, first, _label(res, pc)))
        pc += 1
    tail = data[nslots * SLOT_SIZE :]
    if tail:
        note = f"{comment} {len(tail)} trailing bytes do not fill a slot: {hex_bytes(tail)}"
        lines.append(Line(nslots, note, tail, None))
    return lines


def render_listing(lines: Sequence[Line], *, indent: str = "    ") -> str:
    """Lines as assembler input: ``label:`` lines before labelled instructions."""
    out: list[str] = []
    for line in lines:
        if line.label:
            out.append(f"{line.label}:")
        out.append(f"{indent}{line.text}")
    return "\n".join(out) + ("\n" if out else "")
