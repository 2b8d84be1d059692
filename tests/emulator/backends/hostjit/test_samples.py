"""Every sample program on every packet of its capture runs to the same end on host-jit as on
the reference interpreter (verdict, instruction count, packet bytes, maps, trace output,
registers), with the maps carried over from packet to packet as in a deployment; and stepping
both one eBPF instruction at a time gives the same step events and r0-r10 after every
instruction.

Known, deliberate difference: when a legacy packet load (LD_ABS/LD_IND) runs past the packet
and ends the program with r0 = 0, host-jit's step event lists that write of r0; the interp's
omits it (its registers agree afterwards).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfdbg.capture import read_capture, read_map_entries
from emulator.backends.base import create
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StepEvent, StopCondition, StopReason

SAMPLES = Path(__file__).resolve().parents[4] / "sample_progs"
EXPECTED = json.loads((SAMPLES / "expected_kernel.json").read_text())
LEGACY_LOADS = (0x20, 0x28, 0x30, 0x40, 0x48, 0x50)  # ld_abs / ld_ind w, h, b
CASES = [(obj, prog) for obj, progs in sorted(EXPECTED.items()) for prog in sorted(progs)]


def _setup(obj_name: str, prog_name: str):  # type: ignore[no-untyped-def]
    obj = load_object(SAMPLES / obj_name)
    env = Environment.for_object(obj, map_entries=read_map_entries(SAMPLES / "initial_maps.json", obj_name))
    packets = read_capture(SAMPLES / "pcaps" / (Path(obj_name).stem + ".pcap"))
    machines = [create("interp"), create("host-jit")]
    for machine in machines:
        report = machine.load(obj.program(prog_name), env)
        assert report.ok, report.diagnostics
    return machines, packets, {p.name: p for p in obj.programs}


def _end(machine, event):  # type: ignore[no-untyped-def]
    state = machine.state()
    packet = {name: r.data for name, r in state.regions.items() if name.startswith("pkt")}
    return (event, state.regs, state.status, state.frames, packet, state.maps, tuple(machine.output))


@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_runs_end_alike(obj_name: str, prog_name: str) -> None:
    (interp, jit), packets, _ = _setup(obj_name, prog_name)
    for packet in packets:
        ends = []
        for machine in (interp, jit):
            machine.reset(RunInput(packet=packet.data))
            ends.append(_end(machine, machine.run(StopCondition())))
        assert ends[0][0].reason is StopReason.EXIT, ends[0][0]
        assert ends[0] == ends[1], f"packet {packet.index}"


def _comparable(event: StepEvent, legacy_exit: bool) -> tuple[object, ...]:
    regs = () if legacy_exit else event.regs
    return (event.pc, event.next_pc, event.insns, regs, event.mem, event.stop, event.output)


@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_stepping_agrees_after_every_instruction(obj_name: str, prog_name: str) -> None:
    (interp, jit), packets, programs = _setup(obj_name, prog_name)
    for packet in packets:
        for machine in (interp, jit):
            machine.reset(RunInput(packet=packet.data))
        assert interp.registers() == jit.registers()
        while True:
            pc, _, _, running = interp.position()
            insn = programs[running].insns[pc]
            a, b = interp.step(), jit.step()
            legacy_exit = a.stop is not None and insn is not None and insn.opcode in LEGACY_LOADS
            where = f"packet {packet.index}, insn {a.pc}"
            assert _comparable(a, legacy_exit) == _comparable(b, legacy_exit), where
            assert interp.registers() == jit.registers(), where
            assert interp.position() == jit.position(), where
            if a.stop is not None:
                break


@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_checkpoints_replay_the_rest_of_the_run(obj_name: str, prog_name: str) -> None:
    """Restoring a checkpoint taken part way (inside callees, callbacks, after tail calls)
    and running on ends exactly as the run that went on from there."""
    (_, jit), packets, _ = _setup(obj_name, prog_name)
    for packet in packets[:6]:
        jit.reset(RunInput(packet=packet.data))
        jit.run(StopCondition(max_insns=7 + 11 * packet.index))
        cp = jit.checkpoint()  # type: ignore[attr-defined]
        first = _end(jit, jit.run(StopCondition()))
        jit.restore(cp)  # type: ignore[attr-defined]
        assert _end(jit, jit.run(StopCondition())) == first, f"packet {packet.index}"
