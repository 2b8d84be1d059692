"""The NFP microcode model: every mnemonic's words round-trip, its text is the binutils
nfp-dis syntax (strings as bpftool prints them for offloaded programs, reference
nfp_offload.md §2 and §9), the translator's operand rules are enforced, and the reference
ALU semantics follow §2.3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.nic import microcode as mc
from emulator.backends.nic.microcode import (
    NONE,
    SHL_INDIRECT,
    SHR_INDIRECT,
    AddrMode,
    Alu,
    AluOp,
    AluShf,
    Asr,
    Br,
    BrBset,
    Cond,
    Csr,
    DblShf,
    Immed,
    ImmedWidth,
    LdField,
    LocalCsrRd,
    LocalCsrWr,
    Mem,
    MemCmd,
    MicrocodeError,
    MulMode,
    MulStep,
    Nop,
    Relo,
    Rtn,
    a,
    b,
    both,
    imm,
    lm,
    lm_inc,
    rot,
    shl,
    shr,
    xfer,
)

# (instruction, text): the texts are the nfp-dis spellings of reference §2.1/§9 and of the
# mnemonics the task names.
EXAMPLES = [
    (Alu(both(4), a(4), AluOp.ADD, b(6)), "alu[gprA_4, gprA_4, +, gprB_6], gpr_wrboth"),
    (Alu(both(5), a(5), AluOp.ADD_C, b(7)), "alu[gprA_5, gprA_5, +carry, gprB_7], gpr_wrboth"),
    (Alu(NONE, a(4), AluOp.SUB, b(2)), "alu[--, gprA_4, -, gprB_2]"),
    (Alu(NONE, a(5), AluOp.SUB_C, b(3)), "alu[--, gprA_5, -carry, gprB_3]"),
    (Alu(b(22), b(22), AluOp.AND, lm(1)), "alu[gprB_22, gprB_22, AND, *l$index1]"),
    (Alu(a(0), NONE, AluOp.B, imm(0)), "alu[gprA_0, --, B, 0x0]"),
    (Alu(NONE, imm(3), AluOp.SUB, b(0)), "alu[--, 0x3, -, gprB_0]"),
    (Alu(both(2), NONE, AluOp.NOT_B, b(2)), "alu[gprA_2, --, ~B, gprB_2], gpr_wrboth"),
    (Alu(a(21), a(4), AluOp.ADD16, lm(1, 2)), "alu[gprA_21, gprA_4, +16, *l$index1[2]]"),
    (Alu(NONE, a(4), AluOp.AND_NOT_B, imm(0xFF)), "alu[--, gprA_4, AND~, 0xff]"),
    (Alu(lm(0, 3), NONE, AluOp.B, b(2)), "alu[*l$index0[3], --, B, gprB_2]"),
    (Alu(xfer(0), NONE, AluOp.B, a(6)), "alu[$xfer_0, --, B, gprA_6]"),
    (Alu(NONE, NONE, AluOp.B, lm_inc(3)), "alu[--, --, B, *l$index3++]"),
    (AluShf(both(3), NONE, AluOp.B, b(3), shr(7)), "alu_shf[gprA_3, --, B, gprB_3, >>7], gpr_wrboth"),
    (
        AluShf(b(2), imm(0xFF), AluOp.AND, b(2), SHR_INDIRECT),
        "alu_shf[gprB_2, 0xff, AND, gprB_2, >>indirect]",
    ),
    (
        AluShf(both(2), NONE, AluOp.B, b(2), SHL_INDIRECT),
        "alu_shf[gprA_2, --, B, gprB_2, <<indirect], gpr_wrboth",
    ),
    (Asr(both(3), b(3), shr(31)), "asr[gprA_3, gprB_3, >>31], gpr_wrboth"),
    (DblShf(both(2), a(3), b(2), shr(7)), "dbl_shf[gprA_2, gprA_3, gprB_2, >>7], gpr_wrboth"),
    (LdField(both(4), 0x1, xfer(0), clear=True), "ld_field_w_clr[gprA_4, 0001, $xfer_0], gpr_wrboth"),
    (LdField(a(0), 0xC, imm(0x82), shl(16)), "ld_field[gprA_0, 1100, 0x82, <<16]"),
    (LdField(both(4), 0x9, b(4), rot(8)), "ld_field[gprA_4, 1001, gprB_4, >>rot8], gpr_wrboth"),
    (Immed(b(22), 0x3FFF), "immed[gprB_22, 0x3fff]"),
    (Immed(both(0), 2), "immed[gprA_0, 0x2], gpr_wrboth"),
    (Immed(both(2), 0xFFF, invert=True), "immed[gprA_2, 0xfffff000], gpr_wrboth"),
    (Immed(a(21), 0xE000, 2, invert=True), "immed[gprA_21, 0xffff1fff, <<16]"),
    (Immed(both(4), 0xFFFF, 2), "immed[gprA_4, 0xffff, <<16], gpr_wrboth"),
    (Immed(b(21), 0x2C1B, width=ImmedWidth.W1), "immed_w1[gprB_21, 0x2c1b]"),
    (Immed(NONE, 0), "nop"),
    (MulStep(a(10), b(21), MulMode.START), "mul_step[gprA_10, gprB_21], start"),
    (MulStep(a(10), b(21), MulMode.STEP4_32), "mul_step[gprA_10, gprB_21], 32x32_step4"),
    (MulStep(both(10), NONE, MulMode.LAST_32), "mul_step[gprA_10, --], 32x32_last, gpr_wrboth"),
    (MulStep(both(11), NONE, MulMode.LAST2_32), "mul_step[gprA_11, --], 32x32_last2, gpr_wrboth"),
    (MulStep(a(2), b(2), MulMode.STEP2_16), "mul_step[gprA_2, gprB_2], 16x16_step2"),
    (MulStep(both(0), NONE, MulMode.LAST_16), "mul_step[gprA_0, --], 16x16_last, gpr_wrboth"),
    (Br(15000, relo=Relo.BR_GO_OUT), "br[.15000]"),
    (Br(15000, defer=2, relo=Relo.BR_NEXT_PKT), "br[.15000], defer[2]"),
    (Br(15001, defer=2, relo=Relo.BR_HELPER), "br[.15001], defer[2]"),
    (Br(5, Cond.CC), "bcc[.5]"),
    (Br(222, Cond.EQ), "beq[.222]"),
    (Br(318, Cond.NE), "bne[.318]"),
    (Br(7, Cond.CS), "bcs[.7]"),
    (Br(7, Cond.MI), "bmi[.7]"),
    (Br(7, Cond.GE), "bge[.7]"),
    (Br(7, Cond.LT), "blt[.7]"),
    (BrBset(a(4), 5, 30), "br_bset[gprA_4, 5, .30]"),
    (Rtn(b(21), 3), "rtn[gprB_21], defer[3]"),
    (Rtn(a(21)), "rtn[gprA_21]"),
    (LocalCsrWr(Csr.ACT_LM_ADDR3, b(21)), "local_csr_wr[ActLMAddr3, gprB_21]"),
    (LocalCsrWr(Csr.ACT_LM_ADDR0, a(22)), "local_csr_wr[ActLMAddr0, gprA_22]"),
    (LocalCsrRd(Csr.PSEUDO_RND_NUM), "local_csr_rd[PseudoRndNum]"),
    (
        Mem(MemCmd.READ32_SWAP, 0, a(4), imm(0xE), 1),
        "mem[read32_swap, $xfer_0, gprA_4, 0xe, 1], ctx_swap[sig1]",
    ),
    (
        Mem(MemCmd.READ8, 0, lm(1, 2), imm(0xC), 4),
        "mem[read8, $xfer_0, *l$index1[2], 0xc, 4], ctx_swap[sig1]",
    ),
    (
        Mem(MemCmd.WRITE8_SWAP, 0, a(6), imm(2), 2),
        "mem[write8_swap, $xfer_0, gprA_6, 0x2, 2], ctx_swap[sig1]",
    ),
    (
        Mem(MemCmd.ADD_IMM, 0, b(1), a(0), 1, AddrMode.MODE_40, ctx_swap=False, indirect_ref=True),
        "mem[add_imm, $xfer_0, gprB_1, <<8, gprA_0, 1], indirect_ref",
    ),
    (
        Mem(MemCmd.ADD64, 0, b(20), a(20), 2, AddrMode.MODE_40, defer=2),
        "mem[add64, $xfer_0, gprB_20, <<8, gprA_20, 2], ctx_swap[sig1], defer[2]",
    ),
    (Nop(), "nop"),
]


@pytest.mark.parametrize(("insn", "text"), EXAMPLES, ids=[t for _, t in EXAMPLES])
def test_text_and_round_trip(insn: mc.Instr, text: str) -> None:
    assert insn.text() == text
    word = mc.encode(insn)
    assert word < 1 << 64
    assert word & ((1 << 56) - 1) < 1 << 45, "the instruction fits bits 0-44"
    assert (word >> 56) == mc.relo_of(insn)
    assert mc.decode(word) == insn or (isinstance(insn, Immed) and insn.text() == "nop")


def test_every_instruction_class_has_an_example() -> None:
    classes = {type(i) for i, _ in EXAMPLES}
    assert classes == set(mc.Instr.__args__)  # type: ignore[attr-defined]


def test_every_mnemonic_option_is_exercised() -> None:
    """Each op, mode, condition, command and CSR of the data model appears in an example or
    in the property test's strategy (so a new enum member needs a test)."""
    used_ops = {i.op for i, _ in EXAMPLES if isinstance(i, Alu | AluShf)}
    assert {AluOp.B, AluOp.ADD, AluOp.ADD_C, AluOp.SUB, AluOp.SUB_C, AluOp.AND, AluOp.NOT_B} <= used_ops


# -- property: any valid instruction round-trips -----------------------------------------------

gprs = st.builds(mc.Gpr, st.sampled_from(["A", "B"]), st.integers(0, 31))
srcs_unrestricted = st.one_of(
    gprs,
    st.builds(mc.Imm, st.integers(0, 255)),
    st.builds(mc.Xfer, st.integers(0, 31)),
    st.builds(mc.Lm, st.integers(0, 3), st.integers(0, 15)),
    st.builds(mc.Lm, st.integers(0, 3), st.just(0), st.sampled_from([1, -1])),
    st.just(NONE),
)
dests = st.one_of(
    gprs,
    st.builds(mc.Both, st.integers(0, 31)),
    st.builds(mc.Xfer, st.integers(0, 31)),
    st.builds(mc.Lm, st.integers(0, 3), st.integers(0, 7)),
    st.just(NONE),
)
shifts = st.one_of(
    st.builds(
        mc.Shift,
        st.sampled_from([mc.ShiftKind.LEFT, mc.ShiftKind.RIGHT, mc.ShiftKind.ROT]),
        st.integers(1, 31),
    ),
    st.sampled_from([SHL_INDIRECT, SHR_INDIRECT]),
)
right_shifts = st.one_of(st.builds(shr, st.integers(1, 31)), st.just(SHR_INDIRECT))
instructions = st.one_of(
    st.builds(Alu, dests, srcs_unrestricted, st.sampled_from(list(AluOp)), srcs_unrestricted),
    st.builds(
        AluShf,
        dests,
        srcs_unrestricted,
        st.sampled_from([AluOp.B, AluOp.AND, AluOp.OR, AluOp.XOR]),
        srcs_unrestricted,
        shifts,
    ),
    st.builds(Asr, dests, srcs_unrestricted, right_shifts),
    st.builds(DblShf, dests, srcs_unrestricted, srcs_unrestricted, right_shifts),
    st.builds(
        LdField,
        dests,
        st.integers(1, 15),
        srcs_unrestricted,
        st.one_of(
            st.just(mc.NO_SHIFT), st.builds(shl, st.integers(1, 31)), st.builds(rot, st.integers(1, 31))
        ),
        st.booleans(),
    ),
    st.builds(
        Immed,
        dests,
        st.integers(0, 0xFFFF),
        st.integers(0, 2),
        st.booleans(),
        st.just(ImmedWidth.ALL),
        st.sampled_from([Relo.NONE, Relo.IMMED_REL]),
    ),
    st.builds(
        Immed,
        dests,
        st.integers(0, 0xFFFF),
        st.just(0),
        st.just(False),
        st.sampled_from([ImmedWidth.W0, ImmedWidth.W1]),
    ),
    st.builds(MulStep, gprs, srcs_unrestricted, st.sampled_from([m for m in MulMode if not m.is_last])),
    st.builds(MulStep, dests, st.just(NONE), st.sampled_from([m for m in MulMode if m.is_last])),
    st.builds(
        Br,
        st.integers(0, 0xFFFF),
        st.sampled_from(list(Cond)),
        st.integers(0, 2),
        st.sampled_from([r for r in Relo if r.name.startswith("BR_")]),
    ),
    st.builds(BrBset, gprs, st.integers(0, 31), st.integers(0, 0xFFFF), st.integers(0, 3), st.booleans()),
    st.builds(Rtn, gprs, st.integers(0, 3)),
    st.builds(LocalCsrWr, st.sampled_from(list(Csr)), srcs_unrestricted),
    st.builds(LocalCsrRd, st.sampled_from(list(Csr))),
    st.builds(
        Mem,
        st.sampled_from(list(MemCmd)),
        st.integers(0, 31),
        gprs,
        st.one_of(
            gprs,
            st.builds(mc.Imm, st.integers(0, 127)),
            st.builds(mc.Lm, st.integers(0, 3), st.integers(0, 7)),
        ),
        st.integers(1, 32),
        st.sampled_from(list(AddrMode)),
        st.booleans(),
        st.just(True),
        st.integers(0, 2),
    ),
    st.just(Nop()),
)


@settings(max_examples=600, deadline=None)
@given(instructions)
def test_valid_instructions_round_trip(insn: mc.Instr) -> None:
    try:
        insn.check()
    except MicrocodeError:
        return  # the strategy also builds illegal combinations; those must not encode
    assert mc.decode(mc.encode(insn)) == insn
    assert mc.encode_bytes(insn) == mc.encode(insn).to_bytes(8, "little")


@settings(max_examples=300, deadline=None)
@given(instructions)
def test_illegal_instructions_do_not_encode(insn: mc.Instr) -> None:
    try:
        insn.check()
    except MicrocodeError:
        with pytest.raises(MicrocodeError):
            mc.encode(insn)


# -- operand rules (§1.4, §2.2) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "insn",
    [
        Alu(both(1), a(2), AluOp.ADD, a(3)),  # two A registers
        Alu(both(1), b(2), AluOp.ADD, b(3)),  # two B registers
        Alu(both(1), imm(1), AluOp.ADD, imm(2)),  # two immediates
        Alu(both(1), a(2), AluOp.ADD, imm(256)),  # unrestricted immediates are 8 bits
        Mem(MemCmd.READ32_SWAP, 0, a(4), imm(128), 1),  # restricted immediates are 7 bits
        AluShf(both(1), NONE, AluOp.B, lm(3, 8), shl(1)),  # restricted LM index <= 7
        AluShf(both(1), NONE, AluOp.ADD, b(1), shl(1)),  # no shift form of +
        AluShf(both(1), NONE, AluOp.B, b(1), shl(0)),  # amount 0 is the indirect encoding
        Alu(both(1), NONE, AluOp.B, lm(0, 16)),  # LM index <= 15
        LdField(a(1), 0x3, a(2)),  # dst (read as A) and an A source
        Immed(both(0), 0x10000),
        Immed(both(0), 1, 1, width=ImmedWidth.W1),
        Br(1, defer=3),
        Mem(MemCmd.ADD_IMM, 0, b(1), a(0), 1, AddrMode.MODE_40, ctx_swap=False),  # needs indirect_ref
        Immed(imm(1), 0),  # type: ignore[arg-type]
    ],
)
def test_operand_rules(insn: mc.Instr) -> None:
    with pytest.raises(MicrocodeError):
        insn.check()


def test_both_destination_reads_either_bank_in_ld_field() -> None:
    LdField(both(4), 0xF, a(21), rot(8)).check()  # the encoder swaps: dst read from bank B
    Alu(lm(1, 4), lm(1, 4), AluOp.OR, imm(1)).check()  # LM beside an immediate


# -- reference semantics (§2.3) ----------------------------------------------------------------


@given(st.integers(0, mc.MASK32), st.integers(0, mc.MASK32))
def test_subtract_carry_means_no_borrow(x: int, y: int) -> None:
    result, flags = mc.alu_compute(AluOp.SUB, x, y)
    assert result == (x - y) & mc.MASK32
    assert flags.c == (x >= y)
    assert flags.z == (x == y)
    assert flags.n == bool(result >> 31)
    sx, sy = (v - (1 << 32) if v >> 31 else v for v in (x, y))
    assert (flags.n != flags.v) == (sx < sy)  # blt after a subtract is signed <


@given(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1))
def test_carry_chain_compares_64_bits(x: int, y: int) -> None:
    """``-`` then ``-carry`` leaves C = unsigned x >= y and N != V = signed x < y (the
    JIT's 64-bit compares, §3.1)."""
    _, lo = mc.alu_compute(AluOp.SUB, x & mc.MASK32, y & mc.MASK32)
    _, hi = mc.alu_compute(AluOp.SUB_C, x >> 32, y >> 32, lo.c)
    assert hi.c == (x >= y)
    sx, sy = (v - (1 << 64) if v >> 63 else v for v in (x, y))
    assert (hi.n != hi.v) == (sx < sy)
    s_lo, c_lo = mc.alu_compute(AluOp.ADD, x & mc.MASK32, y & mc.MASK32)
    s_hi, c_hi = mc.alu_compute(AluOp.ADD_C, x >> 32, y >> 32, c_lo.c)
    assert s_lo | s_hi << 32 == (x + y) & ((1 << 64) - 1)
    assert c_hi.c == (x + y >= 1 << 64)


def test_logic_and_16_bit_add() -> None:
    assert mc.alu_compute(AluOp.AND_NOT_B, 0xF0F0, 0xFF)[0] == 0xF000
    assert mc.alu_compute(AluOp.NOT_A_AND, 0xFF, 0xF0F0)[0] == 0xF000
    assert mc.alu_compute(AluOp.NOT_B, 0, 0)[0] == mc.MASK32
    assert mc.alu_compute(AluOp.B_SUB_A, 1, 3)[0] == 2
    value, flags = mc.alu_compute(AluOp.ADD16, 0x8000_FFF0, 0x20)
    assert value == 0x10 and flags.c


@given(st.integers(0, mc.MASK32))
def test_pack_immed_loads_the_value(value: int) -> None:
    packed = mc.pack_immed(value)
    if packed is None:
        assert all(
            (v >> (8 * s)) > 0xFFFF or ((v >> (8 * s)) << (8 * s)) != v
            for v in (value, ~value & mc.MASK32)
            for s in (0, 1, 2)
        )
        return
    imm16, shift, invert = packed
    assert Immed(NONE, imm16, shift, invert).value == value


def test_shift_compute() -> None:
    assert mc.shift_compute(rot(8), 0x11223344) == 0x44112233
    assert mc.shift_compute(SHL_INDIRECT, 1, 33) == 2  # low 5 bits of the latch
    assert mc.shift_compute(shr(4), 0xF0) == 0xF
