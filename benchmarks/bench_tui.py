"""Latency of the TUI: from a step key press to the updated screen.

The app runs headless under Textual's Pilot at 140x45 on the load-balancer sample
(xdp_lb.o, its capture and maps). For each of N presses of ``i`` (stepi) the clock starts
before the key is pressed and stops when the new stop is on the screen: the worker ran the
command, built the SessionView and the panes' lines, the UI thread applied them, and
Textual finished the refresh (``pilot.pause()`` after the view changed). When the program
exits, ``r`` restarts it (those presses are not counted).

Reported beside a reference measured in the same process: the same ``stepi`` through
``Session.execute`` alone, so the ratio is what the screen costs on top of the debugger.

Run: ``python3 benchmarks/bench_tui.py [--steps 200] [--size 140x45]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from bpfdbg.session import Session
from tui.app import make_app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_progs"


def open_lb() -> Session:
    return Session.open(
        SAMPLE / "xdp_lb.o", pcap=SAMPLE / "pcaps" / "xdp_lb.pcap", maps=SAMPLE / "initial_maps.json"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def session_only(steps: int) -> list[float]:
    """stepi through Session.execute, restarting at the end: the debugger's own cost."""
    s = open_lb()
    s.execute("start")
    out = []
    while len(out) < steps:
        t = time.perf_counter()
        s.execute("stepi")
        out.append(time.perf_counter() - t)
        if s.status != "stopped":
            s.execute("start")
    return out


async def tui_steps(steps: int, size: tuple[int, int]) -> list[float]:
    """Key press to updated screen: the key is posted as the terminal driver posts it (no
    Pilot idle-waiting in the measured path), and the clock stops when the screen's
    compositor has drawn the update that shows the new stop."""
    from textual import events
    from textual.screen import Screen

    drawn: list[float] = []
    original = Screen._compositor_refresh

    def recording(screen: Screen) -> None:
        original(screen)
        drawn.append(time.perf_counter())

    Screen._compositor_refresh = recording  # type: ignore[method-assign]
    app = make_app(open_lb(), persist_history=False)
    out: list[float] = []
    try:
        async with app.run_test(size=size) as pilot:

            async def press(key: str) -> float:
                before = app.rendered.view
                t = time.perf_counter()
                app.post_message(events.Key(key, key))
                deadline = t + 30
                while app.busy is not None or app.rendered.view is before:
                    if time.perf_counter() > deadline:
                        raise TimeoutError("the TUI did not apply the stop within 30 s")
                    await asyncio.sleep(0.0005)
                applied = time.perf_counter()
                quiet = applied + 0.5  # nothing on screen changed: the applied view is the update
                while not drawn or drawn[-1] < applied:
                    if time.perf_counter() > quiet:
                        return applied - t
                    await asyncio.sleep(0.0005)
                return drawn[-1] - t

            await pilot.pause()
            while app.busy is not None:
                await pilot.pause()
            await press("i")  # not running yet: starts the program
            while len(out) < steps:
                if app.rendered.view.state != "stopped":
                    await press("r")  # exited: restart (not timed)
                    if app.rendered.view.state != "stopped":
                        await press("i")
                    continue
                out.append(await press("i"))
    finally:
        Screen._compositor_refresh = original  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--size", default="140x45")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    reference = session_only(args.steps)
    screen = asyncio.run(tui_steps(args.steps, (width, height)))
    ms = 1000.0
    print(f"xdp_lb, {args.steps} stepi key presses at {width}x{height} (Pilot, headless)")
    print(f"{'':34} {'p50':>9} {'p95':>9} {'max':>9}")
    rows = (("Session.execute('stepi') alone", reference), ("key press -> updated screen", screen))
    for name, values in rows:
        print(
            f"{name:34} {statistics.median(values) * ms:8.2f}ms {percentile(values, 0.95) * ms:8.2f}ms "
            f"{max(values) * ms:8.2f}ms"
        )
    ratio = statistics.median(screen) / statistics.median(reference)
    met = "met" if percentile(screen, 0.95) < 0.05 else "NOT met"
    print(f"screen / session (p50): {ratio:.1f}x; target p95 < 50 ms: {met}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
