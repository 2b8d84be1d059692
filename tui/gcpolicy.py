"""Garbage collection on the TUI's terms.

A full (generation 2) collection walks every object the process holds: the loaded
program, the execution history's checkpoints, the widget tree, the rendered lines. In a
debugging session that is 50-100 ms, and CPython starts one whenever enough objects have
survived younger collections, which stepping produces steadily (a full collection every
20 steps or so), so one key press in twenty took five times as long as the others.

So while the TUI runs: what exists when it is up is frozen (gc.freeze: the permanent
generation, never walked again), automatic full collections are deferred, and the app asks
for one when the user has been idle for a moment, freezing what survives. Reference
counting frees almost everything anyway; the deferred collections only find cycles.
Everything is put back when the app stops, because the thresholds are process-wide.
"""

from __future__ import annotations

import gc

IDLE_SECONDS = 2.0  # quiet time after a command before the deferred full collection
DEFERRED_THRESHOLD2 = 1_000_000  # generation-1 collections before an automatic full one


class GcPolicy:
    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Freeze what the app was built from and defer full collections."""
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        first, second, _ = self._saved
        gc.set_threshold(first, second, DEFERRED_THRESHOLD2)

    def idle(self) -> None:
        """The user is idle: collect everything now, and freeze what survives."""
        if self._saved is None:
            return
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        """Back to the interpreter's defaults (other code in this process expects them)."""
        if self._saved is None:
            return
        gc.unfreeze()
        gc.set_threshold(*self._saved)
        self._saved = None
