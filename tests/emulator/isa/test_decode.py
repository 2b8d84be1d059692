"""Decoding and validation: every slot decodes, problems are diagnostics with slot and bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.errors import DecodeError
from emulator.isa.insn import Insn, decode, decode_program, encode_program, slot_list
from emulator.isa.table import ROWS

EXIT = bytes.fromhex("9500000000000000")


def slot(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, (src << 4) | dst, off, imm)


@st.composite
def insns(draw: st.DrawFn) -> Insn:
    row = draw(st.sampled_from(ROWS))
    fields = {
        "dst": draw(st.integers(0, 10)),
        "src": draw(st.integers(0, 10)),
        "off": draw(st.integers(-(2**15), 2**15 - 1)),
        "imm": draw(st.integers(-(2**31), 2**31 - 1)),
    }
    if row.variant_field:
        fields[row.variant_field] = row.variant
    imm_hi = draw(st.integers(-(2**31), 2**31 - 1)) if row.slots == 2 else 0
    return Insn(row.opcode, imm_hi=imm_hi, **fields)


@given(insns())
def test_decode_of_encode_is_identity(insn: Insn) -> None:
    decoded = decode_program(insn.encode())
    assert decoded.insns[0] == insn
    assert decoded.insns[0].info is insn.info  # type: ignore[union-attr]


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = decode_program(data)
    assert len(result.insns) == len(data) // 8 or result.diagnostics
    for diag in result.diagnostics:
        assert str(diag).startswith(f"insn {diag.pc}:")


def codes(data: bytes) -> list[tuple[int, str]]:
    return [(d.pc, d.code) for d in decode_program(data).diagnostics]


def test_unknown_opcode_names_slot_and_bytes() -> None:
    data = slot(0xB7, 0, imm=1) + slot(0xFF, 1, 2, 3, 4) + EXIT
    (diag,) = decode_program(data).diagnostics
    assert diag.pc == 1 and diag.code == "unknown-opcode"
    assert diag.raw == slot(0xFF, 1, 2, 3, 4)
    assert "0xff" in str(diag) and "ff 21 03 00 04 00 00 00" in str(diag)


def test_unknown_variant_says_which_field() -> None:
    (diag,) = decode_program(slot(0x3F, 1, 2, off=2) + EXIT).diagnostics
    assert diag.code == "unknown-variant" and "off=2" in diag.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (EXIT + b"\x95\x00", [(1, "truncated")]),
        (slot(0x18, 1, imm=5), [(0, "lddw-truncated")]),
        (slot(0x18, 1, imm=5) + slot(0x07, imm=1) + EXIT, [(1, "lddw-second-slot")]),
        (slot(0x05, off=5) + EXIT, [(0, "jump-out-of-range")]),
        (slot(0x05, off=0) + slot(0x18, 1) + slot(0) + EXIT, []),
        (slot(0x05, off=1) + slot(0x18, 1) + slot(0) + EXIT, [(0, "jump-into-lddw")]),
        (slot(0xB7, 10, imm=1) + EXIT, [(0, "write-r10")]),
        (slot(0xBF, 11, 1) + EXIT, [(0, "bad-register")]),
        (slot(0x07, 1, 3, imm=1) + EXIT, [(0, "reserved-field")]),
        (slot(0x95, imm=1), [(0, "reserved-field")]),
        (b"", [(0, "empty")]),
    ],
)
def test_malformed_programs_get_diagnostics(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert codes(data) == expected


def test_decode_raises_with_every_error() -> None:
    with pytest.raises(DecodeError) as info:
        decode(slot(0xFF) + slot(0xFE) + EXIT)
    assert [d.pc for d in info.value.diagnostics] == [0, 1]
    assert "and 1 more" in str(info.value)


def test_lddw_is_one_insn_over_two_slots() -> None:
    insn = Insn(0x18, 2, imm=0x55667788, imm_hi=0x11223344)
    slots = slot_list([insn, Insn(0x95)])
    assert slots[1] is None and len(slots) == 3
    assert insn.imm64 == 0x1122334455667788
    assert decode(encode_program(slots)) == slots
