"""Breakpoints, watchpoints and catchpoints: one numbered table, as in gdb.

These are plain records; the Session decides when one fires (the backend only stops at
candidate pcs). gdb numbers all three kinds in one sequence and so do we, so ``delete 3``
and ``condition 3 ...`` mean the same thing whatever 3 is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from bpfdbg.locations import Site


@dataclass
class Stoppoint:
    number: int
    enabled: bool = True
    condition: str | None = None
    ignore: int = 0
    hits: int = 0
    temporary: bool = False  # tbreak: deleted when it fires
    once: bool = False  # enable once: disabled again when it next fires

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass
class Breakpoint(Stoppoint):
    spec: str = ""
    sites: tuple[Site, ...] = ()
    where: str = ""  # "insn 23: xdp_fw.c:41"

    @property
    def kind(self) -> str:
        return "breakpoint"

    def describe(self) -> str:
        return self.where


@dataclass
class Watchpoint(Stoppoint):
    expr: str = ""
    mode: str = "watch"  # "watch" (writes), "rwatch" (reads), "awatch" (both)
    old: str = ""  # the value as last seen, formatted
    addr: int | None = None  # memory watched by rwatch/awatch (None: a register)
    size: int = 0
    deps: frozenset[int] | None = None  # registers the expression reads (None: re-check every step)

    @property
    def kind(self) -> str:
        return {"watch": "watchpoint", "rwatch": "read watchpoint", "awatch": "acc watchpoint"}[self.mode]

    def describe(self) -> str:
        return self.expr


@dataclass
class Catchpoint(Stoppoint):
    what: str = ""  # "helper", "map", "tailcall", "exit", "fault"
    helpers: frozenset[int] = frozenset()  # helper ids (empty: any helper)
    helper_names: tuple[str, ...] = ()
    map_name: str | None = None
    map_ops: tuple[str, ...] = ()
    actions: frozenset[int] = frozenset()  # exit: r0 values (empty: any)
    action_names: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "catchpoint"

    def describe(self) -> str:
        if self.what == "helper":
            return "helper " + (" ".join(self.helper_names) if self.helper_names else "(any)")
        if self.what == "map":
            ops = " ".join(self.map_ops)
            return f"map {self.map_name or '(any)'}" + (f" {ops}" if ops else "")
        if self.what == "exit":
            return "exit" + (" " + " ".join(self.action_names) if self.action_names else "")
        return self.what


@dataclass
class StopTable:
    """Every breakpoint, watchpoint and catchpoint, by number."""

    items: dict[int, Stoppoint] = field(default_factory=dict)
    next_number: int = 1

    def add(self, point: Stoppoint) -> Stoppoint:
        point.number = self.next_number
        self.next_number += 1
        self.items[point.number] = point
        return point

    def get(self, number: int) -> Stoppoint | None:
        return self.items.get(number)

    def delete(self, number: int) -> None:
        self.items.pop(number, None)

    def __iter__(self) -> Iterator[Stoppoint]:
        return iter(list(self.items.values()))

    def __len__(self) -> int:
        return len(self.items)

    def breakpoints(self) -> list[Breakpoint]:
        return [p for p in self.items.values() if isinstance(p, Breakpoint)]

    def watchpoints(self) -> list[Watchpoint]:
        return [p for p in self.items.values() if isinstance(p, Watchpoint) and p.enabled]

    def catchpoints(self) -> list[Catchpoint]:
        return [p for p in self.items.values() if isinstance(p, Catchpoint) and p.enabled]
