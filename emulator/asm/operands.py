"""Operand syntax shared by both dialects: numbers, registers, jump targets.

Parsers here raise :class:`SyntaxProblem` with a message that says what was expected; the
assembler driver adds the line number and text and turns it into an AsmError.

Number rules (RFC 9669 fields, as the conformance assembler reads them):

* 32-bit immediates: signed decimal in [-2^31, 2^31-1], or hex (optionally with a minus
  sign) in [-0x80000000, 0xffffffff]; positive hex is stored as the raw 32 bits.
* 16-bit offsets: signed decimal in [-32768, 32767], or hex in [-0x8000, 0xffff].
* lddw's 64-bit value: hex or decimal in [-2^63, 2^64-1], stored as the raw 64 bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from emulator.isa.fields import MAX_REG

UNSIGNED: Final = r"(?:0[xX][0-9a-fA-F]+|[0-9]+)"
"""Regex fragment for a number without sign (decimal or 0x hex)."""

NUMBER: Final = r"[-+]?\s*" + UNSIGNED
"""Regex fragment for a number token with an optional sign."""

LABEL: Final = r"[A-Za-z_.$][\w.$]*"
"""Regex fragment for a label name."""

_NUMBER_RE = re.compile(r"([-+]?)\s*(0[xX][0-9a-fA-F]+|[0-9]+)")
_LABEL_RE = re.compile(LABEL)
_REL_RE = re.compile(r"(?:pc\s*)?([-+]\s*(?:0[xX][0-9a-fA-F]+|[0-9]+))")


class SyntaxProblem(Exception):
    """A line does not assemble; the message says what was expected."""


def parse_int(token: str, what: str = "a number") -> tuple[int, bool]:
    """(value, written in hex) of a decimal or ``0x`` number with an optional sign."""
    match = _NUMBER_RE.fullmatch(token.strip())
    if not match:
        raise SyntaxProblem(f"expected {what}, got {token.strip()!r}")
    sign, digits = match.groups()
    is_hex = digits[:2].lower() == "0x"
    value = int(digits, 16 if is_hex else 10)
    return (-value if sign == "-" else value), is_hex


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def fit_signed(token: str, bits: int, what: str) -> int:
    """A ``bits``-wide field: signed decimal, or hex up to the unsigned maximum (raw bits)."""
    value, is_hex = parse_int(token, what)
    low = -(1 << (bits - 1))
    high = (1 << bits) - 1 if is_hex else (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise SyntaxProblem(
            f"{what} {token.strip()} is out of range: expected a signed decimal in "
            f"[{low}, {(1 << (bits - 1)) - 1}] or hex up to 0x{(1 << bits) - 1:x}"
        )
    return _signed(value, bits)


def imm32(token: str, what: str = "immediate") -> int:
    """A 32-bit ``imm`` field, returned signed as Insn stores it."""
    return fit_signed(token, 32, what)


def off16(token: str, what: str = "offset") -> int:
    """A 16-bit ``off`` field, returned signed."""
    return fit_signed(token, 16, what)


def uint32(token: str, what: str) -> int:
    """An unsigned 32-bit quantity (a map value offset), returned as signed raw bits."""
    value, _ = parse_int(token, what)
    if not 0 <= value <= 0xFFFFFFFF:
        raise SyntaxProblem(f"{what} {token.strip()} is out of range: expected 0 to 0xffffffff")
    return _signed(value, 32)


def imm64(token: str) -> tuple[int, int]:
    """lddw's value as the (low, high) signed 32-bit halves."""
    value, _ = parse_int(token, "a 64-bit value")
    if not -(1 << 63) <= value <= (1 << 64) - 1:
        raise SyntaxProblem(
            f"64-bit value {token.strip()} is out of range: expected "
            f"[-9223372036854775808, 0xffffffffffffffff]"
        )
    value &= (1 << 64) - 1
    return _signed(value, 32), _signed(value >> 32, 32)


def llvm_reg(token: str) -> tuple[int, bool]:
    """(number, is 64-bit) of an LLVM register ``r0``-``r10`` or ``w0``-``w10``."""
    tok = token.strip()
    match = re.fullmatch(r"([rw])(\d+)", tok)
    if not match or int(match.group(2)) > MAX_REG:
        raise SyntaxProblem(f"expected a register r0-r{MAX_REG}, got {tok!r}")
    return int(match.group(2)), match.group(1) == "r"


def conf_reg(token: str) -> int:
    """Number of a conformance register ``%r0``-``%r10`` (``%r11``-``%r15`` are accepted, as
    the suite's assembler does, so that negative tests can be written)."""
    tok = token.strip()
    match = re.fullmatch(r"%r(\d+)", tok)
    if not match or int(match.group(1)) > 15:
        raise SyntaxProblem(f"expected a register %r0-%r{MAX_REG}, got {tok!r}")
    return int(match.group(1))


def any_reg(token: str) -> int:
    """A register in either spelling (``r2``, ``w2`` or ``%r2``); for dialect-neutral lines."""
    tok = token.strip()
    return conf_reg(tok) if tok.startswith("%") else llvm_reg(tok)[0]


@dataclass(frozen=True, slots=True)
class Target:
    """A jump or call destination: a relative slot distance, or a label to resolve."""

    rel: int | None = None
    label: str | None = None


def target(token: str, bits: int) -> Target:
    """``+N``, ``-N``, ``pc+N`` or a label name; ``bits`` is the width of the field."""
    tok = token.strip()
    match = _REL_RE.fullmatch(tok)
    if match:
        return Target(rel=fit_signed(match.group(1), bits, f"{bits}-bit jump offset"))
    if _LABEL_RE.fullmatch(tok) and tok != "pc":
        return Target(label=tok)
    raise SyntaxProblem(f"expected a jump target (+N, -N or a label), got {tok!r}")
