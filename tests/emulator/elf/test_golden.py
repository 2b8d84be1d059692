"""Golden dumps: every fixture loaded and printed (programs with disassembly and source
lines, maps with types and initial values), compared with the committed text.

After a deliberate change (a new fixture, a loader change), regenerate and review the
diff: ``BPFDBG_UPDATE_GOLDEN=1 PYTHONPATH=. python3 -m pytest tests/emulator/elf/test_golden.py``.
"""

from __future__ import annotations

import os

import pytest

from emulator.elf import load_object
from tests.emulator.elf.golden_dump import dump_object
from tests.emulator.elf.paths import GOLDEN, LOADABLE, fixture

UPDATE = os.environ.get("BPFDBG_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", LOADABLE)
def test_dump_matches_golden(name: str) -> None:
    text = dump_object(load_object(fixture(name)))
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden dump {path.name}; run with BPFDBG_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), (
        f"{name}: dump differs from {path}; if intended, regenerate (see docstring)"
    )


def test_every_golden_has_a_fixture() -> None:
    """A stale golden file (its fixture removed or renamed) would silently test nothing."""
    stale = sorted(p.stem for p in GOLDEN.glob("*.txt") if p.stem not in LOADABLE)
    assert not stale
