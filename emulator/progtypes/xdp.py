"""XDP: ``struct xdp_md`` over a packet in a 4 KiB frame with 256 bytes of headroom, as
BPF_PROG_TEST_RUN sets it up (reference/kernel_oracle.md section 4)."""

from __future__ import annotations

from collections.abc import Mapping

from emulator.env import RunInput
from emulator.memory import AddressSpace
from emulator.progtypes.base import ProgType, RunSetup, install_ctx
from emulator.progtypes.context import ContextHandler, Field
from emulator.progtypes.packet import XDP_HEADROOM, PacketBuffer
from emulator.state import RegionSnapshot

XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}

XDP_MD_FIELDS = (
    Field("data", 0, 4, pointer="pkt"),
    Field("data_end", 4, 4, pointer="pkt_end"),
    Field("data_meta", 8, 4, pointer="pkt_meta"),
    Field("ingress_ifindex", 12, 4, narrow=False),
    Field("rx_queue_index", 16, 4, narrow=False),
)
"""``egress_ifindex`` (offset 20) is readable only by programs attached to a devmap
(expected attach type BPF_XDP_DEVMAP), which bpfdbg does not model; plain XDP programs are
refused by the verifier, and here an access faults."""


class XdpType(ProgType):
    def setup(self, space: AddressSpace, run: RunInput) -> RunSetup:
        # the test run puts data at 256 bytes into the frame and the metadata just before it
        packet = PacketBuffer(space, run.packet or b"", meta=run.meta, headroom=XDP_HEADROOM - len(run.meta))
        values = {"ingress_ifindex": 1, "rx_queue_index": 0}
        values.update({k: v for k, v in run.ctx.items() if k in values})
        pointers = {"pkt": lambda: packet.data_ptr, "pkt_end": lambda: packet.end_ptr,
                    "pkt_meta": lambda: packet.meta_ptr}  # fmt: skip
        ctx = ContextHandler("xdp_md", XDP_MD_FIELDS, 24, values, pointers)
        return RunSetup(install_ctx(space, ctx, writable=False), packet=packet, ctx=ctx)

    def packet_out(self, regions: Mapping[str, RegionSnapshot]) -> bytes | None:
        """data_out holds the metadata followed by the packet."""
        pkt = regions.get("pkt")
        if pkt is None:
            return None
        meta = regions.get("pkt_meta")
        return (meta.data if meta is not None else b"") + pkt.data


XDP = XdpType("xdp", XDP_ACTIONS)
