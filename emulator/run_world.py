"""What a compiled backend (host-jit, nic) gives the shared helper implementations
(emulator.helpers): the per-run world (output, clock, random source, maps) and a
HelperContext over it.

Helpers run in Python against the same AddressSpace the native code reads and writes, so a
helper sees exactly what the program stored. Backends never import each other, so this
lives beside them rather than inside one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.env import Environment
from emulator.helpers.fib import FibTable
from emulator.map_memory import MapMemory
from emulator.maps import Element, Map
from emulator.memory import AddressSpace
from emulator.progtypes import RunSetup
from emulator.progtypes.packet import PacketBuffer


@dataclass
class RunWorld:
    """The per-run state helpers read and change: output, clock, random source, maps."""

    env: Environment = field(default_factory=Environment)
    space: AddressSpace = field(default_factory=AddressSpace)
    setup: RunSetup = field(default_factory=lambda: RunSetup(0))
    mapmem: MapMemory = field(default_factory=lambda: MapMemory(AddressSpace(), []))
    prog_type: str = "raw"
    cpu: int = 0
    clock: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    output: list[str] = field(default_factory=list)
    reservations: dict[int, tuple[Map, Element]] = field(default_factory=dict)
    run_state: dict[str, object] = field(default_factory=dict)


class HelperContext:
    """emulator.helpers.registry.HelperContext over a RunWorld (looked up on every access,
    so a restored checkpoint's world is what helpers see)."""

    def __init__(self, world: Callable[[], RunWorld]) -> None:
        self._world = world

    @property
    def space(self) -> AddressSpace:
        return self._world().space

    @property
    def prog_type(self) -> str:
        return self._world().prog_type

    @property
    def cpu(self) -> int:
        return self._world().cpu

    @property
    def packet(self) -> PacketBuffer | None:
        return self._world().setup.packet

    def emit(self, line: str) -> None:
        self._world().output.append(line)

    def now_ns(self) -> int:
        w = self._world()
        w.clock += w.env.clock_step_ns
        return w.clock

    def random_u32(self) -> int:
        return self._world().rng.getrandbits(32)

    @property
    def ctx_values(self) -> dict[str, int] | None:
        ctx = self._world().setup.ctx
        return ctx.values if ctx is not None else None

    @property
    def run_state(self) -> dict[str, object]:
        return self._world().run_state

    @property
    def fib(self) -> FibTable:
        return self._world().env.fib

    def map_at(self, addr: int) -> tuple[int, Map] | None:
        return self._world().mapmem.map_at(addr)

    def value_ptr(self, index: int, element: Element) -> int:
        return self._world().mapmem.value_ptr(index, element)

    def inner_map_ptr(self, inner: object) -> int:
        return self._world().mapmem.inner_map_ptr(inner)

    @property
    def reservations(self) -> dict[int, tuple[Map, Element]]:
        return self._world().reservations
