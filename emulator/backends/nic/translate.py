"""eBPF -> NFP microcode, making the choices the upstream NFP JIT makes (reference
``nfp_offload.md`` §1.2-1.10 and §3), so that image sizes, listings and run-time behaviour
(including the JIT's corner cases) are the device's.

Input: a :class:`~emulator.program.Program`, the offload analysis' per-instruction facts
(:mod:`emulator.backends.nic.facts`: pointer kinds and offsets for memory accesses, 64-bit
``umin/umax`` ranges merged over all paths for ALU and jump operands, helper argument kinds,
zero-extension flags, sub-program stack depths) and the firmware's
:class:`~emulator.backends.nic.profiles.DeviceProfile` (instruction store, adjust_head caps).
Output: an :class:`NfpImage`: the microcode, for every translated eBPF pc the range of
microcode addresses it became, the outro and subroutine labels, and what the simulator needs
to lay out frames.

Layout (as the JIT): the 2-instruction intro (``plen`` = packet-vector word 0 AND 0x3fff),
the body (the main function, then the sub-programs appended after it), the outro (abort
label, then out label; XDP: action byte from ``0x44112282``, TC: nibbles of ``0x41221211`` /
``0x41001211``; the verdict byte goes to A0 bits 16-23 and the program branches to the
firmware's "next packet" address), the push/pop R6-R9 subroutines when a sub-program needs
them, and 8 ``nop``s (the instruction prefetch window).

Registers: eBPF ``Rn`` is the GPR pair (2n, 2n+1), written to both banks; ``R10`` is not a
register (``rX = r10`` is ``A22 + frame depth``). Static registers: A22 stack base, B22
packet length, GPR 21 (``imm_a``/``imm_b``) and GPR 20 scratch, ``*l$index1[0/2/4/6]`` the
packet vector's length word, CTM packet pointer and queue selection.

What is mirrored on purpose, although it differs from the host:
- a 32-bit ALU result leaves the upper half alone unless the analysis flagged the
  instruction as needing zero extension (``InsnFacts.zext``);
- ``opt_neg_add_sub`` negates the immediate as a 32-bit value (``INT_MIN`` stays ``INT_MIN``);
- division by 1 (and any reciprocal whose final shift is 0) becomes a shift by 0, which the
  NFP encodes as an *indirect* shift (noted in :attr:`NfpImage.notes`);
- ISA v4 ``movsx`` and ``sdiv`` are translated as ``mov`` and unsigned ``div`` (the JIT does
  not look at ``off``; noted);
- conditional jumps the analysis never sees taken vanish (the kernel hard-wires them to
  ``ja 0`` and removes them), dead code is not translated, ``ja +0`` is removed.

Optimisation passes implemented: ``opt_reg_init`` (a leading ``r6 = r1`` is skipped),
``opt_neg_add_sub``, ``opt_ld_mask`` and ``opt_ld_shift`` (a redundant mask or
``<<32; >>32`` after LD_ABS/LD_IND). Not implemented: the packet read cache
(``opt_pkt_cache``: every packet load issues its own ``read32_swap``) and memcpy fusion
(``opt_ldst_gather``: load/store pairs stay separate), so images can be a little longer than
the device's for programs that copy packet bytes or read many adjacent packet fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

from emulator.backends.nic.image import DeviceLike, FactsLike, FrameInfo, NfpImage, TranslateError
from emulator.backends.nic.jit_alu import AluJit
from emulator.backends.nic.jit_base import (
    ABI_FLAGS,
    EINVAL,
    ELOOP,
    ENOSPC,
    EOPNOTSUPP,
    ETH_ZLEN_MINUS_HLEN,
    HELPER_ADJUST_HEAD,
    PLEN,
    PREFETCH_WINDOW,
    PV_LEN,
    RET_REG,
    STACK_FRAME_ALIGN,
    StoreFull,
    round_up,
)
from emulator.backends.nic.jit_calls import CallJit
from emulator.backends.nic.jit_memory import MemoryJit
from emulator.backends.nic.microcode import (
    BR_OFF_RELO,
    NONE,
    SHR_INDIRECT,
    Alu,
    AluOp,
    AluShf,
    Br,
    Cond,
    Immed,
    LdField,
    Relo,
    a,
    b,
    imm,
    lm,
    shl,
)
from emulator.backends.nic.reciprocal import Reciprocal, divide_plan, reciprocal_value_adv, reference_quotient
from emulator.isa.fields import AluOp as BpfAlu
from emulator.isa.fields import Class
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.program import Program

__all__ = [
    "EINVAL",
    "ENOSPC",
    "EOPNOTSUPP",
    "FrameInfo",
    "NfpImage",
    "Reciprocal",
    "TranslateError",
    "divide_plan",
    "reciprocal_value_adv",
    "reference_quotient",
    "translate",
]


def translate(
    program: Program,
    facts: FactsLike,
    profile: DeviceLike,
    *,
    prog_type: str | None = None,
    map_tid: Callable[[int], int] | None = None,
) -> NfpImage:
    """Translate ``program`` for the device; raises :class:`TranslateError` when the JIT would
    (an instruction with no translation, the instruction store full, ...)."""
    return _Translator(program, facts, profile, prog_type, map_tid).run()


class _Translator(AluJit, MemoryJit, CallJit):
    def run(self) -> NfpImage:
        self._plan()
        try:
            self.pc = None
            self.intro()
            body = self.here
            for pc, insn in enumerate(self.program.insns):
                if insn is None:  # second half of lddw: its own meta, always "translated"
                    self.translated += 1
                    continue
                self.pc = pc
                self.start[pc] = self.here
                if self.facts.at(pc) is None:
                    self.translated += 1
                    continue
                sub = self._sub_of(pc)
                if sub is not self.cur:
                    self.cur = sub
                self.frame_depth = self.frame_of(self.cur)
                if pc not in self.skip:
                    if pc == self.cur.entry and pc != 0:
                        self.mov(lm(0, 0), RET_REG)  # prologue: save the return address
                    self.one(pc, insn)
                self.ranges[pc] = (self.start[pc], self.here)
                self.translated += 1
            self.pc = None
            labels = self.outro()
            labels["intro"] = 0
            labels["body"] = body
            if any(s.saves_regs for s in self.subs[1:]):
                labels["push_regs"] = self.here
                self.push_regs()
                labels["pop_regs"] = self.here
                self.pop_regs()
            labels["tail"] = self.here
            self.nops(PREFETCH_WINDOW)
        except StoreFull:
            raise TranslateError(
                ENOSPC,
                self.pc,
                self.translated,
                f"instruction limit reached ({self.profile.max_insns} NFP instructions)",
                f"the program needs more than the firmware's {self.profile.max_insns}-instruction store",
            ) from None
        self._fix()
        frames = {
            s.entry: FrameInfo(
                s.entry,
                self.start.get(s.entry, body),
                self.frame_of(s),
                round_up(self.frame_of(s), STACK_FRAME_ALIGN),
                s.saves_regs,
            )
            for s in self.subs
        }
        return NfpImage(
            tuple(self.code),
            MappingProxyType(dict(self.ranges)),
            MappingProxyType(labels),
            MappingProxyType(frames),
            self.prog_type,
            MappingProxyType(dict(self.tids)),
            tuple(self.notes),
            tuple(self.owner),
        )

    def _fix(self) -> None:
        end = self.labels_end()
        for fx in self.fixups:
            if fx.target_pc in self.prec_dependent:
                self.pc = None
                raise TranslateError(
                    ELOOP,
                    fx.target_pc,
                    self.translated,
                    "Branch landing on removed instruction!!",
                    f"a jump lands on insn {fx.target_pc}, which the JIT's optimiser removed",
                )
            address = self.start.get(fx.target_pc, end)
            insn = self.code[fx.index]
            if fx.immed:
                assert isinstance(insn, Immed)
                self.code[fx.index] = replace(insn, imm16=address)
            else:
                assert isinstance(insn, Br)
                self.code[fx.index] = replace(insn, target=address)

    def labels_end(self) -> int:
        return self.here

    # -- optimisation passes ---------------------------------------------------------------
    def _plan(self) -> None:
        insns = self.program.insns
        live = [pc for pc, i in enumerate(insns) if i is not None and self.facts.at(pc) is not None]
        jump_dst: set[int] = set()
        for pc in live:
            insn = insns[pc]
            assert insn is not None
            target = insn.jump_target(pc)
            if target is not None:
                jump_dst.add(target)
        # Dead-code passes of the kernel: never-taken conditional jumps and ja +0 vanish.
        for pc in live:
            insn = insns[pc]
            assert insn is not None and insn.info is not None
            form = insn.info.form
            if form is Form.JA and insn.off == 0:
                self.skip.add(pc)
            elif form in (Form.JCOND_REG, Form.JCOND_IMM):
                target = pc + 1 + insn.off
                if self.facts.at(target) is None and self.facts.at(pc + 1) is not None:
                    self.skip.add(pc)
        # opt_reg_init: leading self-XORs are kept, a leading r6 = r1 is dropped.
        for pc in live:
            insn = insns[pc]
            assert insn is not None
            if insn.opcode == (Class.ALU64 | 0x08 | BpfAlu.XOR) and insn.src == insn.dst:
                continue
            if (
                insn.opcode == (Class.ALU64 | 0x08 | BpfAlu.MOV)
                and insn.src == 1
                and insn.dst == 6
                and not insn.off
            ):
                self.skip.add(pc)
                self.prec_dependent.add(pc)
                continue
            break
        # opt_ld_mask / opt_ld_shift.
        for i, pc in enumerate(live[:-1]):
            insn = insns[pc]
            assert insn is not None and insn.info is not None
            if insn.info.form not in (Form.LD_ABS, Form.LD_IND):
                continue
            nxt_pc = live[i + 1]
            nxt = insns[nxt_pc]
            assert nxt is not None
            mask = {1: 0xFF, 2: 0xFFFF}.get(insn.info.size)
            if (
                mask is not None
                and nxt.opcode == (Class.ALU64 | BpfAlu.AND)
                and nxt.imm == mask
                and nxt.dst == 0
                and nxt.src == 0
                and nxt_pc not in jump_dst
            ):
                self.skip.add(nxt_pc)
                self.prec_dependent.add(nxt_pc)
            if insn.info.size == 4 and i + 2 < len(live):
                third_pc = live[i + 2]
                third = insns[third_pc]
                assert third is not None
                if (
                    nxt.opcode == (Class.ALU64 | BpfAlu.LSH)
                    and nxt.imm == 32
                    and nxt.dst == 0
                    and third.opcode == (Class.ALU64 | BpfAlu.RSH)
                    and third.imm == 32
                    and third.dst == 0
                    and nxt_pc not in jump_dst
                    and third_pc not in jump_dst
                ):
                    self.skip.update((nxt_pc, third_pc))
                    self.prec_dependent.update((nxt_pc, third_pc))
        self._plan_adjust_head(live)

    def _plan_adjust_head(self, live: list[int]) -> None:
        """The fast path needs one call site, a constant delta on every path, inside the
        firmware's guaranteed window (``nfp_record_adjust_head``)."""
        sites = []
        for pc in live:
            insn = self.program.insns[pc]
            assert insn is not None and insn.info is not None
            if insn.info.form is Form.CALL and insn.info.variant == 0 and insn.imm == HELPER_ADJUST_HEAD:
                sites.append(pc)
        cap = self.profile.adjust_head
        if len(sites) != 1 or cap is None:
            return
        f = self.facts.at(sites[0])
        arg = f.args[1] if f is not None and len(f.args) > 1 else None
        umin, umax = getattr(arg, "umin", None), getattr(arg, "umax", None)
        if not isinstance(umin, int) or umin != umax or getattr(arg, "kind", None) is not None:
            return
        delta = umin - (1 << 64) if umin >> 63 else umin
        if -cap.guaranteed_sub <= delta <= min(cap.guaranteed_add, ETH_ZLEN_MINUS_HLEN):
            self.adjust_head_fast = sites[0]

    # -- intro, outro, subroutines ---------------------------------------------------------
    def intro(self) -> None:
        self.immed(PLEN, 0x3FFF)
        self.emit(Alu(PLEN, PLEN, AluOp.AND, PV_LEN))

    def outro(self) -> dict[str, int]:
        labels: dict[str, int] = {}
        tc = self.prog_type == "tc"
        labels["abort"] = self.here
        self.emit(Br(BR_OFF_RELO, defer=2, relo=Relo.BR_NEXT_PKT))
        self.mov(a(0), imm(ABI_FLAGS))
        self.emit(LdField(a(0), 0xC, imm(0x11 if tc else 0x82), shl(16)))
        labels["out"] = self.here
        self.emit(Alu(NONE, imm(7 if tc else 3), AluOp.SUB, b(0)))
        self.emit(Br(labels["abort"], Cond.CC))
        if tc:
            self.mov(a(0), imm(ABI_FLAGS))
            self.immed(b(2), 0x41221211)
            self.immed(b(3), 0x41001211)
            self.emit(AluShf(a(1), NONE, AluOp.B, b(0), shl(2)))
            self.emit(Alu(NONE, a(1), AluOp.OR, imm(0)))
            self.emit(AluShf(a(2), imm(0xF), AluOp.AND, b(2), SHR_INDIRECT))
            self.emit(Alu(NONE, a(1), AluOp.OR, imm(0)))
            self.emit(AluShf(b(2), imm(0xF), AluOp.AND, b(3), SHR_INDIRECT))
            self.emit(Br(BR_OFF_RELO, defer=2, relo=Relo.BR_NEXT_PKT))
            self.emit(AluShf(b(2), a(2), AluOp.OR, b(2), shl(4)))
            self.emit(LdField(a(0), 0xC, b(2), shl(16)))
        else:
            self.immed(b(2), 0x44112282)
            self.emit(AluShf(a(1), NONE, AluOp.B, b(0), shl(3)))
            self.emit(Alu(NONE, a(1), AluOp.OR, imm(0)))
            self.emit(AluShf(b(2), imm(0xFF), AluOp.AND, b(2), SHR_INDIRECT))
            self.emit(Br(BR_OFF_RELO, defer=2, relo=Relo.BR_NEXT_PKT))
            self.mov(a(0), imm(ABI_FLAGS))
            self.emit(LdField(a(0), 0xC, b(2), shl(16)))
        return labels

    # -- one instruction -------------------------------------------------------------------
    def one(self, pc: int, insn: Insn) -> None:
        info = insn.info
        f = self.facts.at(pc)
        if info is None:
            raise self.fail(EOPNOTSUPP, f"opcode {insn.opcode:#04x} is not an instruction")
        form = info.form
        if form in (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.MOVSX, Form.END):
            self.alu(insn, info, f)
        elif form is Form.LDDW:
            self.lddw(insn, info)
        elif form is Form.LDX:
            self.ldx(insn, info, f)
        elif form is Form.STX:
            self.stx(insn, info, f)
        elif form is Form.ATOMIC:
            self.atomic(insn, info, f)
        elif form in (Form.LD_ABS, Form.LD_IND):
            self.ld_abs(insn, info, f)
        elif form is Form.JA:
            self.br_pc(Cond.ALWAYS, pc + 1 + insn.off)
        elif form in (Form.JCOND_REG, Form.JCOND_IMM):
            self.jump(pc, insn, info)
        elif form is Form.CALL:
            self.call(pc, insn, info, f)
        elif form is Form.EXIT:
            self.exit()
        elif form is Form.ST:
            raise self.fail(
                EOPNOTSUPP,
                "BPF_ST (store of an immediate): the NFP records no pointer type for it, so the JIT "
                "finds no path; store the value from a register instead",
            )
        else:
            raise self.fail(
                EOPNOTSUPP, f"instruction {insn.opcode:#04x} ({info.mnemonic}) has no NFP translation"
            )
