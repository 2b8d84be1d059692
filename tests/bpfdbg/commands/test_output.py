"""``tracelog`` (bpf_printk in trace_pipe's format) and ``event_pipe`` (ring buffer and
perf event records), checked against the kernel's recorded trace for the printk sample."""

from __future__ import annotations

import json

import pytest

from bpfdbg.commands.output import event_lines, fprint_hex, plural, records_of, trace_pipe_line
from bpfdbg.session import Session
from emulator.maps import MapSpec, MapType, create_map
from emulator.maps.perf import BPF_F_CURRENT_CPU, PerfEventArrayMap
from emulator.maps.ringbuf import RingBufMap

from . import SAMPLES, open_sample, run_packet

EXPECTED_TRACE = json.loads((SAMPLES / "expected_trace.json").read_text())["xdp_printk.o"]["xdp_printk"]


@pytest.fixture
def printk() -> Session:
    return open_sample("xdp_printk", maps=False)


@pytest.fixture
def ringbuf() -> Session:
    return open_sample("xdp_ringbuf", maps=False)


# -- tracelog --------------------------------------------------------------------------------------
def test_tracelog_before_any_run(printk: Session) -> None:
    result = printk.execute("tracelog")
    assert result.ok
    assert result.lines == ["no bpf_printk output yet: the program has not run (use run)"]
    assert result.data == {"lines": [], "messages": []}


@pytest.mark.parametrize("index", [0, 4, 6, 10])
def test_tracelog_is_the_kernels_trace_in_trace_pipe_format(printk: Session, index: int) -> None:
    run_packet(printk, index)
    result = printk.execute("tracelog")
    assert result.ok
    assert result.data["messages"] == EXPECTED_TRACE[index]
    assert result.lines == [
        f"<...>-1 [000] d.s11 1.000000: bpf_trace_printk: {m}" for m in EXPECTED_TRACE[index]
    ]
    assert result.data["lines"] == result.lines


def test_tracelog_follows_the_run(printk: Session) -> None:
    run_packet(printk, 0)
    first = printk.execute("tracelog").data["messages"]
    run_packet(printk, 1)
    assert printk.execute("tracelog").data["messages"] == EXPECTED_TRACE[1] != first


def test_tracelog_json(printk: Session) -> None:
    run_packet(printk, 0)
    result = printk.execute("tracelog -j")
    assert json.loads(result.lines[0]) == result.data
    assert result.data["messages"][0] == "frame len=71 ifindex=1 rxq=0"


def test_tracelog_run_without_output() -> None:
    s = open_sample("xdp_firewall")
    run_packet(s, 0)
    assert s.execute("tracelog").lines == ["no bpf_printk output in this run"]


def test_tracelog_takes_no_arguments(printk: Session) -> None:
    result = printk.execute("tracelog now")
    assert not result.ok
    assert result.error == "tracelog takes no arguments (got 'now')"


def test_trace_pipe_line_uses_cpu_and_clock() -> None:
    assert trace_pipe_line("bpf_trace_printk: hi", 3, 2_500_123_000) == (
        "<...>-1 [003] d.s11 2.500123: bpf_trace_printk: hi"
    )


# -- event_pipe: ring buffer ---------------------------------------------------------------------
def test_event_pipe_lists_ring_buffer_records(ringbuf: Session) -> None:
    for index in range(4):
        run_packet(ringbuf, index)
    result = ringbuf.execute("event_pipe")
    assert result.ok
    assert result.lines[0] == "ringbuf events: 2 records"
    assert result.lines[1] == "record 0 (40 bytes):"
    assert len(result.lines[2].split()) == 16 and result.lines[2].startswith("  ")
    events = result.data["maps"]["events"]
    assert events["type"] == "ringbuf"
    assert [r["size"] for r in events["records"]] == [40, 40]
    ring = ringbuf.maps["events"]
    assert isinstance(ring, RingBufMap)
    assert events["records"][0]["data"] == ring.records()[0].hex()
    # four reservations of 40 bytes + an 8-byte header: discarded ones keep their space too
    assert events["pending_bytes"] == 4 * 48
    assert ringbuf.execute("event_pipe events").data == result.data
    assert ringbuf.execute("map event_pipe events").data == result.data


def test_event_pipe_consume_frees_the_ring(ringbuf: Session) -> None:
    run_packet(ringbuf, 0)
    # Consuming is an edit of the maps; during a run the session checkpoints it, and the
    # interp backend's checkpoint_bytes cannot size a ring buffer yet: consume between runs.
    ringbuf.status = "idle"
    result = ringbuf.execute("event_pipe events consume")
    assert result.ok
    assert result.lines[-1] == "consumed 1 record"
    assert result.data["consumed"] == 1
    ring = ringbuf.maps["events"]
    assert isinstance(ring, RingBufMap) and ring.records() == []
    after = ringbuf.execute("event_pipe -j")
    assert after.data["maps"]["events"] == {"type": "ringbuf", "records": [], "pending_bytes": 0}
    assert after.lines == [json.dumps(after.data, separators=(",", ":"))]


def test_event_pipe_errors(ringbuf: Session) -> None:
    not_events = ringbuf.execute("event_pipe rb_stats")
    assert not not_events.ok
    assert not_events.error == (
        "map rb_stats is a array, not a ringbuf or perf_event_array: it has no event records"
    )
    unknown = ringbuf.execute("event_pipe nosuch")
    assert not unknown.ok and (unknown.error or "").startswith("no map 'nosuch'")
    assert "one map name" in (ringbuf.execute("event_pipe a b").error or "")
    none = open_sample("xdp_firewall").execute("event_pipe")
    assert not none.ok
    assert none.error == (
        "the program has no ringbuf or perf_event_array map (maps: fw_rules, fw_counters); "
        "bpf_printk output is in tracelog"
    )


# -- event_pipe: perf event arrays (no sample program uses one; the map itself) -----------------
def test_perf_event_records_render() -> None:
    spec = MapSpec("perf_out", MapType.PERF_EVENT_ARRAY, 4, 4, 2)
    m = create_map(spec, 2)
    assert isinstance(m, PerfEventArrayMap)
    assert m.output(bytes(range(20)), BPF_F_CURRENT_CPU, 1) == 0
    rows = records_of(m)
    assert rows == [{"index": 0, "cpu": 1, "size": 20, "data": bytes(range(20)).hex()}]
    assert event_lines(m, rows) == [
        "perf_event_array perf_out: 1 record",
        "record 0 (20 bytes, cpu 1):",
        "  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f",
        "  10 11 12 13",
    ]


def test_output_helpers() -> None:
    assert fprint_hex(b"") == [""]
    assert fprint_hex(bytes(9)) == ["00 00 00 00 00 00 00 00  00"]
    assert plural(1, "element") == "1 element"
    assert plural(3, "entry") == "3 entries"
