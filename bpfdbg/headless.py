"""One headless run of a program on one backend: what ``bpfdbg run`` and the conformance
paths share. Results are plain data; :func:`result_json` gives DESIGN.md's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.backends.base import create
from emulator.env import Environment, RunInput
from emulator.program import Program
from emulator.progtypes import prog_type
from emulator.state import Fault, StopCondition, StopReason


class RunRejected(Exception):
    """The backend refused to load the program; the message lists its reasons."""


@dataclass
class RunResult:
    backend: str
    reason: StopReason
    retval: int | None
    insns: int
    fault: Fault | None = None
    mem_out: bytes | None = None
    trace: list[str] = field(default_factory=list)
    stopped_at: int = 0
    action: str | None = None
    packet_out: bytes | None = None
    maps: dict[str, object] = field(default_factory=dict)


def run_once(
    prog: Program,
    mem: bytes = b"",
    backend: str = "interp",
    env: Environment | None = None,
    budget: int | None = None,
    packet: bytes | None = None,
) -> RunResult:
    """Load, reset with ``mem`` (raw convention) or ``packet`` and run to the end."""
    machine = create(backend)
    report = machine.load(prog, env or Environment())
    if not report.ok:
        errors = [str(d) for d in report.errors]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise RunRejected("; ".join(errors[:3]) + more)
    machine.reset(RunInput(mem=mem, budget=budget, packet=packet))
    stop = machine.run(StopCondition())
    state = machine.state()
    mem_region = state.regions.get("mem")
    kind = prog_type(prog.prog_type)
    trace = list(getattr(machine, "output", []))
    return RunResult(
        backend,
        stop.reason,
        stop.retval,
        stop.insns,
        stop.fault,
        mem_region.data if mem_region else None,
        trace,
        stop.pc,
        kind.action_name(stop.retval),
        kind.packet_out(state.regions),
        dict(state.maps),
    )


def result_json(result: RunResult) -> dict[str, object]:
    fault: dict[str, object] | None = None
    if result.fault is not None:
        fault = {"pc": result.fault.pc, "message": result.fault.message}
    elif result.reason is StopReason.BUDGET:
        fault = {
            "pc": result.stopped_at,
            "message": f"instruction budget spent after {result.insns} instructions",
        }
    return {
        "backend": result.backend,
        "retval": result.retval,
        "action": result.action,
        "packet_out": result.packet_out.hex() if result.packet_out is not None else None,
        "mem_out": result.mem_out.hex() if result.mem_out is not None else None,
        "insns": result.insns,
        "fault": fault,
        "maps": result.maps,
        "trace": result.trace,
    }
