"""bpf_fib_lookup against the FibTable model: the kernel's order of checks and return
codes, and which fields of ``struct bpf_fib_lookup`` it fills (also on failure)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import pytest

from emulator.asm import assemble
from emulator.backends.base import create
from emulator.env import Environment, RunInput
from emulator.helpers import fib as F
from emulator.helpers.fib import EMPTY_FIB, FibTable, Interface, Neighbour, Route, fib_lookup
from emulator.program import Program
from emulator.state import StopCondition, StopReason

MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")
MAC_GW = bytes.fromhex("0200000000ff")

TABLE = FibTable(
    interfaces=(
        F.LOOPBACK,
        Interface(2, "eth0", MAC_A, 1500, addresses=("192.0.2.1/24", "2001:db8::1/64")),
        Interface(3, "eth1", MAC_B, 9000, addresses=("198.51.100.1/24",)),
        Interface(4, "eth2", MAC_B, 1500, forwarding=False),
    ),
    routes=(
        Route("192.0.2.0/24", 2),
        Route("10.0.0.0/8", 2, gateway="192.0.2.254", metric=100),
        Route("10.1.0.0/16", 3, gateway="198.51.100.254", metric=5),
        Route("10.1.0.0/16", 2, gateway="192.0.2.254", metric=50),
        Route("10.9.0.0/16", kind="blackhole"),
        Route("10.8.0.0/16", kind="unreachable"),
        Route("10.7.0.0/16", kind="prohibit"),
        Route("192.0.2.1/32", 2, kind="local", table=F.RT_TABLE_LOCAL),
        Route("172.16.0.0/12", 3, gateway="198.51.100.254", mtu=1000, prefsrc="198.51.100.7"),
        Route("100.64.0.0/10", 2, gateway="192.0.2.254", table=100),
        Route("2001:db8:1::/48", 2, gateway="2001:db8::fe", metric=7),
        Route("2001:db8:2::/48", 3),
        Route("2001:db8:3::/48", kind="prohibit"),
    ),
    neighbours=(
        Neighbour("192.0.2.254", 2, MAC_GW),
        Neighbour("198.51.100.254", 3, MAC_GW),
        Neighbour("192.0.2.7", 2, bytes.fromhex("020000000007")),
        Neighbour("2001:db8::fe", 2, MAC_GW),
    ),
)


def params(dst: str, src: str = "", ifindex: int = 2, tot_len: int = 0, tbid: int = 0) -> bytes:
    p = bytearray(64)
    d = ipaddress.ip_address(dst)
    p[0] = F.AF_INET if d.version == 4 else F.AF_INET6
    struct.pack_into("<H", p, 6, tot_len)
    struct.pack_into("<I", p, 8, ifindex)
    if src:
        s = ipaddress.ip_address(src)
        p[16 : 16 + len(s.packed)] = s.packed
    p[32 : 32 + len(d.packed)] = d.packed
    struct.pack_into("<I", p, 48, tbid)
    return bytes(p)


@dataclass
class Out:
    rc: int
    raw: bytes

    @property
    def ifindex(self) -> int:
        return struct.unpack_from("<I", self.raw, 8)[0]

    @property
    def metric(self) -> int:
        return struct.unpack_from("<I", self.raw, 12)[0]

    @property
    def mtu(self) -> int:
        return struct.unpack_from("<H", self.raw, 6)[0]

    def addr(self, off: int) -> str:
        size = 4 if self.raw[0] == F.AF_INET else 16
        return str(ipaddress.ip_address(self.raw[off : off + size]))

    @property
    def smac(self) -> bytes:
        return self.raw[52:58]

    @property
    def dmac(self) -> bytes:
        return self.raw[58:64]


def lookup(p: bytes, flags: int = 0, xdp: bool = True, skb_len: int = 60, table: FibTable = TABLE) -> Out:
    check_mtu = xdp or bool(struct.unpack_from("<H", p, 6)[0])
    return Out(*fib_lookup(table, p, flags, check_mtu, None if xdp else skb_len))


def test_the_default_table_is_a_host_with_forwarding_off() -> None:
    assert lookup(params("10.0.0.1", ifindex=1), table=EMPTY_FIB).rc == F.BPF_FIB_LKUP_RET_FWD_DISABLED
    assert lookup(params("10.0.0.1", ifindex=99), table=EMPTY_FIB).rc == -F.ENODEV


def test_gateway_route_fills_everything() -> None:
    out = lookup(params("10.2.3.4", "192.0.2.9"))
    assert out.rc == F.BPF_FIB_LKUP_RET_SUCCESS
    assert (out.ifindex, out.metric, out.addr(32)) == (2, 100, "192.0.2.254")  # dst becomes the gateway
    assert (out.smac, out.dmac, out.mtu) == (MAC_A, MAC_GW, 1500)
    assert out.raw[48:52] == bytes(4)  # h_vlan_proto / h_vlan_TCI


def test_longest_prefix_then_lowest_metric() -> None:
    out = lookup(params("10.1.2.3"))
    assert (out.rc, out.ifindex, out.metric, out.mtu) == (0, 3, 5, 9000)


@pytest.mark.parametrize(
    ("dst", "rc"),
    [
        ("10.9.1.1", F.BPF_FIB_LKUP_RET_BLACKHOLE),
        ("10.8.1.1", F.BPF_FIB_LKUP_RET_UNREACHABLE),
        ("10.7.1.1", F.BPF_FIB_LKUP_RET_PROHIBIT),
        ("192.0.2.1", F.BPF_FIB_LKUP_RET_NOT_FWDED),  # local: the local table comes first
        ("203.0.113.1", F.BPF_FIB_LKUP_RET_NOT_FWDED),  # no route
        ("192.0.2.8", F.BPF_FIB_LKUP_RET_NO_NEIGH),  # connected, neighbour unknown
        ("2001:db8:3::1", F.BPF_FIB_LKUP_RET_PROHIBIT),
        ("2001:db8:2::1", F.BPF_FIB_LKUP_RET_NO_NEIGH),
        ("fe80::1", F.BPF_FIB_LKUP_RET_NOT_FWDED),  # link-local is never forwarded
        ("ff02::1", F.BPF_FIB_LKUP_RET_NOT_FWDED),
    ],
)
def test_route_kinds(dst: str, rc: int) -> None:
    assert lookup(params(dst)).rc == rc


def test_checks_in_kernel_order() -> None:
    assert lookup(params("10.0.0.1", ifindex=9)).rc == -F.ENODEV
    assert lookup(params("10.0.0.1", ifindex=4)).rc == F.BPF_FIB_LKUP_RET_FWD_DISABLED
    assert lookup(params("fe80::1", ifindex=9)).rc == F.BPF_FIB_LKUP_RET_NOT_FWDED  # before the device
    raw = bytearray(params("10.0.0.1"))
    raw[0] = 7
    assert lookup(bytes(raw)).rc == -F.EAFNOSUPPORT


def test_skip_neigh_and_partial_writes() -> None:
    out = lookup(params("192.0.2.8"))
    assert out.rc == F.BPF_FIB_LKUP_RET_NO_NEIGH
    assert (out.ifindex, out.smac, out.dmac) == (2, bytes(6), bytes(6))  # ifindex written, macs not
    out = lookup(params("192.0.2.8"), F.BPF_FIB_LOOKUP_SKIP_NEIGH)
    assert (out.rc, out.addr(32), out.dmac) == (0, "192.0.2.8", bytes(6))


def test_mtu() -> None:
    out = lookup(params("172.16.1.1", tot_len=1001))  # a locked route MTU of 1000
    assert (out.rc, out.mtu) == (F.BPF_FIB_LKUP_RET_FRAG_NEEDED, 1000)
    assert lookup(params("172.16.1.1", tot_len=1000)).rc == 0
    # TC without tot_len: the packet against the egress device, its MTU reported
    out = lookup(params("192.0.2.7"), xdp=False, skb_len=1500 + 14 + 4)
    assert (out.rc, out.mtu) == (0, 1500)
    out = lookup(params("192.0.2.7"), xdp=False, skb_len=1500 + 14 + 5)
    assert (out.rc, out.mtu) == (F.BPF_FIB_LKUP_RET_FRAG_NEEDED, 1500)


def test_source_address() -> None:
    out = lookup(params("172.16.1.1"), F.BPF_FIB_LOOKUP_SRC)
    assert out.addr(16) == "198.51.100.7"  # prefsrc
    out = lookup(params("10.2.3.4"), F.BPF_FIB_LOOKUP_SRC)
    assert out.addr(16) == "192.0.2.1"  # the device's address
    out = lookup(params("2001:db8:2::1"), F.BPF_FIB_LOOKUP_SRC | F.BPF_FIB_LOOKUP_SKIP_NEIGH)
    assert out.rc == F.BPF_FIB_LKUP_RET_NO_SRC_ADDR  # eth1 has no IPv6 address


def test_direct_tables_and_output() -> None:
    direct = F.BPF_FIB_LOOKUP_DIRECT | F.BPF_FIB_LOOKUP_TBID
    out = lookup(params("100.64.1.1", tbid=100), direct)
    assert (out.rc, out.raw[48:52]) == (0, bytes(4))
    assert lookup(params("100.64.1.1"), 0).rc == F.BPF_FIB_LKUP_RET_NOT_FWDED  # not in main
    assert lookup(params("10.0.0.1", tbid=77), direct).rc == F.BPF_FIB_LKUP_RET_NOT_FWDED  # no table
    # DIRECT skips the local table: a local address is looked up in main
    assert lookup(params("192.0.2.1"), F.BPF_FIB_LOOKUP_DIRECT).rc == F.BPF_FIB_LKUP_RET_NO_NEIGH
    out = lookup(params("10.1.2.3", ifindex=2), F.BPF_FIB_LOOKUP_OUTPUT)
    assert (out.rc, out.ifindex, out.metric) == (0, 2, 50)  # the route through eth0


def test_ipv6_gateway() -> None:
    out = lookup(params("2001:db8:1::5", "2001:db8::9"))
    assert (out.rc, out.addr(32), out.metric, out.dmac, out.smac) == (0, "2001:db8::fe", 7, MAC_GW, MAC_A)


@pytest.mark.parametrize(
    "bad",
    [
        dict(routes=(Route("10.0.0.0/33", 2),)),
        dict(routes=(Route("10.0.0.0/8", 9),)),
        dict(routes=(Route("10.0.0.0/8", kind="anycast"),)),
        dict(interfaces=(Interface(1, mac=b"\0"),)),
    ],
)
def test_table_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FibTable(**bad)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _EnvWithFib(Environment):
    """Until Environment carries ``fib`` itself: the interp reads ``env.fib`` if present."""

    fib: FibTable = EMPTY_FIB


def test_through_interp() -> None:
    p = params("10.2.3.4")
    init = "\n".join(
        f"*(u32 *)(r10 {i - 64:+d}) = {struct.unpack_from('<i', p, i)[0]}" for i in range(0, 64, 4)
    )
    src = f"""
r6 = r1
{init}
r1 = r6
r2 = r10
r2 += -64
r3 = 64
r4 = 0
call 69
r1 = *(u32 *)(r10 -56)
r0 <<= 8
r0 |= r1
exit
"""
    machine = create("interp")
    assert machine.load(Program.from_insns(assemble(src), prog_type="xdp"), _EnvWithFib(fib=TABLE)).ok
    machine.reset(RunInput(packet=bytes(60)))
    stop = machine.run(StopCondition())
    assert stop.reason is StopReason.EXIT, stop
    assert stop.retval == 2  # success (0 << 8) | ifindex 2
