"""Every sample program and every conformance program analyses without an exception; the
samples completely (they pass the kernel verifier, so every path is finite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.elf import load_object
from emulator.env import Environment
from emulator.program import Program
from emulator.verifier import analyse
from tests.conftest import ASSEMBLED_JSON
from tests.emulator.verifier.helpers import run

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "sample_progs").glob("*.o"))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_programs_analyse_completely(path: Path) -> None:
    obj = load_object(path)
    env = Environment.for_object(obj)
    for program in obj.programs:
        analysis = analyse(program, env)
        assert analysis.complete, (program.name, analysis.problems)
        assert 0 in analysis.visits_by_pc
        reached = {v.subprog for visits in analysis.visits_by_pc.values() for v in visits}
        assert reached <= {s.entry for s in analysis.subprogs}
        for visits in analysis.visits_by_pc.values():
            for v in visits:
                assert v.regs[10].kind == "stack" and v.regs[10].frame == v.depth and v.regs[10].off == 0


@pytest.mark.skipif(not ASSEMBLED_JSON.is_file(), reason="../shared/conformance is not present")
def test_conformance_programs_analyse() -> None:
    cases = json.loads(ASSEMBLED_JSON.read_text())
    env = Environment()
    for case in cases:
        program = Program.from_bytes(bytes.fromhex(case["program"]), name=case["name"])
        analysis = analyse(program, env, budget=200_000)
        assert analysis.visits > 0, case["name"]
        assert all(isinstance(pc, int) and msg for pc, msg in analysis.problems)


def test_budget_exhaustion_is_reported() -> None:
    # a loop whose counter never converges: 2**20 iterations, each state new
    a = run(
        """
        r0 = 0
        r0 += 1
        if r0 < 0x100000 goto -2
        exit
        """,
        budget=5000,
    )
    assert not a.complete
    assert a.visits == 5000
    assert any("program too complex to analyse (5000 instructions explored)" in m for _pc, m in a.problems)
