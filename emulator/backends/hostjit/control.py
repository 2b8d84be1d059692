"""Helpers that move control (bpf_tail_call, bpf_loop, bpf_for_each_map_elem), callx,
legacy packet loads and plain helper calls: what runs at the trampolines.

Each moves the native machine the way the kernel's code would (rip into the target image,
rsp onto the callee's frame) and keeps the interpreter's semantics register for register,
so that stepping both gives the same r0-r10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from emulator.backends.hostjit import layout
from emulator.backends.hostjit.cpu import BPF_UC, RAX, RIP, RSP, Cpu
from emulator.backends.hostjit.emitter import JitError
from emulator.execution import CallbackLoop, FaultError, ProgramExit
from emulator.execution import helper_caller as shared_helper_caller
from emulator.helpers.registry import HelperFaultError
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.maps import MapError, MapType
from emulator.memory import CODE_BASE, Region, frame_pointer
from emulator.program import Program
from emulator.state import StopEvent, StopReason

if TYPE_CHECKING:
    from emulator.backends.hostjit.backend import HostJitBackend

MAX_TAIL_CALLS = 33  # MAX_TAIL_CALL_CNT: the 34th tail call of a run falls through
EINVAL = 22
E2BIG = 7
FOR_EACH_KEY_BASE = 0x6_0000_0000  # where the interp puts for_each_map_elem's key (same pointers)
M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF


def control(m: HostJitBackend, hid: int, uc: Cpu) -> None:
    spec = m._helpers.get(hid)
    if spec is None:
        raise HelperFaultError(
            f"call to helper #{hid}, which bpfdbg does not implement for {m._helpers.name} programs"
        )
    regs = m._bpf_regs()
    if hid == 12:
        tail_call(m, regs, uc)
    elif hid == 181:
        bpf_loop(m, regs, uc)
    else:
        for_each_map_elem(m, regs, uc)


def tail_call(m: HostJitBackend, regs: tuple[int, ...], uc: Cpu) -> None:
    """bpf_tail_call: fall through with registers unchanged, or drop this program's
    frame (rsp back to rbp) and enter the target past its ``push rbp; mov rbp, rsp``."""
    pc = m.pc
    found = m.world.mapmem.map_at(regs[2])
    if found is None or found[1].type is not MapType.PROG_ARRAY:
        raise HelperFaultError(f"bpf_tail_call: r2 ({m.space.describe(regs[2])}) is not a prog_array map")
    ref = found[1].program(regs[3] & M32)  # type: ignore[attr-defined]
    if ref is None or m._tail_calls >= MAX_TAIL_CALLS:
        return
    if m._frames:
        raise HelperFaultError(
            "bpf_tail_call from a bpf-to-bpf subprogram "
            f"(call depth {len(m._frames)}) "
            "is not supported by bpfdbg"
        )
    target = program_named(m, ref)
    try:
        entry = m._jit_for(target).functions[0]
    except JitError as err:
        raise FaultError("jit", f"bpf_tail_call: cannot JIT {target.name}: {err.message}") from None
    m._tail_calls += 1
    m._tail_chain.append((m._cur.name, pc))
    m._cur = target
    m._entries[-1] = 0
    uc.reg_write(RSP, frame_pointer(0))  # the main frame: tail calls happen at depth 0
    uc.reg_write(RIP, entry.base + entry.tail_entry)
    m._arriving = 0


def program_named(m: HostJitBackend, ref: object) -> Program:
    for prog in m._env.programs:
        if ref in (prog.name, prog.section):
            return prog
    raise HelperFaultError(
        f"bpf_tail_call: the prog_array slot names program {ref!r}, which this object does not have"
    )


def callback_target(m: HostJitBackend, addr: int, helper: str) -> int:
    prog = m._cur
    off = addr - CODE_BASE
    if 0 <= off < prog.nslots * 8 and off % 8 == 0 and prog.insns[off // 8] is not None:
        pc = off // 8
        fn = m._jit_for(prog).function_of(pc)
        if fn is not None and fn.entry == pc:
            return pc
    raise HelperFaultError(
        f"{helper}: callback {addr:#x} is not the address of a function of this "
        "program "
        "(pass a static function)"
    )


def bpf_loop(m: HostJitBackend, regs: tuple[int, ...], uc: Cpu) -> None:
    r0, r1, r2, r3, r4, r5 = regs[:6]
    nr_loops = r1 & M32
    if r4:
        set_regs(uc, (-EINVAL & M64, nr_loops, r2, r3, r4, r5))
        return
    if nr_loops > 1 << 23:
        set_regs(uc, (-E2BIG & M64, nr_loops, r2, r3, r4, r5))
        return
    target = callback_target(m, r2, "bpf_loop")
    if nr_loops == 0:
        set_regs(uc, (0, nr_loops, r2, r3, r4, r5))
        return
    enter_callback(m, uc, regs, target, nr_loops, lambda i: (i, r3, 0, 0, 0))


def for_each_map_elem(m: HostJitBackend, regs: tuple[int, ...], uc: Cpu) -> None:
    r0, r1, r2, r3, r4, r5 = regs[:6]
    found = m.world.mapmem.map_at(r1)
    if found is None:
        raise HelperFaultError(f"bpf_for_each_map_elem: r1 ({m.space.describe(r1)}) is not a map pointer")
    if r4:
        uc.reg_write(RAX, -EINVAL & M64)
        return
    index, bpf_map = found
    try:
        elements = bpf_map.elements(m.world.cpu)
    except MapError as err:
        raise HelperFaultError(f"bpf_for_each_map_elem: {err}") from None
    target = callback_target(m, r2, "bpf_for_each_map_elem")
    if not elements:
        uc.reg_write(RAX, 0)
        return
    keys = Region(
        "for_each_key",
        "map_key",
        FOR_EACH_KEY_BASE,
        bytearray(max(bpf_map.key_size, 1)),
        writable=False,
        label=f"map_key({bpf_map.name})",
        what="map key",
    )
    if m.space.get("for_each_key") is not None:
        m.space.remove("for_each_key")
    m.space.add(keys)
    mapmem = m.world.mapmem

    def args(i: int) -> tuple[int, int, int, int, int]:
        elem = elements[i]
        keys.data[: len(elem.key)] = elem.key
        return (r1, keys.base, mapmem.value_ptr(index, elem), r3, 0)

    enter_callback(m, uc, regs, target, len(elements), args)


def enter_callback(
    m: HostJitBackend,
    uc: Cpu,
    regs: tuple[int, ...],
    target: int,
    count: int,
    args: Callable[[int], tuple[int, int, int, int, int]],
) -> None:
    """From a helper's trampoline into the callback's image, as a call at depth + 1 whose
    return address is the helper's own return."""
    rsp = uc.reg_read(RSP)
    ret = m._mem.get_u64(rsp)
    fp = m._push_frame(m.pc, target, rsp + 8, ret, tuple(regs[6:11]))
    m._callbacks.append(CallbackLoop(len(m._frames), target, m.pc, 0, count, args))
    set_regs(uc, (0, *args(0)))
    m._mem.put_u64(fp + 8, layout.CALLBACK_RET)
    uc.reg_write(RSP, fp + 8)
    uc.reg_write(RIP, m._program_jit_fn(m._cur, target).base)
    m._arriving = target


def callback_exit(m: HostJitBackend) -> bool:
    """The callback's exit: call it again for the next element, or return from the helper
    (r0 = number of calls) to the instruction after its call."""
    uc = m._machine()
    cb = m._callbacks[-1]
    cb.index += 1
    r0 = uc.reg_read(RAX)
    if r0 == 0 and cb.index < cb.count:
        set_regs(uc, (r0, *cb.args(cb.index)))
        fp = frame_pointer(len(m._frames))
        m._mem.put_u64(fp + 8, layout.CALLBACK_RET)
        uc.reg_write(RSP, fp + 8)
        uc.reg_write(RIP, m._program_jit_fn(m._cur, cb.entry).base)
        m._arriving = cb.entry
        next_pc = cb.entry
    else:
        m._callbacks.pop()
        frame = m._frames.pop()
        m.space.remove(f"stack[{len(m._frames) + 1}]")
        m._entries.pop()
        uc.reg_write(RAX, cb.index)
        for reg, value in zip((6, 7, 8, 9, 10), frame.saved, strict=True):
            uc.reg_write(BPF_UC[reg], value)
        uc.reg_write(RSP, frame.rsp)
        uc.reg_write(RIP, frame.ret)
        next_pc = frame.call_pc + 1
        m._arriving = next_pc
    if m._mode == "run" and len(m._frames) <= m._max_depth:
        m._arriving = None
        m._halt(next_pc, StopEvent(StopReason.DEPTH, next_pc, m.insns))
        rip_after_stop(m, uc)
    return False


def rip_after_stop(m: HostJitBackend, uc: Cpu) -> None:
    """emu_stop right after moving rip: make sure the next run starts there."""
    m._rip = uc.reg_read(RIP)


def set_regs(uc: Cpu, values: tuple[int, ...]) -> None:
    for reg, value in enumerate(values):
        uc.reg_write(BPF_UC[reg], value & M64)


def callx(m: HostJitBackend, insn: Insn, uc: Cpu) -> None:
    value = uc.reg_read(BPF_UC[insn.dst])
    if value in m._helpers:
        regs = m._args()
        uc.reg_write(RAX, helper_caller(m, value)(*regs))
        return
    off = value - CODE_BASE
    prog = m._cur
    if not (0 <= off < prog.nslots * 8 and off % 8 == 0 and prog.insns[off // 8] is not None):
        raise FaultError(
            "callx", f"callx target {value:#x} is neither a helper id nor the address of an instruction"
        )
    target = off // 8
    fn = m._jit_for(prog).function_of(target)
    if fn is None or fn.entry != target:
        raise FaultError(
            "callx",
            f"callx target insn {target} is not the start of a function; host-jit can only call functions",
        )
    rsp = uc.reg_read(RSP)
    ret = m._mem.get_u64(rsp)
    fp = m._push_frame(m.pc, target, rsp + 8, ret)
    m._mem.put_u64(fp + 8, ret)
    uc.reg_write(RSP, fp + 8)
    uc.reg_write(RIP, fn.base)
    m._arriving = target


def legacy(m: HostJitBackend, insn: Insn, uc: Cpu) -> None:
    """LD_ABS / LD_IND: network-order packet value in r0; out of bounds ends the program
    with 0 (the kernel's gen_ld_abs does the same)."""
    assert insn.info is not None
    size = insn.info.size
    if insn.info.form is Form.LD_ABS:
        offset, what = insn.imm & M32, "LD_ABS"
    else:
        offset, what = (uc.reg_read(BPF_UC[insn.src]) + insn.imm) & M32, "LD_IND"
    packet = m.world.setup.packet
    if packet is None or m._cur.prog_type not in ("socket", "tc"):
        raise FaultError(
            "legacy",
            f"legacy packet load ({what}) needs a socket buffer; {m._cur.prog_type} programs have none",
        )
    if offset >= 1 << 31:
        raise FaultError(
            "legacy",
            f"{what} with a negative offset ({offset - (1 << 32):#x}, the "
            "SKF_NET_OFF/SKF_LL_OFF areas) is not supported by bpfdbg",
        )
    value = packet.load_be(offset, size)
    if value is None:
        raise ProgramExit(0)
    uc.reg_write(RAX, value)


def helper_caller(m: HostJitBackend, hid: int) -> Callable[..., int]:
    return shared_helper_caller(m._helpers, hid, m._ctx)
