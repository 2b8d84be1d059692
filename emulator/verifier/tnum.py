"""Tristate numbers: which bits of a value are known, and what they are.

A tnum is a pair ``(value, mask)``: a bit set in ``mask`` is unknown, otherwise the bit is
the one in ``value`` (``value & mask == 0`` always). The abstract interpreter keeps one per
scalar next to its unsigned range, because the two catch different facts: ``x & 0xff`` is
a range fact, ``x << 3`` leaves the low three bits known as a tnum fact. The operations
are written over Python ints and take the width in bits, so that the same code serves the
64-bit and the 32-bit ALU.
"""

from __future__ import annotations

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

Tnum = tuple[int, int]
"""(value, mask)."""

UNKNOWN64: Tnum = (0, M64)


def const(v: int) -> Tnum:
    return (v, 0)


def unknown(bits: int = 64) -> Tnum:
    return (0, (1 << bits) - 1)


def from_range(lo: int, hi: int) -> Tnum:
    """The smallest tnum holding every value of [lo, hi]: the common high bits are known."""
    diff = lo ^ hi
    if diff == 0:
        return (lo, 0)
    span = (1 << diff.bit_length()) - 1
    return (lo & ~span, span)


def intersect(a: Tnum, b: Tnum) -> Tnum | None:
    """Values both tnums allow; None when a known bit disagrees (no such value)."""
    if (a[0] ^ b[0]) & ~a[1] & ~b[1]:
        return None
    mask = a[1] & b[1]
    return ((a[0] | b[0]) & ~mask, mask)


def union(a: Tnum, b: Tnum) -> Tnum:
    """The smallest tnum holding the values of both."""
    mask = a[1] | b[1] | (a[0] ^ b[0])
    return (a[0] & ~mask, mask)


def add(a: Tnum, b: Tnum, bits: int) -> Tnum:
    """Sum: a known bit stays known unless an unknown carry can reach it."""
    width = (1 << bits) - 1
    sm = a[1] + b[1]
    sv = a[0] + b[0]
    sigma = sm + sv
    chi = sigma ^ sv
    mu = (chi | a[1] | b[1]) & width
    return (sv & ~mu & width, mu)


def sub(a: Tnum, b: Tnum, bits: int) -> Tnum:
    width = (1 << bits) - 1
    dv = (a[0] - b[0]) & width
    alpha = (dv + a[1]) & width
    beta = (dv - b[1]) & width
    chi = alpha ^ beta
    mu = (chi | a[1] | b[1]) & width
    return (dv & ~mu, mu)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a[0] | a[1]
    beta = b[0] | b[1]
    v = a[0] & b[0]
    return (v, alpha & beta & ~v)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a[0] | b[0]
    mu = a[1] | b[1]
    return (v, mu & ~v)


def xor(a: Tnum, b: Tnum) -> Tnum:
    v = a[0] ^ b[0]
    mu = a[1] | b[1]
    return (v & ~mu, mu)


def mul(a: Tnum, b: Tnum, bits: int) -> Tnum:
    """Product by long multiplication: for each bit of ``a``, add ``b`` shifted (known
    one) or "b or zero" (unknown bit)."""
    width = (1 << bits) - 1
    acc_v = (a[0] * b[0]) & width
    acc = (0, 0)
    av, am = a
    bv, bm = b
    shift_v, shift_m = bv, bm
    while av or am:
        if av & 1:
            acc = add(acc, (0, shift_m & width), bits)
        elif am & 1:
            acc = add(acc, (0, (shift_v | shift_m) & width), bits)
        av >>= 1
        am >>= 1
        shift_v = (shift_v << 1) & width
        shift_m = (shift_m << 1) & width
    return add((acc_v, 0), acc, bits)


def lshift(a: Tnum, n: int, bits: int) -> Tnum:
    width = (1 << bits) - 1
    return ((a[0] << n) & width, (a[1] << n) & width)


def rshift(a: Tnum, n: int) -> Tnum:
    return (a[0] >> n, a[1] >> n)


def arshift(a: Tnum, n: int, bits: int) -> Tnum:
    """Arithmetic shift: the sign bit (known or not) is copied into the vacated bits."""
    width = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def sar(x: int) -> int:
        return (((x ^ sign) - sign) >> n) & width

    return (sar(a[0]), sar(a[1]))


def truncate(a: Tnum, nbytes: int) -> Tnum:
    width = (1 << (8 * nbytes)) - 1
    return (a[0] & width, a[1] & width)


def bswap(a: Tnum, nbytes: int) -> Tnum:
    """Byte swap of the low ``nbytes``: known bits move with their byte."""

    def swap(x: int) -> int:
        return int.from_bytes((x & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")

    return (swap(a[0]), swap(a[1]))


def umin(a: Tnum) -> int:
    return a[0]


def umax(a: Tnum) -> int:
    return a[0] | a[1]
