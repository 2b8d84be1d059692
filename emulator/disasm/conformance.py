"""The conformance-suite dialect: ``ldxw %r0, [%r1+4]``, ``jeq %r1, 0x10, +3``.

The mnemonic is the table's ``info.mnemonic``; operands follow the bpf_conformance
assembler (operands separated by ``, `` and never containing spaces, since that assembler
splits on whitespace). Numbers follow ``bpf_disasm`` (see :mod:`emulator.disasm.spelling`).
Names from a resolver become a trailing ``# name`` comment, which the suite's parser drops.

Spellings the suite has no syntax for (we chose them; our assembler reads them back):
``callx`` is ``call %r2`` (as the suite's assembler accepts), kfunc calls are
``call kfunc 1234``, legacy packet loads are ``ldabsw 12`` / ``ldindw %r1, 12``, and lddw
pseudo forms reuse the LLVM bracket notation without spaces: ``lddw %r1, map[fd:5]``,
``map[fd:5][0]+8``, ``map[idx:0]``, ``map[idx:0][0]+8``, ``btf_id[1234]``,
``btf_id[1234][fd:3]``, ``func[+3]``.
"""

from __future__ import annotations

from emulator.disasm.resolver import MapKind, SymbolResolver
from emulator.disasm.spelling import conf_imm, conf_mem, rel
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form, OpInfo


def _reg(num: int) -> str:
    return f"%r{num}"


def _with_note(text: str, name: str | None) -> str:
    return f"{text}  # {name}" if name else text


def _jump_name(res: SymbolResolver, target: int) -> str | None:
    return res.label(target) or res.subprog_name(target)


def _call_name(res: SymbolResolver, target: int) -> str | None:
    return res.subprog_name(target) or res.label(target)


def _operands(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> tuple[str, str | None]:
    """(operand text, optional name for a comment) of a representable instruction."""
    form = info.form
    dst, src = _reg(insn.dst), _reg(insn.src)
    if form is Form.ALU_REG or form is Form.MOVSX:
        return f"{dst}, {src}", None
    if form is Form.ALU_IMM:
        return f"{dst}, {conf_imm(insn.imm)}", None
    if form is Form.NEG or form is Form.END:
        return dst, None
    if form is Form.JA:
        return rel(insn.off), _jump_name(res, pc + 1 + insn.off)
    if form is Form.JA32:
        return rel(insn.imm), _jump_name(res, pc + 1 + insn.imm)
    if form is Form.JCOND_REG or form is Form.JCOND_IMM:
        rhs = src if form is Form.JCOND_REG else conf_imm(insn.imm)
        return f"{dst}, {rhs}, {rel(insn.off)}", _jump_name(res, pc + 1 + insn.off)
    if form is Form.CALL:
        if info.op == CallKind.LOCAL:
            return rel(insn.imm), _call_name(res, pc + 1 + insn.imm)
        name = res.helper_name(insn.imm) if info.op == CallKind.HELPER else None
        return str(insn.imm), name
    if form is Form.CALLX:
        return dst, None
    if form is Form.EXIT:
        return "", None
    if form is Form.LDDW:
        return _lddw(insn, info, pc, res)
    if form is Form.LD_ABS:
        return conf_imm(insn.imm), None
    if form is Form.LD_IND:
        return f"{src}, {conf_imm(insn.imm)}", None
    if form is Form.LDX or form is Form.LDXSX:
        return f"{dst}, {conf_mem(src, insn.off)}", None
    if form is Form.ST:
        return f"{conf_mem(dst, insn.off)}, {conf_imm(insn.imm)}", None
    # Form.STX and Form.ATOMIC
    return f"{conf_mem(dst, insn.off)}, {src}", None


def _lddw(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> tuple[str, str | None]:
    dst = _reg(insn.dst)
    pseudo = PseudoSrc(info.variant)
    hi = insn.imm_hi & 0xFFFFFFFF
    if pseudo is PseudoSrc.IMM64:
        return f"{dst}, 0x{insn.imm64:x}", None
    if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE):
        kind: MapKind = "fd" if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) else "idx"
        value = "" if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX) else f"[0]+{hi}"
        return f"{dst}, map[{kind}:{insn.imm}]{value}", res.map_name(kind, insn.imm)
    if pseudo is PseudoSrc.BTF_ID:
        module = f"[fd:{insn.imm_hi}]" if insn.imm_hi else ""
        return f"{dst}, btf_id[{insn.imm}]{module}", None
    return f"{dst}, func[{rel(insn.imm)}]", _call_name(res, pc + 1 + insn.imm)


def render(insn: Insn, info: OpInfo, pc: int, resolver: SymbolResolver) -> str:
    """Conformance-dialect text of a representable instruction."""
    operands, name = _operands(insn, info, pc, resolver)
    if info.form is Form.CALLX:
        mnemonic = "call"  # the suite's assembler spells callx as `call %rN`
    else:
        mnemonic = info.mnemonic
    text = f"{mnemonic} {operands}" if operands else mnemonic
    return _with_note(text, name)
