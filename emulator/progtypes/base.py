"""Program types: how a run is set up (r1, ctx, packet) and what its return value means.

Each type builds its context in a backend's address space from a RunInput and names its
verdicts (XDP_PASS, TC_ACT_SHOT). The instruction semantics are the same for all types;
only the context, the packet and the meaning of r0 differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from emulator.env import RunInput
from emulator.memory import CTX_BASE, AddressSpace, Region
from emulator.progtypes.context import ContextHandler
from emulator.progtypes.packet import PacketBuffer
from emulator.state import RegionSnapshot


@dataclass
class RunSetup:
    """What a program type built for one run."""

    r1: int
    r2: int = 0
    packet: PacketBuffer | None = None
    ctx: ContextHandler | None = None


@dataclass(frozen=True)
class ProgType:
    name: str
    actions: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    signed_retval: bool = False  # TC verdicts are ints (TC_ACT_UNSPEC is -1)

    def setup(self, space: AddressSpace, run: RunInput) -> RunSetup:
        raise NotImplementedError

    def action_name(self, retval: int | None) -> str | None:
        if retval is None or not self.actions:
            return None
        value = retval & 0xFFFFFFFF
        if self.signed_retval and value >= 1 << 31:
            value -= 1 << 32
        return self.actions.get(value, f"unknown ({value})")

    def packet_out(self, regions: Mapping[str, RegionSnapshot]) -> bytes | None:
        """The packet as BPF_PROG_TEST_RUN returns it, from the machine's regions at the end
        of the run (``pkt``, and for XDP the metadata in ``pkt_meta`` in front of it)."""
        pkt = regions.get("pkt")
        return pkt.data if pkt is not None else None


def install_ctx(space: AddressSpace, handler: ContextHandler, writable: bool) -> int:
    space.add(Region("ctx", "ctx", CTX_BASE, bytearray(), writable=writable, label="ctx",
                     what=handler.struct_name, handler=handler, vsize=handler.size))  # fmt: skip
    return CTX_BASE
