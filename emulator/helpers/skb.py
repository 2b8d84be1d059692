"""Helpers on socket buffers (TC and socket filter programs), with the kernel's semantics.

An skb has more state than its ``__sk_buff`` view shows: where the MAC and network
headers start, whether a hash was computed or set, whether it is encapsulated. Several
helpers depend on it (``bpf_skb_change_tail`` may not cut into the network header, the
VLAN helpers move the network header), so :class:`SkbState` keeps it per run, with the
header positions as offsets from ``data`` so that they survive the buffer being regrown.

As BPF_PROG_TEST_RUN sets an skb up (net/bpf/test_run.c): ``eth_type_trans`` on the
loopback device, network header right after the 14-byte MAC header, no transport header,
CHECKSUM_NONE, no hash; a TC program's ``data`` is the MAC header, a socket filter's the
network header (its MAC header lies just in front of ``data``).

VLAN tags, measured on 6.18: test runs never accelerate a tag (a tagged frame arrives with
``protocol`` = 0x8100 and ``vlan_present`` = 0). ``bpf_skb_vlan_push`` only sets the
hardware-accelerated tag (``vlan_present``/``vlan_tci``/``vlan_proto``; the packet is
unchanged) unless one is already set, in which case that one is first written into the
packet after the MAC addresses and ``protocol`` becomes its TPID. ``bpf_skb_vlan_pop``
clears the accelerated tag, or (with none) removes an in-band one; then, if the packet
still carries a tag, it moves that one into the accelerated slot. ``vlan_proto`` and
``protocol`` read as the big-endian value loaded little-endian (0x8100 reads 0x0081).
A tag written into the packet leaves the network offset at 14 (the network header moves
back with the inserted bytes); removing one puts it back at 14 if it would fall below.

Header growth is not limited by the test-run buffer: the kernel reallocates it
(``pskb_expand_head``) up to SKB_MAX_ALLOC = 16064 bytes, and so do we.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emulator.helpers.packet import (
    EALREADY,
    EFAULT,
    EINVAL,
    ENOMEM,
    ENOTSUPP,
    HelperCall,
    const_size,
    helper,
    read_arg,
    regrow,
    s32,
    write_arg,
)
from emulator.helpers.registry import HelperImpl
from emulator.progtypes.packet import ETH_HLEN
from emulator.progtypes.skb import SKB_HEADROOM

if TYPE_CHECKING:
    from emulator.progtypes.packet import PacketBuffer

INT_MAX = 0x7FFFFFFF
M32 = 0xFFFFFFFF
SKB_MAX_LEN = 16384 - 320  # SKB_MAX_ALLOC: four pages less skb_shared_info
VLAN_HLEN = 4
VLAN_ETH_HLEN = 18

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_802_3 = 0x0001
ETH_P_802_2 = 0x0004
ETH_P_802_3_MIN = 0x0600
IPV4_HLEN = 20
IPV6_HLEN = 40

BPF_F_RECOMPUTE_CSUM = 1
BPF_F_INVALIDATE_HASH = 2
BPF_HDR_START_MAC = 0
BPF_HDR_START_NET = 1

BPF_ADJ_ROOM_NET = 0
BPF_ADJ_ROOM_MAC = 1
BPF_F_ADJ_ROOM_FIXED_GSO = 1 << 0
BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 = 1 << 1
BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 = 1 << 2
BPF_F_ADJ_ROOM_ENCAP_L4_GRE = 1 << 3
BPF_F_ADJ_ROOM_ENCAP_L4_UDP = 1 << 4
BPF_F_ADJ_ROOM_NO_CSUM_RESET = 1 << 5
BPF_F_ADJ_ROOM_ENCAP_L2_ETH = 1 << 6
BPF_F_ADJ_ROOM_DECAP_L3_IPV4 = 1 << 7
BPF_F_ADJ_ROOM_DECAP_L3_IPV6 = 1 << 8
BPF_ADJ_ROOM_ENCAP_L2_SHIFT = 56
_ENCAP_L3 = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6
_DECAP_L3 = BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6
_ADJ_ROOM_MASK = (
    BPF_F_ADJ_ROOM_FIXED_GSO
    | _ENCAP_L3
    | BPF_F_ADJ_ROOM_ENCAP_L4_GRE
    | BPF_F_ADJ_ROOM_ENCAP_L4_UDP
    | BPF_F_ADJ_ROOM_ENCAP_L2_ETH
    | (0xFF << BPF_ADJ_ROOM_ENCAP_L2_SHIFT)
    | _DECAP_L3
)


def swap16(value: int) -> int:
    """A __be16 as the program reads it from ``__sk_buff`` (loaded little-endian)."""
    return ((value & 0xFF) << 8) | ((value >> 8) & 0xFF)


@dataclass
class SkbState:
    """What the kernel's sk_buff knows beyond ``__sk_buff``.

    Header positions are buffer offsets, like the kernel's offsets from ``skb->head``: they
    stay put when ``data`` moves unless an operation moves them too, and shift together
    when the buffer gets more headroom. ``trans`` None means "not set".
    """

    mac: int
    net: int
    trans: int | None = None
    encapsulated: bool = False
    hash_valid: bool = False  # a hash was set or computed (skb->sw_hash / l4_hash)

    def shift(self, by: int) -> None:
        self.mac += by
        self.net += by
        if self.trans is not None:
            self.trans += by


TEST_RUN_TRANSPORT = 1
"""Where a test-run skb's transport header is, from the start of its buffer (measured on
6.18: ``bpf_skb_change_tail`` refuses lengths below ``n - 65`` after ``bpf_skb_change_head(n)``
with n >= 66, i.e. once ``data`` is pushed in front of it). It matters only then."""


def skb_state(call: HelperCall) -> SkbState:
    state = call.state.get("skb")
    if not isinstance(state, SkbState):
        data = call.packet.data
        mac = data if call.ctx.prog_type == "tc" else data - ETH_HLEN
        head = mac - SKB_HEADROOM  # where the kernel's buffer starts
        state = SkbState(mac=mac, net=mac + ETH_HLEN, trans=head + TEST_RUN_TRANSPORT)
        call.state["skb"] = state
    return state


def protocol(call: HelperCall) -> int:
    """skb->protocol in host order (0x0800)."""
    return swap16(call.values.get("protocol", 0))


def set_protocol(call: HelperCall, proto: int) -> None:
    call.values["protocol"] = swap16(proto)


def clear_hash(call: HelperCall) -> None:
    call.values["hash"] = 0
    skb_state(call).hash_valid = False


def _sync_len(call: HelperCall) -> None:
    call.values["len"] = call.packet.length


def _room_after(packet: PacketBuffer, size: int) -> None:
    """The kernel memmoves header bytes without checking them against the packet's end (a
    header offset may lie beyond it); make the buffer long enough that slicing never
    resizes it."""
    if packet.data + size > len(packet.buf):
        regrow(packet, tail=packet.data + size - len(packet.buf))


def _insert(call: HelperCall, off: int, data: bytes) -> None:
    """Push ``len(data)`` bytes at the front and move the first ``off`` bytes there, so
    that ``data`` appears at offset ``off`` (skb_push + memmove, as header inserts do).
    Header positions are the caller's business."""
    packet = call.packet
    state = skb_state(call)
    n = len(data)
    if packet.data < n:
        more = n - packet.data + 64
        regrow(packet, head=more)
        state.shift(more)
    _room_after(packet, off)
    start = packet.data - n
    packet.buf[start : start + off] = packet.buf[packet.data : packet.data + off]
    packet.buf[start + off : start + off + n] = data
    packet.move(data=start)
    _sync_len(call)


def _remove(call: HelperCall, off: int, n: int) -> None:
    """Remove ``n`` bytes at offset ``off`` (memmove the first ``off`` bytes forward)."""
    skb_state(call)  # created from the packet as it was, before data moves
    packet = call.packet
    _room_after(packet, off + n)
    start = packet.data
    packet.buf[start + n : start + n + off] = packet.buf[start : start + off]
    packet.move(data=start + n, meta=start + n)  # an skb has no metadata in front of data
    _sync_len(call)


# -- loads and stores ------------------------------------------------------------------------
@helper("bpf_skb_load_bytes", "tc", "socket")
def skb_load_bytes(call: HelperCall, skb: int, offset: int, to: int, length: int, _: int) -> int:
    """On failure the destination is zeroed, as the kernel does."""
    offset &= M32
    length = const_size(call, 4, length)
    read_arg(call, 3, to, length)
    packet = call.packet
    if offset > INT_MAX or offset + length > packet.length:
        write_arg(call, 3, to, bytes(length))
        return -EFAULT
    start = packet.data + offset
    write_arg(call, 3, to, bytes(packet.buf[start : start + length]))
    return 0


@helper("bpf_skb_load_bytes_relative", "tc", "socket")
def skb_load_bytes_relative(call: HelperCall, skb: int, offset: int, to: int, length: int, start: int) -> int:
    """Offsets count from the MAC header (BPF_HDR_START_MAC) or the network header."""
    offset &= M32
    length = const_size(call, 4, length)
    read_arg(call, 3, to, length)
    packet = call.packet
    state = skb_state(call)
    which = start & M32
    base = {BPF_HDR_START_MAC: state.mac, BPF_HDR_START_NET: state.net}.get(which)
    if offset > 0xFFFF or base is None or base + offset + length > packet.end:
        write_arg(call, 3, to, bytes(length))
        return -EFAULT
    first = base + offset
    write_arg(call, 3, to, bytes(packet.buf[first : first + length]))
    return 0


@helper("bpf_skb_store_bytes", "tc")
def skb_store_bytes(call: HelperCall, skb: int, offset: int, frm: int, length: int, flags: int) -> int:
    """BPF_F_RECOMPUTE_CSUM only updates skb->csum of CHECKSUM_COMPLETE skbs, which a test
    run's are not, so it changes nothing visible; BPF_F_INVALIDATE_HASH clears the hash."""
    offset &= M32
    length = const_size(call, 4, length)
    data = read_arg(call, 3, frm, length)
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return -EINVAL
    packet = call.packet
    if offset > INT_MAX or (offset + length) & M32 > packet.length:
        return -EFAULT
    call.ctx.space.write(packet.data_ptr + offset, data)
    if flags & BPF_F_INVALIDATE_HASH:
        clear_hash(call)
    return 0


@helper("bpf_skb_pull_data", "tc")
def skb_pull_data(call: HelperCall, skb: int, length: int, *_: int) -> int:
    """Test-run skbs are linear and unshared: pulling succeeds up to the packet length
    (0 means all of it) and fails with -ENOMEM beyond."""
    length &= M32
    return -ENOMEM if length > call.packet.length else 0


# -- size changes ----------------------------------------------------------------------------
def _min_len(state: SkbState, data: int) -> int:
    """__bpf_skb_min_len: the network (or a set transport) header offset, when positive."""
    min_len = max(state.net - data, 0)
    if state.trans is not None and state.trans - data > 0:
        min_len = state.trans - data
    return min_len


@helper("bpf_skb_change_tail", "tc")
def skb_change_tail(call: HelperCall, skb: int, new_len: int, flags: int, *_: int) -> int:
    """Trim or grow (zero-filled) to ``new_len``, never into the headers before the
    network (or transport) header, never beyond SKB_MAX_ALLOC."""
    new_len &= M32
    state = skb_state(call)
    if flags or new_len > SKB_MAX_LEN or new_len < _min_len(state, call.packet.data):
        return -EINVAL
    if state.encapsulated:
        return -ENOTSUPP
    packet = call.packet
    end = packet.data + new_len
    if end > len(packet.buf):
        regrow(packet, tail=end - len(packet.buf))
    if new_len > packet.length:
        packet.buf[packet.end : packet.data + new_len] = bytes(new_len - packet.length)
    packet.move(end=packet.data + new_len)
    _sync_len(call)
    return 0


@helper("bpf_skb_change_head", "tc")
def skb_change_head(call: HelperCall, skb: int, head_room: int, flags: int, *_: int) -> int:
    """Push ``head_room`` zero bytes in front; they become the new MAC header (for an L3
    packet that needs one before redirection), the network header stays where it was."""
    head_room &= M32
    packet = call.packet
    new_len = (packet.length + head_room) & M32
    if flags or head_room > INT_MAX or new_len > SKB_MAX_LEN or new_len < packet.length:
        return -EINVAL
    state = skb_state(call)
    _insert(call, 0, bytes(head_room))
    state.mac = packet.data  # the new bytes are the MAC header; the others stay put
    return 0


# -- VLAN ------------------------------------------------------------------------------------
def _vlan_tagged(proto: int) -> bool:
    return proto in (ETH_P_8021Q, ETH_P_8021AD)


def _accel_present(call: HelperCall) -> bool:
    return bool(call.values.get("vlan_proto", 0) or call.values.get("vlan_tci", 0))


def _put_accel(call: HelperCall, proto: int, tci: int) -> None:
    values = call.values
    values["vlan_proto"] = swap16(proto)
    values["vlan_tci"] = tci & 0xFFFF
    values["vlan_present"] = 1 if (proto or tci) else 0


def _pop_inband(call: HelperCall) -> tuple[int, int]:
    """__skb_vlan_pop: remove the tag after the MAC addresses. Returns (errno, tci)."""
    packet = call.packet
    if packet.length < VLAN_ETH_HLEN:
        return -ENOMEM, 0
    at = packet.data
    tci = int.from_bytes(packet.buf[at + 14 : at + 16], "big")
    inner = int.from_bytes(packet.buf[at + 16 : at + 18], "big")
    if inner >= ETH_P_802_3_MIN:
        proto = inner
    elif packet.buf[at + 18 : at + 20] == b"\xff\xff":
        proto = ETH_P_802_3
    else:
        proto = ETH_P_802_2
    state = skb_state(call)
    _remove(call, 2 * 6, VLAN_HLEN)
    set_protocol(call, proto)
    state.mac += VLAN_HLEN
    state.net = max(state.net, packet.data + ETH_HLEN)
    return 0, tci


@helper("bpf_skb_vlan_push", "tc")
def skb_vlan_push(call: HelperCall, skb: int, vlan_proto: int, vlan_tci: int, *_: int) -> int:
    """A TPID other than 802.1Q or 802.1ad is replaced by 802.1Q, as the kernel does."""
    proto = swap16(vlan_proto & 0xFFFF)
    if not _vlan_tagged(proto):
        proto = ETH_P_8021Q
    if _accel_present(call):
        values = call.values
        old_proto = swap16(values.get("vlan_proto", 0))
        old_tci = values.get("vlan_tci", 0) & 0xFFFF
        _insert(call, 2 * 6, old_proto.to_bytes(2, "big") + old_tci.to_bytes(2, "big"))
        set_protocol(call, old_proto)
        state = skb_state(call)
        state.mac -= VLAN_HLEN
        state.net -= VLAN_HLEN  # measured: the network offset stays 14 (skb_vlan_push)
    _put_accel(call, proto, vlan_tci & 0xFFFF)
    return 0


@helper("bpf_skb_vlan_pop", "tc")
def skb_vlan_pop(call: HelperCall, skb: int, *_: int) -> int:
    if _accel_present(call):
        _put_accel(call, 0, 0)
    else:
        if not _vlan_tagged(protocol(call)):
            return 0
        err, _tci = _pop_inband(call)
        if err:
            return err
    if not _vlan_tagged(protocol(call)):
        return 0
    outer = protocol(call)
    err, tci = _pop_inband(call)
    if err:
        return err
    _put_accel(call, outer, tci)
    return 0


# -- protocol changes and room adjustment ----------------------------------------------------
def _net_hdr_push(call: HelperCall, off: int, n: int) -> None:
    """bpf_skb_net_hdr_push: ``n`` zero bytes at ``off``; the MAC and network headers move
    with the front, the transport header only if it was the network header."""
    state = skb_state(call)
    same = state.trans == state.net
    _insert(call, off, bytes(n))
    state.mac -= n
    state.net -= n
    if same:
        state.trans = state.net


def _net_hdr_pop(call: HelperCall, off: int, n: int) -> None:
    state = skb_state(call)
    same = state.trans == state.net
    _remove(call, off, n)
    state.mac += n
    state.net += n
    if same:
        state.trans = state.net


@helper("bpf_skb_change_proto", "tc")
def skb_change_proto(call: HelperCall, skb: int, proto: int, flags: int, *_: int) -> int:
    """IPv4 <-> IPv6 only: make (zeroed) or remove the 20 bytes the IPv6 header needs
    more, right after the MAC header; the program writes the new header itself."""
    if flags:
        return -EINVAL
    to = swap16(proto & 0xFFFF)
    frm = protocol(call)
    state = skb_state(call)
    off = state.net - state.mac
    diff = IPV6_HLEN - IPV4_HLEN
    if frm == ETH_P_IP and to == ETH_P_IPV6:
        _net_hdr_push(call, off, diff)
        set_protocol(call, ETH_P_IPV6)
    elif frm == ETH_P_IPV6 and to == ETH_P_IP:
        if off + diff > call.packet.length:
            return -ENOMEM
        _net_hdr_pop(call, off, diff)
        set_protocol(call, ETH_P_IP)
    else:
        return -ENOTSUPP
    clear_hash(call)
    return 0


def _net_base_len(proto: int) -> int:
    return {ETH_P_IP: IPV4_HLEN, ETH_P_IPV6: IPV6_HLEN}.get(proto, M32)


@helper("bpf_skb_adjust_room", "tc")
def skb_adjust_room(call: HelperCall, skb: int, len_diff: int, mode: int, flags: int, _: int) -> int:
    """Grow (zeroed) or shrink room after the MAC header (BPF_ADJ_ROOM_MAC) or after the
    base network header (BPF_ADJ_ROOM_NET), for encapsulation and decapsulation. The
    encapsulation flags change ``protocol`` when the outer L3 differs, and mark the skb as
    encapsulated (a second encapsulation gives -EALREADY, change_tail -ENOTSUPP)."""
    diff = s32(len_diff)
    mode &= M32
    flags &= 0xFFFFFFFFFFFFFFFF
    shrink = diff < 0
    diff_abs = abs(diff)
    proto = protocol(call)
    len_min = _net_base_len(proto)
    if flags & ~(_ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET):
        return -EINVAL
    if diff_abs > 0xFFF:
        return -EFAULT
    if proto not in (ETH_P_IP, ETH_P_IPV6):
        return -ENOTSUPP
    state = skb_state(call)
    mac_len = state.net - state.mac
    if mode == BPF_ADJ_ROOM_NET:
        off = mac_len + _net_base_len(proto)
    elif mode == BPF_ADJ_ROOM_MAC:
        off = mac_len
    else:
        return -ENOTSUPP
    if flags & _DECAP_L3:
        if not shrink:
            return -EINVAL
        decap = flags & _DECAP_L3
        if decap == BPF_F_ADJ_ROOM_DECAP_L3_IPV4:
            len_min = IPV4_HLEN
        elif decap == BPF_F_ADJ_ROOM_DECAP_L3_IPV6:
            len_min = IPV6_HLEN
        else:
            return -EINVAL
    packet = call.packet
    len_cur = packet.length - (state.net - packet.data)
    if shrink and (diff_abs >= len_cur or len_cur - diff_abs < len_min):
        return -ENOTSUPP
    if not shrink and packet.length + diff_abs > SKB_MAX_LEN:
        return -ENOTSUPP
    if shrink:
        if flags & ~(BPF_F_ADJ_ROOM_FIXED_GSO | _DECAP_L3 | BPF_F_ADJ_ROOM_NO_CSUM_RESET):
            return -EINVAL
        if off + diff_abs > packet.length:
            return -ENOMEM
        _net_hdr_pop(call, off, diff_abs)
        if proto == ETH_P_IP and flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV6:
            set_protocol(call, ETH_P_IPV6)
        elif proto == ETH_P_IPV6 and flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV4:
            set_protocol(call, ETH_P_IP)
        return 0
    return _grow_room(call, state, off, diff_abs, flags, proto)


def _grow_room(call: HelperCall, state: SkbState, off: int, diff: int, flags: int, proto: int) -> int:
    inner_mac_len = (flags >> BPF_ADJ_ROOM_ENCAP_L2_SHIFT) & 0xFF
    encap = bool(flags & _ENCAP_L3)
    if encap:
        if flags & _ENCAP_L3 == _ENCAP_L3:
            return -EINVAL
        if flags & BPF_F_ADJ_ROOM_ENCAP_L4_GRE and flags & BPF_F_ADJ_ROOM_ENCAP_L4_UDP:
            return -EINVAL
        if flags & BPF_F_ADJ_ROOM_ENCAP_L2_ETH and inner_mac_len < ETH_HLEN:
            return -EINVAL
        if state.encapsulated:
            return -EALREADY
        if inner_mac_len > diff:
            return -EINVAL
    mac_len = state.net - state.mac
    _net_hdr_push(call, off, diff)
    if encap:
        data = call.packet.data
        state.encapsulated = True
        state.net = data + mac_len
        if flags & (BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP):
            nh_len = IPV6_HLEN if flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 else IPV4_HLEN
            state.trans = data + mac_len + nh_len
        if proto == ETH_P_IP and flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6:
            set_protocol(call, ETH_P_IPV6)
        elif proto == ETH_P_IPV6 and flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV4:
            set_protocol(call, ETH_P_IP)
    return 0


# -- hash --------------------------------------------------------------------------------------
def flow_hash(call: HelperCall) -> int:
    """A stand-in for the kernel's flow hash (never 0, like the kernel's).

    The kernel's skb_get_hash() keys a jhash of the flow with a random secret chosen at
    boot, so no emulator can reproduce its value; this one is deterministic (CRC-32 of
    the protocol, addresses and ports) so that equal flows hash equally within a run.
    """
    packet = call.packet
    net = skb_state(call).net
    proto = protocol(call)
    key = proto.to_bytes(2, "big")
    if proto == ETH_P_IP and packet.end - net >= IPV4_HLEN:
        ihl = (packet.buf[net] & 0xF) * 4
        key += bytes(packet.buf[net + 9 : net + 10]) + bytes(packet.buf[net + 12 : net + 20])
        key += bytes(packet.buf[net + ihl : min(net + ihl + 4, packet.end)])
    elif proto == ETH_P_IPV6 and packet.end - net >= IPV6_HLEN:
        key += bytes(packet.buf[net + 6 : net + 7]) + bytes(packet.buf[net + 8 : net + 40])
        key += bytes(packet.buf[net + 40 : min(net + 44, packet.end)])
    return zlib.crc32(key) or 1


@helper("bpf_get_hash_recalc", "tc")
def get_hash_recalc(call: HelperCall, skb: int, *_: int) -> int:
    """The hash set by bpf_set_hash (or computed before), else a newly computed one; see
    :func:`flow_hash` for why the computed value differs from the kernel's."""
    state = skb_state(call)
    if not state.hash_valid:
        call.values["hash"] = flow_hash(call)
        state.hash_valid = True
    return call.values.get("hash", 0) & M32


@helper("bpf_set_hash", "tc")
def set_hash(call: HelperCall, skb: int, value: int, *_: int) -> int:
    call.values["hash"] = value & M32
    skb_state(call).hash_valid = True
    return 0


@helper("bpf_set_hash_invalid", "tc")
def set_hash_invalid(call: HelperCall, skb: int, *_: int) -> int:
    clear_hash(call)
    return 0


# -- small ones ----------------------------------------------------------------------------
@helper("bpf_csum_update", "tc")
def csum_update(call: HelperCall, skb: int, csum: int, *_: int) -> int:
    """Only CHECKSUM_COMPLETE skbs carry a checksum to update; test-run skbs are
    CHECKSUM_NONE, so the kernel answers -ENOTSUPP."""
    return -ENOTSUPP


PACKET_OTHERHOST = 3


@helper("bpf_skb_change_type", "tc")
def skb_change_type(call: HelperCall, skb: int, pkt_type: int, *_: int) -> int:
    """Only among host, broadcast, multicast and otherhost, from and to."""
    pkt_type &= M32
    if call.values.get("pkt_type", 0) > PACKET_OTHERHOST or pkt_type > PACKET_OTHERHOST:
        return -EINVAL
    call.values["pkt_type"] = pkt_type
    return 0


HELPERS: dict[str, HelperImpl] = {
    "bpf_csum_update": csum_update,
    "bpf_skb_change_type": skb_change_type,
    "bpf_skb_load_bytes": skb_load_bytes,
    "bpf_skb_load_bytes_relative": skb_load_bytes_relative,
    "bpf_skb_store_bytes": skb_store_bytes,
    "bpf_skb_pull_data": skb_pull_data,
    "bpf_skb_change_tail": skb_change_tail,
    "bpf_skb_change_head": skb_change_head,
    "bpf_skb_vlan_push": skb_vlan_push,
    "bpf_skb_vlan_pop": skb_vlan_pop,
    "bpf_skb_change_proto": skb_change_proto,
    "bpf_skb_adjust_room": skb_adjust_room,
    "bpf_get_hash_recalc": get_hash_recalc,
    "bpf_set_hash": set_hash,
    "bpf_set_hash_invalid": set_hash_invalid,
}
