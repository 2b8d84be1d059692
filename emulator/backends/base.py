"""The Backend protocol (DESIGN.md) and the registry of backends by name.

A backend loads a Program into its own machine, is reset with a RunInput, and executes it
one eBPF instruction at a time (``step``) or until a StopCondition (``run``). Faults and a
spent budget come back as StopEvents; only bugs in our own code raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from emulator.diagnostics import Diagnostic
from emulator.env import Environment, RunInput
from emulator.maps import MapSet
from emulator.program import Program
from emulator.state import MachineState, StepEvent, StopCondition, StopEvent


@dataclass(frozen=True, slots=True)
class Capabilities:
    can_step: bool = True  # kernel: False (end-state oracle only)
    has_native_view: bool = False  # host-jit, nic
    checkpointable: bool = False  # cheap save/restore for reverse stepping
    raw_programs: bool = True  # runs the raw convention (r1 = memory), as the conformance suite needs
    may_refuse: bool = False  # models a target that refuses valid programs by design (an offload device)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Whether a backend accepted a program, and why not (or what it warns about)."""

    backend: str
    ok: bool
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity.value == "error")


@dataclass(frozen=True, slots=True)
class NativeInsn:
    """One native instruction of a backend's translation (x86-64 or NIC microcode)."""

    address: int
    raw: bytes
    text: str


@runtime_checkable
class Backend(Protocol):
    name: str
    capabilities: Capabilities

    def load(self, prog: Program, env: Environment) -> LoadReport: ...
    def reset(self, run: RunInput) -> None: ...
    def step(self) -> StepEvent: ...
    def run(self, stop: StopCondition) -> StopEvent: ...
    def state(self) -> MachineState: ...
    def native(self, pc: int) -> list[NativeInsn]: ...
    def interrupt(self) -> None: ...


@runtime_checkable
class Debuggable(Protocol):
    """What the debugger needs beyond running: reading and editing the machine at a stop,
    naming what a value points at, the live maps, and checkpoints for reverse execution.
    Every stepping backend provides it; the kernel oracle does not."""

    def read_memory(self, addr: int, size: int) -> bytes: ...
    def write_memory(self, addr: int, data: bytes) -> None: ...
    def set_register(self, reg: int, value: int) -> None: ...
    def pointer_kind(self, value: int) -> str | None: ...
    def map_set(self) -> MapSet: ...
    def position(self) -> tuple[int, int, int, str]: ...
    def registers(self) -> tuple[int, ...]: ...
    def run_status(self) -> str: ...
    def tail_chain(self) -> tuple[tuple[str, int], ...]: ...
    def ctx_handler(self) -> object | None: ...
    def checkpoint(self) -> object: ...
    def restore(self, cp: object) -> None: ...


class BackendError(Exception):
    """Misuse of a backend by its caller (e.g. step before load): a bug, not user input."""


_REGISTRY: dict[str, Callable[[], Backend]] = {}


def register(name: str, factory: Callable[[], Backend]) -> None:
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def create(name: str) -> Backend:
    """A new backend instance by name; raises KeyError listing the known names."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown backend {name!r} (known: {known})") from None
    return factory()


def stepping_backend_names() -> list[str]:
    """The backends that execute instruction by instruction (all but the kernel oracle)."""
    return [name for name in backend_names() if create(name).capabilities.can_step]


def _load_builtin() -> None:
    if "interp" not in _REGISTRY:
        from emulator.backends.interp.backend import InterpBackend
        from emulator.backends.kernel.backend import KernelBackend

        register("interp", InterpBackend)
        register("kernel", KernelBackend)
        register("host-jit", _host_jit)
        register("nic", _nic)


def _host_jit() -> Backend:
    from emulator.backends.hostjit.backend import HostJitBackend  # lazy: pulls in unicorn and capstone

    return HostJitBackend()


def _nic() -> Backend:
    from emulator.backends.nic.backend import NicBackend  # lazy: the offload verifier and translator

    return NicBackend()
