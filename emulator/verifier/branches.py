"""Conditional jumps over abstract scalars: is the branch decided, and what each side learns.

``decide`` says whether ``a op b`` holds for every pair of values (True), for none (False)
or depends (None); the analysis then follows only the feasible side, as the kernel's
``is_branch_taken`` does. ``refine`` narrows both operands to the values for which the
comparison has the given outcome (the kernel's ``reg_set_min_max``). Signed comparisons
work on the unsigned range split at the sign bit into at most two pieces, each of which
keeps its order when read as signed numbers.
"""

from __future__ import annotations

from emulator.isa.fields import JmpOp
from emulator.verifier import tnum
from emulator.verifier.scalar import Scalar, norm, to_signed

NEGATION: dict[int, int] = {
    JmpOp.JEQ: JmpOp.JNE,
    JmpOp.JNE: JmpOp.JEQ,
    JmpOp.JGT: JmpOp.JLE,
    JmpOp.JLE: JmpOp.JGT,
    JmpOp.JGE: JmpOp.JLT,
    JmpOp.JLT: JmpOp.JGE,
    JmpOp.JSGT: JmpOp.JSLE,
    JmpOp.JSLE: JmpOp.JSGT,
    JmpOp.JSGE: JmpOp.JSLT,
    JmpOp.JSLT: JmpOp.JSGE,
}
NOT_JSET = -1
"""Pseudo-op for the fall-through side of ``jset``: no bit of ``a & b`` is set."""

SIGNED = frozenset({JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE})


def signed_bounds(s: Scalar, bits: int) -> tuple[int, int]:
    """The smallest signed interval holding every value of ``s``."""
    sign = 1 << (bits - 1)
    if s.umax < sign or s.umin >= sign:
        return to_signed(s.umin, bits), to_signed(s.umax, bits)
    return -sign, sign - 1


def decide(op: int, a: Scalar, b: Scalar, bits: int) -> bool | None:
    """True/False when ``a op b`` has one outcome for all values, else None."""
    if op == JmpOp.JEQ or op == JmpOp.JNE:
        ca, cb = a.const, b.const
        if ca is not None and cb is not None:
            equal: bool | None = ca == cb
        elif a.umin > b.umax or b.umin > a.umax:
            equal = False
        elif tnum.intersect((a.value, a.mask), (b.value, b.mask)) is None:
            equal = False
        else:
            equal = None
        if equal is None:
            return None
        return equal if op == JmpOp.JEQ else not equal
    if op == JmpOp.JSET or op == NOT_JSET:
        if a.value & b.value:
            some: bool | None = True
        elif not ((a.value | a.mask) & (b.value | b.mask)):
            some = False
        else:
            some = None
        if some is None:
            return None
        return some if op == JmpOp.JSET else not some
    if op in SIGNED:
        lo_a, hi_a = signed_bounds(a, bits)
        lo_b, hi_b = signed_bounds(b, bits)
    else:
        lo_a, hi_a, lo_b, hi_b = a.umin, a.umax, b.umin, b.umax
    if op in (JmpOp.JGT, JmpOp.JSGT):
        return True if lo_a > hi_b else False if hi_a <= lo_b else None
    if op in (JmpOp.JGE, JmpOp.JSGE):
        return True if lo_a >= hi_b else False if hi_a < lo_b else None
    if op in (JmpOp.JLT, JmpOp.JSLT):
        return True if hi_a < lo_b else False if lo_a >= hi_b else None
    if op in (JmpOp.JLE, JmpOp.JSLE):
        return True if hi_a <= lo_b else False if lo_a > hi_b else None
    return None


def _restrict_signed(s: Scalar, lo: int, hi: int, bits: int) -> Scalar | None:
    """``s`` limited to signed values in [lo, hi] (hull of the surviving pieces)."""
    sign = 1 << (bits - 1)
    width = (1 << bits) - 1
    pieces = []
    if s.umin < sign:
        pieces.append((s.umin, min(s.umax, sign - 1)))
    if s.umax >= sign:
        pieces.append((max(s.umin, sign), s.umax))
    kept = []
    for x, y in pieces:
        sx, sy = max(to_signed(x, bits), lo), min(to_signed(y, bits), hi)
        if sx <= sy:
            kept.append((sx & width, sy & width))
    if not kept:
        return None
    return norm(min(k[0] for k in kept), max(k[1] for k in kept), s.value, s.mask)


def _restrict(s: Scalar, lo: int, hi: int) -> Scalar | None:
    return norm(max(s.umin, lo), min(s.umax, hi), s.value, s.mask)


def refine(op: int, a: Scalar, b: Scalar, bits: int) -> tuple[Scalar, Scalar] | None:
    """Both operands narrowed to where ``a op b`` holds; None when it never does."""
    width = (1 << bits) - 1
    smin, smax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    ra: Scalar | None = a
    rb: Scalar | None = b
    if op == JmpOp.JEQ:
        t = tnum.intersect((a.value, a.mask), (b.value, b.mask))
        if t is None:
            return None
        ra = norm(max(a.umin, b.umin), min(a.umax, b.umax), *t)
        rb = ra
    elif op == JmpOp.JNE:
        ra, rb = _exclude(a, b), _exclude(b, a)
    elif op == JmpOp.JSET:
        cb = b.const
        if cb is not None and cb and cb & (cb - 1) == 0:
            ra = norm(a.umin, a.umax, *tnum.or_((a.value, a.mask), (cb, 0)))
    elif op == NOT_JSET:
        cb = b.const
        if cb is not None:
            ra = norm(a.umin, a.umax, *tnum.and_((a.value, a.mask), (~cb & width, 0)))
    elif op == JmpOp.JGT:
        ra, rb = _restrict(a, b.umin + 1, width), _restrict(b, 0, a.umax - 1)
    elif op == JmpOp.JGE:
        ra, rb = _restrict(a, b.umin, width), _restrict(b, 0, a.umax)
    elif op == JmpOp.JLT:
        ra, rb = _restrict(a, 0, b.umax - 1), _restrict(b, a.umin + 1, width)
    elif op == JmpOp.JLE:
        ra, rb = _restrict(a, 0, b.umax), _restrict(b, a.umin, width)
    elif op in SIGNED:
        lo_a, hi_a = signed_bounds(a, bits)
        lo_b, hi_b = signed_bounds(b, bits)
        if op == JmpOp.JSGT:
            ra, rb = _restrict_signed(a, lo_b + 1, smax, bits), _restrict_signed(b, smin, hi_a - 1, bits)
        elif op == JmpOp.JSGE:
            ra, rb = _restrict_signed(a, lo_b, smax, bits), _restrict_signed(b, smin, hi_a, bits)
        elif op == JmpOp.JSLT:
            ra, rb = _restrict_signed(a, smin, hi_b - 1, bits), _restrict_signed(b, lo_a + 1, smax, bits)
        else:
            ra, rb = _restrict_signed(a, smin, hi_b, bits), _restrict_signed(b, lo_a, smax, bits)
    if ra is None or rb is None:
        return None
    return ra, rb


def _exclude(s: Scalar, other: Scalar) -> Scalar | None:
    """``s`` without the single value ``other`` (when it is a constant at an end)."""
    c = other.const
    if c is None:
        return s
    if s.const == c:
        return None
    if s.umin == c:
        return norm(c + 1, s.umax, s.value, s.mask)
    if s.umax == c:
        return norm(s.umin, c - 1, s.value, s.mask)
    return s
