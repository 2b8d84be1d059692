"""Session events: what front ends subscribe to (frozen dataclasses, named in the past tense).

The Session never prints. It publishes these; the console renders them as gdb-like lines,
the TUI refreshes its panes from them, and scripts can ``session.subscribe`` to react.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stopped:
    """Execution stopped. ``reason`` is one of: ``breakpoint``, ``watchpoint``,
    ``catchpoint``, ``step`` (a stepping command finished), ``exited``, ``faulted``,
    ``budget`` (the instruction budget ran out), ``interrupted``, ``history-start`` (reverse
    execution reached the start of the run), ``history-end``."""

    reason: str
    pc: int
    program: str
    insns: int
    number: int | None = None  # the breakpoint, watchpoint or catchpoint that fired
    detail: str = ""  # e.g. "helper bpf_map_lookup_elem", "Old value = 0 New value = 14"
    retval: int | None = None
    action: str | None = None
    fault: str | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class OutputEmitted:
    """The program produced output (bpf_printk lines, ring buffer or perf records)."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StateChanged:
    """Something a pane shows changed without execution: ``registers``, ``memory``,
    ``maps``, ``packet``, ``program``, ``input``, ``breakpoints``, ``displays``."""

    what: str


@dataclass(frozen=True, slots=True)
class RunStarted:
    program: str
    packet_index: int | None


@dataclass(frozen=True, slots=True)
class ProgressMade:
    """A long command is still running: ``done`` of ``total`` units (``total`` None: open
    ended, e.g. the instructions a ``continue`` has executed so far). Published at most a
    few times a second, so front ends can show it and offer to interrupt."""

    what: str  # "instructions", "packets"
    done: int
    total: int | None = None


Event = Stopped | OutputEmitted | StateChanged | RunStarted | ProgressMade
