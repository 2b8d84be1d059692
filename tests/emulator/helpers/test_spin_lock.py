"""bpf_spin_lock / bpf_spin_unlock on interp: one lock at a time, only inside map values."""

from __future__ import annotations

from bpfdbg.headless import run_once
from emulator.asm import assemble
from emulator.env import Environment
from emulator.maps import MapSpec, MapType
from emulator.program import Program

SPEC = MapSpec("locked", MapType.ARRAY, 4, 16, 1)
PACKET = bytes(64)
PROLOGUE = """r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
r1 = map[idx:0]
call 1
if r0 == 0 goto out
r6 = r0
"""


def run(body: str):  # type: ignore[no-untyped-def]
    prog = Program.from_insns(assemble(PROLOGUE + body + "\nout:\nr0 = 2\nexit"), prog_type="xdp")
    return run_once(prog, packet=PACKET, env=Environment(maps=(SPEC,)))


def test_lock_then_unlock_returns() -> None:
    result = run("r1 = r6\ncall 93\nr1 = r6\ncall 94")
    assert result.fault is None and result.retval == 2


def test_taking_a_held_lock_faults_as_a_deadlock() -> None:
    result = run("r1 = r6\ncall 93\nr1 = r6\ncall 93")
    assert result.fault is not None and "already held" in result.fault.message


def test_unlocking_a_free_lock_faults() -> None:
    result = run("r1 = r6\ncall 94")
    assert result.fault is not None and "not held" in result.fault.message


def test_a_lock_must_live_in_a_map_value() -> None:
    result = run("r1 = r10\nr1 += -16\ncall 93")
    assert result.fault is not None and "bpf_spin_lock" in result.fault.message
