"""Evaluating a breakpoint guard (``r<reg> <op> <value>``) inside a backend, as gdb evaluates
target-side conditions: the same rule for every stepping backend."""

from __future__ import annotations

from collections.abc import Sequence

from emulator.state import Guard


def guard_holds(guard: Guard, regs: Sequence[int]) -> bool:
    """Whether ``guard`` holds for registers ``regs`` (unsigned 64-bit values)."""
    v = regs[guard.reg]
    op = guard.op
    if op == "&":
        return bool(v & guard.value)
    return {
        "==": v == guard.value,
        "!=": v != guard.value,
        "<": v < guard.value,
        "<=": v <= guard.value,
        ">": v > guard.value,
        ">=": v >= guard.value,
    }[op]
