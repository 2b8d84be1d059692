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
    from emulator.helpers.fib import FibTable
    from emulator.maps.base import Element, Map
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

    @property
    def ctx_values(self) -> dict[str, int] | None:
        """The run's context scalar fields by name (``len``, ``protocol``, ``vlan_tci``,
        ``hash`` of an ``__sk_buff``), writable: helpers that change the skb update them.
        None when the program type has no context struct."""

    @property
    def run_state(self) -> dict[str, object]:
        """Per-run state the kernel keeps outside the ctx struct (skb header offsets, the
        redirect target, the XDP frame start); empty at the start of every run."""

    @property
    def fib(self) -> FibTable:
        """The routing state ``bpf_fib_lookup`` consults (the Environment's)."""

    def map_at(self, addr: int) -> tuple[int, Map] | None:
        """The (index, map) a map pointer points at, or None."""

    def value_ptr(self, index: int, element: Element) -> int:
        """The address of a map element's value in this machine (mapped on first use)."""

    def inner_map_ptr(self, inner: object) -> int:
        """The map pointer of a map found inside a map of maps."""

    @property
    def reservations(self) -> dict[int, tuple[Map, Element]]:
        """Ring buffer records reserved and not yet submitted or discarded, by address."""


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
