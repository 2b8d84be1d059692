"""Division by a constant as the NFP JIT does it (reference §3.5): the Granlund-Montgomery
"advanced" reciprocal (``reciprocal_value_adv``), the plan the JIT picks for a divisor, and
the arithmetic the emitted sequence performs (what the tests compare with ``n // d``)."""

from __future__ import annotations

from typing import NamedTuple

from emulator.backends.nic.microcode import MASK32


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
