"""Checksum arithmetic: table-driven values worked out by hand from the kernel's
definitions, and properties that tie csum_diff and the replace functions to a full
recomputation (RFC 1624 incremental update)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.helpers.csum import (
    csum_add,
    csum_diff,
    csum_fold,
    csum_partial,
    csum_replace2,
    csum_replace4,
    csum_replace_by_diff,
    csum_sub,
    from32to16,
)


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        (0, 0, 0),
        (1, 2, 3),
        (0xFFFFFFFF, 0, 0xFFFFFFFF),
        (0xFFFFFFFF, 1, 1),  # the carry comes back in: never 0 from non-zero inputs
        (0x80000000, 0x80000000, 1),
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
    ],
)
def test_csum_add(a: int, b: int, out: int) -> None:
    assert csum_add(a, b) == out


@pytest.mark.parametrize(
    ("value", "folded"),
    [
        (0, 0xFFFF),
        (0xFFFF, 0),
        (0xFFFFFFFF, 0),
        (0x0001FFFF, 0xFFFE),
        (0x12345678, ~(0x1234 + 0x5678) & 0xFFFF),
    ],
)
def test_csum_fold(value: int, folded: int) -> None:
    assert csum_fold(value) == folded


@pytest.mark.parametrize(
    ("data", "seed", "out"),
    [
        (b"", 0, 0),
        (bytes(8), 0, 0),
        (bytes(8), 0xFFFFFFFF, 0xFFFFFFFF),  # the seed comes back as it was
        (b"\x01\x02\x03\x04", 0, 0x04030201),
        (b"\x01", 0, 1),  # an odd tail byte is the low byte of a little-endian word
        (b"\xff\xff\xff\xff", 1, 1),
    ],
)
def test_csum_partial(data: bytes, seed: int, out: int) -> None:
    assert csum_partial(data, seed) == out


@pytest.mark.parametrize(
    ("frm", "to", "seed", "out"),
    [  # the kernel's answers (tests/emulator/helpers/test_kernel_differential.py checks more)
        (b"\x01\x02\x03\x04", b"", 0, 0xF9FB),
        (b"", b"\x01\x02\x03\x04", 0, 0x0604),
        (bytes(4), b"", 0, 0),
        (bytes(4), bytes(4), 0, 0xFFFF),
        (b"", b"", 0x12345678, 0x68AC),
        (b"", b"", 0x1FFFFFFFF, 0xFFFF),  # the seed is a 32-bit __wsum
        (b"\xff\xff\x00\x00", b"", 0, 0xFFFF),
    ],
)
def test_csum_diff_values(frm: bytes, to: bytes, seed: int, out: int) -> None:
    assert csum_diff(frm, to, seed) == out


def _header_csum(header: bytes) -> int:
    """The checksum field value (little-endian u16 of the big-endian sum) of ``header``."""
    total = sum(struct.unpack(f"<{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _same_ones_complement(a: int, b: int) -> bool:
    return a % 0xFFFF == b % 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.integers(0, 4), st.binary(min_size=4, max_size=4))
def test_replace4_matches_recompute(header: bytes, word: int, new: bytes) -> None:
    hdr = bytearray(header)
    hdr[10:12] = b"\0\0"
    hdr[10:12] = _header_csum(bytes(hdr)).to_bytes(2, "little")
    at = [0, 4, 12, 16, 16][word]
    old = struct.unpack_from("<I", hdr, at)[0]
    field = struct.unpack_from("<H", hdr, 10)[0]
    hdr[at : at + 4] = new
    updated = csum_replace4(field, old, struct.unpack("<I", new)[0])
    hdr[10:12] = b"\0\0"
    assert _same_ones_complement(updated, _header_csum(bytes(hdr)))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.integers(0, 8), st.binary(min_size=2, max_size=2))
def test_replace2_and_by_diff_match_recompute(header: bytes, word: int, new: bytes) -> None:
    hdr = bytearray(header)
    hdr[10:12] = b"\0\0"
    field = _header_csum(bytes(hdr))
    at = [0, 2, 4, 6, 8, 12, 14, 16, 18][word]
    old_bytes = bytes(hdr[at : at + 2])
    hdr[at : at + 2] = new
    expected = _header_csum(bytes(hdr))
    by2 = csum_replace2(field, struct.unpack("<H", old_bytes)[0], struct.unpack("<H", new)[0])
    diff = csum_diff(old_bytes, new, 0)
    by_diff = csum_replace_by_diff(field, diff)
    assert _same_ones_complement(by2, expected)
    assert _same_ones_complement(by_diff, expected)


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_sub_undoes_add(a: int, b: int) -> None:
    assert from32to16(csum_sub(csum_add(a, b), b)) % 0xFFFF == from32to16(a) % 0xFFFF
