"""The packet a program sees, inside its buffer with head- and tailroom.

XDP and skb programs get a pointer window ``[data, data_end)`` onto a larger buffer (and
XDP a metadata window ``[data_meta, data)``). Helpers such as ``bpf_xdp_adjust_head`` move
those edges; the windows are memory regions named ``pkt`` and ``pkt_meta`` whose contents
are views into the one buffer, re-installed whenever an edge moves, so that a stale pointer
beyond the new edge faults as it would under the verifier's rules.
"""

from __future__ import annotations

from emulator.memory import PKT_BASE, AddressSpace, Region

XDP_HEADROOM = 256
XDP_FRAME_RESERVED = 40  # sizeof(struct xdp_frame), kept free at the head by adjust_head
XDP_FRAME_SIZE = 4096
SKB_SHARED_INFO = 320  # tailroom the kernel keeps for skb_shared_info
ETH_HLEN = 14


class PacketBuffer:
    """One packet buffer and its windows, installed as regions of an address space."""

    def __init__(self, space: AddressSpace, packet: bytes, *, headroom: int = XDP_HEADROOM,
                 meta: bytes = b"", capacity: int = XDP_FRAME_SIZE - SKB_SHARED_INFO) -> None:  # fmt: skip
        capacity = max(capacity, headroom + len(meta) + len(packet))
        self.space = space
        self.buf = bytearray(capacity)
        self.base = PKT_BASE
        self.data = headroom + len(meta)
        self.meta = headroom
        self.end = self.data + len(packet)
        self.buf[self.meta : self.data] = meta
        self.buf[self.data : self.end] = packet
        self._install()

    # addresses the ctx hands out
    @property
    def data_ptr(self) -> int:
        return self.base + self.data

    @property
    def end_ptr(self) -> int:
        return self.base + self.end

    @property
    def meta_ptr(self) -> int:
        return self.base + self.meta

    @property
    def length(self) -> int:
        return self.end - self.data

    def packet(self) -> bytes:
        return bytes(self.buf[self.data : self.end])

    def metadata(self) -> bytes:
        return bytes(self.buf[self.meta : self.data])

    def _install(self) -> None:
        for name in ("pkt", "pkt_meta"):
            if self.space.get(name) is not None:
                self.space.remove(name)
        view = memoryview(self.buf)
        self.space.add(Region("pkt", "pkt", self.base + self.data, view[self.data : self.end],
                              label="pkt", what="packet"))  # fmt: skip
        if self.data > self.meta:
            self.space.add(Region("pkt_meta", "pkt_meta", self.base + self.meta, view[self.meta : self.data],
                                  label="pkt_meta", what="packet metadata"))  # fmt: skip

    # edge moves (the helpers check the kernel's limits and return its errno) ----------------
    def move(self, *, data: int | None = None, end: int | None = None, meta: int | None = None) -> None:
        """Set new edges (offsets into the buffer) and re-install the windows."""
        if data is not None:
            self.data = data
        if end is not None:
            self.end = end
        if meta is not None:
            self.meta = meta
        if self.meta > self.data:
            self.meta = self.data
        self._install()

    def save(self) -> tuple[bytes, int, int, int]:
        """The buffer and edges, for a checkpoint."""
        return (bytes(self.buf), self.data, self.end, self.meta)

    def load(self, saved: tuple[bytes, int, int, int]) -> None:
        """Back to a saved state (the buffer may have been regrown since)."""
        data, self.data, self.end, self.meta = saved
        for name in ("pkt", "pkt_meta"):
            if self.space.get(name) is not None:
                self.space.remove(name)
        self.buf = bytearray(data)
        self._install()

    def load_be(self, offset: int, size: int) -> int | None:
        """Legacy LD_ABS/LD_IND: network-order value at ``offset`` from data, or None."""
        if offset < 0 or offset + size > self.length:
            return None
        start = self.data + offset
        return int.from_bytes(self.buf[start : start + size], "big")
