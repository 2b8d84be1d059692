"""Every conformance test's asm section assembles to exactly the bytes the real runner made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.asm.datafile import load_data_file

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "conformance"
ASSEMBLED = SHARED / "assembled.json"

if not ASSEMBLED.is_file():
    pytest.skip("../shared/conformance is not present", allow_module_level=True)

CASES = json.loads(ASSEMBLED.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_data_file_matches_runner(case: dict) -> None:
    test = load_data_file(SHARED / "tests" / f"{case['name']}.data")
    assert test.skip is None
    assert test.program().hex() == case["program"]
    assert test.mem.hex() == case["mem"]
    assert test.result == case["result"]


def test_asm_section_alone_matches_raw_section_of_lddw() -> None:
    """lddw.data has both; the raw one wins, and our asm must agree with it."""
    from emulator.asm import assemble_bytes

    test = load_data_file(SHARED / "tests" / "lddw.data")
    assert test.raw is not None and test.asm is not None
    assert assemble_bytes(test.asm, dialect="conformance") == test.raw
