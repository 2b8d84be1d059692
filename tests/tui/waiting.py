"""Bounded, condition-based waits for Pilot tests (as harlequin's tests wait).

A test never sleeps a fixed time to let the app catch up: it names the condition it needs
and polls it between ``pilot.pause()`` calls (which let the app process its messages),
failing with that description when the condition does not hold within ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.pilot import Pilot
from textual.worker import WorkerState

if TYPE_CHECKING:
    from tui.app import BpfdbgApp

POLL = 0.005  # seconds between checks: lets the worker thread have the GIL


class WaitTimeout(AssertionError):
    """A condition a test waited for did not hold in time."""


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], description: str, timeout: float = 10.0
) -> None:
    """Return as soon as ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {description}")
        await pilot.pause(POLL)


def idle(app: BpfdbgApp) -> bool:
    """No command is running and the session worker has finished."""
    if app.busy is not None:
        return False
    return not any(
        w.group == "session" and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers
    )


async def settle(pilot: Pilot[Any], app: BpfdbgApp, timeout: float = 10.0) -> None:
    """Wait until ``app.busy is None`` and the command worker finished."""
    await wait_for(pilot, lambda: idle(app), f"the command {app.busy!r} to finish", timeout)


async def ran(pilot: Pilot[Any], app: BpfdbgApp, before: int, timeout: float = 10.0) -> None:
    """Wait until a command started after ``before`` (an ``app.commands_run`` value) has
    finished and the app is idle again."""
    await wait_for(
        pilot,
        lambda: app.commands_run > before and idle(app),
        f"a command to run (commands_run > {before}, busy={app.busy!r})",
        timeout,
    )
