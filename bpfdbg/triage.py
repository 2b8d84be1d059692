"""Triage: a whole capture through several backends in lockstep, summarised as a report of
where and why they disagree (``bpfdbg triage``).

The question triage answers is "what changes when this program runs on the offload device
instead of the host, and is each change a known device behaviour or a bug?". So:

1. Every backend loads the program. A refusal (the offload verifier's reasons, each naming
   the instruction and the fix) ends the triage: there is nothing to compare.
2. Every packet of the capture runs on every backend in lockstep (:class:`Lockstep`), in
   capture order. Maps are machine state: each backend keeps its own from packet to packet,
   as two interfaces fed the same traffic would (and as ``compare all`` and ``run all`` do
   in the debugger). After the first divergence of a packet each backend finishes the packet
   on its own, so that its verdict and its maps are what that machine would have left.
3. Packets that diverged are grouped into classes: the same first divergent instruction,
   the same set of differing things, the same explanation. Each class gets the instruction
   (disassembly, source line), the values on each side, each backend's native code, and the
   known behaviour difference that explains it (:mod:`bpfdbg.offload_explain`), if any.

A packet that starts while the backends' maps already differ (an earlier packet left them
different) is marked. Lockstep leaves the entries that differed at the start out of that
packet's map comparisons (``Lockstep.carried_over``), so an old difference does not pose
as a new bug at every helper call; what the packet itself does is still compared.

Parallel runs (``jobs > 1``). Because maps persist, packet k's outcome depends on every packet
before it, on every backend; a worker cannot start in the middle of the capture with fresh
machines. Map snapshots are not enough either (per-backend records, clocks and random
sources carry over too, and perf/ring records cannot be restored). So each worker process
builds its own backends from the same files and options, *replays* the packets before its
chunk at full speed on each backend separately (``run``, no lockstep, no comparisons: the
same per-packet sequence reset-then-run-to-the-end that the lockstep loop leaves behind),
and then runs its chunk in lockstep. The machines a worker reaches its chunk with are
therefore exactly those of a sequential run, and the results are identical to ``jobs=1``,
in capture order. Replaying is cheap next to lockstep (lockstep compares state after every
instruction), and chunk boundaries are chosen from a measured cost ratio so that workers
with longer prefixes get shorter chunks and all finish together.
"""

from __future__ import annotations

import importlib
import multiprocessing
import queue as queue_module
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bpfdbg.capture import CaptureError, read_capture, read_map_entries
from bpfdbg.lockstep import LoadMismatch, Lockstep
from bpfdbg.offload_explain import Evidence, Explanation, explain, explain_refusal
from emulator.backends.base import LoadReport, backend_names, create, register
from emulator.bpfobject import BpfObject
from emulator.diagnostics import Diagnostic
from emulator.env import DEFAULT_BUDGET, Environment, RunInput
from emulator.errors import ElfLoadError
from emulator.program import Program, SourceLine
from emulator.progtypes import prog_type
from emulator.state import StopCondition, StopEvent, StopReason

PACKET_TYPES = ("xdp", "tc", "socket")
Progress = Callable[[int, int], None]


class TriageError(Exception):
    """Bad input for a triage (a path, a capture, a backend or profile name); the message
    says what is wrong and what to do."""


# -- what to triage ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriageSpec:
    """What to triage, by file paths and options: small and picklable, so that worker
    processes rebuild the same machines from it."""

    program_path: str
    pcap_path: str
    prog_name: str | None = None
    maps_path: str | None = None
    backends: tuple[str, ...] = ("interp", "nic")
    profile: str | None = None
    budget: int = DEFAULT_BUDGET
    plugins: tuple[tuple[str, str, str], ...] = ()
    """(backend name, module, class) for backends registered outside emulator's built-in
    set, so that a worker process can register them too."""


@dataclass
class Inputs:
    """A loaded program, its capture and how to build each backend's environment."""

    program: Program
    packets: list[bytes]
    backends: tuple[str, ...]
    obj: BpfObject | None = None
    map_entries: tuple[tuple[str, bytes, bytes], ...] = ()
    profile: str | None = None
    budget: int = DEFAULT_BUDGET
    program_path: str = ""
    capture_path: str = ""

    def make_env(self) -> Environment:
        settings: dict[str, Any] = {"budget": self.budget, "map_entries": self.map_entries}
        if self.profile is not None:
            settings["device_profile"] = self.profile
        if self.obj is not None:
            return Environment.for_object(self.obj, **settings)
        return Environment(**settings)

    @property
    def programs(self) -> dict[str, Program]:
        progs = {p.name: p for p in (self.obj.programs if self.obj is not None else [])}
        progs[self.program.name] = self.program
        return progs

    @property
    def device_backends(self) -> frozenset[str]:
        """Backends that model an offload device (they may refuse valid programs by design);
        the others are the host side."""
        return frozenset(n for n in self.backends if create(n).capabilities.may_refuse)

    @property
    def shown_profile(self) -> str | None:
        """The device profile, when a backend models a device (otherwise it means nothing)."""
        if not self.device_backends:
            return None
        return self.profile if self.profile is not None else Environment().device_profile


def profile_names() -> list[str] | None:
    """The offload device profiles, or None when the nic backend's profiles are not here."""
    try:
        from emulator.backends.nic import profiles  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    names = getattr(profiles, "profile_names", None)
    return list(names()) if callable(names) else None


def check_backends(names: Sequence[str]) -> tuple[str, ...]:
    known = backend_names()
    out: list[str] = []
    for name in names:
        if name not in known:
            raise TriageError(f"unknown backend {name!r}; available: {', '.join(known)}")
        if not create(name).capabilities.can_step:
            raise TriageError(f"the {name} backend cannot step, so it cannot run in lockstep; "
                              "triage compares backends instruction by instruction")  # fmt: skip
        if name in out:
            raise TriageError(f"backend {name!r} is listed twice")
        out.append(name)
    if len(out) < 2:
        raise TriageError("triage compares at least two backends, e.g. --backends interp,nic")
    return tuple(out)


def check_profile(name: str | None) -> None:
    if name is None:
        return
    names = profile_names()
    if names is None:
        raise TriageError("--profile picks an offload device profile, but the nic backend's profiles are "
                          "not available in this installation")  # fmt: skip
    if name not in names:
        raise TriageError(f"unknown device profile {name!r}; known: {', '.join(names)}")


def load_inputs(spec: TriageSpec) -> Inputs:
    """Read the program, the capture and the map entries of ``spec``; TriageError for
    anything a user can get wrong."""
    backends = check_backends(spec.backends)
    check_profile(spec.profile)
    if spec.budget < 1:
        raise TriageError(f"--budget must be at least 1, got {spec.budget}")
    program, obj = _read_program(spec.program_path, spec.prog_name)
    if program.prog_type not in PACKET_TYPES:
        raise TriageError(f"{program.name} is a {program.prog_type} program; triage feeds it packets, "
                          f"which needs one of: {', '.join(PACKET_TYPES)}")  # fmt: skip
    try:
        packets = [p.data for p in read_capture(spec.pcap_path)]
    except CaptureError as err:
        raise TriageError(str(err)) from None
    if not packets:
        raise TriageError(f"{spec.pcap_path} holds no packets")
    entries: tuple[tuple[str, bytes, bytes], ...] = ()
    if spec.maps_path is not None:
        try:
            entries = read_map_entries(spec.maps_path, Path(spec.program_path).name)
        except CaptureError as err:
            raise TriageError(str(err)) from None
    return Inputs(program, packets, backends, obj, entries, spec.profile, spec.budget,
                  spec.program_path, spec.pcap_path)  # fmt: skip


def _read_program(path: str, name: str | None) -> tuple[Program, BpfObject]:
    from emulator.elf import load_object

    try:
        head = Path(path).read_bytes()[:4]
    except OSError as err:
        raise TriageError(f"cannot read {path}: {err.strerror or err}") from None
    if head != b"\x7fELF":
        raise TriageError(f"{path} is not an ELF object; triage takes a compiled BPF object "
                          "(clang -O2 -g -target bpf -c)")  # fmt: skip
    try:
        obj = load_object(path)
    except ElfLoadError as err:
        raise TriageError(str(err)) from None
    if not obj.programs:
        raise TriageError(f"{path} holds no BPF programs")
    if name is None:
        return obj.programs[0], obj
    try:
        return obj.program(name), obj
    except KeyError as err:
        raise TriageError(str(err.args[0])) from None


# -- results -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BackendEnd:
    """How one backend finished one packet."""

    backend: str
    reason: str  # "exit", "fault", "budget", or another StopReason value
    retval: int | None = None
    action: str | None = None  # XDP_PASS, TC_ACT_SHOT, ... where the program type names it
    fault: str | None = None
    pc: int = 0
    insns: int = 0

    @property
    def text(self) -> str:
        if self.reason == "exit":
            if self.action is not None and not self.action.startswith("unknown"):
                return self.action
            return f"exit {self.retval:#x}" if self.retval is not None else "exit"
        if self.reason == "fault":
            return f"fault at insn {self.pc}"
        if self.reason == "budget":
            return "budget spent"
        return self.reason

    def to_json(self) -> dict[str, Any]:
        return {"end": self.reason, "retval": self.retval, "action": self.action, "fault": self.fault,
                "pc": self.pc, "insns": self.insns}  # fmt: skip


@dataclass(frozen=True)
class PacketResult:
    """One packet: every backend's end, and the first divergence (None: they agreed)."""

    index: int  # 0-based position in the capture
    length: int
    ends: tuple[BackendEnd, ...]
    insns: int  # instructions run in lockstep (up to and including the divergent one)
    divergence: Any = None  # bpfdbg.lockstep.Divergence
    maps_differed: bool = False  # the backends' maps already differed when the packet started

    @property
    def agreed(self) -> bool:
        return self.divergence is None

    @property
    def number(self) -> int:
        return self.index + 1

    def end_of(self, backend: str) -> BackendEnd | None:
        for end in self.ends:
            if end.backend == backend:
                return end
        return None


@dataclass(frozen=True)
class LoadVerdict:
    backend: str
    ok: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    notes: tuple[str, ...] = ()  # what the backend says about the accepted program

    def to_json(self) -> dict[str, Any]:
        diags = []
        for d in self.diagnostics:
            row: dict[str, Any] = {"pc": d.pc, "severity": d.severity.value, "code": d.code,
                                   "message": d.message}  # fmt: skip
            hint = getattr(d, "hint", None)
            if hint:
                row["hint"] = hint
            known = explain_refusal(d.message)
            if known is not None and d.severity.value == "error":
                row["known"] = {"fact": known.number, "id": known.id, "title": known.title}
            diags.append(row)
        return {"backend": self.backend, "ok": self.ok, "diagnostics": diags, "notes": list(self.notes)}


@dataclass(frozen=True)
class DivergenceClass:
    """Packets whose first divergence is alike: same instruction, same differing things,
    same explanation."""

    number: int
    program: str
    pc: int
    fields: tuple[str, ...]
    packets: tuple[int, ...]  # 0-based indexes, in capture order
    divergence: Any  # the first packet's Divergence: its values and native code
    insn_text: str
    source: SourceLine | None
    explanation: Explanation | None
    verdicts: tuple[tuple[tuple[str, ...], int], ...]  # (each backend's end text, packets), most first
    maps_differed: int = 0  # how many of the packets started with maps that already differed

    @property
    def count(self) -> int:
        return len(self.packets)


@dataclass
class TriageReport:
    program: str
    program_path: str
    prog_type: str
    capture_path: str
    packet_count: int
    backends: tuple[str, ...]
    device_backends: frozenset[str]
    profile: str | None
    loads: tuple[LoadVerdict, ...]
    packets: tuple[PacketResult, ...] = ()
    classes: tuple[DivergenceClass, ...] = ()
    elapsed: float = 0.0
    jobs: int = 1

    @property
    def refused(self) -> tuple[LoadVerdict, ...]:
        return tuple(v for v in self.loads if not v.ok)

    @property
    def agreed(self) -> int:
        return sum(1 for p in self.packets if p.agreed)

    @property
    def rate(self) -> float:
        return 100.0 * self.agreed / len(self.packets) if self.packets else 0.0

    @property
    def exit_status(self) -> int:
        """0: every packet agreed; 1: a divergence, or a backend refused the program."""
        return 1 if self.refused or self.agreed != len(self.packets) else 0

    def class_of(self, packet: PacketResult) -> DivergenceClass | None:
        for c in self.classes:
            if packet.index in c.packets:
                return c
        return None


# -- running packets -----------------------------------------------------------------------------
class PacketRunner:
    """The backends of one triage, with their maps carried from packet to packet."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.kind = prog_type(inputs.program.prog_type)
        self.engine = Lockstep(inputs.program, inputs.make_env, inputs.backends)  # LoadMismatch
        self.budget = inputs.budget
        self._maps_may_differ = True  # until shown equal: an earlier divergence may have left them apart

    def run_input(self, data: bytes) -> RunInput:
        return RunInput(packet=data, budget=self.budget)

    def lockstep(self, index: int, data: bytes) -> PacketResult:
        """One packet in lockstep; after a divergence each backend finishes on its own."""
        engine = self.engine
        maps_differed = self._maps_may_differ and self._maps_differ()
        engine.reset(self.run_input(data))
        result = engine.run(self.budget)
        ends: dict[str, StopEvent | None] = dict(result.ends)
        for name, machine in engine.machines.items():
            if ends.get(name) is None:
                ends[name] = machine.run(StopCondition())
        finished = all(e is not None and e.reason is not StopReason.INTERRUPTED for e in ends.values())
        # entries an earlier packet left apart are left out of lockstep's comparisons
        # (Lockstep.carried_over), so agreeing does not mean the maps are equal again
        self._maps_may_differ = not (result.agreed and finished) or bool(engine.carried_over)
        return PacketResult(
            index,
            len(data),
            tuple(self._end(name, ends[name]) for name in engine.names),
            result.insns,
            result.divergence,
            maps_differed,
        )

    def replay(self, data: bytes) -> None:
        """One packet on each backend separately, at full speed: the state a lockstep run of
        it leaves behind (each backend reset, then run to its own end)."""
        run = self.run_input(data)
        for machine in self.engine.machines.values():
            machine.reset(run)
            machine.run(StopCondition())
        self._maps_may_differ = True

    def _maps_differ(self) -> bool:
        dumps = [m.map_set().dump() for m in self.engine.machines.values()]
        differ = any(d != dumps[0] for d in dumps[1:])
        if not differ:
            self._maps_may_differ = False
        return differ

    def _end(self, name: str, stop: StopEvent | None) -> BackendEnd:
        if stop is None:
            return BackendEnd(name, "running")
        reason = stop.reason.value
        if stop.reason is StopReason.EXIT:
            return BackendEnd(name, reason, stop.retval, self.kind.action_name(stop.retval), None, stop.pc,
                              stop.insns)  # fmt: skip
        fault = stop.fault.message if stop.fault is not None else None
        return BackendEnd(name, reason, None, None, fault, stop.pc, stop.insns)


def _load_verdicts(inputs: Inputs) -> tuple[tuple[LoadVerdict, ...], PacketRunner | None]:
    try:
        runner = PacketRunner(inputs)
    except LoadMismatch as err:
        return tuple(_verdict(n, err.reports[n], None, None) for n in inputs.backends), None
    reports = runner.engine.reports
    machines = runner.engine.machines
    profile = inputs.shown_profile
    return tuple(_verdict(n, reports[n], machines[n], profile) for n in inputs.backends), runner


def _verdict(name: str, report: LoadReport, machine: object | None, profile: str | None) -> LoadVerdict:
    notes: list[str] = []
    if report.ok and machine is not None and getattr(machine, "capabilities", None) is not None:
        if machine.capabilities.may_refuse:  # type: ignore[attr-defined]
            notes.extend(_store_note(machine, profile))
    return LoadVerdict(name, report.ok, tuple(report.diagnostics), tuple(notes))


def _store_note(machine: object, profile: str | None) -> list[str]:
    """How much of the device's instruction store the accepted image takes: the backend's
    own count when it gives one (``insn_store_used()``), else the length of its image
    listing, against the profile's store size."""
    used = getattr(machine, "insn_store_used", None)
    if callable(used):
        used = used()
    if not isinstance(used, int):
        listing = getattr(machine, "native_image_listing", None)
        used = len(listing()) if callable(listing) else None
    if not isinstance(used, int) or used <= 0:
        return []
    size = _store_size(profile)
    if size:
        return [f"{used:,} of {size:,} instruction-store slots"]
    return [f"{used:,} instruction-store slots"]


def _store_size(profile: str | None) -> int | None:
    if profile is None:
        return None
    try:
        from emulator.backends.nic.profiles import profile as device_profile  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        size = getattr(device_profile(profile), "max_insns", None)
    except (KeyError, ValueError):
        return None
    return size if isinstance(size, int) and size > 0 else None


# -- parallel chunks -----------------------------------------------------------------------------
MIN_CHUNK = 4  # packets per worker below which another process is not worth starting


def plan_chunks(count: int, jobs: int, ratio: float) -> list[tuple[int, int]]:
    """Contiguous [start, end) chunks for ``jobs`` workers such that each worker's replay of
    the packets before its chunk (``ratio`` of a lockstep packet's cost each) plus its
    chunk in lockstep take about the same time. Workers are fewer when chunks would be
    tiny."""
    jobs = max(1, min(jobs, count // MIN_CHUNK or 1))
    ratio = min(max(ratio, 0.0), 1.0)
    if jobs == 1:
        return [(0, count)]
    if ratio <= 1e-9:
        starts = [count * k / jobs for k in range(jobs + 1)]
    else:
        # worker k: start_k * ratio + (start_{k+1} - start_k) = T for every k, start_jobs = count
        total = count * ratio / (1 - (1 - ratio) ** jobs)
        starts = [total * (1 - (1 - ratio) ** k) / ratio for k in range(jobs + 1)]
    bounds = sorted({0, count, *(min(count, max(0, round(s))) for s in starts)})
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _plugins(runner: PacketRunner) -> tuple[tuple[str, str, str], ...]:
    out = []
    for name, machine in runner.engine.machines.items():
        cls = type(machine)
        out.append((name, cls.__module__, cls.__qualname__))
    return tuple(out)


def _install_plugins(plugins: Sequence[tuple[str, str, str]]) -> None:
    """In a worker: register the backends the parent had that this process does not."""
    known = set(backend_names())
    for name, module, qualname in plugins:
        if name in known:
            continue
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        register(name, target)


def _worker(spec: TriageSpec, start: int, end: int, chunk: int, out: Any) -> None:
    """A worker process: replay [0, start) at full speed, then [start, end) in lockstep;
    results (or the error) go to ``out`` as (kind, chunk, payload)."""
    try:
        _install_plugins(spec.plugins)
        inputs = load_inputs(spec)
        runner = PacketRunner(inputs)
        for data in inputs.packets[:start]:
            runner.replay(data)
        results = []
        last = time.monotonic()
        for i in range(start, end):
            results.append(runner.lockstep(i, inputs.packets[i]))
            now = time.monotonic()
            if now - last >= 0.1:
                out.put(("progress", chunk, len(results)))
                last = now
        out.put(("done", chunk, results))
    except BaseException:  # the parent reports it; a worker must always answer
        out.put(("error", chunk, traceback.format_exc()))


def _measure_ratio(runner: PacketRunner, packets: Sequence[bytes]) -> float:
    """Cost of a full-speed replay of a packet relative to its lockstep run, measured on a
    few packets with the parent's own (otherwise unused) machines."""
    sample = list(packets[: min(len(packets), 8)])
    t0 = time.perf_counter()
    for i, data in enumerate(sample):
        runner.lockstep(i, data)
    t1 = time.perf_counter()
    for data in sample:
        runner.replay(data)
    t2 = time.perf_counter()
    return (t2 - t1) / (t1 - t0) if t1 > t0 else 0.0


def _run_parallel(spec: TriageSpec, inputs: Inputs, runner: PacketRunner, jobs: int,
                  progress: Progress | None) -> list[PacketResult]:  # fmt: skip
    plugins = _plugins(runner)
    for name, _module, qualname in plugins:
        if "<locals>" in qualname:
            raise TriageError(f"the {name} backend is defined inside a function, so worker processes "
                              "cannot create it; run with --jobs 1")  # fmt: skip
    if len(plan_chunks(len(inputs.packets), jobs, 0.0)) == 1:
        return _run_sequential(runner, inputs, progress)
    chunks = plan_chunks(len(inputs.packets), jobs, _measure_ratio(runner, inputs.packets))
    spec = replace(spec, plugins=plugins)
    ctx = multiprocessing.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(spec, a, b, k, out), daemon=True, name=f"bpfdbg-triage-{k}")
        for k, (a, b) in enumerate(chunks)
    ]
    for p in procs:
        p.start()
    done_by: dict[int, int] = {}
    results: dict[int, list[PacketResult]] = {}
    total = len(inputs.packets)
    try:
        while len(results) < len(chunks):
            try:
                kind, chunk, payload = out.get(timeout=0.25)
            except queue_module.Empty:
                for k, p in enumerate(procs):
                    if k not in results and p.exitcode not in (None, 0):
                        raise RuntimeError(f"triage worker {k} (packets {chunks[k][0] + 1}-{chunks[k][1]}) "
                                           f"died with exit code {p.exitcode}") from None  # fmt: skip
                continue
            if kind == "error":
                raise RuntimeError(f"triage worker {chunk} failed:\n{payload}")
            if kind == "progress":
                done_by[chunk] = payload
            else:
                results[chunk] = payload
                done_by[chunk] = len(payload)
            if progress is not None:
                progress(sum(done_by.values()), total)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
    return [r for k in range(len(chunks)) for r in results[k]]


def _run_sequential(runner: PacketRunner, inputs: Inputs, progress: Progress | None) -> list[PacketResult]:
    results = []
    total = len(inputs.packets)
    for i, data in enumerate(inputs.packets):
        results.append(runner.lockstep(i, data))
        if progress is not None:
            progress(i + 1, total)
    return results


# -- the triage ----------------------------------------------------------------------------------
def triage(spec: TriageSpec, jobs: int = 1, progress: Progress | None = None) -> TriageReport:
    """Triage ``spec`` with ``jobs`` worker processes (results identical for any count)."""
    if jobs < 1:
        raise TriageError(f"--jobs must be at least 1, got {jobs}")
    inputs = load_inputs(spec)
    return triage_inputs(inputs, jobs, progress, spec)


def triage_inputs(inputs: Inputs, jobs: int = 1, progress: Progress | None = None,
                  spec: TriageSpec | None = None) -> TriageReport:  # fmt: skip
    """Triage already loaded inputs. Parallel runs need ``spec`` (workers rebuild the
    inputs from its paths); without one, packets run in this process."""
    started = time.perf_counter()
    loads, runner = _load_verdicts(inputs)
    report = TriageReport(
        program=inputs.program.name,
        program_path=inputs.program_path,
        prog_type=inputs.program.prog_type,
        capture_path=inputs.capture_path,
        packet_count=len(inputs.packets),
        backends=inputs.backends,
        device_backends=inputs.device_backends,
        profile=inputs.shown_profile,
        loads=loads,
        jobs=jobs,
    )
    if runner is None:
        return report
    if jobs > 1 and spec is not None:
        packets = _run_parallel(spec, inputs, runner, jobs, progress)
    else:
        packets = _run_sequential(runner, inputs, progress)
    report.packets = tuple(packets)
    report.classes = classify(packets, inputs)
    report.elapsed = time.perf_counter() - started
    return report


def classify(packets: Sequence[PacketResult], inputs: Inputs) -> tuple[DivergenceClass, ...]:
    """Group the divergent packets (see DivergenceClass): most packets first."""
    from bpfdbg.locations import LineTable
    from bpfdbg.render.code import program_resolver
    from emulator.disasm import format_insn

    programs = inputs.programs
    device = inputs.device_backends
    groups: dict[tuple[Any, ...], list[tuple[PacketResult, Explanation | None]]] = {}
    for p in packets:
        div = p.divergence
        if div is None:
            continue
        prog = programs.get(div.program)
        insn = prog.insn_at(div.pc) if prog is not None else None
        evidence = Evidence(div, insn, inputs.program.prog_type, device, p.length, inputs.shown_profile)
        found = explain(evidence)
        key = (div.program, div.pc, div.fields, found.behaviour.id if found else None)
        groups.setdefault(key, []).append((p, found))
    ordered = sorted(groups.values(), key=lambda m: (-len(m), m[0][0].index))
    classes = []
    lines: dict[str, LineTable] = {}
    for number, members in enumerate(ordered, start=1):
        first, found = members[0]
        div = first.divergence
        prog = programs.get(div.program)
        text, source = "?", None
        if prog is not None:
            insn = prog.insn_at(div.pc)
            if insn is not None:
                text = format_insn(insn, div.pc, dialect="llvm", resolver=program_resolver(inputs.obj, prog))
            table = lines.setdefault(prog.name, LineTable(prog))
            source = table.line_of(div.pc)
        verdicts = Counter(tuple(e.text for e in p.ends) for p, _ in members)
        classes.append(
            DivergenceClass(
                number=number,
                program=div.program,
                pc=div.pc,
                fields=tuple(d.what for d in div.differences),
                packets=tuple(p.index for p, _ in members),
                divergence=div,
                insn_text=text,
                source=source,
                explanation=found,
                verdicts=tuple(verdicts.most_common()),
                maps_differed=sum(1 for p, _ in members if p.maps_differed),
            )
        )
    return tuple(classes)
