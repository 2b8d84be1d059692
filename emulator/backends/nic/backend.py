"""The ``nic`` backend: the program offloaded to an NFP SmartNIC, as the driver would JIT it,
run on a simulator of the microengine one eBPF instruction at a time.

Loading does what the real offload does (reference/nfp_offload.md §4): the offload verifier
(profile of the chosen device, emulator.backends.nic.offload_verifier) accepts or refuses
the program with the driver's messages; an accepted program is translated to microcode
(translate.py), whose size must fit the device's instruction store.

Running: ``step`` executes the microcode from the current eBPF instruction's first address
until control reaches the first address of another eBPF instruction (sim.Sim.run_to); the
program ends when it branches to the firmware's "packet done" address, with the verdict in
A0. Instructions are counted as the interpreter counts them, so lockstep stays aligned.

What the debugger sees is the interpreter's world: registers(), state(), read_memory,
write_memory and StepEvent.mem use the interpreter's addresses (emulator.memory layout),
translated from the device's (CTM packet addresses, LM stack addresses, 40-bit EMEM map
value addresses, table ids) with the per-instruction pointer facts of the program analysis
(which register or spilled slot holds which kind of pointer). ``native_registers`` and
``native`` show the device's own view. Faults keep the interpreter's words where the
access itself is out of bounds (the device would read garbage; the eBPF-level check runs
before the microcode, as host-jit's does); ``fault_address`` names the microcode address.
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from emulator.backends.base import BackendError, Capabilities, LoadReport, NativeInsn
from emulator.backends.nic import microcode as mc
from emulator.backends.nic.ctrl import ControlChannel, DeviceClock, HostMaps
from emulator.backends.nic.devmem import (
    CTM_BUFFER,
    CTM_PACKET_NUMBER,
    LM_PV_BASE,
    LM_STACK_BASE,
    M32,
    M64,
    PLEN_MASK,
    PV_CTM,
    PV_LEN,
    CtmBuffer,
    DeviceFault,
    Emem,
    LmFrame,
    Memories,
    memory_ctm,
    packet_ctm,
    table_ids,
)
from emulator.backends.nic.facts import Ptr
from emulator.backends.nic.sim import END, DeviceFirmware, HazardError, Sim
from emulator.backends.nic.translate import NfpImage, TranslateError
from emulator.branch import taken
from emulator.diagnostics import Diagnostic, Severity
from emulator.env import Environment, RunInput
from emulator.execution import FaultError
from emulator.guards import guard_holds
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.map_memory import MapMemory
from emulator.maps import MapError, MapSet, UnsupportedMapError, errno_name
from emulator.memory import CTX_BASE, MemoryFaultError, Region, frame_pointer, stack_frame_region
from emulator.program import Program
from emulator.progtypes import prog_type
from emulator.pseudo_values import PseudoValueError, pseudo_value
from emulator.run_world import RunWorld
from emulator.state import (
    Fault,
    Frame,
    Guard,
    MachineState,
    MemWrite,
    RegionSnapshot,
    RegWrite,
    StepEvent,
    StopCondition,
    StopEvent,
    StopReason,
)
from emulator.verifier import Analysis, RegState
from emulator.verifier.liveness import live_in

MAX_CALL_FRAMES = 8
XDP_VERDICTS = {0x82: 0, 0x22: 1, 0x11: 2, 0x44: 3}  # action byte -> the XDP code it stands for
TC_VERDICTS = {0x11: 0, 0x22: 2, 0x44: 7}  # 0x02 (stolen/queued): the program's own 4 or 5
MIXED_POINTER = Ptr("mixed", None)  # pointers of several kinds: told apart by value
MAYBE_POINTER = Ptr("maybe", None)  # a pointer on some paths, a scalar on others
POINTER_KINDS = frozenset(
    {"ctx", "packet", "packet_end", "packet_meta", "stack", "map_value", "map_value_or_null", "map_ptr"}
)


@dataclass(frozen=True, slots=True)
class _RegPlan:
    """How to show r0-r9 at one pc in the interpreter's terms: per register the pointer kind
    every path that initialised it agrees on (``Ptr("mixed")``: pointers of several kinds,
    told apart by value; None: a scalar on some path), and the registers some path reaches
    uninitialised."""

    kinds: tuple[Ptr | None, ...]
    undefined: frozenset[int]


@dataclass(frozen=True)
class _Checkpoint:
    sim: object
    lm: bytes
    frames: tuple[LmFrame, ...]
    calls: tuple[int, ...]
    spills: tuple[tuple[int, tuple[bytes, bytes]], ...]
    pc: int
    insns: int
    final: StopEvent | None
    status: str
    exit_regs: tuple[int, ...] | None
    fault_addr: int | None
    regions: tuple[tuple[str, bytes], ...]
    packet: tuple[bytes, int, int, int] | None
    ctx: dict[str, int] | None
    world: tuple[MapSet, list[tuple[int, object]], dict[tuple[int, int], object]]
    channel: object
    clock: tuple[int, int]
    rng: object
    noutput: int


ME_RANDOM_SEED = 0x4E465036  # mixed into the run's seed for the device's random source
_ALL = (1 << 64) - 1
_LOW = (1 << 32) - 1


class NicBackend:
    """An NFP offload target: the offload verifier, the JIT's translation, the microengine."""

    name = "nic"
    capabilities = Capabilities(
        can_step=True, has_native_view=True, checkpointable=True, raw_programs=True, may_refuse=True
    )

    def __init__(self) -> None:
        self._prog: Program | None = None
        self._env = Environment()
        self.maps = MapSet(())
        self.world = RunWorld()
        self.clock = DeviceClock()
        self.channel = ControlChannel(self.maps, False, 0, self.clock)
        self._interrupt = threading.Event()
        self._image: NfpImage | None = None
        self._code: list[mc.Instr] = []
        self._facts: object = None
        self._plans: dict[int, _RegPlan] = {}
        self._access: dict[int, tuple[int, int, str]] = {}  # pc -> (base register, size, verb)
        self._succ: dict[int, frozenset[int]] = {}
        self._profile: object = None
        self._tids: dict[int, int] = {}
        self._atomic: dict[int, frozenset[int]] = {}
        self._starts: dict[int, tuple[int, ...]] = {}
        self._ranges: dict[int, tuple[int, int]] = {}
        self._frame_depth: dict[int, int] = {}
        self._visible: dict[int, int] = {}
        self._entry_of: dict[int, int] = {}  # pc -> entry of its function
        self._mem: Memories | None = None
        self._sim: Sim | None = None
        self.pc = 0
        self.insns = 0
        self._calls: list[int] = []  # pc of each bpf-to-bpf call in progress
        self._spills: dict[int, tuple[bytes, bytes]] = {}  # stack slot -> (device bytes, interp bytes)
        self._final: StopEvent | None = None
        self._status = "ready"
        self._exit_regs: tuple[int, ...] | None = None
        self._fault_addr: int | None = None
        self._budget = self._env.budget

    # -- Backend protocol -----------------------------------------------------------------
    def load(self, prog: Program, env: Environment) -> LoadReport:
        from emulator.backends.nic.offload_verifier import verify, with_image_size
        from emulator.backends.nic.profiles import ProfileError, profile
        from emulator.backends.nic.translate import translate
        from emulator.verifier import analyse

        diags: list[Diagnostic] = list(prog.warnings) + _unresolved_pseudo_values(prog, env)
        if any(d.severity is Severity.ERROR for d in diags):
            return LoadReport(self.name, False, tuple(diags))
        try:
            prof = profile(env.device_profile)
        except (KeyError, ProfileError) as err:
            return LoadReport(self.name, False, (Diagnostic(0, "profile", str(err).strip('"')),))
        analysis = analyse(prog, env)
        verdict = verify(prog, env, prof, analysis=analysis)
        tids = table_ids(env.maps)
        image: NfpImage | None = None
        if verdict.ok and verdict.facts is not None:
            try:
                # offloaded maps become their table id, a perf event array its host map id
                image = translate(prog, verdict.facts, prof, map_tid=lambda index: tids.get(index, index + 1))
            except TranslateError as err:
                diags.append(_translate_diag(err))
                return LoadReport(self.name, False, tuple(diags))
            verdict = with_image_size(verdict, len(image), prof)
        diags += [_diag(m) for m in verdict.messages]
        if verdict.ok and verdict.facts is None:
            diags.append(
                Diagnostic(0, "analysis", "the program analysis the translator needs is not available")
            )
        maps: MapSet | None = None
        if verdict.ok:
            try:
                maps = MapSet(env.maps, env.ncpus, rng=random.Random(env.seed))
                for name, key, value in env.map_entries:
                    code = maps[name].update(key, value, 0)
                    if code:
                        diags.append(
                            Diagnostic(
                                0, "map", f"map {name}: cannot add entry {key.hex()}: {errno_name(code)}"
                            )
                        )
            except (MapError, UnsupportedMapError, KeyError) as err:
                diags.append(Diagnostic(0, "map", f"cannot create the program's maps: {err}"))
        report = LoadReport(self.name, not any(d.severity is Severity.ERROR for d in diags), tuple(diags))
        if report.ok:
            assert maps is not None and image is not None
            self._prog, self._env, self._profile = prog, env, prof
            self._facts = verdict.facts
            self._plans = _register_plans(analysis)
            self._install(image, maps)
            self.reset(RunInput())
        return report

    def _install(self, image: NfpImage, maps: MapSet) -> None:
        """Keep the image and the per-instruction facts the machine needs."""
        prog = self._require()
        self._image = image
        self._code = list(image.insns)
        self._ranges = dict(image.ranges)
        starts: dict[int, list[int]] = {}
        for pc, (start, _end) in sorted(self._ranges.items()):
            starts.setdefault(start, []).append(pc)
        self._starts = {addr: tuple(pcs) for addr, pcs in starts.items()}
        self._access, self._succ = _per_pc(prog, self._facts)
        self.maps = maps
        self._tids = table_ids(maps.maps)
        self._atomic = _atomic_words(prog, self._facts)
        self.clock = DeviceClock()
        prof = self._profile
        self.channel = ControlChannel(maps, prof.multi_ent, prof.cache_time_ns, self.clock)  # type: ignore[attr-defined]
        subprogs = self._facts.subprogs  # type: ignore[attr-defined]
        entries = sorted(s.entry for s in subprogs) or [0]
        self._entry_of = {}
        for pc in range(prog.nslots):
            self._entry_of[pc] = max((e for e in entries if e <= pc), default=0)
        self._frame_depth, self._visible = {}, {}
        for s in subprogs:
            frame = image.frames.get(s.entry)
            self._frame_depth[s.entry] = frame.frame_depth if frame is not None else _round4(s.stack_depth)
            self._visible[s.entry] = min(_round4(s.stack_depth), self._frame_depth[s.entry])
        space = self.world.space
        mapmem = MapMemory(space, maps.maps)
        self._mem = Memories(
            space, CtmBuffer(lambda: (bytearray(), 0), 0), Emem(mapmem, self._tids, self._atomic)
        )
        self._sim = Sim(self._code, image.relo_labels, self._mem, self._firmware(), self._random)

    def _firmware(self) -> DeviceFirmware:
        return DeviceFirmware(self.maps, self._tids, self.channel, 0)

    def _random(self) -> int:
        return self.world.rng.getrandbits(32)

    def reset(self, run: RunInput) -> None:
        prog = self._require()
        sim, mem = self._machine()
        w = self.world
        w.space.clear()
        w.space.add(stack_frame_region(0))
        w.setup = prog_type(prog.prog_type).setup(w.space, run)
        w.mapmem = MapMemory(w.space, self.maps.maps)
        w.prog_type = prog.prog_type
        w.reservations, w.run_state = {}, {}
        # the microengine's PseudoRndNum CSR, seeded by the firmware: a sequence unrelated to
        # the host's per-CPU generator (reference §5.12), deterministic per run like it
        w.clock, w.rng, w.cpu = self._env.clock_ns, random.Random(self._env.seed ^ ME_RANDOM_SEED), run.cpu
        w.output = []
        w.env = self._env
        packet_offset = self._profile.packet_offset  # type: ignore[attr-defined]
        if w.setup.packet is not None:
            ctm = packet_ctm(w.setup.packet, packet_offset)
            plen = w.setup.packet.length
        else:
            ctm = memory_ctm(w.space.get("mem"), CTX_BASE, packet_offset)
            plen = len(run.mem)
        mem.reset(ctm, Emem(w.mapmem, self._tids, self._atomic))
        sim.firmware = DeviceFirmware(self.maps, self._tids, self.channel, run.cpu)
        sim.reset(0)
        # what the firmware hands the program: the packet vector in LM (ActLMAddr1), this
        # thread's stack base in A22 and ActLMAddr0
        mem.lm.set_word(LM_PV_BASE + PV_LEN, (plen & PLEN_MASK) | CTM_PACKET_NUMBER << 16)
        mem.lm.set_word(LM_PV_BASE + PV_CTM, CTM_BUFFER + packet_offset)
        mem.lm.ptr[0] = LM_STACK_BASE
        sim.a[22] = LM_STACK_BASE
        if prog.prog_type == "raw":  # the raw convention: r1 = the memory (in CTM), r2 = its length
            sim.set_pair(1, CTM_BUFFER + packet_offset if run.mem else 0)
            sim.set_pair(2, len(run.mem))
        mem.push_frame(LmFrame(LM_STACK_BASE, self._frame_depth.get(0, 0), self._visible.get(0, 0)))
        if 0 not in self._starts:  # the intro (plen from the packet vector) runs before insn 0
            sim.run_to(self._starts)
        self.pc, self.insns = 0, 0
        self._calls = []
        self._spills = {}
        self._final, self._status, self._exit_regs, self._fault_addr = None, "ready", None, None
        self._budget = run.budget if run.budget is not None else self._env.budget
        self._interrupt.clear()

    def step(self) -> StepEvent:
        self._require()
        pc = self.pc
        if self._final is not None:
            return StepEvent(pc, pc, self.insns, stop=self._final)
        if self.insns >= self._budget:
            return StepEvent(
                pc, pc, self.insns, stop=self._finish(StopEvent(StopReason.BUDGET, pc, self.insns))
            )
        _, mem = self._machine()
        before = self.registers()
        mem.journal = []
        try:
            stop = self._execute()
        finally:
            journal = mem.journal or []
            mem.journal = None
        after = self.registers()
        writes = tuple(
            RegWrite(i, x, y) for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y
        )
        return StepEvent(pc, self.pc, self.insns, writes, tuple(self._interp_view(journal)), stop)

    def run(self, stop: StopCondition) -> StopEvent:
        self._require()
        if self._final is not None:
            return self._final
        self._interrupt.clear()
        nstart = self.insns
        limit = self._budget if stop.max_insns is None else min(self._budget, nstart + stop.max_insns)
        max_depth = -1 if stop.depth_at_most is None else stop.depth_at_most
        guards: dict[int, list[Guard]] = {}
        for gpc, guard in stop.guards:
            guards.setdefault(gpc, []).append(guard)
        pcs = stop.pcs
        while True:
            pc = self.pc
            if self.insns > nstart:
                if pc in guards:
                    regs = self.registers()
                    if any(guard_holds(g, regs) for g in guards[pc]):
                        return StopEvent(StopReason.BREAKPOINT, pc, self.insns)
                elif pc in pcs:
                    return StopEvent(StopReason.BREAKPOINT, pc, self.insns)
            if self.insns >= limit:
                if self.insns >= self._budget:
                    return self._finish(StopEvent(StopReason.BUDGET, pc, self.insns))
                return StopEvent(StopReason.STEP, pc, self.insns)
            if self._interrupt.is_set():
                self._interrupt.clear()
                return StopEvent(StopReason.INTERRUPTED, pc, self.insns)
            depth = len(self._calls)
            event = self._execute()
            if event is not None:
                return event
            if len(self._calls) < depth and len(self._calls) <= max_depth:
                return StopEvent(StopReason.DEPTH, self.pc, self.insns)

    def state(self) -> MachineState:
        self._require()
        frames = []
        for depth in range(len(self._calls) + 1):
            entry = self._frame_entry(depth)
            fpc = self._calls[depth] if depth < len(self._calls) else self.pc
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
            MappingProxyType(self._snapshot()),
            MappingProxyType(self.maps.dump()),
            self._require().name,
        )

    def native(self, pc: int) -> list[NativeInsn]:
        """The microcode eBPF instruction ``pc`` became (program-relative addresses, the
        pre-relocation words ``bpftool prog dump jited`` shows)."""
        rng = self._ranges.get(pc)
        if rng is None:
            return []
        return [
            NativeInsn(addr, mc.encode_bytes(self._code[addr]), self._code[addr].text())
            for addr in range(*rng)
        ]

    native_syntax = "NFP microcode, binutils nfp-dis syntax, pre-relocation"

    def offload_summary(self) -> dict[str, object]:
        """What the accepted program takes of the device (``info offload``): instruction
        store, stack (the driver's frame budget) and how far into the packet it may read
        against the firmware's packet split."""
        from emulator.backends.nic.offload_verifier import stack_usage

        prof: Any = self._profile
        facts: Any = self._facts
        if prof is None or facts is None or self._prog is None:
            return {"lines": []}
        store, stack = len(self._code), stack_usage(self._prog, facts)
        reach = facts.max_pkt_offset
        split = prof.fw_mtu
        lines = [
            f"instruction store: {store:,} of {prof.max_insns:,} NFP instructions",
            f"stack: {stack} of {prof.stack_size} B (frames rounded to 64 B, as the driver counts them)",
            f"packet reads reach byte {reach}; the firmware's packet split is {split} B, "
            f"the interface MTU {self._env.mtu if self._env is not None else '?'}",
        ]
        return {"lines": lines, "insn_store": store, "insn_store_max": prof.max_insns, "stack": stack,
                "stack_max": prof.stack_size, "max_pkt_offset": reach, "packet_split": split}  # fmt: skip

    def native_image_listing(self) -> list[tuple[int, int | None, NativeInsn]]:
        """The whole image: (address, the eBPF pc it belongs to or None for the intro, outro
        and subroutines, the instruction)."""
        owner: dict[int, int] = {}
        for pc, (start, end) in self._ranges.items():
            for addr in range(start, end):
                owner.setdefault(addr, pc)
        return [
            (addr, owner.get(addr), NativeInsn(addr, mc.encode_bytes(insn), insn.text()))
            for addr, insn in enumerate(self._code)
        ]

    def native_pc(self) -> int:
        """The microcode address the thread stands at."""
        sim, _ = self._machine()
        return sim.pc

    def fault_address(self) -> int | None:
        """The microcode address of the instruction that faulted (None before a fault)."""
        return self._fault_addr if self._final is not None and self._final.fault is not None else None

    def native_registers(self) -> list[tuple[str, int]]:
        """The device view: each eBPF register as the GPR pair holds it (raw device
        addresses), the stack base, the packet length, the flags word and the microcode pc."""
        sim, _ = self._machine()
        out = [(f"r{n} (gpr{2 * n}:{2 * n + 1})", sim.pair(n)) for n in range(10)]
        out += [("A22 stack", sim.a[22]), ("B22 plen", sim.b[22]), ("A0 flags", sim.a[0]), ("pc", sim.pc)]
        return out

    def interrupt(self) -> None:
        self._interrupt.set()

    # -- debugger access ----------------------------------------------------------------------
    def read_memory(self, addr: int, size: int) -> bytes:
        _, mem = self._machine()
        mem.sync_stack()
        data = bytearray(self.world.space.read(addr, size))
        self._patch_spills(addr, data)
        return bytes(data)

    def write_memory(self, addr: int, data: bytes) -> None:
        _, mem = self._machine()
        region = self.world.space.find(addr)
        if region is not None and region.kind == "stack":
            mem.write_stack(addr, data)
        else:
            self.world.space.write(addr, data)

    def set_register(self, reg: int, value: int) -> None:
        if not 0 <= reg <= 10:
            raise BackendError(f"no register r{reg}")
        sim, _ = self._machine()
        if reg == 10:
            raise BackendError("r10 is not a register on the NFP (it is computed from the stack base A22)")
        sim.set_pair(reg, self._to_device(reg, value & M64))
        if self._exit_regs is not None:
            regs = list(self._exit_regs)
            regs[reg] = value & M64
            self._exit_regs = tuple(regs)

    def pointer_kind(self, value: int) -> str | None:
        space = self.world.space
        region = space.find(value)
        if region is not None:
            return region.describe(value)
        for region in space:
            if value == region.end and value != region.base:
                if region.kind == "pkt":
                    return "pkt_end"
                if region.anchor_end:
                    return region.describe(value)
        return None

    def position(self) -> tuple[int, int, int, str]:
        return self.pc, self.insns, len(self._calls), self._require().name

    def registers(self) -> tuple[int, ...]:
        if self._exit_regs is not None:
            return self._exit_regs
        return tuple(self._reg(n) for n in range(11))

    def _reg(self, n: int) -> int:
        """eBPF register ``n`` now, as the interpreter would hold it."""
        if n == 10:
            return frame_pointer(len(self._calls))
        sim = self._sim
        assert sim is not None
        raw = sim.a[2 * n] | sim.a[2 * n + 1] << 32
        plan = self._plans.get(self.pc)
        ptr = plan.kinds[n] if plan is not None and n < len(plan.kinds) else None
        return raw if ptr is None else self._to_interp(ptr, raw)

    def undefined_registers(self) -> frozenset[int]:
        """Registers the program may not read at this pc (uninitialised on some path that
        reaches it, e.g. r1-r5 after a helper call: the firmware does not keep them), which
        lockstep does not compare."""
        plan = self._plans.get(self.pc)
        return plan.undefined if plan is not None else frozenset()

    def register_masks(self) -> tuple[int, ...]:
        """The bits of r0-r10 the program can still observe from this pc: the device leaves
        the upper half of a 32-bit result as it was unless a later instruction reads it
        (the kernel's zext marks, reference §5.22), so where no instruction from here on
        reads a register's upper 32 bits they are not compared with the host's."""
        upper_half_observed = getattr(self._facts, "upper_half_observed", None)
        if upper_half_observed is None:
            return (_ALL,) * 11
        pc = self.pc
        return tuple(_ALL if upper_half_observed(pc, r) else _LOW for r in range(11))

    def run_status(self) -> str:
        return self._status

    def tail_chain(self) -> tuple[tuple[str, int], ...]:
        return ()

    def map_set(self) -> MapSet:
        """The maps as the host sees them: each operation is a control message to the device
        (with the driver's read cache when the firmware has CMSG_MULTI_ENT)."""
        return HostMaps(self.maps, self.channel)

    def device_maps(self) -> MapSet:
        """The device tables as the datapath sees them (no control messages)."""
        return self.maps

    def ctx_handler(self) -> object | None:
        return self.world.setup.ctx

    @property
    def output(self) -> list[str]:
        return self.world.output

    # -- checkpoints ------------------------------------------------------------------------------
    def checkpoint(self) -> _Checkpoint:
        sim, mem = self._machine()
        w = self.world
        packet, ctx = w.setup.packet, w.setup.ctx
        world = copy.deepcopy((self.maps, w.mapmem.mapped(), mem.emem.elements()))
        return _Checkpoint(
            sim.save(),
            bytes(mem.lm.data),
            tuple(mem.frames),
            tuple(self._calls),
            tuple(self._spills.items()),
            self.pc,
            self.insns,
            self._final,
            self._status,
            self._exit_regs,
            self._fault_addr,
            tuple((r.name, bytes(r.data)) for r in w.space if r.kind in ("stack", "mem")),
            packet.save() if packet is not None else None,
            dict(ctx.values) if ctx is not None else None,
            world,  # type: ignore[arg-type]
            self.channel.save(),
            (self.clock.cycles, self.clock.message_ns),
            w.rng.getstate(),
            len(w.output),
        )

    def restore(self, cp: _Checkpoint) -> None:
        sim, mem = self._machine()
        w = self.world
        space = w.space
        for region in list(space):
            if region.kind in ("stack", "map", "map_value"):
                space.remove(region.name)
        for name, data in cp.regions:
            if name.startswith("stack["):
                region = space.add(stack_frame_region(int(name[len("stack[") : -1])))
            else:
                region = space.get(name) or space.add(Region(name, "mem", CTX_BASE, bytearray(data)))
            region.data[:] = data
        if cp.packet is not None and w.setup.packet is not None:
            w.setup.packet.load(cp.packet)
        if cp.ctx is not None and w.setup.ctx is not None:
            w.setup.ctx.values.clear()
            w.setup.ctx.values.update(cp.ctx)
        maps, mapped, elements = copy.deepcopy(cp.world)
        self.maps = maps
        w.mapmem = MapMemory(space, maps.maps)
        for index, element in mapped:
            w.mapmem.value_ptr(index, element)  # type: ignore[arg-type]
        emem = Emem(w.mapmem, self._tids, self._atomic)
        emem.restore(elements)  # type: ignore[arg-type]
        mem.emem = emem  # the packet's CTM view follows the PacketBuffer (and the mem region) in place
        mem.lm.data[:] = cp.lm
        mem.frames = list(cp.frames)
        mem.mark_dirty()
        sim.load(cp.sim)  # type: ignore[arg-type]
        self.channel.load(cp.channel, maps)  # type: ignore[arg-type]
        sim.firmware = DeviceFirmware(maps, self._tids, self.channel, w.cpu)
        self.clock.cycles, self.clock.message_ns = cp.clock
        w.rng.setstate(cp.rng)  # type: ignore[arg-type]
        del w.output[cp.noutput :]
        self._calls = list(cp.calls)
        self._spills = dict(cp.spills)
        self.pc, self.insns = cp.pc, cp.insns
        self._final, self._status, self._exit_regs, self._fault_addr = (
            cp.final,
            cp.status,
            cp.exit_regs,
            cp.fault_addr,
        )

    # -- executing one eBPF instruction ----------------------------------------------------------
    def _execute(self) -> StopEvent | None:
        """Run the instruction at ``pc``; a StopEvent when the run ended (exit, fault)."""
        prog = self._require()
        sim, mem = self._machine()
        pc = self.pc
        insn = prog.insns[pc] if 0 <= pc < prog.nslots else None
        if insn is None or insn.info is None:
            return self._fault(
                FaultError("bad-pc", f"pc {pc} is not the start of an instruction"), count=False
            )
        rng = self._ranges.get(pc)
        form = insn.info.form
        try:
            self._check_access(insn, pc)
            if (
                form is Form.CALL
                and insn.info.variant == CallKind.LOCAL
                and len(self._calls) + 1 >= MAX_CALL_FRAMES
            ):
                raise FaultError(
                    "call",
                    f"call depth limit reached: {MAX_CALL_FRAMES} frames are in use "
                    "(the kernel allows at most 8 nested frames)",
                )
            exit_regs = self.registers() if form is Form.EXIT and not self._calls else None
            if rng is None or rng[0] == rng[1]:  # no microcode: dropped by the JIT (r6 = r1, ja +0, ...)
                nxt = self._successor(insn, pc)
                self.insns += 1
                self.pc = nxt
                return None
            sim.pc = rng[0]
            start = sim.executed
            addr = sim.run_to(self._starts)
            self.clock.cycles += sim.executed - start
        except MemoryFaultError as exc:
            return self._fault(exc)
        except FaultError as exc:
            return self._fault(exc)
        except HazardError as exc:
            return self._fault(FaultError("device-hazard", exc.message))
        except DeviceFault as exc:
            return self._fault(FaultError("device", f"{exc.message} [microcode {sim.pc}]"))
        self.insns += 1
        if (
            addr == END
            and form not in (Form.EXIT, Form.LD_ABS, Form.LD_IND)
            and pc + insn.slots >= prog.nslots
        ):
            self.insns -= 1  # the microcode ran into the outro: the program has no exit here
            return self._fault(
                FaultError(
                    "end-of-program",
                    f"execution ran past the last instruction (insn {pc}); every path must end in exit",
                ),
                count=False,
            )
        if addr == END:
            self._sync_packet()
            self._exit_regs = exit_regs if exit_regs is not None else self.registers()
            return self._finish(StopEvent(StopReason.EXIT, pc, self.insns, retval=self._verdict()))
        if form is Form.CALL and insn.info.variant == CallKind.LOCAL:
            target = pc + 1 + insn.imm
            self._calls.append(pc)
            depth = len(self._calls)
            entry = self._entry_of.get(target, target)
            mem.push_frame(LmFrame(sim.a[22], self._frame_depth.get(entry, 0), self._visible.get(entry, 0)))
            self.world.space.add(stack_frame_region(depth))
            self.pc = self._arrive(addr, frozenset({target}))
            return None
        if form is Form.EXIT:
            call_pc = self._calls.pop()
            gone = stack_frame_region(len(self._calls) + 1)
            self._spills = {k: v for k, v in self._spills.items() if not gone.base <= k < gone.end}
            self.world.space.remove(gone.name)
            mem.pop_frame()
            self.pc = self._arrive(addr, frozenset({call_pc + 1}))
            return None
        if form is Form.CALL:
            self._sync_packet()
        self.pc = self._arrive(addr, self._succ[pc], insn, pc)
        return None

    def _successor(self, insn: Insn, pc: int) -> int:
        """Where an instruction with no microcode leads."""
        target = insn.jump_target(pc)
        if insn.info is not None and insn.info.form in (Form.JA, Form.JA32) and target is not None:
            return target
        return pc + insn.slots

    def _arrive(self, addr: int, successors: frozenset[int], insn: Insn | None = None, pc: int = 0) -> int:
        """Which eBPF instruction starts at ``addr`` after one that may go to ``successors``
        (several start there when the JIT emitted nothing for some)."""
        candidates = self._starts[addr]
        if len(candidates) == 1:
            return candidates[0]
        found = [c for c in candidates if c in successors]
        if len(found) > 1 and insn is not None:
            target = insn.jump_target(pc)
            return target if target is not None and taken(insn, self.registers()) else pc + insn.slots
        return found[0] if found else candidates[0]

    def _verdict(self) -> int:
        """The device's verdict as the program type's return code (reference §1.9); for the
        raw convention the program's r0."""
        prog = self._require()
        sim, _ = self._machine()
        regs = self._exit_regs or self.registers()
        if prog.prog_type not in ("xdp", "tc"):
            return regs[0]
        action = (sim.a[0] >> 16) & 0xFF
        if prog.prog_type == "xdp":
            return XDP_VERDICTS.get(action, 0)
        if action == 0x02:
            return regs[0] & M32
        return TC_VERDICTS.get(action, 0)

    def _sync_packet(self) -> None:
        """After bpf_xdp_adjust_head/tail (inline microcode): the interpreter view of the
        packet follows the packet vector's pointer and length."""
        packet = self.world.setup.packet
        if packet is None:
            return
        _, mem = self._machine()
        pptr = mem.lm_read(LM_PV_BASE + PV_CTM)
        plen = mem.lm_read(LM_PV_BASE + PV_LEN) & PLEN_MASK
        data = mem.ctm.to_interp(pptr) - packet.base
        if (data, data + plen) != (packet.data, packet.end) and 0 <= data <= data + plen <= len(packet.buf):
            # the device has no metadata area (reference §5.10): data_meta stays data
            packet.move(data=data, end=data + plen, meta=data)

    def _check_access(self, insn: Insn, pc: int) -> None:
        """The interpreter's bounds check for the eBPF access about to run (its fault message
        word for word), on the interpreter-view address of the base register."""
        access = self._access.get(pc)
        if access is None:
            return
        base, size, verb = access
        addr = self._reg(base) + insn.off
        region = self.world.space.region_for(addr & M64, size, verb)
        if region.kind == "stack" and verb == "write":
            self._record_spill(insn, pc)
        if verb == "write" and not region.writable:
            raise MemoryFaultError(f"write of {size} bytes at {region.describe(addr)}: "
                                   f"{region.what or region.kind} is read-only", addr, size)  # fmt: skip

    # -- device <-> interpreter ---------------------------------------------------------------------
    def _to_interp(self, ptr: Ptr, raw: int) -> int:
        """A device value of pointer kind ``ptr`` as the interpreter's address."""
        kind = ptr.kind
        if kind in ("mixed", "maybe"):
            return self._by_value(raw, stack=kind == "mixed")
        if kind not in POINTER_KINDS:
            return raw
        _, mem = self._machine()
        lo = raw & M32
        if kind in ("packet", "packet_end", "packet_meta"):
            return mem.ctm.to_interp(lo) if mem.ctm.contains(lo) else raw  # not in CTM: NULL, say
        if kind == "ctx":
            if self._require().prog_type == "raw":
                return mem.ctm.to_interp(lo) if mem.ctm.contains(lo) else raw
            return CTX_BASE + (ptr.off or 0)  # never materialised: the JIT translates ctx fields
        if kind == "stack":
            depth = len(self._calls) - ptr.frame_up
            if 0 <= depth < len(mem.frames):
                return frame_pointer(depth) - (mem.frames[depth].r10 - lo)
            return raw
        if kind in ("map_value", "map_value_or_null"):
            found = mem.emem.to_interp(raw) if raw else 0
            return found if found is not None else raw
        index = ptr.map_index  # map_ptr: a table id (or a perf event array's host map id)
        if index is None:
            index = {tid: i for i, tid in self._tids.items()}.get(lo)
        return MapMemory.map_ptr(index) if index is not None else raw

    def _by_value(self, raw: int, stack: bool) -> int:
        """Where the paths disagree on a register's kind: a CTM packet address or a 40-bit
        EMEM value address is unmistakable; an LM stack address only among pointers."""
        _, mem = self._machine()
        lo = raw & M32
        if raw == lo and mem.ctm.contains(lo):
            return mem.ctm.to_interp(lo)
        if mem.emem.contains(raw):
            found = mem.emem.to_interp(raw)
            return found if found is not None else raw
        if stack and raw == lo:
            for depth in range(len(mem.frames) - 1, -1, -1):
                f = mem.frames[depth]
                if f.base <= lo <= f.r10:
                    return frame_pointer(depth) - (f.r10 - lo)
        return raw

    def _to_device(self, reg: int, value: int) -> int:
        """An interpreter-view value for register ``reg`` as the device would hold it."""
        _, mem = self._machine()
        space = self.world.space
        region = space.find(value)
        if region is None:
            for candidate in space:
                if candidate.kind == "pkt" and value == candidate.end:
                    region = candidate
            if region is None:
                return value
        if region.kind in ("pkt", "mem", "pkt_meta"):
            return mem.ctm.from_interp(value)
        if region.kind == "stack":
            depth = int(region.name[len("stack[") : -1])
            if depth < len(mem.frames):
                return mem.frames[depth].r10 - (frame_pointer(depth) - value)
        if region.kind == "map_value":
            found = mem.emem.from_interp(value)
            return found if found is not None else value
        if region.kind == "map":
            found_map = self.world.mapmem.map_at(value)
            if found_map is not None:
                return self._tids.get(found_map[0], found_map[1].map_id)
        return value

    def _interp_view(self, journal: list[MemWrite]) -> list[MemWrite]:
        """The step's writes, word writes to consecutive LM addresses joined into one (an
        8-byte store is two LM words), spilled pointers shown as interpreter addresses."""
        joined: list[MemWrite] = []
        for w in journal:
            last = joined[-1] if joined else None
            if last is not None and w.addr == last.addr + len(last.new) and last.where.startswith("fp"):
                joined[-1] = MemWrite(last.addr, last.old + w.old, last.new + w.new, last.where)
            else:
                joined.append(w)
        out = []
        for w in joined:
            data = bytearray(w.new)
            self._patch_spills(w.addr, data)
            out.append(MemWrite(w.addr, w.old, bytes(data), w.where) if data != w.new else w)
        return out

    def _patch_spills(self, addr: int, data: bytearray) -> None:
        """Show pointers spilled to the stack inside [addr, addr+len) as interpreter values:
        each 8-byte spill of a register whose device value differs from its interpreter
        value was recorded when it ran, and is shown so while the LM bytes are unchanged."""
        if not self._spills:
            return
        _, mem = self._machine()
        end = addr + len(data)
        for slot, (raw, value) in self._spills.items():
            if slot + 8 <= addr or slot >= end:
                continue
            lm = mem.interp_to_lm(slot)
            if lm is None or mem.lm_bytes(lm, 8) != raw:
                continue
            for i in range(8):
                if addr <= slot + i < end:
                    data[slot + i - addr] = value[i]

    def _record_spill(self, insn: Insn, pc: int) -> None:
        """Before a store to the stack: remember an 8-byte spill of a register shown
        translated (and forget spills it overwrites)."""
        info = insn.info
        assert info is not None
        addr = self._reg(insn.dst) + insn.off
        for slot in [s for s in self._spills if s < addr + info.size and addr < s + 8]:
            del self._spills[slot]
        if info.form is not Form.STX or info.size != 8:
            return
        sim, _ = self._machine()
        raw, value = sim.pair(insn.src), self._reg(insn.src)
        if raw != value:
            self._spills[addr] = (raw.to_bytes(8, "little"), (value & M64).to_bytes(8, "little"))

    def _snapshot(self) -> dict[str, RegionSnapshot]:
        _, mem = self._machine()
        mem.sync_stack()
        snap = self.world.space.snapshot()
        for name, region in list(snap.items()):
            if region.kind == "stack":
                data = bytearray(region.data)
                self._patch_spills(region.base, data)
                snap[name] = RegionSnapshot(region.name, region.kind, region.base, bytes(data))
        return snap

    # -- bookkeeping ------------------------------------------------------------------------------
    def _frame_entry(self, depth: int) -> int:
        if depth == 0:
            return 0
        prog = self._require()
        call = prog.insns[self._calls[depth - 1]]
        assert call is not None
        return self._calls[depth - 1] + 1 + call.imm

    def _fault(self, exc: BaseException, count: bool = True) -> StopEvent:
        sim, _ = self._machine()
        self._fault_addr = sim.pc
        if isinstance(exc, MemoryFaultError):
            fault = Fault(self.pc, "memory", exc.message, exc.addr & M64, exc.size)
        elif isinstance(exc, FaultError):
            fault = Fault(self.pc, exc.kind, exc.message)
        else:
            fault = Fault(self.pc, "internal", f"{type(exc).__name__}: {exc}")
        self._exit_regs = self.registers()
        return self._finish(StopEvent(StopReason.FAULT, self.pc, self.insns, fault=fault))

    def _finish(self, event: StopEvent) -> StopEvent:
        self._final = event
        self._status = {StopReason.EXIT: "exited", StopReason.FAULT: "faulted"}.get(event.reason, "stopped")
        return event

    def _require(self) -> Program:
        if self._prog is None:
            raise BackendError("nic: no program loaded")
        return self._prog

    def _machine(self) -> tuple[Sim, Memories]:
        if self._sim is None or self._mem is None:
            raise BackendError("nic: no program loaded")
        return self._sim, self._mem


# -- helpers ------------------------------------------------------------------------------------------
def _per_pc(
    prog: Program, facts: object
) -> tuple[dict[int, tuple[int, int, str]], dict[int, frozenset[int]]]:
    """Per instruction: the memory access the interpreter would check (base register, size,
    read or write; not ctx fields of XDP/TC, which the JIT turns into register moves), and
    the instructions it may go to."""
    access: dict[int, tuple[int, int, str]] = {}
    succ: dict[int, frozenset[int]] = {}
    for pc, insn in enumerate(prog.insns):
        if insn is None or insn.info is None:
            continue
        target = insn.jump_target(pc)
        succ[pc] = frozenset({pc + insn.slots} | ({target} if target is not None else set()))
        form = insn.info.form
        if form is Form.LDX:
            base, verb = insn.src, "read"
        elif form in (Form.STX, Form.ST, Form.ATOMIC):
            base, verb = insn.dst, "write"
        else:
            continue
        info = facts.at(pc) if facts is not None else None  # type: ignore[attr-defined]
        kind = info.ptr.kind if info is not None and info.ptr is not None else None
        if kind == "ctx" and prog.prog_type in ("xdp", "tc"):
            continue
        access[pc] = (base, insn.info.size, verb)
    return access, succ


def _ptr_of(reg: RegState, depth: int) -> Ptr:
    frame_up = depth - reg.frame if reg.kind == "stack" else 0
    return Ptr(reg.kind, None if reg.has_var_part else reg.off, frame_up, reg.map_index)


def _register_plans(analysis: Analysis) -> dict[int, _RegPlan]:
    """Per visited pc, the register plan (see _RegPlan) from every visit of the analysis.

    A register no later instruction reads (dead) is told apart by value: the analysis prunes
    paths whose state differs from an explored one only in dead registers, so its visits
    need not show what such a register holds on the path being run."""
    plans: dict[int, _RegPlan] = {}
    live = live_in(analysis.program.insns)
    for pc, visits in analysis.visits_by_pc.items():
        if not visits:
            continue
        kinds: list[Ptr | None] = []
        undefined = set()
        for r in range(11):
            regs = [(v.regs[r], v.depth) for v in visits]
            init = [(reg, depth) for reg, depth in regs if reg.kind != "uninit"]
            if len(init) < len(regs):
                undefined.add(r)
            if not init or all(reg.kind == "scalar" for reg, _ in init):
                kinds.append(None if live[pc] >> r & 1 else MAYBE_POINTER)
                continue
            if any(reg.kind == "scalar" for reg, _ in init):
                # a scalar on some path: told apart by value where the device's windows are
                # unmistakable (CTM packet addresses, 40-bit EMEM addresses)
                kinds.append(MAYBE_POINTER)
                continue
            ptrs = {_ptr_of(reg, depth) for reg, depth in init}
            first = next(iter(ptrs))
            if all(p.kind == first.kind and p.frame_up == first.frame_up for p in ptrs):
                maps = {p.map_index for p in ptrs}
                kinds.append(
                    Ptr(first.kind, None, first.frame_up, first.map_index if len(maps) == 1 else None)
                )
            else:
                kinds.append(MIXED_POINTER)
        plans[pc] = _RegPlan(tuple(kinds), frozenset(undefined))
    return plans


def _unresolved_pseudo_values(prog: Program, env: Environment) -> list[Diagnostic]:
    """The interpreter's load-time check of lddw pseudo sources (a map the object lacks)."""
    out = []
    for pc, insn in enumerate(prog.insns):
        if insn is None or insn.info is None or insn.info.form is not Form.LDDW:
            continue
        if insn.info.variant == PseudoSrc.IMM64:
            continue
        try:
            pseudo_value(insn, pc, env)
        except PseudoValueError as err:
            out.append(err.diag)
    return out


def _round4(n: int) -> int:
    return (n + 3) & ~3


def _atomic_words(prog: Program, facts: object) -> dict[int, frozenset[int]]:
    """Per map index, the offsets of the 32-bit value words programs add to atomically
    (the words the device keeps big-endian)."""
    out: dict[int, set[int]] = {}
    for pc, insn in enumerate(prog.insns):
        if insn is None or insn.info is None or insn.info.form is not Form.ATOMIC:
            continue
        info = facts.at(pc) if facts is not None else None  # type: ignore[attr-defined]
        ptr = info.ptr if info is not None else None
        if ptr is None or ptr.map_index is None or ptr.off is None:
            continue
        start = ptr.off + insn.off
        for word in range(start & ~3, start + insn.info.size, 4):
            out.setdefault(ptr.map_index, set()).add(word)
    return {index: frozenset(words) for index, words in out.items()}


def _diag(m: object) -> Diagnostic:
    """An offload message as a load diagnostic: the driver's line, its stage and errno, the hint."""
    text, hint, stage = m.text, m.hint, m.stage  # type: ignore[attr-defined]
    errno = f", {m.errno}" if m.errno else ""  # type: ignore[attr-defined]
    severity = Severity.ERROR if m.severity == "error" else Severity.WARNING  # type: ignore[attr-defined]
    message = f"{text} [{stage}{errno}]" + (f"; {hint}" if hint else "")
    return Diagnostic(m.pc if m.pc is not None else 0, m.rule or stage, message, severity=severity)  # type: ignore[attr-defined]


def _translate_diag(err: TranslateError) -> Diagnostic:
    """The JIT's refusal: the driver's dmesg line, and what in the program caused it."""
    why = err.message if err.message != err.dmesg else ""
    detail = "; ".join(x for x in (why, err.detail) if x)
    line = f"NFP net bpf: {err.dmesg} [translate]" + (f"; {detail}" if detail else "")
    return Diagnostic(err.pc if err.pc is not None else 0, "translate", line)
