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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, NamedTuple, Protocol

from emulator.backends.nic.microcode import (
    BR_OFF_RELO,
    MASK32,
    NO_SHIFT,
    NONE,
    SHL_INDIRECT,
    SHR_INDIRECT,
    Alu,
    AluOp,
    AluShf,
    Asr,
    Br,
    BrBset,
    Cond,
    Csr,
    DblShf,
    Dest,
    Gpr,
    Immed,
    ImmedWidth,
    Instr,
    LdField,
    LocalCsrRd,
    LocalCsrWr,
    Mem,
    MemCmd,
    MicrocodeError,
    MulMode,
    MulStep,
    Nop,
    Operand,
    Relo,
    Rtn,
    Shift,
    a,
    b,
    both,
    encode,
    imm,
    lm,
    lm_inc,
    pack_immed,
    rot,
    shl,
    shr,
    xfer,
)
from emulator.backends.nic.microcode import AddrMode as Mode
from emulator.errors import EmulatorError
from emulator.isa.fields import AluOp as BpfAlu
from emulator.isa.fields import Class, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form, OpInfo
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


# ------------------------------------------------------------------------ facts (structural)


class RangeLike(Protocol):
    @property
    def umin(self) -> int: ...
    @property
    def umax(self) -> int: ...


class PtrLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def off(self) -> int | None: ...
    @property
    def frame_up(self) -> int: ...


class InsnFactsLike(Protocol):
    @property
    def ptr(self) -> PtrLike | None: ...
    @property
    def dst(self) -> RangeLike | None: ...
    @property
    def src(self) -> RangeLike | None: ...
    @property
    def args(self) -> Sequence[object]: ...
    @property
    def zext(self) -> bool: ...


class SubprogLike(Protocol):
    @property
    def entry(self) -> int: ...
    @property
    def stack_depth(self) -> int: ...
    @property
    def writes_callee_saved(self) -> bool: ...


class FactsLike(Protocol):
    """What the translator reads of :class:`emulator.backends.nic.facts.ProgramFacts`."""

    @property
    def subprogs(self) -> Sequence[SubprogLike]: ...

    def at(self, pc: int) -> InsnFactsLike | None: ...


class DeviceLike(Protocol):
    """What the translator reads of :class:`emulator.backends.nic.profiles.DeviceProfile`."""

    @property
    def max_insns(self) -> int: ...
    @property
    def adjust_head(self) -> AdjustHeadLike | None: ...


class AdjustHeadLike(Protocol):
    @property
    def off_min(self) -> int: ...
    @property
    def off_max(self) -> int: ...
    @property
    def guaranteed_sub(self) -> int: ...
    @property
    def guaranteed_add(self) -> int: ...


# ---------------------------------------------------------------------------------- results


class TranslateError(EmulatorError):
    """The JIT refused the program: ``errno`` (negative, as the driver prints it), the eBPF pc
    it stopped at (None in the outro), how many eBPF instructions were translated before, the
    driver's message and what in the program caused it."""

    def __init__(self, errno: int, pc: int | None, translated: int, message: str, detail: str = "") -> None:
        self.errno = errno
        self.pc = pc
        self.translated = translated
        self.message = message
        self.detail = detail
        where = f" at insn {pc}" if pc is not None else ""
        super().__init__(f"{message}{where}" + (f": {detail}" if detail else ""))

    @property
    def dmesg(self) -> str:
        """The line the driver logs (``NFP net bpf: ...``)."""
        return f"Translation failed with error {self.errno} (translated: {self.translated})"


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """How one function's stack frame sits in LM (reference §1.5).

    ``frame_depth``: what ``rX = r10`` adds to A22 (the function's stack depth, plus the return
    address and saved R6-R9 for a callee, rounded up to 4); ``callee_offset``: how far A22
    moves for a call from this function (``round_up(frame_depth, 64)``); ``saves_regs``: the
    callee's frame holds R6-R9 in ``*l$index0[1..8]`` (its return address is always in
    ``*l$index0[0]``)."""

    entry: int
    address: int
    frame_depth: int
    callee_offset: int
    saves_regs: bool


@dataclass(frozen=True)
class NfpImage:
    """A translated program (pre-relocation, as the JIT stores it)."""

    insns: tuple[Instr, ...]
    ranges: Mapping[int, tuple[int, int]]
    """eBPF pc -> [start, end) microcode addresses (empty for removed instructions; dead
    code has no entry)."""
    labels: Mapping[str, int]
    """"intro", "body", "abort", "out", "push_regs"/"pop_regs" (when present), "tail"."""
    frames: Mapping[int, FrameInfo]
    prog_type: str
    map_tids: Mapping[int, int]
    """Environment map index -> the device table id the image's ``lddw`` loads."""
    notes: tuple[tuple[int, str], ...] = ()
    """(pc, text): corner cases translated the way the device does, worth flagging."""
    _owner: tuple[int | None, ...] = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.insns)

    @property
    def words(self) -> tuple[int, ...]:
        return tuple(encode(i) for i in self.insns)

    @property
    def relo_labels(self) -> Mapping[Relo, int]:
        """Where the relocated outro/subroutine branches go (what a simulator resolves)."""
        out = {Relo.BR_GO_OUT: self.labels["out"], Relo.BR_GO_ABORT: self.labels["abort"]}
        if "push_regs" in self.labels:
            out[Relo.BR_GO_CALL_PUSH_REGS] = self.labels["push_regs"]
            out[Relo.BR_GO_CALL_POP_REGS] = self.labels["pop_regs"]
        return out

    def pc_at(self, address: int) -> int | None:
        """The eBPF pc whose translation holds microcode ``address`` (None: intro/outro)."""
        if 0 <= address < len(self._owner):
            return self._owner[address]
        return None

    def relocated(self, start_off: int = 0, done_off: int = 1) -> tuple[Instr, ...]:
        """The image as loaded at ``start_off`` (``nfp_bpf_relo_for_vnic``): program branches
        and return addresses made absolute, outro/subroutine branches resolved, "next packet"
        to ``done_off``; helper branches keep their ``15000 + id`` marker (the firmware's
        helper addresses are not modelled). Relocation kinds are kept for the simulator."""
        labels = self.relo_labels
        out: list[Instr] = []
        for insn in self.insns:
            if isinstance(insn, Br | BrBset):
                if insn.relo is Relo.BR_REL:
                    insn = replace(insn, target=insn.target + start_off)
                elif insn.relo in labels:
                    insn = replace(insn, target=labels[insn.relo] + start_off)
                elif insn.relo is Relo.BR_NEXT_PKT and isinstance(insn, Br):
                    insn = replace(insn, target=done_off)
            elif isinstance(insn, Immed) and insn.relo is Relo.IMMED_REL:
                insn = replace(insn, imm16=insn.imm16 + start_off)
            out.append(insn)
        return tuple(out)


class Reciprocal(NamedTuple):
    m: int
    sh: int
    exp: int
    is_wide_m: bool


def reciprocal_value_adv(d: int, prec: int) -> Reciprocal:
    """Granlund-Montgomery "advanced" reciprocal of ``d`` for ``prec``-bit dividends (Figure
    4.2 of "Division by Invariant Integers Using Multiplication", as the kernel's
    ``reciprocal_value_adv``): ``l = ceil(log2 d)``, the interval [m_low, m_high] of valid
    multipliers at shift ``32 + l``, narrowed while both halve to distinct values."""
    if not 0 < d <= 1 << 31:
        raise ValueError(f"reciprocal_value_adv: divisor {d} outside 1..2^31")
    ell = (d - 1).bit_length()
    m_low = (1 << (32 + ell)) // d
    m_high = ((1 << (32 + ell)) + (1 << (32 + ell - prec))) // d
    post_shift = ell
    while post_shift > 0 and (m_low >> 1) < (m_high >> 1):
        m_low >>= 1
        m_high >>= 1
        post_shift -= 1
    return Reciprocal(m_high & MASK32, post_shift, ell, m_high > MASK32)


def divide_plan(divisor: int) -> tuple[str, int, Reciprocal]:
    """How the JIT divides a ≤ U32_MAX dividend by constant ``divisor`` (1..U32_MAX):
    ("compare", 0, _) for divisors above 2^31, else ("shift"|"wide"|"mul", pre_shift,
    reciprocal)."""
    if divisor > 1 << 31:
        return "compare", 0, Reciprocal(0, 0, 32, False)
    rv = reciprocal_value_adv(divisor, 32)
    exp = rv.exp
    pre_shift = 0
    if rv.is_wide_m and not divisor & 1:
        pre_shift = (divisor & -divisor).bit_length() - 1
        rv = reciprocal_value_adv(divisor >> pre_shift, 32 - pre_shift)
    if divisor == 1 << exp:
        return "shift", 0, rv._replace(exp=exp)
    return ("wide" if rv.is_wide_m else "mul"), pre_shift, rv._replace(exp=exp)


def reference_quotient(n: int, divisor: int) -> int:
    """What the emitted division sequence computes for dividend ``n`` (≤ U32_MAX), with shifts
    by 0 taken as no shift: the arithmetic the tests check against ``n // divisor``."""
    kind, pre, rv = divide_plan(divisor)
    if kind == "compare":
        return int(n >= divisor)
    if kind == "shift":
        return n >> rv.exp
    if kind == "wide":
        t = (n * rv.m) >> 32
        return (((n - t) >> 1) + t) >> max(rv.sh - 1, 0)
    return (((n >> pre) * rv.m) >> 32) >> rv.sh


# ---------------------------------------------------------------------------------- helpers


def _s32(v: int) -> int:
    v &= MASK32
    return v - (1 << 32) if v & 0x80000000 else v


def _round_up(v: int, n: int) -> int:
    return (v + n - 1) // n * n


def _round_down(v: int, n: int) -> int:
    return v // n * n


def _lo(reg: int) -> int:
    return 2 * reg


def _hi(reg: int) -> int:
    return 2 * reg + 1


def _byte_shift(src_byte: int, dst_byte: int) -> Shift:
    """Move byte lane ``src_byte`` to ``dst_byte`` (ld_field: right shift, or a right rotate
    standing for a left shift)."""
    diff = abs(src_byte - dst_byte) * 8
    if src_byte == dst_byte:
        return NO_SHIFT
    if src_byte < dst_byte:
        return rot(32 - diff)
    return shr(diff)


_JMP_CODES: Final = {
    JmpOp.JGT: (Cond.CC, True),
    JmpOp.JGE: (Cond.CS, False),
    JmpOp.JLT: (Cond.CC, False),
    JmpOp.JLE: (Cond.CS, True),
    JmpOp.JSGT: (Cond.LT, True),
    JmpOp.JSGE: (Cond.GE, False),
    JmpOp.JSLT: (Cond.LT, False),
    JmpOp.JSLE: (Cond.GE, True),
}
_NEG_JUMPS: Final = (JmpOp.JGE, JmpOp.JSGE, JmpOp.JLT, JmpOp.JSLT)
_ALU_OPS: Final = {
    BpfAlu.ADD: AluOp.ADD,
    BpfAlu.SUB: AluOp.SUB,
    BpfAlu.OR: AluOp.OR,
    BpfAlu.AND: AluOp.AND,
    BpfAlu.XOR: AluOp.XOR,
}
_CARRY_OPS: Final = {AluOp.ADD: AluOp.ADD_C, AluOp.SUB: AluOp.SUB_C}


class _Overflow(Exception):
    pass


@dataclass
class _Fixup:
    index: int
    target_pc: int
    immed: bool = False  # an immed[reg, address] (relocated return or callee address)


@dataclass(frozen=True)
class _Sub:
    entry: int
    depth: int
    saves_regs: bool


# ------------------------------------------------------------------------------- translator


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


class _Translator:
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
        self.map_tid = map_tid or (lambda index: index + 1)
        self.code: list[Instr] = []
        self.fixups: list[_Fixup] = []
        self.start: dict[int, int] = {}
        self.ranges: dict[int, tuple[int, int]] = {}
        self.owner: list[int | None] = []
        self.notes: list[tuple[int, str]] = []
        self.tids: dict[int, int] = {}
        self.pc: int | None = None
        self.translated = 0
        self.subs = self._subprograms()
        self.frame_depth = 0
        self.cur: _Sub = self.subs[0]
        self.skip: set[int] = set()
        self.prec_dependent: set[int] = set()
        self.adjust_head_fast: int | None = None

    # -- emission --------------------------------------------------------------------------
    @property
    def here(self) -> int:
        return len(self.code)

    def emit(self, insn: Instr) -> None:
        if len(self.code) >= self.profile.max_insns:
            raise _Overflow
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
        self.fixups.append(_Fixup(self.here, target_pc))
        self.emit(Br(0, cond, defer))

    # -- driver ----------------------------------------------------------------------------
    def _subprograms(self) -> list[_Sub]:
        subs = sorted(self.facts.subprogs, key=lambda s: s.entry)
        if not subs or subs[0].entry != 0:
            return [_Sub(0, subs[0].stack_depth if subs else 0, False)] + [
                _Sub(s.entry, s.stack_depth, s.writes_callee_saved) for s in subs if s.entry
            ]
        return [_Sub(s.entry, s.stack_depth, s.writes_callee_saved and s.entry != 0) for s in subs]

    def _sub_of(self, pc: int) -> _Sub:
        owner = self.subs[0]
        for s in self.subs:
            if s.entry <= pc:
                owner = s
        return owner

    @staticmethod
    def _depth(sub: _Sub) -> int:
        """The JIT's stack depth of a function: the verifier's, plus the return address and
        saved registers for callees (``nfp_bpf_finalize``)."""
        depth = sub.depth
        if sub.entry != 0:
            depth += CALLEE_RET_BYTES + (CALLEE_REGS_BYTES if sub.saves_regs else 0)
        return depth

    def frame_of(self, sub: _Sub) -> int:
        return _round_up(self._depth(sub), 4)

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
        except _Overflow:
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
                _round_up(self.frame_of(s), STACK_FRAME_ALIGN),
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

    def push_regs(self) -> None:
        """Store R6-R9 in the callee frame's slots 1-8, then return to the callee (B21)."""
        for reg in range(6, 10):
            idx = 1 + (reg - 6) * 2
            self.mov(lm(0, idx), b(_lo(reg)))
            if reg == 8:
                self.emit(Rtn(IMM_B, defer=3))
            self.mov(lm(0, idx + 1), b(_hi(reg)))

    def pop_regs(self) -> None:
        """Reload R6-R9 from the frame, then return to the caller (A21)."""
        for reg in range(6, 10):
            idx = 1 + (reg - 6) * 2
            self.mov(both(_lo(reg)), lm(0, idx))
            if reg == 8:
                self.emit(Rtn(RET_REG, defer=3))
            self.mov(both(_hi(reg)), lm(0, idx + 1))

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

    # -- ALU -------------------------------------------------------------------------------
    def alu(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        is64 = info.cls is Class.ALU64
        d = _lo(insn.dst)
        form = info.form
        if form is Form.END:
            self.end(insn, info)
            return
        if form is Form.NEG:
            self.emit(Alu(both(d), imm(0), AluOp.SUB, b(d)))
            if is64:
                self.emit(Alu(both(d + 1), imm(0), AluOp.SUB_C, b(d + 1)))
            else:
                self.zext(f, d)
            return
        op = BpfAlu(info.op)
        if form is Form.MOVSX:
            self.note("ISA v4 movsx is translated as a plain mov (the NFP JIT ignores off)")
        if op is BpfAlu.MOV:
            self.mov_alu(insn, is64, form is Form.ALU_IMM)
            return
        if info.signed:
            self.note("ISA v4 sdiv/smod is translated as the unsigned operation (the NFP JIT ignores off)")
        from_reg = form is not Form.ALU_IMM
        value = insn.imm
        if not from_reg and op in (BpfAlu.ADD, BpfAlu.SUB) and value < 0:  # opt_neg_add_sub
            op = BpfAlu.SUB if op is BpfAlu.ADD else BpfAlu.ADD
            value = _s32(-value)
        if op in _ALU_OPS:
            self.binary(_ALU_OPS[op], d, _lo(insn.src), value, is64, from_reg, f)
        elif op is BpfAlu.MUL:
            self.mul(insn, f, is64, from_reg)
        elif op is BpfAlu.DIV:
            self.div(insn, f, from_reg)
        elif op in (BpfAlu.LSH, BpfAlu.RSH, BpfAlu.ARSH):
            self.shift(op, insn, f, is64, from_reg)
        else:
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported ({info.mnemonic})")

    def mov_alu(self, insn: Insn, is64: bool, from_imm: bool) -> None:
        d = _lo(insn.dst)
        if from_imm:
            value = insn.imm & MASK64 if is64 else insn.imm & MASK32
            self.immed(both(d), value & MASK32)
            self.immed(both(d + 1), value >> 32)
            return
        if insn.src == 10:
            self.emit(Alu(both(d), STACK_REG, AluOp.ADD, self.ur_load(self.frame_depth, IMM_B)))
            self.immed(both(d + 1), 0)
            return
        s = _lo(insn.src)
        self.mov(both(d), b(s))
        if is64:
            self.mov(both(d + 1), b(s + 1))
        else:
            self.immed(both(d + 1), 0)

    def alu_imm(self, gpr: int, op: AluOp, value: int) -> None:
        """``wrp_alu_imm``: AND 0 / OR ~0 become immed, XOR ~0 a NOT, no-ops vanish."""
        value &= MASK32
        if op is AluOp.AND:
            if value == 0:
                self.immed(both(gpr), 0)
            if value in (0, MASK32):
                return
        elif op is AluOp.OR:
            if value == MASK32:
                self.immed(both(gpr), MASK32)
            if value in (0, MASK32):
                return
        elif op is AluOp.XOR:
            if value == MASK32:
                self.emit(Alu(both(gpr), NONE, AluOp.NOT_B, b(gpr)))
            if value in (0, MASK32):
                return
        self.emit(Alu(both(gpr), a(gpr), op, self.ur_load(value, IMM_B)))

    def binary(
        self, op: AluOp, d: int, s: int, value: int, is64: bool, from_reg: bool, f: InsnFactsLike | None
    ) -> None:
        carry = _CARRY_OPS.get(op, op)
        if from_reg:
            self.emit(Alu(both(d), a(d), op, b(s)))
            if is64:
                self.emit(Alu(both(d + 1), a(d + 1), carry, b(s + 1)))
            else:
                self.zext(f, d)
            return
        if not is64:
            self.alu_imm(d, op, value)
            self.zext(f, d)
            return
        wide = value & MASK64
        if (op is AluOp.AND and wide == MASK64) or (op in (AluOp.OR, AluOp.XOR) and wide == 0):
            return  # marked a no-op
        if op in _CARRY_OPS:  # the carry half is always emitted
            self.emit(Alu(both(d), a(d), op, self.ur_load(wide & MASK32, IMM_B)))
            self.emit(Alu(both(d + 1), a(d + 1), carry, self.ur_load(wide >> 32, IMM_B)))
            return
        self.alu_imm(d, op, wide & MASK32)
        self.alu_imm(d + 1, op, wide >> 32)

    def mul(self, insn: Insn, f: InsnFactsLike | None, is64: bool, from_reg: bool) -> None:
        d = _lo(insn.dst)
        left = a(d)
        left_max = (f.dst.umax if f is not None and f.dst is not None else MASK32) & MASK32
        right: Operand
        if from_reg:
            right = b(_lo(insn.src))
            right_max = (f.src.umax if f is not None and f.src is not None else MASK32) & MASK32
        else:
            value = insn.imm & MASK32
            right = self.ur_load(value, IMM_B)
            right_max = value
        if left_max > 0xFFFF or right_max > 0xFFFF:
            self.mul32(both(d + 1), both(d), left, right, is64)
        else:
            self.mul16(both(d), left, right)

    def mul32(self, dst_hi: Dest, dst_lo: Dest, left: Operand, right: Operand, high: bool) -> None:
        for mode in (MulMode.START, MulMode.STEP1_32, MulMode.STEP2_32, MulMode.STEP3_32, MulMode.STEP4_32):
            self.emit(MulStep(left, right, mode))
        self.emit(MulStep(dst_lo, NONE, MulMode.LAST_32))
        if high:
            self.emit(MulStep(dst_hi, NONE, MulMode.LAST2_32))
        else:
            self.immed(dst_hi, 0)

    def mul16(self, dst_lo: Dest, left: Operand, right: Operand) -> None:
        for mode in (MulMode.START, MulMode.STEP1_16, MulMode.STEP2_16):
            self.emit(MulStep(left, right, mode))
        self.emit(MulStep(dst_lo, NONE, MulMode.LAST_16))

    def div(self, insn: Insn, f: InsnFactsLike | None, from_reg: bool) -> None:
        d = _lo(insn.dst)
        if from_reg:
            src = f.src if f is not None else None
            if src is None or src.umin != src.umax:
                raise self.fail(EOPNOTSUPP, "division by a register that is not one known constant")
            divisor = src.umin
        else:
            divisor = insn.imm & MASK64
        if divisor > MASK32:
            self.immed(both(d), 0)
            return
        if divisor == 0:
            raise self.fail(
                EINVAL,
                "division by a known zero: the JIT's reciprocal of 0 is undefined (the kernel WARNs); "
                "eBPF defines the quotient as 0",
            )
        if divisor > 1 << 31:
            tmp = self.ur_load(divisor, IMM_B)
            self.emit(Alu(NONE, a(d), AluOp.SUB, tmp))
            self.immed(IMM_A, 0)
            self.emit(Alu(both(d), IMM_A, AluOp.ADD_C, imm(0)))
            return
        kind, pre_shift, rv = divide_plan(divisor)
        magic = self.ur_load(rv.m, IMM_B)
        if kind == "shift":
            self.shr_lo(d, rv.exp, "division by 1")
        elif kind == "wide":
            self.mul32(IMM_BOTH, NONE, a(d), magic, True)
            self.emit(Alu(both(d), a(d), AluOp.SUB, IMM_B))
            self.shr_lo(d, 1, "")
            self.emit(Alu(both(d), a(d), AluOp.ADD, IMM_B))
            self.shr_lo(d, rv.sh - 1, f"division by {divisor}")
        else:
            if pre_shift:
                self.shr_lo(d, pre_shift, "")
            self.mul32(both(d), NONE, a(d), magic, True)
            self.shr_lo(d, rv.sh, f"division by {divisor}")

    def shr_lo(self, d: int, n: int, what: str) -> None:
        """``alu_shf[d, --, B, d, >>n]``; n = 0 is the encoding of an indirect shift."""
        if n == 0:
            self.note(
                f"{what}: the JIT's final shift by 0 is encoded as an indirect shift, so the "
                "quotient is shifted by whatever amount the previous alu instruction latched"
            )
            self.emit(AluShf(both(d), NONE, AluOp.B, b(d), SHR_INDIRECT))
        else:
            self.emit(AluShf(both(d), NONE, AluOp.B, b(d), shr(n)))

    # -- shifts ----------------------------------------------------------------------------
    def shift(self, op: BpfAlu, insn: Insn, f: InsnFactsLike | None, is64: bool, from_reg: bool) -> None:
        d = _lo(insn.dst)
        width = 64 if is64 else 32
        if from_reg:
            src = f.src if f is not None else None
            umin, umax = (src.umin, src.umax) if src is not None else (0, MASK64)
            if umin == umax:
                self.shift_imm(op, d, umin & (width - 1), is64, f)
                return
            s = _lo(insn.src)
            if not is64:
                latch = b(d) if op is BpfAlu.ARSH else imm(0)
                self.emit(Alu(NONE, a(s), AluOp.OR, latch))
                if op is BpfAlu.ARSH:
                    self.emit(Asr(both(d), b(d), SHR_INDIRECT))
                else:
                    kind = SHL_INDIRECT if op is BpfAlu.LSH else SHR_INDIRECT
                    self.emit(AluShf(both(d), NONE, AluOp.B, b(d), kind))
                self.zext(f, d)
                return
            self.shift_reg64(op, d, s, umin, umax)
            return
        self.shift_imm(op, d, insn.imm & (width - 1), is64, f)

    def shift_imm(self, op: BpfAlu, d: int, n: int, is64: bool, f: InsnFactsLike | None) -> None:
        if not is64:
            if n:
                if op is BpfAlu.ARSH:
                    self.emit(Alu(NONE, a(d), AluOp.OR, imm(0)))
                    self.emit(Asr(both(d), b(d), shr(n)))
                else:
                    self.emit(AluShf(both(d), NONE, AluOp.B, b(d), shl(n) if op is BpfAlu.LSH else shr(n)))
            self.zext(f, d)
            return
        if n == 0:
            return
        lo, hi = d, d + 1
        if op is BpfAlu.LSH:
            if n < 32:
                self.emit(DblShf(both(hi), a(hi), b(lo), shr(32 - n)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(lo), shl(n)))
            elif n == 32:
                self.mov(both(hi), b(lo))
                self.immed(both(lo), 0)
            else:
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(lo), shl(n - 32)))
                self.immed(both(lo), 0)
        elif op is BpfAlu.RSH:
            if n < 32:
                self.emit(DblShf(both(lo), a(hi), b(lo), shr(n)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(hi), shr(n)))
            elif n == 32:
                self.mov(both(lo), b(hi))
                self.immed(both(hi), 0)
            else:
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(hi), shr(n - 32)))
                self.immed(both(hi), 0)
        else:
            if n < 32:
                self.emit(DblShf(both(lo), a(hi), b(lo), shr(n)))
                self.emit(Alu(NONE, a(hi), AluOp.OR, imm(0)))
                self.emit(Asr(both(hi), b(hi), shr(n)))
            elif n == 32:
                self.mov(both(lo), b(hi))
                self.emit(Asr(both(hi), b(hi), shr(31)))
            else:
                self.emit(Alu(NONE, a(hi), AluOp.OR, imm(0)))
                self.emit(Asr(both(lo), b(hi), shr(n - 32)))
                self.emit(Asr(both(hi), b(hi), shr(31)))

    def shift_reg64(self, op: BpfAlu, d: int, s: int, umin: int, umax: int) -> None:
        """64-bit shift by a register: a sequence for amounts below 32, one for 32 and up, or
        both behind ``br_bset`` on bit 5 when the range straddles 32."""
        lo, hi = d, d + 1

        def lt32_first() -> None:  # the half that must be computed first
            if op is BpfAlu.LSH:
                self.emit(Alu(IMM_BOTH, imm(32), AluOp.SUB, b(s)))
                self.emit(Alu(NONE, IMM_A, AluOp.OR, imm(0)))
                self.emit(DblShf(both(hi), a(hi), b(lo), SHR_INDIRECT))
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(DblShf(both(lo), a(hi), b(lo), SHR_INDIRECT))

        def lt32_second() -> None:
            if op is BpfAlu.LSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(lo), SHL_INDIRECT))
            elif op is BpfAlu.RSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(hi), SHR_INDIRECT))
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, b(hi)))
                self.emit(Asr(both(hi), b(hi), SHR_INDIRECT))

        def ge32() -> None:
            if op is BpfAlu.LSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(lo), SHL_INDIRECT))
                self.immed(both(lo), 0)
            elif op is BpfAlu.RSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(hi), SHR_INDIRECT))
                self.immed(both(hi), 0)
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, b(hi)))
                self.emit(Asr(both(lo), b(hi), SHR_INDIRECT))
                self.emit(Asr(both(hi), b(hi), shr(31)))

        if umax < 32:
            lt32_first()
            lt32_second()
        elif umin >= 32:
            ge32()
        else:
            bset = self.here
            self.emit(BrBset(a(s), 5, 0))
            lt32_first()
            br = self.here
            self.emit(Br(0, defer=2))
            lt32_second()
            ge32_at = self.here
            ge32()
            self.code[bset] = BrBset(a(s), 5, ge32_at)
            self.code[br] = Br(self.here, defer=2)

    # -- byte swap -------------------------------------------------------------------------
    def end(self, insn: Insn, info: OpInfo) -> None:
        d = _lo(insn.dst)
        if info.cls is not Class.ALU or not insn.opcode & 0x08:
            raise self.fail(
                EOPNOTSUPP,
                f"instruction {insn.opcode:#04x} not supported: the NFP converts to big endian only",
            )
        bits = info.size
        if bits == 16:
            self.emit(LdField(both(d), 0x9, b(d), rot(8)))
            self.emit(LdField(both(d), 0xE, b(d), shr(16)))
            self.immed(both(d + 1), 0)
        elif bits == 32:
            self.emit(LdField(both(d), 0xF, b(d), rot(8)))
            self.emit(LdField(both(d), 0x5, b(d), rot(16)))
            self.immed(both(d + 1), 0)
        else:
            self.mov(IMM_B, b(d + 1))
            self.emit(LdField(both(d + 1), 0xF, b(d), rot(8)))
            self.emit(LdField(both(d + 1), 0x5, b(d), rot(24)))
            self.emit(LdField(both(d), 0xF, IMM_B, rot(8)))
            self.emit(LdField(both(d), 0x5, IMM_B, rot(24)))

    # -- lddw ------------------------------------------------------------------------------
    def lddw(self, insn: Insn, info: OpInfo) -> None:
        d = _lo(insn.dst)
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            tid = self.map_tid(insn.imm)
            self.tids[insn.imm] = tid
            low, high = tid & MASK32, 0
        elif insn.src == PseudoSrc.IMM64:
            low, high = insn.imm & MASK32, insn.imm_hi & MASK32
        else:
            raise self.fail(
                EOPNOTSUPP,
                f"lddw with pseudo source {insn.src} ({info.mnemonic}): offloaded programs cannot "
                "use global data or code addresses",
            )
        self.immed(both(d), low)
        if low == high:
            self.mov(both(d + 1), b(d))
        else:
            self.immed(both(d + 1), high)

    # -- memory ----------------------------------------------------------------------------
    def _ptr(self, f: InsnFactsLike | None, base: int) -> PtrLike:
        ptr = f.ptr if f is not None else None
        if ptr is None:
            if base == 10:
                return _StackPtr()
            raise self.fail(EOPNOTSUPP, f"nothing is known about the pointer in r{base}")
        return ptr

    def ldx(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        size = info.size
        ptr = self._ptr(f, insn.src)
        d = _lo(insn.dst)
        if ptr.kind == "ctx":
            self.ldx_ctx(insn, size, ptr)
        elif ptr.kind == "stack":
            self.stack_access(insn, f, size, ptr, d, _lo(insn.src), load=True)
        elif ptr.kind == "packet":
            offset = self.re_load(insn.off, IMM_B)
            self.data_ld_host_order(f, d, a(_lo(insn.src)), offset, size, Mode.MODE_32)
        elif ptr.kind == "map_value":
            s = _lo(insn.src)
            offset = self.re_load(insn.off, IMM_B)
            if offset == imm(0):
                high, low = b(s + 1), a(s)
            else:
                self.emit(Alu(IMM_A, a(s), AluOp.ADD, offset))
                self.emit(Alu(IMM_B, b(s + 1), AluOp.ADD_C, imm(0)))
                high, low = IMM_B, IMM_A
            self.data_ld_host_order(f, d, high, low, size, Mode.MODE_40)
        else:
            raise self.fail(EOPNOTSUPP, f"a load through a {ptr.kind} pointer has no NFP translation")

    def ldx_ctx(self, insn: Insn, size: int, ptr: PtrLike) -> None:
        off = insn.off + (ptr.off or 0)
        d = _lo(insn.dst)
        if size != 4:
            raise self.fail(EOPNOTSUPP, f"context loads must be 4 bytes wide, this one is {size}")
        if self.prog_type == "tc":
            if off == SKB_LEN:
                self.mov(both(d), PLEN)
            elif off == SKB_DATA:
                self.mov(both(d), PPTR)
            elif off == SKB_DATA_END:
                self.emit(Alu(both(d), PLEN, AluOp.ADD, PPTR))
            else:
                raise self.fail(
                    EOPNOTSUPP, f"__sk_buff field at offset {off}: only len, data and data_end are offloaded"
                )
        elif off == XDP_DATA:
            self.mov(both(d), PPTR)
        elif off == XDP_DATA_END:
            self.emit(Alu(both(d), PLEN, AluOp.ADD, PPTR))
        else:
            raise self.fail(EOPNOTSUPP, f"xdp_md field at offset {off}: only data and data_end are offloaded")
        self.immed(both(d + 1), 0)

    def data_ld_host_order(
        self, f: InsnFactsLike | None, d: int, left: Operand, right: Operand, size: int, mode: Mode
    ) -> None:
        """``read32_swap`` then the wanted bytes from the transfer registers."""
        words = max(size, 4) // 4
        self.emit(Mem(MemCmd.READ32_SWAP, 0, left, right, words, mode))
        moved = 0
        if size < 4:
            self.emit(LdField(both(d), (1 << size) - 1, xfer(0), clear=True))
        else:
            for i in range(words):
                self.mov(both(d + i), xfer(i))
            moved = words
        if moved < 2:
            self.zext(f, d)

    def stx(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        size = info.size
        ptr = self._ptr(f, insn.dst)
        s = _lo(insn.src)
        if ptr.kind == "stack":
            self.stack_access(insn, f, size, ptr, s, _lo(insn.dst), load=False)
        elif ptr.kind == "packet":
            offset = self.re_load(insn.off, IMM_B)
            for i in range((size + 3) // 4):
                self.mov(xfer(i), a(s + i))
            self.emit(Mem(MemCmd.WRITE8_SWAP, 0, a(_lo(insn.dst)), offset, size))
        elif ptr.kind == "ctx" and self.prog_type == "xdp":
            off = insn.off + (ptr.off or 0)
            if off != XDP_RX_QUEUE_INDEX or size != 4:
                raise self.fail(EOPNOTSUPP, f"store to xdp_md offset {off}: only rx_queue_index (4 bytes)")
            self.queue_select(s)
        elif ptr.kind == "map_value":
            raise self.fail(EOPNOTSUPP, "stores to map values are not offloaded (map writes not supported)")
        else:
            raise self.fail(EOPNOTSUPP, f"a store through a {ptr.kind} pointer has no NFP translation")

    def queue_select(self, s: int) -> None:
        """Steer the packet to RX queue ``s``, or to NFP_NET_RXR_MAX if it does not fit."""
        target = self.here + 5
        self.emit(Alu(NONE, a(s), AluOp.AND_NOT_B, imm(0xFF)))
        self.emit(Br(target, Cond.EQ, defer=2))
        self.emit(AluShf(PV_QSEL_SET, PV_QSEL_SET, AluOp.OR, imm(1), shl(QSEL_SET_BIT)))
        self.emit(LdField(PV_QSEL_VAL, 0x1, b(s)))
        self.emit(LdField(PV_QSEL_VAL, 0x1, imm(NFP_NET_RXR_MAX)))

    def stack_access(
        self, insn: Insn, f: InsnFactsLike | None, size: int, ptr: PtrLike, gpr: int, base: int, load: bool
    ) -> None:
        """``mem_op_stack``: a stack access through LM, as directly addressed words of the frame
        (first 64 bytes), an aligned 32-byte window through ActLMAddr3, or a walk with
        post-increment (also for pointers the JIT cannot place at translation time)."""
        off = self.frame_depth + insn.off + (ptr.off or 0)
        lm3 = True
        needs_inc = False
        if ptr.off is None or ptr.frame_up > 0:
            tmp = self.ur_load(insn.off, IMM_B)
            self.emit(Alu(IMM_B, a(base), AluOp.ADD, tmp))
            needs_inc = True
        elif off + size <= 64:
            lm3 = False
        elif _round_down(off, 32) == _round_down(off + size - 1, 32):
            tmp = self.ur_load(_round_down(off, 32), IMM_B)
            self.emit(Alu(IMM_B, STACK_REG, AluOp.ADD, tmp))
            off %= 32
        else:
            tmp = self.ur_load(_round_down(off, 4), IMM_B)
            self.emit(Alu(IMM_B, STACK_REG, AluOp.ADD, tmp))
            needs_inc = True
        narrow = load and size < 8
        zext = f is None or f.zext
        if lm3:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR3, IMM_B))
            self.nops(2 if narrow and zext else 3)
        if narrow:
            self.zext(f, gpr)
        first = True
        prev_gpr = -1
        gpr_byte = 0
        while size:
            piece = min(size, 4 - gpr_byte)
            piece = min(off + piece, _round_up(off + 1, 4)) - off
            last = piece == size
            if needs_inc:
                off %= 4
            new_gpr = gpr != prev_gpr
            if load:
                self.lmem_load(gpr, gpr_byte, off, piece, first, new_gpr, last, lm3, needs_inc)
            else:
                self.lmem_store(gpr, gpr_byte, off, piece, first, new_gpr, last, lm3, needs_inc)
            prev_gpr = gpr
            first = False
            gpr_byte += piece
            if gpr_byte >= 4:
                gpr_byte -= 4
                gpr += 1
            size -= piece
            off += piece

    def lmem_load(
        self,
        gpr: int,
        dst_byte: int,
        off: int,
        size: int,
        first: bool,
        new_gpr: bool,
        last: bool,
        lm3: bool,
        needs_inc: bool,
    ) -> None:
        should_inc = needs_inc and new_gpr and not last
        idx = off // 4
        pointer = 3 if lm3 else 0
        if size == 4:
            self.mov(both(gpr), lm_inc(3) if should_inc else lm(pointer, idx))
            return
        mask = ((1 << size) - 1) << dst_byte
        shift = _byte_shift(off % 4, dst_byte)
        src: Operand
        if idx <= LM_DIRECT_MAX:
            src = lm(pointer, idx)
        else:
            src = IMM_A
            if first or not new_gpr:  # else the word is already in imm_a
                self.mov(IMM_A, lm(0, idx))
        self.emit(LdField(both(gpr), mask, src, shift, clear=new_gpr))
        if should_inc:
            self.mov(NONE, lm_inc(3))

    def lmem_store(
        self,
        gpr: int,
        src_byte: int,
        off: int,
        size: int,
        first: bool,
        new_gpr: bool,
        last: bool,
        lm3: bool,
        needs_inc: bool,
    ) -> None:
        should_inc = needs_inc and new_gpr and not last
        idx = off // 4
        pointer = 3 if lm3 else 0
        if size == 4:
            self.mov(lm_inc(3) if should_inc else lm(pointer, idx), b(gpr))
            return
        mask = ((1 << size) - 1) << (off % 4)
        shift = _byte_shift(src_byte, off % 4)
        dst: Dest
        if idx <= LM_DIRECT_MAX:
            dst = lm(pointer, idx)
        else:
            dst = IMM_A  # read-modify-write through imm_a (ld_field reaches *l$index0[0..7] only)
            if first or last:
                self.mov(IMM_A, lm(0, idx))
        self.emit(LdField(dst, mask, b(gpr), shift))
        if new_gpr or last:
            if idx > LM_DIRECT_MAX:
                self.mov(lm(0, idx), IMM_A)
            if should_inc:
                self.mov(NONE, lm_inc(3))

    def atomic(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        if info.op != 0 or info.size not in (4, 8):
            raise self.fail(EOPNOTSUPP, f"atomic operation {info.mnemonic}: only add (no fetch) is offloaded")
        ptr = self._ptr(f, insn.dst)
        if ptr.kind != "map_value":
            raise self.fail(EOPNOTSUPP, f"atomic add to a {ptr.kind} pointer: only map values")
        self.xadd(insn, f, info.size == 8)

    def xadd(self, insn: Insn, f: InsnFactsLike | None, is64: bool) -> None:
        """Atomic add in EMEM: ``add_imm`` with the value in the ALU override when it fits 16
        bits, ``add``/``add64`` from transfer registers otherwise, or both behind a run-time
        test when the value's range allows both."""
        d, s = _lo(insn.dst), _lo(insn.src)
        src = f.src if f is not None else None
        maybe16 = src is None or src.umin <= 0xFFFF
        over16 = src is None or src.umax > 0xFFFF
        offset = self.ur_load(insn.off, IMM_B)
        both_paths = maybe16 and over16
        branch = -1
        if both_paths:
            self.immed(IMM_A, 0xFFFF)
            self.emit(Alu(NONE, IMM_A, AluOp.SUB, b(s)))
            self.emit(Alu(NONE, imm(0), AluOp.SUB_C, b(s + 1)))
            branch = self.here
            self.emit(Br(0, Cond.CC, 2 if insn.off else 0))
        high: Operand
        low: Operand
        if not insn.off:
            high, low = b(d + 1), a(d)
        else:
            self.emit(Alu(IMMA_A, a(d), AluOp.ADD, offset))
            self.emit(Alu(IMMA_B, a(d + 1), AluOp.ADD_C, imm(0)))
            high, low = IMMA_B, IMMA_A
        out_branch = -1
        if maybe16:
            self.immed(IMM_A, ADD_IMM_OVERRIDE | ((8 | int(is64) << 2) << 8))
            self.emit(LdField(IMM_A, 0xC, b(s), shl(16)))
            cmd = MemCmd.ADD64_IMM if is64 else MemCmd.ADD_IMM
            self.emit(Mem(cmd, 0, high, low, 1, Mode.MODE_40, ctx_swap=False, indirect_ref=True))
            if over16:
                out_branch = self.here
                self.emit(Br(0))
        if branch >= 0:
            self.code[branch] = Br(self.here, Cond.CC, 2 if insn.off else 0)
        if over16:
            cmd = MemCmd.ADD64 if is64 else MemCmd.ADD
            self.emit(Mem(cmd, 0, high, low, 2 if is64 else 1, Mode.MODE_40, defer=2 if is64 else 1))
            self.mov(xfer(0), a(s))
            if is64:
                self.mov(xfer(1), a(s + 1))
        if out_branch >= 0:
            self.code[out_branch] = Br(self.here)

    def ld_abs(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        """Classic packet loads: bounds check against plen (abort when short), ``read8``,
        shift the wanted bytes down. The result is R0."""
        size = info.size
        if size not in (1, 2, 4):
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported")
        offset = insn.imm & 0xFFFF
        if info.form is Form.LD_ABS:
            tmp = self.ur_load(offset + size, IMM_A)
            self.emit(Alu(NONE, PLEN, AluOp.SUB, tmp))
            self.emit(Br(BR_OFF_RELO, Cond.CC, relo=Relo.BR_GO_ABORT))
            where = self.re_load(offset, IMM_B)
        else:
            tmp = self.ur_load(offset, IMM_B)
            self.emit(Alu(IMM_BOTH, a(_lo(insn.src)), AluOp.ADD, tmp))
            self.emit(Alu(IMM_A, IMM_A, AluOp.ADD, imm(size)))
            self.emit(Alu(NONE, PLEN, AluOp.SUB, IMM_A))
            self.emit(Br(BR_OFF_RELO, Cond.CC, relo=Relo.BR_GO_ABORT))
            where = IMM_B
        self.emit(Mem(MemCmd.READ8, 0, PPTR, where, max(size, 4)))
        if size < 4:
            self.emit(AluShf(both(0), NONE, AluOp.B, xfer(0), shr((4 - size) * 8)))
        else:
            self.mov(both(0), xfer(0))
        self.zext(f, 0)

    # -- jumps -----------------------------------------------------------------------------
    def jump(self, pc: int, insn: Insn, info: OpInfo) -> None:
        op = JmpOp(info.op)
        is64 = info.cls is Class.JMP
        target = pc + 1 + insn.off
        d = _lo(insn.dst)
        from_reg = info.form is Form.JCOND_REG
        value = insn.imm
        neg = False
        if not from_reg and op in _NEG_JUMPS and value < 0:  # opt_neg_add_sub's jump_neg_op
            value = _s32(-value)
            neg = True
        wide = value & MASK64
        if op is JmpOp.JEQ:
            if from_reg:
                s = _lo(insn.src)
                self.emit(Alu(IMM_A, a(d), AluOp.XOR, b(s)))
                if is64:
                    self.emit(Alu(IMM_B, a(d + 1), AluOp.XOR, b(s + 1)))
                    self.emit(Alu(NONE, IMM_A, AluOp.OR, IMM_B))
            else:
                or1: Operand = a(d)
                or2: Operand = b(d + 1)
                if wide & MASK32:
                    self.emit(Alu(IMM_A, a(d), AluOp.XOR, self.ur_load(wide & MASK32, IMM_B)))
                    or1 = IMM_A
                if is64:
                    if wide >> 32:
                        self.emit(Alu(IMM_B, a(d + 1), AluOp.XOR, self.ur_load(wide >> 32, IMM_B)))
                        or2 = IMM_B
                    self.emit(Alu(NONE, or1, AluOp.OR, or2))
                else:
                    self.emit(Alu(NONE, NONE, AluOp.B, or1))
            self.br_pc(Cond.EQ, target)
        elif op is JmpOp.JNE and not from_reg:
            if not wide:
                if is64:
                    self.emit(Alu(NONE, a(d), AluOp.OR, b(d + 1)))
                else:
                    self.emit(Alu(NONE, NONE, AluOp.B, b(d)))
                self.br_pc(Cond.NE, target)
                return
            self.emit(Alu(NONE, a(d), AluOp.XOR, self.ur_load(wide & MASK32, IMM_B)))
            self.br_pc(Cond.NE, target)
            if is64:
                self.emit(Alu(NONE, a(d + 1), AluOp.XOR, self.ur_load(wide >> 32, IMM_B)))
                self.br_pc(Cond.NE, target)
        elif op in (JmpOp.JNE, JmpOp.JSET) and from_reg:
            alu_op = AluOp.XOR if op is JmpOp.JNE else AluOp.AND
            s = _lo(insn.src)
            self.emit(Alu(IMM_A, a(d), alu_op, b(s)))
            if is64:
                self.emit(Alu(IMM_B, a(d + 1), alu_op, b(s + 1)))
                self.emit(Alu(NONE, IMM_A, AluOp.OR, IMM_B))
            self.br_pc(Cond.NE, target)
        elif op is JmpOp.JSET:
            self.emit(Alu(IMM_B, a(d), AluOp.AND, self.ur_load(wide & MASK32, IMM_B)))
            if is64 and wide >> 32:
                self.emit(Alu(NONE, a(d + 1), AluOp.OR, IMM_B))
            self.br_pc(Cond.NE, target)
        elif op in _JMP_CODES:
            cond, swap = _JMP_CODES[op]
            if from_reg:
                left, right = (_lo(insn.src), d) if swap else (d, _lo(insn.src))
                self.emit(Alu(NONE, a(left), AluOp.SUB, b(right)))
                if is64:
                    self.emit(Alu(NONE, a(left + 1), AluOp.SUB_C, b(right + 1)))
            else:
                alu_op, carry_op = (AluOp.ADD, AluOp.ADD_C) if neg else (AluOp.SUB, AluOp.SUB_C)
                tmp = self.ur_load(wide & MASK32, IMM_B)
                self.emit(Alu(NONE, tmp, alu_op, a(d)) if swap else Alu(NONE, a(d), alu_op, tmp))
                if is64:
                    tmp = self.ur_load(wide >> 32, IMM_B)
                    self.emit(
                        Alu(NONE, tmp, carry_op, a(d + 1)) if swap else Alu(NONE, a(d + 1), carry_op, tmp)
                    )
            self.br_pc(cond, target)
        else:
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported ({info.mnemonic})")

    # -- calls and exits -------------------------------------------------------------------
    def call(self, pc: int, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        if info.variant == 1:
            self.bpf_to_bpf(pc + 1 + insn.imm)
            return
        if info.variant != 0:
            raise self.fail(EOPNOTSUPP, "kfunc calls are not offloaded")
        hid = insn.imm
        if hid in (HELPER_MAP_LOOKUP, HELPER_MAP_UPDATE, HELPER_MAP_DELETE):
            self.map_call(hid, f)
        elif hid == HELPER_PRANDOM:
            self.emit(LocalCsrRd(Csr.PSEUDO_RND_NUM))
            self.emit(Immed(both(0), 0))
            self.emit(Immed(both(1), 0))
        elif hid == HELPER_PERF_EVENT_OUTPUT:
            data = f.args[3] if f is not None and len(f.args) > 3 else None
            code = PTR_TYPE_CODES.get(getattr(data, "kind", ""), PTR_TYPE_SCALAR)
            ptr_type = self.ur_load(code, IMM_A)
            ret = self.here + 3
            self.emit(Br(BR_OFF_RELO + hid, defer=2, relo=Relo.BR_HELPER))
            self.mov(a(1), ptr_type)
            self.emit(Immed(b(0), ret, relo=Relo.IMMED_REL))
        elif hid == HELPER_ADJUST_HEAD:
            self.adjust_head(pc)
        elif hid == HELPER_ADJUST_TAIL:
            self.adjust_tail()
        else:
            raise self.fail(EOPNOTSUPP, f"unsupported function id: {hid}")

    def map_call(self, hid: int, f: InsnFactsLike | None) -> None:
        """Firmware map helper: table id in A0, key at ActLMAddr0 (moved only when the key is
        not at the frame's start), value at ActLMAddr2, return address in B0."""
        key = f.args[1] if f is not None and len(f.args) > 1 else None
        key_off = getattr(key, "off", None)
        frame_up = getattr(key, "frame_up", 0)
        load_lm = key_off is None or frame_up > 0 or self.frame_depth + key_off != 0
        if load_lm:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, b(_lo(2))))
        if hid == HELPER_MAP_UPDATE:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR2, b(_lo(3))))
        self.emit(Br(BR_OFF_RELO + hid, defer=2, relo=Relo.BR_HELPER))
        ret = self.here + 2
        self.mov(a(0), a(_lo(1)))
        self.emit(Immed(b(0), ret, relo=Relo.IMMED_REL))
        if load_lm:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
            self.nops(3)

    def adjust_head(self, pc: int) -> None:
        cap = self.profile.adjust_head
        if cap is None:
            raise self.fail(EOPNOTSUPP, "adjust_head not supported by FW")
        delta = a(_lo(2))
        if self.adjust_head_fast == pc:
            self.emit(Alu(PPTR, delta, AluOp.ADD, PPTR))
            self.emit(Alu(PLEN, PLEN, AluOp.SUB, delta))
            self.emit(Alu(PV_LEN, PV_LEN, AluOp.SUB, delta))
            self.immed(both(0), 0)
            self.immed(both(1), 0)
            return
        tmp_min = self.ur_load(cap.off_min, IMM_B)
        self.emit(Alu(IMM_A, delta, AluOp.ADD16, PPTR))
        self.emit(Alu(NONE, IMM_A, AluOp.SUB, tmp_min))
        to_einval = [self.here]
        self.emit(Br(0, Cond.CC))
        self.emit(Alu(NONE, self.ur_load(cap.off_max, IMM_B), AluOp.SUB, IMM_A))
        to_einval.append(self.here)
        self.emit(Br(0, Cond.CC))
        self.emit(Alu(IMM_B, PLEN, AluOp.SUB, delta))
        self.emit(Alu(NONE, IMM_B, AluOp.SUB, imm(ETH_HLEN)))
        to_einval.append(self.here)
        self.emit(Br(0, Cond.MI))
        self.immed(both(0), 0)
        self.immed(both(1), 0)
        self.emit(LdField(PPTR, 0x3, IMM_A))
        to_end = self.here
        self.emit(Br(0, defer=2))
        self.emit(Alu(PLEN, PLEN, AluOp.SUB, delta))
        self.emit(Alu(PV_LEN, PV_LEN, AluOp.SUB, delta))
        for at in to_einval:
            self.retarget(at, self.here)
        self.immed(both(0), -22)
        self.immed(both(1), MASK32)
        self.code[to_end] = Br(self.here, defer=2)

    def adjust_tail(self) -> None:
        delta = a(_lo(2))
        ret_einval = self.here + 9
        end = self.here + 11
        self.emit(Alu(IMM_A, PLEN, AluOp.ADD, delta))
        self.emit(Br(ret_einval, Cond.CC))
        self.emit(Alu(NONE, IMM_A, AluOp.SUB, imm(ETH_HLEN)))
        self.emit(Br(ret_einval, Cond.MI))
        self.emit(Alu(PLEN, PLEN, AluOp.ADD, delta))
        self.emit(Alu(PV_LEN, PV_LEN, AluOp.ADD, delta))
        self.emit(Br(end, defer=2))
        self.immed(both(0), 0)
        self.immed(both(1), 0)
        self.immed(both(0), -22)
        self.immed(both(1), MASK32)

    def bpf_to_bpf(self, callee_pc: int) -> None:
        callee = self._sub_of(callee_pc)
        step = _round_up(self.frame_depth, STACK_FRAME_ALIGN)
        if step:
            self.emit(Alu(STACK_REG, STACK_REG, AluOp.ADD, self.ur_load(step, IMM_B)))
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
        if callee.saves_regs:
            ret = self.here + 3
            self.emit(Br(BR_OFF_RELO, defer=2, relo=Relo.BR_GO_CALL_PUSH_REGS))
            self.fixups.append(_Fixup(self.here, callee_pc, immed=True))
            self.emit(Immed(IMM_B, 0, relo=Relo.IMMED_REL))
        else:
            ret = self.here + 2
            self.br_pc(Cond.ALWAYS, callee_pc, defer=1)
        self.emit(Immed(RET_REG, ret, relo=Relo.IMMED_REL))
        if step:
            self.emit(Alu(STACK_REG, STACK_REG, AluOp.SUB, self.ur_load(step, IMM_B)))
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
            self.nops(3)

    def exit(self) -> None:
        if self.cur.entry == 0:
            self.emit(Br(BR_OFF_RELO, relo=Relo.BR_GO_OUT))
        elif self.cur.saves_regs:
            self.emit(Br(BR_OFF_RELO, defer=1, relo=Relo.BR_GO_CALL_POP_REGS))
            self.mov(RET_REG, lm(0, 0))
        else:
            self.mov(RET_REG, lm(0, 0))
            self.emit(Rtn(RET_REG))


@dataclass(frozen=True, slots=True)
class _StackPtr:
    """R10 itself when the analysis gave no pointer facts: this frame, offset 0."""

    kind: str = "stack"
    off: int | None = 0
    frame_up: int = 0
    map_index: int | None = None
