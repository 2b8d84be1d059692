"""NFP-flavoured microcode: the instructions the NFP eBPF JIT emits, their 64-bit words and
their text in the binutils ``nfp-dis`` syntax (what ``bpftool prog dump jited`` prints for an
offloaded program).

The translator (:mod:`emulator.backends.nic.translate`) builds these objects, the simulator
executes them and the listing prints them; this module is the contract between the three, so
it states the semantics each instruction has in *our* model. Where the hardware is not
documented publicly the model follows how the upstream JIT uses the instruction (reference
``nfp_offload.md`` §2); such rules are marked **[inferred]**.

Machine state the semantics refer to
------------------------------------
- **GPRs**: two banks, A and B, 32 registers of 32 bits each. ``Gpr("A", n)`` reads/writes
  bank A only, ``Both(n)`` writes both copies (text ``gprA_n, ..., gpr_wrboth``). The banks
  must be kept apart: the firmware helper ABI passes the table id in A0 and the return address
  in B0 at the same time, and the outros write A1/A2 and B2/B3 separately.
- **Transfer registers** ``$xfer_0..31``: one array (the hardware has separate read and write
  banks; the JIT never depends on the difference).
- **Local memory (LM)**: byte addressed, 32-bit words, byte ``i`` of a word is bits
  ``8i..8i+7`` (little-endian lanes, so eBPF stack bytes keep their order). Four LM address
  CSRs ``ActLMAddr0..3``. ``*l$indexN[k]`` is the word at byte address ``ActLMAddrN | 4k``
  (the index is OR-ed in, not added: the JIT keeps windows aligned so both agree; a simulator
  may flag ``ActLMAddrN & 4k != 0``). ``*l$indexN++`` / ``*l$indexN--`` is the word at
  ``ActLMAddrN``, after which ``ActLMAddrN`` moves by +4 / -4 (immediately).
  ``local_csr_wr[ActLMAddrN, x]`` stores ``x & ~3`` (the pointer is word aligned: the low two
  bits are discarded, and the JIT relies on it when it computes a stack address at run time).
  The write has a latency of 3 instructions on hardware; the translator puts at least 3
  instructions between the write and the first ``*l$indexN`` use, except across a taken
  branch: a bpf-to-bpf call into a callee that saves no registers from a caller with a
  non-empty frame is ``local_csr_wr[ActLMAddr0, gprA_22]``, ``br[callee], defer[1]``, the
  slot, then the callee's ``alu[*l$index0, --, B, gprA_21]`` (as the upstream JIT emits it; it
  relies on the taken branch's pipeline penalty), so a model that checks the latency should
  count a taken branch as 3 instruction times.
- **Condition codes** Z, N, C, V (ARM-style carry: C = 1 means "no borrow" after a subtract).
- **ALU output latch** ``alu_out``: the 32-bit result of the most recent instruction that went
  through the ALU: ``alu``, ``alu_shf``, ``dbl_shf``, ``asr``, ``ld_field`` (the merged value
  written to dst), ``immed`` (the loaded value, also when dst is ``--``) and ``mul_step`` last
  steps. Memory commands, branches, CSR accesses and ``nop`` leave it alone.
- **Indirect shift latch** ``shift_src``: the value of the *A (left) operand* of the most
  recent ``alu`` instruction (``--`` counts as 0). The JIT always emits ``alu[--, amount, OR,
  x]`` right before an indirect shift.
- **Multiplier**: the two operands latched by ``mul_step ... start``.
- **CSR read latch**: set by ``local_csr_rd``, consumed by the next ``immed``.

Instruction semantics (``A``/``B`` = value of the left/right source operand)
------------------------------------------------------------------------------
- ``alu[dst, A, op, B]`` (:class:`Alu`): ``dst = op(A, B)`` over 32 bits; ``dst = --``
  computes flags only. Ops (:class:`AluOp`) and flags, see :func:`alu_compute`:
  ``B`` = B, ``~B`` = NOT B, ``+`` = A + B, ``+carry`` = A + B + C, ``-`` = A - B,
  ``-carry`` = A - B - (1 - C), ``B-A`` = B - A, ``+16`` = (A + B) AND 0xffff, ``+8`` =
  (A + B) AND 0xff [inferred: "only the 16-bit offset inside the CTM buffer changes"],
  ``AND``, ``AND~`` = A AND NOT B, ``~AND`` = NOT A AND B, ``OR``, ``XOR``.
  Z = (result == 0), N = bit 31 of result. Additive ops: C = carry out of bit 31 (bit 15 /
  bit 7 for ``+16`` / ``+8``), V = signed overflow. Subtractive ops: C = 1 when there was no
  borrow (unsigned A >= B, taking the incoming borrow into account for ``-carry``), V =
  signed overflow. Logical ops and moves: C = V = 0 [inferred; the JIT never reads C or V
  after them]. Also updates ``alu_out`` (result) and ``shift_src`` (A).
- ``alu_shf[dst, A, op, B, shift]`` (:class:`AluShf`): ``B' = shift(B)`` then ``dst = op(A,
  B')`` with op in ``B``, ``~B``, ``AND``, ``AND~``, ``~AND``, ``OR``, ``XOR``. Shifts
  (:class:`Shift`): ``<<n``, ``>>n`` (logical), ``>>rotn`` (rotate right), ``<<indirect`` /
  ``>>indirect`` with ``n = shift_src & 31``. Z/N from the result, C = V = 0.
- ``asr[dst, B, >>n]`` (:class:`Asr`): arithmetic shift right of B; the bits shifted in are
  bit 31 of ``alu_out`` (the previous ALU result), **not** of B. ``>>indirect`` takes
  ``n = shift_src & 31``.
- ``dbl_shf[dst, A, B, >>n]`` (:class:`DblShf`): ``dst = low32(((A << 32) | B) >> n)``.
  ``>>indirect``: ``n = shift_src & 31``, except that when ``shift_src & 63 == 32`` the result
  is A [inferred, reference §10: the JIT's 64-bit shift-left-by-register relies on it].
- ``ld_field[dst, mask, src, shift]`` / ``ld_field_w_clr`` (:class:`LdField`): ``v =
  shift(src)`` (``<<n``, ``>>n`` or ``>>rotn``, or none); the bytes selected by the 4-bit mask
  (bit 3 = byte 3 = bits 31:24) are taken from ``v``, the others are kept from dst (cleared
  to 0 by the ``_w_clr`` form). dst may be a GPR, an LM word or a transfer register. Flags
  unchanged (the JIT never uses ``load_cc``).
- ``immed[dst, imm16, <<8*s]`` (:class:`Immed`): ``v = imm16 << 8*s``, inverted (NOT) when
  ``invert``; width ``ALL`` writes v to the whole register, ``W0`` writes bits 15:0 of v,
  ``W1`` writes bits 31:16 of v (the other bits of dst kept). Flags unchanged. When a
  ``local_csr_rd`` preceded it, the CSR value is written instead of v. ``immed`` with dst
  ``--`` only sets ``alu_out`` (used for ``indirect_ref`` overrides). ``relo=IMMED_REL``: the
  value is a program-relative instruction address (a return address).
- ``mul_step[A, B], mode`` (:class:`MulStep`, :class:`MulMode`): ``start`` latches A and B;
  ``*_stepN`` must repeat the same operands and do nothing else in the model;
  ``mul_step[dst, --], 32x32_last`` writes ``low32(A*B)``, ``32x32_last2`` ``high32(A*B)``,
  ``16x16_last`` ``(A & 0xffff) * (B & 0xffff)``. Flags unchanged.
- ``br[.t]`` / ``beq bne bmi bpl bcs bcc bge blt`` (:class:`Br`, :class:`Cond`): the condition
  is evaluated on the flags as they are at the branch (``bcs`` = C, ``bcc`` = not C, ``bge`` =
  N == V, ``blt`` = N != V, ``bmi`` = N, ``bpl`` = not N). ``defer[n]``: the next n
  instructions run whether or not the branch is taken, then control goes to t if taken.
  ``relo`` says how t is resolved (:class:`Relo`): ``BR_REL`` = program-relative address,
  ``BR_GO_OUT``/``BR_GO_ABORT``/``BR_GO_CALL_PUSH_REGS``/``BR_GO_CALL_POP_REGS`` = the image's
  labels, ``BR_NEXT_PKT`` = the firmware's "packet done" address (the program ends; the verdict
  is in A0 bits 16-23), ``BR_HELPER`` = firmware helper ``t - BR_OFF_RELO`` (it returns to the
  address in B0). Pre-relocation images carry ``t = 15000`` (+ helper id) for all but BR_REL.
- ``br_bset[reg, bit, .t]`` / ``br_bclr`` (:class:`BrBset`): branch if bit ``bit`` of reg is
  set (clear), with ``defer`` like ``br``.
- ``rtn[reg]`` (:class:`Rtn`): jump to the program-relative address in reg, after ``defer``.
- ``local_csr_wr[CSR, src]`` (:class:`LocalCsrWr`): CSR = src (ActLMAddr0..3; see latency
  above). ``local_csr_rd[CSR]`` (:class:`LocalCsrRd`): the next ``immed`` writes the CSR value
  (``PseudoRndNum``: a fresh pseudo-random 32-bit number) instead of its immediate.
- ``mem[cmd, $xfer_k, A, B, count]`` (:class:`Mem`, :class:`MemCmd`): a CPP memory command.
  Address: ``MODE_32`` = ``(A + B) & 0xffffffff`` (CTM packet addresses), ``MODE_40`` = ``((A &
  0xff) << 32) | B`` (EMEM map values; printed ``A, <<8, B``: A holds the high bits, B the
  low 32). With ``ctx_swap`` the thread waits for completion: the model performs the command
  synchronously; ``defer[n]`` runs the next n instructions *before* the command is performed
  (the JIT fills ``$xfer`` in those slots). Commands:

  - ``read8``: ``count`` bytes, network order: ``$xfer_{k+i}`` = big-endian u32 of bytes
    ``addr+4i .. addr+4i+3`` (bytes past ``count`` may hold anything; the JIT shifts them out).
  - ``read32_swap``: ``count`` words: ``$xfer_{k+i}`` = little-endian u32 of bytes
    ``addr+4i ..`` (any byte alignment).
  - ``write8_swap``: ``count`` bytes: byte j at ``addr+j`` = byte lane ``j % 4`` of
    ``$xfer_{k + j//4}`` (so a value stored LE in xfer lands LE in memory).
  - ``write32_swap``: ``count`` words, as ``write8_swap`` with ``4*count`` bytes.
  - ``add`` / ``add64`` (EMEM atomic engine, big-endian words): ``add``: the 32-bit
    big-endian word at addr += ``$xfer_k``; ``add64``: M = BE32(word at addr) | BE32(word at
    addr+4) << 32; M += ``$xfer_k | $xfer_{k+1} << 32``; both words written back big-endian.
  - ``add_imm`` / ``add64_imm`` (always ``indirect_ref``, no ctx_swap, posted): as ``add`` /
    ``add64`` with the value ``(alu_out >> 16) & 0xffff`` (the data override the JIT puts in
    bits 31:16 of the previous ALU result). binutils prints both as ``add_imm`` (the width is
    in the override's length field); this model keeps two commands.

  ``indirect_ref`` on other commands is not emitted by our translator.
- ``nop`` (:class:`Nop`): nothing.

Encoding (our own, documented here; bits 45-51 would be ECC, computed at load, 0 here)
--------------------------------------------------------------------------------------
A word is ``relo << 56 | instruction`` with the instruction in bits 0-44: opcode in bits
41-44 (:class:`_Op`), fields packed from bit 0 upwards in the order listed by each class's
``_fields``. Operands are 9-bit codes: ``0x000-0x0ff`` immediate, ``0x100+n`` gprA n,
``0x120+n`` gprB n, ``0x140+n`` $xfer n, ``0x160 + 16p + k`` ``*l$index{p}[k]``, ``0x1a0 + 2p``
``*l$index{p}++``, ``0x1a1 + 2p`` ``*l$index{p}--``, ``0x1ff`` ``--``. Destinations are 10
bits: an operand code plus bit 9 = "write both banks" (with a gprA code). Shifts are 8 bits:
kind (3) then amount (5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Literal

from emulator.errors import EmulatorError

BR_OFF_RELO: Final = 15000  # target of branches relocated at load ("distinguishable in dumps")
MASK32: Final = 0xFFFFFFFF
UNRESTRICTED_IMM_MAX: Final = 0xFF  # alu, mul_step, local_csr_wr, immed destinations' siblings
RESTRICTED_IMM_MAX: Final = 0x7F  # mem and br_bset operands (shifts and ld_field: 0xff)


class MicrocodeError(EmulatorError):
    """An instruction the NFP cannot encode (bank rule, operand kind or immediate limits)."""


class Relo(IntEnum):
    """Relocation type kept in bits 56-63 of a JIT image word (the driver's order)."""

    NONE = 0
    BR_REL = 1
    BR_GO_OUT = 2
    BR_GO_ABORT = 3
    BR_GO_CALL_PUSH_REGS = 4
    BR_GO_CALL_POP_REGS = 5
    BR_NEXT_PKT = 6
    BR_HELPER = 7
    IMMED_REL = 8


# ---------------------------------------------------------------------------------- operands


@dataclass(frozen=True, slots=True)
class Gpr:
    """A general-purpose register of one bank (as a source, or a single-bank destination)."""

    bank: Literal["A", "B"]
    index: int

    def text(self) -> str:
        return f"gpr{self.bank}_{self.index}"


@dataclass(frozen=True, slots=True)
class Both:
    """Destination written to the A and the B copy of a GPR (``gpr_wrboth``)."""

    index: int

    def text(self) -> str:
        return f"gprA_{self.index}"


@dataclass(frozen=True, slots=True)
class Xfer:
    """Transfer register ``$xfer_n``: data in and out of memory commands."""

    index: int

    def text(self) -> str:
        return f"$xfer_{self.index}"


@dataclass(frozen=True, slots=True)
class Lm:
    """Local-memory word through pointer ``ActLMAddr{pointer}``: ``*l$indexP[k]``, or with
    ``step`` +1/-1 the post-incrementing/decrementing ``*l$indexP++`` / ``*l$indexP--``."""

    pointer: int
    index: int = 0
    step: int = 0

    def text(self) -> str:
        if self.step > 0:
            return f"*l$index{self.pointer}++"
        if self.step < 0:
            return f"*l$index{self.pointer}--"
        if self.index:
            return f"*l$index{self.pointer}[{self.index}]"
        return f"*l$index{self.pointer}"


@dataclass(frozen=True, slots=True)
class Imm:
    """Immediate operand (8 bits unrestricted, 7 restricted, 8 for shifts and ld_field)."""

    value: int

    def text(self) -> str:
        return f"{self.value:#x}"


@dataclass(frozen=True, slots=True)
class NoOperand:
    """``--``: no destination (flags/latch only) or an unused source."""

    def text(self) -> str:
        return "--"


NONE: Final = NoOperand()

Operand = Gpr | Xfer | Lm | Imm | NoOperand
Dest = Gpr | Both | Xfer | Lm | NoOperand


def a(n: int) -> Gpr:
    return Gpr("A", n)


def b(n: int) -> Gpr:
    return Gpr("B", n)


def both(n: int) -> Both:
    return Both(n)


def imm(v: int) -> Imm:
    return Imm(v)


def xfer(n: int) -> Xfer:
    return Xfer(n)


def lm(pointer: int, index: int = 0) -> Lm:
    return Lm(pointer, index)


def lm_inc(pointer: int) -> Lm:
    return Lm(pointer, 0, 1)


def _dest_text(dst: Dest | Imm) -> str:
    return dst.text()


def _wrboth_suffix(dst: Dest | Imm) -> str:
    return ", gpr_wrboth" if isinstance(dst, Both) else ""


# ---------------------------------------------------------------------------- enumerations


class AluOp(Enum):
    """ALU operations, valued by their printed name."""

    B = "B"
    NOT_B = "~B"
    ADD = "+"
    ADD16 = "+16"
    ADD8 = "+8"
    ADD_C = "+carry"
    SUB = "-"
    SUB_C = "-carry"
    B_SUB_A = "B-A"
    AND = "AND"
    AND_NOT_B = "AND~"
    NOT_A_AND = "~AND"
    OR = "OR"
    XOR = "XOR"


_ALU_OPS: Final = tuple(AluOp)
_SHF_OPS: Final = (AluOp.B, AluOp.NOT_B, AluOp.AND, AluOp.AND_NOT_B, AluOp.NOT_A_AND, AluOp.OR, AluOp.XOR)


class ShiftKind(Enum):
    NONE = ""
    LEFT = "<<"
    RIGHT = ">>"
    ROT = ">>rot"  # rotate right
    LEFT_INDIRECT = "<<indirect"
    RIGHT_INDIRECT = ">>indirect"


_SHIFT_KINDS: Final = tuple(ShiftKind)


@dataclass(frozen=True, slots=True)
class Shift:
    """How the B operand is shifted: kind and a 0-31 amount (indirect ones take it from the
    ``shift_src`` latch)."""

    kind: ShiftKind = ShiftKind.NONE
    amount: int = 0

    @property
    def indirect(self) -> bool:
        return self.kind in (ShiftKind.LEFT_INDIRECT, ShiftKind.RIGHT_INDIRECT)

    def text(self) -> str:
        if self.kind is ShiftKind.NONE:
            return ""
        if self.indirect:
            return self.kind.value
        return f"{self.kind.value}{self.amount}"


NO_SHIFT: Final = Shift()


def shl(n: int) -> Shift:
    return Shift(ShiftKind.LEFT, n)


def shr(n: int) -> Shift:
    return Shift(ShiftKind.RIGHT, n)


def rot(n: int) -> Shift:
    return Shift(ShiftKind.ROT, n)


SHL_INDIRECT: Final = Shift(ShiftKind.LEFT_INDIRECT)
SHR_INDIRECT: Final = Shift(ShiftKind.RIGHT_INDIRECT)


class ImmedWidth(Enum):
    ALL = "immed"
    W0 = "immed_w0"
    W1 = "immed_w1"


_IMMED_WIDTHS: Final = tuple(ImmedWidth)


class MulMode(Enum):
    """``mul_step`` modes; ``start`` prints the same for 16x16 and 32x32 (as binutils)."""

    START = "start"
    STEP1_16 = "16x16_step1"
    STEP2_16 = "16x16_step2"
    LAST_16 = "16x16_last"
    STEP1_32 = "32x32_step1"
    STEP2_32 = "32x32_step2"
    STEP3_32 = "32x32_step3"
    STEP4_32 = "32x32_step4"
    LAST_32 = "32x32_last"
    LAST2_32 = "32x32_last2"

    @property
    def is_last(self) -> bool:
        return self in (MulMode.LAST_16, MulMode.LAST_32, MulMode.LAST2_32)


_MUL_MODES: Final = tuple(MulMode)


class Cond(Enum):
    """Branch conditions, valued by the mnemonic."""

    ALWAYS = "br"
    EQ = "beq"
    NE = "bne"
    MI = "bmi"
    PL = "bpl"
    CS = "bcs"  # unsigned >= after a subtract (the JIT's BR_BHS)
    CC = "bcc"  # unsigned < (BR_BLO)
    GE = "bge"
    LT = "blt"


_CONDS: Final = tuple(Cond)


class Csr(Enum):
    ACT_LM_ADDR0 = "ActLMAddr0"
    ACT_LM_ADDR1 = "ActLMAddr1"
    ACT_LM_ADDR2 = "ActLMAddr2"
    ACT_LM_ADDR3 = "ActLMAddr3"
    PSEUDO_RND_NUM = "PseudoRndNum"


_CSRS: Final = tuple(Csr)


def lm_addr_csr(pointer: int) -> Csr:
    return _CSRS[pointer]


class MemCmd(Enum):
    READ8 = "read8"
    READ32_SWAP = "read32_swap"
    WRITE8_SWAP = "write8_swap"
    WRITE32_SWAP = "write32_swap"
    ADD = "add"
    ADD64 = "add64"
    ADD_IMM = "add_imm"
    ADD64_IMM = "add64_imm"

    @property
    def printed(self) -> str:
        return "add_imm" if self is MemCmd.ADD64_IMM else self.value


_MEM_CMDS: Final = tuple(MemCmd)


class AddrMode(Enum):
    MODE_32 = "32b"  # address = A + B
    MODE_40 = "40b"  # address = (A & 0xff) << 32 | B


# ------------------------------------------------------------------------ operand checking

_OperandKind = Literal["A", "B", "imm", "other", "none"]


def _kind(op: Operand) -> _OperandKind:
    if isinstance(op, Gpr):
        return op.bank
    if isinstance(op, NoOperand):
        return "none"
    if isinstance(op, Imm):
        return "imm"
    return "other"


def _check_source(op: Operand, restricted: bool, imm_max: int, what: str) -> None:
    if isinstance(op, Gpr):
        if not 0 <= op.index < 32 or op.bank not in ("A", "B"):
            raise MicrocodeError(f"{what}: no such register {op}")
    elif isinstance(op, Xfer):
        if not 0 <= op.index < 32:
            raise MicrocodeError(f"{what}: no transfer register {op.index}")
    elif isinstance(op, Lm):
        _check_lm(op, restricted, what)
    elif isinstance(op, Imm):
        if not 0 <= op.value <= imm_max:
            raise MicrocodeError(f"{what}: immediate {op.value:#x} does not fit (max {imm_max:#x})")


def _check_lm(op: Lm, restricted: bool, what: str) -> None:
    if not 0 <= op.pointer < 4 or op.step not in (-1, 0, 1):
        raise MicrocodeError(f"{what}: bad LM operand {op}")
    limit = 8 if restricted else 16
    if not 0 <= op.index < limit or (op.step and op.index):
        raise MicrocodeError(f"{what}: LM index {op.index} out of range (< {limit})")


def _check_dest(dst: Dest | Imm, restricted: bool, what: str) -> None:
    if isinstance(dst, Both):
        if not 0 <= dst.index < 32:
            raise MicrocodeError(f"{what}: no such register {dst.index}")
    elif isinstance(dst, Imm):
        raise MicrocodeError(f"{what}: an immediate cannot be a destination")
    else:
        _check_source(dst, restricted, 0, what)


def _check_pair(left: Operand, right: Operand, what: str) -> None:
    """One operand per bank: never two A registers, two B registers or two immediates (the
    encoder swaps the operands when the left one is from bank B or the right one from bank
    A; LM and transfer registers can sit in either field)."""
    kl, kr = _kind(left), _kind(right)
    if kl == kr and kl in ("A", "B", "imm"):
        raise MicrocodeError(f"{what}: both operands from the same bank ({left.text()}, {right.text()})")


# ---------------------------------------------------------------------------- instructions


class _Op(IntEnum):
    NOP = 0
    ALU = 1
    ALU_SHF = 2
    ASR = 3
    DBL_SHF = 4
    LD_FIELD = 5
    IMMED = 6
    MUL_STEP = 7
    BR = 8
    BR_BSET = 9
    RTN = 10
    LOCAL_CSR_WR = 11
    LOCAL_CSR_RD = 12
    MEM = 13


@dataclass(frozen=True, slots=True)
class Alu:
    dst: Dest
    a: Operand
    op: AluOp
    b: Operand

    def check(self) -> None:
        _check_dest(self.dst, False, "alu")
        _check_source(self.a, False, 0xFF, "alu")
        _check_source(self.b, False, 0xFF, "alu")
        _check_pair(self.a, self.b, "alu")

    def text(self) -> str:
        return (
            f"alu[{_dest_text(self.dst)}, {self.a.text()}, {self.op.value}, {self.b.text()}]"
            + _wrboth_suffix(self.dst)
        )


@dataclass(frozen=True, slots=True)
class AluShf:
    dst: Dest
    a: Operand
    op: AluOp
    b: Operand
    shift: Shift

    def check(self) -> None:
        _check_dest(self.dst, True, "alu_shf")
        _check_source(self.a, True, 0xFF, "alu_shf")
        _check_source(self.b, True, 0xFF, "alu_shf")
        _check_pair(self.a, self.b, "alu_shf")
        if self.op not in _SHF_OPS:
            raise MicrocodeError(f"alu_shf: no shift form of {self.op.value}")
        _check_shift(self.shift, "alu_shf", allow_rot=True)

    def text(self) -> str:
        return (
            f"alu_shf[{_dest_text(self.dst)}, {self.a.text()}, {self.op.value}, {self.b.text()}, "
            f"{self.shift.text()}]" + _wrboth_suffix(self.dst)
        )


def _check_shift(shift: Shift, what: str, allow_rot: bool, allow_none: bool = False) -> None:
    if shift.kind is ShiftKind.NONE:
        if not allow_none or shift.amount:
            raise MicrocodeError(f"{what}: a shift amount is required")
        return
    if shift.indirect:
        if shift.amount:
            raise MicrocodeError(f"{what}: an indirect shift has no amount")
        return
    if shift.kind is ShiftKind.ROT and not allow_rot:
        raise MicrocodeError(f"{what}: no rotate form")
    if not 1 <= shift.amount <= 31:
        raise MicrocodeError(f"{what}: shift amount {shift.amount} out of 1..31 (0 means indirect)")


@dataclass(frozen=True, slots=True)
class Asr:
    dst: Dest
    b: Operand
    shift: Shift

    def check(self) -> None:
        _check_dest(self.dst, True, "asr")
        _check_source(self.b, True, 0xFF, "asr")
        if self.shift.kind not in (ShiftKind.RIGHT, ShiftKind.RIGHT_INDIRECT):
            raise MicrocodeError("asr: shifts right only")
        _check_shift(self.shift, "asr", allow_rot=False)

    def text(self) -> str:
        return f"asr[{_dest_text(self.dst)}, {self.b.text()}, {self.shift.text()}]" + _wrboth_suffix(self.dst)


@dataclass(frozen=True, slots=True)
class DblShf:
    dst: Dest
    a: Operand
    b: Operand
    shift: Shift

    def check(self) -> None:
        _check_dest(self.dst, True, "dbl_shf")
        _check_source(self.a, True, 0xFF, "dbl_shf")
        _check_source(self.b, True, 0xFF, "dbl_shf")
        _check_pair(self.a, self.b, "dbl_shf")
        if self.shift.kind not in (ShiftKind.RIGHT, ShiftKind.RIGHT_INDIRECT):
            raise MicrocodeError("dbl_shf: shifts right only")
        _check_shift(self.shift, "dbl_shf", allow_rot=False)

    def text(self) -> str:
        return (
            f"dbl_shf[{_dest_text(self.dst)}, {self.a.text()}, {self.b.text()}, {self.shift.text()}]"
            + _wrboth_suffix(self.dst)
        )


@dataclass(frozen=True, slots=True)
class LdField:
    dst: Dest
    mask: int
    src: Operand
    shift: Shift = NO_SHIFT
    clear: bool = False

    def check(self) -> None:
        _check_dest(self.dst, True, "ld_field")
        if isinstance(self.dst, NoOperand):
            raise MicrocodeError("ld_field: needs a destination")
        _check_source(self.src, True, 0xFF, "ld_field")
        if not isinstance(self.dst, Both):  # a "both" destination can be read from either bank
            _check_pair(self.dst, self.src, "ld_field")
        if not 1 <= self.mask <= 0xF:
            raise MicrocodeError(f"ld_field: byte mask {self.mask:#x} out of 1..0xf")
        if self.shift.indirect:
            raise MicrocodeError("ld_field: no indirect shift")
        _check_shift(self.shift, "ld_field", allow_rot=True, allow_none=True)

    def text(self) -> str:
        name = "ld_field_w_clr" if self.clear else "ld_field"
        shift = f", {self.shift.text()}" if self.shift.kind is not ShiftKind.NONE else ""
        return f"{name}[{_dest_text(self.dst)}, {self.mask:04b}, {self.src.text()}{shift}]" + _wrboth_suffix(
            self.dst
        )


@dataclass(frozen=True, slots=True)
class Immed:
    dst: Dest
    imm16: int
    byte_shift: int = 0  # 0, 1 or 2 (bytes)
    invert: bool = False
    width: ImmedWidth = ImmedWidth.ALL
    relo: Relo = Relo.NONE

    @property
    def value(self) -> int:
        """The 32-bit value the immediate stands for (before the width selects bits)."""
        v = (self.imm16 << (8 * self.byte_shift)) & MASK32
        return v ^ MASK32 if self.invert else v

    def check(self) -> None:
        _check_dest(self.dst, False, "immed")
        if not 0 <= self.imm16 <= 0xFFFF or self.byte_shift not in (0, 1, 2):
            raise MicrocodeError(f"immed: {self.imm16:#x} <<{8 * self.byte_shift} cannot be encoded")
        if self.width is not ImmedWidth.ALL and (self.byte_shift or self.invert):
            raise MicrocodeError("immed_w0/w1: plain 16-bit values only")
        if self.relo not in (Relo.NONE, Relo.IMMED_REL):
            raise MicrocodeError(f"immed: relocation {self.relo.name} does not apply")

    def text(self) -> str:
        if isinstance(self.dst, NoOperand) and self.value == 0 and self.width is ImmedWidth.ALL:
            return "nop"
        if self.width is not ImmedWidth.ALL:
            return f"{self.width.value}[{_dest_text(self.dst)}, {self.imm16:#x}]" + _wrboth_suffix(self.dst)
        shown = (~self.imm16 & MASK32) if self.invert else self.imm16
        shift = f", <<{8 * self.byte_shift}" if self.byte_shift else ""
        return f"immed[{_dest_text(self.dst)}, {shown:#x}{shift}]" + _wrboth_suffix(self.dst)


@dataclass(frozen=True, slots=True)
class MulStep:
    """``mul_step[a, b], mode``; for the last steps ``a`` is the destination and b is ``--``."""

    a: Operand | Both
    b: Operand
    mode: MulMode

    def check(self) -> None:
        if self.mode.is_last:
            _check_dest(self.a, False, "mul_step")
            if not isinstance(self.b, NoOperand):
                raise MicrocodeError("mul_step last: the second operand is --")
            return
        if isinstance(self.a, Both):
            raise MicrocodeError("mul_step: a source cannot be written both")
        _check_source(self.a, False, 0xFF, "mul_step")
        _check_source(self.b, False, 0xFF, "mul_step")
        _check_pair(self.a, self.b, "mul_step")

    def text(self) -> str:
        suffix = _wrboth_suffix(self.a) if self.mode.is_last else ""
        return f"mul_step[{_dest_text(self.a)}, {self.b.text()}], {self.mode.value}" + suffix


def _defer_text(defer: int) -> str:
    return f", defer[{defer}]" if defer else ""


@dataclass(frozen=True, slots=True)
class Br:
    target: int
    cond: Cond = Cond.ALWAYS
    defer: int = 0
    relo: Relo = Relo.BR_REL

    def check(self) -> None:
        if not 0 <= self.defer <= 2:
            raise MicrocodeError(f"br: defer[{self.defer}] out of 0..2")
        if not 0 <= self.target < 1 << 16:
            raise MicrocodeError(f"br: target {self.target} out of range")
        if self.relo in (Relo.NONE, Relo.IMMED_REL):
            raise MicrocodeError(f"br: relocation {self.relo.name} does not apply")

    def text(self) -> str:
        return f"{self.cond.value}[.{self.target}]" + _defer_text(self.defer)


@dataclass(frozen=True, slots=True)
class BrBset:
    reg: Operand
    bit: int
    target: int
    defer: int = 0
    set: bool = True  # False: br_bclr
    relo: Relo = Relo.BR_REL

    def check(self) -> None:
        if not isinstance(self.reg, Gpr | Lm | Xfer):
            raise MicrocodeError("br_bset: tests a register")
        _check_source(self.reg, True, 0, "br_bset")
        if not 0 <= self.bit < 32 or not 0 <= self.defer <= 3 or not 0 <= self.target < 1 << 16:
            raise MicrocodeError("br_bset: bit, defer or target out of range")
        if self.relo is not Relo.BR_REL:
            raise MicrocodeError("br_bset: only program-relative targets")

    def text(self) -> str:
        name = "br_bset" if self.set else "br_bclr"
        return f"{name}[{self.reg.text()}, {self.bit}, .{self.target}]" + _defer_text(self.defer)


@dataclass(frozen=True, slots=True)
class Rtn:
    reg: Operand
    defer: int = 0

    def check(self) -> None:
        if not isinstance(self.reg, Gpr | Lm | Xfer):
            raise MicrocodeError("rtn: returns through a register")
        _check_source(self.reg, False, 0, "rtn")
        if not 0 <= self.defer <= 3:
            raise MicrocodeError(f"rtn: defer[{self.defer}] out of 0..3")

    def text(self) -> str:
        return f"rtn[{self.reg.text()}]" + _defer_text(self.defer)


@dataclass(frozen=True, slots=True)
class LocalCsrWr:
    csr: Csr
    src: Operand

    def check(self) -> None:
        _check_source(self.src, False, 0xFF, "local_csr_wr")
        if isinstance(self.src, NoOperand):
            raise MicrocodeError("local_csr_wr: needs a source")

    def text(self) -> str:
        return f"local_csr_wr[{self.csr.value}, {self.src.text()}]"


@dataclass(frozen=True, slots=True)
class LocalCsrRd:
    csr: Csr

    def check(self) -> None:
        return None

    def text(self) -> str:
        return f"local_csr_rd[{self.csr.value}]"


@dataclass(frozen=True, slots=True)
class Mem:
    cmd: MemCmd
    xfer: int
    a: Operand
    b: Operand
    count: int  # words (read32/write32/add*) or bytes (read8/write8), 1..32
    mode: AddrMode = AddrMode.MODE_32
    ctx_swap: bool = True
    indirect_ref: bool = False
    defer: int = 0

    def check(self) -> None:
        if not 0 <= self.xfer < 32 or not 1 <= self.count <= 32 or not 0 <= self.defer <= 2:
            raise MicrocodeError("mem: transfer register, count or defer out of range")
        for op in (self.a, self.b):
            _check_source(op, True, 0x7F, "mem")
            if isinstance(op, NoOperand | Xfer):
                raise MicrocodeError("mem: address operands are registers, LM or immediates")
        _check_pair(self.a, self.b, "mem")
        if self.cmd in (MemCmd.ADD_IMM, MemCmd.ADD64_IMM) and not self.indirect_ref:
            raise MicrocodeError("mem: add_imm takes its value from an indirect_ref override")

    def text(self) -> str:
        if self.mode is AddrMode.MODE_40:
            addr = f"{self.a.text()}, <<8, {self.b.text()}"
        else:
            addr = f"{self.a.text()}, {self.b.text()}"
        out = f"mem[{self.cmd.printed}, $xfer_{self.xfer}, {addr}, {self.count}]"
        if self.indirect_ref:
            out += ", indirect_ref"
        if self.ctx_swap:
            out += ", ctx_swap[sig1]"
        return out + _defer_text(self.defer)


@dataclass(frozen=True, slots=True)
class Nop:
    def check(self) -> None:
        return None

    def text(self) -> str:
        return "nop"


Instr = (
    Alu
    | AluShf
    | Asr
    | DblShf
    | LdField
    | Immed
    | MulStep
    | Br
    | BrBset
    | Rtn
    | LocalCsrWr
    | LocalCsrRd
    | Mem
    | Nop
)


def relo_of(insn: Instr) -> Relo:
    """The relocation a word carries (bits 56-63)."""
    if isinstance(insn, Br | BrBset | Immed):
        return insn.relo
    return Relo.NONE


def defer_of(insn: Instr) -> int:
    """Delay slots after the instruction (branches, rtn and deferred memory commands)."""
    if isinstance(insn, Br | BrBset | Rtn | Mem):
        return insn.defer
    return 0


def text(insn: Instr) -> str:
    """The instruction in binutils nfp-dis syntax."""
    return insn.text()


# --------------------------------------------------------------------------------- encoding

_OPERAND_NONE: Final = 0x1FF


def _operand_code(op: Operand | Both) -> int:
    if isinstance(op, Imm):
        return op.value
    if isinstance(op, Gpr):
        return (0x100 if op.bank == "A" else 0x120) + op.index
    if isinstance(op, Both):
        return 0x200 | (0x100 + op.index)
    if isinstance(op, Xfer):
        return 0x140 + op.index
    if isinstance(op, Lm):
        if op.step:
            return 0x1A0 + 2 * op.pointer + (0 if op.step > 0 else 1)
        return 0x160 + 16 * op.pointer + op.index
    return _OPERAND_NONE


def _operand_from(code: int) -> Operand:
    if code < 0x100:
        return Imm(code)
    if code < 0x120:
        return Gpr("A", code - 0x100)
    if code < 0x140:
        return Gpr("B", code - 0x120)
    if code < 0x160:
        return Xfer(code - 0x140)
    if code < 0x1A0:
        return Lm((code - 0x160) // 16, (code - 0x160) % 16)
    if code < 0x1A8:
        return Lm((code - 0x1A0) // 2, 0, -1 if code & 1 else 1)
    if code == _OPERAND_NONE:
        return NONE
    raise MicrocodeError(f"bad operand code {code:#x}")


def _dest_from(code: int) -> Dest:
    if code & 0x200:
        return Both(code - 0x300)
    op = _operand_from(code)
    if isinstance(op, Imm):
        raise MicrocodeError(f"bad destination code {code:#x}")
    return op


def _shift_code(s: Shift) -> int:
    return _SHIFT_KINDS.index(s.kind) | (s.amount << 3)


def _shift_from(code: int) -> Shift:
    return Shift(_SHIFT_KINDS[code & 7], code >> 3)


class _Packer:
    def __init__(self) -> None:
        self.word = 0
        self.pos = 0

    def put(self, value: int, width: int) -> _Packer:
        assert 0 <= value < 1 << width, (value, width)
        self.word |= value << self.pos
        self.pos += width
        return self


class _Unpacker:
    def __init__(self, word: int) -> None:
        self.word = word

    def get(self, width: int) -> int:
        v = self.word & ((1 << width) - 1)
        self.word >>= width
        return v


def encode(insn: Instr) -> int:
    """The 64-bit image word: relocation type in bits 56-63, instruction in bits 0-44."""
    insn.check()
    p = _Packer()
    if isinstance(insn, Nop):
        op = _Op.NOP
    elif isinstance(insn, Alu):
        op = _Op.ALU
        p.put(_operand_code(insn.dst), 10).put(_operand_code(insn.a), 9).put(_operand_code(insn.b), 9)
        p.put(_ALU_OPS.index(insn.op), 4)
    elif isinstance(insn, AluShf):
        op = _Op.ALU_SHF
        p.put(_operand_code(insn.dst), 10).put(_operand_code(insn.a), 9).put(_operand_code(insn.b), 9)
        p.put(_ALU_OPS.index(insn.op), 4).put(_shift_code(insn.shift), 8)
    elif isinstance(insn, Asr):
        op = _Op.ASR
        p.put(_operand_code(insn.dst), 10).put(_operand_code(insn.b), 9).put(_shift_code(insn.shift), 8)
    elif isinstance(insn, DblShf):
        op = _Op.DBL_SHF
        p.put(_operand_code(insn.dst), 10).put(_operand_code(insn.a), 9).put(_operand_code(insn.b), 9)
        p.put(_shift_code(insn.shift), 8)
    elif isinstance(insn, LdField):
        op = _Op.LD_FIELD
        p.put(_operand_code(insn.dst), 10).put(_operand_code(insn.src), 9).put(insn.mask, 4)
        p.put(_shift_code(insn.shift), 8).put(int(insn.clear), 1)
    elif isinstance(insn, Immed):
        op = _Op.IMMED
        p.put(_operand_code(insn.dst), 10).put(insn.imm16, 16).put(insn.byte_shift, 2)
        p.put(int(insn.invert), 1).put(_IMMED_WIDTHS.index(insn.width), 2)
    elif isinstance(insn, MulStep):
        op = _Op.MUL_STEP
        p.put(_operand_code(insn.a), 10).put(_operand_code(insn.b), 9).put(_MUL_MODES.index(insn.mode), 4)
    elif isinstance(insn, Br):
        op = _Op.BR
        p.put(insn.target, 16).put(_CONDS.index(insn.cond), 4).put(insn.defer, 2)
    elif isinstance(insn, BrBset):
        op = _Op.BR_BSET
        p.put(_operand_code(insn.reg), 9).put(insn.bit, 5).put(insn.target, 16).put(insn.defer, 2)
        p.put(int(insn.set), 1)
    elif isinstance(insn, Rtn):
        op = _Op.RTN
        p.put(_operand_code(insn.reg), 9).put(insn.defer, 2)
    elif isinstance(insn, LocalCsrWr):
        op = _Op.LOCAL_CSR_WR
        p.put(_CSRS.index(insn.csr), 4).put(_operand_code(insn.src), 9)
    elif isinstance(insn, LocalCsrRd):
        op = _Op.LOCAL_CSR_RD
        p.put(_CSRS.index(insn.csr), 4)
    elif isinstance(insn, Mem):
        op = _Op.MEM
        p.put(_MEM_CMDS.index(insn.cmd), 4).put(insn.xfer, 5)
        p.put(_operand_code(insn.a), 9).put(_operand_code(insn.b), 9).put(insn.count - 1, 5)
        p.put(int(insn.mode is AddrMode.MODE_40), 1).put(int(insn.ctx_swap), 1)
        p.put(int(insn.indirect_ref), 1).put(insn.defer, 2)
    else:  # pragma: no cover - exhaustive over Instr
        raise MicrocodeError(f"cannot encode {insn!r}")
    assert p.pos <= 41
    return (int(relo_of(insn)) << 56) | (int(op) << 41) | p.word


def decode(word: int) -> Instr:
    """The instruction a 64-bit image word holds (the inverse of :func:`encode`)."""
    relo = Relo((word >> 56) & 0xFF)
    op = _Op((word >> 41) & 0xF)
    u = _Unpacker(word & ((1 << 41) - 1))
    if op is _Op.NOP:
        return Nop()
    if op is _Op.ALU:
        dst, left, right = _dest_from(u.get(10)), _operand_from(u.get(9)), _operand_from(u.get(9))
        return Alu(dst, left, _ALU_OPS[u.get(4)], right)
    if op is _Op.ALU_SHF:
        dst, left, right = _dest_from(u.get(10)), _operand_from(u.get(9)), _operand_from(u.get(9))
        alu_op = _ALU_OPS[u.get(4)]
        return AluShf(dst, left, alu_op, right, _shift_from(u.get(8)))
    if op is _Op.ASR:
        dst, right = _dest_from(u.get(10)), _operand_from(u.get(9))
        return Asr(dst, right, _shift_from(u.get(8)))
    if op is _Op.DBL_SHF:
        dst, left, right = _dest_from(u.get(10)), _operand_from(u.get(9)), _operand_from(u.get(9))
        return DblShf(dst, left, right, _shift_from(u.get(8)))
    if op is _Op.LD_FIELD:
        dst, src, mask = _dest_from(u.get(10)), _operand_from(u.get(9)), u.get(4)
        shift = _shift_from(u.get(8))
        return LdField(dst, mask, src, shift, bool(u.get(1)))
    if op is _Op.IMMED:
        dst, value, byte_shift, invert = _dest_from(u.get(10)), u.get(16), u.get(2), bool(u.get(1))
        return Immed(dst, value, byte_shift, invert, _IMMED_WIDTHS[u.get(2)], relo)
    if op is _Op.MUL_STEP:
        code = u.get(10)
        first: Operand | Both = Both(code - 0x300) if code & 0x200 else _operand_from(code)
        second = _operand_from(u.get(9))
        return MulStep(first, second, _MUL_MODES[u.get(4)])
    if op is _Op.BR:
        target, cond = u.get(16), _CONDS[u.get(4)]
        return Br(target, cond, u.get(2), relo)
    if op is _Op.BR_BSET:
        reg, bit, target, defer = _operand_from(u.get(9)), u.get(5), u.get(16), u.get(2)
        return BrBset(reg, bit, target, defer, bool(u.get(1)), relo)
    if op is _Op.RTN:
        reg = _operand_from(u.get(9))
        return Rtn(reg, u.get(2))
    if op is _Op.LOCAL_CSR_WR:
        csr = _CSRS[u.get(4)]
        return LocalCsrWr(csr, _operand_from(u.get(9)))
    if op is _Op.LOCAL_CSR_RD:
        return LocalCsrRd(_CSRS[u.get(4)])
    cmd, xfer_index = _MEM_CMDS[u.get(4)], u.get(5)
    left, right, count = _operand_from(u.get(9)), _operand_from(u.get(9)), u.get(5) + 1
    mode = AddrMode.MODE_40 if u.get(1) else AddrMode.MODE_32
    swap, indirect = bool(u.get(1)), bool(u.get(1))
    return Mem(cmd, xfer_index, left, right, count, mode, swap, indirect, u.get(2))


def encode_bytes(insn: Instr) -> bytes:
    """The word as the 8 little-endian bytes the image holds."""
    return encode(insn).to_bytes(8, "little")


# ------------------------------------------------------------------- reference semantics


@dataclass(frozen=True, slots=True)
class Flags:
    """Condition codes after an ALU instruction."""

    z: bool = False
    n: bool = False
    c: bool = False
    v: bool = False


_ADDITIVE: Final = {AluOp.ADD: 32, AluOp.ADD_C: 32, AluOp.ADD16: 16, AluOp.ADD8: 8}


def alu_compute(op: AluOp, left: int, right: int, carry: bool = False) -> tuple[int, Flags]:
    """Result and flags of ``alu[.., left, op, right]`` with incoming carry ``carry``: the
    executable form of the semantics in the module docstring."""
    left &= MASK32
    right &= MASK32
    if op in _ADDITIVE:
        bits = _ADDITIVE[op]
        total = left + right + (1 if op is AluOp.ADD_C and carry else 0)
        result = total & ((1 << bits) - 1)
        c = bool(total >> bits & 1) if bits < 32 else total > MASK32
        v = bits == 32 and ((left ^ result) & (right ^ result) & 0x80000000) != 0
        return result, Flags(result == 0, bool(result >> 31), c, v)
    if op in (AluOp.SUB, AluOp.SUB_C, AluOp.B_SUB_A):
        x, y = (right, left) if op is AluOp.B_SUB_A else (left, right)
        borrow = 1 if op is AluOp.SUB_C and not carry else 0
        diff = x - y - borrow
        result = diff & MASK32
        v = ((x ^ y) & (x ^ result) & 0x80000000) != 0
        return result, Flags(result == 0, bool(result >> 31), diff >= 0, v)
    result = _logic(op, left, right)
    return result, Flags(result == 0, bool(result >> 31))


def _logic(op: AluOp, left: int, right: int) -> int:
    if op is AluOp.B:
        return right
    if op is AluOp.NOT_B:
        return ~right & MASK32
    if op is AluOp.AND:
        return left & right
    if op is AluOp.AND_NOT_B:
        return left & ~right & MASK32
    if op is AluOp.NOT_A_AND:
        return ~left & right & MASK32
    if op is AluOp.OR:
        return left | right
    if op is AluOp.XOR:
        return left ^ right
    raise MicrocodeError(f"{op.value} is not a logical op")


def shift_compute(shift: Shift, value: int, shift_src: int = 0) -> int:
    """``value`` shifted as the B operand of ``alu_shf``/``ld_field`` (indirect amounts from the
    ``shift_src`` latch, low 5 bits)."""
    value &= MASK32
    n = shift_src & 31 if shift.indirect else shift.amount
    if shift.kind is ShiftKind.NONE:
        return value
    if shift.kind in (ShiftKind.LEFT, ShiftKind.LEFT_INDIRECT):
        return (value << n) & MASK32
    if shift.kind in (ShiftKind.RIGHT, ShiftKind.RIGHT_INDIRECT):
        return value >> n
    return ((value >> n) | (value << (32 - n))) & MASK32 if n else value


def pack_immed(value: int) -> tuple[int, int, bool] | None:
    """``(imm16, byte_shift, invert)`` of one ``immed`` loading the 32-bit ``value``, or None
    when it takes two instructions (``immed`` + ``immed_w1``)."""
    value &= MASK32
    for invert, v in ((False, value), (True, ~value & MASK32)):
        for byte_shift in (0, 1, 2):
            imm16 = v >> (8 * byte_shift)
            if imm16 <= 0xFFFF and (imm16 << (8 * byte_shift)) == v:
                return imm16, byte_shift, invert
    return None
