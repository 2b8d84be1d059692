"""Capstone listings of JIT images: per eBPF instruction, or the whole image annotated with
the eBPF instruction each native range came from.

Relative branch and call targets are printed as absolute addresses because the bytes are
disassembled at the image's emulated base (the addresses Unicorn's rip shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from capstone import CS_ARCH_X86, CS_MODE_64, CS_OPT_SYNTAX_ATT, CS_OPT_SYNTAX_INTEL, Cs

from emulator.backends.base import NativeInsn
from emulator.backends.hostjit.emitter import JitProgram

SYNTAXES = ("intel", "att")


@cache
def _disassembler(syntax: str) -> Cs:
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r} (known: {', '.join(SYNTAXES)})")
    md = Cs(CS_ARCH_X86, CS_MODE_64)
    md.syntax = CS_OPT_SYNTAX_ATT if syntax == "att" else CS_OPT_SYNTAX_INTEL
    return md


def disassemble(code: bytes, address: int, syntax: str = "intel") -> list[NativeInsn]:
    """Every instruction of ``code`` placed at ``address``."""
    out = []
    for insn in _disassembler(syntax).disasm(code, address):
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        out.append(NativeInsn(insn.address, bytes(insn.bytes), text))
    return out


def native_of(jit: JitProgram, pc: int, syntax: str = "intel") -> list[NativeInsn]:
    """The native instructions eBPF instruction ``pc`` produced ([] for none, e.g. `ja +0`)."""
    fn = jit.function_of(pc)
    if fn is None or pc not in fn.ranges:
        return []
    start, end = fn.ranges[pc]
    return disassemble(fn.code[start:end], fn.base + start, syntax)


@dataclass(frozen=True, slots=True)
class ListingLine:
    """One native instruction of a whole-image listing. ``pc`` is the eBPF instruction it
    belongs to, None for the prologue and the trailing fall-off call."""

    pc: int | None
    function: int  # entry pc of the function image
    insn: NativeInsn


def image_listing(jit: JitProgram, syntax: str = "intel") -> list[ListingLine]:
    """Every function image in order, each native instruction tagged with its eBPF pc."""
    lines: list[ListingLine] = []
    for fn in jit.functions:
        owner: dict[int, int] = {}
        for pc, (start, end) in fn.ranges.items():
            for off in range(start, end):
                owner[off] = pc
        for insn in disassemble(fn.code, fn.base, syntax):
            lines.append(ListingLine(owner.get(insn.address - fn.base), fn.entry, insn))
    return lines


def format_listing(lines: list[ListingLine]) -> str:
    """Text of an image listing: a ``; insn N`` header where each eBPF instruction starts."""
    out: list[str] = []
    last: object = object()
    for line in lines:
        if line.pc != last:
            out.append(f"; insn {line.pc}" if line.pc is not None else f"; function {line.function}: frame")
            last = line.pc
        out.append(f"  {line.insn.address:#x}: {line.insn.raw.hex(' '):<30} {line.insn.text}")
    return "\n".join(out)
