"""The translator's choices, instruction form by instruction form, against the NFP JIT as the
reference notes describe it (nfp_offload.md §1.5-§1.10 and §3), with hand-built facts so each
test pins the ranges and pointer kinds a choice depends on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.nic import microcode as mc
from emulator.backends.nic.listing import format_listing
from emulator.backends.nic.translate import (
    EOPNOTSUPP,
    TranslateError,
    divide_plan,
    reciprocal_value_adv,
    reference_quotient,
)
from emulator.isa.insn import Insn, encode_program, slot_list
from emulator.program import Program
from tests.emulator.backends.nic.nfp_fakes import FULL, Facts, Facts1, Ptr, Range, Sub, mnemonics, nfp, texts

# -- §9 worked examples ------------------------------------------------------------------------


def test_r0_2_exit_listing() -> None:
    """§9: intro, r0 = 2 as two immeds, exit as br[.15000], then the XDP outro with the
    abort label at 5 and out label at 8, and the 8-nop tail."""
    image = nfp("r0 = 2\nexit")
    head = [i.text() for i in image.insns[:10]]
    assert head == [
        "immed[gprB_22, 0x3fff]",
        "alu[gprB_22, gprB_22, AND, *l$index1]",
        "immed[gprA_0, 0x2], gpr_wrboth",
        "immed[gprA_1, 0x0], gpr_wrboth",
        "br[.15000]",
        "br[.15000], defer[2]",
        "alu[gprA_0, --, B, 0x0]",
        "ld_field[gprA_0, 1100, 0x82, <<16]",
        "alu[--, 0x3, -, gprB_0]",
        "bcc[.5]",
    ]
    assert image.labels["abort"] == 5 and image.labels["out"] == 8
    assert [i.text() for i in image.insns[-8:]] == ["nop"] * 8
    assert image.ranges == {0: (2, 4), 1: (4, 5)}
    assert image.insns[4].relo is mc.Relo.BR_GO_OUT
    assert image.insns[5].relo is mc.Relo.BR_NEXT_PKT
    text = format_listing(image)
    assert "  20:\t .4  br[.15000]" in text


def test_64_bit_add() -> None:
    assert texts(nfp("r2 += r3\nexit"), 0) == [
        "alu[gprA_4, gprA_4, +, gprB_6], gpr_wrboth",
        "alu[gprA_5, gprA_5, +carry, gprB_7], gpr_wrboth",
    ]


def test_unsigned_greater_swaps_operands_and_uses_bcc() -> None:
    image = nfp("if r1 > r2 goto +1\nr0 = 1\nexit")
    assert texts(image, 0) == ["alu[--, gprA_4, -, gprB_2]", "alu[--, gprA_5, -carry, gprB_3]", "bcc[.7]"]
    assert image.ranges[2][0] == 7  # the jump target is the start of insn 2


# -- per-instruction shapes ----------------------------------------------------------------------

SMALL = Range(0, 0xFFFF)
U32 = Range(0, 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("asm", "facts", "expected"),
    [
        ("r1 = r2", None, ["alu", "alu"]),
        ("r1 = 5", None, ["immed", "immed"]),
        ("r1 = 0x12345678", None, ["immed", "immed_w1", "immed"]),
        ("r1 = -1", None, ["immed", "immed"]),
        ("w1 = w2", None, ["alu", "immed"]),
        ("w1 = 7", None, ["immed", "immed"]),
        ("r1 = r10", None, ["alu", "immed"]),
        ("r1 += 5", None, ["alu", "alu"]),
        ("r1 += 0x12300", None, ["immed", "alu", "alu"]),
        ("r1 += 0x12345", None, ["immed", "immed_w1", "alu", "alu"]),
        ("r1 += -1", None, ["alu", "alu"]),
        ("w1 += 300", None, ["immed", "alu", "immed"]),
        ("r1 &= 0", None, ["immed", "immed"]),
        ("r1 &= -1", None, []),
        ("r1 |= 0", None, []),
        ("r1 ^= 0", None, []),
        ("r1 ^= -1", None, ["alu", "alu"]),
        ("r1 |= -1", None, ["immed", "immed"]),
        ("r1 &= 0xff", None, ["alu", "immed"]),
        ("r1 = -r1", None, ["alu", "alu"]),
        ("w1 = -w1", None, ["alu", "immed"]),
        ("r1 *= r2", Facts1(dst=SMALL, src=SMALL), ["mul_step"] * 4),
        ("r1 *= r2", Facts1(dst=U32, src=SMALL), ["mul_step"] * 7),
        ("w1 *= w2", Facts1(dst=U32, src=U32), ["mul_step"] * 6 + ["immed"]),
        ("r1 *= 3", Facts1(dst=SMALL), ["mul_step"] * 4),
        ("r1 *= 70000", Facts1(dst=SMALL), ["immed", "immed_w1"] + ["mul_step"] * 7),
        ("r1 <<= 3", None, ["dbl_shf", "alu_shf"]),
        ("r1 <<= 32", None, ["alu", "immed"]),
        ("r1 <<= 40", None, ["alu_shf", "immed"]),
        ("r1 >>= 3", None, ["dbl_shf", "alu_shf"]),
        ("r1 s>>= 3", None, ["dbl_shf", "alu", "asr"]),
        ("r1 s>>= 32", None, ["alu", "asr"]),
        ("r1 s>>= 40", None, ["alu", "asr", "asr"]),
        ("r1 <<= 0", None, []),
        ("w1 <<= 3", None, ["alu_shf", "immed"]),
        ("w1 s>>= 3", None, ["alu", "asr", "immed"]),
        ("r1 <<= r2", Facts1(src=Range(0, 31)), ["alu", "alu", "dbl_shf", "alu", "alu_shf"]),
        ("r1 >>= r2", Facts1(src=Range(0, 31)), ["alu", "dbl_shf", "alu", "alu_shf"]),
        ("r1 s>>= r2", Facts1(src=Range(0, 31)), ["alu", "dbl_shf", "alu", "asr"]),
        ("r1 <<= r2", Facts1(src=Range(32, 63)), ["alu", "alu_shf", "immed"]),
        ("r1 s>>= r2", Facts1(src=Range(32, 63)), ["alu", "asr", "asr"]),
        ("r1 <<= r2", Facts1(src=Range(5, 5)), ["dbl_shf", "alu_shf"]),
        (
            "r1 <<= r2",
            Facts1(src=Range(0, 63)),
            ["br_bset", "alu", "alu", "dbl_shf", "br", "alu", "alu_shf", "alu", "alu_shf", "immed"],
        ),
        ("w1 <<= w2", Facts1(src=Range(0, 31)), ["alu", "alu_shf", "immed"]),
        ("r1 = be16 r1", None, ["ld_field", "ld_field", "immed"]),
        ("r1 = be32 r1", None, ["ld_field", "ld_field", "immed"]),
        ("r1 = be64 r1", None, ["alu", "ld_field", "ld_field", "ld_field", "ld_field"]),
        ("r1 /= 8", Facts1(dst=U32), ["alu_shf"]),
        ("r1 /= 3", Facts1(dst=U32), ["immed", "immed_w1"] + ["mul_step"] * 7 + ["alu_shf"]),
        (
            "r1 /= 7",
            Facts1(dst=U32),
            ["immed", "immed_w1"] + ["mul_step"] * 7 + ["alu", "alu_shf", "alu", "alu_shf"],
        ),
        (
            "r1 /= r2",
            Facts1(dst=U32, src=Range(0x80000001, 0x80000001)),
            ["immed", "immed_w1", "alu", "immed", "alu"],
        ),
        (
            "r1 /= r2",
            Facts1(dst=U32, src=Range(10, 10)),
            ["immed", "immed_w1"] + ["mul_step"] * 7 + ["alu_shf"],
        ),
        ("r1 = 0x123456789 ll", None, ["immed", "immed_w1", "immed"]),
        ("r1 = 0x500000005 ll", None, ["immed", "alu"]),
    ],
)
def test_alu_shapes(asm: str, facts: Facts1 | None, expected: list[str]) -> None:
    image = nfp(asm + "\nexit", {0: facts} if facts else None)
    assert mnemonics(image, 0) == expected


def test_neg_add_sub_turns_a_negative_add_into_a_subtract() -> None:
    assert texts(nfp("r1 += -8\nexit"), 0) == [
        "alu[gprA_2, gprA_2, -, 0x8], gpr_wrboth",
        "alu[gprA_3, gprA_3, -carry, 0x0], gpr_wrboth",
    ]


def test_large_high_immediate_sits_between_the_carry_pair() -> None:
    """§3.2: only immed may sit between - and -carry (it leaves the flags alone). The one
    add whose high immediate survives opt_neg_add_sub is INT_MIN: -INT_MIN wraps back to
    INT_MIN (§3.9), so the device subtracts 0xffffffff80000000 (a corner case it gets wrong)."""
    assert texts(nfp("r1 += -2147483648\nexit"), 0) == [
        "immed[gprB_21, 0x8000, <<16]",
        "alu[gprA_2, gprA_2, -, gprB_21], gpr_wrboth",
        "immed[gprB_21, 0xffffffff]",
        "alu[gprA_3, gprA_3, -carry, gprB_21], gpr_wrboth",
    ]
    assert mnemonics(nfp("r1 -= -0x12345\nexit"), 0) == ["immed", "immed_w1", "alu", "alu"]


def test_zero_extension_follows_the_facts() -> None:
    """§5 item 22: a 32-bit result's upper half is cleared only when flagged."""
    assert mnemonics(nfp("w1 += w2\nexit", {0: Facts1(zext=False)}), 0) == ["alu"]
    assert mnemonics(nfp("w1 += w2\nexit"), 0) == ["alu", "immed"]


def test_division_by_one_is_flagged() -> None:
    image = nfp("r1 /= 1\nexit", {0: Facts1(dst=U32)})
    assert texts(image, 0) == ["alu_shf[gprA_2, --, B, gprB_2, >>indirect], gpr_wrboth"]
    assert image.notes and image.notes[0][0] == 0


def test_division_by_a_known_zero_is_refused() -> None:
    with pytest.raises(TranslateError) as err:
        nfp("r1 /= r2\nexit", {0: Facts1(dst=U32, src=Range(0, 0))})
    assert err.value.errno == -22 and err.value.pc == 0


# -- reciprocal division (§3.5) ------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_reciprocal_sequence_divides_exactly(divisor: int, dividend: int) -> None:
    kind, _, rv = divide_plan(divisor)
    shift_by_zero = (kind == "wide" and rv.sh == 1) or (kind == "mul" and rv.sh == 0) or divisor == 1
    if shift_by_zero:
        return  # encoded as an indirect shift on the device: flagged, not exact by construction
    assert reference_quotient(dividend, divisor) == dividend // divisor


@pytest.mark.parametrize(
    "divisor", [3, 5, 6, 7, 10, 11, 13, 25, 100, 641, 1000, 6700417, 0x7FFFFFFF, 1 << 31]
)
def test_reciprocal_edges(divisor: int) -> None:
    for n in (0, 1, divisor - 1, divisor, divisor + 1, 0xFFFFFFFF, 0xFFFFFFFE, 0x80000000, 0x7FFFFFFF):
        assert reference_quotient(n, divisor) == n // divisor, (n, divisor)


def test_reciprocal_value_adv_known_values() -> None:
    """Granlund-Montgomery Figure 4.2 numbers: 7 needs a 33-bit multiplier, 3 does not."""
    assert reciprocal_value_adv(7, 32) == (613566757, 3, 3, True)
    m, sh, exp, wide = reciprocal_value_adv(3, 32)
    assert (m, sh, exp, wide) == (0xAAAAAAAB, 1, 2, False)
    with pytest.raises(ValueError):
        reciprocal_value_adv(0, 32)


# -- memory ------------------------------------------------------------------------------------


def test_ctx_loads_xdp_and_tc() -> None:
    ctx = Facts1(ptr=Ptr("ctx"))
    image = nfp("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nexit", {0: ctx, 1: ctx})
    assert texts(image, 0) == [
        "alu[gprA_4, --, B, *l$index1[2]], gpr_wrboth",
        "immed[gprA_5, 0x0], gpr_wrboth",
    ]
    assert texts(image, 1)[0] == "alu[gprA_6, gprB_22, +, *l$index1[2]], gpr_wrboth"
    tc = nfp("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 80)\nexit", {0: ctx, 1: ctx}, prog_type="tc")
    assert texts(tc, 0)[0] == "alu[gprA_4, --, B, gprB_22], gpr_wrboth"
    assert texts(tc, 1)[0] == "alu[gprA_6, gprB_22, +, *l$index1[2]], gpr_wrboth"


@pytest.mark.parametrize(
    ("asm", "detail"),
    [
        ("r2 = *(u32 *)(r1 + 8)", "xdp_md field at offset 8"),
        ("r2 = *(u16 *)(r1 + 0)", "4 bytes wide"),
    ],
)
def test_unsupported_ctx_loads_fail_translation(asm: str, detail: str) -> None:
    with pytest.raises(TranslateError) as err:
        nfp("r0 = 0\n" + asm + "\nexit", {1: Facts1(ptr=Ptr("ctx"))})
    assert err.value.errno == EOPNOTSUPP and err.value.pc == 1 and err.value.translated == 1
    assert detail in str(err.value)
    assert err.value.dmesg == "Translation failed with error -95 (translated: 1)"


def test_bpf_st_fails_translation() -> None:
    """§10: the NFP records no pointer type for BPF_ST, so every one fails with -EOPNOTSUPP."""
    with pytest.raises(TranslateError) as err:
        nfp("*(u32 *)(r10 - 4) = 5\nexit", {0: Facts1(ptr=Ptr("stack"))})
    assert err.value.errno == EOPNOTSUPP and err.value.pc == 0


def test_packet_loads_and_stores() -> None:
    pkt = Facts1(ptr=Ptr("packet"))
    image = nfp(
        "r3 = *(u8 *)(r2 + 12)\nr4 = *(u32 *)(r2 + 200)\nr5 = *(u64 *)(r2 + 0)\n*(u16 *)(r2 + 2) = r3\nexit",
        {0: pkt, 1: pkt, 2: pkt, 3: pkt},
    )
    assert texts(image, 0) == [
        "mem[read32_swap, $xfer_0, gprA_4, 0xc, 1], ctx_swap[sig1]",
        "ld_field_w_clr[gprA_6, 0001, $xfer_0], gpr_wrboth",
        "immed[gprA_7, 0x0], gpr_wrboth",
    ]
    assert mnemonics(image, 1) == ["immed", "mem", "alu", "immed"]  # offset 200 > 127 via imm_b
    assert mnemonics(image, 2) == ["mem", "alu", "alu"]
    assert texts(image, 3) == [
        "alu[$xfer_0, --, B, gprA_6]",
        "mem[write8_swap, $xfer_0, gprA_4, 0x2, 2], ctx_swap[sig1]",
    ]


def test_map_value_loads_use_40_bit_addresses() -> None:
    mv = Facts1(ptr=Ptr("map_value", 0, map_index=0))
    image = nfp("r1 = *(u32 *)(r0 + 0)\nr2 = *(u64 *)(r0 + 8)\nexit", {0: mv, 1: mv})
    assert texts(image, 0)[0] == "mem[read32_swap, $xfer_0, gprB_1, <<8, gprA_0, 1], ctx_swap[sig1]"
    assert texts(image, 1)[:3] == [
        "alu[gprA_21, gprA_0, +, 0x8]",
        "alu[gprB_21, gprB_1, +carry, 0x0]",
        "mem[read32_swap, $xfer_0, gprB_21, <<8, gprA_21, 2], ctx_swap[sig1]",
    ]


def test_map_value_stores_are_refused() -> None:
    with pytest.raises(TranslateError):
        nfp("*(u32 *)(r0 + 0) = r1\nexit", {0: Facts1(ptr=Ptr("map_value", 0))})


def _stack(asm: str, depth: int, off: int | None = 0, frame_up: int = 0) -> list[str]:
    image = nfp(asm + "\nexit", {0: Facts1(ptr=Ptr("stack", off, frame_up))}, subprogs=(Sub(0, 2, depth),))
    return texts(image, 0)


def test_stack_accesses_by_strategy() -> None:
    """§1.5: the first 64 bytes directly, a 32-byte window through ActLMAddr3 with 3 nops, a
    post-increment walk otherwise, and a run-time address for variable offsets."""
    assert _stack("r1 = *(u64 *)(r10 - 8)", 16) == [
        "alu[gprA_2, --, B, *l$index0[2]], gpr_wrboth",
        "alu[gprA_3, --, B, *l$index0[3]], gpr_wrboth",
    ]
    assert _stack("*(u64 *)(r10 - 8) = r1", 16) == [
        "alu[*l$index0[2], --, B, gprB_2]",
        "alu[*l$index0[3], --, B, gprB_3]",
    ]
    assert _stack("r1 = *(u8 *)(r10 - 3)", 8) == [
        "immed[gprA_3, 0x0], gpr_wrboth",
        "ld_field_w_clr[gprA_2, 0001, *l$index0[1], >>8], gpr_wrboth",
    ]
    assert _stack("*(u16 *)(r10 - 2) = r1", 8) == ["ld_field[*l$index0[1], 1100, gprB_2, >>rot16]"]
    window = _stack("r1 = *(u32 *)(r10 - 180)", 256)  # frame bytes 76..79: window 64..95
    assert window == [
        "alu[gprB_21, gprA_22, +, 0x40]",
        "local_csr_wr[ActLMAddr3, gprB_21]",
        "nop",
        "nop",
        "immed[gprA_3, 0x0], gpr_wrboth",
        "alu[gprA_2, --, B, *l$index3[3]], gpr_wrboth",
    ]
    walk = _stack("r1 = *(u64 *)(r10 - 196)", 256)  # bytes 60..67 of the frame cross 64
    assert walk[:5] == [
        "alu[gprB_21, gprA_22, +, 0x3c]",
        "local_csr_wr[ActLMAddr3, gprB_21]",
        "nop",
        "nop",
        "nop",
    ]
    assert walk[5:] == [
        "alu[gprA_2, --, B, *l$index3++], gpr_wrboth",
        "alu[gprA_3, --, B, *l$index3], gpr_wrboth",
    ]
    variable = _stack("r1 = *(u32 *)(r2 + 4)", 64, off=None)
    assert variable[0] == "alu[gprB_21, gprA_4, +, 0x4]"
    assert variable[1] == "local_csr_wr[ActLMAddr3, gprB_21]"


def test_stack_sub_word_beyond_index_7_goes_through_imm_a() -> None:
    """ld_field reaches *l$index0[0..7]; words 8-15 are read-modify-written through imm_a."""
    assert _stack("*(u8 *)(r10 - 1) = r1", 64) == [
        "alu[gprA_21, --, B, *l$index0[15]]",
        "ld_field[gprA_21, 1000, gprB_2, >>rot8]",
        "alu[*l$index0[15], --, B, gprA_21]",
    ]


def test_queue_select() -> None:
    image = nfp("*(u32 *)(r1 + 16) = r2\nexit", {0: Facts1(ptr=Ptr("ctx"))})
    assert texts(image, 0) == [
        "alu[--, gprA_4, AND~, 0xff]",
        "beq[.7], defer[2]",
        "alu_shf[*l$index1[4], *l$index1[4], OR, 0x1, <<4]",
        "ld_field[*l$index1[6], 0001, gprB_4]",
        "ld_field[*l$index1[6], 0001, 0x40]",
    ]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        (Range(0, 0xFF), ["immed", "ld_field", "mem"]),
        (Range(0x10000, 0xFFFFFFFF), ["mem", "alu"]),
        (
            Range(0, 0xFFFFFFFF),
            ["immed", "alu", "alu", "bcc", "immed", "ld_field", "mem", "br", "mem", "alu"],
        ),
    ],
)
def test_atomic_add_paths(src: Range, expected: list[str]) -> None:
    image = nfp("lock *(u32 *)(r0 + 0) += r1\nexit", {0: Facts1(ptr=Ptr("map_value", 0), src=src)})
    assert mnemonics(image, 0) == expected
    seq = [image.insns[i] for i in range(*image.ranges[0])]
    for insn in seq:
        if isinstance(insn, mc.Br):
            assert image.ranges[0][0] <= insn.target <= image.ranges[0][1]


def test_atomic_add_64_with_offset_fills_xfer_in_delay_slots() -> None:
    image = nfp(
        "lock *(u64 *)(r0 + 8) += r1\nexit", {0: Facts1(ptr=Ptr("map_value", 0), src=Range(1 << 20, 1 << 21))}
    )
    assert texts(image, 0) == [
        "alu[gprA_20, gprA_0, +, 0x8]",
        "alu[gprB_20, gprA_1, +carry, 0x0]",
        "mem[add64, $xfer_0, gprB_20, <<8, gprA_20, 2], ctx_swap[sig1], defer[2]",
        "alu[$xfer_0, --, B, gprA_2]",
        "alu[$xfer_1, --, B, gprA_3]",
    ]


def test_ld_abs_bounds_check_branches_to_abort() -> None:
    image = nfp("r0 = *(u16 *)skb[12]\nexit", prog_type="tc")
    assert texts(image, 0) == [
        "alu[--, gprB_22, -, 0xe]",
        "bcc[.15000]",
        "mem[read8, $xfer_0, *l$index1[2], 0xc, 4], ctx_swap[sig1]",
        "alu_shf[gprA_0, --, B, $xfer_0, >>16], gpr_wrboth",
        "immed[gprA_1, 0x0], gpr_wrboth",
    ]
    assert image.insns[image.ranges[0][0] + 1].relo is mc.Relo.BR_GO_ABORT


def test_ld_mask_after_ld_abs_is_skipped() -> None:
    image = nfp("r0 = *(u8 *)skb[12]\nr0 &= 0xff\nexit", prog_type="tc")
    assert texts(image, 1) == []


# -- jumps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asm", "expected"),
    [
        ("if r1 == 6 goto +1", ["alu[gprA_21, gprA_2, XOR, 0x6]", "alu[--, gprA_21, OR, gprB_3]", "beq[.T]"]),
        ("if r1 != 0 goto +1", ["alu[--, gprA_2, OR, gprB_3]", "bne[.T]"]),
        (
            "if r1 != 8 goto +1",
            ["alu[--, gprA_2, XOR, 0x8]", "bne[.T]", "alu[--, gprA_3, XOR, 0x0]", "bne[.T]"],
        ),
        ("if w1 != 0 goto +1", ["alu[--, --, B, gprB_2]", "bne[.T]"]),
        ("if r1 & 8 goto +1", ["alu[gprB_21, gprA_2, AND, 0x8]", "bne[.T]"]),
        (
            "if r1 & -8 goto +1",
            [
                "immed[gprB_21, 0xfffffff8]",
                "alu[gprB_21, gprA_2, AND, gprB_21]",
                "alu[--, gprA_3, OR, gprB_21]",
                "bne[.T]",
            ],
        ),
        (
            "if r1 == r2 goto +1",
            [
                "alu[gprA_21, gprA_2, XOR, gprB_4]",
                "alu[gprB_21, gprA_3, XOR, gprB_5]",
                "alu[--, gprA_21, OR, gprB_21]",
                "beq[.T]",
            ],
        ),
        ("if w1 == w2 goto +1", ["alu[gprA_21, gprA_2, XOR, gprB_4]", "beq[.T]"]),
        ("if r1 >= 5 goto +1", ["alu[--, gprA_2, -, 0x5]", "alu[--, gprA_3, -carry, 0x0]", "bcs[.T]"]),
        ("if r1 <= 5 goto +1", ["alu[--, 0x5, -, gprA_2]", "alu[--, 0x0, -carry, gprA_3]", "bcs[.T]"]),
        ("if r1 s< 5 goto +1", ["alu[--, gprA_2, -, 0x5]", "alu[--, gprA_3, -carry, 0x0]", "blt[.T]"]),
        ("if r1 s>= -5 goto +1", ["alu[--, gprA_2, +, 0x5]", "alu[--, gprA_3, +carry, 0x0]", "bge[.T]"]),
        ("if w1 s> w2 goto +1", ["alu[--, gprA_4, -, gprB_2]", "blt[.T]"]),
    ],
)
def test_jump_shapes(asm: str, expected: list[str]) -> None:
    image = nfp(asm + "\nr0 = 1\nexit")
    target = f"[.{image.ranges[2][0]}]"
    assert texts(image, 0) == [t.replace("[.T]", target) for t in expected]


def test_never_taken_jumps_and_dead_code_vanish() -> None:
    """The kernel hard-wires a never-taken jump to ja 0 and removes it; dead code goes."""
    image = nfp("if r1 == 0 goto +1\nr0 = 1\nr0 = 2\nexit", dead=frozenset({2}))
    assert texts(image, 0) == [] and 2 not in image.ranges and texts(image, 1)
    taken = nfp("if r1 == 0 goto +1\nr0 = 1\nr0 = 2\nexit", dead=frozenset({1}))
    assert mnemonics(taken, 0)[-1] == "beq" and 1 not in taken.ranges
    assert texts(nfp("goto +0\nexit"), 0) == []


def test_leading_r6_eq_r1_is_skipped() -> None:
    image = nfp("r6 = r1\nr0 = 2\nexit")
    assert texts(image, 0) == [] and texts(image, 1)


def test_jump_onto_removed_instruction_is_an_error() -> None:
    prog = "r6 = r1\nr0 = 1\nif r0 == 0 goto -3\nexit"
    with pytest.raises(TranslateError) as err:
        nfp(prog)
    assert err.value.errno == -40 and "removed instruction" in str(err.value)


# -- calls ---------------------------------------------------------------------------------------


def test_map_lookup_call() -> None:
    key = Ptr("stack", -4)
    image = nfp(
        "call 1\nexit",
        {0: Facts1(args=(Ptr("map_ptr", None, map_index=0), key))},
        subprogs=(Sub(0, 2, 4),),
    )
    base = image.ranges[0][0]
    assert texts(image, 0) == [
        "br[.15001], defer[2]",
        "alu[gprA_0, --, B, gprA_2]",
        f"immed[gprB_0, {base + 3:#x}]",
    ]
    assert image.insns[base + 2].relo is mc.Relo.IMMED_REL
    moved = nfp("call 1\nexit", {0: Facts1(args=(None, Ptr("stack", -8)))}, subprogs=(Sub(0, 2, 16),))
    assert mnemonics(moved, 0) == ["local_csr_wr", "br", "alu", "immed", "local_csr_wr", "nop", "nop", "nop"]
    update = nfp(
        "call 2\nexit",
        {0: Facts1(args=(None, Ptr("stack", -8), Ptr("stack", -16)))},
        subprogs=(Sub(0, 2, 16),),
    )
    assert texts(update, 0)[1] == "local_csr_wr[ActLMAddr2, gprB_6]"


def test_prandom_and_perf_event_output() -> None:
    assert texts(nfp("call 7\nexit"), 0) == [
        "local_csr_rd[PseudoRndNum]",
        "immed[gprA_0, 0x0], gpr_wrboth",
        "immed[gprA_1, 0x0], gpr_wrboth",
    ]
    image = nfp("call 25\nexit", {0: Facts1(args=(None, None, None, Ptr("packet")))}, device="nfp-agilio")
    assert texts(image, 0)[:2] == ["br[.15025], defer[2]", "alu[gprA_1, --, B, 0x8]"]


def test_adjust_head_general_and_fast_paths() -> None:
    general = nfp("call 44\nexit", {0: Facts1(args=(None, Range(0, FULL)))})
    assert len(texts(general, 0)) == 16
    assert texts(general, 0)[0] == "alu[gprA_21, gprA_4, +16, *l$index1[2]]"
    fast = nfp("call 44\nexit", {0: Facts1(args=(None, Range(FULL - 13, FULL - 13)))})  # delta -14
    assert mnemonics(fast, 0) == ["alu", "alu", "alu", "immed", "immed"]


def test_adjust_tail() -> None:
    image = nfp("call 65\nexit")
    start = image.ranges[0][0]
    assert len(texts(image, 0)) == 11 and texts(image, 0)[1] == f"bcc[.{start + 9}]"


def _bpf2bpf(writes_callee_saved: bool, main_depth: int) -> tuple[list[str], list[str], list[str]]:
    insns = [Insn(0x85, src=1, imm=1), Insn(0x95), Insn(0xB7, dst=0, imm=3), Insn(0x95)]
    prog = Program.from_bytes(encode_program(slot_list(insns)), prog_type="xdp")
    from emulator.backends.nic.profiles import profile
    from emulator.backends.nic.translate import translate

    subs = (Sub(0, 2, main_depth), Sub(2, 4, 8, writes_callee_saved))
    image = translate(prog, Facts(prog.nslots, subprogs=subs), profile("nfp-public-fw"))
    call = [image.insns[i].text() for i in range(*image.ranges[0])]
    entry = [image.insns[i].text() for i in range(*image.ranges[2])]
    ret = [image.insns[i].text() for i in range(*image.ranges[3])]
    assert image.frames[2].frame_depth == 8 + 4 + (32 if writes_callee_saved else 0)
    return call, entry, ret


def test_bpf_to_bpf_call_without_saved_registers() -> None:
    call, entry, ret = _bpf2bpf(False, 16)
    assert [t.split("[")[0] for t in call] == [
        "alu",
        "local_csr_wr",
        "br",
        "immed",
        "alu",
        "local_csr_wr",
        "nop",
        "nop",
        "nop",
    ]
    assert call[0] == "alu[gprA_22, gprA_22, +, 0x40]" and call[2].endswith("defer[1]")
    assert entry[0] == "alu[*l$index0, --, B, gprA_21]"
    assert ret == ["alu[gprA_21, --, B, *l$index0]", "rtn[gprA_21]"]


def test_bpf_to_bpf_call_with_saved_registers_uses_push_pop() -> None:
    call, _, ret = _bpf2bpf(True, 0)
    assert call[0] == "br[.15000], defer[2]" and call[1].startswith("immed[gprB_21")
    assert ret == ["br[.15000], defer[1]", "alu[gprA_21, --, B, *l$index0]"]


# -- limits ------------------------------------------------------------------------------------


def test_instruction_limit() -> None:
    from emulator.backends.nic.profiles import profile
    from emulator.backends.nic.translate import translate

    prog = Program.from_bytes(encode_program(slot_list([Insn(0xB7, dst=0, imm=1)] * 200 + [Insn(0x95)])))
    small = type("P", (), {"max_insns": 300, "adjust_head": profile("nfp-public-fw").adjust_head})()
    with pytest.raises(TranslateError) as err:
        translate(prog, Facts(prog.nslots), small)
    assert err.value.errno == -28
    assert err.value.message == "instruction limit reached (300 NFP instructions)"
    assert err.value.pc == 149 and err.value.translated == 149


def test_every_emitted_instruction_obeys_the_operand_rules() -> None:
    image = nfp(
        "r1 = r10\nr1 += -8\nr2 = *(u64 *)(r10 - 8)\nr2 <<= r3\nr2 /= 7\nr2 = be64 r2\nexit",
        {0: None, 2: Facts1(ptr=Ptr("stack", 0)), 3: Facts1(src=Range(0, 63)), 4: Facts1(dst=U32)},  # type: ignore[dict-item]
        subprogs=(Sub(0, 7, 8),),
    )
    for insn in image.insns:
        insn.check()
    assert all(mc.decode(w) == i for w, i in zip(image.words, image.insns, strict=True))


def test_relocation_resolves_labels_and_return_addresses() -> None:
    image = nfp("call 1\nr0 = 2\nexit", {0: Facts1(args=(None, Ptr("stack", 0)))})
    loaded = image.relocated(start_off=3072, done_off=1)
    exit_br = loaded[image.ranges[2][0]]
    assert isinstance(exit_br, mc.Br) and exit_br.target == image.labels["out"] + 3072
    ret = loaded[image.ranges[0][0] + 2]
    assert isinstance(ret, mc.Immed) and ret.imm16 == image.ranges[0][0] + 3 + 3072
    nxt = loaded[image.labels["abort"]]
    assert isinstance(nxt, mc.Br) and nxt.target == 1
