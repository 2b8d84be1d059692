"""The LLVM/bpftool dialect: ``r0 = *(u32 *)(r1 + 0)``, ``if w1 s< w2 goto -2``.

One function per operand shape (:class:`~emulator.isa.table.Form`); the operation comes from
``info.op`` and the width from ``info.is64`` / ``info.size``, so nothing here lists opcodes.
Names from a resolver for jump, call and ``func`` targets and for maps are appended as a
``<name>`` annotation, the way llvm-objdump shows labels; the assembler ignores annotations,
so the text reads back to the same bytes with or without a resolver. Helper names use
bpftool's ``name#id`` spelling, which keeps the id.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.disasm.resolver import MapKind, SymbolResolver
from emulator.disasm.spelling import (
    ALU_SYMBOL,
    ATOMIC_SYMBOL,
    JMP_SYMBOL,
    SIZE_BITS,
    llvm_disp,
    llvm_imm,
    llvm_imm64,
    rel,
)
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import ATOMIC_NAMES, Form, OpInfo


def _reg(num: int, is64: bool = True) -> str:
    return f"{'r' if is64 else 'w'}{num}"


def _mem(size: int, base: int, off: int, signed: bool = False) -> str:
    return f"*({'s' if signed else 'u'}{SIZE_BITS[size]} *)(r{base} {llvm_disp(off)})"


def _note(name: str | None) -> str:
    return f" <{name}>" if name else ""


def _target_name(resolver: SymbolResolver, target: int, *, call: bool = False) -> str | None:
    if call:
        return resolver.subprog_name(target) or resolver.label(target)
    return resolver.label(target) or resolver.subprog_name(target)


def _alu(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    dst = _reg(insn.dst, info.is64)
    rhs = _reg(insn.src, info.is64) if info.form is Form.ALU_REG else llvm_imm(insn.imm)
    symbol = ("s" if info.signed else "") + ALU_SYMBOL[info.op]
    return f"{dst} {symbol}= {rhs}"


def _neg(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    dst = _reg(insn.dst, info.is64)
    return f"{dst} = -{dst}"


def _movsx(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"{_reg(insn.dst, info.is64)} = (s{info.size}){_reg(insn.src, info.is64)}"


def _end(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"r{insn.dst} = {info.mnemonic} r{insn.dst}"


def _ja(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"goto {rel(insn.off)}{_note(_target_name(res, pc + 1 + insn.off))}"


def _ja32(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"gotol {rel(insn.imm)}{_note(_target_name(res, pc + 1 + insn.imm))}"


def _jcond(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    lhs = _reg(insn.dst, info.is64)
    rhs = _reg(insn.src, info.is64) if info.form is Form.JCOND_REG else llvm_imm(insn.imm)
    note = _note(_target_name(res, pc + 1 + insn.off))
    return f"if {lhs} {JMP_SYMBOL[info.op]} {rhs} goto {rel(insn.off)}{note}"


def _call(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    if info.op == CallKind.LOCAL:
        return f"call pc{rel(insn.imm)}{_note(_target_name(res, pc + 1 + insn.imm, call=True))}"
    if info.op == CallKind.KFUNC:
        return f"call kfunc#{insn.imm}"
    name = res.helper_name(insn.imm)
    return f"call {name}#{insn.imm}" if name else f"call {insn.imm}"


def _callx(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"callx r{insn.dst}"


def _exit(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return "exit"


def _lddw(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    dst = f"r{insn.dst}"
    pseudo = PseudoSrc(info.variant)
    hi = insn.imm_hi & 0xFFFFFFFF
    if pseudo is PseudoSrc.IMM64:
        return f"{dst} = {llvm_imm64(insn.imm64)} ll"
    if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE):
        kind: MapKind = "fd" if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) else "idx"
        value = "" if pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX) else f"[0]+{hi}"
        return f"{dst} = map[{kind}:{insn.imm}]{value}{_note(res.map_name(kind, insn.imm))}"
    if pseudo is PseudoSrc.BTF_ID:
        module = f"[fd:{insn.imm_hi}]" if insn.imm_hi else ""
        return f"{dst} = btf_id[{insn.imm}]{module}"
    # PseudoSrc.FUNC: address of the subprogram at pc + 1 + imm
    target = pc + 1 + insn.imm
    return f"{dst} = func[pc{rel(insn.imm)}]{_note(_target_name(res, target, call=True))}"


def _ld_abs(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"r0 = *(u{SIZE_BITS[info.size]} *)skb[{insn.imm}]"


def _ld_ind(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"r0 = *(u{SIZE_BITS[info.size]} *)skb[r{insn.src} {llvm_disp(insn.imm)}]"


def _ldx(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"r{insn.dst} = {_mem(info.size, insn.src, insn.off, info.signed)}"


def _st(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"{_mem(info.size, insn.dst, insn.off)} = {llvm_imm(insn.imm)}"


def _stx(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    return f"{_mem(info.size, insn.dst, insn.off)} = r{insn.src}"


def _atomic(insn: Insn, info: OpInfo, pc: int, res: SymbolResolver) -> str:
    is64 = info.size == 8
    bits = SIZE_BITS[info.size]
    src = _reg(insn.src, is64)
    addr = f"r{insn.dst} {llvm_disp(insn.off)}"
    words = ATOMIC_NAMES[info.variant].split()
    if words[0] == "fetch":
        return f"{src} = atomic_fetch_{words[1]}((u{bits} *)({addr}), {src})"
    if words[0] == "xchg":
        return f"{src} = xchg{'' if is64 else '32'}_{bits}({addr}, {src})"
    if words[0] == "cmpxchg":
        r0 = _reg(0, is64)
        return f"{r0} = cmpxchg{'' if is64 else '32'}_{bits}({addr}, {r0}, {src})"
    return f"lock {_mem(info.size, insn.dst, insn.off)} {ATOMIC_SYMBOL[words[0]]}= {src}"


Renderer = Callable[[Insn, OpInfo, int, SymbolResolver], str]

RENDER: dict[Form, Renderer] = {
    Form.ALU_REG: _alu,
    Form.ALU_IMM: _alu,
    Form.NEG: _neg,
    Form.MOVSX: _movsx,
    Form.END: _end,
    Form.JA: _ja,
    Form.JA32: _ja32,
    Form.JCOND_REG: _jcond,
    Form.JCOND_IMM: _jcond,
    Form.CALL: _call,
    Form.CALLX: _callx,
    Form.EXIT: _exit,
    Form.LDDW: _lddw,
    Form.LD_ABS: _ld_abs,
    Form.LD_IND: _ld_ind,
    Form.LDX: _ldx,
    Form.LDXSX: _ldx,
    Form.ST: _st,
    Form.STX: _stx,
    Form.ATOMIC: _atomic,
}
assert set(RENDER) == set(Form), "every Form needs an LLVM renderer"


def render(insn: Insn, info: OpInfo, pc: int, resolver: SymbolResolver) -> str:
    """LLVM text of a representable instruction."""
    return RENDER[info.form](insn, info, pc, resolver)
