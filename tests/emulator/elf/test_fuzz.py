"""Damaged objects: truncated or bit-flipped copies of real fixtures.

The only acceptable outcomes are a BpfObject whose programs are valid (every program
validates, every map index and call target exists, line pcs are inside the program) or
one ElfLoadError raised by a check (not by the catch-all around the loader, which would
mean some parser tripped over input it should have rejected with a proper message).
Flips are aimed at one section at a time, so the parts that matter (code, relocations,
symbols, .maps, BTF) are hit often, not just the DWARF that makes up most of the bytes.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.bpfobject import BpfObject
from emulator.elf import load_object
from emulator.elf.image import read_image
from emulator.errors import ElfLoadError
from emulator.isa.fields import PseudoSrc
from emulator.isa.validate import validate
from tests.emulator.elf.paths import LOADABLE, fixture


@functools.cache
def _original(name: str) -> bytes:
    return fixture(name).read_bytes()


@functools.cache
def _regions(name: str) -> tuple[tuple[int, int], ...]:
    """(start, end) file ranges: the headers, then every section with bytes."""
    image = read_image(fixture(name))
    out = [(0, 64)]
    for sec in image.sections[1:]:
        if sec.data:
            start = int(image.elffile.get_section(sec.index)["sh_offset"])
            out.append((start, start + len(sec.data)))
    return tuple(out)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(LOADABLE))
    data = bytearray(_original(name))
    if draw(st.booleans()) and draw(st.integers(0, 3)) == 0:
        return name, bytes(data[: draw(st.integers(0, len(data) - 1))])
    start, end = draw(st.sampled_from(_regions(name)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(start, end - 1))
        data[pos] ^= 1 << draw(st.integers(0, 7))
    return name, bytes(data)


def _check_valid(obj: BpfObject) -> None:
    for prog in obj.programs:
        errors = [d for d in validate(prog.insns) if d.severity.value == "error"]
        assert not errors, (prog.name, errors)
        for insn in prog.insns:
            if (
                insn is not None
                and insn.opcode == 0x18
                and insn.src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE)
            ):
                assert 0 <= insn.imm < len(obj.maps)
        assert all(0 <= pc < prog.nslots for pc in prog.lines)
        assert all(0 <= pc < prog.nslots for pc in prog.symbols)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=damaged())
def test_damaged_objects_load_or_fail_cleanly(tmp_path: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    path = tmp_path / f"{name}.o"
    path.write_bytes(data)
    try:
        obj = load_object(path)
    except ElfLoadError as err:
        assert err.__cause__ is None, f"{name}: unchecked failure: {err}"
        assert str(path) in str(err)
        return
    _check_valid(obj)
