"""The raw convention of the conformance suite: r1 = a private copy of the input memory
(or 0 when there is none), r2 = its length. No ctx, no packet, no verdict names."""

from __future__ import annotations

from emulator.env import RunInput
from emulator.memory import CTX_BASE, AddressSpace, Region
from emulator.progtypes.base import ProgType, RunSetup


class RawType(ProgType):
    def setup(self, space: AddressSpace, run: RunInput) -> RunSetup:
        if not run.mem:
            return RunSetup(0, 0)
        space.add(Region("mem", "mem", CTX_BASE, bytearray(run.mem), label="mem", what="input memory"))
        return RunSetup(CTX_BASE, len(run.mem))


RAW = RawType("raw")
