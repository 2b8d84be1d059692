"""Environment and RunInput: everything outside the program that a run depends on.

The Environment is shared by all backends of a session and describes the world (helper
table, instruction budget; maps, clock and random source arrive with program types). Each
backend builds its own mutable state from it, so that backends can disagree visibly.
RunInput is one run's input: the memory (or, later, packet and ctx) the program sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from emulator.helpers.conformance import CONFORMANCE_HELPERS
from emulator.helpers.registry import HelperTable
from emulator.maps.spec import MapSpec

if TYPE_CHECKING:
    from emulator.bpfobject import BpfObject
    from emulator.helpers.fib import FibTable
    from emulator.program import Program


def _empty_fib() -> FibTable:
    from emulator.helpers.fib import EMPTY_FIB  # helpers import program types, which import us

    return EMPTY_FIB


DEFAULT_BUDGET = 1_000_000
"""Instructions one run may execute before it stops with a budget stop (the kernel's
verifier limit is also a million instructions, so a verifiable program never hits it)."""


@dataclass(frozen=True)
class Environment:
    """The world a program runs in, shared by every backend of a session.

    ``helpers`` None means "the table of the program's type": the conformance convention's
    for raw programs, the kernel's for the others. The clock starts at ``clock_ns`` and
    advances by ``clock_step_ns`` on every read; ``seed`` seeds bpf_get_prandom_u32; each
    run starts both afresh, so every backend sees the same values.
    """

    helpers: HelperTable | None = None
    budget: int = DEFAULT_BUDGET
    clock_ns: int = 1_000_000_000
    clock_step_ns: int = 1_000
    seed: int = 0x5EED
    ncpus: int = 2
    maps: tuple[MapSpec, ...] = ()  # the object's maps; lddw MAP_IDX indexes this
    programs: tuple[Program, ...] = ()  # the object's programs, for tail calls
    btf: object | None = None  # the object's BTF (emulator.elf.btf.Btf), for the kernel's func_info
    map_entries: tuple[tuple[str, bytes, bytes], ...] = ()
    """(map name, key, value) that user space puts in the maps after loading, before the
    first run (what a loader would do with bpf_map_update_elem)."""
    fib: FibTable = field(default_factory=lambda: _empty_fib())
    """What bpf_fib_lookup sees (default: the loopback device only, forwarding off)."""
    device_profile: str = "nfp-public-fw"
    """The offload device the ``nic`` backend models (emulator.backends.nic.profiles): its
    instruction store, stack, packet split, map limits and firmware helpers."""
    mtu: int = 1500
    """The MTU of the (modelled) netdev a program is offloaded to: the offload refuses a
    program that may read past the device's packet split for this MTU."""

    @classmethod
    def for_object(cls, obj: BpfObject, **settings: object) -> Environment:
        """The world of one loaded object: its maps and its programs."""
        return cls(maps=tuple(obj.maps), programs=tuple(obj.programs), btf=obj.btf, **settings)  # type: ignore[arg-type]

    def helpers_for(self, prog_type: str) -> HelperTable:
        if self.helpers is not None:
            return self.helpers
        if prog_type == "raw":
            return CONFORMANCE_HELPERS
        from emulator.helpers.kernel import kernel_helpers

        return kernel_helpers()


@dataclass(frozen=True)
class RunInput:
    """One run's input.

    ``mem``: the raw convention's memory (r1 = its address, r2 = length; r1 = 0 when empty).
    ``packet``: the frame for XDP/TC/socket programs (from its Ethernet header); ``meta``
    XDP metadata in front of it; ``ctx``: context fields by name (``ingress_ifindex``,
    ``rx_queue_index``, ``mark``, ...). ``budget`` overrides the Environment's for this run.
    """

    mem: bytes = b""
    packet: bytes | None = None
    meta: bytes = b""
    ctx: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    budget: int | None = None
    cpu: int = 0
