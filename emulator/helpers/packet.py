"""Helpers on XDP packets, and what every packet helper shares.

The XDP helpers move the edges of the packet window inside its frame. BPF_PROG_TEST_RUN
builds the frame as a driver would (reference/kernel_oracle.md): 4096 bytes, the packet at
256 bytes of headroom (metadata, if any, right in front of it), and 320 bytes at the end
reserved for ``skb_shared_info``. The kernel's limits, measured on 6.18 and matching
net/core/filter.c:

- ``bpf_xdp_adjust_head``: the new ``data`` stays at least ``sizeof(struct xdp_frame)`` (40)
  bytes plus the metadata length above the frame start, and at least ETH_HLEN (14) bytes
  below ``data_end``; metadata moves along with ``data``. -EINVAL otherwise.
- ``bpf_xdp_adjust_meta``: the new ``data_meta`` stays within [frame start + 40, data]
  (-EINVAL) and the metadata length is a multiple of 4 (-EACCES); with 256 bytes of
  headroom that allows up to 216 bytes (older kernels capped it at 32).
- ``bpf_xdp_adjust_tail``: ``data_end`` stays within [data + 14, frame end - 320]
  (-EINVAL); grown bytes are zeroed.

Not modelled: multi-buffer XDP. A test run puts bytes beyond the first 3520 of a packet in
frags (``bpf_xdp_get_buff_len`` counts them, ``bpf_xdp_adjust_tail`` then grows or
shrinks the last frag); here the whole packet is linear.

Every helper here checks that the program type may call it: the verifier rejects the
program otherwise ("program of this type cannot use helper ..."), so we stop with a fault
that says so rather than inventing a return value.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from emulator.helpers.kernel_ids import KERNEL_HELPERS
from emulator.helpers.registry import HelperContext, HelperFaultError, HelperImpl
from emulator.memory import CTX_BASE, MemoryFaultError
from emulator.progtypes.packet import (
    ETH_HLEN,
    SKB_SHARED_INFO,
    XDP_FRAME_RESERVED,
    XDP_FRAME_SIZE,
    XDP_HEADROOM,
)

if TYPE_CHECKING:
    from emulator.progtypes.packet import PacketBuffer

EFAULT = 14
EINVAL = 22
EACCES = 13
ENOMEM = 12
ENODEV = 19
EAFNOSUPPORT = 97
EALREADY = 114
ENOTSUPP = 524  # the kernel-internal errno BPF helpers leak to programs

XDP_META_MAX = 255  # skb_shared_info.meta_len is a u8; the headroom limits it to 216 first

_IDS = {name: hid for hid, name, _ret, _args in KERNEL_HELPERS}
_TYPE_NAMES = {"xdp": "XDP", "tc": "TC (sched_cls)", "socket": "socket filter", "raw": "raw"}

HelperBody = Callable[..., int]


class HelperCall:
    """One call of a packet helper: its context and name, for checks and fault messages."""

    def __init__(self, ctx: HelperContext, name: str) -> None:
        self.ctx = ctx
        self.name = name

    def fault(self, message: str) -> HelperFaultError:
        return HelperFaultError(f"{self.name}: {message}")

    def allowed(self, *prog_types: str) -> None:
        """Fault as the verifier would reject the program when its type may not call us."""
        kind = self.ctx.prog_type
        if kind not in prog_types:
            hid = _IDS.get(self.name, 0)
            what = _TYPE_NAMES.get(kind, kind)
            may = ", ".join(_TYPE_NAMES.get(t, t) for t in prog_types)
            raise self.fault(f"{what} programs cannot call this helper (only {may} programs may); the "
                             f"kernel's verifier rejects the program with 'program of this type "
                             f"cannot use helper {self.name}#{hid}'")  # fmt: skip

    @property
    def packet(self) -> PacketBuffer:
        packet = self.ctx.packet
        if packet is None:
            raise self.fault("this run has no packet")
        return packet

    @property
    def values(self) -> dict[str, int]:
        """The run's context scalar fields (``len``, ``protocol``, ``vlan_tci``, ...)."""
        values = self.ctx.ctx_values
        if values is None:
            raise self.fault("this run has no context struct")
        return values

    @property
    def state(self) -> dict[str, object]:
        return self.ctx.run_state


def require_ctx(call: HelperCall, value: int, argno: int = 1) -> None:
    """Arguments of type ARG_PTR_TO_CTX must be the context pointer itself."""
    if value & 0xFFFFFFFFFFFFFFFF != CTX_BASE:
        raise call.fault(f"argument {argno} must be the context pointer (r1 at entry), got "
                         f"{call.ctx.space.describe(value)}; the verifier rejects anything else")  # fmt: skip


def read_arg(call: HelperCall, argno: int, addr: int, size: int) -> bytes:
    """``size`` bytes of a memory argument; a bad pointer is a fault (the verifier checks
    memory arguments against their size, so a verified program never passes one)."""
    if size == 0:
        return b""
    try:
        return call.ctx.space.read(addr, size)
    except MemoryFaultError as err:
        raise call.fault(f"argument {argno}: {err.message}") from None


def write_arg(call: HelperCall, argno: int, addr: int, data: bytes) -> None:
    try:
        call.ctx.space.write(addr, data)
    except MemoryFaultError as err:
        raise call.fault(f"argument {argno}: {err.message}") from None


def const_size(call: HelperCall, argno: int, size: int, limit: int = 1 << 29) -> int:
    """An ARG_CONST_SIZE argument: the verifier rejects zero (and absurd sizes)."""
    size &= 0xFFFFFFFF
    if size == 0 or size > limit:
        raise call.fault(f"argument {argno} (size) is {size}; the verifier requires a non-zero "
                         "size that fits the memory it describes")  # fmt: skip
    return size


def s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def helper(name: str, *prog_types: str, ctx_arg: bool = True) -> Callable[[HelperBody], HelperImpl]:
    """Make ``body(call, r1..r5)`` a helper implementation: the program-type check, the
    ctx-pointer check for r1, then the body."""

    def wrap(body: HelperBody) -> HelperImpl:
        @wraps(body)
        def impl(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            call = HelperCall(ctx, name)
            call.allowed(*prog_types)
            if ctx_arg:
                require_ctx(call, r1)
            return body(call, r1, r2, r3, r4, r5)

        return impl

    return wrap


def regrow(packet: PacketBuffer, head: int = 0, tail: int = 0) -> None:
    """Give the buffer ``head`` more bytes of headroom and ``tail`` more of tailroom (as
    ``pskb_expand_head`` would), keeping the packet where it is relative to its edges.

    A fresh bytearray replaces the old one: the old one may still be exported through
    memoryviews (regions held by checkpoints), which forbids resizing it in place.
    """
    if head <= 0 and tail <= 0:
        return
    head, tail = max(head, 0), max(tail, 0)
    new = bytearray(head) + packet.buf + bytearray(tail)
    packet.buf = new
    packet.move(data=packet.data + head, end=packet.end + head, meta=packet.meta + head)


# -- XDP -----------------------------------------------------------------------------------
XDP_HARD_END = XDP_FRAME_SIZE - SKB_SHARED_INFO  # data_hard_end, from the frame start


def xdp_frame_start(call: HelperCall) -> int:
    """The buffer offset of ``data_hard_start``, fixed for the run.

    The packet starts XDP_HEADROOM bytes into the frame (metadata supplied with the run
    sits in front of it, inside that headroom), so the frame start is found from where
    ``data`` is when the first XDP helper runs; ``data`` only moves through helpers.
    The buffer is extended if it does not reach the frame's usable end.
    """
    state = call.state
    start = state.get("xdp.hard_start")
    packet = call.packet
    if not isinstance(start, int):
        start = max(packet.data - XDP_HEADROOM, 0)
        state["xdp.hard_start"] = start
        regrow(packet, tail=start + XDP_HARD_END - len(packet.buf))
    return start


@helper("bpf_xdp_adjust_head", "xdp")
def xdp_adjust_head(call: HelperCall, xdp: int, offset: int, *_: int) -> int:
    packet = call.packet
    hard = xdp_frame_start(call)
    delta = s32(offset)
    metalen = packet.data - packet.meta
    data = packet.data + delta
    if data < hard + XDP_FRAME_RESERVED + metalen or data > packet.end - ETH_HLEN:
        return -EINVAL
    if metalen:
        packet.buf[packet.meta + delta : packet.meta + delta + metalen] = packet.buf[
            packet.meta : packet.data
        ]
    packet.move(data=data, meta=packet.meta + delta)
    return 0


@helper("bpf_xdp_adjust_meta", "xdp")
def xdp_adjust_meta(call: HelperCall, xdp: int, offset: int, *_: int) -> int:
    packet = call.packet
    hard = xdp_frame_start(call)
    meta = packet.meta + s32(offset)
    if meta < hard + XDP_FRAME_RESERVED or meta > packet.data:
        return -EINVAL
    metalen = packet.data - meta
    if metalen % 4 or metalen > XDP_META_MAX:
        return -EACCES
    packet.move(meta=meta)
    return 0


@helper("bpf_xdp_adjust_tail", "xdp")
def xdp_adjust_tail(call: HelperCall, xdp: int, offset: int, *_: int) -> int:
    packet = call.packet
    hard = xdp_frame_start(call)
    delta = s32(offset)
    end = packet.end + delta
    if end > hard + XDP_HARD_END or end < packet.data + ETH_HLEN:
        return -EINVAL
    if delta > 0:
        packet.buf[packet.end : end] = bytes(delta)
    packet.move(end=end)
    return 0


@helper("bpf_xdp_get_buff_len", "xdp")
def xdp_get_buff_len(call: HelperCall, *_: int) -> int:
    return call.packet.length


def _xdp_span(call: HelperCall, offset: int, length: int) -> int:
    """bpf_xdp_pointer's checks: 0 when [offset, offset+len) is in the packet, else the errno."""
    if offset > 0xFFFF or length > 0xFFFF:
        return -EFAULT
    if offset + length > call.packet.length:
        return -EINVAL
    return 0


@helper("bpf_xdp_load_bytes", "xdp")
def xdp_load_bytes(call: HelperCall, xdp: int, offset: int, buf: int, length: int, _: int) -> int:
    """Unlike bpf_skb_load_bytes, a failed load leaves the buffer as it was."""
    offset &= 0xFFFFFFFF
    length = const_size(call, 4, length)
    err = _xdp_span(call, offset, length)
    if err:
        read_arg(call, 3, buf, length)  # the verifier checked the buffer either way
        return err
    packet = call.packet
    start = packet.data + offset
    write_arg(call, 3, buf, bytes(packet.buf[start : start + length]))
    return 0


@helper("bpf_xdp_store_bytes", "xdp")
def xdp_store_bytes(call: HelperCall, xdp: int, offset: int, buf: int, length: int, _: int) -> int:
    offset &= 0xFFFFFFFF
    length = const_size(call, 4, length)
    data = read_arg(call, 3, buf, length)
    err = _xdp_span(call, offset, length)
    if err:
        return err
    packet = call.packet
    call.ctx.space.write(packet.data_ptr + offset, data)
    return 0


HELPERS: dict[str, HelperImpl] = {
    "bpf_xdp_adjust_head": xdp_adjust_head,
    "bpf_xdp_adjust_meta": xdp_adjust_meta,
    "bpf_xdp_adjust_tail": xdp_adjust_tail,
    "bpf_xdp_get_buff_len": xdp_get_buff_len,
    "bpf_xdp_load_bytes": xdp_load_bytes,
    "bpf_xdp_store_bytes": xdp_store_bytes,
}
