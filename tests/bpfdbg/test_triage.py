"""Triage: load verdicts, every packet in lockstep with maps carried over, divergence classes
with their explanations, identical results for any number of worker processes.

Divergences come from test backends that go wrong on purpose (they are interp underneath, so
the expected values are interp's): one skews a register on odd-length packets and bumps a
map value after 60-byte packets (a host-side bug: nothing may explain it), one takes the
device's abort path for XDP codes of 4 and above (reference nfp_offload.md §1.9 / §5.6),
as the nic backend does. They are module-level classes so worker processes can import them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import dpkt
import pytest

from bpfdbg.capture import read_capture, read_map_entries
from bpfdbg.render.triage import packet_numbers, progress_line, render, report_json
from bpfdbg.triage import (
    Inputs,
    PacketRunner,
    TriageError,
    TriageSpec,
    load_inputs,
    plan_chunks,
    triage,
    triage_inputs,
)
from emulator.asm import assemble
from emulator.backends.base import _REGISTRY, Capabilities, register
from emulator.backends.interp.backend import InterpBackend
from emulator.elf import load_object
from emulator.env import RunInput
from emulator.program import Program
from emulator.state import StepEvent, StopCondition, StopEvent, StopReason

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_progs"
LB = SAMPLES / "xdp_lb.o"
LB_PCAP = SAMPLES / "pcaps" / "xdp_lb.pcap"
MAPS = SAMPLES / "initial_maps.json"


class _Stepped(InterpBackend):
    """``run`` as a loop of ``step``, so a test backend's deliberate changes happen alike
    whether it is stepped (lockstep) or run (a worker's replay)."""

    def run(self, stop: StopCondition) -> StopEvent:
        while True:
            ev = self.step()
            if ev.stop is not None:
                return ev.stop


class Skew(_Stepped):
    """A host backend with two bugs: after the 10th instruction of an odd-length packet r3
    is off by one; at the exit of a 60-byte packet the first map's first value changes."""

    name = "skew"

    def reset(self, run: RunInput) -> None:
        super().reset(run)
        self._length = len(run.packet or b"")

    def step(self) -> StepEvent:
        ev = super().step()
        if ev.insns == 10 and self._length % 2:
            self.set_register(3, (self.registers()[3] + 1) & (1 << 64) - 1)
        if ev.stop is not None and ev.stop.reason is StopReason.EXIT and self._length == 60:
            for m in self.map_set():
                rows = m.items()
                if rows and isinstance(rows[0][1], bytes):
                    key, value = rows[0]
                    m.update(key, bytes([value[0] ^ 1]) + value[1:])
                    break
        return ev


class DeviceActions(_Stepped):
    """An offload-like backend: XDP return codes 4 and above take the abort path (r0 keeps
    the program's value; the run's verdict is XDP_ABORTED), as reference §1.9 describes."""

    name = "device-actions"
    capabilities = replace(InterpBackend.capabilities, may_refuse=True)

    def step(self) -> StepEvent:
        ev = super().step()
        stop = ev.stop
        if stop is not None and stop.reason is StopReason.EXIT and (stop.retval or 0) & 0xFFFFFFFF >= 4:
            return replace(ev, stop=replace(stop, retval=0))
        return ev


class StoreCounting(DeviceActions):
    """A device backend that says how many instruction-store slots its image takes."""

    name = "store-counting"

    def insn_store_used(self) -> int:
        return 3 * len(self._prog.insns)  # type: ignore[attr-defined]


class Refuses(InterpBackend):
    """A device that refuses every program, naming an instruction and the driver's message."""

    name = "refuses"
    capabilities = Capabilities(may_refuse=True)

    def load(self, prog, env):  # type: ignore[no-untyped-def]
        from emulator.backends.base import LoadReport
        from emulator.diagnostics import Diagnostic

        return LoadReport(self.name, False, (Diagnostic(3, "offload", "[nfp] unsupported function id: 51"),))


@pytest.fixture
def test_backends():  # type: ignore[no-untyped-def]
    added = {
        "skew": Skew,
        "device-actions": DeviceActions,
        "refuses": Refuses,
        "store-counting": StoreCounting,
    }
    for name, cls in added.items():
        register(name, cls)
    yield
    for name in added:
        _REGISTRY.pop(name, None)


def _lb_spec(**kw: object) -> TriageSpec:
    settings: dict[str, object] = {"maps_path": str(MAPS), "backends": ("interp", "host-jit")}
    settings.update(kw)
    return TriageSpec(str(LB), str(LB_PCAP), **settings)  # type: ignore[arg-type]


def _write_pcap(path: Path, packets: list[bytes]) -> None:
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for i, data in enumerate(packets):
            writer.writepkt(data, ts=float(i))


def _comparable(report) -> dict:  # type: ignore[no-untyped-def]
    return report_json(report)


# -- agreement -----------------------------------------------------------------------------------
def test_interp_and_host_jit_agree_on_every_packet_of_the_lb_capture() -> None:
    report = triage(_lb_spec())
    assert [v.ok for v in report.loads] == [True, True]
    assert report.agreed == len(report.packets) == len(read_capture(LB_PCAP))
    assert report.classes == () and report.exit_status == 0
    # each packet's verdict is interp's own run of it, maps carried over from packet to packet
    obj = load_object(str(LB))
    entries = read_map_entries(str(MAPS), "xdp_lb.o")
    from emulator.backends.base import create
    from emulator.env import Environment

    machine = create("interp")
    assert machine.load(obj.programs[0], Environment.for_object(obj, map_entries=entries)).ok
    for packet, result in zip(read_capture(LB_PCAP), report.packets, strict=True):
        machine.reset(RunInput(packet=packet.data))
        end = machine.run(StopCondition())
        for e in result.ends:
            assert (e.reason, e.retval, e.insns) == ("exit", end.retval, end.insns)
    text = render(report, "text")
    assert "agreement: 20 of 20 packets (100.0%)" in text
    assert "packets that disagree" not in text


# -- divergences and classes ---------------------------------------------------------------------
def test_divergences_are_grouped_by_instruction_and_what_differs(test_backends: None) -> None:
    report = triage(_lb_spec(backends=("interp", "skew")))
    packets = read_capture(LB_PCAP)
    odd = [p.index for p in packets if len(p.data) % 2]
    sixty = [p.index for p in packets if len(p.data) == 60]
    assert odd and sixty
    by_index = {p.index: p for p in report.packets}
    for i in odd:
        div = by_index[i].divergence
        assert div is not None and div.insns + 1 == 10 and "r3" in div.fields
    first_sixty = sixty[0]
    assert by_index[first_sixty].divergence is not None
    assert any(f.startswith("map ") for f in by_index[first_sixty].divergence.fields)
    # each backend run on its own, packet after packet, had different maps before these
    differed = _maps_differ_before_each_packet(("interp", "skew"), [p.data for p in packets])
    assert [p.maps_differed for p in report.packets] == differed
    assert not differed[0] and differed[first_sixty + 1]
    # classes partition the divergent packets; each class is one (pc, what differs) pair
    divergent = sorted(p.index for p in report.packets if not p.agreed)
    assert sorted(i for c in report.classes for i in c.packets) == divergent
    # map entries an earlier packet left different are not compared again: only a 60-byte
    # packet (which changes the map itself) diverges on the map
    later = [by_index[i] for i in range(first_sixty + 1, len(packets))]
    assert later and all(p.maps_differed for p in later)
    for p in later:
        if p.divergence is not None and p.index not in sixty:
            assert not any(f.startswith("map ") for f in p.divergence.fields), p
    for c in report.classes:
        keys = {(by_index[i].divergence.pc, by_index[i].divergence.fields) for i in c.packets}
        assert keys == {(c.pc, frozenset(c.fields))}
        assert c.maps_differed == sum(by_index[i].maps_differed for i in c.packets)
        assert c.explanation is None  # two host backends: nothing known may excuse it
    counts = [c.count for c in report.classes]
    assert counts == sorted(counts, reverse=True)
    # the odd-length packets, before and after the maps parted, are one class: the r3 bug
    r3 = next(c for c in report.classes if c.fields == ("r3",))
    assert set(odd) <= set(r3.packets) and {by_index[i].divergence.pc for i in odd} == {r3.pc}
    assert report.exit_status == 1
    text = render(report, "text")
    assert f"agreement: {report.agreed} of {len(packets)} packets" in text
    assert "unexplained: the host backends must agree here" in text


def _maps_differ_before_each_packet(names: tuple[str, ...], packets: list[bytes]) -> list[bool]:
    from emulator.backends.base import create
    from emulator.env import Environment

    obj = load_object(str(LB))
    entries = read_map_entries(str(MAPS), "xdp_lb.o")
    machines = [create(n) for n in names]
    for m in machines:
        assert m.load(obj.programs[0], Environment.for_object(obj, map_entries=entries)).ok
    out = []
    for data in packets:
        dumps = [m.map_set().dump() for m in machines]  # type: ignore[attr-defined]
        out.append(any(d != dumps[0] for d in dumps))
        for m in machines:
            m.reset(RunInput(packet=data))
            m.run(StopCondition())
    return out


def test_after_a_divergence_each_backend_finishes_the_packet(test_backends: None) -> None:
    report = triage(_lb_spec(backends=("interp", "skew")))
    for p in report.packets:
        assert all(e.reason in ("exit", "fault", "budget") for e in p.ends), p


REDIRECT_IPV4 = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto pass
r0 = *(u8 *)(r2 + 12)
if r0 != 8 goto pass
r0 = *(u8 *)(r2 + 13)
if r0 == 0 goto redirect
pass:
r0 = 2
exit
redirect:
r0 = 4
exit
"""


def _redirect_inputs(device: str) -> Inputs:
    program = Program.from_insns(assemble(REDIRECT_IPV4), prog_type="xdp", name="redirect_ipv4")
    packets = [p.data for p in read_capture(LB_PCAP)]
    return Inputs(program, packets, ("interp", device), program_path="redirect_ipv4.o",
                  capture_path=str(LB_PCAP))  # fmt: skip


def _is_ipv4(data: bytes) -> bool:
    return len(data) >= 14 and data[12:14] == b"\x08\x00"


def test_redirect_on_a_device_is_one_class_explained_by_the_abort_path(test_backends: None) -> None:
    inputs = _redirect_inputs("device-actions")
    report = triage_inputs(inputs)
    ipv4 = [i for i, d in enumerate(inputs.packets) if _is_ipv4(d)]
    assert ipv4 and len(ipv4) < len(inputs.packets)
    assert [p.index for p in report.packets if not p.agreed] == ipv4
    assert len(report.classes) == 1
    c = report.classes[0]
    assert c.packets == tuple(ipv4) and c.fields == ("end",)
    assert c.insn_text == "exit"
    assert c.explanation is not None and c.explanation.behaviour.number == 6
    assert "XDP_REDIRECT" in c.explanation.detail
    assert c.verdicts[0][0] == ("XDP_REDIRECT", "XDP_ABORTED")
    md = render(report, "markdown")
    assert md.startswith("# Offload triage: redirect_ipv4.o:redirect_ipv4, capture xdp_lb.pcap")
    assert "| 1 | " in md and "verdict XDP_REDIRECT vs XDP_ABORTED" in md
    assert "XDP_REDIRECT and unknown XDP actions abort on the device" in md


def test_a_device_backend_reports_its_instruction_store_use(test_backends: None) -> None:
    report = triage(_lb_spec(backends=("interp", "store-counting"), budget=10))
    assert report.loads[0].notes == ()  # the host says nothing about a store
    used = 3 * len(load_object(str(LB)).programs[0].insns)
    profiles = pytest.importorskip("emulator.backends.nic.profiles")
    size = profiles.profile(report.profile).max_insns
    assert report.loads[1].notes == (f"{used:,} of {size:,} instruction-store slots",)
    assert f"store-counting accepted ({used:,} of {size:,} instruction-store slots)" in render(report, "text")


def test_a_refusal_is_reported_with_its_reasons_and_stops(test_backends: None) -> None:
    report = triage(_lb_spec(backends=("interp", "refuses")))
    assert [v.ok for v in report.loads] == [True, False]
    assert report.packets == () and report.exit_status == 1
    text = render(report, "text")
    assert "refuses refused the program" in text
    assert "insn 3: error: [nfp] unsupported function id: 51" in text
    assert "known limit [13 missing-helpers]" in text
    assert "triage stops here" in text
    data = report_json(report)
    assert data["refused"] == ["refuses"] and data["packets"] == []
    assert data["loads"][1]["diagnostics"][0]["known"]["fact"] == 13


# -- parallel runs -------------------------------------------------------------------------------
def test_jobs_give_exactly_the_sequential_results(test_backends: None, tmp_path: Path) -> None:
    """Divergences, inherited map differences and all: three workers, each replaying the
    packets before its chunk, report exactly what one process does."""
    packets = [p.data for p in read_capture(LB_PCAP)] * 3
    pcap = tmp_path / "lb3.pcap"
    _write_pcap(pcap, packets)
    spec = TriageSpec(str(LB), str(pcap), maps_path=str(MAPS), backends=("interp", "skew"))
    one = triage(spec, jobs=1)
    assert one.agreed < len(packets) and any(p.maps_differed for p in one.packets)
    seen: list[tuple[int, int]] = []
    three = triage(spec, jobs=3, progress=lambda done, total: seen.append((done, total)))
    assert _comparable(three) == _comparable(one)
    assert seen and seen[-1] == (len(packets), len(packets))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize(
    "count,jobs,ratio", [(20, 4, 0.1), (1000, 4, 0.0), (1000, 8, 0.3), (7, 4, 0.1), (3, 2, 0.5)]
)
def test_chunks_cover_the_capture_in_order(count: int, jobs: int, ratio: float) -> None:
    chunks = plan_chunks(count, jobs, ratio)
    assert chunks[0][0] == 0 and chunks[-1][1] == count
    assert all(a < b for a, b in chunks)
    assert all(chunks[i][1] == chunks[i + 1][0] for i in range(len(chunks) - 1))
    assert len(chunks) <= jobs
    if ratio > 0 and len(chunks) > 2:
        sizes = [b - a for a, b in chunks]
        assert sizes[0] >= sizes[-1]  # later workers replay more, so they lockstep less


# -- inputs and rendering ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change,message",
    [
        ({"backends": ("interp", "nosuch")}, "unknown backend 'nosuch'"),
        ({"backends": ("interp",)}, "at least two backends"),
        ({"backends": ("interp", "kernel")}, "cannot step"),
        ({"pcap_path": "/nonexistent.pcap"}, "cannot read /nonexistent.pcap"),
        ({"program_path": "/nonexistent.o"}, "cannot read /nonexistent.o"),
        ({"prog_name": "nosuch"}, "nosuch"),
        ({"maps_path": "/nonexistent.json"}, "cannot read map entries"),
        ({"budget": 0}, "--budget"),
    ],
)
def test_bad_input_is_a_triage_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(TriageError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_inputs(replace(_lb_spec(), **change))  # type: ignore[arg-type]


def test_a_non_capture_and_an_empty_capture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file")
    with pytest.raises(TriageError, match="not a pcap"):
        load_inputs(replace(_lb_spec(), pcap_path=str(bad)))
    empty = tmp_path / "empty.pcap"
    _write_pcap(empty, [])
    with pytest.raises(TriageError, match="holds no packets"):
        load_inputs(replace(_lb_spec(), pcap_path=str(empty)))


def test_packet_runner_marks_maps_that_differ_at_the_start(test_backends: None) -> None:
    spec = _lb_spec(backends=("interp", "skew"))
    runner = PacketRunner(load_inputs(spec))
    sixty = next(p for p in read_capture(LB_PCAP) if len(p.data) == 60).data
    first = runner.lockstep(0, sixty)
    assert not first.maps_differed and not first.agreed
    second = runner.lockstep(1, sixty)
    assert second.maps_differed


def test_json_lists_every_packet_and_text_only_the_disagreeing(test_backends: None) -> None:
    report = triage(_lb_spec(backends=("interp", "skew")))
    data = json.loads(render(report, "json"))
    assert [p["packet"] for p in data["packets"]] == list(range(1, len(report.packets) + 1))
    assert data["agreement"]["agreed"] == report.agreed
    assert data["exit_status"] == 1
    for row in data["packets"]:
        assert set(row["ends"]) == {"interp", "skew"}
        assert (row["divergence"] is None) == row["agreed"] == (row["class"] is None)
    text = render(report, "text")
    table = text.split("packets that disagree:\n", 1)[1].splitlines()[1:]
    assert len(table) == len(report.packets) - report.agreed


def test_packet_numbers_and_progress_line() -> None:
    assert packet_numbers((0, 2, 4)) == "1, 3, 5"
    assert packet_numbers(tuple(range(20))) == "1, 2, 3, 4, 5, 6, 7, 8 and 12 more"
    line = progress_line(250, 1000, 2.0)
    assert "250/1,000 packets" in line and "125 pkt/s" in line and "ETA 0:06" in line
    assert progress_line(0, 10, 0.0).endswith("ETA --:--")
