"""The cost of reverse execution: memory per recorded instruction and the latency of going
back, on a run of about a million instructions and on the load-balancer sample.

Reported, each next to a reference measured in the same process:

* ``continue`` through the Session (checkpoints taken on the way) against the bare
  backend ``run`` of the same program: the recording overhead;
* the history kept for that run: checkpoints, bytes, bytes per recorded instruction (the
  issue asks for enough memory for 1,000,000 steps by default);
* ``reverse-stepi`` latency from the end (1 step, 1,000 steps, to a random position), and
  ``reverse-continue`` to a breakpoint in the loop, against one forward ``stepi``;
* on xdp_lb (packet 2): stepi and reverse-stepi per command through ``Session.execute``.

Run: ``python3 benchmarks/bench_reverse.py [--iterations N]`` (default 199,999: about a
million instructions, the default budget).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_interp import loop_program  # noqa: E402

from bpfdbg.session import Session  # noqa: E402
from emulator.backends.interp.backend import InterpBackend  # noqa: E402
from emulator.env import Environment, RunInput  # noqa: E402
from emulator.program import Program  # noqa: E402
from emulator.state import StopCondition  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of ``fn()`` over ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=199_999)
    args = parser.parse_args()
    prog = Program.from_bytes(loop_program(args.iterations), name="loop")
    total = 5 * args.iterations + 5

    backend = InterpBackend()
    backend.load(prog, Environment(budget=total + 10))

    def bare() -> None:
        backend.reset(RunInput(budget=total + 10))
        backend.run(StopCondition())

    bare_s = timed(bare)
    session = Session.from_program(prog, budget=total + 10)

    def recorded() -> None:
        session.start()
        session.cont()

    rec_s = timed(recorded)
    stats = session.history.stats()
    print(f"run of {total:,} instructions")
    print(f"  bare backend run           {bare_s * 1e3:8.1f} ms  ({total / bare_s / 1e6:.1f} M insn/s)")
    print(f"  Session continue, recorded {rec_s * 1e3:8.1f} ms  ({rec_s / bare_s:.2f}x the bare run)")
    print(
        f"  history: {stats.checkpoints} checkpoints every {stats.interval} insns, {stats.bytes:,} bytes, "
        f"{stats.bytes_per_step:.3f} bytes per recorded instruction"
    )

    end = session.insns
    step_s = timed(lambda: (session.reverse_stepi(1), session.stepi(1)), repeat=20) / 2

    def back(n: int) -> float:
        samples = []
        for _ in range(10):
            session.stepper.goto(end)
            t0 = time.perf_counter()
            session.reverse_stepi(n)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    rnd = random.Random(1)
    samples = []
    for _ in range(10):
        target = rnd.randrange(end)
        t0 = time.perf_counter()
        session.stepper.goto(target)
        samples.append(time.perf_counter() - t0)
    print(f"  stepi + reverse-stepi pair, per command: {step_s * 1e3:.2f} ms")
    print(f"  reverse-stepi 1 from the end:       {back(1) * 1e3:.2f} ms")
    print(f"  reverse-stepi 1000 from the end:    {back(1000) * 1e3:.2f} ms")
    print(f"  jump to a random position:          {statistics.median(samples) * 1e3:.2f} ms")
    session.break_at("*4")
    session.stepper.goto(end - 1)
    t0 = time.perf_counter()
    stop = session.reverse_continue()
    print(f"  reverse-continue to a breakpoint:   {(time.perf_counter() - t0) * 1e3:.2f} ms ({stop.reason})")

    lb = Session.open(
        ROOT / "sample_progs/xdp_lb.o",
        pcap=ROOT / "sample_progs/pcaps/xdp_lb.pcap",
        maps=ROOT / "sample_progs/initial_maps.json",
    )
    lb.select_packet(1)
    lb.execute("start")
    fwd = []
    rev = []
    for _ in range(100):
        t0 = time.perf_counter()
        lb.execute("stepi")
        fwd.append(time.perf_counter() - t0)
    for _ in range(100):
        t0 = time.perf_counter()
        lb.execute("reverse-stepi")
        rev.append(time.perf_counter() - t0)
    print("xdp_lb, packet 2, through Session.execute (rendering included)")
    print(f"  stepi          median {statistics.median(fwd) * 1e3:.2f} ms")
    print(f"  reverse-stepi  median {statistics.median(rev) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
