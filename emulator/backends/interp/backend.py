"""The reference interpreter backend, ``interp``.

The program is translated once into Python source (see :mod:`.codegen`): ``run`` executes
whole basic blocks per dispatch, ``step`` executes a one-instruction translation of the same
snippets and reports what it wrote. Both share the machine state held here: registers,
pc, call frames, the address space and the executed-instruction count.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType

from emulator.backends.base import BackendError, Capabilities, LoadReport, NativeInsn
from emulator.backends.interp import codegen, runtime
from emulator.diagnostics import Diagnostic, Severity
from emulator.env import Environment, RunInput
from emulator.errors import EmulatorError
from emulator.execution import CallbackLoop, helper_caller
from emulator.guards import guard_holds
from emulator.helpers.fib import FibTable
from emulator.helpers.registry import HelperFaultError
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.map_memory import MapMemory
from emulator.maps import Element, Map, MapError, MapSet, MapType, UnsupportedMapError, errno_name
from emulator.memory import (
    CODE_BASE,
    CTX_BASE,
    AddressSpace,
    MemoryFaultError,
    Region,
    frame_pointer,
    stack_frame_region,
)
from emulator.program import Program
from emulator.progtypes import RunSetup, prog_type
from emulator.progtypes.packet import PacketBuffer
from emulator.pseudo_values import PseudoValueError, pseudo_value
from emulator.state import (
    Fault,
    Frame,
    Guard,
    MachineState,
    RegWrite,
    StepEvent,
    StopCondition,
    StopEvent,
    StopReason,
)

MAX_CALL_FRAMES = 8
MAX_TAIL_CALLS = 33  # MAX_TAIL_CALL_CNT: the 34th tail call of a run falls through
FOR_EACH_KEY_BASE = 0x6_0000_0000  # the key bpf_for_each_map_elem's callback gets a pointer to
EINVAL = 22
E2BIG = 7
CHUNK = 1 << 20  # instructions per run() slice between interrupt checks
_M64 = 0xFFFFFFFFFFFFFFFF


class _LoadError(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


_Callback = CallbackLoop  # a helper calling back into the program


@dataclass(frozen=True)
class _Checkpoint:
    regs: tuple[int, ...]
    pc: int
    insns: int
    frames: tuple[tuple[int, int, int, int, int, int], ...]
    entries: tuple[int, ...]
    noutput: int
    regions: tuple[tuple[str, bytes], ...]
    final: StopEvent | None
    status: str
    clock: int
    rng: object
    callbacks: tuple[_Callback, ...]
    program: Program
    tail_calls: int
    tail_chain: tuple[tuple[str, int], ...]
    packet: tuple[bytes, int, int, int] | None
    ctx: dict[str, int] | None
    world: tuple[MapSet, dict[int, tuple[Map, Element]], list[tuple[int, Element]], dict[str, object]]


@dataclass
class _Compiled:
    fn: Callable[..., int]
    lines: dict[int, tuple[int, int]]


class InterpBackend:
    """Reference interpreter. Deterministic; checkpointable."""

    name = "interp"
    capabilities = Capabilities(can_step=True, has_native_view=False, checkpointable=True)

    def __init__(self) -> None:
        self._prog: Program | None = None
        self._env = Environment()
        self._run_cache: dict[tuple[frozenset[int], tuple[tuple[int, Guard], ...]], _Compiled] = {}
        self._step_cache: dict[int, _Compiled] = {}
        self._caches: dict[str, tuple[dict, dict]] = {}  # type: ignore[type-arg]
        self._cur = Program(())
        self._tail_calls = 0
        self._switch_to: tuple[Program, int] | None = None
        self._tail_chain: list[tuple[str, int]] = []  # (program, pc of its tail call)
        self._interrupt = threading.Event()
        # machine state (public names are what generated code reads)
        self.regs: list[int] = [0] * 11
        self.pc = 0
        self.insns = 0
        self.frames: list[tuple[int, int, int, int, int, int]] = []
        self.callbacks: list[_Callback] = []  # bpf_loop / for_each_map_elem in progress
        self.exc: BaseException | None = None
        self.space = AddressSpace()
        self._accessors = self.space.accessors()
        self._setup = RunSetup(0)
        self.maps = MapSet(())
        self._mapmem = MapMemory(self.space, [])
        self._reservations: dict[int, tuple[Map, Element]] = {}
        self._run_state: dict[str, object] = {}
        self._helpers = self._env.helpers_for("raw")
        self._clock = 0
        self._rng = random.Random(0)
        self._cpu = 0
        self.output: list[str] = []
        self._budget = self._env.budget
        self._final: StopEvent | None = None
        self._status = "ready"
        self._entries: list[int] = [0]  # entry pc of each frame

    # -- Backend protocol -----------------------------------------------------------------
    def load(self, prog: Program, env: Environment) -> LoadReport:
        diags: list[Diagnostic] = list(prog.warnings)
        helpers = env.helpers_for(prog.prog_type)
        for pc, insn in enumerate(prog.insns):
            if insn is None:
                continue
            if insn.info is None:
                diags.append(
                    Diagnostic(
                        pc, "unknown-opcode", f"cannot execute opcode 0x{insn.opcode:02x}", insn.encode()
                    )
                )
                continue
            if insn.info.form is Form.CALL and insn.info.variant == CallKind.HELPER:
                hid = insn.imm & 0xFFFFFFFF
                spec = helpers.get(hid)
                control = hid in codegen.CONTROL_HELPERS and prog.prog_type != "raw"
                if (spec is None or spec.impl is None) and not control:
                    known = f"{spec.name}#{hid}" if spec else f"#{hid}"
                    diags.append(
                        Diagnostic(
                            pc,
                            "unknown-helper",
                            f"helper {known} is not implemented for "
                            f"{helpers.name} programs; the run will stop "
                            "if it is reached",
                            insn.encode(),
                            Severity.WARNING,
                        )
                    )
            if insn.info.form is Form.LDDW and insn.info.variant != PseudoSrc.IMM64:
                try:
                    self._pseudo_value(insn, pc, prog, env)
                except _LoadError as err:
                    diags.append(err.diag)
        maps: MapSet | None = None
        try:
            maps = MapSet(env.maps, env.ncpus, rng=random.Random(env.seed))
            for name, key, value in env.map_entries:
                code = maps[name].update(key, value, 0)
                if code:
                    why = f"map {name}: cannot add entry {key.hex()}: {errno_name(code)}"
                    diags.append(Diagnostic(0, "map", why))
        except (MapError, UnsupportedMapError, KeyError) as err:
            diags.append(Diagnostic(0, "map", f"cannot create the program's maps: {err}"))
        report = LoadReport(self.name, not any(d.severity is Severity.ERROR for d in diags), tuple(diags))
        if report.ok:
            assert maps is not None
            self._prog = prog
            self._helpers = helpers
            self.maps = maps
            self._env = env
            self._caches.clear()
            self._cur = prog
            self._use_caches(prog)
            self.reset(RunInput())
        return report

    def reset(self, run: RunInput) -> None:
        prog = self._require()
        # One address space for the backend's lifetime: generated code binds its accessors.
        self.space.clear()
        self.space.add(stack_frame_region(0))
        self._setup = prog_type(prog.prog_type).setup(self.space, run)
        self._mapmem = MapMemory(self.space, self.maps.maps)
        self._reservations = {}
        self._run_state = {}
        self._cur = prog
        self._use_caches(prog)
        self._tail_calls = 0
        self._switch_to = None
        self._tail_chain = []
        self._clock = self._env.clock_ns
        self._rng = random.Random(self._env.seed)
        self._cpu = run.cpu
        regs = [0] * 11
        regs[1] = self._setup.r1
        regs[2] = self._setup.r2
        regs[10] = frame_pointer(0)
        self.regs = regs
        self.pc = 0
        self.insns = 0
        self.frames = []
        self.callbacks = []
        self._entries = [0]
        self.output = []
        self.exc = None
        self._final = None
        self._status = "ready"
        self._budget = run.budget if run.budget is not None else self._env.budget
        self._interrupt.clear()

    def step(self) -> StepEvent:
        self._require()
        pc = self.pc
        if self._final is not None:
            return StepEvent(pc, pc, self.insns, stop=self._final)
        if self.insns >= self._budget:
            budget_stop = self._finish(StopEvent(StopReason.BUDGET, pc, self.insns))
            return StepEvent(pc, pc, self.insns, stop=budget_stop)
        before = list(self.regs)
        out_before = len(self.output)
        self.space.journal = []
        try:
            status = self._step_fn(pc).fn(self, self.insns + 1, self.insns, -1)
        finally:
            journal = self.space.journal or []
            self.space.journal = None
        pairs = enumerate(zip(before, self.regs, strict=True))
        writes = tuple(RegWrite(i, a, b) for i, (a, b) in pairs if a != b)
        stop = self._stop_from_status(status, pc)
        return StepEvent(
            pc, self.pc, self.insns, writes, tuple(journal), stop, tuple(self.output[out_before:])
        )

    def run(self, stop: StopCondition) -> StopEvent:
        self._require()
        if self._final is not None:
            return self._final
        self._interrupt.clear()
        nstart = self.insns
        limit = self._budget
        if stop.max_insns is not None:
            limit = min(limit, nstart + stop.max_insns)
        max_depth = -1 if stop.depth_at_most is None else stop.depth_at_most
        guards: dict[int, list[Guard]] = {}
        for gpc, guard in stop.guards:
            guards.setdefault(gpc, []).append(guard)
        compiled = self._run_fn(stop.pcs, stop.guards, guards)
        while True:
            if self.insns >= limit:
                if self.insns >= self._budget:
                    return self._finish(StopEvent(StopReason.BUDGET, self.pc, self.insns))
                return StopEvent(StopReason.STEP, self.pc, self.insns)
            if self._interrupt.is_set():
                self._interrupt.clear()
                return StopEvent(StopReason.INTERRUPTED, self.pc, self.insns)
            chunk_limit = min(limit, self.insns + CHUNK)
            status = compiled.fn(self, chunk_limit, nstart, max_depth)
            if status == codegen.ST_SLOW:
                if self.insns >= chunk_limit:
                    continue
                pc = self.pc
                if self.insns > nstart and self._stops_here(pc, stop.pcs, guards):
                    return StopEvent(StopReason.BREAKPOINT, pc, self.insns)
                status = self._step_fn(pc).fn(self, self.insns + 1, self.insns, max_depth)
                if status == codegen.ST_SLOW:
                    continue
            if status == codegen.ST_SWITCH:
                self._switch_program()
                compiled = self._run_fn(stop.pcs, stop.guards, guards)
                continue
            result = self._stop_from_status(status, self.pc)
            if result is not None:
                return result

    def state(self) -> MachineState:
        prog = self._require()
        del prog
        frames = []
        for depth, entry in enumerate(self._entries):
            if depth < len(self.frames):
                fpc = self.frames[depth][0]
            else:
                fpc = self.pc
            frames.append(Frame(depth, entry, fpc, frame_pointer(depth)))
        fault = self._final.fault if self._final else None
        retval = self._final.retval if self._final else None
        return MachineState(
            self.pc,
            tuple(self.regs),
            self.insns,
            tuple(frames),
            self._status,
            retval,
            fault,
            MappingProxyType(self.space.snapshot()),
            MappingProxyType(self.maps.dump()),
            self._cur.name,
        )

    def native(self, pc: int) -> list[NativeInsn]:
        return []

    def interrupt(self) -> None:
        self._interrupt.set()

    # -- debugger access (what a front end reads and edits at a stop) ----------------------
    def read_memory(self, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr``, checked like a program access (MemoryFaultError says
        why not: "read of 4 bytes at pkt+62, packet is 60 bytes")."""
        return self.space.read(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        self.space.write(addr, data)

    def set_register(self, reg: int, value: int) -> None:
        if not 0 <= reg <= 10:
            raise BackendError(f"no register r{reg}")
        self.regs[reg] = value & _M64

    def pointer_kind(self, value: int) -> str | None:
        """What ``value`` points at, in the verifier's words (``ctx``, ``pkt+14``,
        ``pkt_end``, ``fp-8``, ``map_value(counters)+4``, ``map_ptr(counters)``), or None
        for a scalar. One past the end of the packet is ``pkt_end``, as the verifier says."""
        region = self.space.find(value)
        if region is not None:
            return region.describe(value)
        for region in self.space:
            if value == region.end and value != region.base:
                if region.kind == "pkt":
                    return "pkt_end"
                if region.anchor_end:
                    return region.describe(value)
        return None

    def position(self) -> tuple[int, int, int, str]:
        """(pc, instructions executed, call depth, program): cheaper than ``state()``."""
        return self.pc, self.insns, len(self._entries) - 1, self._cur.name

    def registers(self) -> tuple[int, ...]:
        return tuple(self.regs)

    def run_status(self) -> str:
        """ "ready", "stopped", "exited" or "faulted" (cheaper than ``state().status``)."""
        return self._status

    def tail_chain(self) -> tuple[tuple[str, int], ...]:
        """The tail calls of this run so far: (program that called, pc of its call)."""
        return tuple(self._tail_chain)

    def map_set(self) -> MapSet:
        """The maps as this machine has them now (edits show up in the next instruction)."""
        return self.maps

    def ctx_handler(self) -> object | None:
        """The context of this run (field values by name), for ``$ctx->field``."""
        return self._setup.ctx

    # -- checkpoints (reverse stepping) ---------------------------------------------------
    def checkpoint(self) -> _Checkpoint:
        """Everything ``restore`` needs to put the machine back exactly here: registers and
        frames, stack and input memory, the packet (edges and bytes) and ctx fields, the
        maps with every value a pointer may still reach, and the helpers' per-run state."""
        packet = self._setup.packet
        ctx = self._setup.ctx
        world = copy.deepcopy((self.maps, self._reservations, self._mapmem.mapped(), self._run_state))
        return _Checkpoint(
            tuple(self.regs),
            self.pc,
            self.insns,
            tuple(self.frames),
            tuple(self._entries),
            len(self.output),
            tuple((r.name, bytes(r.data)) for r in self.space if r.kind in ("stack", "mem")),
            self._final,
            self._status,
            self._clock,
            self._rng.getstate(),
            tuple(replace(cb) for cb in self.callbacks),
            self._cur,
            self._tail_calls,
            tuple(self._tail_chain),
            packet.save() if packet is not None else None,
            dict(ctx.values) if ctx is not None else None,
            world,
        )

    @staticmethod
    def checkpoint_bytes(cp: _Checkpoint) -> int:
        """About how much memory a checkpoint holds (what the history's bound counts)."""
        size = 512 + sum(len(data) for _, data in cp.regions)
        if cp.packet is not None:
            size += len(cp.packet[0])
        for m in cp.world[0].maps:
            for key, value in m.items():
                values = value if isinstance(value, list | tuple) else [value]
                size += 96 + len(key) + sum(len(v) if isinstance(v, bytes | bytearray) else 8 for v in values)
        return size

    def restore(self, cp: _Checkpoint) -> None:
        self.regs[:] = cp.regs
        self.pc, self.insns = cp.pc, cp.insns
        self.frames[:] = cp.frames
        self._entries = list(cp.entries)
        del self.output[cp.noutput :]
        for region in list(self.space):
            if region.kind in ("stack", "map", "map_value"):
                self.space.remove(region.name)
        for name, data in cp.regions:
            if name.startswith("stack["):
                region = stack_frame_region(int(name[len("stack[") : -1]))
                self.space.add(region)
            else:
                region = self.space.get(name) or self.space.add(
                    Region(name, "mem", CTX_BASE, bytearray(data))
                )
            region.data[:] = data
        if cp.packet is not None and self._setup.packet is not None:
            self._setup.packet.load(cp.packet)
        if cp.ctx is not None and self._setup.ctx is not None:
            self._setup.ctx.values.clear()
            self._setup.ctx.values.update(cp.ctx)
        maps, reservations, mapped, run_state = copy.deepcopy(cp.world)
        self.maps, self._reservations, self._run_state = maps, reservations, run_state
        self._mapmem = MapMemory(self.space, maps.maps)
        for index, element in mapped:
            self._mapmem.value_ptr(index, element)
        self._final, self._status = cp.final, cp.status
        self._clock = cp.clock
        self._rng.setstate(cp.rng)  # type: ignore[arg-type]
        self.callbacks[:] = [replace(cb) for cb in cp.callbacks]
        self._cur = cp.program
        self._use_caches(cp.program)
        self._tail_calls = cp.tail_calls
        self._tail_chain = list(cp.tail_chain)

    # -- internals ------------------------------------------------------------------------
    def _require(self) -> Program:
        if self._prog is None:
            raise BackendError("interp: no program loaded")
        return self._prog

    def _current(self) -> Program:
        """The program executing now: the loaded one, or the target of the last tail call."""
        self._require()
        return self._cur

    def _use_caches(self, prog: Program) -> None:
        """Translations are per program; a tail call swaps them in without recompiling."""
        self._run_cache, self._step_cache = self._caches.setdefault(prog.name, ({}, {}))

    def _finish(self, event: StopEvent) -> StopEvent:
        self._final = event
        self._status = {StopReason.EXIT: "exited", StopReason.FAULT: "faulted"}.get(event.reason, "stopped")
        if event.reason is StopReason.BUDGET:
            self._final = event  # a spent budget ends the run; reset to start again
        return event

    def _stop_from_status(self, status: int, pc: int) -> StopEvent | None:
        if status == codegen.ST_SWITCH:
            self._switch_program()
            return None
        if status == codegen.ST_SLOW:
            if self.insns >= self._budget and self._final is None:
                return None
            return None
        if status == codegen.ST_EXIT:
            return self._finish(StopEvent(StopReason.EXIT, self.pc, self.insns, retval=self.regs[0]))
        if status == codegen.ST_STOP:
            return StopEvent(StopReason.BREAKPOINT, self.pc, self.insns)
        if status == codegen.ST_DEPTH:
            return StopEvent(StopReason.DEPTH, self.pc, self.insns)
        if status == codegen.ST_FAULT:
            exc = self.exc
            self.exc = None
            if isinstance(exc, runtime.ProgramExit):
                self.regs[0] = exc.retval
                return self._finish(StopEvent(StopReason.EXIT, self.pc, self.insns, retval=exc.retval))
            fault = self._fault_from(exc, self.pc)
            return self._finish(StopEvent(StopReason.FAULT, self.pc, self.insns, fault=fault))
        raise AssertionError(status)

    def _fault_from(self, exc: BaseException | None, pc: int) -> Fault:
        if isinstance(exc, MemoryFaultError):
            return Fault(pc, "memory", exc.message, exc.addr & _M64, exc.size)
        if isinstance(exc, runtime.FaultError):
            return Fault(pc, exc.kind, exc.message)
        if isinstance(exc, HelperFaultError):
            return Fault(pc, "helper", str(exc))
        return Fault(pc, "internal", f"{type(exc).__name__}: {exc}")

    def _stops_here(self, pc: int, pcs: frozenset[int], guards: dict[int, list[Guard]]) -> bool:
        if pc in guards:
            return any(guard_holds(g, self.regs) for g in guards[pc])
        return pc in pcs

    # code generation ----------------------------------------------------------------------
    def _namespace(self, lines: dict[int, tuple[int, int]]) -> dict[str, object]:
        prog = self._current()
        ns: dict[str, object] = dict(self._accessors)
        ns.update(
            LINES=lines,
            CATCH=(EmulatorError, runtime.ProgramExit),
            sdiv64=runtime.sdiv64,
            smod64=runtime.smod64,
            sdiv32=runtime.sdiv32,
            smod32=runtime.smod32,
            bswap16=runtime.bswap16,
            bswap32=runtime.bswap32,
            bswap64=runtime.bswap64,
            push_frame=self._push_frame,
            control_helper=self._control_helper,
            callback_return=self._callback_return,
            pop_frame=self._pop_frame,
            check_depth=self._check_depth,
            fall_off=self._fall_off,
            callx_target=self._callx_target,
            callx_helper=self._callx_helper,
            kfunc=self._kfunc,
            ldabs=self._ldabs,
            ldind=self._ldind,
        )
        for insn in prog.insns:
            if insn is not None and insn.info is not None and insn.info.form is Form.CALL:
                if insn.info.variant == CallKind.HELPER:
                    hid = insn.imm & 0xFFFFFFFF
                    ns[f"helper_{hid}"] = self._helper_caller(hid)
        return ns

    def _compile(self, stops: frozenset[int], guards: dict[int, list[Guard]], only: int | None) -> _Compiled:
        prog = self._current()
        ctx = codegen.CodegenContext(lambda insn, pc: self._pseudo_value(insn, pc, prog))
        source, linemap = codegen.generate(prog.insns, ctx, stops, guards, only)
        ns = self._namespace(linemap.lines)
        code = compile(source, f"<bpf:{prog.name}:{'all' if only is None else only}>", "exec")
        exec(code, ns)  # noqa: S102 - our own generated source
        return _Compiled(ns["run"], linemap.lines)  # type: ignore[arg-type]

    def _run_fn(
        self, pcs: frozenset[int], key_guards: tuple[tuple[int, Guard], ...], guards: dict[int, list[Guard]]
    ) -> _Compiled:
        key = (pcs, key_guards)
        compiled = self._run_cache.get(key)
        if compiled is None:
            if len(self._run_cache) > 16:
                self._run_cache.clear()
            compiled = self._run_cache[key] = self._compile(pcs, guards, None)
        return compiled

    def _step_fn(self, pc: int) -> _Compiled:
        compiled = self._step_cache.get(pc)
        if compiled is None:
            prog = self._current()
            if not 0 <= pc < prog.nslots or prog.insns[pc] is None:
                compiled = self._bad_pc_fn(pc)
            else:
                compiled = self._compile(frozenset(), {}, pc)
            self._step_cache[pc] = compiled
        return compiled

    def _bad_pc_fn(self, pc: int) -> _Compiled:
        def run(m: InterpBackend, limit: int, nstart: int, max_depth: int) -> int:
            m.exc = runtime.FaultError("bad-pc", f"pc {pc} is not the start of an instruction")
            return codegen.ST_FAULT

        return _Compiled(run, {})

    # run-time services called by generated code -------------------------------------------
    def _push_frame(self, depth: int, entry: int) -> int:
        self.space.add(stack_frame_region(depth))
        self._entries.append(entry)
        return frame_pointer(depth)

    def _pop_frame(self, depth: int) -> None:
        self.space.remove(f"stack[{depth}]")
        self._entries.pop()

    def _check_depth(self, depth: int, pc: int) -> None:
        if depth + 1 >= MAX_CALL_FRAMES:
            raise runtime.FaultError(
                "call",
                f"call depth limit reached: {MAX_CALL_FRAMES} frames "
                "are in use (the kernel allows at most 8 nested frames)",
            )

    def _control_helper(self, hid: int, pc: int, *regs: int) -> tuple[int, ...] | None:
        """Helpers that transfer control. Returns the next (pc, r0..r10), or None when the
        program was replaced (a tail call) and the driver must switch translations."""
        spec = self._helpers.get(hid)
        if spec is None or self._current().prog_type == "raw":
            name = f"{spec.name}#{hid}" if spec else f"#{hid}"
            raise HelperFaultError(
                f"call to helper {name}, which bpfdbg does not implement for {self._helpers.name} programs"
            )
        r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = regs
        if hid == 181:
            return self._bpf_loop(pc, r1, r2, r3, r4, r6, r7, r8, r9, r10, r5)
        if hid == 164:
            return self._for_each_map_elem(pc, regs)
        return self._tail_call(pc, regs)

    def _tail_call(self, pc: int, regs: tuple[int, ...]) -> tuple[int, ...] | None:
        """bpf_tail_call(ctx, prog_array, index): replace the program, or fall through with
        every register unchanged (the kernel does not write r0 when the call fails)."""
        fall_through = (pc + 1, *regs)
        found = self._mapmem.map_at(regs[2])
        if found is None or found[1].type is not MapType.PROG_ARRAY:
            raise HelperFaultError(
                f"bpf_tail_call: r2 ({self.space.describe(regs[2])}) is not a prog_array map"
            )
        ref = found[1].program(regs[3] & 0xFFFFFFFF)  # type: ignore[attr-defined]
        if ref is None or self._tail_calls >= MAX_TAIL_CALLS:
            return fall_through
        if self.frames:
            raise HelperFaultError(
                f"bpf_tail_call from a bpf-to-bpf subprogram (call depth {len(self.frames)}) is not "
                "supported by bpfdbg"
            )
        target = self._program_named(ref)
        self._tail_calls += 1
        self._switch_to = (target, regs[1])
        self._tail_chain.append((self._cur.name, pc))
        return None

    def _program_named(self, ref: object) -> Program:
        for prog in self._env.programs:
            if ref in (prog.name, prog.section):
                return prog
        raise HelperFaultError(
            f"bpf_tail_call: the prog_array slot names program {ref!r}, which this object does not have"
        )

    def _switch_program(self) -> None:
        """Finish a tail call: the new program starts at insn 0 with r1 = ctx, on the same stack."""
        assert self._switch_to is not None
        target, ctx = self._switch_to
        self._switch_to = None
        self._cur = target
        self._use_caches(target)
        self.pc = 0
        self.regs[1] = ctx
        self._entries[-1] = 0

    def _for_each_map_elem(self, pc: int, regs: tuple[int, ...]) -> tuple[int, ...]:
        """bpf_for_each_map_elem(map, callback, ctx, flags): callback(map, &key, &value, ctx)
        for each element (a snapshot taken at the call) until it returns 1; returns the
        number of elements visited."""
        r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = regs
        found = self._mapmem.map_at(r1)
        if found is None:
            raise HelperFaultError(
                f"bpf_for_each_map_elem: r1 ({self.space.describe(r1)}) is not a map pointer"
            )
        if r4:
            return (pc + 1, -EINVAL & _M64, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)
        index, m = found
        try:
            elements = m.elements(self._cpu)
        except MapError as err:
            raise HelperFaultError(f"bpf_for_each_map_elem: {err}") from None
        target = self._callback_target(r2, "bpf_for_each_map_elem")
        if not elements:
            return (pc + 1, 0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)
        keys = Region("for_each_key", "map_key", FOR_EACH_KEY_BASE, bytearray(max(m.key_size, 1)),
                      writable=False, label=f"map_key({m.name})", what="map key")  # fmt: skip
        if self.space.get("for_each_key") is not None:
            self.space.remove("for_each_key")
        self.space.add(keys)

        def args(i: int) -> tuple[int, int, int, int, int]:
            elem = elements[i]
            keys.data[: len(elem.key)] = elem.key
            return (r1, keys.base, self._mapmem.value_ptr(index, elem), r3, 0)

        return self._enter_callback(pc, target, len(elements), args, (r6, r7, r8, r9, r10))

    def _callback_target(self, addr: int, helper: str) -> int:
        prog = self._current()
        off = addr - CODE_BASE
        if 0 <= off < prog.nslots * 8 and off % 8 == 0 and prog.insns[off // 8] is not None:
            return off // 8
        raise HelperFaultError(
            f"{helper}: callback {addr:#x} is not the address of a function "
            "of this program (pass a static function)"
        )

    def _bpf_loop(
        self,
        pc: int,
        nr_loops: int,
        fn: int,
        cb_ctx: int,
        flags: int,
        r6: int,
        r7: int,
        r8: int,
        r9: int,
        r10: int,
        r5: int,
    ) -> tuple[int, ...]:
        """bpf_loop(nr_loops, callback_fn, callback_ctx, flags): call fn(i, ctx) for each i
        until it returns non-zero; returns the number of calls made."""
        nr_loops &= 0xFFFFFFFF
        if flags:
            return (pc + 1, -EINVAL & _M64, nr_loops, fn, cb_ctx, flags, r5, r6, r7, r8, r9, r10)
        if nr_loops > 1 << 23:
            return (pc + 1, -E2BIG & _M64, nr_loops, fn, cb_ctx, flags, r5, r6, r7, r8, r9, r10)
        target = self._callback_target(fn, "bpf_loop")
        if nr_loops == 0:
            return (pc + 1, 0, nr_loops, fn, cb_ctx, flags, r5, r6, r7, r8, r9, r10)
        return self._enter_callback(
            pc, target, nr_loops, lambda i: (i, cb_ctx, 0, 0, 0), (r6, r7, r8, r9, r10)
        )

    def _enter_callback(self, pc: int, target: int, count: int,
                        args: Callable[[int], tuple[int, int, int, int, int]],
                        saved: tuple[int, int, int, int, int]) -> tuple[int, ...]:  # fmt: skip
        """Call ``target`` as a bpf-to-bpf callee (own frame, r6-r9 kept for the caller) for
        the first of ``count`` iterations; the callback's exit comes back to _callback_return."""
        self._check_depth(len(self.frames), pc)
        self.frames.append((pc, *saved))
        fp = self._push_frame(len(self.frames), target)
        self.callbacks.append(_Callback(len(self.frames), target, pc, 0, count, args))
        r6, r7, r8, r9, _ = saved
        return (target, 0, *args(0), r6, r7, r8, r9, fp)

    def _callback_return(self, r0: int, *regs: int) -> tuple[int, ...]:
        """The callback's exit: call it again for the next iteration, or finish the helper
        (r0 = the number of calls made)."""
        cb = self.callbacks[-1]
        cb.index += 1
        r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = regs
        if (r0 & 0xFFFFFFFFFFFFFFFF) == 0 and cb.index < cb.count:
            return (cb.entry, r0, *cb.args(cb.index), r6, r7, r8, r9, r10)
        self.callbacks.pop()
        call_pc, r6, r7, r8, r9, r10 = self.frames.pop()
        self._pop_frame(len(self.frames) + 1)
        return (call_pc + 1, cb.index, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)

    def _fall_off(self, pc: int) -> None:
        raise runtime.FaultError(
            "end-of-program",
            f"execution ran past the last instruction (insn {pc}); every path must end in exit",
        )

    def _callx_target(self, value: int) -> int:
        prog = self._current()
        if value in self._helpers:
            return -1
        off = value - CODE_BASE
        if 0 <= off < prog.nslots * 8 and off % 8 == 0 and prog.insns[off // 8] is not None:
            return off // 8
        raise runtime.FaultError(
            "callx", f"callx target {value:#x} is neither a helper id nor the address of an instruction"
        )

    def _callx_helper(self, hid: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return self._helper_caller(hid)(r1, r2, r3, r4, r5)

    def _kfunc(self, btf_id: int) -> None:
        raise runtime.FaultError("kfunc", f"kfunc call (BTF id {btf_id}) is not supported by interp")

    def _ldabs(self, size: int, offset: int) -> int:
        return self._legacy_load(size, offset & 0xFFFFFFFF, "LD_ABS")

    def _ldind(self, size: int, base: int, offset: int) -> int:
        return self._legacy_load(size, (base + offset) & 0xFFFFFFFF, "LD_IND")

    def _legacy_load(self, size: int, offset: int, what: str) -> int:
        """Legacy packet loads: network-order value; out of bounds ends the program with 0."""
        packet = self._setup.packet
        if packet is None or self._current().prog_type not in ("socket", "tc"):
            kind = self._current().prog_type
            raise runtime.FaultError(
                "legacy", f"legacy packet load ({what}) needs a socket buffer; {kind} programs have none"
            )
        if offset >= 1 << 31:
            negative = offset - (1 << 32)
            raise runtime.FaultError(
                "legacy",
                f"{what} with a negative offset ({negative:#x}, the "
                "SKF_NET_OFF/SKF_LL_OFF areas) is not supported by bpfdbg",
            )
        value = packet.load_be(offset, size)
        if value is None:
            raise runtime.ProgramExit(0)
        return value

    def _helper_caller(self, hid: int) -> Callable[..., int]:
        return helper_caller(self._helpers, hid, _HelperContext(self))

    def _pseudo_value(self, insn: Insn, pc: int, prog: Program, env: Environment | None = None) -> int:
        try:
            return pseudo_value(insn, pc, env or self._env)
        except PseudoValueError as err:
            raise _LoadError(err.diag) from None


class _HelperContext:
    """The interp's side of emulator.helpers.registry.HelperContext."""

    def __init__(self, backend: InterpBackend) -> None:
        self._b = backend

    @property
    def space(self) -> AddressSpace:
        return self._b.space

    @property
    def prog_type(self) -> str:
        return self._b._require().prog_type

    @property
    def cpu(self) -> int:
        return self._b._cpu

    @property
    def packet(self) -> PacketBuffer | None:
        return self._b._setup.packet

    def emit(self, line: str) -> None:
        self._b.output.append(line)

    def now_ns(self) -> int:
        self._b._clock += self._b._env.clock_step_ns
        return self._b._clock

    def random_u32(self) -> int:
        return self._b._rng.getrandbits(32)

    @property
    def ctx_values(self) -> dict[str, int] | None:
        ctx = self._b._setup.ctx
        return ctx.values if ctx is not None else None

    @property
    def run_state(self) -> dict[str, object]:
        """Reset with every run and kept in checkpoints (the backend owns it)."""
        return self._b._run_state

    @property
    def fib(self) -> FibTable:
        return self._b._env.fib

    # maps ---------------------------------------------------------------------------------
    def map_at(self, addr: int) -> tuple[int, Map] | None:
        return self._b._mapmem.map_at(addr)

    def value_ptr(self, index: int, element: Element) -> int:
        return self._b._mapmem.value_ptr(index, element)

    def inner_map_ptr(self, inner: object) -> int:
        return self._b._mapmem.inner_map_ptr(inner)

    @property
    def reservations(self) -> dict[int, tuple[Map, Element]]:
        return self._b._reservations
