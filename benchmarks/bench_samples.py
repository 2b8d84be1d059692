"""Per-packet run time of sample programs on ``interp`` beside the kernel's own
BPF_PROG_TEST_RUN duration for the same packets, on this machine, now.

For each packet of the capture: interp time = reset + run to exit (median of --rounds
passes over the capture, after one warm-up pass that pays the one-time translation);
kernel time = the ``duration`` the kernel reports for ``repeat`` runs of that packet
(ns per run, the JIT'd program with test-run overhead). Reported: medians over packets and
their ratio. Run: ``python3 benchmarks/bench_samples.py [--rounds 5] [--repeat 100000]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bpfdbg.capture import read_capture, read_map_entries
from emulator.backends.base import create
from emulator.backends.kernel.syscall import Bpf, available
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StopCondition

SAMPLES = Path(__file__).resolve().parent.parent / "sample_progs"
CASES = [("xdp_firewall.o", "xdp_firewall"), ("xdp_lb.o", "xdp_lb")]


def interp_times(obj_name: str, prog_name: str, rounds: int) -> list[float]:
    obj = load_object(SAMPLES / obj_name)
    env = Environment.for_object(obj, map_entries=read_map_entries(SAMPLES / "initial_maps.json", obj_name))
    packets = read_capture(SAMPLES / "pcaps" / (Path(obj_name).stem + ".pcap"))
    machine = create("interp")
    assert machine.load(obj.program(prog_name), env).ok
    per_packet: list[list[float]] = [[] for _ in packets]
    for round_no in range(rounds + 1):
        for packet in packets:
            t0 = time.perf_counter()
            machine.reset(RunInput(packet=packet.data))
            machine.run(StopCondition())
            if round_no:  # round 0 warms the translation caches
                per_packet[packet.index].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in per_packet]


def kernel_times(obj_name: str, prog_name: str, repeat: int) -> list[float]:
    obj = load_object(SAMPLES / obj_name)
    env = Environment.for_object(obj, map_entries=read_map_entries(SAMPLES / "initial_maps.json", obj_name))
    packets = read_capture(SAMPLES / "pcaps" / (Path(obj_name).stem + ".pcap"))
    kernel = create("kernel")
    assert kernel.load(obj.program(prog_name), env).ok
    bpf: Bpf = kernel._bpf  # type: ignore[attr-defined]
    fd: int = kernel._fd  # type: ignore[attr-defined]
    out = []
    for packet in packets:
        ctx = (0).to_bytes(4, "little") + len(packet.data).to_bytes(4, "little") + bytes(16)
        out.append(bpf.test_run(fd, packet.data, ctx, repeat=repeat).duration_ns * 1e-9)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=100_000)
    args = parser.parse_args()
    why = available()
    for obj_name, prog_name in CASES:
        ours = interp_times(obj_name, prog_name, args.rounds)
        line = f"{prog_name:14s} interp median {statistics.median(ours) * 1e6:8.1f} us/packet"
        if why is None:
            theirs = kernel_times(obj_name, prog_name, args.repeat)
            ratio = statistics.median(ours) / statistics.median(theirs)
            line += f"   kernel median {statistics.median(theirs) * 1e9:6.0f} ns/packet   ratio {ratio:,.0f}x"
        else:
            line += f"   (kernel: {why})"
        print(line)


if __name__ == "__main__":
    main()
