"""The stepping engine does not change what a program computes: every sample program on
every packet of its capture, driven through the Session by ``run``, by ``next`` (line
stepping over calls) and by ``stepi``, with a short checkpoint interval so that the run is
chunked and checkpointed mid-way, ends exactly as a plain backend run does (which
tests/differential checks against the kernel): verdict, packet out, trace lines and maps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfdbg.session import Session
from emulator.backends.interp.backend import InterpBackend
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StopCondition

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
ENTRY = {"xdp_tailcall": "xdp_dispatch"}
NAMES = sorted(p.stem for p in SAMPLES.glob("*.o"))


def _plain_runs(name: str, program: str | None) -> list[tuple[object, ...]]:
    from bpfdbg.capture import read_capture, read_map_entries

    obj = load_object(SAMPLES / f"{name}.o")
    prog = obj.program(program) if program else obj.programs[0]
    entries = read_map_entries(SAMPLES / "initial_maps.json", f"{name}.o")
    backend = InterpBackend()
    assert backend.load(prog, Environment.for_object(obj, map_entries=entries)).ok
    out = []
    for packet in read_capture(SAMPLES / "pcaps" / f"{name}.pcap"):
        backend.reset(RunInput(packet=packet.data))
        end = backend.run(StopCondition())
        out.append(_outcome(end.retval, backend))
    return out


def _outcome(retval: int | None, backend: object) -> tuple[object, ...]:
    state = backend.state()  # type: ignore[attr-defined]
    pkt = state.regions.get("pkt")
    maps = json.dumps(state.maps, sort_keys=True, default=str)
    return (retval, pkt.data if pkt else None, tuple(backend.output), maps)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["run", "next", "stepi"])
@pytest.mark.parametrize("name", NAMES)
def test_session_runs_end_like_plain_runs(name: str, mode: str) -> None:
    program = ENTRY.get(name)
    expected = _plain_runs(name, program)
    session = Session.open(
        SAMPLES / f"{name}.o",
        prog=program,
        pcap=SAMPLES / "pcaps" / f"{name}.pcap",
        maps=SAMPLES / "initial_maps.json",
        history_interval=7,
    )
    for index, want in enumerate(expected):
        session.select_packet(index)
        if mode == "run":
            stop = session.run()
        else:
            stop = session.start()
            while session.live:
                stop = session.next() if mode == "next" else session.stepi()
        assert stop.reason == "exited", (name, index, stop)
        assert _outcome(stop.retval, session.machine()) == want, (name, index, mode)
