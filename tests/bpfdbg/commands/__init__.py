"""Tests of the command families, driven through Session.execute as a user types them.

Shared helpers live here: where the samples are, opening a session on one, and finishing a
run either through the stepping engine (``session.run()``) or, where that cannot run a
program yet, by driving the backend directly (what the Session's run would do).
"""

from __future__ import annotations

from pathlib import Path

from bpfdbg.session import Session
from emulator.state import StopCondition

SAMPLES = Path(__file__).resolve().parents[3] / "sample_progs"
INITIAL_MAPS = SAMPLES / "initial_maps.json"


def open_sample(name: str, *, maps: bool = True, pcap: bool = True) -> Session:
    """A session on ``sample_progs/<name>.o`` with its capture and initial map entries."""
    return Session.open(
        SAMPLES / f"{name}.o",
        pcap=SAMPLES / "pcaps" / f"{name}.pcap" if pcap else None,
        maps=INITIAL_MAPS if maps else None,
    )


def run_packet(session: Session, index: int = 0) -> None:
    """Run the program to its end on packet ``index`` with the session's stepping engine."""
    session.select_packet(index)
    session.run()


def drive_backend(session: Session, index: int = 0) -> None:
    """Run packet ``index`` on the backend directly, bypassing the stepping engine (whose
    checkpoints cannot yet size a ring buffer map), and mark the run finished."""
    session.select_packet(index)
    backend = session.machine()
    backend.reset(session.run_input())
    backend.run(StopCondition())
    session.status = "exited"
