"""Session: the one object every front end drives (console, TUI, scripts, the Python API).

It owns the loaded object and the selected program, the backend that runs it, the input
(packet, ctx fields, raw memory), the stop table, displays, value history and the execution
history for reverse stepping. It never prints: commands return CommandResults and the
session publishes events (bpfdbg.events) to subscribers.

Python API, with the same power as the commands::

    s = Session.open("sample_progs/xdp_firewall.o", pcap="sample_progs/pcaps/xdp_firewall.pcap")
    s.break_at("xdp_firewall.c:60")
    stop = s.run()                   # Stopped(reason="breakpoint", pc=..., ...)
    s.stepi(); s.reverse_stepi()
    print(hex(s.regs[0]), s.read(s.regs[10] - 8, 8), s.maps["counters"])
    print(s.execute("x/8xb $pkt").text)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bpfdbg.breakpoints import Breakpoint, Catchpoint, StopTable, Watchpoint
from bpfdbg.capture import CapturedPacket, CaptureError, read_capture, read_map_entries
from bpfdbg.commands.registry import CommandError, CommandResult
from bpfdbg.events import Event, OutputEmitted, StateChanged, Stopped
from bpfdbg.history import DEFAULT_INTERVAL, DEFAULT_LIMIT, History
from bpfdbg.locations import LineTable, Location, resolve
from emulator.backends.base import Backend, Debuggable, create
from emulator.bpfobject import BpfObject
from emulator.elf import load_object
from emulator.env import DEFAULT_BUDGET, Environment, RunInput
from emulator.errors import DecodeError, ElfLoadError
from emulator.helpers.kernel import kernel_helpers
from emulator.maps import MapSet
from emulator.memory import MemoryFaultError
from emulator.program import Program, SourceLine
from emulator.progtypes import prog_type as prog_type_of
from emulator.state import MachineState, StepEvent

if TYPE_CHECKING:
    from bpfdbg.commands.interpreter import Interpreter
    from bpfdbg.stepping import Stepper


class SessionError(CommandError):
    """A request the session cannot honour in its current state (one clear line)."""


NOT_RUNNING = 'The program is not being run. Use "start" or "run".'


class DebugBackend(Backend, Debuggable):  # type: ignore[misc]
    """A backend the debugger can step, inspect and rewind (every stepping backend)."""


@dataclass
class Display:
    number: int
    expr: str
    fmt: str | None = None  # print format, or "x/..." for an examine display
    enabled: bool = True


@dataclass(frozen=True)
class PacketVerdict:
    """One packet's outcome in ``run all``."""

    index: int
    length: int
    retval: int | None
    action: str | None
    insns: int
    fault: str | None = None
    fault_pc: int | None = None
    budget: bool = False


@dataclass
class Session:
    backend_name: str = "interp"
    budget: int = DEFAULT_BUDGET
    history_interval: int = DEFAULT_INTERVAL
    history_limit: int = DEFAULT_LIMIT
    device_profile: str = "nfp-public-fw"  # the offload device the nic backend models
    mtu: int = 1500  # the MTU of the interface the program would be offloaded to

    obj: BpfObject | None = field(default=None, init=False)
    path: str | None = field(default=None, init=False)
    env: Environment | None = field(default=None, init=False)
    backend: DebugBackend | None = field(default=None, init=False)
    map_entries: tuple[tuple[str, bytes, bytes], ...] = field(default=(), init=False)
    packets: list[CapturedPacket] = field(default_factory=list, init=False)
    capture_path: str | None = field(default=None, init=False)
    packet_index: int | None = field(default=None, init=False)  # 0-based index into packets
    input_packet: bytes | None = field(default=None, init=False)
    mem: bytes = field(default=b"", init=False)
    ctx_values: dict[str, int] = field(default_factory=dict, init=False)
    cpu: int = field(default=0, init=False)
    stops: StopTable = field(default_factory=StopTable, init=False)
    displays: list[Display] = field(default_factory=list, init=False)
    status: str = field(default="idle", init=False)  # idle, stopped, exited, faulted, budget
    last_step: StepEvent | None = field(default=None, init=False)
    last_stop: Stopped | None = field(default=None, init=False)
    values: list[object] = field(default_factory=list, init=False)  # print's value history
    user_vars: dict[str, int] = field(default_factory=dict, init=False)
    verdicts: list[PacketVerdict] = field(default_factory=list, init=False)
    selected_frame: int = field(default=0, init=False)
    user_commands: dict[str, list[str]] = field(default_factory=dict, init=False)
    user_docs: dict[str, str] = field(default_factory=dict, init=False)
    map_snapshots: dict[str, dict[str, list[tuple[bytes, bytes]]]] = field(default_factory=dict, init=False)
    maps_at_run_start: dict[str, Any] = field(default_factory=dict, init=False)  # map diff's "before"
    load_warnings: list[str] = field(default_factory=list, init=False)  # the backend's, at the last load
    lockstep: Any = field(default=None, init=False)  # bpfdbg.lockstep.SessionLockstep when on
    command_state: dict[str, Any] = field(default_factory=dict, init=False)
    """What commands remember between calls, by command family: x's last format and
    address, list's position, the python command's namespace."""

    def __post_init__(self) -> None:
        self.history = History(self.history_interval, self.history_limit)
        self._program: Program | None = None
        self._programs: dict[str, Program] = {}
        self._lines: dict[str, LineTable] = {}
        self._subscribers: list[Callable[[Event], None]] = []
        self._interpreter: Interpreter | None = None
        self._stepper: Stepper | None = None
        self.interrupt_event = threading.Event()
        self._helper_ids: dict[str, int] | None = None

    # -- construction -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        prog: str | None = None,
        pcap: str | Path | None = None,
        maps: str | Path | None = None,
        raw: bool = False,
        prog_type: str | None = None,
        **settings: Any,
    ) -> Session:
        """A session on ``path`` (an ELF object, or raw slots with ``raw=True``)."""
        session = cls(**settings)
        session.load(str(path), prog=prog, raw=raw, prog_type=prog_type, maps=maps)
        if pcap is not None:
            session.load_capture(str(pcap))
        return session

    @classmethod
    def from_program(cls, program: Program, obj: BpfObject | None = None, **settings: Any) -> Session:
        session = cls(**settings)
        session._install(obj, [program] if obj is None else list(obj.programs), program, "<program>")
        return session

    # -- loading --------------------------------------------------------------------------
    def load(
        self,
        path: str,
        *,
        prog: str | None = None,
        raw: bool = False,
        prog_type: str | None = None,
        maps: str | Path | None = None,
    ) -> None:
        """Load an object (or raw slots) and select a program. The previous object, its
        breakpoints and its history are replaced only when this succeeds."""
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise SessionError(f"cannot read {path}: {err.strerror or err}") from None
        obj: BpfObject | None = None
        if data[:4] == b"\x7fELF" and not raw:
            try:
                obj = load_object(path)
            except ElfLoadError as err:
                raise SessionError(str(err)) from None
            if not obj.programs:
                raise SessionError(f"{path} holds no BPF programs (no executable sections)")
            try:
                program = obj.program(prog) if prog else obj.programs[0]
            except KeyError as err:
                raise SessionError(str(err.args[0])) from None
            programs = list(obj.programs)
        else:
            if data[:4] == b"\x7fELF":
                raise SessionError(f"{path} is an ELF object, not raw instruction slots; load it without raw")
            if not raw and path.endswith(".o"):
                raise SessionError(
                    f"{path} is not an ELF object (it does not start with the ELF magic): compile it with "
                    "clang -O2 -g -target bpf -c, or give a file of raw 8-byte instruction slots"
                )
            if not data or len(data) % 8:
                raise SessionError(
                    f"{path} is {len(data)} bytes: raw eBPF programs are a non-empty multiple of 8 bytes "
                    "(8-byte instruction slots); for an ELF object give a .o file"
                )
            try:
                program = Program.from_bytes(data, name=Path(path).stem)
            except DecodeError as err:
                first = str(err.diagnostics[0]) if err.diagnostics else str(err)
                raise SessionError(f"{path}: {first}") from None
            programs = [program]
        if prog_type is not None:
            program = replace(program, prog_type=prog_type)
            programs = [program if p.name == program.name else p for p in programs]
        entries: tuple[tuple[str, bytes, bytes], ...] = ()
        if maps is not None:
            try:
                entries = read_map_entries(maps, Path(path).name)
            except CaptureError as err:
                raise SessionError(str(err)) from None
        self.map_entries = entries
        self._install(obj, programs, program, path)

    def make_env(self, obj: BpfObject | None = None) -> Environment:
        """A fresh environment for the loaded object: its maps with the --maps entries. Each
        backend gets its own (maps are machine state)."""
        obj = obj if obj is not None else self.obj
        env_settings: dict[str, Any] = {
            "budget": self.budget,
            "map_entries": self.map_entries,
            "device_profile": self.device_profile,
            "mtu": self.mtu,
        }
        if obj is not None:
            return Environment.for_object(obj, **env_settings)
        return Environment(**env_settings)

    def _install(self, obj: BpfObject | None, programs: list[Program], program: Program, path: str) -> None:
        env = self.make_env(obj)
        backend = cast(DebugBackend, create(self.backend_name))
        if not isinstance(backend, Debuggable):
            raise SessionError(f"the {self.backend_name} backend cannot be debugged step by step")
        report = backend.load(program, env)
        if not report.ok:
            errors = "; ".join(str(d) for d in report.errors[:3])
            raise SessionError(f"{program.name} rejected by {self.backend_name}: {errors}")
        self.obj, self.path, self.env, self.backend = obj, path, env, backend
        self._program = program
        self._programs = {p.name: p for p in programs}
        self._programs[program.name] = program
        self._lines = {}
        self.load_warnings = [str(d) for d in report.diagnostics]
        self.stops = StopTable()
        self.displays.clear()
        self.history.clear()
        self.status = "idle"
        self.last_step = None
        self.last_stop = None
        self.verdicts = []
        self.map_snapshots = {}
        others = self.lockstep.names[1:] if self.lockstep is not None else ()
        self.lockstep = None
        if others:
            self.set_lockstep(others)
        self._publish(StateChanged("program"))

    # -- engines ------------------------------------------------------------------------------
    def select_engine(self, name: str) -> None:
        """Debug on another backend (``engine select``): the program is loaded afresh on it,
        so the current run ends; breakpoints and displays are kept."""
        from emulator.backends.base import stepping_backend_names

        known = stepping_backend_names()
        if name not in known:
            raise SessionError(
                f"unknown or non-stepping backend {name!r}; stepping backends: {', '.join(known)}"
            )
        if not self.loaded:
            self.backend_name = name
            return
        stops, displays = self.stops, list(self.displays)
        previous = self.backend_name
        self.backend_name = name
        try:
            assert self.obj is not None or self._program is not None
            self._install(self.obj, list(self._programs.values()), self.program, self.path or "")
        except SessionError:
            self.backend_name = previous
            raise
        self.stops, self.displays[:] = stops, displays

    def set_device(self, profile: str | None = None, mtu: int | None = None) -> None:
        """Model another offload device or interface MTU (``set device-profile``, ``set
        mtu``): the backends that model the device load the program afresh, the one being
        debugged included (its run ends, breakpoints stay), and lockstep restarts."""
        previous = self.device_profile, self.mtu
        self.device_profile = profile if profile is not None else self.device_profile
        self.mtu = mtu if mtu is not None else self.mtu
        if not self.loaded:
            return
        try:
            if self.backend is not None and getattr(self.backend.capabilities, "may_refuse", False):
                self.select_engine(self.backend_name)
            if self.lockstep is not None:
                self.set_lockstep(self.lockstep.names[1:])
        except SessionError:
            self.device_profile, self.mtu = previous
            raise

    def set_lockstep(self, others: Sequence[str]) -> None:
        """Run ``others`` in lockstep with this session's backend (``lockstep on``)."""
        from bpfdbg.lockstep import LoadMismatch, SessionLockstep

        if not self.loaded:
            raise SessionError('no program loaded: "load FILE.o" first')
        try:
            self.lockstep = SessionLockstep(self, others)
        except LoadMismatch as err:
            raise SessionError(f"cannot run in lockstep: {err}") from None
        except (KeyError, ValueError) as err:
            raise SessionError(str(err.args[0] if err.args else err)) from None
        self._publish(StateChanged("program"))

    def stop_at_divergence(self) -> tuple[Stopped, list[str]] | None:
        """With lockstep on: bring the other backends here, and if they disagreed on the
        way, stop just after the first instruction they disagree on (so its results are on
        screen) and say what differs. None when they agree."""
        from bpfdbg.lockstep import divergence_lines
        from bpfdbg.render.code import insn_text

        if self.lockstep is None or not self.started:
            return None
        div = self.lockstep.sync()
        if div is None:
            return None
        here = self.machine().position()[1]
        if here > div.insns + 1:
            self.stepper.goto(div.insns + 1)
            self.status = "stopped"
            self.lockstep.sync()
        pc, insns, _, program = self.machine().position()
        names = " and ".join(self.lockstep.names)
        stop = Stopped("divergence", pc, program, insns, detail=f"{names} disagree at insn {div.pc}")
        self.last_stop = stop
        self._publish(stop)
        from bpfdbg.offload_explain import explain_in_session

        lines = divergence_lines(div, lambda p, prog: insn_text(self, p, prog))
        return stop, lines + explain_in_session(self, div, self.lockstep.names)

    def reset_maps(self) -> None:
        """Maps back to their state after loading (initial contents and --maps entries):
        the program is loaded afresh, so the current run ends."""
        backend = self.machine()
        assert self.env is not None
        report = backend.load(self.program, self.env)
        if not report.ok:
            raise SessionError("; ".join(str(d) for d in report.errors[:3]))
        self._drop_run()
        self._publish(StateChanged("maps"))

    def select_program(self, name: str) -> Program:
        """Make another program of the object the one that runs (prog select)."""
        if self.obj is None:
            raise SessionError("only one program is loaded (raw bytes); load an object with several")
        try:
            program = self.obj.program(name)
        except KeyError as err:
            raise SessionError(str(err.args[0])) from None
        self._install(self.obj, list(self.obj.programs), program, self.path or "")
        return program

    def load_capture(self, path: str) -> list[CapturedPacket]:
        try:
            packets = read_capture(path)
        except CaptureError as err:
            raise SessionError(str(err)) from None
        if not packets:
            raise SessionError(f"{path} holds no packets")
        self.packets = packets
        self.capture_path = path
        self.verdicts = []
        self.select_packet(0)
        return packets

    def select_packet(self, index: int) -> CapturedPacket:
        """Make packet ``index`` (0-based) the input of the next run."""
        if not self.packets:
            raise SessionError('no capture is loaded; load one with "load pcap FILE"')
        if not 0 <= index < len(self.packets):
            raise SessionError(f"no packet {index + 1}: the capture has packets 1-{len(self.packets)}")
        self.packet_index = index
        self.input_packet = self.packets[index].data
        self._drop_run()
        self._publish(StateChanged("input"))
        return self.packets[index]

    def set_packet(self, data: bytes) -> None:
        """Use ``data`` as the input frame (crafted or hex), outside the capture."""
        self.packet_index = None
        self.input_packet = data
        self._drop_run()
        self._publish(StateChanged("input"))

    def set_mem(self, data: bytes) -> None:
        self.mem = data
        self._drop_run()
        self._publish(StateChanged("input"))

    def _drop_run(self) -> None:
        if self.status != "idle":
            self.status = "idle"
            self.history.clear()
            self.last_step = None
            self.last_stop = None

    # -- what is loaded -------------------------------------------------------------------
    @property
    def program(self) -> Program:
        if self._program is None:
            raise SessionError('no program is loaded; use "load FILE.o"')
        return self._program

    @property
    def programs(self) -> list[Program]:
        return list(self._programs.values())

    def program_named(self, name: str) -> Program:
        try:
            return self._programs[name]
        except KeyError:
            raise SessionError(f"no program {name!r}; programs: {', '.join(self._programs)}") from None

    @property
    def loaded(self) -> bool:
        return self._program is not None

    def machine(self) -> DebugBackend:
        if self.backend is None:
            raise SessionError('no program is loaded; use "load FILE.o"')
        return self.backend

    @property
    def btf(self) -> object | None:
        return self.obj.btf if self.obj is not None else None

    @property
    def maps(self) -> MapSet:
        """The maps as the machine has them now (bpftool's view of the live maps)."""
        return self.machine().map_set()

    @property
    def prog_kind(self) -> Any:
        return prog_type_of(self.program.prog_type)

    def lines_of(self, program: str | None = None) -> LineTable:
        name = program or self.current_program
        table = self._lines.get(name)
        if table is None:
            table = self._lines[name] = LineTable(self.program_named(name))
        return table

    def source_line(self, pc: int, program: str | None = None) -> SourceLine | None:
        return self.lines_of(program).line_of(pc)

    def helper_ids(self) -> dict[str, int]:
        """Kernel helper names (with and without the bpf_ prefix) -> ids."""
        if self._helper_ids is None:
            ids: dict[str, int] = {}
            for hid, spec in kernel_helpers().specs.items():
                ids[spec.name] = hid
                ids.setdefault(spec.name.removeprefix("bpf_"), hid)
            self._helper_ids = ids
        return self._helper_ids

    def helper_name(self, hid: int) -> str:
        if self.program.prog_type == "raw" and self.env is not None:
            name = self.env.helpers_for("raw").name_of(hid)
        else:
            name = kernel_helpers().name_of(hid)
        return name or f"helper#{hid}"

    # -- run state ------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.status != "idle"

    @property
    def live(self) -> bool:
        """Stopped inside a run, able to go on."""
        return self.status == "stopped"

    def require_started(self) -> DebugBackend:
        if not self.started:
            raise SessionError(NOT_RUNNING)
        return self.machine()

    def run_input(self) -> RunInput:
        packet = self.input_packet
        if packet is None and self.program.prog_type != "raw":
            packet = bytes(64)
        return RunInput(
            mem=self.mem, packet=packet, ctx=dict(self.ctx_values), budget=self.budget, cpu=self.cpu
        )

    @property
    def regs(self) -> tuple[int, ...]:
        return self.require_started().registers()

    @property
    def pc(self) -> int:
        return self.require_started().position()[0]

    @property
    def insns(self) -> int:
        return self.require_started().position()[1]

    @property
    def depth(self) -> int:
        return self.require_started().position()[2]

    @property
    def current_program(self) -> str:
        if self.started and self.backend is not None:
            return self.backend.position()[3]
        return self.program.name

    def state(self) -> MachineState:
        return self.require_started().state()

    def read(self, addr: int, size: int) -> bytes:
        try:
            return self.require_started().read_memory(addr, size)
        except MemoryFaultError as err:
            raise SessionError(f"cannot access memory: {err.message}") from None

    def write(self, addr: int, data: bytes) -> None:
        try:
            self.require_started().write_memory(addr, data)
        except MemoryFaultError as err:
            raise SessionError(f"cannot write memory: {err.message}") from None
        self.edited("memory")

    def set_register(self, reg: int, value: int) -> None:
        self.require_started().set_register(reg, value)
        self.edited("registers")

    def edited(self, what: str) -> None:
        """The user changed the machine: the recorded future no longer holds, and the
        change itself must survive going back and forth over this point."""
        if self.started and self.backend is not None:
            self.stepper.checkpoint(edit=True)
        self._publish(StateChanged(what))

    def pointer_kind(self, value: int) -> str | None:
        if not self.started or self.backend is None:
            return None
        return self.backend.pointer_kind(value)

    def frames(self) -> list[tuple[int, str, int, int]]:
        """bpf-to-bpf call frames, innermost first: (depth, function, pc, entry). The tail
        calls that led to this program are ``machine().tail_chain()``."""
        state = self.state()
        prog = self.program_named(state.program)
        out = []
        for frame in reversed(state.frames):
            func = prog.symbols.get(frame.entry, prog.name if frame.entry == 0 else f"func_{frame.entry}")
            out.append((frame.depth, func, frame.pc, frame.entry))
        return out

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _publish(self, event: Event) -> None:
        if self._interpreter is not None:
            self._interpreter.collect(event)
        for callback in list(self._subscribers):
            callback(event)

    def publish_output(self, lines: tuple[str, ...]) -> None:
        if lines:
            self._publish(OutputEmitted(lines))

    # -- execution (the stepping engine lives in bpfdbg.stepping) -------------------------
    @property
    def stepper(self) -> Stepper:
        if self._stepper is None:
            from bpfdbg.stepping import Stepper

            self._stepper = Stepper(self)
        return self._stepper

    def start(self) -> Stopped:
        return self.stepper.start()

    def run(self) -> Stopped:
        return self.stepper.run()

    def stepi(self, n: int = 1) -> Stopped:
        return self.stepper.stepi(n)

    def nexti(self, n: int = 1) -> Stopped:
        return self.stepper.nexti(n)

    def step(self, n: int = 1) -> Stopped:
        return self.stepper.step_line(n, over=False)

    def next(self, n: int = 1) -> Stopped:
        return self.stepper.step_line(n, over=True)

    def cont(self, ignore: int = 1) -> Stopped:
        return self.stepper.cont(ignore)

    def finish(self) -> Stopped:
        return self.stepper.finish()

    def until(self, spec: str | None = None) -> Stopped:
        return self.stepper.until(spec)

    def advance(self, spec: str) -> Stopped:
        return self.stepper.advance(spec)

    def reverse_stepi(self, n: int = 1) -> Stopped:
        return self.stepper.reverse_stepi(n)

    def reverse_nexti(self, n: int = 1) -> Stopped:
        return self.stepper.reverse_nexti(n)

    def reverse_step(self, n: int = 1) -> Stopped:
        return self.stepper.reverse_line(n, over=False)

    def reverse_next(self, n: int = 1) -> Stopped:
        return self.stepper.reverse_line(n, over=True)

    def reverse_continue(self) -> Stopped:
        return self.stepper.reverse_continue()

    def reverse_finish(self) -> Stopped:
        return self.stepper.reverse_finish()

    def kill(self) -> None:
        self._drop_run()
        self._publish(StateChanged("program"))

    def interrupt(self) -> None:
        """Stop a running command at the next instruction boundary (Ctrl-C)."""
        self.interrupt_event.set()
        if self.backend is not None:
            self.backend.interrupt()

    def run_all(
        self, limit: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> list[PacketVerdict]:
        return self.stepper.run_all(limit, progress)

    # -- breakpoints ----------------------------------------------------------------------
    def location(self, spec: str) -> Location:
        pc = self.pc if self.started else None
        current = self.program_named(self.current_program)
        return resolve(spec, self.programs, current, pc)

    def break_at(self, spec: str, condition: str | None = None, temporary: bool = False) -> Breakpoint:
        loc = self.location(spec)
        if condition is not None:
            self.check_condition(condition)
        where = self.describe_sites(loc)
        point = Breakpoint(
            0, condition=condition, temporary=temporary, spec=spec, sites=loc.sites, where=where
        )
        self.stops.add(point)
        self._publish(StateChanged("breakpoints"))
        return point

    def describe_sites(self, loc: Location) -> str:
        """``insn 23: xdp_fw.c:41``; a line inlined in many places reads like gdb's
        ``insns 13, 33, 47, 78, ... (13 locations): xdp_fw.c:94``."""
        names: list[str] = []
        places: list[str] = []
        for site in loc.sites:
            src = self.program_named(site.program).lines.get(site.pc) or self.source_line(
                site.pc, site.program
            )
            prefix = f"{site.program}:" if site.program != self.program.name else ""
            names.append(f"{prefix}{site.pc}")
            places.append(f": {Path(src.file).name}:{src.line}" if src is not None else "")
        if len(names) > 2 and len(set(places)) == 1:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            out = f"insns {shown} ({len(names)} locations){places[0]}"
        else:
            out = ", ".join(f"insn {name}{place}" for name, place in zip(names, places, strict=True))
        return f"{out} ({loc.note})" if loc.note else out

    def check_condition(self, text: str) -> None:
        from bpfdbg import expr

        try:
            expr.parse(text)
        except expr.EvalError as err:
            raise SessionError(f"bad condition {text!r}: {err}") from None

    def watch(self, text: str, mode: str = "watch") -> Watchpoint:
        return self.stepper.add_watch(text, mode)

    def catch(self, point: Catchpoint) -> Catchpoint:
        self.stops.add(point)
        self._publish(StateChanged("breakpoints"))
        return point

    def stoppoint(self, number: int) -> Any:
        point = self.stops.get(number)
        if point is None:
            raise SessionError(f"no breakpoint number {number}")
        return point

    # -- expressions ----------------------------------------------------------------------
    def eval_env(self) -> Any:
        from bpfdbg.evalenv import SessionEnv

        return SessionEnv(self)

    def evaluate(self, text: str) -> Any:
        """An expression's Value (bpfdbg.expr) at the current stop."""
        from bpfdbg import expr

        return expr.evaluate(text, self.eval_env())

    def assign(self, text: str) -> Any:
        """``LVALUE = EXPR``: registers, memory, map values, convenience variables."""
        from bpfdbg import expr

        return expr.assign(text, self.eval_env())

    # -- commands -------------------------------------------------------------------------
    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            from bpfdbg.commands.interpreter import Interpreter

            self._interpreter = Interpreter(self)
        return self._interpreter

    def execute(self, line: str) -> CommandResult:
        """Run one command line, as typed in the console; never raises for user mistakes."""
        return self.interpreter.execute(line)
