"""Hand-built offload facts for translator tests: the shape of
emulator.backends.nic.facts (Range, Ptr, InsnFacts, ProgramFacts with at() and subprogs),
so a test can pin exactly the ranges and pointer kinds the JIT's choices depend on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.asm.assembler import assemble
from emulator.backends.nic.profiles import profile
from emulator.backends.nic.translate import NfpImage, translate
from emulator.program import Program

FULL = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Range:
    umin: int
    umax: int


@dataclass(frozen=True, slots=True)
class Ptr:
    kind: str
    off: int | None = 0
    frame_up: int = 0
    map_index: int | None = None


@dataclass(frozen=True, slots=True)
class Facts1:
    pc: int = 0
    ptr: Ptr | None = None
    dst: Range | None = None
    src: Range | None = None
    args: tuple[object, ...] = ()
    regs: tuple[object, ...] = ()
    spills: Mapping[tuple[int, int], Ptr] = field(default_factory=dict)
    zext: bool = True


@dataclass(frozen=True, slots=True)
class Sub:
    entry: int
    end: int
    stack_depth: int = 0
    writes_callee_saved: bool = False


class Facts:
    """Every pc live with no facts unless given; ``dead`` pcs have none."""

    def __init__(
        self,
        nslots: int,
        per_pc: Mapping[int, Facts1] | None = None,
        subprogs: tuple[Sub, ...] | None = None,
        dead: frozenset[int] = frozenset(),
    ) -> None:
        per_pc = per_pc or {}
        self.insns = {pc: per_pc.get(pc, Facts1(pc)) for pc in range(nslots) if pc not in dead}
        self.subprogs = subprogs or (Sub(0, nslots),)
        self.max_pkt_offset = 0

    def at(self, pc: int) -> Facts1 | None:
        return self.insns.get(pc)

    def dead(self, pc: int) -> bool:
        return pc not in self.insns


def program(text: str, prog_type: str = "xdp") -> Program:
    return Program.from_insns(assemble(text), prog_type=prog_type)


def nfp(
    text: str,
    per_pc: Mapping[int, Facts1] | None = None,
    *,
    prog_type: str = "xdp",
    subprogs: tuple[Sub, ...] | None = None,
    dead: frozenset[int] = frozenset(),
    device: str = "nfp-public-fw",
) -> NfpImage:
    prog = program(text, prog_type)
    return translate(prog, Facts(prog.nslots, per_pc, subprogs, dead), profile(device))


def texts(image: NfpImage, pc: int) -> list[str]:
    start, end = image.ranges[pc]
    return [i.text() for i in image.insns[start:end]]


def mnemonics(image: NfpImage, pc: int) -> list[str]:
    return [t.split("[")[0] for t in texts(image, pc)]
