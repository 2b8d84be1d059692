"""The helper registry: what ``call N`` means.

A helper is known by its id, its kernel name (``bpf_map_lookup_elem``) and its argument
signature, so that the disassembler can name it and the debugger can show its arguments.
Implementations take a :class:`HelperContext` and r1-r5 and return r0; they raise
:class:`HelperFaultError` for misuse, which stops the run with a fault naming the helper.

Different program types see different tables (the conformance convention's helper 5 is not
the kernel's helper 5); a backend gets its table from the Environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from emulator.errors import EmulatorError

if TYPE_CHECKING:
    from emulator.memory import AddressSpace
    from emulator.progtypes.packet import PacketBuffer


class HelperFaultError(EmulatorError):
    """A helper refused its arguments; the message says which and why."""


class HelperContext(Protocol):
    """What a helper may touch: the machine's memory, packet and maps, and the run's
    deterministic world (clock, random source, CPU). Each backend provides one, so helpers
    are written once and every backend runs the same implementation."""

    @property
    def space(self) -> AddressSpace: ...

    @property
    def prog_type(self) -> str: ...

    @property
    def cpu(self) -> int: ...

    @property
    def packet(self) -> PacketBuffer | None: ...

    def emit(self, line: str) -> None:
        """Append a line of trace output (the message part of a trace_pipe line)."""

    def now_ns(self) -> int:
        """The run's deterministic clock (CLOCK_MONOTONIC), advancing on every read."""

    def random_u32(self) -> int:
        """The run's seeded random source."""


HelperImpl = Callable[..., int]


@dataclass(frozen=True, slots=True)
class HelperSpec:
    id: int
    name: str
    args: tuple[str, ...] = ()  # argument names/types in the kernel's vocabulary
    impl: HelperImpl | None = None  # None: known by name but not implemented
    ret: str = "long"

    def signature(self) -> str:
        return f"{self.ret} {self.name}({', '.join(self.args) or 'void'})"


@dataclass(frozen=True)
class HelperTable:
    """An immutable id -> HelperSpec mapping, with a name for messages."""

    name: str
    specs: Mapping[int, HelperSpec] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, helper_id: int) -> HelperSpec | None:
        return self.specs.get(helper_id)

    def name_of(self, helper_id: int) -> str | None:
        spec = self.specs.get(helper_id)
        return spec.name if spec else None

    def __contains__(self, helper_id: int) -> bool:
        return helper_id in self.specs


def helper_table(name: str, specs: Iterable[HelperSpec]) -> HelperTable:
    return HelperTable(name, MappingProxyType({s.id: s for s in specs}))
