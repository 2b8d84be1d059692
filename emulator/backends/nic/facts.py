"""ProgramFacts: what the NFP translator may assume about each instruction, on every path.

The kernel's NFP driver does not see one verifier state per instruction: its hook runs on
every path visit and *accumulates* (pointer type and offset per memory access, the union of
ranges per ALU operand, helper argument types per call). This module does the same
projection from :func:`emulator.verifier.analyse`'s visits, so that the translator (and
the debugger's address translation) works from exactly the facts the driver would have:

* a pointer operand is one :class:`Ptr`: its kind is ``"mixed"`` when paths disagree, its
  offset None when it is variable or differs between paths;
* a scalar operand is one :class:`Range`, the union over paths;
* registers and spilled slots keep a pointer kind only when every path agrees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from emulator.isa.fields import CallKind
from emulator.isa.table import Form
from emulator.verifier import Analysis, RegState, SubprogInfo, Visit
from emulator.verifier.regstate import M64, SCALAR, STACK, UNINIT

__all__ = ["InsnFacts", "ProgramFacts", "Ptr", "Range", "program_facts"]

MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class Range:
    """Unsigned 64-bit range of a scalar, merged over every visit."""

    umin: int
    umax: int

    @property
    def const(self) -> int | None:
        return self.umin if self.umin == self.umax else None


@dataclass(frozen=True, slots=True)
class Ptr:
    """A pointer operand, merged over every visit of the instruction.

    ``kind`` is a RegState kind (``"scalar"`` and ``"uninit"`` included, for a memory
    access through something that is not a pointer) or ``"mixed"`` when paths disagree.
    ``off`` is the constant offset, None when variable or different between paths.
    ``frame_up`` (stack pointers): 0 = the executing function's frame, 1 = its caller's.
    """

    kind: str
    off: int | None
    frame_up: int = 0
    map_index: int | None = None


UNINIT_PTR = Ptr(UNINIT, None)


@dataclass(frozen=True, slots=True)
class InsnFacts:
    """Facts about one visited instruction, merged over every path that reaches it.

    ``ptr``: LDX/STX/ST/ATOMIC base register (src for LDX, dst otherwise). ``dst`` /
    ``src``: ALU and conditional jumps: the operands' 64-bit ranges before the
    instruction (``src`` for the register forms only; for a pointer operand, the range of
    its variable part); at ``exit``, ``dst`` is r0's range. ``args``: helper calls, r1..r5
    (a Ptr when every path passes a pointer of one kind, a Range when every path passes a
    scalar, None otherwise). ``regs``: r0..r10 before the instruction: a Ptr when every
    path holds a pointer of the same kind (``off`` None when the offsets differ),
    ``Ptr("uninit", None)`` when no path has written it, None for scalars and mixtures.
    ``spills``: (frame_up, offset from that frame's r10) -> the pointer every path keeps
    spilled there. ``zext``: the instruction writes a 32-bit subregister (ALU32, narrow
    load, 32-bit atomic fetch, LD_ABS/IND) whose upper half a later instruction may read,
    so the JIT must zero it (the kernel's ``zext_dst``); False for every other
    instruction.
    """

    pc: int
    ptr: Ptr | None = None
    dst: Range | None = None
    src: Range | None = None
    args: tuple[Ptr | Range | None, ...] = ()
    regs: tuple[Ptr | None, ...] = ()
    spills: Mapping[tuple[int, int], Ptr] = field(default_factory=lambda: MappingProxyType({}))
    zext: bool = True


@dataclass(frozen=True)
class ProgramFacts:
    insns: Mapping[int, InsnFacts]  # visited pcs only
    subprogs: tuple[SubprogInfo, ...]
    max_pkt_offset: int
    complete: bool = True  # the analysis explored every path (see problems otherwise)
    problems: tuple[tuple[int, str], ...] = ()
    upper_live: tuple[int, ...] = ()  # per pc: registers whose upper half may still be read

    def upper_half_observed(self, pc: int, reg: int) -> bool:
        """Whether any instruction from ``pc`` on may read ``reg``'s upper 32 bits before
        writing it whole (True when unknown)."""
        if not 0 <= pc < len(self.upper_live):
            return True
        return bool(self.upper_live[pc] >> reg & 1)

    def at(self, pc: int) -> InsnFacts | None:
        return self.insns.get(pc)

    def dead(self, pc: int) -> bool:
        """No path reaches ``pc``."""
        return pc not in self.insns


def program_facts(analysis: Analysis) -> ProgramFacts:
    """Project ``analysis`` onto per-instruction facts (see the module docstring)."""
    insns = analysis.program.insns
    out: dict[int, InsnFacts] = {}
    for pc, visits in analysis.visits_by_pc.items():
        insn = insns[pc]
        if insn is None or insn.info is None or not visits:
            continue
        facts = _insn_facts(pc, insn.info.form, insn.info.variant, insn.dst, insn.src, visits)
        if pc not in analysis.zext:
            facts = replace(facts, zext=False)
        out[pc] = facts
    return ProgramFacts(
        MappingProxyType(out),
        analysis.subprogs,
        analysis.max_pkt_offset,
        analysis.complete,
        analysis.problems,
        analysis.upper_live,
    )


def _insn_facts(pc: int, form: Form, variant: int, dst: int, src: int, visits: Sequence[Visit]) -> InsnFacts:
    ptr: Ptr | None = None
    dst_range: Range | None = None
    src_range: Range | None = None
    args: tuple[Ptr | Range | None, ...] = ()
    if form in (Form.LDX, Form.LDXSX):
        ptr = merge_ptr(visits, src)
    elif form in (Form.ST, Form.STX, Form.ATOMIC):
        ptr = merge_ptr(visits, dst)
    elif form in (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.END, Form.MOVSX, Form.JCOND_REG, Form.JCOND_IMM):
        dst_range = merge_range(visits, dst)
        if form in (Form.ALU_REG, Form.JCOND_REG, Form.MOVSX):
            src_range = merge_range(visits, src)
    elif form is Form.EXIT:
        dst_range = merge_range(visits, 0)
    elif form is Form.CALL and variant == CallKind.HELPER:
        args = tuple(merge_arg(visits, r) for r in range(1, 6))
    regs = tuple(merge_reg(visits, r) for r in range(11))
    return InsnFacts(pc, ptr, dst_range, src_range, args, regs, merge_spills(visits))


def _ptr_of(reg: RegState, depth: int) -> Ptr:
    off = None if reg.has_var_part else reg.off
    frame_up = depth - reg.frame if reg.kind == STACK else 0
    return Ptr(reg.kind, off, frame_up, reg.map_index)


def _merge_ptrs(ptrs: Sequence[Ptr]) -> Ptr:
    first = ptrs[0]
    if all(p == first for p in ptrs):
        return first
    kind = first.kind if all(p.kind == first.kind for p in ptrs) else MIXED
    off = first.off if all(p.off == first.off for p in ptrs) else None
    frame_up = first.frame_up
    if any(p.frame_up != frame_up for p in ptrs):
        off = None
    map_index = first.map_index if all(p.map_index == first.map_index for p in ptrs) else None
    return Ptr(kind, off, frame_up, map_index)


def merge_ptr(visits: Sequence[Visit], r: int) -> Ptr:
    """Register ``r`` as a memory base over every visit."""
    return _merge_ptrs([_ptr_of(v.regs[r], v.depth) for v in visits])


def merge_range(visits: Sequence[Visit], r: int) -> Range:
    """Union of register ``r``'s range over every visit (uninit: the full range)."""
    lo, hi = M64, 0
    for v in visits:
        reg = v.regs[r]
        if reg.kind == UNINIT:
            return Range(0, M64)
        lo = min(lo, reg.umin)
        hi = max(hi, reg.umax)
    return Range(lo, hi)


def merge_arg(visits: Sequence[Visit], r: int) -> Ptr | Range | None:
    kinds = {v.regs[r].kind for v in visits}
    if kinds == {SCALAR}:
        return merge_range(visits, r)
    if SCALAR in kinds or UNINIT in kinds:
        return None
    merged = merge_ptr(visits, r)
    return None if merged.kind == MIXED else merged


def merge_reg(visits: Sequence[Visit], r: int) -> Ptr | None:
    first = visits[0].regs[r]
    kind = first.kind
    if kind == SCALAR:
        return None
    if kind == UNINIT:
        return UNINIT_PTR if all(v.regs[r].kind == UNINIT for v in visits) else None
    merged = _merge_ptrs([_ptr_of(v.regs[r], v.depth) for v in visits])
    return None if merged.kind == MIXED else merged


def merge_spills(visits: Sequence[Visit]) -> Mapping[tuple[int, int], Ptr]:
    """Slots that hold a pointer of one kind on every visit."""
    first = visits[0]
    candidates: dict[tuple[int, int], list[Ptr]] = {}
    for (frame, off), reg in first.stack.items():
        if reg.kind not in (SCALAR, UNINIT):
            candidates[(frame, off)] = []
    if not candidates:
        return MappingProxyType({})
    out: dict[tuple[int, int], Ptr] = {}
    for key in candidates:
        frame_up = first.depth - key[0]
        ptrs = []
        for v in visits:
            slot = v.stack.get((v.depth - frame_up, key[1]))
            if slot is None or slot.kind in (SCALAR, UNINIT):
                break
            ptrs.append(_ptr_of(slot, v.depth))
        else:
            merged = _merge_ptrs(ptrs)
            if merged.kind != MIXED:
                out[(frame_up, key[1])] = merged
    return MappingProxyType(out)
