"""Programs on socket buffers: TC (sched_cls) and socket filters, over ``struct __sk_buff``.

TC sees the whole frame and may write a few fields (mark, priority, tc_index, cb[],
tc_classid, queue_mapping, tstamp); a socket filter sees the packet from its network
header (BPF_PROG_TEST_RUN strips the MAC header and hands it back zeroed), may write only
cb[], and has no direct packet access.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.env import RunInput
from emulator.memory import AddressSpace
from emulator.progtypes.base import ProgType, RunSetup, install_ctx
from emulator.progtypes.context import ContextHandler, Field
from emulator.progtypes.packet import ETH_HLEN, PacketBuffer
from emulator.state import RegionSnapshot

TC_ACTIONS = {-1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT",
              3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT",
              7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP"}  # fmt: skip

SKB_HEADROOM = 64 + 2  # NET_SKB_PAD + NET_IP_ALIGN, as the skb test run reserves


def _sk_buff_fields(tc: bool) -> tuple[Field, ...]:
    """The fields each type may touch, as the 6.18 verifier allows (probed with a load and a
    store at every offset): socket filters read up to ``hash``, ``napi_id``, ``gso_segs``,
    ``sk`` and ``gso_size`` and write only ``cb``; TC reads everything and writes ``mark``,
    ``queue_mapping``, ``priority``, ``tc_index``, ``cb``, ``tc_classid`` and ``tstamp``."""
    rw = tc  # fields TC may write
    fields = [
        Field("len", 0, 4), Field("pkt_type", 4, 4), Field("mark", 8, 4, writable=rw),
        Field("queue_mapping", 12, 4, writable=rw), Field("protocol", 16, 4),
        Field("vlan_present", 20, 4), Field("vlan_tci", 24, 4), Field("vlan_proto", 28, 4),
        Field("priority", 32, 4, writable=rw), Field("ingress_ifindex", 36, 4), Field("ifindex", 40, 4),
        Field("tc_index", 44, 4, writable=rw),
        Field("cb", 48, 20, writable=True),  # __u32 cb[5]; 8-byte accesses at cb[0] and cb[2] too
        Field("hash", 68, 4), Field("napi_id", 84, 4), Field("gso_segs", 164, 4),
        Field("sk", 168, 8, narrow=False), Field("gso_size", 176, 4),
    ]  # fmt: skip
    if tc:
        fields += [
            Field("tc_classid", 72, 4, writable=True), Field("data", 76, 4, pointer="pkt"),
            Field("data_end", 80, 4, pointer="pkt_end"), Field("data_meta", 140, 4, pointer="pkt_meta"),
            Field("tstamp", 152, 8, writable=True), Field("wire_len", 160, 4),
            Field("hwtstamp", 184, 8),
        ]  # fmt: skip
    return tuple(fields)


TC_FIELDS = _sk_buff_fields(tc=True)
SOCKET_FIELDS = _sk_buff_fields(tc=False)


def _pkt_type(frame: bytes) -> int:
    """eth_type_trans on the loopback device, whose address and broadcast address are both
    00:00:00:00:00:00: every group address is PACKET_MULTICAST (2), even ff:ff:ff:ff:ff:ff
    (checked with BPF_PROG_TEST_RUN); a unicast one is PACKET_HOST (0) only when it is
    the device's own address, otherwise PACKET_OTHERHOST (3)."""
    if len(frame) < 6:
        return 0
    dst = frame[:6]
    if dst[0] & 1:
        return 2
    return 0 if dst == bytes(6) else 3


class SkbType(ProgType):
    def __init__(self, name: str, tc: bool) -> None:
        super().__init__(name, TC_ACTIONS if tc else {}, signed_retval=tc)
        object.__setattr__(self, "_tc", tc)

    def setup(self, space: AddressSpace, run: RunInput) -> RunSetup:
        tc: bool = object.__getattribute__(self, "_tc")
        frame = run.packet or b""
        visible = frame if tc else frame[ETH_HLEN:]
        # data sits at offset 80 of the buffer as in the kernel's test run; a socket filter's
        # MAC header stays in the 14 bytes in front of it (bpf_skb_load_bytes_relative reads it)
        headroom = SKB_HEADROOM if tc else SKB_HEADROOM + ETH_HLEN
        packet = PacketBuffer(space, visible, headroom=headroom)
        if not tc:
            packet.buf[packet.data - ETH_HLEN : packet.data] = frame[:ETH_HLEN].ljust(ETH_HLEN, b"\0")
        ethertype = int.from_bytes(frame[12:14], "big") if len(frame) >= ETH_HLEN else 0
        protocol = ((ethertype & 0xFF) << 8) | (ethertype >> 8)  # __be16 read as a u32
        # as BPF_PROG_TEST_RUN fills them (measured): the skb sits on the loopback device
        # (ifindex 1) but was not received on it, and is not a GSO packet
        values = {"len": len(visible), "pkt_type": _pkt_type(frame), "protocol": protocol,
                  "ingress_ifindex": 0, "ifindex": 1, "wire_len": 0, "gso_segs": 0}  # fmt: skip
        values.update({k: v for k, v in run.ctx.items() if k in {f.name for f in TC_FIELDS}})
        pointers = {"pkt": lambda: packet.data_ptr, "pkt_end": lambda: packet.end_ptr,
                    "pkt_meta": lambda: packet.data_ptr}  # fmt: skip
        ctx = ContextHandler("__sk_buff", TC_FIELDS if tc else SOCKET_FIELDS, 192, values, pointers)
        return RunSetup(install_ctx(space, ctx, writable=True), packet=packet, ctx=ctx)

    def packet_out(self, regions: Mapping[str, RegionSnapshot]) -> bytes | None:
        pkt = regions.get("pkt")
        if pkt is None:
            return None
        tc: bool = object.__getattribute__(self, "_tc")
        return pkt.data if tc else bytes(ETH_HLEN) + pkt.data  # the MAC header comes back zeroed


TC = SkbType("tc", tc=True)
SOCKET = SkbType("socket", tc=False)
