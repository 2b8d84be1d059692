"""Lockstep: interp and host-jit agree on every sample program and packet, and the
machinery stops at exactly the instruction where a backend is made to go wrong (a
corrupted register, a corrupted native instruction), in the engine, the session, the
console commands and ``bpfdbg run``."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from bpfdbg.capture import read_capture, read_map_entries
from bpfdbg.cli import main
from bpfdbg.lockstep import Lockstep
from bpfdbg.session import Session
from emulator.backends.base import _REGISTRY, register
from emulator.backends.interp.backend import InterpBackend
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StepEvent

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_progs"
MAPS = SAMPLES / "initial_maps.json"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.o"))


def _env_factory(obj, name):  # type: ignore[no-untyped-def]
    entries = read_map_entries(str(MAPS), f"{name}.o")
    return lambda: Environment.for_object(obj, map_entries=entries)


@pytest.mark.parametrize("name", NAMES)
def test_every_program_of_every_sample_agrees_on_every_packet(name: str) -> None:
    obj = load_object(str(SAMPLES / f"{name}.o"))
    packets = read_capture(str(SAMPLES / "pcaps" / f"{name}.pcap"))
    for prog in obj.programs:
        engine = Lockstep(prog, _env_factory(obj, name), ["interp", "host-jit"])
        executed = 0
        for i, packet in enumerate(packets):  # maps carry over, as on an interface
            engine.reset(RunInput(packet=packet.data))
            result = engine.run()
            assert result.agreed, f"{name}:{prog.name} packet {i + 1}: {result.divergence}"
            assert engine.finished
            executed += result.insns
        assert executed > 0


class CorruptRegister(InterpBackend):
    """The interpreter, made wrong on purpose: after its ``AT``-th instruction (counting
    from 1) register ``REG`` is off by one. Test-only: proves lockstep stops right there."""

    name = "corrupt-reg"
    AT = 40
    REG = 3

    def step(self) -> StepEvent:
        ev = super().step()
        if ev.insns == self.AT:
            self.set_register(self.REG, (self.registers()[self.REG] + 1) & (1 << 64) - 1)
        return ev


@pytest.fixture
def corrupt_backend():  # type: ignore[no-untyped-def]
    register("corrupt-reg", CorruptRegister)
    yield "corrupt-reg"
    _REGISTRY.pop("corrupt-reg", None)


def _lb() -> tuple[object, list[bytes]]:
    obj = load_object(str(SAMPLES / "xdp_lb.o"))
    packets = [p.data for p in read_capture(str(SAMPLES / "pcaps" / "xdp_lb.pcap"))]
    return obj, packets


@pytest.mark.parametrize("at", [1, 17, 40, 120])
def test_a_corrupted_register_stops_lockstep_at_exactly_that_instruction(
    at: int, corrupt_backend: str
) -> None:
    obj, packets = _lb()
    CorruptRegister.AT = at
    prog = obj.programs[0]  # type: ignore[attr-defined]
    engine = Lockstep(prog, _env_factory(obj, "xdp_lb"), ["interp", corrupt_backend])
    engine.reset(RunInput(packet=packets[0]))
    result = engine.run()
    div = result.divergence
    assert div is not None
    assert div.insns + 1 == at  # the at-th instruction is the first whose result differs
    assert "r3" in div.fields
    r3 = next(d for d in div.differences if d.what == "r3")
    assert int(r3.value_of(corrupt_backend), 16) == int(r3.value_of("interp"), 16) + 1


def test_a_corrupted_native_instruction_stops_lockstep_there() -> None:
    """NOP out the x86 code of one load in the host-JIT image: the divergence is at that
    eBPF instruction, names the register the load should have written, and shows the
    native code the JIT compiled for it (the load the NOPs replaced)."""
    obj, packets = _lb()
    prog = obj.programs[0]  # type: ignore[attr-defined]
    engine = Lockstep(prog, _env_factory(obj, "xdp_lb"), ["interp", "host-jit"])
    engine.reset(RunInput(packet=packets[0]))
    hj = engine.machines["host-jit"]
    target = 18  # r3 = *(u8 *)(r6 + 12): the EtherType's first byte, 0x08
    start, end = hj.jit().range_of(target)
    hj._uc.mem_write(start, b"\x90" * (end - start))
    result = engine.run()
    div = result.divergence
    assert div is not None and div.pc == target
    assert next(d for d in div.differences if d.what == "r3").value_of("interp") == "0x8"
    native = dict(div.native)["host-jit"]
    assert [n.text.split()[0] for n in native] == ["movzx"]


def test_session_lockstep_stops_after_the_divergent_instruction_once(corrupt_backend: str) -> None:
    CorruptRegister.AT = 30
    s = Session.open(SAMPLES / "xdp_lb.o", pcap=SAMPLES / "pcaps" / "xdp_lb.pcap", maps=MAPS)
    assert s.execute(f"lockstep on {corrupt_backend}").ok
    result = s.execute("run")
    assert s.status == "stopped" and s.last_stop is not None and s.last_stop.reason == "divergence"
    assert s.insns == 30  # stopped just after the 30th instruction, its results on screen
    assert "divergence after 30 instructions" in result.text and "r3:" in result.text
    # the divergence is reported once: going on is possible
    s.execute("stepi")
    assert s.insns == 31 and s.last_stop.reason != "divergence"
    s.execute("continue")
    assert s.status == "exited"
    # the panes' view: both backends at the session's position, the differing register named
    from bpfdbg.view import ViewBuilder

    s.execute("run")
    view = ViewBuilder(s).build()
    assert [b.name for b in view.backends] == ["interp", corrupt_backend]
    assert all(b.pc == s.pc for b in view.backends)
    assert "r3" in view.backends[1].differs
    # compare over the whole capture classifies the divergences
    compare = s.execute("compare all")
    assert compare.ok and compare.data["packets"][0]["agreed"] is False
    assert "diverge at insn" in compare.text


def test_reverse_and_rerun_keep_the_lockstep_engine_at_the_sessions_position() -> None:
    s = Session.open(SAMPLES / "xdp_lb.o", pcap=SAMPLES / "pcaps" / "xdp_lb.pcap", maps=MAPS)
    s.execute("lockstep on host-jit")
    s.execute("start")
    s.execute("stepi 25")
    s.execute("reverse-stepi 10")
    assert s.lockstep is not None
    s.lockstep.sync()
    assert s.lockstep.engine.insns == s.insns == 15
    for machine in s.lockstep.engine.machines.values():
        assert machine.registers() == s.regs
    s.execute("run")
    s.lockstep.sync()
    assert s.lockstep.engine.insns == s.insns


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_run_with_two_backends_reports_agreement_and_divergence(corrupt_backend: str) -> None:
    args = [
        "run",
        str(SAMPLES / "xdp_lb.o"),
        "--pcap",
        str(SAMPLES / "pcaps" / "xdp_lb.pcap"),
        "--maps",
        str(MAPS),
    ]
    code, out = _cli(*args, "--backend", "interp", "--backend", "host-jit")
    assert code == 0 and "interp and host-jit agree on all 252 instructions" in out
    CorruptRegister.AT = 7
    code, out = _cli(*args, "--backend", "interp", "--backend", corrupt_backend, "--json")
    data = json.loads(out)
    assert code == 1 and data["agreed"] is False
    assert data["divergence"]["insns"] == 6 and "r3" in {d["what"] for d in data["divergence"]["differences"]}


def test_the_host_jit_pane_shows_its_native_code_and_registers() -> None:
    """In lockstep the host-jit pane has the x86 code of the next instruction and the x86
    registers, each holding the eBPF register the JIT maps to it (rdi = r1, rbp = r10)."""
    from bpfdbg.view import ViewBuilder
    from tui.presenters import backend_lines

    s = Session.open(SAMPLES / "xdp_lb.o", pcap=SAMPLES / "pcaps" / "xdp_lb.pcap", maps=MAPS)
    s.execute("lockstep on host-jit")
    s.execute("break xdp_lb.c:201")
    s.execute("run")
    interp, hostjit = ViewBuilder(s).build().backends
    assert interp.native == () and interp.native_registers == ()
    assert [t for _, _, t in hostjit.native] == ["movzx rdx, byte ptr [rbx + 0xc]"]  # r3 = *(u8 *)(r6 + 12)
    native = dict(hostjit.native_registers)
    regs = dict(hostjit.registers)
    for x86, bpf in (("rax (r0)", "r0"), ("rdi (r1)", "r1"), ("rbx (r6)", "r6"), ("rbp (r10)", "r10")):
        assert native[x86] == regs[bpf] == s.regs[int(bpf[1:])]
    assert native["rip"] == hostjit.native[0][0]
    text = "\n".join(t.plain for t in backend_lines(hostjit).lines)
    assert "native registers" in text and "rdi (r1)" in text


def test_a_fault_on_host_jit_names_the_native_instruction_too() -> None:
    """Debugging on host-jit, a fault says the eBPF instruction and the x86 rip of the
    native instruction that faulted, which lies in that instruction's native range."""
    from emulator.program import Program

    prog = Program.from_bytes(
        bytes.fromhex("b70100000000000061120000000000009500000000000000"), name="nullread"
    )
    s = Session.from_program(prog, backend_name="host-jit")
    line = s.execute("run").lines[0]
    assert line.startswith("[nullread] fault at insn 1, native rip 0x")
    rip = int(line.split("native rip ")[1].split(":")[0], 16)
    start, end = s.machine().jit().range_of(1)  # type: ignore[attr-defined]
    assert start <= rip < end
    interp = Session.from_program(prog)
    assert "native rip" not in interp.execute("run").lines[0]
