"""Lockstep: several backends run the same program on the same input, one eBPF instruction
at a time, and the first instruction after which they disagree is reported.

The first backend is the reference (``interp`` by convention). After every instruction the
engine compares what can differ cheaply and exactly:

* the position (pc, program, call depth) and r0-r10;
* memory the instruction wrote, on any backend: each journalled write range is read back
  from every backend (so a backend that wrote where the other did not shows up too);
* trace output lines, and how the run ended (exit code, fault, budget);
* after a helper call or a tail call, and at the end, every map, and at the end the whole
  of every memory region (packet, stack, ctx).

A Divergence names the instruction (pc, source text, how many instructions ran before it),
each difference with every backend's value, and each backend's native code for that
instruction, so the user sees *why* next to *what*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.backends.base import Backend, LoadReport, NativeInsn, create
from emulator.env import Environment, RunInput
from emulator.isa.table import Form
from emulator.memory import MemoryFaultError
from emulator.program import Program
from emulator.state import StepEvent, StopEvent, StopReason

REG_NAMES = tuple(f"r{i}" for i in range(11))
ALL_BITS = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing the backends disagree on, with each backend's value as text."""

    what: str  # "r3", "pc", "end", "memory pkt+14", "map counters", "output", "region pkt"
    values: tuple[tuple[str, str], ...]  # (backend, value)

    def value_of(self, backend: str) -> str:
        return dict(self.values)[backend]


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first instruction after which the backends disagree."""

    pc: int
    program: str
    insns: int  # instructions executed before this one
    differences: tuple[Difference, ...]
    native: tuple[tuple[str, tuple[NativeInsn, ...]], ...] = ()  # each backend's code for it

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(d.what for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        return {
            "pc": self.pc,
            "program": self.program,
            "insns": self.insns,
            "differences": [{"what": d.what, "values": dict(d.values)} for d in self.differences],
            "native": {
                name: [{"address": n.address, "bytes": n.raw.hex(), "text": n.text} for n in code]
                for name, code in self.native
            },
        }


@dataclass
class LockstepResult:
    backends: tuple[str, ...]
    insns: int  # instructions every backend executed
    divergence: Divergence | None = None
    ends: dict[str, StopEvent | None] = field(default_factory=dict)

    @property
    def agreed(self) -> bool:
        return self.divergence is None


class LoadMismatch(Exception):
    """A backend refused the program: lockstep cannot start (the reports say why)."""

    def __init__(self, reports: dict[str, LoadReport]) -> None:
        self.reports = reports
        refused = [
            f"{name}: {'; '.join(str(d) for d in r.errors[:3])}" for name, r in reports.items() if not r.ok
        ]
        super().__init__("; ".join(refused))


def _hex(value: int) -> str:
    return f"{value:#x}"


class Lockstep:
    """Backends by name, each with its own environment (maps are state), stepped together.

    ``make_env`` builds a fresh Environment per backend (the object's maps and the
    ``--maps`` entries), so one backend's map writes never leak into another's.
    """

    def __init__(self, program: Program, make_env: Callable[[], Environment], names: Sequence[str]) -> None:
        if len(names) < 2:
            raise ValueError("lockstep needs at least two backends")
        self.program = program
        self.names = tuple(names)
        self.machines: dict[str, Any] = {name: create(name) for name in names}
        self.reports = {name: m.load(program, make_env()) for name, m in self.machines.items()}
        if not all(r.ok for r in self.reports.values()):
            raise LoadMismatch(self.reports)
        for name, machine in self.machines.items():
            if not machine.capabilities.can_step:
                raise ValueError(f"the {name} backend cannot step: it cannot run in lockstep")
        self.insns = 0
        self.ended: dict[str, StopEvent | None] = {}
        self._settled: dict[str, frozenset[str]] = {}
        self._undefined = [
            f for f in (getattr(m, "undefined_registers", None) for m in self.machines.values()) if f
        ]
        self._masked = [f for f in (getattr(m, "register_masks", None) for m in self.machines.values()) if f]

    def undefined_registers(self) -> frozenset[int]:
        """Registers some backend says the program may not read here (r1-r5 after a helper
        call on the NIC, whose firmware clobbers them; the verifier forbids reading them), so
        their values are not compared."""
        out: frozenset[int] = frozenset()
        for f in self._undefined:
            out |= f()
        return out

    def register_masks(self) -> tuple[int, ...]:
        """The bits of r0-r10 compared now: all, except registers no program may read
        (undefined_registers) and bits a backend says the program never observes from here
        on (the NIC leaves the upper half of a 32-bit result alone unless a later
        instruction reads it, reference §5.22)."""
        masks = [ALL_BITS] * len(REG_NAMES)
        for f in self._masked:
            for i, m in enumerate(f()):
                masks[i] &= m
        for i in self.undefined_registers():
            masks[i] = 0
        return tuple(masks)

    @property
    def reference(self) -> Backend:
        return self.machines[self.names[0]]  # type: ignore[no-any-return]

    def load_maps(self, snapshot: Mapping[str, Sequence[tuple[bytes, bytes]]]) -> None:
        """Give every backend these map contents (``bpfdbg.mapstate`` snapshot), so all start
        as the session's maps are. Records (ring buffer, perf) cannot be put back; every
        backend then starts without them alike."""
        from bpfdbg.commands.maps import restore_map
        from bpfdbg.commands.registry import CommandError

        for machine in self.machines.values():
            for m in machine.map_set():
                entries = snapshot.get(m.name)
                if entries is None:
                    continue
                try:
                    restore_map(m, list(entries))
                except (CommandError, ValueError, TypeError, KeyError):
                    pass

    def reset(self, run: RunInput) -> None:
        for machine in self.machines.values():
            machine.reset(run)
        self.insns = 0
        self.ended = {}
        self._settled = self._entries_that_differ()

    def _entries_that_differ(self) -> dict[str, frozenset[str]]:
        """Map entries (by map, by key) on which the backends already disagree as a run
        starts: an earlier run left them apart (a divergence that changed a map). They are
        left out of this run's map comparisons, so each run is judged on what it does
        itself and an old difference does not pose as a new one at every helper call."""
        dumps = [m.map_set().dump() for m in self.machines.values()]
        if all(d == dumps[0] for d in dumps[1:]):
            return {}
        out: dict[str, frozenset[str]] = {}
        for name in {k for d in dumps for k in d}:
            rows = [{_entry_key(e): repr(e) for e in d.get(name, [])} for d in dumps]
            keys = {k for r in rows for k in r}
            differ = frozenset(k for k in keys if len({r.get(k) for r in rows}) > 1)
            if differ:
                out[name] = differ
        return out

    @property
    def carried_over(self) -> dict[str, frozenset[str]]:
        """The map entries (keys in hex, by map) the backends disagreed on when this run
        started; left out of its comparisons."""
        return dict(self._settled)

    # -- one instruction -----------------------------------------------------------------------
    def step(self) -> Divergence | None:
        """Execute one instruction on every backend; the divergence it caused, if any."""
        ref = self.reference
        pc, insns, _, program = ref.position()  # type: ignore[attr-defined]
        events = {name: m.step() for name, m in self.machines.items()}
        self.insns = insns + 1
        diffs = self._compare_step(events)
        for name, ev in events.items():
            if ev.stop is not None and ev.stop.reason is not StopReason.STEP:
                self.ended[name] = ev.stop
        if not diffs and self._touches_maps(program, pc):
            diffs.extend(self._compare_maps())
        if not diffs and self.finished:
            diffs.extend(self._compare_maps())
            diffs.extend(self._compare_regions())
        if not diffs:
            return None
        native = tuple((name, tuple(m.native(pc))) for name, m in self.machines.items())
        return Divergence(pc, program, insns, tuple(diffs), native)

    @property
    def finished(self) -> bool:
        return any(ev is not None for ev in self.ended.values()) or bool(self.ended)

    def run(self, budget: int | None = None) -> LockstepResult:
        """Step until the program ends on the reference, a divergence, or ``budget``."""
        limit = budget if budget is not None else 10**9
        divergence = None
        while not self.finished and self.insns < limit:
            divergence = self.step()
            if divergence is not None:
                break
        return LockstepResult(self.names, self.insns, divergence, dict(self.ended))

    # -- comparisons ---------------------------------------------------------------------------
    def _differ(self, what: str, values: dict[str, str]) -> Difference | None:
        if len(set(values.values())) <= 1:
            return None
        return Difference(what, tuple(values.items()))

    def _compare_step(self, events: dict[str, StepEvent]) -> list[Difference]:
        machines = list(self.machines.values())
        # the common case first, in a few tuple comparisons: everything alike
        positions = [m.position() for m in machines]
        regs_now = [m.registers() for m in machines]
        if self._undefined or self._masked:  # compare only the bits a program can still read
            masks = self.register_masks()
            regs_now = [tuple(v & k for v, k in zip(r, masks, strict=False)) for r in regs_now]
        stops = [_end_text(ev.stop) for ev in events.values()]
        outs: list[Sequence[str]] = [getattr(m, "output", []) for m in machines]
        if (
            all(p == positions[0] for p in positions)
            and all(r == regs_now[0] for r in regs_now)
            and all(s == stops[0] for s in stops)
            and not any(ev.mem for ev in events.values())
            and all(len(o) == len(outs[0]) and (not o or o[-1] == outs[0][-1]) for o in outs)
        ):
            return []
        return self._differences(events)

    def _differences(self, events: dict[str, StepEvent]) -> list[Difference]:
        out: list[Difference] = []

        def add(diff: Difference | None) -> None:
            if diff is not None:
                out.append(diff)

        ends = {name: _end_text(ev.stop) for name, ev in events.items()}
        add(self._differ("end", ends))
        positions = {name: m.position() for name, m in self.machines.items()}
        add(self._differ("pc", {n: f"{p[3]}:{p[0]}" for n, p in positions.items()}))
        add(self._differ("depth", {n: str(p[2]) for n, p in positions.items()}))
        regs = {name: m.registers() for name, m in self.machines.items()}
        masks = self.register_masks() if self._undefined or self._masked else (ALL_BITS,) * len(REG_NAMES)
        for i, reg in enumerate(REG_NAMES):
            if len({r[i] & masks[i] for r in regs.values()}) > 1:  # compared masked, shown whole
                add(self._differ(reg, {n: _hex(r[i]) for n, r in regs.items()}))
        ranges = sorted({(w.addr, len(w.new)) for ev in events.values() for w in ev.mem})
        for addr, size in ranges:
            seen = {name: self._read(m, addr, size) for name, m in self.machines.items()}
            diff = self._differ(f"memory {self._where(addr)}", seen)
            add(diff)
        outputs = {name: "\n".join(getattr(m, "output", [])) for name, m in self.machines.items()}
        add(self._differ("output", outputs))
        return out

    def _read(self, machine: Any, addr: int, size: int) -> str:
        try:
            return bytes(machine.read_memory(addr, size)).hex(" ")
        except MemoryFaultError as err:
            return f"<{err.message}>"

    def _where(self, addr: int) -> str:
        kind = self.reference.pointer_kind(addr)  # type: ignore[attr-defined]
        return kind if kind is not None else f"{addr:#x}"

    def _touches_maps(self, program: str, pc: int) -> bool:
        prog = self.program if program == self.program.name else None
        insn = prog.insn_at(pc) if prog is not None else None
        info = insn.info if insn is not None else None
        return info is None or info.form in (Form.CALL, Form.CALLX, Form.ATOMIC)

    def _compare_maps(self) -> list[Difference]:
        dumps = {name: m.map_set().dump() for name, m in self.machines.items()}
        if self._settled:
            dumps = {
                name: {
                    m: [e for e in rows if _entry_key(e) not in self._settled.get(m, ())]
                    for m, rows in d.items()
                }
                for name, d in dumps.items()
            }
        out = []
        names = sorted({k for d in dumps.values() for k in d})
        for map_name in names:
            diff = self._differ(f"map {map_name}", {n: repr(d.get(map_name)) for n, d in dumps.items()})
            if diff is not None:
                out.append(diff)
        return out

    def _compare_regions(self) -> list[Difference]:
        states = {name: m.state() for name, m in self.machines.items()}
        out = []
        names = sorted({k for s in states.values() for k in s.regions})
        for region in names:
            values = {
                n: (bytes(s.regions[region].data).hex() if region in s.regions else "<absent>")
                for n, s in states.items()
            }
            diff = self._differ(f"region {region}", values)
            if diff is not None:
                out.append(diff)
        return out


def _entry_key(entry: Mapping[str, Any]) -> str:
    """What names a dumped map entry: its key, or for a record (ring buffer, perf event)
    with no key, the record itself."""
    key = entry.get("key")
    return str(key) if key is not None else repr(sorted(entry.items()))


def _end_text(stop: StopEvent | None) -> str:
    if stop is None or stop.reason is StopReason.STEP:
        return "running"
    if stop.reason is StopReason.EXIT:
        return f"exit r0={stop.retval:#x}" if stop.retval is not None else "exit"
    if stop.reason is StopReason.FAULT:
        return f"fault: {stop.fault.message if stop.fault else '?'}"
    return stop.reason.name.lower()


REGION_CONTEXT = 4  # bytes shown either side of where two regions first differ
REGION_SHOWN = 24  # at most this many bytes from the first difference on


def region_window(values: tuple[tuple[str, str], ...]) -> str:
    """Where whole regions (hex dumps) differ, with a few bytes around the first place,
    instead of every byte: ``2 bytes differ in 464-467 (shown from byte 460): interp ...``."""
    if not all(len(t) % 2 == 0 and all(ch in "0123456789abcdef" for ch in t) for _, t in values):
        return ", ".join(f"{name} {value}" for name, value in values)
    raw = {name: bytes.fromhex(t) for name, t in values}
    size = max(len(b) for b in raw.values())
    differ = [i for i in range(size) if len({b[i : i + 1] for b in raw.values()}) > 1]
    if not differ:
        return ", ".join(f"{name} {len(b)} bytes" for name, b in raw.items())
    first, last = differ[0], differ[-1]
    lo = max(0, first - REGION_CONTEXT)
    hi = min(last, first + REGION_SHOWN) + 1 + REGION_CONTEXT
    shown = ", ".join(f"{name} {b[lo:hi].hex(' ')}" for name, b in raw.items())
    return f"{len(differ)} bytes differ in {first}-{last} (shown from byte {lo}): {shown}"


def divergence_lines(div: Divergence, insn_text: Callable[[int, str], str] | None = None) -> list[str]:
    """How a divergence reads: the instruction, each difference with every value, and each
    backend's native code for it."""
    text = f": {insn_text(div.pc, div.program)}" if insn_text is not None else ""
    lines = [f"divergence after {div.insns + 1} instructions, at insn {div.pc} in {div.program}{text}"]
    for d in div.differences:
        if d.what.startswith("region "):
            lines.append(f"  {d.what}: {region_window(d.values)}")
            continue
        values = ", ".join(f"{name} {value}" for name, value in d.values)
        lines.append(f"  {d.what}: {values}")
    for name, code in div.native:
        if code:
            lines.append(f"  {name} native code for insn {div.pc}:")
            lines.extend(f"    {n.address:#x}: {n.raw.hex(' '):<24} {n.text}" for n in code)
    return lines


# -- in a debugging session ----------------------------------------------------------------------
class SessionLockstep:
    """Lockstep behind a Session: fresh instances of the session's backend and of the other
    backends, kept at the session's position of the current run and compared on the way.

    The session's own backend is not compared directly (it runs ahead at full speed and
    goes backwards through its history); its twin here, a deterministic copy, is. So after
    any command the engine is brought to the session's position: stepped forward from where
    it is, or restarted from the run's start (maps as they were then) when the session went
    back. The first divergence of a run is reported once; after it the backends' states
    differ, so the engine keeps following without stopping again, and the panes show each
    backend's own state with what differs now.
    """

    def __init__(self, session: Any, others: Sequence[str]) -> None:
        self.session = session
        names = [session.backend_name, *[n for n in others if n != session.backend_name]]
        self.engine = Lockstep(session.program, session.make_env, names)
        self._run: object = None
        self.divergence: Divergence | None = None  # the first of this run
        self._reported: set[int] = set()  # divergences (by position) already shown in this run

    @property
    def names(self) -> tuple[str, ...]:
        return self.engine.names

    def _restart(self) -> None:
        s = self.session
        self.engine.load_maps(s.maps_at_run_start)
        self.engine.reset(s.run_input())
        run = s.history.at_or_before(s.history.start)
        if run is not self._run:
            self._reported.clear()
        self._run = run
        self.divergence = None

    def sync(self) -> Divergence | None:
        """Bring the engine to the session's position; the run's first divergence if this
        found it (None when it was already reported or there is none)."""
        s = self.session
        if not s.started:
            return None
        target = s.machine().position()[1]
        run = s.history.at_or_before(s.history.start)
        if run is not self._run:
            self._reported.clear()
        if run is not self._run or self.engine.insns > target:
            self._restart()
        found = None
        while self.engine.insns < target and not self.engine.finished:
            div = self.engine.step()
            if div is not None and self.divergence is None:
                self.divergence = found = div
        if s.status in ("faulted", "budget") and not self.engine.finished:
            div = self.engine.step()  # the faulting instruction: it ended the run
            if div is not None and self.divergence is None:
                self.divergence = found = div
        if found is None or found.insns in self._reported:
            return None
        self._reported.add(found.insns)
        return found

    def differences_now(self) -> tuple[Difference, ...]:
        """What differs between the engine's backends at this position (after a divergence,
        the panes highlight these)."""
        out = []
        machines = self.engine.machines
        regs = {n: m.registers() for n, m in machines.items()}
        masks = self.engine.register_masks()
        for i, reg in enumerate(REG_NAMES):
            if len({r[i] & masks[i] for r in regs.values()}) <= 1:
                continue
            diff = self.engine._differ(reg, {n: _hex(r[i]) for n, r in regs.items()})
            if diff is not None:
                out.append(diff)
        positions = {n: m.position() for n, m in machines.items()}
        diff = self.engine._differ("pc", {n: f"{p[3]}:{p[0]}" for n, p in positions.items()})
        if diff is not None:
            out.append(diff)
        return tuple(out)
