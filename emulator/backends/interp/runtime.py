"""Out-of-line pieces of instruction semantics that generated code calls by name.

Kept as plain functions so the generated source stays short and these edge cases (signed
division, byte swaps) are written, and tested, once.
"""

from __future__ import annotations

from emulator.execution import FaultError, ProgramExit  # noqa: F401 - generated code raises them

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
SIGN64 = 0x8000000000000000
SIGN32 = 0x80000000


def _s64(x: int) -> int:
    return (x ^ SIGN64) - SIGN64


def _s32(x: int) -> int:
    return ((x & M32) ^ SIGN32) - SIGN32


def _tdiv(a: int, b: int) -> int:
    """C division: truncate toward zero."""
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _tmod(a: int, b: int) -> int:
    """C remainder: takes the sign of the dividend."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def sdiv64(a: int, b: int) -> int:
    """Signed 64-bit division; x/0 = 0, INT_MIN/-1 = INT_MIN (RFC 9669)."""
    if b == 0:
        return 0
    return _tdiv(_s64(a), _s64(b)) & M64


def smod64(a: int, b: int) -> int:
    """Signed 64-bit remainder; x%0 = x, INT_MIN%-1 = 0."""
    if b == 0:
        return a
    return _tmod(_s64(a), _s64(b)) & M64


def sdiv32(a: int, b: int) -> int:
    if b & M32 == 0:
        return 0
    return _tdiv(_s32(a), _s32(b)) & M32


def smod32(a: int, b: int) -> int:
    if b & M32 == 0:
        return a & M32
    return _tmod(_s32(a), _s32(b)) & M32


def bswap16(x: int) -> int:
    return ((x & 0xFF) << 8) | ((x >> 8) & 0xFF)


def bswap32(x: int) -> int:
    return int.from_bytes((x & M32).to_bytes(4, "little"), "big")


def bswap64(x: int) -> int:
    return int.from_bytes(x.to_bytes(8, "little"), "big")
