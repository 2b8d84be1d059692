"""The opcode table: complete for RFC 9669, and every row decodes back to itself."""

from __future__ import annotations

from collections import Counter

import pytest

from emulator.isa.insn import Insn
from emulator.isa.table import OPCODE_TABLE, ROWS, VARIANT_FIELD, Form, Group, lookup

# Every opcode byte RFC 9669 defines (v4 included), with the count of variants each has.
RFC_OPCODES: dict[int, int] = {
    # ALU64 K/X: add sub mul div(+sdiv) or and lsh rsh neg mod(+smod) xor mov(+movsx) arsh
    0x07: 1,
    0x0F: 1,
    0x17: 1,
    0x1F: 1,
    0x27: 1,
    0x2F: 1,
    0x37: 2,
    0x3F: 2,
    0x47: 1,
    0x4F: 1,
    0x57: 1,
    0x5F: 1,
    0x67: 1,
    0x6F: 1,
    0x77: 1,
    0x7F: 1,
    0x87: 1,
    0x97: 2,
    0x9F: 2,
    0xA7: 1,
    0xAF: 1,
    0xB7: 1,
    0xBF: 4,
    0xC7: 1,
    0xCF: 1,
    0xD7: 3,
    # ALU (32-bit)
    0x04: 1,
    0x0C: 1,
    0x14: 1,
    0x1C: 1,
    0x24: 1,
    0x2C: 1,
    0x34: 2,
    0x3C: 2,
    0x44: 1,
    0x4C: 1,
    0x54: 1,
    0x5C: 1,
    0x64: 1,
    0x6C: 1,
    0x74: 1,
    0x7C: 1,
    0x84: 1,
    0x94: 2,
    0x9C: 2,
    0xA4: 1,
    0xAC: 1,
    0xB4: 1,
    0xBC: 3,
    0xC4: 1,
    0xCC: 1,
    0xD4: 3,
    0xDC: 3,
    # JMP
    0x05: 1,
    0x15: 1,
    0x1D: 1,
    0x25: 1,
    0x2D: 1,
    0x35: 1,
    0x3D: 1,
    0x45: 1,
    0x4D: 1,
    0x55: 1,
    0x5D: 1,
    0x65: 1,
    0x6D: 1,
    0x75: 1,
    0x7D: 1,
    0x85: 3,
    0x8D: 1,
    0x95: 1,
    0xA5: 1,
    0xAD: 1,
    0xB5: 1,
    0xBD: 1,
    0xC5: 1,
    0xCD: 1,
    0xD5: 1,
    0xDD: 1,
    # JMP32
    0x06: 1,
    0x16: 1,
    0x1E: 1,
    0x26: 1,
    0x2E: 1,
    0x36: 1,
    0x3E: 1,
    0x46: 1,
    0x4E: 1,
    0x56: 1,
    0x5E: 1,
    0x66: 1,
    0x6E: 1,
    0x76: 1,
    0x7E: 1,
    0xA6: 1,
    0xAE: 1,
    0xB6: 1,
    0xBE: 1,
    0xC6: 1,
    0xCE: 1,
    0xD6: 1,
    0xDE: 1,
    # loads and stores
    0x61: 1,
    0x69: 1,
    0x71: 1,
    0x79: 1,
    0x81: 1,
    0x89: 1,
    0x91: 1,
    0x62: 1,
    0x6A: 1,
    0x72: 1,
    0x7A: 1,
    0x63: 1,
    0x6B: 1,
    0x73: 1,
    0x7B: 1,
    # atomics (10 operations each), lddw (7 pseudo sources), legacy packet loads
    0xC3: 10,
    0xDB: 10,
    0x18: 7,
    0x20: 1,
    0x28: 1,
    0x30: 1,
    0x40: 1,
    0x48: 1,
    0x50: 1,
}


def test_table_has_exactly_the_rfc_opcodes() -> None:
    counts = Counter(row.opcode for row in ROWS)
    assert dict(counts) == RFC_OPCODES


def test_keys_are_unique() -> None:
    assert len(OPCODE_TABLE) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.mnemonic}-{r.opcode:#04x}-{r.variant}")
def test_every_row_is_found_by_lookup_of_its_own_fields(row) -> None:  # type: ignore[no-untyped-def]
    fields = {"src": 0, "off": 0, "imm": 0}
    if row.variant_field:
        fields[row.variant_field] = row.variant
    assert lookup(row.opcode, **fields) is row
    insn = Insn(
        row.opcode, 1, 2 if row.form.name.endswith("REG") else fields["src"], fields["off"], fields["imm"]
    )
    assert insn.info is row


def test_variant_fields_are_consistent_per_opcode() -> None:
    for row in ROWS:
        assert VARIANT_FIELD[row.opcode] == row.variant_field


def test_unknown_encodings_have_no_row() -> None:
    assert lookup(0xFF, 0, 0, 0) is None
    assert lookup(0x3F, 0, 2, 0) is None  # div with off=2: neither div nor sdiv
    assert lookup(0xDB, 0, 0, 0x02) is None  # atomic imm 2
    assert lookup(0x85, 3, 0, 0) is None  # call with src=3
    assert lookup(0x18, 7, 0, 0) is None  # lddw pseudo source 7


def test_groups_and_forms_cover_the_isa() -> None:
    assert {r.group for r in ROWS} == set(Group)
    assert {r.form for r in ROWS} == set(Form)
