"""The JIT's emission layer: the static registers, the helpers every instruction's sequence
is built from (``wrp_immed``, ``ur_load_imm_any``/``re_load_imm_any``, moves, zero extension,
branches to eBPF pcs fixed up later) and the translation state (code, ranges, sub-programs
and their frames). :mod:`emulator.backends.nic.translate` assembles the instruction
families (``jit_alu``, ``jit_memory``, ``jit_calls``) on top of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from emulator.backends.nic.image import DeviceLike, FactsLike, InsnFactsLike, TranslateError
from emulator.backends.nic.microcode import (
    MASK32,
    NO_SHIFT,
    NONE,
    Alu,
    AluOp,
    Br,
    BrBset,
    Cond,
    Dest,
    Gpr,
    Immed,
    ImmedWidth,
    Instr,
    MicrocodeError,
    Nop,
    Operand,
    Relo,
    Shift,
    a,
    b,
    both,
    imm,
    lm,
    pack_immed,
    rot,
    shr,
)
from emulator.isa.fields import AluOp as BpfAlu
from emulator.isa.fields import JmpOp
from emulator.program import Program

MASK64: Final = (1 << 64) - 1
EOPNOTSUPP: Final = -95
ENOSPC: Final = -28
EINVAL: Final = -22
ELOOP: Final = -40

ETH_HLEN: Final = 14
ETH_ZLEN_MINUS_HLEN: Final = 46  # the adjust_head fast path's upper bound
NFP_NET_RXR_MAX: Final = 64
QSEL_SET_BIT: Final = 4
STACK_FRAME_ALIGN: Final = 64
PREFETCH_WINDOW: Final = 8
ABI_FLAGS: Final = 0
CALLEE_RET_BYTES: Final = 4
CALLEE_REGS_BYTES: Final = 32
ADD_IMM_OVERRIDE: Final = (2 << 3) | (1 << 7)  # data override 2, length override enable
LM_DIRECT_MAX: Final = 7  # highest *l$indexN[k] a restricted operand can name

# Static registers (reference §1.3).
STACK_REG: Final = a(22)
PLEN: Final = b(22)
IMM_A: Final = a(21)
IMM_B: Final = b(21)
IMM_BOTH: Final = both(21)
IMMA_A: Final = a(20)
IMMA_B: Final = b(20)
RET_REG: Final = a(21)
PV_LEN: Final = lm(1, 0)
PPTR: Final = lm(1, 2)
PV_QSEL_SET: Final = lm(1, 4)
PV_QSEL_VAL: Final = lm(1, 6)

# Firmware ABI codes of perf_event_output's data pointer (fw.h NFP_BPF_*).
PTR_TYPE_CODES: Final = {"map_value": 4, "stack": 6, "packet": 8}
PTR_TYPE_SCALAR: Final = 1

HELPER_MAP_LOOKUP, HELPER_MAP_UPDATE, HELPER_MAP_DELETE = 1, 2, 3
HELPER_PRANDOM, HELPER_PERF_EVENT_OUTPUT = 7, 25
HELPER_ADJUST_HEAD, HELPER_ADJUST_TAIL = 44, 65

XDP_DATA, XDP_DATA_END, XDP_RX_QUEUE_INDEX = 0, 4, 16
SKB_LEN, SKB_DATA, SKB_DATA_END = 0, 76, 80

# ---------------------------------------------------------------------------------- helpers


def s32(v: int) -> int:
    v &= MASK32
    return v - (1 << 32) if v & 0x80000000 else v


def round_up(v: int, n: int) -> int:
    return (v + n - 1) // n * n


def round_down(v: int, n: int) -> int:
    return v // n * n


def gpr_lo(reg: int) -> int:
    return 2 * reg


def gpr_hi(reg: int) -> int:
    return 2 * reg + 1


def byte_shift(src_byte: int, dst_byte: int) -> Shift:
    """Move byte lane ``src_byte`` to ``dst_byte`` (ld_field: right shift, or a right rotate
    standing for a left shift)."""
    diff = abs(src_byte - dst_byte) * 8
    if src_byte == dst_byte:
        return NO_SHIFT
    if src_byte < dst_byte:
        return rot(32 - diff)
    return shr(diff)


JMP_CODES: Final = {
    JmpOp.JGT: (Cond.CC, True),
    JmpOp.JGE: (Cond.CS, False),
    JmpOp.JLT: (Cond.CC, False),
    JmpOp.JLE: (Cond.CS, True),
    JmpOp.JSGT: (Cond.LT, True),
    JmpOp.JSGE: (Cond.GE, False),
    JmpOp.JSLT: (Cond.LT, False),
    JmpOp.JSLE: (Cond.GE, True),
}
NEG_JUMPS: Final = (JmpOp.JGE, JmpOp.JSGE, JmpOp.JLT, JmpOp.JSLT)
ALU_OPS: Final = {
    BpfAlu.ADD: AluOp.ADD,
    BpfAlu.SUB: AluOp.SUB,
    BpfAlu.OR: AluOp.OR,
    BpfAlu.AND: AluOp.AND,
    BpfAlu.XOR: AluOp.XOR,
}
CARRY_OPS: Final = {AluOp.ADD: AluOp.ADD_C, AluOp.SUB: AluOp.SUB_C}


class StoreFull(Exception):
    pass


@dataclass
class Fixup:
    index: int
    target_pc: int
    immed: bool = False  # an immed[reg, address] (relocated return or callee address)


@dataclass(frozen=True)
class Subprogram:
    entry: int
    depth: int
    saves_regs: bool


class JitBase:
    def __init__(
        self,
        program: Program,
        facts: FactsLike,
        profile: DeviceLike,
        prog_type: str | None,
        map_tid: Callable[[int], int] | None,
    ) -> None:
        self.program = program
        self.facts = facts
        self.profile = profile
        self.prog_type = "tc" if (prog_type or program.prog_type) == "tc" else "xdp"
        # The raw convention (conformance programs: r1 = a memory buffer) runs as an XDP-like
        # program whose buffer the device holds in CTM, so its "context" is packet memory.
        self.raw = program.prog_type == "raw"
        self.map_tid = map_tid or (lambda index: index + 1)
        self.code: list[Instr] = []
        self.fixups: list[Fixup] = []
        self.start: dict[int, int] = {}
        self.ranges: dict[int, tuple[int, int]] = {}
        self.owner: list[int | None] = []
        self.notes: list[tuple[int, str]] = []
        self.tids: dict[int, int] = {}
        self.pc: int | None = None
        self.translated = 0
        self.subs = self._subprograms()
        self.frame_depth = 0
        self.cur: Subprogram = self.subs[0]
        self.skip: set[int] = set()
        self.prec_dependent: set[int] = set()
        self.adjust_head_fast: int | None = None

    # -- emission --------------------------------------------------------------------------
    @property
    def here(self) -> int:
        return len(self.code)

    def emit(self, insn: Instr) -> None:
        if len(self.code) >= self.profile.max_insns:
            raise StoreFull
        try:
            insn.check()
        except MicrocodeError as exc:
            raise TranslateError(EINVAL, self.pc, self.translated, f"BUG: {exc}", insn.text()) from None
        self.code.append(insn)
        self.owner.append(self.pc)

    def fail(self, errno: int, detail: str, message: str | None = None) -> TranslateError:
        return TranslateError(
            errno,
            self.pc,
            self.translated,
            message or f"Translation failed with error {errno} (translated: {self.translated})",
            detail,
        )

    def note(self, text: str) -> None:
        if self.pc is not None:
            self.notes.append((self.pc, text))

    def mov(self, dst: Dest, src: Operand) -> None:
        self.emit(Alu(dst, NONE, AluOp.B, src))

    def immed(self, dst: Dest, value: int, relo: Relo = Relo.NONE) -> None:
        """``wrp_immed``: one immed when the value (or its inverse) is 16 bits at a byte
        offset, else immed + immed_w1."""
        value &= MASK32
        packed = pack_immed(value)
        if packed is not None:
            imm16, shift, invert = packed
            self.emit(Immed(dst, imm16, shift, invert, relo=relo))
        else:
            self.emit(Immed(dst, value & 0xFFFF, relo=relo))
            self.emit(Immed(dst, value >> 16, width=ImmedWidth.W1, relo=relo))

    def ur_load(self, value: int, tmp: Gpr) -> Operand:
        """An unrestricted operand holding ``value``: inline up to 255, else via ``tmp``."""
        value &= MASK32
        if value <= 0xFF:
            return imm(value)
        self.immed(tmp, value)
        return tmp

    def re_load(self, value: int, tmp: Gpr) -> Operand:
        """A restricted operand holding ``value``: inline up to 127, else via ``tmp``."""
        value &= MASK32
        if value <= 0x7F:
            return imm(value)
        self.immed(tmp, value)
        return tmp

    def retarget(self, index: int, target: int) -> None:
        """Point the branch emitted at ``index`` at microcode address ``target``."""
        insn = self.code[index]
        assert isinstance(insn, Br | BrBset)
        self.code[index] = replace(insn, target=target)

    def nops(self, n: int) -> None:
        for _ in range(n):
            self.emit(Nop())

    def zext(self, f: InsnFactsLike | None, gpr: int) -> None:
        if f is None or f.zext:
            self.immed(both(gpr + 1), 0)

    def br_pc(self, cond: Cond, target_pc: int, defer: int = 0) -> None:
        self.fixups.append(Fixup(self.here, target_pc))
        self.emit(Br(0, cond, defer))

    # -- driver ----------------------------------------------------------------------------
    def _subprograms(self) -> list[Subprogram]:
        subs = sorted(self.facts.subprogs, key=lambda s: s.entry)
        if not subs or subs[0].entry != 0:
            return [Subprogram(0, subs[0].stack_depth if subs else 0, False)] + [
                Subprogram(s.entry, s.stack_depth, s.writes_callee_saved) for s in subs if s.entry
            ]
        return [Subprogram(s.entry, s.stack_depth, s.writes_callee_saved and s.entry != 0) for s in subs]

    def _sub_of(self, pc: int) -> Subprogram:
        owner = self.subs[0]
        for s in self.subs:
            if s.entry <= pc:
                owner = s
        return owner

    @staticmethod
    def _depth(sub: Subprogram) -> int:
        """The JIT's stack depth of a function: the verifier's, plus the return address and
        saved registers for callees (``nfp_bpf_finalize``)."""
        depth = sub.depth
        if sub.entry != 0:
            depth += CALLEE_RET_BYTES + (CALLEE_REGS_BYTES if sub.saves_regs else 0)
        return depth

    def frame_of(self, sub: Subprogram) -> int:
        return round_up(self._depth(sub), 4)
