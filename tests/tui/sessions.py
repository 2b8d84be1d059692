"""Sessions on the sample programs for the TUI tests (no Textual here: the presenter tests
import this)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bpfdbg.session import Session
from emulator.program import Program

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_progs"
MAPS = SAMPLES / "initial_maps.json"
WIDE = (140, 45)
NARROW = (80, 24)

# r0 = 0; loop: ja -1 (jumps to itself forever); exit
ENDLESS = bytes.fromhex("b700000000000000 0500ffff00000000 9500000000000000")
# r1 = 0; r2 = *(u32 *)(r1 + 0) (a null read faults); exit
NULL_READ = bytes.fromhex("b701000000000000 6112000000000000 9500000000000000")


def sample(name: str = "xdp_lb", packet: int | None = None, **settings: Any) -> Session:
    """A session on sample_progs/NAME.o with its capture and the shared map entries."""
    session = Session.open(
        SAMPLES / f"{name}.o", pcap=SAMPLES / "pcaps" / f"{name}.pcap", maps=MAPS, **settings
    )
    if packet is not None:
        session.select_packet(packet)
    return session


def raw(code: bytes, name: str, **settings: Any) -> Session:
    """A session on raw instruction slots (no ELF, no packet)."""
    return Session.from_program(Program.from_bytes(code, name=name), **settings)


def text_of(lines: Any) -> str:
    return "\n".join(t.plain for t in lines.lines)
