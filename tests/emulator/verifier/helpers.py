"""Building small programs and looking at what the analysis says about them."""

from __future__ import annotations

from emulator.asm import assemble
from emulator.env import Environment
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program
from emulator.verifier import Analysis, RegState, analyse

HASH = MapSpec("h", MapType.HASH, 4, 8, 16)
ARRAY = MapSpec("a", MapType.ARRAY, 4, 16, 4)


def run(
    text: str,
    prog_type: str = "xdp",
    maps: tuple[MapSpec, ...] = (),
    budget: int = 100_000,
    kernel_ranges: bool = True,
) -> Analysis:
    program = Program.from_insns(assemble(text), prog_type=prog_type)
    return analyse(program, Environment(maps=maps), budget=budget, kernel_ranges=kernel_ranges)


def regs_at(analysis: Analysis, pc: int, r: int) -> list[RegState]:
    """Register ``r`` before ``pc`` on every visit."""
    return [v.regs[r] for v in analysis.visits_at(pc)]


def only(analysis: Analysis, pc: int, r: int) -> RegState:
    states = set(regs_at(analysis, pc, r))
    assert len(states) == 1, states
    return states.pop()
