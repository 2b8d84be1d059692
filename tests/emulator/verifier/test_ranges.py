"""Scalar ranges: ALU transfer functions (checked against concrete execution), branch
decisions and refinement, 32-bit views."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.isa.fields import AluOp, JmpOp
from emulator.verifier import scalar
from emulator.verifier.branches import NEGATION, decide, refine
from emulator.verifier.scalar import Scalar
from tests.emulator.verifier.helpers import only, run

M64 = (1 << 64) - 1

OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.AND, AluOp.OR, AluOp.XOR]
OPS += [AluOp.LSH, AluOp.RSH, AluOp.ARSH]


def holds(s: Scalar, x: int) -> bool:
    return s.umin <= x <= s.umax and x & ~s.mask == s.value


@st.composite
def abstract(draw: st.DrawFn, bits: int) -> tuple[Scalar, list[int]]:
    """A scalar built from a few concrete values (so it holds them), and those values."""
    width = (1 << bits) - 1
    small = st.integers(0, 300)
    values = draw(
        st.lists(
            st.one_of(small, st.integers(0, width), st.integers(max(0, width - 300), width)),
            min_size=1,
            max_size=4,
        )
    )
    s = scalar.const(values[0])
    for v in values[1:]:
        s = scalar.union(s, scalar.const(v))
    return s, values


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
@given(data=st.data())
def test_alu_transfer_functions_hold_every_concrete_result(bits: int, op: AluOp, data: st.DataObject) -> None:
    a, xs = data.draw(abstract(bits))
    b, ys = data.draw(abstract(bits))
    if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and data.draw(st.booleans()):
        b, ys = data.draw(abstract(6)) if bits == 64 else data.draw(abstract(5))
    signed = op in (AluOp.DIV, AluOp.MOD) and data.draw(st.booleans())
    result = scalar.alu(op, a, b, bits, signed)
    for x in xs:
        for y in ys:
            assert holds(result, scalar.concrete(op, x, y, bits, signed)), (a, b, result, x, y)


CONDS = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE]
CONDS += [JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE]


def concrete_cond(op: int, x: int, y: int, bits: int) -> bool:
    sx, sy = scalar.to_signed(x, bits), scalar.to_signed(y, bits)
    return {
        JmpOp.JEQ: x == y,
        JmpOp.JNE: x != y,
        JmpOp.JGT: x > y,
        JmpOp.JGE: x >= y,
        JmpOp.JLT: x < y,
        JmpOp.JLE: x <= y,
        JmpOp.JSGT: sx > sy,
        JmpOp.JSGE: sx >= sy,
        JmpOp.JSLT: sx < sy,
        JmpOp.JSLE: sx <= sy,
    }[op]


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("op", CONDS, ids=[o.name for o in CONDS])
@given(data=st.data())
def test_branch_refinement_keeps_every_pair_that_takes_the_branch(
    bits: int, op: int, data: st.DataObject
) -> None:
    a, xs = data.draw(abstract(bits))
    b, ys = data.draw(abstract(bits))
    verdict = decide(op, a, b, bits)
    for taken, cond in ((True, op), (False, NEGATION[op])):
        narrowed = refine(cond, a, b, bits)
        for x in xs:
            for y in ys:
                if concrete_cond(op, x, y, bits) == taken:
                    assert verdict in (None, taken)
                    assert narrowed is not None and holds(narrowed[0], x) and holds(narrowed[1], y)


def test_and_shift_compare_ranges() -> None:
    a = run(
        """
        r0 = 0
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u8 *)(r2 + 0)
        r4 = r3
        r4 &= 0x3c
        r5 = r3
        r5 <<= 4
        r6 = r3
        r6 >>= 3
        if r3 > 100 goto +2
        r7 = r3
        exit
        r7 = r3
        exit
        """
    )
    r4, r5, r6 = (only(a, 9, r) for r in (4, 5, 6))
    assert (r4.umin, r4.umax, r4.value, r4.mask) == (0, 0x3C, 0, 0x3C)
    assert (r5.umin, r5.umax, r5.mask) == (0, 255 << 4, 0xFF0)
    assert (r6.umin, r6.umax) == (0, 31)
    r3_fall = only(a, 10, 3)
    assert (r3_fall.umin, r3_fall.umax) == (0, 100)
    r3_taken = only(a, 12, 3)
    assert (r3_taken.umin, r3_taken.umax) == (101, 255)


def test_negative_constant_added_to_a_range_stays_a_range() -> None:
    a = run(
        """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u8 *)(r2 + 0)
        r3 &= 0xf
        if r3 < 5 goto +2
        r3 <<= 2
        r3 += -20
        r0 = 0
        exit
        """
    )
    r3 = only(a, 6, 3)
    assert (r3.umin, r3.umax) == (0, 40)


def test_alu32_zero_extends_and_jmp32_refines_u32_values() -> None:
    a = run(
        """
        r2 = -1
        w2 += 1
        r3 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r3 + 0)
        w4 = w3
        if w4 > 7 goto +1
        r5 = r4
        r0 = 0
        exit
        """
    )
    assert only(a, 2, 2).const == 0  # 0xffffffff + 1 in 32 bits, zero-extended
    r4 = only(a, 7, 4)
    assert (r4.umin, r4.umax) == (0, 7)


def test_signed_compare_splits_an_unknown_value_at_the_sign_bit() -> None:
    a = run(
        """
        r0 = 0
        call 5
        if r0 s< 0 goto +2
        r4 = r0
        exit
        r4 = r0
        exit
        """
    )
    non_negative, negative = only(a, 3, 0), only(a, 5, 0)
    assert (non_negative.umin, non_negative.umax) == (0, (1 << 63) - 1)
    assert (negative.umin, negative.umax) == (1 << 63, M64)


def test_decided_branches_prune_the_other_side() -> None:
    a = run(
        """
        r2 = 5
        if r2 > 4 goto +1
        r0 = 1
        r0 = 2
        exit
        """
    )
    assert 2 not in a.visits_by_pc
    assert only(a, 4, 0).const == 2


def test_copies_are_refined_together() -> None:
    a = run(
        """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u8 *)(r2 + 0)
        r4 = r3
        if r4 > 9 goto +1
        r0 = r3
        r0 = 0
        exit
        """
    )
    r3 = only(a, 4, 3)
    assert (r3.umin, r3.umax) == (0, 9)


def test_narrow_fills_and_zeroed_bytes_as_the_kernel_reads_them() -> None:
    # (the kernel 6.18 log for this program: R3=30600, R5=scalar(umax=0xffff),
    # R4=0x1122334455667788, fp-16=0000??0, R6=scalar(umax=0xffffffff), R7=0)
    a = run(
        """
        r2 = 0x1122334455667788 ll
        *(u64 *)(r10 - 8) = r2
        r3 = *(u16 *)(r10 - 8)
        r5 = *(u16 *)(r10 - 6)
        r4 = *(u64 *)(r10 - 8)
        r1 = 0
        *(u32 *)(r10 - 12) = r1
        *(u16 *)(r10 - 16) = r1
        r6 = *(u32 *)(r10 - 16)
        r7 = *(u16 *)(r10 - 12)
        r0 = 0
        exit
        """
    )
    end = a.visits_at(11)[0]
    assert end.regs[3].const == 0x7788  # the low bytes of the spill
    assert (end.regs[5].umin, end.regs[5].umax) == (0, 0xFFFF)  # not at the spill's start: unknown
    assert end.regs[4].const == 0x1122334455667788
    assert (end.regs[6].umin, end.regs[6].umax) == (0, 0xFFFFFFFF)  # two bytes unknown
    assert end.regs[7].const == 0  # both bytes zeroed
    slot = end.stack[(0, -16)]  # bytes 0-1 a spilled 0, 2-3 unknown, 4-7 zero
    assert (slot.value, slot.mask) == (0, 0xFFFF0000)
    assert a.subprogs[0].stack_depth == 16


def test_kernel_ranges_or_tighter_ones() -> None:
    text = """
        r6 = r1
        r7 = 100
        r7 /= 7
        call 7
        r8 = r0
        r0 = *(u8 *)skb[3]
        r9 = r0
        r0 = 0
        exit
        """
    kernel = run(text, "socket")
    tight = run(text, "socket", kernel_ranges=False)
    end = kernel.program.nslots - 1
    # the kernel loses the quotient, the u32 type of bpf_get_prandom_u32, the LD_ABS width
    assert [(only(kernel, end, r).umin, only(kernel, end, r).umax) for r in (7, 8, 9)] == [(0, M64)] * 3
    assert only(tight, end, 7).const == 14
    assert (only(tight, end, 8).umax, only(tight, end, 9).umax) == (0xFFFFFFFF, 0xFF)
