"""eBPF instructions per second on ``host-jit`` beside ``interp``, in the same process.

Two workloads:

* the counted loop of bench_interp.py (``loop10m`` with N iterations: 5*N + 5 instructions,
  pure ALU and a backward branch);
* a real sample, xdp_firewall.o on every packet of its capture (ctx and packet loads, map
  lookups through helpers, stack stores), repeated over the capture;
* a large straight-line program (8,000 instructions, half of them stack stores): the cost
  per instruction must not grow with the program's size.

For each: run mode (``run(StopCondition())`` to exit) and step mode (``step()`` until exit,
with the write journal on, as a debugger single-steps). Reported as instructions per second
and as host-jit / interp ratios (how many times slower host-jit is).

Run: ``PYTHONPATH=. python3 benchmarks/bench_hostjit.py [--iterations N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from bpfdbg.capture import read_capture, read_map_entries
from emulator.backends.base import Backend, create
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.program import Program
from emulator.state import StopCondition, StopReason

LOOP10M = bytes.fromhex(
    "b700000000000000b701000080969800b7020000000000000f10000000000000af02000000000000"
    "070200000300000017010000010000005501fbff00000000af200000000000009500000000000000"
)
SAMPLES = Path(__file__).resolve().parent.parent / "sample_progs"
BACKENDS = ("interp", "host-jit")


def loop_program(iterations: int) -> Program:
    code = LOOP10M[:12] + iterations.to_bytes(4, "little") + LOOP10M[16:]
    return Program.from_bytes(code, name="loop")


def to_exit_by_run(machine: Backend) -> int:
    event = machine.run(StopCondition())
    assert event.reason is StopReason.EXIT, event
    return event.insns


def to_exit_by_step(machine: Backend) -> int:
    while True:
        event = machine.step()
        if event.stop is not None:
            assert event.stop.reason is StopReason.EXIT, event.stop
            return event.insns


def measure(machine: Backend, inputs: list[RunInput], rounds: int, go: Callable[[Backend], int]) -> float:
    """Instructions per second over ``rounds`` passes over ``inputs``."""
    executed = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        for run in inputs:
            machine.reset(run)
            executed += go(machine)
    return executed / (time.perf_counter() - t0)


def straight_line(pairs: int) -> Program:
    mov, add, store, exit_ = (
        bytes.fromhex(h)
        for h in ("b700000000000000", "0700000001000000", "7b0af8ff00000000", "9500000000000000")
    )
    return Program.from_bytes(mov + (add + store) * pairs + exit_, name="big")


def workloads(iterations: int) -> list[tuple[str, Program, Environment, list[RunInput]]]:
    obj = load_object(SAMPLES / "xdp_firewall.o")
    entries = read_map_entries(SAMPLES / "initial_maps.json", "xdp_firewall.o")
    packets = read_capture(SAMPLES / "pcaps" / "xdp_firewall.pcap")
    return [
        (f"loop, {iterations} iterations", loop_program(iterations), Environment(budget=10**9), [RunInput()]),
        (
            f"xdp_firewall, {len(packets)} packets",
            obj.program("xdp_firewall"),
            Environment.for_object(obj, map_entries=entries),
            [RunInput(packet=p.data) for p in packets],
        ),
        ("straight line, 8002 instructions", straight_line(4000), Environment(), [RunInput()]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for title, prog, env, inputs in workloads(args.iterations):
        print(title)
        for mode, go in (("run", to_exit_by_run), ("step", to_exit_by_step)):
            rates = {}
            for name in BACKENDS:
                machine = create(name)
                assert machine.load(prog, env).ok
                measure(machine, inputs[:1], 1, go)  # warm translations and hooks
                rates[name] = measure(machine, inputs, args.rounds, go)
            ratio = rates["interp"] / rates["host-jit"]
            cells = "  ".join(f"{name} {rate / 1e3:9.1f} k insn/s" for name, rate in rates.items())
            per_insn = 1e6 / rates["host-jit"]
            print(f"  {mode:4}  {cells}  host-jit is {ratio:5.1f}x slower ({per_insn:.1f} us/insn)")


if __name__ == "__main__":
    main()
