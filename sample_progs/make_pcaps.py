#!/usr/bin/env python3
"""Write the sample captures and the maps' initial contents.

    python3 sample_progs/make_pcaps.py          (or `make pcaps` in sample_progs/)

Writes, next to this file:

  pcaps/<program>.pcap   one capture per sample program (classic pcap, microsecond
                         timestamps, LINKTYPE_ETHERNET), 5-40 frames each: realistic
                         IPv4/IPv6/VLAN/TCP/UDP/ICMP/ARP traffic plus malformed or cut-short
                         frames that exercise the programs' error paths
  initial_maps.json      what user space would put into the maps before the first
                         packet: {"<prog>.o": {"<map>": [{"key": hex, "value": hex}]}}
                         (bytes as stored by the kernel, little-endian host fields)

Everything is deterministic: fixed addresses, fixed timestamps (1 ms apart), no
randomness. Each frame has a one-line description (CAPTURES below) that EXPECTED.md
repeats next to the kernel's verdict. The frames respect the kernel's BPF_PROG_TEST_RUN
minimums, so every one of them can be run on the real kernel too: >= 14 bytes for XDP;
for skb programs (tc, socket) >= 34 bytes when the ethertype is IPv4 and >= 54 for IPv6.
"""

from __future__ import annotations

import io
import json
import socket
import struct
from pathlib import Path

import dpkt

HERE = Path(__file__).resolve().parent
PCAP_DIR = HERE / "pcaps"
T0 = 1_700_000_000  # timestamp of each capture's first frame (2023-11-14T22:13:20Z)

# ---------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------

DUT = "02:00:00:00:00:01"  # the device under test (where the program runs)
PEER = "02:00:00:00:00:02"  # the neighbour that sends most frames
GW = "02:00:00:00:00:fe"  # the gateway (the load balancer sends to it)
BCAST = "ff:ff:ff:ff:ff:ff"

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

# IPv6 next-header values
NH_HOPOPTS, NH_TCP, NH_UDP, NH_ROUTING, NH_FRAGMENT, NH_AH, NH_ICMPV6, NH_DSTOPTS = (
    0,
    6,
    17,
    43,
    44,
    51,
    58,
    60,
)


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ip4(text: str) -> bytes:
    return socket.inet_aton(text)


def ip6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def csum16(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# ---------------------------------------------------------------------------------------
# Layer 4
# ---------------------------------------------------------------------------------------


def tcp(
    sport: int,
    dport: int,
    flags: int = TCP_SYN,
    payload: bytes = b"",
    opts: bytes = b"",
    seq: int = 1000,
    ack: int = 0,
    win: int = 64240,
) -> dpkt.tcp.TCP:
    """A TCP segment. dpkt does not derive the data offset from the options: set it."""
    if len(opts) % 4:
        raise ValueError("TCP options must be padded to 4 bytes")
    seg = dpkt.tcp.TCP(
        sport=sport,
        dport=dport,
        flags=flags,
        seq=seq,
        ack=ack if flags & TCP_ACK else 0,
        win=win,
        opts=opts,
        data=payload,
    )
    seg.off = (20 + len(opts)) // 4
    return seg


def syn_opts(mss: int = 1460, sack: bool = True, ts: bool = True, wscale: int | None = 7) -> bytes:
    """The options a Linux SYN carries: MSS, SACK permitted, timestamps, window scale."""
    out = struct.pack("!BBH", 2, 4, mss)
    if sack and ts:
        out += bytes([4, 2]) + struct.pack("!BBII", 8, 10, 123456, 0)
    elif sack:
        out += bytes([1, 1, 4, 2])
    if wscale is not None:
        out += bytes([1, 3, 3, wscale])
    while len(out) % 4:
        out += b"\x00"
    return out


def udp(sport: int, dport: int, payload: bytes = b"") -> dpkt.udp.UDP:
    """A UDP datagram. dpkt leaves the length at 8: set it."""
    dgram = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    dgram.ulen = 8 + len(payload)
    return dgram


def icmp_echo(ident: int = 0x1234, seq: int = 1, payload: bytes = b"abcdefghijklmnop") -> dpkt.icmp.ICMP:
    return dpkt.icmp.ICMP(type=8, code=0, data=dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=payload))


def icmp_error(icmp_type: int, code: int, quoted: bytes) -> bytes:
    """An ICMP error (unreachable, time exceeded) quoting the start of the offending packet."""
    body = struct.pack("!BBHI", icmp_type, code, 0, 0) + quoted
    return body[:2] + struct.pack("!H", csum16(body)) + body[4:]


def icmp6_echo(ident: int = 0x4321, seq: int = 1) -> dpkt.icmp6.ICMP6:
    return dpkt.icmp6.ICMP6(type=128, code=0, data=struct.pack("!HH", ident, seq) + b"ping6 payload")


def dns_query(name: str = "example.com", ident: int = 0xBEEF) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def dns_response(name: str = "example.com", ident: int = 0xBEEF) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + ip4("93.184.216.34")
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + qname + struct.pack("!HH", 1, 1) + answer


def http_get(host: str = "www.example.com", path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n".encode()


# ---------------------------------------------------------------------------------------
# Layer 3
# ---------------------------------------------------------------------------------------

_ip_id = [0x1000]


def ipv4(
    src: str,
    dst: str,
    l4,
    proto: int | None = None,
    ttl: int = 64,
    tos: int = 0,
    opts: bytes = b"",
    frag: int = 0,
    more_frags: bool = False,
    df: bool = True,
    ident: int | None = None,
) -> bytes:
    """An IPv4 packet; l4 is a dpkt TCP/UDP/ICMP object (proto inferred) or raw bytes.

    dpkt computes the header checksum and the TCP/UDP checksums (with the pseudo-header)
    when it serializes; it does not derive ihl from the options, so that is set here.
    frag is the fragment offset in 8-byte units.
    """
    if proto is None:
        proto = {dpkt.tcp.TCP: 6, dpkt.udp.UDP: 17, dpkt.icmp.ICMP: 1}[type(l4)]
    if ident is None:
        _ip_id[0] += 1
        ident = _ip_id[0]
    if len(opts) % 4:
        raise ValueError("IPv4 options must be padded to 4 bytes")
    pkt = dpkt.ip.IP(
        src=ip4(src),
        dst=ip4(dst),
        p=proto,
        ttl=ttl,
        tos=tos,
        id=ident,
        df=int(df and not frag and not more_frags),
        mf=int(more_frags),
        offset=frag,
        opts=opts,
        data=l4,
    )
    pkt.hl = (20 + len(opts)) // 4
    return bytes(pkt)


def ipv6(
    src: str,
    dst: str,
    l4,
    nxt: int | None = None,
    hlim: int = 64,
    ext: bytes = b"",
    first_nh: int | None = None,
    tclass: int = 0,
    flow: int = 0,
) -> bytes:
    """An IPv6 packet. With extension headers, pass them already chained in `ext`, the
    first one's type as first_nh and the upper-layer type as nxt; the TCP/UDP/ICMPv6
    checksum is then computed here over the pseudo-header."""
    if nxt is None:
        nxt = {dpkt.tcp.TCP: NH_TCP, dpkt.udp.UDP: NH_UDP, dpkt.icmp6.ICMP6: NH_ICMPV6}.get(type(l4))
    if not ext:
        pkt = dpkt.ip6.IP6(src=ip6(src), dst=ip6(dst), nxt=nxt, hlim=hlim, fc=tclass, flow=flow, data=l4)
        pkt.plen = len(bytes(l4))
        return bytes(pkt)
    upper = l4
    if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP, dpkt.icmp6.ICMP6)):
        l4.sum = 0
        raw = bytes(l4)
        pseudo = ip6(src) + ip6(dst) + struct.pack("!I3xB", len(raw), nxt)
        l4.sum = csum16(pseudo + raw)
        upper = bytes(l4)
    payload = ext + bytes(upper)
    header = struct.pack("!IHBB", (6 << 28) | (tclass << 20) | flow, len(payload), first_nh, hlim)
    return header + ip6(src) + ip6(dst) + payload


def ext_opts(nh: int, length_units: int = 0) -> bytes:
    """A hop-by-hop or destination options header: (length_units + 1) * 8 bytes, PadN."""
    size = (length_units + 1) * 8
    return bytes([nh, length_units, 1, size - 4]) + b"\0" * (size - 4)


def ext_routing(nh: int, rtype: int, segments: list[str]) -> bytes:
    """A routing header of the given type carrying IPv6 addresses (type 0 or 4/SRH)."""
    body = b"".join(ip6(s) for s in segments)
    hdrlen = len(body) // 8
    if rtype == 4:  # segment routing header: last entry, flags, tag
        fixed = bytes([nh, hdrlen, rtype, len(segments) - 1, len(segments) - 1, 0, 0, 0])
    else:
        fixed = bytes([nh, hdrlen, rtype, len(segments)]) + b"\0" * 4
    return fixed + body


def ext_fragment(nh: int, offset: int = 0, more: bool = True, ident: int = 0xCAFE) -> bytes:
    return struct.pack("!BBHI", nh, 0, (offset << 3) | int(more), ident)


def ext_ah(nh: int) -> bytes:
    """An authentication header with a 12-byte ICV: payload length (24/4 - 2) = 4."""
    return bytes([nh, 4, 0, 0]) + struct.pack("!II", 0x100, 1) + b"\x5a" * 12


# ---------------------------------------------------------------------------------------
# Layer 2
# ---------------------------------------------------------------------------------------


def eth(payload: bytes, ethertype: int = 0x0800, dst: str = DUT, src: str = PEER) -> bytes:
    """An untagged Ethernet frame (no FCS, as a NIC hands it to XDP)."""
    return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload


def tagged(payload: bytes, ethertype: int, vlans: tuple, dst: str = DUT, src: str = PEER) -> bytes:
    """An Ethernet frame with VLAN tags: vlans are (tpid, vid, pcp) from the outside in."""
    out = mac(dst) + mac(src)
    tpids = [tpid for tpid, _, _ in vlans] + [ethertype]
    for i, (tpid, vid, pcp) in enumerate(vlans):
        if i == 0:
            out += struct.pack("!H", tpid)
        out += struct.pack("!HH", (pcp << 13) | vid, tpids[i + 1])
    return out + payload


def arp_request(sender_ip: str, target_ip: str, sender_mac: str = PEER) -> bytes:
    body = (
        struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + mac(sender_mac)
        + ip4(sender_ip)
        + b"\0" * 6
        + ip4(target_ip)
    )
    return eth(body + b"\0" * 18, 0x0806, dst=BCAST, src=sender_mac)  # padded to 60 bytes


def arp_reply(sender_ip: str, target_ip: str, sender_mac: str = PEER, target_mac: str = DUT) -> bytes:
    body = (
        struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
        + mac(sender_mac)
        + ip4(sender_ip)
        + mac(target_mac)
        + ip4(target_ip)
    )
    return eth(body + b"\0" * 18, 0x0806, dst=target_mac, src=sender_mac)


def lldp(src: str = PEER) -> bytes:
    """An LLDP frame (ethertype 0x88cc): chassis id, port id, TTL, end."""

    def tlv(t: int, value: bytes) -> bytes:
        return struct.pack("!H", (t << 9) | len(value)) + value

    body = tlv(1, b"\x04" + mac(src)) + tlv(2, b"\x07eth1") + tlv(3, struct.pack("!H", 120)) + tlv(0, b"")
    return eth(body, 0x88CC, dst="01:80:c2:00:00:0e", src=src)


def pad60(frame: bytes) -> bytes:
    """Pad to the Ethernet minimum (60 bytes without FCS), as a NIC delivers it."""
    return frame + b"\0" * max(0, 60 - len(frame))


def v4(src: str, dst: str, l4, **kw) -> bytes:
    """Shorthand: Ethernet + IPv4, from PEER to DUT, padded to 60 bytes."""
    return pad60(eth(ipv4(src, dst, l4, **kw)))


def v6(src: str, dst: str, l4, **kw) -> bytes:
    return pad60(eth(ipv6(src, dst, l4, **kw), 0x86DD))


def with_ihl(frame: bytes, ihl: int, l3_off: int = 14) -> bytes:
    """Corrupt the IPv4 header length field (the checksum is left as it was)."""
    b = bytearray(frame)
    b[l3_off] = (b[l3_off] & 0xF0) | ihl
    return bytes(b)


def with_version(frame: bytes, version: int, l3_off: int = 14) -> bytes:
    b = bytearray(frame)
    b[l3_off] = (version << 4) | (b[l3_off] & 0x0F)
    return bytes(b)


def with_bad_ipv4_checksum(frame: bytes, l3_off: int = 14) -> bytes:
    b = bytearray(frame)
    b[l3_off + 10] ^= 0xFF
    return bytes(b)


# ---------------------------------------------------------------------------------------
# Captures, one per program: (description, frame)
# ---------------------------------------------------------------------------------------

C1, C2, C3 = "192.168.1.10", "192.168.1.11", "192.168.1.12"  # clients
SRV = "10.0.0.1"  # a server behind the device
C6, SRV6 = "2001:db8:1::10", "2001:db8::1"


def firewall_capture() -> list[tuple[str, bytes]]:
    return [
        ("IPv4 TCP SYN to :80, no rule", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()))),
        ("IPv4 TCP SYN to :23 (telnet), drop rule", v4(C1, SRV, tcp(40001, 23))),
        ("IPv4 TCP SYN to :22 (ssh), pass rule", v4(C1, SRV, tcp(40002, 22, opts=syn_opts()))),
        ("IPv4 UDP DNS query to :53, pass rule", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 UDP to :161 (snmp), drop rule", v4(C2, SRV, udp(50000, 161, b"\x30\x26\x02\x01\x01"))),
        ("IPv4 ICMP echo request, ICMP drop rule", v4(C1, SRV, icmp_echo())),
        ("IPv4 TCP to :80 from 192.0.2.66, source drop rule", v4("192.0.2.66", SRV, tcp(41000, 80))),
        (
            "IPv4 TCP to :23 from 10.1.1.1, source pass rule wins over the port rule",
            v4("10.1.1.1", SRV, tcp(41001, 23)),
        ),
        (
            "802.1Q VLAN 100, IPv4 TCP to :23, drop rule",
            pad60(tagged(ipv4(C1, SRV, tcp(40003, 23)), 0x0800, ((0x8100, 100, 0),))),
        ),
        (
            "QinQ (802.1ad 10 + 802.1Q 20), IPv4 UDP to :161, drop rule",
            pad60(
                tagged(
                    ipv4(C2, SRV, udp(50001, 161, b"\x30\x00")), 0x0800, ((0x88A8, 10, 0), (0x8100, 20, 0))
                )
            ),
        ),
        ("IPv6 TCP SYN to :23, drop rule", v6(C6, SRV6, tcp(40004, 23))),
        ("IPv6 ICMPv6 echo request, ICMPv6 pass rule", v6(C6, SRV6, icmp6_echo())),
        ("IPv6 UDP DNS query to :53, pass rule", v6(C6, SRV6, udp(53002, 53, dns_query()))),
        ("ARP request (not IP)", arp_request(C1, SRV)),
        ("LLDP (not IP)", lldp()),
        (
            "IPv4 with 4 bytes of options (ihl 6), TCP to :23, drop rule",
            v4(C1, SRV, tcp(40005, 23), opts=b"\x94\x04\x00\x00"),
        ),
        (
            "IPv4 non-first fragment (offset 185) of a UDP datagram: no ports, default",
            v4(C2, SRV, b"\x00" * 40, proto=17, frag=185),
        ),
        (
            "IPv6 with a hop-by-hop header before TCP :23: first next-header is 0, default",
            v6(C6, SRV6, tcp(40006, 23), ext=ext_opts(NH_TCP), first_nh=NH_HOPOPTS),
        ),
        ("IPv4 TCP SYN to :3389 (rdp), drop rule", v4(C3, SRV, tcp(40007, 3389))),
        ("truncated: Ethernet + 10 bytes of an IPv4 header", eth(ipv4(C1, SRV, tcp(40008, 80))[:10])),
        ("malformed: IPv4 ihl 4 (16-byte header)", with_ihl(v4(C1, SRV, tcp(40009, 80)), 4)),
        ("truncated: IPv4 + 8 bytes of a TCP header", eth(ipv4(C1, SRV, tcp(40010, 23))[:28])),
        ("truncated: 802.1Q tag cut after 2 bytes", (mac(DUT) + mac(PEER) + b"\x81\x00\x00\x64")),
        (
            "IPv4 TCP ACK with 1200 bytes of data to :80, no rule",
            v4(C1, SRV, tcp(40000, 80, TCP_ACK | TCP_PSH, payload=bytes(range(256)) * 4 + b"x" * 176)),
        ),
    ]


VIP1, VIP2, VIP3 = "10.100.0.1", "10.100.0.2", "10.100.0.3"


def lb_capture() -> list[tuple[str, bytes]]:
    return [
        ("TCP SYN 192.168.1.10:40000 -> VIP 10.100.0.1:80", v4(C1, VIP1, tcp(40000, 80, opts=syn_opts()))),
        (
            "same flow, ACK + HTTP GET: same backend",
            v4(C1, VIP1, tcp(40000, 80, TCP_ACK | TCP_PSH, payload=http_get(), seq=1001, ack=5001)),
        ),
        ("TCP SYN 192.168.1.11:40001 -> VIP:80", v4(C2, VIP1, tcp(40001, 80, opts=syn_opts()))),
        ("TCP SYN 192.168.1.12:51515 -> VIP:80", v4(C3, VIP1, tcp(51515, 80, opts=syn_opts()))),
        ("UDP DNS 192.168.1.10:5353 -> VIP 10.100.0.1:53", v4(C1, VIP1, udp(5353, 53, dns_query()))),
        (
            "UDP DNS 192.168.1.20:33333 -> VIP:53",
            v4("192.168.1.20", VIP1, udp(33333, 53, dns_query("a.example"))),
        ),
        ("TCP SYN -> VIP 10.100.0.2:443 which has no backends: drop", v4(C1, VIP2, tcp(40002, 443))),
        ("TCP SYN -> 10.100.0.1:8080, not a VIP: pass", v4(C1, VIP1, tcp(40003, 8080))),
        (
            "TCP SYN from pinned client 198.51.100.7 -> VIP:80: backend slot 2",
            v4("198.51.100.7", VIP1, tcp(45000, 80, opts=syn_opts())),
        ),
        ("TCP SYN -> VIP:80 with TTL 1: drop", v4(C1, VIP1, tcp(40004, 80), ttl=1)),
        ("UDP first fragment (MF) -> VIP:53: pass", v4(C1, VIP1, udp(5354, 53, b"q" * 48), more_frags=True)),
        ("ICMP echo -> VIP: pass", v4(C1, VIP1, icmp_echo())),
        ("IPv6 TCP SYN: pass", v6(C6, SRV6, tcp(40005, 80))),
        ("ARP request for the VIP: pass", arp_request(C1, VIP1)),
        (
            "IPv4 with options (ihl 6), TCP SYN -> VIP:80",
            v4(C1, VIP1, tcp(40006, 80), opts=b"\x94\x04\x00\x00"),
        ),
        (
            "TCP -> VIP:80 with 1400 bytes of data",
            v4(C2, VIP1, tcp(40001, 80, TCP_ACK, payload=b"D" * 1400, seq=2001, ack=7001)),
        ),
        ("truncated: IPv4 + 2 bytes of TCP (no destination port)", eth(ipv4(C1, VIP1, tcp(40007, 80))[:22])),
        ("truncated: Ethernet + 10 bytes of IPv4", eth(ipv4(C1, VIP1, tcp(40008, 80))[:10])),
        ("malformed: IPv4 ihl 3", with_ihl(v4(C1, VIP1, tcp(40009, 80)), 3)),
        ("TCP SYN -> VIP 10.100.0.3:80, not a VIP: pass", v4(C1, VIP3, tcp(40010, 80))),
    ]


def tc_classifier_capture() -> list[tuple[str, bytes]]:
    return [
        (
            "IPv4 TCP to :22 (ssh): interactive, DSCP rewritten to EF",
            v4(C1, SRV, tcp(40000, 22, TCP_ACK | TCP_PSH, payload=b"\x00" * 36)),
        ),
        ("IPv4 UDP DNS to :53: interactive, DSCP rewritten", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 TCP to :22 already marked EF (tos 0xb8): no rewrite", v4(C1, SRV, tcp(40001, 22), tos=0xB8)),
        ("IPv4 TCP to :80, small: default class", v4(C1, SRV, tcp(40002, 80, opts=syn_opts()))),
        (
            "IPv4 TCP to :80 with 1400 bytes: bulk class",
            v4(C1, SRV, tcp(40002, 80, TCP_ACK, payload=b"B" * 1400)),
        ),
        (
            "IPv6 UDP DNS to :53: interactive (no DSCP rewrite for IPv6)",
            v6(C6, SRV6, udp(53002, 53, dns_query())),
        ),
        (
            "IPv6 TCP to :443 with 1200 bytes: bulk",
            v6(C6, SRV6, tcp(40003, 443, TCP_ACK, payload=b"T" * 1200)),
        ),
        ("ARP request: not IP, TC_ACT_UNSPEC", arp_request(C1, SRV)),
        (
            "802.1Q VLAN 10 PCP 5, IPv4 TCP to :80: default class, priority 5",
            pad60(tagged(ipv4(C1, SRV, tcp(40004, 80)), 0x0800, ((0x8100, 10, 5),))),
        ),
        (
            "802.1Q VLAN 10 PCP 3, IPv4 UDP with 1100 bytes: bulk, priority 3",
            pad60(tagged(ipv4(C1, SRV, udp(6000, 6001, b"U" * 1100)), 0x0800, ((0x8100, 10, 3),))),
        ),
        ("IPv4 TCP with TTL 0: shot", v4(C1, SRV, tcp(40005, 80), ttl=0)),
        ("malformed: IPv4 ihl 4: shot", with_ihl(v4(C1, SRV, tcp(40006, 80)), 4)),
        (
            "IPv4 header only (34 bytes), protocol TCP: no ports, default class",
            eth(ipv4(C1, SRV, b"", proto=6)),
        ),
        ("LLDP: not IP, TC_ACT_UNSPEC", lldp()),
        ("IPv4 ICMP echo: default class", v4(C1, SRV, icmp_echo())),
    ]


def percpu_counter_capture() -> list[tuple[str, bytes]]:
    return [
        ("IPv4 TCP SYN", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()))),
        ("IPv4 TCP ACK + data", v4(C1, SRV, tcp(40000, 80, TCP_ACK | TCP_PSH, payload=http_get()))),
        ("IPv4 UDP DNS", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 ICMP echo", v4(C1, SRV, icmp_echo())),
        ("IPv4 GRE (protocol 47): other", v4(C1, SRV, b"\x00\x00\x08\x00" + b"\x00" * 20, proto=47)),
        ("IPv6 TCP SYN", v6(C6, SRV6, tcp(40001, 443, opts=syn_opts()))),
        ("IPv6 UDP", v6(C6, SRV6, udp(5000, 5001, b"hello"))),
        ("IPv6 ICMPv6 echo", v6(C6, SRV6, icmp6_echo())),
        (
            "IPv6 hop-by-hop then UDP: other",
            v6(C6, SRV6, udp(5000, 5001, b"x"), ext=ext_opts(NH_UDP), first_nh=NH_HOPOPTS),
        ),
        ("ARP request", arp_request(C1, SRV)),
        ("ARP reply", arp_reply(SRV, C1, sender_mac=PEER)),
        ("LLDP: other L2", lldp()),
        ("802.1Q VLAN 7, IPv4 UDP", pad60(tagged(ipv4(C1, SRV, udp(1, 2, b"v")), 0x0800, ((0x8100, 7, 0),)))),
        ("802.1Q VLAN 7, IPv6 TCP", pad60(tagged(ipv6(C6, SRV6, tcp(3, 4)), 0x86DD, ((0x8100, 7, 0),)))),
        ("truncated: Ethernet + 10 bytes of IPv4", eth(ipv4(C1, SRV, tcp(1, 2))[:10])),
        ("truncated: Ethernet + 20 bytes of IPv6", eth(ipv6(C6, SRV6, tcp(1, 2))[:20], 0x86DD)),
        ("truncated: VLAN tag cut short", mac(DUT) + mac(PEER) + b"\x81\x00\x00"),
        ("IPv4 TCP with 1400 bytes", v4(C2, SRV, tcp(40002, 80, TCP_ACK, payload=b"P" * 1400))),
    ]


def tailcall_capture() -> list[tuple[str, bytes]]:
    return [
        ("IPv4 TCP SYN: ipv4 -> tcp handler, pass", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()))),
        ("IPv4 TCP NULL scan (no flags): drop", v4(C1, SRV, tcp(40001, 80, 0))),
        ("IPv4 TCP SYN+FIN: drop", v4(C1, SRV, tcp(40002, 80, TCP_SYN | TCP_FIN))),
        ("IPv4 TCP XMAS scan (FIN+PSH+URG): drop", v4(C1, SRV, tcp(40003, 80, TCP_FIN | TCP_PSH | TCP_URG))),
        ("IPv4 TCP ACK + data: pass", v4(C1, SRV, tcp(40000, 80, TCP_ACK | TCP_PSH, payload=http_get()))),
        (
            "IPv4 UDP from port 1900 (SSDP reflection): drop",
            v4("203.0.113.5", SRV, udp(1900, 40000, b"HTTP/1.1 200 OK")),
        ),
        (
            "IPv4 UDP from port 19 (chargen): drop",
            v4("203.0.113.6", SRV, udp(19, 40001, b"!\"#$%&'()*+,-./0123")),
        ),
        ("IPv4 UDP DNS query: pass", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 ICMP echo: ipv4 handler passes it", v4(C1, SRV, icmp_echo())),
        ("IPv6 TCP SYN+FIN: ipv6 -> tcp handler, drop", v6(C6, SRV6, tcp(40004, 80, TCP_SYN | TCP_FIN))),
        (
            "IPv6 UDP from port 11211 (memcached reflection): drop",
            v6("2001:db8:bad::1", SRV6, udp(11211, 40005, b"VALUE")),
        ),
        ("IPv6 UDP DNS: pass", v6(C6, SRV6, udp(53002, 53, dns_query()))),
        ("IPv6 ICMPv6 echo: pass", v6(C6, SRV6, icmp6_echo())),
        ("ARP request: PROG_ARP slot empty, tail call fails, pass", arp_request(C1, SRV)),
        ("LLDP: no handler for the ethertype, pass", lldp()),
        ("truncated: Ethernet + 8 bytes of IPv4: drop", eth(ipv4(C1, SRV, tcp(1, 2))[:8])),
        ("malformed: ethertype IPv4 but version 6: drop", with_version(v4(C1, SRV, tcp(40006, 80)), 6)),
        ("truncated: IPv4 + 10 bytes of TCP: drop", eth(ipv4(C1, SRV, tcp(40007, 80))[:30])),
        (
            "IPv4 with options (ihl 6), TCP ACK: pass",
            v4(C1, SRV, tcp(40008, 80, TCP_ACK), opts=b"\x94\x04\x00\x00"),
        ),
    ]


def ringbuf_capture() -> list[tuple[str, bytes]]:
    offending = ipv4(SRV, C1, udp(40000, 33434, b"traceroute"))[:28]  # quoted IP + 8 bytes
    return [
        ("TCP SYN: conn_event EV_TCP_SYN submitted", v4(C1, SRV, tcp(40000, 443, opts=syn_opts()))),
        (
            "TCP SYN+ACK: reserved, then discarded",
            v4(SRV, C1, tcp(443, 40000, TCP_SYN | TCP_ACK, opts=syn_opts(), ack=1001)),
        ),
        (
            "TCP ACK + data: discarded",
            v4(C1, SRV, tcp(40000, 443, TCP_ACK | TCP_PSH, payload=b"\x16\x03\x01" + b"\0" * 60, ack=5001)),
        ),
        ("TCP RST: EV_TCP_RST submitted", v4(SRV, C2, tcp(443, 40001, TCP_RST | TCP_ACK, ack=1))),
        ("TCP FIN+ACK: discarded", v4(C1, SRV, tcp(40000, 443, TCP_FIN | TCP_ACK, ack=5002))),
        (
            "ICMP port unreachable quoting UDP: icmp_event via ringbuf_output",
            v4("10.0.0.254", C1, icmp_error(3, 3, offending), proto=1),
        ),
        (
            "ICMP time exceeded: icmp_event via ringbuf_output",
            v4("10.9.9.9", C1, icmp_error(11, 0, offending), proto=1),
        ),
        ("ICMP echo request: no event", v4(C1, SRV, icmp_echo())),
        ("UDP: no event", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv6 TCP SYN: no event (IPv4 only)", v6(C6, SRV6, tcp(40002, 443))),
        ("ARP: no event", arp_request(C1, SRV)),
        (
            "ICMP unreachable without a quoted header: event with orig_daddr 0",
            v4("10.0.0.254", C1, icmp_error(3, 1, b""), proto=1),
        ),
        ("truncated: IPv4 + 10 bytes of TCP: no event", eth(ipv4(C1, SRV, tcp(40003, 443))[:30])),
        ("TCP SYN to :22: submitted", v4(C3, SRV, tcp(40004, 22, opts=syn_opts()))),
    ]


def subprog_globals_capture() -> list[tuple[str, bytes]]:
    return [
        ("IPv4 TCP to :80: pass", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()))),
        ("IPv4 TCP to :23: blocked port", v4(C1, SRV, tcp(40001, 23))),
        ("IPv4 UDP to :135: blocked port", v4(C1, SRV, udp(40002, 135, b"rpc"))),
        ("IPv4 TCP to :445: blocked port", v4(C2, SRV, tcp(40003, 445))),
        ("IPv4 TCP to :3389: blocked port", v4(C3, SRV, tcp(40004, 3389))),
        ("IPv4 UDP to :53: pass", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 TCP to :80 with TTL 1: below cfg_min_ttl", v4(C1, SRV, tcp(40005, 80), ttl=1)),
        ("IPv4 ICMP echo: pass", v4(C1, SRV, icmp_echo())),
        ("IPv4 ICMP echo with TTL 1: below cfg_min_ttl", v4(C1, SRV, icmp_echo(), ttl=1)),
        ("IPv6 TCP to :23: not parsed, pass", v6(C6, SRV6, tcp(40006, 23))),
        ("ARP: pass", arp_request(C1, SRV)),
        ("truncated: Ethernet + 10 bytes of IPv4: pass", eth(ipv4(C1, SRV, tcp(1, 2))[:10])),
        ("malformed: IPv4 ihl 4: pass", with_ihl(v4(C1, SRV, tcp(40007, 23)), 4)),
        ("IPv4 with options (ihl 7), TCP to :445: blocked", v4(C1, SRV, tcp(40008, 445), opts=b"\x01" * 8)),
        ("truncated: IPv4 + 2 bytes of TCP: pass", eth(ipv4(C1, SRV, tcp(40009, 23))[:22])),
        ("IPv4 UDP to :445 from 172.16.5.5: blocked", v4("172.16.5.5", SRV, udp(137, 445, b"smb"))),
    ]


def loop_parser_capture() -> list[tuple[str, bytes]]:
    hbh = ext_opts
    return [
        (
            "IPv4 TCP SYN: MSS 1460, SACK, timestamps, window scale: pass",
            v4(C1, SRV, tcp(40000, 80, opts=syn_opts())),
        ),
        ("IPv4 TCP SYN with MSS 48: drop", v4(C1, SRV, tcp(40001, 80, opts=syn_opts(mss=48)))),
        (
            "IPv4 TCP ACK carrying MSS 48 (not a SYN): pass",
            v4(C1, SRV, tcp(40002, 80, TCP_ACK, opts=syn_opts(mss=48))),
        ),
        (
            "IPv4 TCP SYN, option with length 0: drop",
            v4(C1, SRV, tcp(40003, 80, opts=b"\x02\x04\x05\xb4\x1e\x00\x00\x00")),
        ),
        (
            "IPv4 TCP SYN, option running past the header: drop",
            v4(C1, SRV, tcp(40004, 80, opts=b"\x02\x04\x05\xb4\x01\x08\x0a\x00")),
        ),
        ("IPv4 TCP without options: pass", v4(C1, SRV, tcp(40005, 80, TCP_ACK))),
        (
            "IPv4 TCP header claiming 40 option bytes, frame cut after 8 of them: drop",
            eth(ipv4(C1, SRV, tcp(40006, 80, opts=syn_opts() + b"\x01" * 20))[:48]),
        ),
        (
            "IPv4 TCP SYN: EOL, then bytes that are not parsed: pass",
            v4(C1, SRV, tcp(40007, 80, opts=b"\x02\x04\x05\xb4\x00\xff\xff\xff")),
        ),
        ("IPv4 non-first fragment: pass", v4(C1, SRV, b"\x00" * 24, proto=6, frag=100)),
        ("IPv4 UDP: pass", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv6 TCP SYN, MSS 1440: pass", v6(C6, SRV6, tcp(40008, 443, opts=syn_opts(mss=1440)))),
        (
            "IPv6 hop-by-hop, then TCP SYN with MSS 100: drop",
            v6(C6, SRV6, tcp(40009, 443, opts=syn_opts(mss=100)), ext=hbh(NH_TCP), first_nh=NH_HOPOPTS),
        ),
        (
            "IPv6 hop-by-hop + destination options + segment routing (type 4), then TCP SYN: pass",
            v6(
                C6,
                SRV6,
                tcp(40010, 443, opts=syn_opts()),
                ext=hbh(NH_DSTOPTS)
                + ext_opts(NH_ROUTING, 1)
                + ext_routing(NH_TCP, 4, ["2001:db8::a", "2001:db8::1"]),
                first_nh=NH_HOPOPTS,
            ),
        ),
        (
            "IPv6 routing header type 0: drop",
            v6(C6, SRV6, tcp(40011, 443), ext=ext_routing(NH_TCP, 0, ["2001:db8::66"]), first_nh=NH_ROUTING),
        ),
        (
            "IPv6 first fragment, then TCP SYN: pass",
            v6(
                C6,
                SRV6,
                tcp(40012, 443, opts=syn_opts()),
                ext=ext_fragment(NH_TCP, 0, True),
                first_nh=NH_FRAGMENT,
            ),
        ),
        (
            "IPv6 non-first fragment (offset 1448 bytes): pass",
            v6(
                C6, SRV6, b"\x00" * 32, nxt=NH_TCP, ext=ext_fragment(NH_TCP, 181, False), first_nh=NH_FRAGMENT
            ),
        ),
        (
            "IPv6 with 7 destination options headers: too many, drop",
            v6(
                C6,
                SRV6,
                udp(5000, 5001, b"x"),
                ext=b"".join(hbh(NH_DSTOPTS) for _ in range(6)) + hbh(NH_UDP),
                first_nh=NH_DSTOPTS,
            ),
        ),
        (
            "IPv6 AH, then TCP SYN: pass",
            v6(C6, SRV6, tcp(40013, 443, opts=syn_opts()), ext=ext_ah(NH_TCP), first_nh=NH_AH),
        ),
        (
            "truncated: IPv6 hop-by-hop header claiming 16 bytes, frame ends after 8: drop",
            eth(
                ipv6(
                    C6, SRV6, b"", nxt=NH_TCP, ext=bytes([NH_TCP, 1, 1, 4]) + b"\0" * 4, first_nh=NH_HOPOPTS
                ),
                0x86DD,
            ),
        ),
        ("IPv6 UDP: pass", v6(C6, SRV6, udp(5000, 53, dns_query()))),
        ("truncated: Ethernet + 20 bytes of IPv6: drop", eth(ipv6(C6, SRV6, tcp(1, 2))[:20], 0x86DD)),
        ("ARP: pass", arp_request(C1, SRV)),
        (
            "IPv4 TCP SYN with options (ihl 6) and MSS 500: drop",
            v4(C1, SRV, tcp(40014, 80, opts=syn_opts(mss=500)), opts=b"\x94\x04\x00\x00"),
        ),
    ]


def printk_capture() -> list[tuple[str, bytes]]:
    return [
        (
            "IPv4 UDP DNS: frame, eth, ipv4 (vprintk, %pI4, %s) and udp lines",
            v4(C1, SRV, udp(53001, 53, dns_query()), ident=0xABCD),
        ),
        ("IPv4 TCP SYN", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()), ident=0x0102)),
        ("IPv4 ICMP echo", v4(C2, SRV, icmp_echo(), ident=0x0BAD)),
        ("IPv4 GRE: protocol name 'other'", v4(C1, SRV, b"\x00\x00\x08\x00" + b"\0" * 20, proto=47, ident=7)),
        ("IPv4 with TTL 0: dropped after a %c line", v4(C1, SRV, tcp(40001, 80), ttl=0, ident=0xFFFF)),
        ("IPv6 ICMPv6 echo: %pI6", v6("fe80::1", "ff02::1", icmp6_echo())),
        ("ARP: not ip, %x and %X", arp_request(C1, SRV)),
        ("LLDP: not ip, ethertype 88cc / 88CC", lldp()),
        (
            "802.1Q-tagged IPv4: ethertype 8100, not ip",
            pad60(tagged(ipv4(C1, SRV, udp(1, 2, b"t")), 0x0800, ((0x8100, 42, 0),))),
        ),
        (
            "truncated: Ethernet + 10 bytes of IPv4: the truncated-header line",
            eth(ipv4(C1, SRV, tcp(1, 2))[:10]),
        ),
        ("runt: 15 bytes, dropped after a negative %d", mac(BCAST) + mac(PEER) + b"\x08\x06\x00"),
        (
            "IPv4 UDP with IP options (ihl 6): no udp line",
            v4(C1, SRV, udp(1234, 4321, b"opt"), opts=b"\x94\x04\x00\x00", ident=0x4242),
        ),
    ]


def p4_capture() -> list[tuple[str, bytes]]:
    return [
        (
            "IPv4 TCP -> 10.2.0.5: set_nexthop (MACs rewritten, TTL 64 -> 63, checksum recomputed)",
            v4(C1, "10.2.0.5", tcp(40000, 80, opts=syn_opts())),
        ),
        ("IPv4 UDP -> 10.3.0.7: set_nexthop", v4(C1, "10.3.0.7", udp(5000, 5001, b"payload"))),
        (
            "IPv4 TCP from 192.0.2.66 -> 10.2.0.5: acl deny (rule 1)",
            v4("192.0.2.66", "10.2.0.5", tcp(40001, 80)),
        ),
        (
            "IPv4 UDP from 192.0.2.66 -> 10.0.0.1: acl deny (rule 2)",
            v4("192.0.2.66", SRV, udp(40002, 53, dns_query())),
        ),
        (
            "IPv4 ICMP from 192.0.2.66 -> 10.2.0.5: no acl entry for ICMP, set_nexthop",
            v4("192.0.2.66", "10.2.0.5", icmp_echo()),
        ),
        ("IPv4 TCP -> 203.0.113.9: drop_pkt", v4(C1, "203.0.113.9", tcp(40003, 443))),
        ("IPv4 TCP -> 10.0.0.1: to_host (written back unchanged)", v4(C1, SRV, tcp(40004, 22))),
        ("IPv4 TCP -> 10.9.9.9: table miss, default action to_host", v4(C1, "10.9.9.9", tcp(40005, 80))),
        ("IPv4 TCP -> 10.2.0.5 with TTL 1: set_nexthop drops it", v4(C1, "10.2.0.5", tcp(40006, 80), ttl=1)),
        (
            "IPv4 with options (ihl 6): parser reject IPv4OptionsNotSupported",
            v4(C1, "10.2.0.5", tcp(40007, 80), opts=b"\x94\x04\x00\x00"),
        ),
        (
            "ethertype IPv4, version 5: parser reject IPv4IncorrectVersion",
            with_version(v4(C1, "10.2.0.5", tcp(40008, 80)), 5),
        ),
        ("ARP: accepted untouched", arp_request(C1, SRV)),
        ("IPv6: accepted untouched", v6(C6, SRV6, tcp(40009, 80))),
        (
            "IPv4 with a wrong header checksum -> 10.2.0.5: the deparser writes a correct one",
            with_bad_ipv4_checksum(v4(C1, "10.2.0.5", tcp(40010, 80))),
        ),
        (
            "IPv4 header only (34 bytes), protocol UDP -> 10.3.0.7: set_nexthop",
            eth(ipv4(C1, "10.3.0.7", b"", proto=17)),
        ),
    ]


def socket_filter_capture() -> list[tuple[str, bytes]]:
    return [
        ("IPv4 UDP DNS query to :53: keep all", v4(C1, SRV, udp(53001, 53, dns_query()))),
        ("IPv4 UDP DNS response from :53: keep all", v4(SRV, C1, udp(53, 53001, dns_response()))),
        ("IPv4 TCP SYN: keep 96 bytes", v4(C1, SRV, tcp(40000, 80, opts=syn_opts()))),
        ("IPv4 TCP ACK + data: drop", v4(C1, SRV, tcp(40000, 80, TCP_ACK | TCP_PSH, payload=http_get()))),
        ("IPv4 TCP FIN+ACK: keep 96", v4(C1, SRV, tcp(40000, 80, TCP_FIN | TCP_ACK, ack=9))),
        ("IPv4 TCP RST: keep 96", v4(SRV, C1, tcp(80, 40000, TCP_RST))),
        ("IPv4 ICMP echo: drop", v4(C1, SRV, icmp_echo())),
        ("IPv6 UDP DNS query: keep all (bpf_skb_load_bytes path)", v6(C6, SRV6, udp(53002, 53, dns_query()))),
        ("IPv6 TCP SYN: keep 96", v6(C6, SRV6, tcp(40001, 443, opts=syn_opts()))),
        ("IPv6 TCP ACK: drop", v6(C6, SRV6, tcp(40001, 443, TCP_ACK))),
        ("ARP: not IP, drop", arp_request(C1, SRV)),
        ("IPv4 non-first fragment: drop", v4(C1, SRV, b"\x00" * 30, proto=17, frag=185)),
        ("IPv4 UDP to :123 (ntp): drop", v4(C1, SRV, udp(123, 123, b"\x23" + b"\0" * 47))),
        (
            "truncated: IPv4 + 2 bytes of UDP: bpf_skb_load_bytes fails, drop",
            eth(ipv4(C1, SRV, udp(53001, 53))[:22]),
        ),
        (
            "truncated: IPv4 + 10 bytes of TCP: LD_IND past the end ends the program, drop",
            eth(ipv4(C1, SRV, tcp(40002, 80))[:30]),
        ),
        (
            "IPv4 TCP SYN with 1400 bytes of data (TCP Fast Open): keep 96",
            v4(C1, SRV, tcp(40003, 443, TCP_SYN, payload=b"F" * 1400, opts=syn_opts())),
        ),
    ]


# The learning bridge: stations A, B, C, E on the ingress port; R is a router pinned
# statically to port 5 (tx_ports[5] = ifindex 1, the loopback device, the only interface
# every test machine has); S is pinned to port 7, whose devmap slot is empty.
ST_A, ST_B, ST_C, ST_E = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c", "02:00:00:00:00:0e"
ST_R, ST_S = "02:00:00:00:00:b5", "02:00:00:00:00:b7"


def l2_bridge_capture() -> list[tuple[str, bytes]]:
    def frame(src: str, dst: str, body: bytes = b"") -> bytes:
        return pad60(
            eth(body or ipv4("10.5.0.1", "10.5.0.2", udp(1000, 2000, b"l2")), 0x0800, dst=dst, src=src)
        )

    return [
        (
            "A -> broadcast (ARP): learn A, flood (pass)",
            arp_request("10.5.0.10", "10.5.0.11", sender_mac=ST_A),
        ),
        ("B -> A: learn B; A is on the ingress port: filter (drop)", frame(ST_B, ST_A)),
        ("A -> B: B is on the ingress port: drop", frame(ST_A, ST_B)),
        ("A -> R (static, port 5): redirect through tx_ports[5]", frame(ST_A, ST_R)),
        ("C -> unknown D: learn C, flood (pass)", frame(ST_C, "02:00:00:00:00:0d")),
        ("multicast source address: invalid (drop)", frame("01:00:5e:00:00:01", ST_A)),
        (
            "A -> IPv6 all-nodes multicast 33:33:00:00:00:01: flood (pass)",
            pad60(eth(ipv6("fe80::a", "ff02::1", icmp6_echo()), 0x86DD, dst="33:33:00:00:00:01", src=ST_A)),
        ),
        ("R -> A: static entry for R is not relearned; A on the ingress port: drop", frame(ST_R, ST_A)),
        ("E -> S (static, port 7, empty devmap slot): redirect_map falls back to pass", frame(ST_E, ST_S)),
        ("header-only frame A -> R: redirect", mac(ST_R) + mac(ST_A) + b"\x88\xb5"),
        ("B -> R: redirect", frame(ST_B, ST_R)),
        (
            "header-only frame B -> C: C was learned on the ingress port: drop",
            mac(ST_C) + mac(ST_B) + b"\x08\x00",
        ),
    ]


VLAN_TENANTS = {100: 0, 200: 1, 400: 5}  # VLAN id -> tenant index


def map_in_map_capture() -> list[tuple[str, bytes]]:
    def on(vlan: int | None, payload: bytes, ethertype: int = 0x0800) -> bytes:
        if vlan is None:
            return pad60(eth(payload, ethertype))
        return pad60(tagged(payload, ethertype, ((0x8100, vlan, 0),)))

    return [
        ("untagged (tenant 0) TCP to :23: tenant 0 drops telnet", on(None, ipv4(C1, SRV, tcp(40000, 23)))),
        ("untagged TCP to :22: pass", on(None, ipv4(C1, SRV, tcp(40001, 22)))),
        ("VLAN 100 (tenant 0) TCP to :23: drop", on(100, ipv4(C1, SRV, tcp(40002, 23)))),
        ("VLAN 200 (tenant 1) TCP to :23: tenant 1 allows it", on(200, ipv4(C1, SRV, tcp(40003, 23)))),
        ("VLAN 200 TCP to :22: tenant 1 drops ssh", on(200, ipv4(C1, SRV, tcp(40004, 22)))),
        ("VLAN 200 TCP to :3306: drop", on(200, ipv4(C1, SRV, tcp(40005, 3306)))),
        ("VLAN 300 (no tenant): drop", on(300, ipv4(C1, SRV, tcp(40006, 80)))),
        (
            "VLAN 100 UDP to :69 (tftp): drop",
            on(100, ipv4(C1, SRV, udp(40007, 69, b"\x00\x01file\x00octet\x00"))),
        ),
        ("VLAN 100 TCP to :80: explicit pass entry", on(100, ipv4(C1, SRV, tcp(40008, 80)))),
        ("VLAN 100 ARP: pass", on(100, arp_request(C1, SRV)[14:], 0x0806)),
        ("VLAN 200 ICMP echo: pass", on(200, ipv4(C1, SRV, icmp_echo()))),
        ("VLAN 400 (tenant 5, empty ACL slot) TCP to :23: pass", on(400, ipv4(C1, SRV, tcp(40009, 23)))),
        (
            "untagged IPv6 TCP to :23: pass (ACLs are IPv4)",
            pad60(eth(ipv6(C6, SRV6, tcp(40010, 23)), 0x86DD)),
        ),
        ("truncated: VLAN tag cut short: drop", mac(DUT) + mac(PEER) + b"\x81\x00\x00\xc8"),
        (
            "truncated: VLAN 100, IPv4 + 2 bytes of TCP: drop",
            tagged(ipv4(C1, SRV, tcp(40011, 23))[:22], 0x0800, ((0x8100, 100, 0),)),
        ),
        ("VLAN 200 TCP to :3306 again: drop (second queue record)", on(200, ipv4(C2, SRV, tcp(40012, 3306)))),
    ]


def frags_capture() -> list[tuple[str, bytes]]:
    def jumbo(total: int, good: bool = True, magic: bool = True) -> bytes:
        payload_len = total - 14 - 20 - 8
        head = struct.pack("!I", 0x4A554D42) if magic else b"DATA"
        trailer = struct.pack("!I", total - 14 if good else 0xDEADBEEF)  # the IPv4 total length
        payload = head + bytes(i & 0xFF for i in range(payload_len - 8)) + trailer
        frame = eth(ipv4(C1, SRV, udp(4000, 4001, payload), df=True))
        assert len(frame) == total
        return frame

    return [
        (
            "9000-byte UDP with a good trailer: linear 3520 bytes + fragments; trailer overwritten, pass",
            jumbo(9000),
        ),
        ("9000-byte UDP with a corrupt trailer: drop", jumbo(9000, good=False)),
        ("9100-byte frame, over MAX_FRAME: drop", jumbo(9100)),
        ("1000-byte UDP with a good trailer (no fragments): pass", jumbo(1000)),
        ("1000-byte UDP without the magic: pass untouched", jumbo(1000, magic=False)),
        ("4000-byte UDP with a good trailer, in the first fragment: pass", jumbo(4000)),
        ("5000-byte UDP with a corrupt trailer: drop", jumbo(5000, good=False)),
        ("1500-byte TCP: pass", v4(C1, SRV, tcp(40000, 80, TCP_ACK, payload=b"t" * 1446))),
        ("ARP: pass", arp_request(C1, SRV)),
        (
            "UDP with the magic but no room for a trailer (60-byte frame, padded): pass",
            v4(C1, SRV, udp(4000, 4001, b"JUMB123")),
        ),
        (
            "IPv4 total length pointing past the frame's end, magic present: pass",
            eth(ipv4(C1, SRV, udp(4000, 4001, b"JUMB" + b"\0" * 40))[:60]),
        ),
        ("9018-byte UDP (exactly MAX_FRAME), good trailer: pass", jumbo(9018)),
    ]


CAPTURES = {
    "xdp_firewall": firewall_capture,
    "xdp_lb": lb_capture,
    "xdp_lb_offload": lb_capture,  # the same traffic: the two load balancers must agree
    "tc_classifier": tc_classifier_capture,
    "xdp_percpu_counter": percpu_counter_capture,
    "xdp_tailcall": tailcall_capture,
    "xdp_ringbuf": ringbuf_capture,
    "xdp_subprog_globals": subprog_globals_capture,
    "xdp_loop_parser": loop_parser_capture,
    "xdp_printk": printk_capture,
    "tc_p4_shaped": p4_capture,
    "socket_filter": socket_filter_capture,
    "xdp_l2_bridge": l2_bridge_capture,
    "xdp_map_in_map": map_in_map_capture,
    "xdp_frags": frags_capture,
}

# ---------------------------------------------------------------------------------------
# Initial map contents (what the control plane installs before the first packet)
# ---------------------------------------------------------------------------------------

XDP_DROP, XDP_PASS = 1, 2


def be32(text: str) -> bytes:
    return ip4(text)


def entry(key: bytes, value: bytes) -> dict[str, str]:
    return {"key": key.hex(), "value": value.hex()}


def firewall_maps() -> dict[str, list]:
    # struct fw_key { u8 kind; u8 proto; be16 port; be32 addr; }  struct fw_rule { u32 action; u32 id; }
    def port_rule(proto: int, port: int, action: int, rule_id: int):
        return entry(
            struct.pack("<BB", 1, proto) + struct.pack("!H", port) + b"\0" * 4,
            struct.pack("<II", action, rule_id),
        )

    def src_rule(addr: str, action: int, rule_id: int):
        return entry(struct.pack("<BBH", 2, 0, 0) + be32(addr), struct.pack("<II", action, rule_id))

    return {
        "fw_rules": [
            src_rule("192.0.2.66", XDP_DROP, 3),
            src_rule("10.1.1.1", XDP_PASS, 4),
            port_rule(6, 23, XDP_DROP, 5),
            port_rule(6, 22, XDP_PASS, 6),
            port_rule(17, 53, XDP_PASS, 7),
            port_rule(17, 161, XDP_DROP, 8),
            port_rule(1, 0, XDP_DROP, 9),
            port_rule(58, 0, XDP_PASS, 10),
            port_rule(6, 3389, XDP_DROP, 11),
        ]
    }


def lb_maps() -> dict[str, list]:
    # struct vip_key { be32 addr; be16 port; u8 proto; u8 pad; } -> struct vip_info { u32 id, n_backends; }
    def vip(addr: str, port: int, proto: int, vip_id: int, n: int):
        return entry(be32(addr) + struct.pack("!H", port) + bytes([proto, 0]), struct.pack("<II", vip_id, n))

    def backend(vip_id: int, slot: int, addr: str, backend_id: int):
        return entry(struct.pack("<II", vip_id, slot), be32(addr) + struct.pack("<I", backend_id))

    return {
        "vips": [vip(VIP1, 80, 6, 1, 3), vip(VIP1, 53, 17, 2, 2), vip(VIP2, 443, 6, 3, 0)],
        "backends": [
            backend(1, 0, "10.1.0.11", 11),
            backend(1, 1, "10.1.0.12", 12),
            backend(1, 2, "10.1.0.13", 13),
            backend(2, 0, "10.1.0.21", 21),
            backend(2, 1, "10.1.0.22", 22),
        ],
        # struct lpm_v4_key { u32 prefixlen; be32 addr; } -> u32 slot
        "client_pinning": [entry(struct.pack("<I", 24) + be32("198.51.100.0"), struct.pack("<I", 2))],
    }


def lb_offload_maps() -> dict[str, list]:
    """xdp_lb's tables in the offload sample's shapes: pinning by exact client address (a
    hash: the device has no LPM trie), the configuration in an array instead of .rodata."""
    maps = lb_maps()
    maps["client_pinning"] = [entry(be32("198.51.100.7"), struct.pack("<I", 2))]
    # struct lb_config { be32 self_addr; u8 gateway_mac[6]; u8 pad[2]; }
    mac = bytes(int(b, 16) for b in GW.split(":"))
    maps["lb_config"] = [entry(struct.pack("<I", 0), be32("10.0.0.1") + mac + b"\0\0")]
    return maps


def p4_maps() -> dict[str, list]:
    def acl(src: str, proto: int, rule_id: int):
        # struct ingress_acl_key { u32 field0 (host order); u8 field1; u8 pad[3]; }
        key = struct.pack("<IB3x", struct.unpack("!I", be32(src))[0], proto)
        return entry(key, struct.pack("<II", 1, rule_id))  # {action = acl_deny, u.acl_deny.rule_id}

    def fwd(dst: str, action: int, dmac: str = "00:00:00:00:00:00", smac: str = "00:00:00:00:00:00"):
        key = struct.pack("<I", struct.unpack("!I", be32(dst))[0])
        value = struct.pack("<I4xQQ", action, int(dmac.replace(":", ""), 16), int(smac.replace(":", ""), 16))
        return entry(key, value)

    return {
        "ingress_acl": [acl("192.0.2.66", 6, 1), acl("192.0.2.66", 17, 2)],
        "ingress_acl_defaultAction": [entry(struct.pack("<I", 0), struct.pack("<II", 0, 0))],  # NoAction
        "ingress_ipv4_fwd": [
            fwd("10.2.0.5", 1, "02:00:00:00:02:05", DUT),
            fwd("10.3.0.7", 1, "02:00:00:00:03:07", DUT),
            fwd("203.0.113.9", 2),
            fwd(SRV, 0),
        ],
        "ingress_ipv4_fwd_defaultAction": [entry(struct.pack("<I", 0), struct.pack("<I4xQQ", 0, 0, 0))],
    }


def l2_bridge_maps() -> dict[str, list]:
    def station(addr: str, port: int):
        return entry(mac(addr) + b"\0\0", struct.pack("<II", port, 1))

    return {
        "tx_ports": [entry(struct.pack("<I", 5), struct.pack("<I", 1))],
        "mac_table": [station(ST_R, 5), station(ST_S, 7)],
    }


def map_in_map_maps() -> dict[str, list]:
    def acl(proto: int, port: int, action: int):
        return entry(bytes([proto, 0]) + struct.pack("!H", port), struct.pack("<I", action))

    return {
        "vlan_tenant": [
            entry(struct.pack("<H", vlan), struct.pack("<I", tenant))
            for vlan, tenant in sorted(VLAN_TENANTS.items())
        ],
        "acl_tenant0": [acl(6, 23, XDP_DROP), acl(17, 69, XDP_DROP), acl(6, 80, XDP_PASS)],
        "acl_tenant1": [acl(6, 22, XDP_DROP), acl(6, 3306, XDP_DROP)],
    }


def capture(name: str) -> list[tuple[str, bytes]]:
    """The (description, frame) list of one program's capture, exactly as written."""
    _ip_id[0] = 0x1000  # each capture numbers its IPv4 ids from the same start
    return CAPTURES[name]()


INITIAL_MAPS = {
    "xdp_firewall.o": firewall_maps,
    "xdp_lb.o": lb_maps,
    "xdp_lb_offload.o": lb_offload_maps,
    "tc_p4_shaped.o": p4_maps,
    "xdp_l2_bridge.o": l2_bridge_maps,
    "xdp_map_in_map.o": map_in_map_maps,
}


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def check_capture(name: str, frames: list[tuple[str, bytes]]) -> None:
    """The limits from the module docstring, and sane sizes."""
    if not 5 <= len(frames) <= 40:
        raise SystemExit(f"{name}: {len(frames)} frames, want 5-40")
    for i, (desc, frame) in enumerate(frames):
        ethertype = struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else None
        minimum = 14
        if name.startswith(("tc_", "socket_")):
            minimum = {0x0800: 34, 0x86DD: 54}.get(ethertype, 14)
        if len(frame) < minimum:
            raise SystemExit(f"{name} frame {i} ({desc}): {len(frame)} bytes, the kernel needs {minimum}")


def pcap_bytes(frames: list[tuple[str, bytes]]) -> bytes:
    """The classic pcap file (little-endian, microseconds, LINKTYPE_ETHERNET) of frames."""
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
    for i, (_, frame) in enumerate(frames):
        writer.writepkt(frame, ts=T0 + i / 1000)  # dpkt rounds to whole microseconds
    return buf.getvalue()


def initial_maps() -> dict[str, dict[str, list]]:
    return {obj: build() for obj, build in INITIAL_MAPS.items()}


def initial_maps_json() -> str:
    return json.dumps(initial_maps(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    PCAP_DIR.mkdir(exist_ok=True)
    for name in CAPTURES:
        frames = capture(name)
        check_capture(name, frames)
        (PCAP_DIR / f"{name}.pcap").write_bytes(pcap_bytes(frames))
        print(f"pcaps/{name}.pcap: {len(frames)} frames")
    (HERE / "initial_maps.json").write_text(initial_maps_json())
    maps = initial_maps()
    print(f"initial_maps.json: {sum(len(v) for m in maps.values() for v in m.values())} entries")


if __name__ == "__main__":
    main()
