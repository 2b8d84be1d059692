"""Arbitrary bytes never take the machine down: they are rejected with diagnostics, or they
load and run to an exit, a fault or the budget (ubpf and rbpf keep fuzz targets for this)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from emulator.backends.base import create, stepping_backend_names
from emulator.env import Environment, RunInput
from emulator.errors import DecodeError
from emulator.isa.table import ROWS
from emulator.isa.validate import UNUSED_FIELDS
from emulator.program import Program
from emulator.state import StopCondition, StopReason


@st.composite
def slots(draw: st.DrawFn) -> bytes:
    """Mostly legal encodings (so programs get past the decoder) with random fields, and
    now and then a raw random slot."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=8, max_size=8))
    row = draw(st.sampled_from(ROWS))
    fields = {
        "dst": draw(st.integers(0, 9)),
        "src": draw(st.integers(0, 10)),
        "off": draw(st.integers(-4, 8) | st.integers(-600, 600)),
        "imm": draw(
            st.sampled_from([0, 1, 2, 5, -1, 8, 16, 31, 32, 63, 64]) | st.integers(-(2**31), 2**31 - 1)
        ),
    }
    for name in UNUSED_FIELDS[row.form]:
        fields[name] = 0
    if row.variant_field:
        fields[row.variant_field] = row.variant
    head = struct.pack("<BBhi", row.opcode, fields["src"] << 4 | fields["dst"], fields["off"], fields["imm"])
    if row.slots == 2:
        head += struct.pack("<BBhi", 0, 0, 0, draw(st.integers(-(2**31), 2**31 - 1)))
    return head


@given(st.lists(slots(), min_size=1, max_size=24), st.binary(max_size=32))
def test_random_programs_never_raise(program: list[bytes], mem: bytes) -> None:
    code = b"".join(program)
    try:
        prog = Program.from_bytes(code)
    except DecodeError as err:
        assert err.diagnostics
        return
    for name in stepping_backend_names():
        machine = create(name)
        report = machine.load(prog, Environment(budget=2_000))
        if not report.ok:
            assert report.errors
            continue
        machine.reset(RunInput(mem=mem))
        event = machine.run(StopCondition())
        assert event.reason in (StopReason.EXIT, StopReason.FAULT, StopReason.BUDGET)
        if event.reason is StopReason.FAULT:
            assert event.fault is not None and event.fault.kind != "internal", event.fault
