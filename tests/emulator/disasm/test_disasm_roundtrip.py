"""Round trips between bytes and text, for every table row and for arbitrary bytes.

* bytes -> text -> bytes is exact (both dialects, explicit and auto-detected);
* text -> bytes -> text is exact;
* any bytes disassemble without raising and assemble back to the same bytes;
* decode(encode(insn)) == insn.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.asm import assemble, assemble_bytes
from emulator.disasm import TableResolver, disassemble_bytes, format_insn, render_listing
from emulator.isa.fields import PseudoSrc
from emulator.isa.insn import Insn, decode_program
from emulator.isa.table import ROWS, Form, OpInfo
from emulator.isa.validate import validate_insn

DIALECTS = ("llvm", "conformance")

# Which fields each form gives meaning to (besides its variant field); the rest stay zero.
USED: dict[Form, tuple[str, ...]] = {
    Form.ALU_REG: ("dst", "src"),
    Form.ALU_IMM: ("dst", "imm"),
    Form.NEG: ("dst",),
    Form.MOVSX: ("dst", "src"),
    Form.END: ("dst",),
    Form.JA: ("off",),
    Form.JA32: ("imm",),
    Form.JCOND_REG: ("dst", "src", "off"),
    Form.JCOND_IMM: ("dst", "imm", "off"),
    Form.CALL: ("imm",),
    Form.CALLX: ("dst",),
    Form.EXIT: (),
    Form.LDDW: ("dst", "imm", "imm_hi"),
    Form.LD_ABS: ("imm",),
    Form.LD_IND: ("src", "imm"),
    Form.LDX: ("dst", "src", "off"),
    Form.LDXSX: ("dst", "src", "off"),
    Form.ST: ("dst", "off", "imm"),
    Form.STX: ("dst", "src", "off"),
    Form.ATOMIC: ("dst", "src", "off"),
}
HI_ZERO = {PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX, PseudoSrc.FUNC}

S16 = st.integers(-(1 << 15), (1 << 15) - 1)
S32 = st.one_of(
    st.integers(-(1 << 31), (1 << 31) - 1),
    st.sampled_from([0, 1, -1, 9, 10, -10, 15, 16, (1 << 31) - 1, -(1 << 31)]),
)
FIELD = {"dst": st.integers(0, 10), "src": st.integers(0, 10), "off": S16, "imm": S32, "imm_hi": S32}


def legal_insn(row: OpInfo) -> st.SearchStrategy[Insn]:
    """Legal field values for ``row``: used fields drawn, variant set, the rest zero."""
    used = [f for f in USED[row.form] if f != row.variant_field]
    if row.form is Form.LDDW and row.variant in HI_ZERO:
        used.remove("imm_hi")

    def build(values: dict[str, int]) -> Insn:
        fields = dict(values)
        if row.variant_field:
            fields[row.variant_field] = row.variant
        return Insn(row.opcode, **fields)

    return st.fixed_dictionaries({f: FIELD[f] for f in used}).map(build)


def _roundtrip_one(insn: Insn, pc: int, dialect: str) -> None:
    data = insn.encode()
    text = format_insn(insn, pc, dialect=dialect)  # type: ignore[arg-type]
    assert not text.startswith(".insn"), text
    assert assemble_bytes(text, dialect=dialect) == data, text  # type: ignore[arg-type]
    assert assemble_bytes(text) == data, text
    [again] = assemble(text)
    assert again == insn
    assert format_insn(again, pc, dialect=dialect) == text  # type: ignore[arg-type]


ROW_IDS = [f"{r.mnemonic}-{r.form.value}-{r.variant}" for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
@settings(max_examples=12)
@given(data=st.data())
def test_every_row_round_trips(row: OpInfo, data: st.DataObject) -> None:
    insn = data.draw(legal_insn(row))
    assert insn.info is row
    assert [d.code for d in validate_insn(insn, 0) if d.code != "write-r10"] == []
    pc = data.draw(st.integers(0, 1000))
    for dialect in DIALECTS:
        _roundtrip_one(insn, pc, dialect)
    assert decode_program(insn.encode()).insns[0] == insn


@settings(max_examples=200)
@given(data=st.data())
def test_text_round_trip_with_names(data: st.DataObject) -> None:
    row = data.draw(st.sampled_from(ROWS))
    insn = data.draw(legal_insn(row))
    pc = data.draw(st.integers(0, 50))
    names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
    resolver = TableResolver(
        helpers={insn.imm: data.draw(names)},
        maps={("fd", insn.imm): data.draw(names), ("idx", insn.imm): data.draw(names)},
        labels={pc + 1 + insn.off: data.draw(names), pc + 1 + insn.imm: data.draw(names)},
    )
    for dialect in DIALECTS:
        text = format_insn(insn, pc, dialect=dialect, resolver=resolver)  # type: ignore[arg-type]
        assert assemble_bytes(text, dialect=dialect) == insn.encode(), text  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.binary(min_size=8, max_size=8))
def test_any_slot_disassembles_and_reassembles(data: bytes) -> None:
    for dialect in DIALECTS:
        for raw in (False, True):
            lines = disassemble_bytes(data, dialect=dialect, raw=raw)  # type: ignore[arg-type]
            assert b"".join(line.raw for line in lines) == data
            assert assemble_bytes(render_listing(lines)) == data
            assert assemble_bytes(render_listing(lines), dialect=dialect) == data  # type: ignore[arg-type]


KNOWN_OPCODES = sorted({r.opcode for r in ROWS})


@st.composite
def slot_biased(draw: st.DrawFn) -> bytes:
    """An 8-byte slot whose opcode is usually a known one, other bytes arbitrary."""
    opcode = draw(st.one_of(st.sampled_from(KNOWN_OPCODES), st.integers(0, 255)))
    return bytes([opcode]) + draw(st.binary(min_size=7, max_size=7))


@settings(max_examples=200)
@given(st.lists(slot_biased(), min_size=1, max_size=6))
def test_any_program_disassembles_and_reassembles(slots: list[bytes]) -> None:
    data = b"".join(slots)
    for dialect in DIALECTS:
        lines = disassemble_bytes(data, dialect=dialect)  # type: ignore[arg-type]
        assert assemble_bytes(render_listing(lines)) == data


@settings(max_examples=200)
@given(st.binary(min_size=0, max_size=40))
def test_disassembly_never_raises(data: bytes) -> None:
    for dialect in DIALECTS:
        lines = disassemble_bytes(data, dialect=dialect)  # type: ignore[arg-type]
        assert b"".join(line.raw for line in lines) == data
        decoded = decode_program(data[: len(data) // 8 * 8])
        for pc, insn in enumerate(decoded.insns):
            if insn is not None:
                format_insn(insn, pc, dialect=dialect, raw=True)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.binary(min_size=8, max_size=8).filter(lambda b: b[0] != 0x18))
def test_decode_encode_slot(data: bytes) -> None:
    [insn] = decode_program(data).insns
    assert insn is not None and insn.encode() == data
    assert assemble(format_insn(insn))[0] == insn
