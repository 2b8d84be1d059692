"""The ``host-jit`` backend: the program JITed to x86-64 the way Linux does, run under Unicorn
one eBPF instruction at a time.

How a run is driven (reference/host_jit.md B1-B3):

* every native address where an eBPF instruction starts carries a code hook. It counts the
  instruction, decides whether to stop there (a step's end, a candidate pc, a guard, the
  budget, an interrupt), and resolves which instruction it is when several share the
  address (zero-byte instructions such as ``ja +0``; the shared epilogue of later exits);
* every native instruction that performs an eBPF load or store carries a hook that checks
  the access against the AddressSpace before it executes, exactly as the interpreter does,
  so out-of-region accesses fault with the same message, and context fields (which mean
  more than bytes) are answered by the program type's handler;
* helpers are ``call rel32`` into one-byte ``ret`` trampolines whose hook runs the shared
  helper implementation; bpf_loop / for_each_map_elem callbacks and tail calls are entered
  from there by moving rip and rsp, as the kernel's code would;
* bpf-to-bpf calls are native ``call``s; the machine moves rsp just before the call so that
  the callee's ``push rbp; mov rbp, rsp`` makes rbp (R10) the same frame pointer the other
  backends use for that call depth.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType

from unicorn import (
    UC_HOOK_CODE,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UcError,
)

from emulator.backends.base import BackendError, Capabilities, LoadReport, NativeInsn
from emulator.backends.hostjit import control, layout
from emulator.backends.hostjit.cpu import BPF_UC, RAX, RIP, RSP, UC_IDS, BatchReader, Cpu, new_cpu
from emulator.backends.hostjit.emitter import Function, JitError, JitProgram, MemAccess, jit_program
from emulator.backends.hostjit.frames import CallFrame
from emulator.backends.hostjit.listing import ListingLine, image_listing, native_of
from emulator.backends.hostjit.native_memory import NativeMemory
from emulator.backends.hostjit.x86 import BPF_TO_X86, NAMES64
from emulator.branch import taken
from emulator.diagnostics import Diagnostic, Severity
from emulator.env import Environment, RunInput
from emulator.errors import EmulatorError
from emulator.execution import CallbackLoop, FaultError, ProgramExit
from emulator.guards import guard_holds
from emulator.helpers.registry import HelperFaultError
from emulator.isa.fields import AtomicOp, CallKind, PseudoSrc
from emulator.isa.table import Form
from emulator.map_memory import MapMemory
from emulator.maps import MapError, MapSet, UnsupportedMapError, errno_name
from emulator.memory import (
    CTX_BASE,
    AddressSpace,
    MemoryFaultError,
    Region,
    frame_pointer,
    stack_frame_region,
)
from emulator.program import Program
from emulator.progtypes import prog_type
from emulator.pseudo_values import PseudoValueError, pseudo_value
from emulator.run_world import HelperContext, RunWorld
from emulator.state import (
    Fault,
    Frame,
    Guard,
    MachineState,
    MemWrite,
    RegWrite,
    StepEvent,
    StopCondition,
    StopEvent,
    StopReason,
)

MAX_CALL_FRAMES = 8
CONTROL_HELPERS = frozenset({12, 164, 181})  # tail call, for_each_map_elem, bpf_loop
M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF


@dataclass
class _Site:
    """What happens at one native address of an image."""

    prog: str
    pcs: tuple[int, ...] = ()  # eBPF instructions starting here (zero-byte ones first)
    access: MemAccess | None = None
    call_pc: int | None = None  # a bpf-to-bpf call instruction


@dataclass(frozen=True)
class _Facts:
    """Per program: exits -> shared epilogue address, successors, zero-byte instructions."""

    exits: dict[int, int]
    successors: dict[int, frozenset[int]]
    instant: dict[int, int]


@dataclass(frozen=True)
class _Checkpoint:
    context: object
    rip: int
    pc: int
    insns: int
    frames: tuple[CallFrame, ...]
    entries: tuple[int, ...]
    callbacks: tuple[CallbackLoop, ...]
    noutput: int
    regions: tuple[tuple[str, bytes], ...]
    scratch: tuple[tuple[int, bytes], ...]  # the native stack slots in use (sparse)
    final: StopEvent | None
    status: str
    exit_regs: tuple[int, ...] | None
    clock: int
    rng: object
    program: Program
    tail_calls: int
    tail_chain: tuple[tuple[str, int], ...]
    packet: tuple[bytes, int, int, int] | None
    ctx: dict[str, int] | None
    world: tuple[MapSet, dict, list, dict]  # type: ignore[type-arg]


class HostJitBackend:
    """eBPF as Linux would JIT it, executed natively (emulated x86-64) under Unicorn."""

    name = "host-jit"
    capabilities = Capabilities(can_step=True, has_native_view=True, checkpointable=True)

    def __init__(self) -> None:
        self._prog: Program | None = None
        self._env = Environment()
        self._helpers = self._env.helpers_for("raw")
        self.maps = MapSet(())
        self.world = RunWorld()
        self._ctx = HelperContext(lambda: self.world)
        self._uc: Cpu | None = None
        self._bpf_regs: Callable[[], tuple[int, ...]] = tuple
        self._args: Callable[[], tuple[int, ...]] = tuple
        self._gpr: list[BatchReader] = []
        self._mem = NativeMemory(self.world.space, layout.DATA_BASE)
        self._jits: dict[str, JitProgram] = {}
        self._facts: dict[str, _Facts] = {}
        self._sites: dict[int, _Site] = {}
        self._cur = Program(())
        self._interrupt = threading.Event()
        self.pc = 0
        self.insns = 0
        self._rip = 0
        self._frames: list[CallFrame] = []
        self._entries: list[int] = [0]
        self._callbacks: list[CallbackLoop] = []
        self._final: StopEvent | None = None
        self._status = "ready"
        self._exit_regs: tuple[int, ...] | None = None
        self._budget = self._env.budget
        self._tail_calls = 0
        self._tail_chain: list[tuple[str, int]] = []
        # per native run
        self._mode = "step"
        self._fresh = False
        self._arriving: int | None = None
        self._stop: StopEvent | None = None
        self._stores: list[tuple[int, int, bytes, str]] | None = None
        self._limit = 0
        self._nstart = 0
        self._max_depth = -1
        self._stop_pcs: frozenset[int] = frozenset()
        self._guards: dict[int, list[Guard]] = {}
        self._regs_cache: tuple[int, ...] | None = None
        self._fault_rip = 0

    @property
    def space(self) -> AddressSpace:
        """The machine's memory regions (the native code reaches them through MMIO)."""
        return self.world.space

    @property
    def output(self) -> list[str]:
        """Trace lines of this run (bpf_trace_printk), as the interp's ``output``."""
        return self.world.output

    # -- Backend protocol -----------------------------------------------------------------
    def load(self, prog: Program, env: Environment) -> LoadReport:
        diags: list[Diagnostic] = list(prog.warnings)
        helpers = env.helpers_for(prog.prog_type)
        diags += self._check(prog, env, helpers)
        maps: MapSet | None = None
        try:
            maps = MapSet(env.maps, env.ncpus, rng=random.Random(env.seed))
            for name, key, value in env.map_entries:
                code = maps[name].update(key, value, 0)
                if code:
                    diags.append(
                        Diagnostic(0, "map", f"map {name}: cannot add entry {key.hex()}: {errno_name(code)}")
                    )
        except (MapError, UnsupportedMapError, KeyError) as err:
            diags.append(Diagnostic(0, "map", f"cannot create the program's maps: {err}"))
        if not any(d.severity is Severity.ERROR for d in diags):
            self._env, self._helpers = env, helpers
            self._new_machine()
            try:
                self._jit_for(prog)
            except JitError as err:
                diags.append(Diagnostic(err.pc, "jit", err.message))
        report = LoadReport(self.name, not any(d.severity is Severity.ERROR for d in diags), tuple(diags))
        if report.ok:
            assert maps is not None
            self._prog = prog
            self.maps = maps
            self.reset(RunInput())
        return report

    def _check(self, prog: Program, env: Environment, helpers: object) -> list[Diagnostic]:
        """The interp's load-time checks: opcodes it cannot run, helpers it lacks, lddw it
        cannot resolve."""
        diags = []
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
                hid = insn.imm & M32
                spec = helpers.get(hid)  # type: ignore[attr-defined]
                control = hid in CONTROL_HELPERS and prog.prog_type != "raw"
                if (spec is None or spec.impl is None) and not control:
                    known = f"{spec.name}#{hid}" if spec else f"#{hid}"
                    diags.append(
                        Diagnostic(
                            pc,
                            "unknown-helper",
                            f"helper {known} is not implemented for {helpers.name} programs; "  # type: ignore[attr-defined]
                            "the run will stop if it is reached",
                            insn.encode(),
                            Severity.WARNING,
                        )
                    )
            if insn.info.form is Form.LDDW and insn.info.variant != PseudoSrc.IMM64:
                try:
                    pseudo_value(insn, pc, env)
                except PseudoValueError as err:
                    diags.append(err.diag)
        return diags

    def reset(self, run: RunInput) -> None:
        prog = self._require()
        uc = self._machine()
        w = self.world
        w.space.clear()
        w.space.add(stack_frame_region(0))
        w.setup = prog_type(prog.prog_type).setup(w.space, run)
        w.mapmem = MapMemory(w.space, self.maps.maps)
        w.prog_type = prog.prog_type
        w.reservations, w.run_state = {}, {}
        w.clock, w.rng, w.cpu = self._env.clock_ns, random.Random(self._env.seed), run.cpu
        w.output = []
        w.env = self._env
        self._cur = prog
        self._tail_calls, self._tail_chain = 0, []
        self._frames, self._entries, self._callbacks = [], [0], []
        self._final, self._status, self._exit_regs = None, "ready", None
        self._budget = run.budget if run.budget is not None else self._env.budget
        self._interrupt.clear()
        self._mem.scratch[:] = bytes(len(self._mem.scratch))
        for reg in UC_IDS:
            uc.reg_write(reg, 0)
        uc.reg_write(BPF_UC[1], w.setup.r1 & M64)
        uc.reg_write(BPF_UC[2], w.setup.r2 & M64)
        top = frame_pointer(0) + 8
        self._mem.put_u64(top, layout.RET_TRAP)
        uc.reg_write(RSP, top)
        self.pc, self.insns = 0, 0
        self._mode = "prologue"
        self._regs_cache = None
        entry = self._jit_for(prog).functions[0].base
        uc.emu_start(entry, layout.RET_TRAP)
        self._rip = uc.reg_read(RIP)

    def step(self) -> StepEvent:
        self._require()
        pc = self.pc
        if self._final is not None:
            return StepEvent(pc, pc, self.insns, stop=self._final)
        if self.insns >= self._budget:
            return StepEvent(
                pc, pc, self.insns, stop=self._finish(StopEvent(StopReason.BUDGET, pc, self.insns))
            )
        before = self.registers()
        out_before = len(self.output)
        instant = self._facts[self._cur.name].instant.get(pc)
        if instant is not None:  # zero native bytes: nothing runs
            self.insns += 1
            self.pc = instant
            return StepEvent(pc, self.pc, self.insns)
        self.space.journal = []
        self._stores = []
        self._mode = "step"
        try:
            stop = self._native()
            journal = list(self.space.journal or [])
            for addr, size, old, where in self._stores:
                journal.append(MemWrite(addr, old, self._read_now(addr, size), where))
        finally:
            self.space.journal = None
            self._stores = None
        after = self.registers()
        writes = tuple(
            RegWrite(i, a, b) for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b
        )
        return StepEvent(
            pc, self.pc, self.insns, writes, tuple(journal), stop, tuple(self.output[out_before:])
        )

    def run(self, stop: StopCondition) -> StopEvent:
        self._require()
        if self._final is not None:
            return self._final
        self._interrupt.clear()
        self._nstart = self.insns
        limit = self._budget
        if stop.max_insns is not None:
            limit = min(limit, self.insns + stop.max_insns)
        self._limit = limit
        self._max_depth = -1 if stop.depth_at_most is None else stop.depth_at_most
        self._stop_pcs = stop.pcs
        self._guards = {}
        for gpc, guard in stop.guards:
            self._guards.setdefault(gpc, []).append(guard)
        self._mode = "run"
        event = self._native()
        assert event is not None
        return event

    def state(self) -> MachineState:
        self._require()
        frames = []
        for depth, entry in enumerate(self._entries):
            fpc = self._frames[depth].call_pc if depth < len(self._frames) else self.pc
            frames.append(Frame(depth, entry, fpc, frame_pointer(depth)))
        fault = self._final.fault if self._final else None
        retval = self._final.retval if self._final else None
        return MachineState(
            self.pc,
            self.registers(),
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
        """The x86-64 instructions eBPF instruction ``pc`` of the running program became."""
        return self.native_listing(pc)

    def native_listing(self, pc: int, syntax: str = "intel") -> list[NativeInsn]:
        """``native`` in Intel (default) or AT&T (``syntax="att"``) syntax."""
        self._require()
        return native_of(self._jit_for(self._cur), pc, syntax)

    def native_image_listing(self, syntax: str = "intel") -> list[ListingLine]:
        """The running program's whole image (prologues and epilogues included), each native
        instruction tagged with the eBPF instruction it belongs to."""
        self._require()
        return image_listing(self._jit_for(self._cur), syntax)

    def jit(self, prog: Program | None = None) -> JitProgram:
        """The JIT image of ``prog`` (default: the program executing now)."""
        self._require()
        return self._jit_for(prog or self._cur)

    def fault_rip(self) -> int | None:
        """The x86 address of the native instruction that faulted (None before a fault)."""
        return self._fault_rip if self._final is not None and self._final.fault is not None else None

    def native_pc(self) -> int:
        """Where the native code stands (rip)."""
        return self._rip

    def native_registers(self) -> list[tuple[str, int]]:
        """The x86-64 general registers at this instruction boundary, each named with the
        eBPF register the JIT keeps in it (``rdi (r1)``), then rip: the host-JIT pane shows
        them beside r0-r10. After the program ended, the registers as it left them."""
        self._require()
        values = self._machine().reg_read_batch(UC_IDS)
        alias = {x86: f"r{bpf}" for bpf, x86 in enumerate(BPF_TO_X86)}
        out = [
            (f"{name} ({alias[num]})" if num in alias else name, values[num])
            for num, name in enumerate(NAMES64)
        ]
        out.append(("rip", self._rip))
        return out

    def interrupt(self) -> None:
        self._interrupt.set()

    # -- debugger access ------------------------------------------------------------------
    def read_memory(self, addr: int, size: int) -> bytes:
        return self.space.read(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        self.space.write(addr, data)

    def set_register(self, reg: int, value: int) -> None:
        if not 0 <= reg <= 10:
            raise BackendError(f"no register r{reg}")
        self._machine().reg_write(BPF_UC[reg], value & M64)
        self._regs_cache = None
        if self._exit_regs is not None:
            regs = list(self._exit_regs)
            regs[reg] = value & M64
            self._exit_regs = tuple(regs)

    def pointer_kind(self, value: int) -> str | None:
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
        return self.pc, self.insns, len(self._entries) - 1, self._cur.name

    def registers(self) -> tuple[int, ...]:
        if self._exit_regs is not None:
            return self._exit_regs
        if self._regs_cache is None:
            self._regs_cache = self._bpf_regs()
        return self._regs_cache

    def run_status(self) -> str:
        return self._status

    def tail_chain(self) -> tuple[tuple[str, int], ...]:
        return tuple(self._tail_chain)

    def map_set(self) -> MapSet:
        return self.maps

    def ctx_handler(self) -> object | None:
        return self.world.setup.ctx

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self) -> _Checkpoint:
        """Registers (the whole native context), frames, memory regions, the native stack
        slots, the packet, ctx fields, maps and the helpers' per-run state."""
        w = self.world
        packet, ctx = w.setup.packet, w.setup.ctx
        world = copy.deepcopy((self.maps, w.reservations, w.mapmem.mapped(), w.run_state))
        return _Checkpoint(
            self._machine().context_save(),
            self._rip,
            self.pc,
            self.insns,
            tuple(replace(f) for f in self._frames),
            tuple(self._entries),
            tuple(replace(cb) for cb in self._callbacks),
            len(w.output),
            tuple((r.name, bytes(r.data)) for r in self.space if r.kind in ("stack", "mem")),
            self._mem.used_scratch(),
            self._final,
            self._status,
            self._exit_regs,
            w.clock,
            w.rng.getstate(),
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
        size = 1024 + sum(len(data) for _, data in cp.regions) + sum(len(chunk) for _, chunk in cp.scratch)
        if cp.packet is not None:
            size += len(cp.packet[0])
        for m in cp.world[0].maps:
            for key, value in m.items():
                values = value if isinstance(value, list | tuple) else [value]
                size += 96 + len(key) + sum(len(v) if isinstance(v, bytes | bytearray) else 8 for v in values)
        return size

    def restore(self, cp: _Checkpoint) -> None:
        w = self.world
        self._machine().context_restore(cp.context)  # type: ignore[arg-type]
        self._rip, self.pc, self.insns = cp.rip, cp.pc, cp.insns
        self._frames = [replace(f) for f in cp.frames]
        self._entries = list(cp.entries)
        self._callbacks = [replace(cb) for cb in cp.callbacks]
        del w.output[cp.noutput :]
        for region in list(self.space):
            if region.kind in ("stack", "map", "map_value"):
                self.space.remove(region.name)
        for name, data in cp.regions:
            if name.startswith("stack["):
                region = self.space.add(stack_frame_region(int(name[len("stack[") : -1])))
            else:
                region = self.space.get(name) or self.space.add(
                    Region(name, "mem", CTX_BASE, bytearray(data))
                )
            region.data[:] = data
        self._mem.restore_scratch(cp.scratch)
        if cp.packet is not None and w.setup.packet is not None:
            w.setup.packet.load(cp.packet)
        if cp.ctx is not None and w.setup.ctx is not None:
            w.setup.ctx.values.clear()
            w.setup.ctx.values.update(cp.ctx)
        maps, reservations, mapped, run_state = copy.deepcopy(cp.world)
        self.maps, w.reservations, w.run_state = maps, reservations, run_state
        w.mapmem = MapMemory(self.space, maps.maps)
        for index, element in mapped:
            w.mapmem.value_ptr(index, element)
        self._final, self._status, self._exit_regs = cp.final, cp.status, cp.exit_regs
        w.clock = cp.clock
        w.rng.setstate(cp.rng)  # type: ignore[arg-type]
        self._cur = cp.program
        self._tail_calls, self._tail_chain = cp.tail_calls, list(cp.tail_chain)
        self._regs_cache = None

    # -- the machine ------------------------------------------------------------------------
    def _require(self) -> Program:
        if self._prog is None:
            raise BackendError("host-jit: no program loaded")
        return self._prog

    def _machine(self) -> Cpu:
        if self._uc is None:
            raise BackendError("host-jit: no program loaded")
        return self._uc

    def _new_machine(self) -> None:
        uc = new_cpu()
        uc.mem_map(layout.TRAMPOLINE_BASE, layout.TRAMPOLINE_SIZE, UC_PROT_READ | UC_PROT_EXEC)
        uc.mem_write(layout.TRAMPOLINE_BASE, b"\xc3" * layout.TRAMPOLINE_SIZE)
        self._mem = NativeMemory(self.world.space, layout.DATA_BASE)
        uc.mmio_map(
            layout.DATA_BASE,
            layout.DATA_END - layout.DATA_BASE,
            self._mmio_read,
            None,
            self._mmio_write,
            None,
        )
        uc.hook_add(
            UC_HOOK_CODE,
            self._on_trampoline,
            None,
            layout.TRAMPOLINE_BASE,
            layout.TRAMPOLINE_BASE + layout.TRAMPOLINE_SIZE - 1,
        )
        self._uc = uc
        self._bpf_regs = BatchReader(uc, BPF_UC)  # r0-r10
        self._args = BatchReader(uc, BPF_UC[1:6])  # r1-r5, a helper's arguments
        self._gpr = [BatchReader(uc, (reg,)) for reg in UC_IDS]  # one x86 register, by number
        self._jits, self._sites = {}, {}
        self._facts = {}

    def _mmio_read(self, uc: object, offset: int, size: int, ud: object) -> int:
        return self._mem.read(uc, offset, size, ud)

    def _mmio_write(self, uc: object, offset: int, size: int, value: int, ud: object) -> None:
        self._mem.write(uc, offset, size, value, ud)

    def _jit_for(self, prog: Program) -> JitProgram:
        jit = self._jits.get(prog.name)
        if jit is not None:
            return jit
        index = len(self._jits)
        if index >= layout.MAX_PROGRAMS:
            raise JitError(0, f"more than {layout.MAX_PROGRAMS} programs")
        env = self._env

        def targets(kind: str, value: int) -> int:
            if kind == "helper":
                return layout.helper_trampoline(min(value, 0xFFF))
            if kind == "special":
                return layout.special_trampoline(layout.SPECIALS[value])
            insn = prog.insns[value]
            assert insn is not None
            try:
                return pseudo_value(insn, value, env)
            except PseudoValueError:
                return 0

        tail_calls = any(
            i is not None
            and i.info is not None
            and i.info.form is Form.CALL
            and i.info.variant == CallKind.HELPER
            and i.imm == 12
            for i in prog.insns
        )
        jit = jit_program(
            prog.insns,
            layout.image_window(index),
            targets,
            symbols=tuple(prog.symbols),
            tail_calls=tail_calls,
        )
        uc = self._machine()
        size = (jit.size + 0xFFF) & ~0xFFF
        uc.mem_map(jit.base, size, UC_PROT_READ | UC_PROT_EXEC)
        uc.mem_write(jit.base, b"\xcc" * size)
        for fn in jit.functions:
            uc.mem_write(fn.base, fn.code)
            self._index(prog, fn)
        self._jits[prog.name] = jit
        self._facts[prog.name] = self._learn(prog, jit)
        return jit

    def _index(self, prog: Program, fn: Function) -> None:
        """Record the function's interesting native addresses and hook each one."""
        sites: dict[int, _Site] = {}

        def site(addr: int) -> _Site:
            return sites.setdefault(addr, _Site(prog.name))

        for pc in sorted(fn.ranges):
            start, end = fn.ranges[pc]
            s = site(fn.base + start)
            s.pcs = (*s.pcs, pc)
        for acc in fn.mem:
            site(fn.base + acc.offset).access = acc
        for pc, off in fn.calls.items():
            site(fn.base + off).call_pc = pc
        self._sites.update(sites)
        # one hook over the whole image: Unicorn walks its hook list for every hooked
        # instruction, so a hook per site would cost O(program size) per instruction
        self._machine().hook_add(UC_HOOK_CODE, self._on_code, None, fn.base, fn.base + fn.size - 1)

    def _program_jit_fn(self, prog: Program, pc: int) -> Function:
        fn = self._jit_for(prog).function_of(pc)
        assert fn is not None
        return fn

    def _bad_target(self, uc: Cpu) -> int:
        """The eBPF pc a jump into the middle of a lddw aimed at (from the stub's return address)."""
        stub = self._mem.get_u64(uc.reg_read(RSP)) - 5
        for fn in self._jit_for(self._cur).functions:
            if stub - fn.base in fn.bad_targets:
                return fn.bad_targets[stub - fn.base]
        return self.pc

    def _learn(self, prog: Program, jit: JitProgram) -> _Facts:
        """What the boundary hook needs per instruction, computed once per program: the exits
        (with the shared epilogue's address), each instruction's static successors, and the
        instructions that produced no native bytes (``ja +0``, ``le64``, ``mod`` by 0) with
        the instruction that starts at the same native address next (none when that would be
        past the function: the native code then reaches the fall-off call)."""
        facts = _Facts({}, {}, {})
        for pc, insn in enumerate(prog.insns):
            if insn is None or insn.info is None:
                continue
            fn = jit.function_of(pc)
            rng = jit.range_of(pc)
            if fn is None or rng is None:
                continue
            if insn.info.form is Form.EXIT:
                facts.exits[pc] = fn.base + fn.cleanup if fn.cleanup is not None else -1
            target = insn.jump_target(pc)
            facts.successors[pc] = frozenset({pc + insn.slots} | ({target} if target is not None else set()))
            if rng[0] == rng[1]:
                succ = (
                    target
                    if insn.info.form in (Form.JA, Form.JA32) and target is not None
                    else pc + insn.slots
                )
                nxt = jit.range_of(succ) if 0 <= succ < prog.nslots else None
                if nxt is not None and nxt[0] == rng[0]:
                    facts.instant[pc] = succ
        return facts

    def _read_now(self, addr: int, size: int) -> bytes:
        try:
            return self.space.read(addr, size)
        except MemoryFaultError:
            return b""

    def _finish(self, event: StopEvent) -> StopEvent:
        self._final = event
        self._status = {StopReason.EXIT: "exited", StopReason.FAULT: "faulted"}.get(event.reason, "stopped")
        return event

    def _native(self) -> StopEvent | None:
        """Run native code from rip until a hook stops it, the program returns to its fake
        caller, or something faults. Returns the StopEvent (None: a step ended normally)."""
        uc = self._machine()
        self._fresh = True
        self._stop = None
        self._arriving = None
        self._regs_cache = None
        try:
            uc.emu_start(self._rip, layout.RET_TRAP)
        except ProgramExit as done:
            self.insns -= 1
            uc.reg_write(RAX, done.retval & M64)
            self._exit_regs = self._bpf_regs()
            return self._finish(StopEvent(StopReason.EXIT, self.pc, self.insns, retval=done.retval))
        except (MemoryFaultError, FaultError, HelperFaultError, UcError, EmulatorError) as exc:
            return self._fault(exc)
        self._regs_cache = None
        self._rip = uc.reg_read(RIP)
        if self._stop is not None:
            return self._stop
        if self._rip == layout.RET_TRAP:
            regs = self._exit_regs or self._bpf_regs()
            self._exit_regs = regs
            return self._finish(StopEvent(StopReason.EXIT, self.pc, self.insns, retval=regs[0]))
        if self._mode == "run":
            return self._fault(
                FaultError("native", f"native execution stopped unexpectedly at {self._rip:#x}")
            )
        return None

    def _fault(self, exc: BaseException) -> StopEvent:
        uc = self._machine()
        self._rip = uc.reg_read(RIP)
        self._regs_cache = None
        where = f" [x86 rip {self._rip:#x}]"
        self._fault_rip = self._rip
        if isinstance(exc, MemoryFaultError):
            self.insns -= 1
            # the message stays the interpreter's word for word (the backend contract compares
            # it); the native pc is in ``fault_rip()``
            fault = Fault(self.pc, "memory", exc.message, exc.addr & M64, exc.size)
        elif isinstance(exc, FaultError):
            if exc.kind not in ("end-of-program", "bad-pc"):  # the instruction completed
                self.insns -= 1
            fault = Fault(self.pc, exc.kind, exc.message)
        elif isinstance(exc, HelperFaultError):
            self.insns -= 1
            fault = Fault(self.pc, "helper", str(exc))
        elif isinstance(exc, UcError):
            self.insns -= 1
            fault = Fault(self.pc, "native", f"x86 exception: {exc}{where}")
        else:
            fault = Fault(self.pc, "internal", f"{type(exc).__name__}: {exc}")
        self._exit_regs = self._bpf_regs()
        return self._finish(StopEvent(StopReason.FAULT, self.pc, self.insns, fault=fault))

    def _halt(self, pc: int, event: StopEvent | None) -> bool:
        """Stop before the instruction at ``pc`` (native rip stays at its start)."""
        self.pc = pc
        self._stop = event
        self._machine().emu_stop()
        return False

    # -- hooks ------------------------------------------------------------------------------
    def _on_code(self, uc: Cpu, address: int, size: int, _ud: object) -> None:
        site = self._sites.get(address)
        if site is None:  # inside an instruction's code, the prologue or the epilogue
            return
        if self._mode == "prologue":
            uc.emu_stop()
            return
        if site.pcs and not self._boundary(address, site):
            return
        if site.call_pc is not None:
            self._pre_call(site.call_pc)
        if site.access is not None:
            self._check_access(address, site.access)

    def _boundary(self, address: int, site: _Site) -> bool:
        """An eBPF instruction starts here. Returns whether native execution goes on."""
        if self._fresh:
            self._fresh = False
            return self._enter(self.pc, first=True)
        pcs = site.pcs
        if self._arriving is not None:
            pc = self._arriving if self._arriving in pcs else pcs[0]
            self._arriving = None
            return self._enter(pc)
        prev = self.pc
        facts = self._facts[self._cur.name]
        if prev in facts.exits:
            if address == facts.exits[prev]:
                return True  # a later exit jumping to the shared epilogue
            frame = self._frames.pop()
            depth = len(self._frames) + 1
            self.space.remove(f"stack[{depth}]")
            self._entries.pop()
            self._machine().reg_write(RSP, frame.rsp)
            pc = frame.call_pc + 1
            if self._mode == "run" and len(self._frames) <= self._max_depth:
                return self._halt(pc, StopEvent(StopReason.DEPTH, pc, self.insns))
            return self._enter(pc)
        if len(pcs) == 1:
            return self._enter(pcs[0])
        return self._enter(self._arrived_at(prev, pcs, facts))

    def _arrived_at(self, prev: int, pcs: tuple[int, ...], facts: _Facts) -> int:
        """Which of the instructions sharing this native address follows ``prev``: its
        successor that starts here; for a conditional jump whose target and fall-through
        both start here, the one its condition picks (jumps write no register, so the
        registers now are those it compared)."""
        successors = [p for p in pcs if p in facts.successors[prev]]
        if len(successors) > 1:
            insn = self._cur.insns[prev]
            assert insn is not None
            target = insn.jump_target(prev)
            return target if target is not None and taken(insn, self._bpf_regs()) else prev + 1
        return successors[0] if successors else pcs[0]

    def _enter(self, pc: int, first: bool = False) -> bool:
        """Execute the instruction at ``pc`` (and zero-byte ones that lead to the next)."""
        while True:
            if self._mode == "step":
                if not first:
                    return self._halt(pc, None)
            else:
                if not first and self.insns > self._nstart and self._stops_here(pc):
                    return self._halt(pc, StopEvent(StopReason.BREAKPOINT, pc, self.insns))
                if self.insns >= self._limit:
                    if self.insns >= self._budget:
                        return self._halt(pc, self._finish(StopEvent(StopReason.BUDGET, pc, self.insns)))
                    return self._halt(pc, StopEvent(StopReason.STEP, pc, self.insns))
                if self._interrupt.is_set():
                    self._interrupt.clear()
                    return self._halt(pc, StopEvent(StopReason.INTERRUPTED, pc, self.insns))
            first = False
            self.insns += 1
            self.pc = pc
            facts = self._facts[self._cur.name]
            if pc in facts.exits:
                if not self._frames:
                    self._exit_regs = self._bpf_regs()
                # the epilogue's `leave` needs rbp = this frame's pointer; a program that wrote
                # r10 (which the verifier forbids, the interp allows) would otherwise lose its frame
                self._machine().reg_write(BPF_UC[10], frame_pointer(len(self._frames)))
                if self._frames and self._callbacks and self._callbacks[-1].depth == len(self._frames):
                    return control.callback_exit(self)
            instant = facts.instant.get(pc)
            if instant is not None:
                pc = instant
                if self._mode == "step":
                    return self._halt(pc, None)
                continue
            return True

    def _stops_here(self, pc: int) -> bool:
        guards = self._guards.get(pc)
        if guards:
            regs = self._bpf_regs()
            return any(guard_holds(g, regs) for g in guards)
        return pc in self._stop_pcs

    def _pre_call(self, pc: int) -> None:
        """A bpf-to-bpf call is about to run: new frame, and rsp placed so that the callee's
        rbp becomes this depth's frame pointer."""
        insn = self._cur.insns[pc]
        assert insn is not None
        target = pc + 1 + insn.imm
        uc = self._machine()
        self._push_frame(pc, target, uc.reg_read(RSP), 0)
        uc.reg_write(RSP, frame_pointer(len(self._frames)) + 16)

    def _push_frame(self, pc: int, target: int, rsp: int, ret: int, saved: tuple[int, ...] = ()) -> int:
        depth = len(self._frames)
        if depth + 1 >= MAX_CALL_FRAMES:
            raise FaultError(
                "call",
                f"call depth limit reached: {MAX_CALL_FRAMES} frames are in use "
                "(the kernel allows at most 8 nested frames)",
            )
        self._frames.append(CallFrame(pc, rsp, ret, saved))
        self.space.add(stack_frame_region(depth + 1))
        self._entries.append(target)
        return frame_pointer(depth + 1)

    def _check_access(self, address: int, acc: MemAccess) -> None:
        """The interpreter's checks for the eBPF access about to run at ``address``."""
        uc = self._machine()
        space = self.space
        addr = self._gpr[acc.base]()[0] + acc.off  # unwrapped, as the interp computes it
        size = acc.size
        if acc.kind in ("load", "loadsx"):
            region = space.region_for(addr, size, "read")
            if region.handler is not None:
                value = region.handler.load(addr - region.base, size)
                if acc.kind == "loadsx":
                    sign = 1 << (size * 8 - 1)
                    value = ((value ^ sign) - sign) & M64
                uc.reg_write(UC_IDS[acc.reg], value & M64)
                uc.reg_write(RIP, address + acc.length)
            return
        region = space.region_for(addr, size, "write" if acc.kind != "atomic" else "read")
        if not region.writable:
            space.store(addr, size, 0)  # raises the interp's read-only fault
        if region.handler is not None:
            if acc.kind == "atomic":
                raise MemoryFaultError(
                    f"atomic access of {size} bytes at {region.describe(addr)}: bpfdbg "
                    f"does not model atomics on {region.what or region.kind}",
                    addr,
                    size,
                )
            value = acc.imm if acc.reg < 0 else uc.reg_read(UC_IDS[acc.reg])
            space.store(addr, size, value)
            uc.reg_write(RIP, address + acc.length)
            return
        if self._stores is None:
            return
        off = addr - region.base
        old = bytes(region.data[off : off + size])
        if acc.atomic == AtomicOp.CMPXCHG:
            expect = uc.reg_read(RAX) & (M64 if size == 8 else M32)
            if int.from_bytes(old, "little") != expect:
                return
        if not any(s[0] == addr for s in self._stores):
            self._stores.append((addr, size, old, region.describe(addr)))

    def _on_trampoline(self, uc: Cpu, address: int, size: int, _ud: object) -> None:
        if self._mode == "prologue":
            return
        off = address - layout.SPECIAL_BASE
        insn = self._cur.insns[self.pc]
        assert insn is not None
        if 0 <= off < 8 * len(layout.SPECIALS):
            kind = layout.SPECIALS[off // 8]
            if kind in ("ld_abs", "ld_ind"):
                control.legacy(self, insn, uc)
            elif kind == "kfunc":
                raise FaultError("kfunc", f"kfunc call (BTF id {insn.imm}) is not supported by host-jit")
            elif kind == "callx":
                control.callx(self, insn, uc)
            elif kind == "bad_pc":
                self.pc = self._bad_target(uc)
                raise FaultError("bad-pc", f"pc {self.pc} is not the start of an instruction")
            else:
                raise FaultError(
                    "end-of-program",
                    f"execution ran past the last instruction (insn {self.pc}); every path must end in exit",
                )
            return
        hid = insn.imm & M32
        if hid in CONTROL_HELPERS and self._cur.prog_type != "raw":
            control.control(self, hid, uc)
            return
        regs = self._args()
        uc.reg_write(RAX, control.helper_caller(self, hid)(*regs))
