"""A small packet builder: ``eth/ipv4(dst=10.0.0.1)/tcp(dport=80,flags=S)/payload(len=20)``.

Users craft test packets without a capture: layers separated by ``/``, each with optional
``key=value`` fields; anything left out gets a sensible default, lengths, protocol numbers
and checksums are filled in (dpkt computes them). Layers: ``eth(src,dst,type)``,
``vlan(id,prio)``, ``ipv4(src,dst,ttl,id,tos,proto)``, ``ipv6(src,dst,hlim,flow)``,
``udp(sport,dport)``, ``tcp(sport,dport,flags,seq,ack,win)``, ``icmp(type,code)``,
``icmp6(type,code)``, ``payload(hex=...)`` or ``payload(len=N)``.
"""

from __future__ import annotations

import ipaddress
import re
import struct

import dpkt

_LAYER = re.compile(r"^(?P<name>[a-z0-9]+)(?:\((?P<args>[^()]*)\))?$")
_TCP_FLAGS = {
    "F": dpkt.tcp.TH_FIN,
    "S": dpkt.tcp.TH_SYN,
    "R": dpkt.tcp.TH_RST,
    "P": dpkt.tcp.TH_PUSH,
    "A": dpkt.tcp.TH_ACK,
    "U": dpkt.tcp.TH_URG,
}
LAYERS = ("eth", "vlan", "ipv4", "ipv6", "udp", "tcp", "icmp", "icmp6", "payload")


class PacketSpecError(ValueError):
    """A builder expression that does not describe a packet; the message says what is wrong."""


def _mac(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise PacketSpecError(f"{text!r} is not a MAC address (like 02:00:00:00:00:01)")
    return raw


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise PacketSpecError(f"{what} must be a number, got {text!r}") from None


def _ip(text: str, version: int) -> bytes:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        addr = None
    if addr is None or addr.version != version:
        raise PacketSpecError(f"{text!r} is not an IPv{version} address")
    return addr.packed


def _parse(spec: str) -> list[tuple[str, dict[str, str]]]:
    layers = []
    for part in [p.strip() for p in spec.split("/") if p.strip()]:
        match = _LAYER.match(part)
        if match is None or match["name"] not in LAYERS:
            raise PacketSpecError(f"unknown layer {part!r}; layers: {', '.join(LAYERS)}")
        fields: dict[str, str] = {}
        for item in filter(None, (a.strip() for a in (match["args"] or "").split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise PacketSpecError(f"{part}: write fields as key=value, got {item!r}")
            fields[key.strip()] = value.strip()
        layers.append((match["name"], fields))
    if not layers:
        raise PacketSpecError("empty packet description")
    return layers


def _take(fields: dict[str, str], layer: str, allowed: set[str]) -> dict[str, str]:
    unknown = set(fields) - allowed
    if unknown:
        raise PacketSpecError(
            f"{layer} has no field {sorted(unknown)[0]!r} (fields: {', '.join(sorted(allowed))})"
        )
    return fields


def build_packet(spec: str) -> bytes:
    """The frame a builder expression describes (an Ethernet header is added if missing)."""
    layers = _parse(spec)
    if layers[0][0] != "eth":
        layers.insert(0, ("eth", {}))
    inner: dpkt.Packet | bytes = b""
    inner_type = 0x88B5  # ethertype of what is built so far (local experimental for raw bytes)
    # build from the innermost layer outwards
    for name, fields in reversed(layers):
        if name == "payload":
            f = _take(fields, name, {"hex", "len"})
            try:
                inner = bytes.fromhex(f["hex"]) if "hex" in f else bytes(_int(f.get("len", "0"), "len"))
            except ValueError:
                raise PacketSpecError(f"payload hex must be hex bytes, got {f['hex']!r}") from None
        elif name == "udp":
            f = _take(fields, name, {"sport", "dport"})
            inner = dpkt.udp.UDP(
                sport=_int(f.get("sport", "1024"), "sport"),
                dport=_int(f.get("dport", "53"), "dport"),
                data=bytes(inner),
            )
            inner.ulen = len(inner)
        elif name == "tcp":
            f = _take(fields, name, {"sport", "dport", "flags", "seq", "ack", "win"})
            flags = 0
            for ch in f.get("flags", "S"):
                if ch not in _TCP_FLAGS:
                    raise PacketSpecError(f"tcp flags are letters of FSRPAU, got {f['flags']!r}")
                flags |= _TCP_FLAGS[ch]
            inner = dpkt.tcp.TCP(
                sport=_int(f.get("sport", "1024"), "sport"),
                dport=_int(f.get("dport", "80"), "dport"),
                flags=flags,
                seq=_int(f.get("seq", "1"), "seq"),
                ack=_int(f.get("ack", "0"), "ack"),
                win=_int(f.get("win", "65535"), "win"),
                data=bytes(inner),
            )
        elif name == "icmp":
            f = _take(fields, name, {"type", "code"})
            inner = dpkt.icmp.ICMP(
                type=_int(f.get("type", "8"), "type"),
                code=_int(f.get("code", "0"), "code"),
                data=bytes(4) + bytes(inner),
            )
        elif name == "icmp6":
            f = _take(fields, name, {"type", "code"})
            inner = dpkt.icmp6.ICMP6(
                type=_int(f.get("type", "128"), "type"),
                code=_int(f.get("code", "0"), "code"),
                data=bytes(4) + bytes(inner),
            )
        elif name == "ipv4":
            f = _take(fields, name, {"src", "dst", "ttl", "id", "tos", "proto"})
            proto = _proto(inner, f.get("proto"), v6=False)
            ip = dpkt.ip.IP(
                src=_ip(f.get("src", "10.0.0.1"), 4),
                dst=_ip(f.get("dst", "10.0.0.2"), 4),
                ttl=_int(f.get("ttl", "64"), "ttl"),
                id=_int(f.get("id", "1"), "id"),
                tos=_int(f.get("tos", "0"), "tos"),
                p=proto,
                data=inner,
            )
            ip.len = len(ip)
            inner, inner_type = ip, 0x0800
        elif name == "ipv6":
            f = _take(fields, name, {"src", "dst", "hlim", "flow"})
            proto = _proto(inner, None, v6=True)
            ip6 = dpkt.ip6.IP6(
                src=_ip(f.get("src", "fd00::1"), 6),
                dst=_ip(f.get("dst", "fd00::2"), 6),
                hlim=_int(f.get("hlim", "64"), "hlim"),
                nxt=proto,
                data=inner,
            )
            ip6.flow = _int(f.get("flow", "0"), "flow")
            ip6.plen = len(bytes(inner))
            inner, inner_type = ip6, 0x86DD
        elif name == "vlan":
            f = _take(fields, name, {"id", "prio"})
            tci = (_int(f.get("prio", "0"), "prio") << 13) | _int(f.get("id", "100"), "id")
            inner, inner_type = struct.pack("!HH", tci, inner_type) + bytes(inner), 0x8100
        elif name == "eth":
            f = _take(fields, name, {"src", "dst", "type"})
            etype = _int(f["type"], "type") if "type" in f else inner_type
            frame = _mac(f.get("dst", "02:00:00:00:00:02")) + _mac(f.get("src", "02:00:00:00:00:01"))
            frame += struct.pack("!H", etype) + bytes(inner)
            return frame.ljust(60, b"\0")  # the Ethernet minimum, as a NIC delivers it
    raise AssertionError("eth is always the outermost layer")


def _proto(inner: dpkt.Packet | bytes, given: str | None, v6: bool) -> int:
    if given is not None:
        return _int(given, "proto")
    for cls, number in ((dpkt.tcp.TCP, 6), (dpkt.udp.UDP, 17), (dpkt.icmp.ICMP, 1), (dpkt.icmp6.ICMP6, 58)):
        if isinstance(inner, cls):
            return number
    return 59 if v6 else 255  # no next header / reserved
