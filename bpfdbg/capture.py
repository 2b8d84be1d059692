"""Packets from capture files (pcap and pcapng, through dpkt) and from hex on the command line.

Bad input gets one clear message: a file that is not a capture, a truncated record, a
capture whose link type is not Ethernet (XDP and TC see Ethernet frames).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import dpkt

LINKTYPE_ETHERNET = 1


class CaptureError(Exception):
    """A capture file that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class CapturedPacket:
    index: int
    data: bytes
    timestamp: float = 0.0


def read_capture(path: str | Path) -> list[CapturedPacket]:
    """Every packet of a pcap or pcapng file, in order (index from 0)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CaptureError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) < 4:
        raise CaptureError(f"{path} is not a pcap or pcapng capture (only {len(raw)} bytes)")
    try:
        stream = io.BytesIO(raw)
        if raw[:4] == b"\x0a\x0d\x0d\x0a":
            reader: dpkt.pcap.Reader | dpkt.pcapng.Reader = dpkt.pcapng.Reader(stream)
        else:
            reader = dpkt.pcap.Reader(stream)
    except (ValueError, dpkt.dpkt.Error) as err:
        raise CaptureError(f"{path} is not a pcap or pcapng capture ({err}); write one with "
                           "tcpdump -w or Wireshark") from None  # fmt: skip
    linktype = reader.datalink()
    if linktype != LINKTYPE_ETHERNET:
        raise CaptureError(f"{path} has link type {linktype}, not Ethernet (1); capture on an "
                           "Ethernet interface (XDP and TC programs see Ethernet frames)")  # fmt: skip
    packets: list[CapturedPacket] = []
    try:
        for ts, data in reader:
            packets.append(CapturedPacket(len(packets), bytes(data), float(ts)))
        damaged = _check_pcap_records(raw, len(packets)) if raw[:4] != b"\x0a\x0d\x0d\x0a" else None
        if damaged is not None:
            del packets[damaged[0] :]
            raise ValueError(damaged[1])
    except (ValueError, dpkt.dpkt.Error, struct.error) as err:
        raise CaptureError(f"{path}: record {len(packets)} is damaged ({err}); "
                           f"the {len(packets)} packets before it are readable") from None  # fmt: skip
    return packets


def _check_pcap_records(raw: bytes, count: int) -> tuple[int, str] | None:
    """dpkt hands back a record cut short by the end of the file as a shorter packet;
    walk the record headers (16 bytes: seconds, fraction, captured length, wire length)
    so that a truncated capture is reported instead of silently altered. Returns the first
    damaged record's index and what is wrong with it."""
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos = 24
    for index in range(count):
        if pos + 16 > len(raw):
            return index, "its header is cut short"
        caplen = struct.unpack_from(order + "I", raw, pos + 8)[0]
        if pos + 16 + caplen > len(raw):
            return (
                index,
                f"it should hold {caplen} bytes but the file ends {pos + 16 + caplen - len(raw)} bytes early",
            )
        pos += 16 + caplen
    return None


def parse_hex_packet(text: str) -> bytes:
    """``--packet`` values: hex bytes with optional spaces, colons or a 0x prefix."""
    cleaned = text.strip().removeprefix("0x").replace(":", "").replace(" ", "").replace("\n", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise CaptureError(
            f"--packet must be hex bytes like 'ffffffffffff0200...', got {text[:40]!r}"
        ) from None


def read_map_entries(path: str | Path, object_name: str = "") -> tuple[tuple[str, bytes, bytes], ...]:
    """Map entries to install before the first run, from JSON: ``{"map": [{"key": hex,
    "value": hex}, ...]}`` (the ``bpfdbg run --json`` shape), or the same nested under object
    file names (``{"xdp_firewall.o": {...}}``), of which ``object_name``'s is used."""
    import json

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CaptureError(f"cannot read map entries from {path}: {err}") from None
    if not isinstance(data, dict):
        raise CaptureError(f"{path}: expected a JSON object of map names")
    if object_name in data and isinstance(data[object_name], dict):
        data = data[object_name]
    elif data and all(isinstance(v, dict) for v in data.values()):
        return ()  # a file for several objects, with nothing for this one
    entries = []
    for name, rows in data.items():
        if not isinstance(rows, list):
            raise CaptureError(f'{path}: map {name!r} must list {{"key": hex, "value": hex}} entries')
        for row in rows:
            try:
                entries.append((name, bytes.fromhex(row["key"]), bytes.fromhex(row["value"])))
            except (KeyError, TypeError, ValueError):
                raise CaptureError(f"{path}: map {name!r}: bad entry {row!r}; use hex strings") from None
    return tuple(entries)
