"""Values that cross the Backend boundary: faults, step and stop events, machine state.

All frozen: a backend hands them out and never looks at them again, so front ends, history
and lockstep can keep them as long as they like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType


class StopReason(Enum):
    STEP = "step"  # the requested number of instructions ran
    BREAKPOINT = "breakpoint"  # reached a candidate pc (the debugger decides if it counts)
    DEPTH = "depth"  # call depth dropped to the requested level (finish, next over a call)
    EXIT = "exit"  # the main frame executed exit; retval holds r0
    FAULT = "fault"
    BUDGET = "budget"  # the run's instruction budget is spent (endless-loop guard)
    INTERRUPTED = "interrupted"  # interrupt() was called while running


@dataclass(frozen=True, slots=True)
class Fault:
    """Something the program did that a real machine would not let it do.

    ``message`` is complete on its own ("read of 4 bytes at pkt+62, packet is 60 bytes");
    ``kind`` is a short stable word for scripts and tests.
    """

    pc: int
    kind: str  # "memory", "call", "helper", "decode", "end-of-program", "callx", ...
    message: str
    addr: int | None = None
    size: int | None = None

    def __str__(self) -> str:
        return f"fault at insn {self.pc}: {self.message}"


@dataclass(frozen=True, slots=True)
class RegWrite:
    reg: int
    old: int
    new: int


@dataclass(frozen=True, slots=True)
class MemWrite:
    addr: int
    old: bytes
    new: bytes
    where: str = ""  # described address, e.g. "fp-8" or "pkt+14"


@dataclass(frozen=True, slots=True)
class StopCondition:
    """When ``run`` must stop, besides exit, faults and the budget.

    ``pcs`` are candidate pcs: the run stops *before* executing an instruction at one of
    them, except for the very first instruction of the run call (so that continuing from a
    breakpoint makes progress). ``guards`` make some of those candidates conditional, to be
    evaluated inside the backend (gdb's target-side condition evaluation); a pc with guards
    only stops when one of its guards holds. ``max_insns`` bounds how many instructions this
    call executes; ``depth_at_most`` stops once the call depth is at most this value after
    a call or exit (next over a call, finish).
    """

    pcs: frozenset[int] = frozenset()
    guards: tuple[tuple[int, Guard], ...] = ()
    max_insns: int | None = None
    depth_at_most: int | None = None


@dataclass(frozen=True, slots=True)
class Guard:
    """``r<reg> <op> <value>`` on unsigned 64-bit values; op is one of == != < <= > >= &."""

    reg: int
    op: str
    value: int

    OPS = ("==", "!=", "<", "<=", ">", ">=", "&")


@dataclass(frozen=True, slots=True)
class StopEvent:
    reason: StopReason
    pc: int
    insns: int  # instructions executed since reset
    fault: Fault | None = None
    retval: int | None = None


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One executed instruction and what it wrote (old and new values)."""

    pc: int
    next_pc: int
    insns: int
    regs: tuple[RegWrite, ...] = ()
    mem: tuple[MemWrite, ...] = ()
    stop: StopEvent | None = None  # set when this step ended the run (exit, fault, budget)
    output: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """One bpf-to-bpf call frame. ``pc`` is where that frame is now (for callers: the call)."""

    depth: int
    entry: int
    pc: int
    fp: int


@dataclass(frozen=True, slots=True)
class RegionSnapshot:
    name: str
    kind: str
    base: int
    data: bytes


@dataclass(frozen=True)
class MachineState:
    """Everything comparable about a backend at an instruction boundary."""

    pc: int
    regs: tuple[int, ...]
    insns: int
    frames: tuple[Frame, ...]
    status: str  # "ready", "stopped", "exited", "faulted"
    retval: int | None = None
    fault: Fault | None = None
    regions: Mapping[str, RegionSnapshot] = field(default_factory=lambda: MappingProxyType({}))
    maps: Mapping[str, list[dict[str, object]]] = field(default_factory=lambda: MappingProxyType({}))
    """Map contents in the ``bpfdbg run --json`` shape (emulator.maps.MapSet.dump)."""
    program: str = ""  # the program executing (changes with tail calls)

    @property
    def depth(self) -> int:
        return len(self.frames) - 1
