"""Lockstep throughput: every packet of a sample's capture through interp and host-jit
compared after each instruction, against the same packets run plainly on each backend in
the same process (the cost of comparing, and of stepping instead of running).

Run: ``python3 benchmarks/bench_lockstep.py [--sample xdp_lb] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bpfdbg.capture import read_capture, read_map_entries
from bpfdbg.lockstep import Lockstep
from emulator.backends.base import create
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StopCondition

SAMPLES = Path(__file__).resolve().parents[1] / "sample_progs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="xdp_lb")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    obj = load_object(str(SAMPLES / f"{args.sample}.o"))
    entries = read_map_entries(str(SAMPLES / "initial_maps.json"), f"{args.sample}.o")
    packets = [p.data for p in read_capture(str(SAMPLES / "pcaps" / f"{args.sample}.pcap"))] * args.rounds
    prog = obj.programs[0]

    def env() -> Environment:
        return Environment.for_object(obj, map_entries=entries)

    engine = Lockstep(prog, env, ["interp", "host-jit"])
    insns = 0
    t = time.perf_counter()
    for packet in packets:
        engine.reset(RunInput(packet=packet))
        result = engine.run()
        assert result.agreed, result.divergence
        insns += result.insns
    lockstep = time.perf_counter() - t
    plain = {}
    for name in ("interp", "host-jit"):
        machine = create(name)
        machine.load(prog, env())
        t = time.perf_counter()
        for packet in packets:
            machine.reset(RunInput(packet=packet))
            machine.run(StopCondition())
        plain[name] = time.perf_counter() - t
    n = len(packets)
    print(f"{args.sample}: {n} packets, {insns} instructions each side")
    rate = insns / lockstep / 1000
    print(f"  lockstep interp + host-jit: {n / lockstep:8.1f} packets/s  {rate:7.1f} k insn/s")
    for name, seconds in plain.items():
        slower = lockstep / seconds
        print(
            f"  {name:<8} alone (run mode): {n / seconds:8.1f} packets/s  lockstep is {slower:5.1f}x slower"
        )


if __name__ == "__main__":
    main()
