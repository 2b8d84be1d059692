"""Packets from captures (pcap in micro- and nanoseconds, pcapng), from hex and from the
builder; every bad input is one clear CaptureError/PacketSpecError."""

from __future__ import annotations

import io
from pathlib import Path

import dpkt
import pytest

from bpfdbg.capture import CaptureError, parse_hex_packet, read_capture, read_map_entries
from bpfdbg.packets import PacketSpecError, build_packet

FRAMES = [build_packet("eth/ipv4/udp(dport=53)/payload(len=10)"), build_packet("eth/ipv6/tcp(dport=443)")]


def _pcap(path: Path, nano: bool = False, linktype: int = 1) -> Path:
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, linktype=linktype, nano=nano)
    for i, frame in enumerate(FRAMES):
        writer.writepkt(frame, ts=1700000000 + i * 0.5)
    path.write_bytes(buf.getvalue())
    return path


def _pcapng(path: Path) -> Path:
    buf = io.BytesIO()
    writer = dpkt.pcapng.Writer(buf)
    for i, frame in enumerate(FRAMES):
        writer.writepkt(frame, ts=1700000000 + i)
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(
    "make", [_pcap, lambda p: _pcap(p, nano=True), _pcapng], ids=["pcap-us", "pcap-ns", "pcapng"]
)
def test_captures_of_every_kind_read_back(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    packets = read_capture(make(tmp_path / "c.cap"))
    assert [p.data for p in packets] == FRAMES
    assert [p.index for p in packets] == [0, 1]
    assert packets[1].timestamp > packets[0].timestamp


def test_a_damaged_record_is_named(tmp_path: Path) -> None:
    path = _pcap(tmp_path / "c.pcap")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CaptureError, match="record 1 is damaged"):
        read_capture(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a pcap"), (b"hello world, not a capture", "not a pcap or pcapng")],
)
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        read_capture(path)


def test_link_types_without_ethernet_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="not Ethernet"):
        read_capture(_pcap(tmp_path / "raw.pcap", linktype=101))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "nope.pcap")


def test_hex_packets() -> None:
    assert parse_hex_packet("ff:ff 00") == b"\xff\xff\x00"  # separators are ignored
    assert parse_hex_packet("0xffff0000") == b"\xff\xff\x00\x00"
    with pytest.raises(CaptureError, match="hex bytes"):
        parse_hex_packet("xyz")


@pytest.mark.parametrize(
    ("spec", "layer"),
    [("eth/ipv4/tcp(dport=80,flags=SA)", dpkt.tcp.TCP), ("ipv4/udp", dpkt.udp.UDP),
     ("eth/ipv6/icmp6", dpkt.icmp6.ICMP6), ("eth/ipv4/icmp(type=0)", dpkt.icmp.ICMP)],
)  # fmt: skip
def test_built_packets_parse_with_valid_checksums(spec: str, layer: type) -> None:
    frame = build_packet(spec)
    assert len(frame) >= 60
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    assert isinstance(ip.data, layer)
    rebuilt = bytes(ip)  # dpkt recomputes checksums that are zero; ours must already be right
    if isinstance(ip, dpkt.ip.IP):
        original = frame[14 : 14 + ip.len]
        ip.sum = 0
        assert bytes(ip)[:20] == original[:20]
    assert rebuilt


def test_vlan_and_fields() -> None:
    frame = build_packet("eth(src=02:00:00:00:00:09)/vlan(id=7,prio=3)/ipv4(src=10.9.9.9,ttl=5)/udp(sport=7)")
    assert frame[6:12] == bytes.fromhex("020000000009")
    assert frame[12:16] == bytes.fromhex("8100") + ((3 << 13) | 7).to_bytes(2, "big")
    assert (
        frame[16:18] == b"\x08\x00"
        and frame[18 + 8] == 5
        and frame[18 + 12 : 18 + 16] == bytes([10, 9, 9, 9])
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [("eth/foo", "unknown layer"), ("ipv4(src=1.2.3)", "not an IPv4 address"), ("tcp(flags=Z)", "FSRPAU"),
     ("udp(x=1)", "no field 'x'"), ("eth(src=zz)", "MAC address"), ("ipv4(ttl=abc)", "must be a number"),
     ("", "empty")],
)  # fmt: skip
def test_builder_errors(spec: str, message: str) -> None:
    with pytest.raises(PacketSpecError, match=message):
        build_packet(spec)


def test_map_entries_file(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text('{"counters": [{"key": "00000000", "value": "0100000000000000"}]}')
    assert read_map_entries(flat) == (("counters", bytes(4), (1).to_bytes(8, "little")),)
    nested = tmp_path / "nested.json"
    nested.write_text('{"a.o": {"m": [{"key": "01", "value": "02"}]}, "b.o": {}}')
    assert read_map_entries(nested, "a.o") == (("m", b"\x01", b"\x02"),)
    assert read_map_entries(nested, "c.o") == ()
    bad = tmp_path / "bad.json"
    bad.write_text('{"m": [{"key": "zz", "value": "00"}]}')
    with pytest.raises(CaptureError, match="bad entry"):
        read_map_entries(bad)
