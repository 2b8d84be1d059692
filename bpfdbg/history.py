"""Execution history for reverse stepping: checkpoints plus deterministic replay.

A run is a pure function of its input (the clock and the random source are seeded, and a
checkpoint captures them), so any earlier instruction boundary can be rebuilt exactly by
restoring the nearest checkpoint at or before it and running forward. That is what rr does,
and it is much cheaper than gdb's per-instruction record: the memory cost is one checkpoint
every ``interval`` instructions rather than one journal entry per instruction, and replaying
an interval runs at full interpreter speed. The write journal of each StepEvent still feeds
change highlighting and watchpoints.

Memory is bounded: when the checkpoints outgrow ``limit_bytes`` every other one is dropped
(never the first, so going back to the start always works) and the interval doubles.
Positions are counted in instructions executed since the start of the run.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL = 16_384
DEFAULT_LIMIT = 256 << 20


@dataclass(frozen=True, slots=True)
class Mark:
    insns: int
    checkpoint: object
    size: int
    edit: bool = False  # the user changed the machine here: replay must pass through it


@dataclass(frozen=True, slots=True)
class HistoryStats:
    checkpoints: int
    bytes: int
    interval: int
    furthest: int  # the furthest position executed in this run

    @property
    def bytes_per_step(self) -> float:
        return self.bytes / self.furthest if self.furthest else 0.0


class History:
    def __init__(self, interval: int = DEFAULT_INTERVAL, limit_bytes: int = DEFAULT_LIMIT) -> None:
        if interval < 1:
            raise ValueError("the checkpoint interval must be at least 1 instruction")
        self.base_interval = interval
        self.interval = interval
        self.limit_bytes = limit_bytes
        self._marks: list[Mark] = []
        self._positions: list[int] = []
        self.furthest = 0

    def clear(self) -> None:
        self._marks.clear()
        self._positions.clear()
        self.interval = self.base_interval
        self.furthest = 0

    def __len__(self) -> int:
        return len(self._marks)

    @property
    def bytes(self) -> int:
        return sum(m.size for m in self._marks)

    def stats(self) -> HistoryStats:
        return HistoryStats(len(self._marks), self.bytes, self.interval, self.furthest)

    @property
    def start(self) -> int:
        return self._positions[0] if self._positions else 0

    def record(self, insns: int, checkpoint: object, size: int, *, edit: bool = False) -> None:
        """Keep a checkpoint of position ``insns``. ``edit``: the user changed the machine
        here, so the recorded future is no longer what would happen; it is dropped, and this
        checkpoint replaces any other at the same position."""
        if edit:
            self.truncate_after(insns)
        elif self._positions and self._positions[-1] >= insns:
            return  # replaying towards checkpoints we already have
        if self._positions and self._positions[-1] == insns:
            self._marks.pop()
            self._positions.pop()
        self._marks.append(Mark(insns, checkpoint, size, edit))
        self._positions.append(insns)
        self.furthest = max(self.furthest, insns)
        while self.bytes > self.limit_bytes and len(self._marks) > 2 and self._thin():
            pass

    def _thin(self) -> bool:
        """Drop every other checkpoint; the first, the last and the user's edits stay (an
        edit cannot be recomputed by replay). False when nothing could be dropped."""
        last = len(self._marks) - 1
        keep = [m for i, m in enumerate(self._marks) if i % 2 == 0 or m.edit or i == last]
        self.interval *= 2
        if len(keep) == len(self._marks):
            return False
        self._marks = keep
        self._positions = [m.insns for m in keep]
        return True

    def due(self, insns: int) -> bool:
        """Whether position ``insns`` should get a checkpoint before running on."""
        if not self._positions:
            return True
        last = self._positions[-1]
        return insns > last and insns - last >= self.interval

    def next_due(self, insns: int) -> int:
        """How many instructions may run from ``insns`` before the next checkpoint is due."""
        if not self._positions:
            return 1
        last = self._positions[-1]
        if insns < last:
            return max(1, last - insns)
        return max(1, last + self.interval - insns)

    def at_or_before(self, insns: int) -> Mark | None:
        i = bisect.bisect_right(self._positions, insns) - 1
        return self._marks[i] if i >= 0 else None

    def marks_before(self, insns: int) -> list[Mark]:
        """Checkpoints strictly before ``insns``, latest first (reverse searches walk these)."""
        i = bisect.bisect_left(self._positions, insns)
        return list(reversed(self._marks[:i]))

    def edit_at(self, insns: int) -> Mark | None:
        """The user's edit made at position ``insns``, if any."""
        i = bisect.bisect_left(self._positions, insns)
        if i < len(self._marks) and self._positions[i] == insns and self._marks[i].edit:
            return self._marks[i]
        return None

    def next_edit_after(self, insns: int) -> int | None:
        """The first position after ``insns`` where the user edited the machine."""
        i = bisect.bisect_right(self._positions, insns)
        for mark in self._marks[i:]:
            if mark.edit:
                return mark.insns
        return None

    def truncate_after(self, insns: int) -> None:
        """Forget checkpoints after ``insns``: execution is about to diverge from them."""
        i = bisect.bisect_right(self._positions, insns)
        del self._marks[i:]
        del self._positions[i:]


Replayer = Callable[[int], None]
