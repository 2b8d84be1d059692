"""Throughput and single-step latency of the ``interp`` backend.

The program is the counted loop of reference/conformance.md part 6 (``loop10m``): 10 slots,
5 instructions per iteration, 5*N + 5 instructions executed, r0 = 0x130c1f1af980 for
N = 10,000,000. Reported:

* run mode, no breakpoint armed;
* run mode with one breakpoint armed that never hits: ``break *5 if r1 == 0xdeadbeef``,
  a conditional breakpoint in the hot loop evaluated inside the backend (gdb's target-side
  condition evaluation), so the block is split and the guard tested every iteration;
* run mode with an unconditional breakpoint armed on an instruction the run never reaches
  (the loop program is extended by one dead slot after ``exit`` for this one);
* ``step()``: microseconds per single step, with the write journal on.

Numbers are relative to a bare Python loop over the same program measured in the same
process (the calibration the reference notes use: 7-10 M insn/s on this machine).

Run: ``python benchmarks/bench_interp.py [--iterations N]`` (default 10,000,000).
"""

from __future__ import annotations

import argparse
import time

from emulator.backends.interp.backend import InterpBackend
from emulator.env import Environment, RunInput
from emulator.program import Program
from emulator.state import Guard, StopCondition, StopReason

LOOP10M = bytes.fromhex(
    "b700000000000000b701000080969800b7020000000000000f10000000000000af02000000000000"
    "070200000300000017010000010000005501fbff00000000af200000000000009500000000000000"
)
DEAD_SLOT = bytes.fromhex("b700000007000000")  # mov r0, 7: after exit, never executed


def loop_program(iterations: int, dead_slot: bool = False) -> bytes:
    code = LOOP10M[:12] + iterations.to_bytes(4, "little") + LOOP10M[16:]
    return code + (DEAD_SLOT if dead_slot else b"")


def bare_python_loop(iterations: int) -> tuple[int, float]:
    """The calibration loop: predecoded slots, if/elif dispatch, no hooks."""
    m = 0xFFFFFFFFFFFFFFFF
    r0 = r1 = r2 = 0
    pc = 0
    executed = 0
    t0 = time.perf_counter()
    while True:
        executed += 1
        if pc == 0:
            r0 = 0
        elif pc == 1:
            r1 = iterations
        elif pc == 2:
            r2 = 0
        elif pc == 3:
            r0 = (r0 + r1) & m
        elif pc == 4:
            r2 ^= r0
        elif pc == 5:
            r2 = (r2 + 3) & m
        elif pc == 6:
            r1 = (r1 - 1) & m
        elif pc == 7:
            if r1 != 0:
                pc = 3
                continue
        elif pc == 8:
            r0 ^= r2
        elif pc == 9:
            break
        pc += 1
    return executed, time.perf_counter() - t0


def timed_run(code: bytes, stop: StopCondition) -> tuple[int, float, int | None]:
    backend = InterpBackend()
    report = backend.load(Program.from_bytes(code, name="loop"), Environment(budget=10**10))
    assert report.ok, report.diagnostics
    backend.reset(RunInput())
    t0 = time.perf_counter()
    event = backend.run(stop)
    elapsed = time.perf_counter() - t0
    assert event.reason is StopReason.EXIT, event
    return event.insns, elapsed, event.retval


def step_latency(code: bytes, steps: int) -> float:
    backend = InterpBackend()
    backend.load(Program.from_bytes(code, name="loop"), Environment(budget=10**10))
    backend.reset(RunInput())
    for _ in range(10):  # warm the per-instruction translations
        backend.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        backend.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    n = args.iterations
    expected = 5 * n + 5

    bare_insns, bare_s = bare_python_loop(min(n, 2_000_000))
    bare_rate = bare_insns / bare_s
    print(f"bare Python loop (calibration): {bare_rate / 1e6:6.2f} M insn/s")

    cases = [
        ("interp run, no breakpoint", loop_program(n), StopCondition()),
        (
            "interp run, conditional bp in loop never true",
            loop_program(n),
            StopCondition(pcs=frozenset({5}), guards=((5, Guard(1, "==", 0xDEADBEEF)),)),
        ),
        (
            "interp run, bp on an instruction never reached",
            loop_program(n, dead_slot=True),
            StopCondition(pcs=frozenset({10})),
        ),
    ]
    for label, code, stop in cases:
        insns, elapsed, retval = timed_run(code, stop)
        assert insns == expected, (insns, expected)
        rate = insns / elapsed
        print(
            f"{label:48s} {rate / 1e6:6.2f} M insn/s  ({rate / bare_rate:4.2f}x bare loop; "
            f"{insns:,} insns in {elapsed:.2f} s, r0={retval:#x})"
        )

    per_step = step_latency(loop_program(n), args.steps)
    print(f"{'interp step() with write journal':48s} {per_step * 1e6:6.2f} us/step")


if __name__ == "__main__":
    main()
