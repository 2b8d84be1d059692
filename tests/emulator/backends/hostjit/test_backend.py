"""host-jit as a debugger sees it: native listings, where native code stands after a step,
faults that name the x86 instruction, frames entered by native calls, checkpoints."""

from __future__ import annotations

from emulator.asm import assemble
from emulator.backends.base import Capabilities, create
from emulator.backends.hostjit.backend import HostJitBackend
from emulator.backends.hostjit.listing import format_listing, image_listing
from emulator.env import Environment, RunInput
from emulator.maps import MapSpec, MapType
from emulator.memory import frame_pointer
from emulator.program import Program
from emulator.state import StopCondition, StopReason


def make(text: str, mem: bytes = b"") -> HostJitBackend:
    machine = create("host-jit")
    assert isinstance(machine, HostJitBackend)
    assert machine.load(Program.from_insns(assemble(text)), Environment()).ok
    machine.reset(RunInput(mem=mem))
    return machine


def test_capabilities() -> None:
    assert create("host-jit").capabilities == Capabilities(
        can_step=True, has_native_view=True, checkpointable=True
    )


def test_native_view_in_intel_and_att_syntax() -> None:
    m = make("mov %r0, 5\nldxw %r2, [%r1+4]\nexit", bytes(8))
    (insn,) = m.native(0)
    assert (insn.text, insn.raw.hex()) == ("mov eax, 5", "b805000000")
    assert [i.text for i in m.native_listing(1, syntax="att")] == ["movl 4(%rdi), %esi"]
    assert m.native(0)[0].address == m.jit().range_of(0)[0]  # type: ignore[index]


def test_whole_image_listing_names_each_instruction() -> None:
    m = make("mov %r0, 1\nexit")
    lines = image_listing(m.jit())
    assert [line.pc for line in lines] == [None] * 5 + [0, 1, 1, None]
    assert m.native_image_listing("att")[5].insn.text == "movl $1, %eax"
    text = format_listing(lines)
    assert "; insn 0" in text and "mov eax, 1" in text and "; function 0: frame" in text


def test_native_pc_follows_the_steps_into_a_callee() -> None:
    m = make("mov %r6, 3\ncall local f\nexit\nf:\nmov %r0, %r10\nexit")
    m.step()
    assert m.native_pc() == m.jit().range_of(1)[0]  # type: ignore[index]
    event = m.step()  # the call: runs the callee's prologue, stops at its first instruction
    assert (event.pc, event.next_pc) == (1, 3)
    assert m.registers()[10] == frame_pointer(1)
    assert m.native_pc() == m.jit().range_of(3)[0]  # type: ignore[index]
    assert [f.depth for f in m.state().frames] == [0, 1]
    m.step()
    m.step()  # the callee's exit returns natively to the caller
    assert m.position()[:3] == (2, 4, 0)
    assert m.registers()[10] == frame_pointer(0) and m.registers()[0] == frame_pointer(1)


def test_a_fault_names_the_native_instruction() -> None:
    m = make("mov %r0, 0\nldxw %r0, [%r1+12]\nexit", bytes(8))
    assert m.fault_rip() is None
    event = m.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.fault is not None
    assert event.fault.pc == 1 and event.insns == 1
    assert m.fault_rip() == m.jit().range_of(1)[0]  # type: ignore[index]


def test_bpf_loop_callback_runs_in_its_own_frame() -> None:
    text = "mov %r1, 4\nlddw %r2, func[cb]\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\ncb:\nmov %r0, 0\nexit"
    prog = Program.from_insns(assemble(text), prog_type="xdp")
    runs = []
    for name in ("interp", "host-jit"):
        machine = create(name)
        assert machine.load(prog, Environment()).ok
        machine.reset(RunInput(packet=bytes(64)))
        trace = []
        while True:
            event = machine.step()
            trace.append((event.pc, event.next_pc, machine.registers()))
            if event.stop is not None:
                break
        runs.append((trace, event.stop))
    assert runs[0] == runs[1]
    assert runs[1][1] is not None and runs[1][1].retval == 4


def test_for_each_map_elem_visits_like_interp() -> None:
    """Each callback sees the key and value pointers the interp gives it; the sum of the
    values comes back, and every step agrees (frames, r0-r10, the stores into the values)."""
    text = (
        "lddw %r1, map[idx:0]\nlddw %r2, func[cb]\nmov %r3, %r10\nadd %r3, -8\nstdw [%r3+0], 0\n"
        "mov %r4, 0\ncall 164\nldxdw %r0, [%r10-8]\nexit\n"
        "cb:\nldxdw %r5, [%r4+0]\nldxw %r6, [%r3+0]\nadd %r5, %r6\nstxdw [%r4+0], %r5\nstw [%r3+0], 0\n"
        "mov %r0, 0\nexit"
    )
    spec = MapSpec(
        "values",
        MapType.ARRAY,
        4,
        4,
        3,
        initial=tuple((i.to_bytes(4, "little"), (10 * i + 1).to_bytes(4, "little")) for i in range(3)),
    )
    prog = Program.from_insns(assemble(text), prog_type="xdp")
    runs = []
    for name in ("interp", "host-jit"):
        machine = create(name)
        assert machine.load(prog, Environment(maps=(spec,))).ok
        machine.reset(RunInput(packet=bytes(64)))
        trace = []
        while True:
            event = machine.step()
            trace.append((event.pc, event.next_pc, event.mem, machine.registers(), machine.state().frames))
            if event.stop is not None:
                break
        runs.append((trace, event.stop, machine.state().maps))
    assert runs[0] == runs[1]
    assert runs[1][1] is not None and runs[1][1].retval == 1 + 11 + 21


def test_checkpoint_inside_a_callee_restores_native_state() -> None:
    m = make("mov %r6, 3\ncall local f\nadd %r0, %r6\nexit\nf:\nstdw [%r10-8], 9\nldxdw %r0, [%r10-8]\nexit")
    m.step()
    m.step()
    cp = m.checkpoint()
    first = m.run(StopCondition())
    m.restore(cp)
    assert m.position()[2] == 1 and m.native_pc() == m.jit().range_of(4)[0]  # type: ignore[index]
    again = m.run(StopCondition())
    assert first == again and again.retval == 12


def test_finish_from_a_callback_stops_after_the_helper_like_interp() -> None:
    text = (
        "mov %r1, 4\nlddw %r2, func[cb]\nmov %r3, 0\nmov %r4, 0\ncall 181\nadd %r0, 100\nexit\n"
        "cb:\nadd %r0, 1\nmov %r0, 0\nexit"
    )
    prog = Program.from_insns(assemble(text), prog_type="xdp")
    seen = []
    for name in ("interp", "host-jit"):
        machine = create(name)
        assert machine.load(prog, Environment()).ok
        machine.reset(RunInput(packet=bytes(64)))
        for _ in range(7):  # into the callback
            machine.step()
        inside = machine.position()
        finish = machine.run(StopCondition(depth_at_most=0))
        after = (machine.position(), machine.registers())
        seen.append((inside, finish, after, machine.run(StopCondition()), machine.registers()))
    assert seen[0] == seen[1]
    assert seen[1][0][2] == 1 and seen[1][1].reason is StopReason.DEPTH and seen[1][1].pc == 6
    assert seen[1][3].retval == 104


def test_a_jump_over_zero_byte_instructions_is_attributed_by_its_condition() -> None:
    """``ja +0`` has no native bytes, so the jump's target and fall-through start at the same
    x86 address; which eBPF instruction comes next follows from the jump's condition."""
    text = "mov %r0, 0\njeq %r1, {v}, +1\nja +0\nadd %r0, 1\nexit"
    for value in (0, 1):  # r1 is 0: taken, then not taken
        prog = Program.from_insns(assemble(text.format(v=value)))
        paths = []
        for name in ("interp", "host-jit"):
            machine = create(name)
            assert machine.load(prog, Environment()).ok
            machine.reset(RunInput())
            path = []
            while True:
                event = machine.step()
                path.append((event.pc, event.next_pc, event.insns, machine.registers()))
                if event.stop is not None:
                    break
            paths.append(path)
        assert paths[0] == paths[1]
        assert [p[0] for p in paths[1]] == ([0, 1, 3, 4] if value == 0 else [0, 1, 2, 3, 4])
