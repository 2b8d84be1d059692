"""Programs on socket buffers: TC (sched_cls) and socket filters, over ``struct __sk_buff``.

TC sees the whole frame and may write a few fields (mark, priority, tc_index, cb[],
tc_classid, queue_mapping, tstamp); a socket filter sees the packet from its network
header (BPF_PROG_TEST_RUN strips the MAC header and hands it back zeroed), may write only
cb[], and has no direct packet access.
"""

from __future__ import annotations

from emulator.env import RunInput
from emulator.memory import AddressSpace
from emulator.progtypes.base import ProgType, RunSetup, install_ctx
from emulator.progtypes.context import ContextHandler, Field
from emulator.progtypes.packet import ETH_HLEN, PacketBuffer

TC_ACTIONS = {-1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT",
              3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT",
              7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP"}  # fmt: skip

SKB_HEADROOM = 64 + 2  # NET_SKB_PAD + NET_IP_ALIGN, as the skb test run reserves


def _sk_buff_fields(tc: bool) -> tuple[Field, ...]:
    rw = tc  # fields TC may write
    fields = [
        Field("len", 0, 4), Field("pkt_type", 4, 4), Field("mark", 8, 4, writable=rw),
        Field("queue_mapping", 12, 4, writable=rw), Field("protocol", 16, 4),
        Field("vlan_present", 20, 4), Field("vlan_tci", 24, 4), Field("vlan_proto", 28, 4),
        Field("priority", 32, 4, writable=rw), Field("ingress_ifindex", 36, 4), Field("ifindex", 40, 4),
        Field("tc_index", 44, 4, writable=rw),
        *(Field(f"cb{i}", 48 + 4 * i, 4, writable=True) for i in range(5)),
        Field("hash", 68, 4), Field("tc_classid", 72, 4, writable=rw),
        Field("napi_id", 84, 4), Field("wire_len", 160, 4), Field("gso_segs", 164, 4),
        Field("gso_size", 176, 4), Field("tstamp", 152, 8, writable=rw),
    ]  # fmt: skip
    if tc:
        fields += [Field("data", 76, 4, pointer="pkt"), Field("data_end", 80, 4, pointer="pkt_end"),
                   Field("data_meta", 140, 4, pointer="pkt_meta")]  # fmt: skip
    return tuple(fields)


TC_FIELDS = _sk_buff_fields(tc=True)
SOCKET_FIELDS = _sk_buff_fields(tc=False)


def _pkt_type(frame: bytes) -> int:
    """eth_type_trans on the loopback device (address 00:00:00:00:00:00)."""
    if len(frame) < 6:
        return 0
    dst = frame[:6]
    if dst[0] & 1:
        return 1 if dst == b"\xff" * 6 else 2  # PACKET_BROADCAST / PACKET_MULTICAST
    return 0 if dst == bytes(6) else 3  # PACKET_HOST / PACKET_OTHERHOST


class SkbType(ProgType):
    def __init__(self, name: str, tc: bool) -> None:
        super().__init__(name, TC_ACTIONS if tc else {}, signed_retval=tc)
        object.__setattr__(self, "_tc", tc)

    def setup(self, space: AddressSpace, run: RunInput) -> RunSetup:
        tc: bool = object.__getattribute__(self, "_tc")
        frame = run.packet or b""
        visible = frame if tc else frame[ETH_HLEN:]
        packet = PacketBuffer(space, visible, headroom=SKB_HEADROOM)
        ethertype = int.from_bytes(frame[12:14], "big") if len(frame) >= ETH_HLEN else 0
        protocol = ((ethertype & 0xFF) << 8) | (ethertype >> 8)  # __be16 read as a u32
        values = {"len": len(visible), "pkt_type": _pkt_type(frame), "protocol": protocol,
                  "ingress_ifindex": 1, "ifindex": 1, "wire_len": len(frame), "gso_segs": 1}  # fmt: skip
        values.update({k: v for k, v in run.ctx.items() if k in {f.name for f in TC_FIELDS}})
        pointers = {"pkt": lambda: packet.data_ptr, "pkt_end": lambda: packet.end_ptr,
                    "pkt_meta": lambda: packet.data_ptr}  # fmt: skip
        ctx = ContextHandler("__sk_buff", TC_FIELDS if tc else SOCKET_FIELDS, 192, values, pointers)
        return RunSetup(install_ctx(space, ctx, writable=True), packet=packet, ctx=ctx)

    def packet_out(self, visible: bytes | None) -> bytes | None:
        if visible is None:
            return None
        tc: bool = object.__getattribute__(self, "_tc")
        return visible if tc else bytes(ETH_HLEN) + visible  # the MAC header comes back zeroed


TC = SkbType("tc", tc=True)
SOCKET = SkbType("socket", tc=False)
