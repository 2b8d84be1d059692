"""Tests of the command families, driven through Session.execute as a user types them.

Shared helpers live here: where the samples are, opening a session on one, finishing a run,
and running a command that must succeed (``ok``) or fail with one clear line (``err``).
"""

from __future__ import annotations

from pathlib import Path

from bpfdbg.session import Session

SAMPLES = Path(__file__).resolve().parents[3] / "sample_progs"
INITIAL_MAPS = SAMPLES / "initial_maps.json"


def open_sample(name: str, *, prog: str | None = None, maps: bool = True, pcap: bool = True) -> Session:
    """A session on ``sample_progs/<name>.o`` (its program ``prog``, else the first) with its
    capture and initial map entries."""
    return Session.open(
        SAMPLES / f"{name}.o",
        prog=prog,
        pcap=SAMPLES / "pcaps" / f"{name}.pcap" if pcap else None,
        maps=INITIAL_MAPS if maps else None,
    )


def run_packet(session: Session, index: int = 0) -> None:
    """Run the program to its end on packet ``index`` with the session's stepping engine."""
    session.select_packet(index)
    session.run()


def ok(session: Session, line: str) -> list[str]:
    """The output of a command that must succeed."""
    result = session.execute(line)
    assert result.ok, f"{line}: {result.error}"
    return result.lines


def err(session: Session, line: str) -> str:
    """The error of a failing command: exactly one line, nothing else printed, no bug."""
    result = session.execute(line)
    assert not result.ok, f"{line} should fail, printed {result.lines}"
    assert result.error and "\n" not in result.error
    assert not result.lines, result.lines
    assert "internal error" not in result.error
    return result.error
