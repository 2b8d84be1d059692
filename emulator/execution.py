"""Pieces every stepping backend needs in the same shape, so interp and host-jit (which may
not import each other) share them: the exceptions that carry a fault or an early exit out
of an instruction's implementation, and the state of a helper calling back into the
program."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.errors import EmulatorError
from emulator.helpers.registry import HelperContext, HelperFaultError, HelperTable


class FaultError(EmulatorError):
    """A fault found while executing an instruction (in generated code or a hook); the
    backend turns it into a Fault at the current eBPF pc."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class ProgramExit(Exception):
    """Ends the program from inside an instruction (legacy packet loads out of bounds)."""

    def __init__(self, retval: int) -> None:
        super().__init__(retval)
        self.retval = retval


@dataclass
class CallbackLoop:
    """A helper calling back into the program (bpf_loop, bpf_for_each_map_elem): the frame
    depth the callback runs at, where it starts, the call that started it, and how far the
    iteration has got. ``args(i)`` gives r1-r5 for call ``i``."""

    depth: int
    entry: int
    call_pc: int
    index: int
    count: int
    args: Callable[[int], tuple[int, int, int, int, int]]


def helper_caller(helpers: HelperTable, hid: int, ctx: HelperContext) -> Callable[..., int]:
    """What a backend calls for helper ``hid``: the shared implementation bound to the
    backend's helper context, its result as a 64-bit register value; or, for a helper
    bpfdbg does not implement for this program type, a call that faults naming it."""
    spec = helpers.get(hid)
    if spec is None or spec.impl is None:
        name = f"{spec.name}#{hid}" if spec else f"#{hid}"

        def missing(*args: int) -> int:
            raise HelperFaultError(
                f"call to helper {name}, which bpfdbg does not implement for {helpers.name} programs"
            )

        return missing
    impl = spec.impl

    def call(r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return impl(ctx, r1, r2, r3, r4, r5) & 0xFFFFFFFFFFFFFFFF

    return call
