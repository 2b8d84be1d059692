"""Packets as the debugger shows them: tcpdump-style hex with marked bytes, a one-line
header summary, and the output packet diffed against the input.

A packet program's whole story is in its packet: which bytes the last instruction read or
wrote, and what the program changed by the time it returned. The functions here are pure
(bytes and offsets in, lines out) except :func:`step_accesses`, which asks the session what
the last instruction touched; the ``packet`` command and the TUI's packet pane share them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emulator.isa.insn import Insn
from emulator.isa.table import Form

if TYPE_CHECKING:
    from bpfdbg.session import Session

MASK64 = (1 << 64) - 1
BYTES_PER_ROW = 16

# How marked bytes are bracketed in a hex dump: written (or changed) and read.
WRITE, READ = "w", "r"
_OPEN = {WRITE: "[", READ: "<"}
_CLOSE = {WRITE: "]", READ: ">"}

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
VLAN_TYPES = (0x8100, 0x88A8)
_TCP_FLAGS = "FSRPAUEC"  # bit 0 (FIN) upwards, tcpdump's letters


# -- hex dump ------------------------------------------------------------------------------
def hexdump(data: bytes, marks: dict[int, str] | None = None, *, start: int = 0) -> list[str]:
    """``0x0000:  5254 00db 0000 0000 0000 0000 0800 4500  RT............E.`` rows.

    ``marks`` maps byte offsets to WRITE or READ; marked runs are bracketed ``[0a09 0909]``
    (written or changed) or ``<0800>`` (read), so the console shows what a colour shows in
    the TUI. Offsets in the margin count from ``start``. The ASCII column stays aligned
    whatever the brackets add.
    """
    marks = marks or {}
    rows: list[tuple[str, str, str]] = []
    for row in range(0, len(data), BYTES_PER_ROW):
        chunk = data[row : row + BYTES_PER_ROW]
        parts: list[str] = []
        current: str | None = None
        for i, byte in enumerate(chunk):
            mark = marks.get(row + i)
            if mark != current and current is not None:
                parts.append(_CLOSE[current])
            if i and i % 2 == 0:
                parts.append(" ")
            if mark != current and mark is not None:
                parts.append(_OPEN[mark])
            current = mark
            parts.append(f"{byte:02x}")
        if current is not None:
            parts.append(_CLOSE[current])
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        rows.append((f"0x{start + row:04x}:", "".join(parts), text))
    width = max((len(hexpart) for _, hexpart, _ in rows), default=0)
    return [f"{margin}  {hexpart:<{width}}  {text}" for margin, hexpart, text in rows]


# -- what the last instruction touched --------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """``size`` bytes at ``addr`` that the last instruction read (READ) or wrote (WRITE)."""

    addr: int
    size: int
    kind: str


def insn_reads(insn: Insn, regs: tuple[int, ...] | list[int], pkt_base: int | None) -> list[Access]:
    """The memory an instruction reads, given the registers *before* it ran: LDX (``src +
    off``), atomics (``dst + off``, which also write) and the legacy packet loads LD_ABS
    (``pkt + imm``) and LD_IND (``pkt + src + imm``)."""
    info = insn.info
    if info is None:
        return []
    size = info.size
    form = info.form
    if form in (Form.LDX, Form.LDXSX):
        return [Access((regs[insn.src] + insn.off) & MASK64, size, READ)]
    if form is Form.ATOMIC:
        return [Access((regs[insn.dst] + insn.off) & MASK64, size, READ)]
    if form is Form.LD_ABS and pkt_base is not None:
        return [Access((pkt_base + insn.imm) & MASK64, size, READ)]
    if form is Form.LD_IND and pkt_base is not None:
        addr = pkt_base + regs[insn.src] + insn.imm
        return [Access(addr & MASK64, size, READ)]
    return []


def starts_at_l2(session: Session) -> bool:
    """Whether the machine's packet starts at the MAC header (socket filters start at L3)."""
    return session.program.prog_type != "socket"


def loaded_packet(session: Session) -> bytes:
    """The input packet as the machine got it: a socket filter's starts at the IP header."""
    data = session.run_input().packet or b""
    return data if starts_at_l2(session) else data[14:]


def insn_accesses(insn: Insn, regs: tuple[int, ...] | list[int], pkt_base: int | None) -> list[Access]:
    """What an instruction about to run will touch, from the registers now: its reads
    (:func:`insn_reads`) and its stores (ST/STX at ``dst + off``; atomics write too)."""
    out = insn_reads(insn, regs, pkt_base)
    info = insn.info
    if info is not None and info.form in (Form.ST, Form.STX, Form.ATOMIC):
        out.append(Access((regs[insn.dst] + insn.off) & MASK64, info.size, WRITE))
    return out


def step_accesses(session: Session) -> list[Access]:
    """Memory the last executed instruction read and wrote. Writes come from the step's
    journal; reads are recomputed from the instruction at the step's pc with the registers
    as they were before it (the journal's old values undo its register writes)."""
    step = session.last_step
    if step is None or not session.started:
        return []
    out = [Access(w.addr, len(w.new), WRITE) for w in step.mem]
    if step.next_pc != step.pc + 1:
        return out  # loads fall through; anything else (a jump, a tail call) read no memory
    insn = session.program_named(session.current_program).insn_at(step.pc)
    if insn is None:
        return out
    regs = list(session.regs)
    for w in reversed(step.regs):
        regs[w.reg] = w.old
    pkt = session.state().regions.get("pkt")
    out.extend(insn_reads(insn, regs, pkt.base if pkt is not None else None))
    return out


def marks_in(accesses: list[Access], base: int, size: int) -> dict[int, str]:
    """The accesses that fall inside ``[base, base + size)``, as hexdump marks (a byte both
    read and written shows as written: the new value is the news)."""
    marks: dict[int, str] = {}
    for access in accesses:
        for addr in range(access.addr, access.addr + access.size):
            if base <= addr < base + size:
                off = addr - base
                if marks.get(off) != WRITE:
                    marks[off] = access.kind
    return marks


def legend(who: str, *marks: dict[int, str]) -> str | None:
    """``[..] written, <..> read by insn 22: r3 = *(u8 *)(r2 + 12)`` (None without marks)."""
    kinds = {kind for m in marks for kind in m.values()}
    if not kinds:
        return None
    parts = []
    if WRITE in kinds:
        parts.append("[..] written")
    if READ in kinds:
        parts.append("<..> read")
    return f"{', '.join(parts)} by {who}"


# -- decoding ---------------------------------------------------------------------------------
def summary(frame: bytes, *, l2: bool = True) -> str:
    """A one-line description of the headers: ``eth/ipv4/tcp 10.0.0.1:40000 -> 10.0.0.2:80 [S]``,
    ``eth/vlan(100)/ipv6/udp [2001:db8::1]:53 -> [2001:db8::2]:5353``, ``eth/arp``,
    ``eth (type 0x88cc)``; a header cut short says ``(truncated)``. ``l2=False`` decodes
    from the IP header (a socket filter's view without its MAC header)."""
    layers: list[str] = []
    if l2:
        if len(frame) < 14:
            return f"eth (truncated: {len(frame)} bytes)"
        layers.append("eth")
        ethertype = int.from_bytes(frame[12:14], "big")
        off = 14
        while ethertype in VLAN_TYPES:
            if len(frame) < off + 4:
                return "/".join([*layers, "vlan"]) + " (truncated)"
            vid = int.from_bytes(frame[off : off + 2], "big") & 0x0FFF
            layers.append(f"vlan({vid})")
            ethertype = int.from_bytes(frame[off + 2 : off + 4], "big")
            off += 4
    else:
        off = 0
        version = frame[0] >> 4 if frame else 0
        ethertype = {4: ETH_P_IP, 6: ETH_P_IPV6}.get(version, 0)
        if not ethertype:
            return f"{len(frame)} bytes, not IPv4 or IPv6"
    if ethertype == ETH_P_ARP:
        return "/".join([*layers, "arp"])
    if ethertype == ETH_P_IP:
        return _ipv4(frame, off, layers)
    if ethertype == ETH_P_IPV6:
        return _ipv6(frame, off, layers)
    return "/".join(layers) + f" (type {ethertype:#06x})"


def _ipv4(frame: bytes, off: int, layers: list[str]) -> str:
    layers.append("ipv4")
    if len(frame) < off + 20:
        return "/".join(layers) + " (truncated)"
    ihl = (frame[off] & 0x0F) * 4
    proto = frame[off + 9]
    src = str(ipaddress.IPv4Address(frame[off + 12 : off + 16]))
    dst = str(ipaddress.IPv4Address(frame[off + 16 : off + 20]))
    frag = int.from_bytes(frame[off + 6 : off + 8], "big")
    if frag & 0x1FFF:
        return "/".join(layers) + f" {src} -> {dst} fragment (offset {(frag & 0x1FFF) * 8}, proto {proto})"
    return _l4(frame, off + max(ihl, 20), proto, src, dst, layers)


def _ipv6(frame: bytes, off: int, layers: list[str]) -> str:
    layers.append("ipv6")
    if len(frame) < off + 40:
        return "/".join(layers) + " (truncated)"
    nexthdr = frame[off + 6]
    src = f"[{ipaddress.IPv6Address(frame[off + 8 : off + 24])}]"
    dst = f"[{ipaddress.IPv6Address(frame[off + 24 : off + 40])}]"
    return _l4(frame, off + 40, nexthdr, src, dst, layers)


def _l4(frame: bytes, off: int, proto: int, src: str, dst: str, layers: list[str]) -> str:
    if proto in (6, 17):
        layers.append("tcp" if proto == 6 else "udp")
        need = 20 if proto == 6 else 8
        if len(frame) < off + need:
            return "/".join(layers) + f" {src} -> {dst} (truncated)"
        sport = int.from_bytes(frame[off : off + 2], "big")
        dport = int.from_bytes(frame[off + 2 : off + 4], "big")
        text = "/".join(layers) + f" {src}:{sport} -> {dst}:{dport}"
        if proto == 6:
            bits = frame[off + 13]
            flags = "".join(ch for i, ch in enumerate(_TCP_FLAGS) if bits >> i & 1)
            text += f" [{flags or '.'}]"
        return text
    if proto in (1, 58):
        layers.append("icmp" if proto == 1 else "icmp6")
        if len(frame) < off + 2:
            return "/".join(layers) + f" {src} -> {dst} (truncated)"
        return "/".join(layers) + f" {src} -> {dst} type {frame[off]} code {frame[off + 1]}"
    return "/".join(layers) + f" {src} -> {dst} proto {proto}"


# -- output against input ---------------------------------------------------------------------
@dataclass(frozen=True)
class PacketDiff:
    """The output packet against the input: ``marks`` are offsets into ``after`` that changed
    or were added; ``note`` says how the length changed ("" when it did not)."""

    before: bytes
    after: bytes
    marks: dict[int, str]
    note: str

    @property
    def changed(self) -> int:
        return len(self.marks)


def diff(before: bytes, after: bytes) -> PacketDiff:
    """Compare the packets, aligning them at the front or the back when the length changed
    (bpf_xdp_adjust_head moves the start, adjust_tail the end): whichever alignment leaves
    fewer differing bytes wins, so a pushed header shows as added bytes, not a shifted
    packet that differs everywhere."""
    delta = len(after) - len(before)
    if delta == 0:
        marks = {i: WRITE for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
        return PacketDiff(before, after, marks, "")
    # front: after[max(delta,0):] lines up with before[max(-delta,0):]
    front_marks = {i: WRITE for i in range(max(delta, 0))}
    a_off, b_off = max(delta, 0), max(-delta, 0)
    for i in range(min(len(after) - a_off, len(before) - b_off)):
        if after[a_off + i] != before[b_off + i]:
            front_marks[a_off + i] = WRITE
    back_marks = {i: WRITE for i in range(min(len(before), len(after))) if before[i] != after[i]}
    back_marks.update({i: WRITE for i in range(len(before), len(after))})
    n = abs(delta)
    unit = "byte" if n == 1 else "bytes"
    if len(front_marks) <= len(back_marks):
        where = "added at the front" if delta > 0 else "removed from the front"
        return PacketDiff(before, after, front_marks, f"{n} {unit} {where}")
    where = "added at the end" if delta > 0 else "removed from the end"
    return PacketDiff(before, after, back_marks, f"{n} {unit} {where}")


def diff_lines(d: PacketDiff, *, l2: bool = True) -> list[str]:
    """The header line, the output packet with changed bytes bracketed, and what the
    brackets mean; one line when nothing changed."""
    if d.before == d.after:
        return [f"packet out = packet in (no bytes changed, {len(d.after)} bytes): {summary(d.after, l2=l2)}"]
    length = f"{len(d.after)} bytes" + (f", was {len(d.before)}: {d.note}" if d.note else "")
    changed = sum(1 for off in d.marks if off < len(d.after))
    lines = [f"packet out ({length}; {changed} bytes changed or added): {summary(d.after, l2=l2)}"]
    lines.extend(hexdump(d.after, d.marks))
    lines.append("[..] changed or added by the program")
    return lines
