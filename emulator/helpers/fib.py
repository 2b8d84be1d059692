"""``bpf_fib_lookup`` against a small, configurable model of the kernel's routing state.

A real lookup consults the host's interfaces, routing tables and neighbour cache; bpfdbg
must not depend on (or touch) the machine it runs on, so the Environment carries a
:class:`FibTable` instead: interfaces (MAC, MTU, forwarding on/off, addresses), routes
(prefix -> device, gateway, metric, type, table) and neighbours (address -> MAC). The
default is what a test run sees on an ordinary host with forwarding off: the loopback
device only, no routes, so every lookup from ifindex 1 answers
BPF_FIB_LKUP_RET_FWD_DISABLED and any other ifindex -ENODEV.

The helper follows net/core/filter.c step by step, including which fields of the
caller's ``struct bpf_fib_lookup`` it writes before a later step fails (the program sees
those partial writes): family, ifindex, forwarding, table lookup (policy order local,
main, default; or one table with BPF_FIB_LOOKUP_DIRECT), route type, MTU, gateway,
source address, neighbour, then smac/dmac and the MTU result.

Not modelled: policy rules beyond the default three (so BPF_FIB_LOOKUP_MARK changes
nothing), TOS and flow-label routing, multipath, lightweight tunnels, l3mdev/VRF tables.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from emulator.helpers.packet import (
    EAFNOSUPPORT,
    EINVAL,
    ENODEV,
    HelperCall,
    const_size,
    helper,
    read_arg,
    write_arg,
)
from emulator.helpers.registry import HelperImpl

AF_INET = 2
AF_INET6 = 10
FIB_LOOKUP_SIZE = 64  # sizeof(struct bpf_fib_lookup)
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
IP_MAX_MTU = 0xFFFF
IP6_MAX_MTU = 0xFFFF + 40
VLAN_HLEN = 4

BPF_FIB_LOOKUP_DIRECT = 1 << 0
BPF_FIB_LOOKUP_OUTPUT = 1 << 1
BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2
BPF_FIB_LOOKUP_TBID = 1 << 3
BPF_FIB_LOOKUP_SRC = 1 << 4
BPF_FIB_LOOKUP_MARK = 1 << 5
_FLAGS = (
    BPF_FIB_LOOKUP_DIRECT
    | BPF_FIB_LOOKUP_OUTPUT
    | BPF_FIB_LOOKUP_SKIP_NEIGH
    | BPF_FIB_LOOKUP_TBID
    | BPF_FIB_LOOKUP_SRC
    | BPF_FIB_LOOKUP_MARK
)

BPF_FIB_LKUP_RET_SUCCESS = 0
BPF_FIB_LKUP_RET_BLACKHOLE = 1
BPF_FIB_LKUP_RET_UNREACHABLE = 2
BPF_FIB_LKUP_RET_PROHIBIT = 3
BPF_FIB_LKUP_RET_NOT_FWDED = 4
BPF_FIB_LKUP_RET_FWD_DISABLED = 5
BPF_FIB_LKUP_RET_UNSUPP_LWT = 6
BPF_FIB_LKUP_RET_NO_NEIGH = 7
BPF_FIB_LKUP_RET_FRAG_NEEDED = 8
BPF_FIB_LKUP_RET_NO_SRC_ADDR = 9

ROUTE_KINDS = ("unicast", "blackhole", "unreachable", "prohibit", "local", "broadcast", "multicast")
_DROP_KINDS = {
    "blackhole": BPF_FIB_LKUP_RET_BLACKHOLE,
    "unreachable": BPF_FIB_LKUP_RET_UNREACHABLE,
    "prohibit": BPF_FIB_LKUP_RET_PROHIBIT,
}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Interface:
    """A network device as the lookup sees it. ``forwarding`` is the
    net.ipv4/ipv6.conf.<dev>.forwarding sysctl; ``addresses`` ("10.0.0.1/24") are only
    used as source addresses for BPF_FIB_LOOKUP_SRC."""

    ifindex: int
    name: str = ""
    mac: bytes = bytes(6)
    mtu: int = 1500
    forwarding: bool = True
    up: bool = True
    addresses: tuple[str, ...] = ()
    hard_header_len: int = 14

    def first_address(self, version: int) -> Address | None:
        for text in self.addresses:
            addr = ipaddress.ip_interface(text).ip
            if addr.version == version:
                return addr
        return None


LOOPBACK = Interface(1, "lo", bytes(6), 65536, forwarding=False, addresses=("127.0.0.1/8", "::1/128"))


@dataclass(frozen=True)
class Route:
    """One route. ``kind`` is the route type (unicast forwards; blackhole, unreachable
    and prohibit give their own return codes; local/broadcast/multicast are not
    forwarded). ``gateway`` None means directly connected. ``mtu`` is a locked route MTU
    (``ip route ... mtu lock N``; an unlocked IPv4 route MTU does not apply to forwarded
    packets), 0 for the device's. ``metric`` breaks ties between equal prefixes (lowest
    wins) and is reported in ``rt_metric``."""

    prefix: str
    ifindex: int = 0
    gateway: str | None = None
    metric: int = 0
    kind: str = "unicast"
    table: int = RT_TABLE_MAIN
    mtu: int = 0
    prefsrc: str | None = None

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.prefix, strict=False)


@dataclass(frozen=True)
class Neighbour:
    """A resolved (NUD_VALID) neighbour entry: ``address`` on ``ifindex`` has ``mac``."""

    address: str
    ifindex: int
    mac: bytes


@dataclass(frozen=True)
class FibTable:
    """The routing state ``bpf_fib_lookup`` consults. Immutable, shared by backends."""

    interfaces: tuple[Interface, ...] = (LOOPBACK,)
    routes: tuple[Route, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    _by_ifindex: dict[int, Interface] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_ifindex = {i.ifindex: i for i in self.interfaces}
        for iface in self.interfaces:
            if len(iface.mac) != 6:
                raise ValueError(f"interface {iface.ifindex} ({iface.name}): a MAC address is 6 bytes")
        for route in self.routes:
            try:
                route.network  # noqa: B018 - parses the prefix
            except ValueError as err:
                raise ValueError(f"route {route.prefix!r}: {err}") from None
            if route.kind not in ROUTE_KINDS:
                raise ValueError(
                    f"route {route.prefix}: kind {route.kind!r} is not one of {', '.join(ROUTE_KINDS)}"
                )
            if route.kind == "unicast" and route.ifindex not in by_ifindex:
                raise ValueError(f"route {route.prefix}: no interface with ifindex {route.ifindex}")
        for neigh in self.neighbours:
            if len(neigh.mac) != 6:
                raise ValueError(f"neighbour {neigh.address}: a MAC address is 6 bytes")
        object.__setattr__(self, "_by_ifindex", by_ifindex)

    def interface(self, ifindex: int) -> Interface | None:
        return self._by_ifindex.get(ifindex)

    def has_table(self, table: int) -> bool:
        return table in (RT_TABLE_MAIN, RT_TABLE_LOCAL) or any(r.table == table for r in self.routes)

    def lookup(self, dst: Address, tables: tuple[int, ...], oif: int = 0) -> Route | None:
        """Longest-prefix match, table by table in order; lowest metric among equals. With
        ``oif`` (BPF_FIB_LOOKUP_OUTPUT) unicast routes must leave through that device."""
        for table in tables:
            best: Route | None = None
            for route in self.routes:
                net = route.network
                if route.table != table or net.version != dst.version or dst not in net:
                    continue
                if oif and route.kind == "unicast" and route.ifindex != oif:
                    continue
                if best is None or (net.prefixlen, -route.metric) > (best.network.prefixlen, -best.metric):
                    best = route
            if best is not None:
                return best
        return None

    def neighbour(self, ifindex: int, address: Address) -> Neighbour | None:
        for neigh in self.neighbours:
            if neigh.ifindex == ifindex and ipaddress.ip_address(neigh.address) == address:
                return neigh
        return None


EMPTY_FIB = FibTable()


class _Params:
    """``struct bpf_fib_lookup`` as a byte buffer with named accessors (offsets from BTF)."""

    def __init__(self, raw: bytes) -> None:
        self.buf = bytearray(raw)

    family = property(lambda self: self.buf[0])
    tot_len = property(lambda self: struct.unpack_from("<H", self.buf, 6)[0])
    ifindex = property(lambda self: struct.unpack_from("<I", self.buf, 8)[0])
    tbid = property(lambda self: struct.unpack_from("<I", self.buf, 48)[0])

    def set_u16(self, off: int, value: int) -> None:
        struct.pack_into("<H", self.buf, off, value & 0xFFFF)

    def set_u32(self, off: int, value: int) -> None:
        struct.pack_into("<I", self.buf, off, value & 0xFFFFFFFF)

    def addr(self, off: int, version: int) -> Address:
        if version == 4:
            return ipaddress.IPv4Address(bytes(self.buf[off : off + 4]))
        return ipaddress.IPv6Address(bytes(self.buf[off : off + 16]))

    def set_addr(self, off: int, addr: Address) -> None:
        self.buf[off : off + len(addr.packed)] = addr.packed

    def set_fwd_params(self, mtu: int) -> int:
        self.set_u16(48, 0)  # h_vlan_proto
        self.set_u16(50, 0)  # h_vlan_TCI
        if mtu:
            self.set_u16(6, mtu)  # mtu_result
        return BPF_FIB_LKUP_RET_SUCCESS


def _tables(fib: FibTable, p: _Params, flags: int) -> tuple[int, ...] | None:
    if not flags & BPF_FIB_LOOKUP_DIRECT:
        return (RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT)
    table = RT_TABLE_MAIN
    if flags & BPF_FIB_LOOKUP_TBID:
        table = p.tbid
        p.set_u32(48, 0)  # zeroed for the vlan output
    return (table,) if fib.has_table(table) else None


def _route_mtu(route: Route, dev: Interface, cap: int) -> int:
    return route.mtu or min(dev.mtu, cap)


def _finish(fib: FibTable, p: _Params, flags: int, dev: Interface, nexthop: Address, mtu: int) -> int:
    if flags & BPF_FIB_LOOKUP_SKIP_NEIGH:
        return p.set_fwd_params(mtu)
    neigh = fib.neighbour(dev.ifindex, nexthop)
    if neigh is None:
        return BPF_FIB_LKUP_RET_NO_NEIGH
    p.buf[58:64] = neigh.mac  # dmac
    p.buf[52:58] = dev.mac  # smac
    return p.set_fwd_params(mtu)


def _lookup_v4(fib: FibTable, p: _Params, flags: int, check_mtu: bool) -> int:
    dev = fib.interface(p.ifindex)
    if dev is None:
        return -ENODEV
    if not dev.forwarding:
        return BPF_FIB_LKUP_RET_FWD_DISABLED
    tables = _tables(fib, p, flags)
    if tables is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    dst = p.addr(32, 4)
    route = fib.lookup(dst, tables, dev.ifindex if flags & BPF_FIB_LOOKUP_OUTPUT else 0)
    if route is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    if route.kind in _DROP_KINDS:
        return _DROP_KINDS[route.kind]
    if route.kind != "unicast":
        return BPF_FIB_LKUP_RET_NOT_FWDED
    nh_dev = fib.interface(route.ifindex)
    assert nh_dev is not None  # FibTable checks unicast routes
    mtu = 0
    if check_mtu:
        mtu = _route_mtu(route, nh_dev, IP_MAX_MTU)
        if p.tot_len > mtu:
            p.set_u16(6, mtu)
            return BPF_FIB_LKUP_RET_FRAG_NEEDED
    p.set_u32(12, route.metric)
    p.set_u32(8, nh_dev.ifindex)
    if flags & BPF_FIB_LOOKUP_SRC:
        src = ipaddress.ip_address(route.prefsrc) if route.prefsrc else nh_dev.first_address(4)
        p.set_addr(16, src if isinstance(src, ipaddress.IPv4Address) else ipaddress.IPv4Address(0))
    nexthop: Address = dst
    if route.gateway is not None:
        nexthop = ipaddress.ip_address(route.gateway)
        if nexthop.version == 4:
            p.set_addr(32, nexthop)
        else:
            p.buf[0] = AF_INET6
            p.set_addr(32, nexthop)
    return _finish(fib, p, flags, nh_dev, nexthop, mtu)


def _strict(addr: ipaddress.IPv6Address) -> bool:
    """rt6_need_strict: multicast, link-local and loopback addresses are never forwarded."""
    return addr.is_multicast or addr.is_link_local or addr.is_loopback


def _lookup_v6(fib: FibTable, p: _Params, flags: int, check_mtu: bool) -> int:
    src6 = p.addr(16, 6)
    dst6 = p.addr(32, 6)
    assert isinstance(src6, ipaddress.IPv6Address) and isinstance(dst6, ipaddress.IPv6Address)
    if _strict(dst6) or _strict(src6):
        return BPF_FIB_LKUP_RET_NOT_FWDED
    dev = fib.interface(p.ifindex)
    if dev is None:
        return -ENODEV
    if not dev.forwarding:
        return BPF_FIB_LKUP_RET_FWD_DISABLED
    tables = _tables(fib, p, flags)
    if tables is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    route = fib.lookup(dst6, tables, dev.ifindex if flags & BPF_FIB_LOOKUP_OUTPUT else 0)
    if route is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    if route.kind in _DROP_KINDS:
        return _DROP_KINDS[route.kind]
    if route.kind != "unicast":
        return BPF_FIB_LKUP_RET_NOT_FWDED
    nh_dev = fib.interface(route.ifindex)
    assert nh_dev is not None
    mtu = 0
    if check_mtu:
        mtu = _route_mtu(route, nh_dev, IP6_MAX_MTU)
        if p.tot_len > mtu:
            p.set_u16(6, mtu)
            return BPF_FIB_LKUP_RET_FRAG_NEEDED
    nexthop: Address = dst6
    if route.gateway is not None:
        nexthop = ipaddress.ip_address(route.gateway)
        p.set_addr(32, nexthop)
    p.set_u32(12, route.metric)
    p.set_u32(8, nh_dev.ifindex)
    if flags & BPF_FIB_LOOKUP_SRC:
        src = ipaddress.ip_address(route.prefsrc) if route.prefsrc else nh_dev.first_address(6)
        if src is None:
            return BPF_FIB_LKUP_RET_NO_SRC_ADDR
        p.set_addr(16, src)
    return _finish(fib, p, flags, nh_dev, nexthop, mtu)


def fib_lookup(
    fib: FibTable, raw: bytes, flags: int, check_mtu: bool, skb_len: int | None
) -> tuple[int, bytes]:
    """The lookup proper, on the 64 bytes of ``struct bpf_fib_lookup``: (return value,
    the struct as the helper leaves it). ``skb_len`` is the packet length for TC programs
    (their MTU check when no ``tot_len`` is given), None for XDP."""
    p = _Params(raw)
    if p.family == AF_INET:
        rc = _lookup_v4(fib, p, flags, check_mtu)
    elif p.family == AF_INET6:
        rc = _lookup_v6(fib, p, flags, check_mtu)
    else:
        return -EAFNOSUPPORT, bytes(p.buf)
    if skb_len is not None and rc == BPF_FIB_LKUP_RET_SUCCESS and not check_mtu:
        dev = fib.interface(p.ifindex)
        assert dev is not None
        if not dev.up or skb_len > dev.mtu + dev.hard_header_len + VLAN_HLEN:
            rc = BPF_FIB_LKUP_RET_FRAG_NEEDED
        p.set_u16(6, dev.mtu)
    return rc, bytes(p.buf)


@helper("bpf_fib_lookup", "xdp", "tc")
def bpf_fib_lookup(call: HelperCall, ctx: int, params: int, plen: int, flags: int, _: int) -> int:
    """XDP always checks the MTU; TC only when ``tot_len`` is set, and otherwise checks the
    packet against the egress device's MTU and reports it in ``mtu_result``."""
    size = const_size(call, 3, plen)
    raw = read_arg(call, 2, params, size)
    if plen & 0xFFFFFFFF >= 1 << 31 or size < FIB_LOOKUP_SIZE:  # plen is an int
        return -EINVAL
    flags &= 0xFFFFFFFF
    if flags & ~_FLAGS:
        return -EINVAL
    xdp = call.ctx.prog_type == "xdp"
    check_mtu = xdp or bool(struct.unpack_from("<H", raw, 6)[0])
    skb_len = None if xdp else call.packet.length
    rc, out = fib_lookup(call.ctx.fib, raw[:FIB_LOOKUP_SIZE], flags, check_mtu, skb_len)
    if out != raw[:FIB_LOOKUP_SIZE]:
        write_arg(call, 2, params, out)
    return rc


BPF_MTU_CHK_SEGS = 1
BPF_MTU_CHK_RET_SUCCESS = 0
BPF_MTU_CHK_RET_FRAG_NEEDED = 1


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@helper("bpf_check_mtu", "xdp", "tc")
def bpf_check_mtu(call: HelperCall, ctx: int, ifindex: int, mtu_len: int, len_diff: int, flags: int) -> int:
    """Would the packet (or an L3 length given in ``*mtu_len``), changed by ``len_diff``,
    fit the device's MTU plus its link header? ``*mtu_len`` gets the MTU. Device 0 is the
    one the packet arrived on (the loopback device in a test run)."""
    xdp = call.ctx.prog_type == "xdp"
    raw = read_arg(call, 3, mtu_len, 4)
    given = struct.unpack("<I", raw)[0]
    diff = _s32(len_diff)
    flags &= 0xFFFFFFFFFFFFFFFF
    if xdp and flags:
        return -EINVAL
    if not xdp and (flags & ~BPF_MTU_CHK_SEGS or (flags & BPF_MTU_CHK_SEGS and (diff or given))):
        return -EINVAL
    ifindex &= 0xFFFFFFFF
    values = call.ctx.ctx_values or {}
    fib = call.ctx.fib
    if ifindex == 0:
        own = values.get("ingress_ifindex" if xdp else "ifindex", 1)
        dev = fib.interface(own) or LOOPBACK
    else:
        found = fib.interface(ifindex)
        if found is None:
            return -ENODEV
        dev = found
    dev_len = dev.mtu + dev.hard_header_len
    length = _s32(given + dev.hard_header_len) if given else call.packet.length
    length = _s32(length + diff)
    rc = BPF_MTU_CHK_RET_SUCCESS if length <= dev_len else BPF_MTU_CHK_RET_FRAG_NEEDED
    write_arg(call, 3, mtu_len, struct.pack("<I", dev.mtu & 0xFFFFFFFF))
    return rc


HELPERS: dict[str, HelperImpl] = {"bpf_fib_lookup": bpf_fib_lookup, "bpf_check_mtu": bpf_check_mtu}
