"""Every sample program on every packet of its capture, on ``interp`` and on the real
kernel: the same verdict, the same packet out, and the same map contents after the
capture (maps carry over from packet to packet on both, as in a real deployment). Trace
lines are compared with the kernel's, recorded from trace_pipe (sample_progs/
expected_trace.json). Skipped only where the kernel refuses bpf().

Deliberate differences, not compared:
- maps whose contents user space cannot read element by element (ring buffers, perf
  event arrays, prog_arrays, maps of maps, queues, devmaps): the kernel shows us nothing;
- the order of hash-map entries: the kernel seeds its hash at random, so entries are
  compared as sets;
- the frags program's packets beyond 3520 bytes: the kernel splits them into fragments,
  bpfdbg keeps XDP packets linear (not modelled yet), so their bytes and the program's
  fragment statistics differ; the verdicts still match.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bpfdbg.capture import read_capture, read_map_entries
from emulator.backends.base import create
from emulator.backends.kernel.syscall import available
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.maps import MapType
from emulator.state import StopCondition, StopReason

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
EXPECTED = json.loads((SAMPLES / "expected_kernel.json").read_text()) if SAMPLES.is_dir() else {}
TRACES = json.loads((SAMPLES / "expected_trace.json").read_text()) if SAMPLES.is_dir() else {}
CASES = [(obj, prog) for obj, progs in sorted(EXPECTED.items()) for prog in sorted(progs)]
_UNREADABLE = {MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.RINGBUF,
               MapType.PERF_EVENT_ARRAY, MapType.QUEUE, MapType.STACK, MapType.DEVMAP, MapType.DEVMAP_HASH,
               MapType.CPUMAP, MapType.XSKMAP}  # fmt: skip
LINEAR_LIMIT = 3520


@pytest.fixture(autouse=True)
def _on_cpu_0():  # type: ignore[no-untyped-def]
    """Per-CPU maps: the kernel's test run executes on the calling CPU, interp on CPU 0."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    yield
    os.sched_setaffinity(0, before)


@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_sample_matches_the_kernel(obj_name: str, prog_name: str) -> None:
    obj = load_object(SAMPLES / obj_name)
    prog = obj.program(prog_name)
    entries = read_map_entries(SAMPLES / "initial_maps.json", obj_name)
    env = Environment.for_object(obj, map_entries=entries)
    packets = read_capture(SAMPLES / "pcaps" / (Path(obj_name).stem + ".pcap"))
    ours, kernel = create("interp"), create("kernel")
    assert ours.load(prog, env).ok
    report = kernel.load(prog, env)
    assert report.ok, report.diagnostics
    traces = TRACES.get(obj_name, {}).get(prog_name)
    for packet in packets:
        results = []
        for machine in (ours, kernel):
            machine.reset(RunInput(packet=packet.data))
            event = machine.run(StopCondition())
            results.append((event, machine.state()))
        (ev_a, st_a), (ev_b, st_b) = results
        assert ev_a.reason is StopReason.EXIT, (packet.index, ev_a)
        assert ev_a.retval == ev_b.retval, f"packet {packet.index}: {ev_a.retval} != {ev_b.retval}"
        if len(packet.data) <= LINEAR_LIMIT:
            assert _packet(st_a) == _packet(st_b), f"packet {packet.index}"
        if traces is not None:
            lines = [line.removeprefix("bpf_trace_printk: ") for line in getattr(ours, "output", [])]
            assert lines == traces[packet.index], f"packet {packet.index}"
    readable = {s.name for s in env.maps if s.type not in _UNREADABLE}
    if obj_name == "xdp_frags.o":
        readable.discard("frag_stats")  # counts fragments, which bpfdbg does not model
    maps_a, maps_b = dict(st_a.maps), dict(st_b.maps)
    if obj_name == "xdp_lb_offload.o":  # ST_SYN_SAMPLED counts a bpf_get_prandom_u32() sample
        _drop_entry(maps_a, maps_b, "lb_stats", "07000000")
    assert _maps(maps_a, readable) == _maps(maps_b, readable)


def _packet(state):  # type: ignore[no-untyped-def]
    meta = state.regions.get("pkt_meta")
    pkt = state.regions.get("pkt")
    return (meta.data if meta else b"") + (pkt.data if pkt else b"")


def _drop_entry(a, b, name, key):  # type: ignore[no-untyped-def]
    for dump in (a, b):
        dump[name] = [e for e in dump[name] if e["key"] != key]


def _maps(dump, names):  # type: ignore[no-untyped-def]
    return {name: sorted(json.dumps(e, sort_keys=True) for e in dump[name]) for name in names}
