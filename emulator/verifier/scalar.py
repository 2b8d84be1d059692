"""Abstract scalars: an unsigned range plus a tnum, and the ALU over them.

A scalar is ``Scalar(umin, umax, value, mask)`` at some width (64 or 32 bits): every
concrete value ``x`` it stands for has ``umin <= x <= umax`` and ``x & ~mask == value``.
Both views are kept in step by :func:`norm`. Operations take the width so that ALU32 runs
the same code on the low halves; the caller zero-extends the 32-bit result, exactly as the
machine does.

Each transfer function is sound (never excludes a value the instruction can produce) and
as precise as is cheap: constants fold exactly through :func:`concrete`, which follows
RFC 9669 (division by zero gives 0, modulo by zero leaves the dividend).
"""

from __future__ import annotations

from typing import NamedTuple

from emulator.isa.fields import AluOp
from emulator.verifier import tnum

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


class Scalar(NamedTuple):
    umin: int
    umax: int
    value: int
    mask: int

    @property
    def const(self) -> int | None:
        return self.value if self.mask == 0 else None


def top(bits: int = 64) -> Scalar:
    width = (1 << bits) - 1
    return Scalar(0, width, 0, width)


def const(v: int) -> Scalar:
    return Scalar(v, v, v, 0)


def from_range(lo: int, hi: int) -> Scalar:
    t = tnum.from_range(lo, hi)
    return Scalar(lo, hi, t[0], t[1])


def norm(umin: int, umax: int, value: int, mask: int) -> Scalar | None:
    """Make the range and the tnum agree; None when no value satisfies both."""
    lo = max(umin, value)
    hi = min(umax, value | mask)
    if lo > hi:
        return None
    if mask:
        t = tnum.intersect((value, mask), tnum.from_range(lo, hi))
        if t is None:
            return None
        value, mask = t
        lo = max(lo, value)
        hi = min(hi, value | mask)
        if lo > hi:
            return None
    if mask == 0:
        return Scalar(value, value, value, 0)
    if lo == hi:
        if lo & ~mask != value:
            return None
        return Scalar(lo, lo, lo, 0)
    return Scalar(lo, hi, value, mask)


def _norm_or_top(umin: int, umax: int, value: int, mask: int, bits: int) -> Scalar:
    s = norm(umin, umax, value, mask)
    return s if s is not None else top(bits)


def truncate(s: Scalar, bits: int) -> Scalar:
    """The low ``bits`` of ``s`` (the 32-bit view of a 64-bit scalar, a narrow load)."""
    width = (1 << bits) - 1
    if s.umax <= width:
        return s
    if s.umin >> bits == s.umax >> bits:  # the same high part: the low parts keep their order
        return _norm_or_top(s.umin & width, s.umax & width, s.value & width, s.mask & width, bits)
    return _norm_or_top(0, width, s.value & width, s.mask & width, bits)


def to_signed(x: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (x ^ sign) - sign


def sign_extend(s: Scalar, from_bits: int, to_bits: int) -> Scalar:
    """``(s<from_bits>) s`` widened to ``to_bits`` (movsx, signed loads)."""
    low = truncate(s, from_bits)
    if low.mask == 0:
        return const(to_signed(low.value, from_bits) & ((1 << to_bits) - 1))
    if low.umax < (1 << (from_bits - 1)):  # sign bit clear on every value: a zero extension
        return low
    if low.umin >= (1 << (from_bits - 1)):  # sign bit set on every value
        high = ((1 << to_bits) - 1) ^ ((1 << from_bits) - 1)
        return _norm_or_top(low.umin | high, low.umax | high, low.value | high, low.mask, to_bits)
    return top(to_bits)


def concrete(op: int, a: int, b: int, bits: int, signed: bool) -> int:
    """The machine's result of ``a op b`` at ``bits`` (operands already truncated)."""
    width = (1 << bits) - 1
    if op == AluOp.ADD:
        return (a + b) & width
    if op == AluOp.SUB:
        return (a - b) & width
    if op == AluOp.MUL:
        return (a * b) & width
    if op == AluOp.OR:
        return a | b
    if op == AluOp.AND:
        return a & b
    if op == AluOp.XOR:
        return a ^ b
    if op == AluOp.MOV:
        return b
    if op == AluOp.LSH:
        return (a << (b & (bits - 1))) & width
    if op == AluOp.RSH:
        return a >> (b & (bits - 1))
    if op == AluOp.ARSH:
        return (to_signed(a, bits) >> (b & (bits - 1))) & width
    if op in (AluOp.DIV, AluOp.MOD):
        if b == 0:
            return 0 if op == AluOp.DIV else a
        if not signed:
            return a // b if op == AluOp.DIV else a % b
        sa, sb = to_signed(a, bits), to_signed(b, bits)
        q = abs(sa) // abs(sb)
        if op == AluOp.DIV:
            return (-q if (sa < 0) != (sb < 0) else q) & width
        r = abs(sa) % abs(sb)
        return (-r if sa < 0 else r) & width
    raise ValueError(f"no concrete semantics for ALU op {op:#x}")


def alu(op: int, a: Scalar, b: Scalar, bits: int, signed: bool = False) -> Scalar:
    """``a op b`` at ``bits``; ``a`` and ``b`` are already views at that width."""
    ca, cb = a.const, b.const
    if ca is not None and cb is not None:
        return const(concrete(op, ca, cb, bits, signed))
    width = (1 << bits) - 1
    ta, tb = (a.value, a.mask), (b.value, b.mask)
    if op == AluOp.MOV:
        return b
    if op == AluOp.ADD:
        # Both ends wrap the same number of times (adding a negative constant wraps every
        # value once): the result is still one contiguous range.
        t = tnum.add(ta, tb, bits)
        lo, hi = a.umin + b.umin, a.umax + b.umax
        if lo >> bits == hi >> bits:
            return _norm_or_top(lo & width, hi & width, *t, bits)
        return _norm_or_top(0, width, *t, bits)
    if op == AluOp.SUB:
        t = tnum.sub(ta, tb, bits)
        lo, hi = a.umin - b.umax, a.umax - b.umin
        if lo >> bits == hi >> bits:
            return _norm_or_top(lo & width, hi & width, *t, bits)
        return _norm_or_top(0, width, *t, bits)
    if op == AluOp.MUL:
        t = tnum.mul(ta, tb, bits)
        if a.umax * b.umax <= width:
            return _norm_or_top(a.umin * b.umin, a.umax * b.umax, *t, bits)
        return _norm_or_top(0, width, *t, bits)
    if op == AluOp.AND:
        t = tnum.and_(ta, tb)
        return _norm_or_top(t[0], min(a.umax, b.umax), *t, bits)
    if op == AluOp.OR:
        t = tnum.or_(ta, tb)
        return _norm_or_top(max(a.umin, b.umin), width, *t, bits)
    if op == AluOp.XOR:
        return _norm_or_top(0, width, *tnum.xor(ta, tb), bits)
    if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH):
        return _shift(op, a, b, bits)
    if op in (AluOp.DIV, AluOp.MOD):
        if signed:
            return top(bits)
        if op == AluOp.DIV:
            if b.umin > 0:
                return from_range(a.umin // b.umax, a.umax // b.umin)
            return from_range(0, a.umax)  # x / 0 = 0 and x / y <= x
        if b.umin > 0:
            return from_range(0, min(a.umax, b.umax - 1)) if a.umax >= b.umin else a
        return from_range(0, a.umax)  # x % 0 = x and x % y <= x
    raise ValueError(f"no abstract semantics for ALU op {op:#x}")


def _shift(op: int, a: Scalar, b: Scalar, bits: int) -> Scalar:
    width = (1 << bits) - 1
    cb = b.const
    if cb is None:
        if b.umax >= bits:  # the machine masks the count: any count is possible
            if op == AluOp.RSH:
                return from_range(0, a.umax)
            return top(bits)
        lo_n, hi_n = b.umin, b.umax
        if op == AluOp.RSH:
            return from_range(a.umin >> hi_n, a.umax >> lo_n)
        if op == AluOp.LSH and (a.umax << hi_n) <= width:
            return from_range(a.umin << lo_n, a.umax << hi_n)
        return top(bits)
    n = cb & (bits - 1)
    if op == AluOp.LSH:
        t = tnum.lshift((a.value, a.mask), n, bits)
        if (a.umax << n) <= width:
            return _norm_or_top(a.umin << n, a.umax << n, *t, bits)
        return _norm_or_top(0, width, *t, bits)
    if op == AluOp.RSH:
        t = tnum.rshift((a.value, a.mask), n)
        return _norm_or_top(a.umin >> n, a.umax >> n, *t, bits)
    t = tnum.arshift((a.value, a.mask), n, bits)
    sign = 1 << (bits - 1)
    if a.umax < sign or a.umin >= sign:  # one sign throughout: the shift keeps the order
        lo = concrete(AluOp.ARSH, a.umin, n, bits, True)
        hi = concrete(AluOp.ARSH, a.umax, n, bits, True)
        return _norm_or_top(lo, hi, *t, bits)
    return _norm_or_top(0, width, *t, bits)


def neg(a: Scalar, bits: int) -> Scalar:
    return alu(AluOp.SUB, const(0), a, bits)


def bswap(a: Scalar, nbytes: int) -> Scalar:
    low = truncate(a, 8 * nbytes)
    if low.mask == 0:
        return const(int.from_bytes(low.value.to_bytes(nbytes, "little"), "big"))
    t = tnum.bswap((low.value, low.mask), nbytes)
    return _norm_or_top(0, (1 << (8 * nbytes)) - 1, *t, 8 * nbytes)


def union(a: Scalar, b: Scalar) -> Scalar:
    t = tnum.union((a.value, a.mask), (b.value, b.mask))
    return Scalar(min(a.umin, b.umin), max(a.umax, b.umax), t[0], t[1])
