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


async def tui_steps(steps: int, size: tuple[int, int]) -> list[tuple[float, float]]:
    """(key press to applied view, key press to drawn screen) per step. The key is posted as
    the terminal driver posts it (no Pilot idle-waiting in the measured path); "applied"
    is when the UI thread has put the worker's panes in place, "drawn" when the screen's
    compositor has then rendered the update. Both are awaited as events, not polled, so the
    measurement adds no load to the app's event loop."""
    from textual import events
    from textual.screen import Screen

    marks: dict[str, float] = {}
    applied_event = asyncio.Event()
    drawn_event = asyncio.Event()
    original_refresh = Screen._compositor_refresh

    def recording(screen: Screen) -> None:
        original_refresh(screen)
        if "applied" in marks and "drawn" not in marks:
            marks["drawn"] = time.perf_counter()
            drawn_event.set()

    Screen._compositor_refresh = recording  # type: ignore[method-assign]
    app = make_app(open_lb(), persist_history=False)
    original_finished = app._finished

    def finished(*args: object) -> None:
        original_finished(*args)  # type: ignore[arg-type]
        if app.busy is None:
            marks["applied"] = time.perf_counter()
            applied_event.set()

    app._finished = finished  # type: ignore[method-assign]
    out: list[tuple[float, float]] = []
    try:
        async with app.run_test(size=size) as pilot:

            async def press(key: str) -> tuple[float, float]:
                marks.clear()
                applied_event.clear()
                drawn_event.clear()
                t = time.perf_counter()
                app.post_message(events.Key(key, key))
                await asyncio.wait_for(applied_event.wait(), 30)
                try:
                    await asyncio.wait_for(drawn_event.wait(), 0.5)
                except TimeoutError:  # nothing on screen changed: the applied view is the update
                    marks["drawn"] = marks["applied"]
                return marks["applied"] - t, marks["drawn"] - t

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
        Screen._compositor_refresh = original_refresh  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--size", default="140x45")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    reference = session_only(args.steps)
    timings = asyncio.run(tui_steps(args.steps, (width, height)))
    applied = [a for a, _ in timings]
    screen = [d for _, d in timings]
    ms = 1000.0
    print(f"xdp_lb, {args.steps} stepi key presses at {width}x{height} (Pilot, headless)")
    print(f"{'':34} {'p50':>9} {'p95':>9} {'max':>9}")
    rows = (
        ("Session.execute('stepi') alone", reference),
        ("key press -> panes updated", applied),
        ("key press -> updated screen", screen),
    )
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
