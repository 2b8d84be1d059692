"""The ``nic`` backend as the debugger and lockstep use it: hand-written XDP, TC and raw
programs run in lockstep with the interpreter (which must agree wherever the reference notes
say the device behaves like the host), the verdicts the device applies (nfp_offload.md
§1.9, §5.6, §5.7), refusals with the driver's words, faults with the interpreter's words,
the native view, stepping controls and checkpoints."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from bpfdbg.lockstep import Lockstep
from emulator.asm import assemble
from emulator.backends.base import create
from emulator.backends.nic.backend import NicBackend
from emulator.env import Environment, RunInput
from emulator.maps import MapSpec, MapType
from emulator.memory import CTX_BASE, PKT_BASE, frame_pointer
from emulator.program import Program
from emulator.state import StopCondition, StopReason

ETH_IPV4 = bytes(6) + bytes(range(1, 7)) + b"\x08\x00" + bytes(range(0x40, 0x40 + 46))
ETH_IPV6 = bytes(6) + bytes(range(1, 7)) + b"\x86\xdd" + bytes(range(0x80, 0x80 + 46))
RUNT = bytes(10)
PACKETS = (ETH_IPV4, ETH_IPV6, RUNT, ETH_IPV4[:14])

COUNTERS = MapSpec("counters", MapType.HASH, 4, 8, 16)
ENTRIES = (("counters", b"\x08\x00\x00\x00", bytes(8)), ("counters", b"\x86\xdd\x00\x00", bytes(8)))

# count packets per ethertype in a hash map (atomic add on the value), keep the packet
# pointer in a callee-saved register and spilled on the stack across the helper call, read
# through the filled pointer afterwards: XDP_TX for IPv4, XDP_PASS otherwise, XDP_DROP runts
COUNT = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto drop
r5 = *(u16 *)(r2 + 12)
*(u32 *)(r10 - 4) = r5
*(u64 *)(r10 - 16) = r2
r6 = r2
r1 = map[idx:0]
r2 = r10
r2 += -4
call 1
if r0 == 0 goto pass
r1 = 1
lock *(u64 *)(r0 + 0) += r1
r2 = *(u64 *)(r10 - 16)
r3 = *(u8 *)(r2 + 12)
r4 = *(u8 *)(r6 + 13)
if r3 != 8 goto pass
r0 = 3
exit
pass:
r0 = 2
exit
drop:
r0 = 1
exit
"""

# a bpf-to-bpf call: the callee reads the caller's frame through a pointer, uses r6 and r7
# (saved and restored for the caller) and its own stack
CALLS = """
r6 = 7
*(u64 *)(r10 - 8) = r6
r1 = r10
r1 += -8
call sub
r0 += r6
r0 &= 3
exit
sub:
r6 = *(u64 *)(r1 + 0)
r6 += 5
*(u64 *)(r10 - 8) = r6
r7 = *(u64 *)(r10 - 8)
r0 = r7
exit
"""


def program(text: str, prog_type: str = "xdp") -> Program:
    return Program.from_insns(assemble(text), prog_type=prog_type)


def env(profile: str = "nfp-public-fw", maps: Sequence[MapSpec] = (), entries: tuple = ()) -> Environment:  # type: ignore[type-arg]
    return Environment(maps=tuple(maps), map_entries=entries, device_profile=profile, budget=100_000)


def load(text: str, prog_type: str = "xdp", environment: Environment | None = None) -> NicBackend:
    m = create("nic")
    assert isinstance(m, NicBackend)
    report = m.load(program(text, prog_type), environment or env())
    assert report.ok, report.diagnostics
    return m


def lockstep(text: str, packets: Sequence[bytes], make_env: object = env, prog_type: str = "xdp") -> Lockstep:
    """Every packet in lockstep with the interpreter (maps carried over, as on a port)."""
    engine = Lockstep(program(text, prog_type), make_env, ["interp", "nic"])  # type: ignore[arg-type]
    for packet in packets:
        engine.reset(RunInput(packet=packet))
        result = engine.run()
        assert result.agreed, result.divergence
        assert engine.finished
    return engine


# -- lockstep with the interpreter ------------------------------------------------------------------
def test_parse_count_and_verdict_agree_with_the_interpreter() -> None:
    engine = lockstep(COUNT, PACKETS * 2, lambda: env(maps=(COUNTERS,), entries=ENTRIES))
    dump = engine.machines["nic"].map_set().dump()["counters"]
    assert {row["key"]: row["value"] for row in dump} == {
        "08000000": (4).to_bytes(8, "little").hex(),  # IPv4 twice, and its 14-byte header twice
        "86dd0000": (2).to_bytes(8, "little").hex(),
    }


@pytest.mark.parametrize("profile", ["nfp-public-fw", "nfp-agilio"])
def test_bpf_to_bpf_calls_agree_and_frames_are_the_interpreters(profile: str) -> None:
    lockstep(CALLS, [ETH_IPV4], lambda: env(profile))
    m = load(CALLS, environment=env(profile))
    m.reset(RunInput(packet=ETH_IPV4))
    m.run(StopCondition(pcs=frozenset({9})))  # first insn of sub
    state = m.state()
    assert state.depth == 1 and state.frames[1].entry == 8
    assert state.regs[1] == frame_pointer(0) - 8 and state.regs[10] == frame_pointer(1)
    assert m.read_memory(frame_pointer(0) - 8, 8) == (7).to_bytes(8, "little")
    event = m.run(StopCondition(depth_at_most=0))
    assert (event.reason, event.pc, m.registers()[0]) == (StopReason.DEPTH, 5, 12)
    assert m.run(StopCondition()).retval == 3  # (12 + 7) & 3: XDP_TX


def test_adjust_head_and_shrinking_adjust_tail_agree() -> None:
    text = """
r6 = r1
r1 = r6
r2 = -14
call 44
r1 = r6
r2 = -4
call 65
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r0 = r3
r0 -= r2
r0 &= 3
exit
"""
    engine = lockstep(text, [ETH_IPV4])
    assert engine.ended["nic"] is not None and engine.ended["nic"].retval == (60 + 14 - 4) & 3
    state = engine.machines["nic"].state()
    assert len(state.regions["pkt"].data) == len(ETH_IPV4) + 14 - 4
    assert state.regions["pkt"].base == PKT_BASE + 256 - 14


def test_random_numbers_are_the_microengines_own_sequence() -> None:
    """§5.12: PseudoRndNum is seeded by the firmware, unrelated to the host's generator, and
    the same for every run of the model."""
    text = "call 7\nr6 = r0\ncall 7\nexit"
    values = []
    for _ in range(2):
        m = load(text)
        m.reset(RunInput(packet=ETH_IPV4))
        m.run(StopCondition())
        values.append((m.registers()[6], m.registers()[0]))
    interp = create("interp")
    interp.load(program(text), env())
    interp.reset(RunInput(packet=ETH_IPV4))
    interp.run(StopCondition())
    assert values[0] == values[1] and values[0] != (interp.state().regs[6], interp.state().regs[0])
    assert all(v < 1 << 32 for v in values[0])


def test_raw_convention_reads_and_writes_the_memory_like_a_packet() -> None:
    text = "r0 = *(u32 *)(r1 + 4)\nr0 += r2\n*(u8 *)(r1 + 0) = r0\nexit"
    engine = Lockstep(program(text, "raw"), env, ["interp", "nic"])
    engine.reset(RunInput(mem=bytes(range(16))))
    result = engine.run()
    assert result.agreed, result.divergence
    nic = engine.machines["nic"]
    assert nic.state().regions["mem"].data[0] == (0x07060504 + 16) & 0xFF
    assert nic.state().regs[1] == CTX_BASE


# -- what the device does differently ---------------------------------------------------------------
@pytest.mark.parametrize(("code", "verdict"), [(0, 0), (1, 1), (2, 2), (3, 3), (4, 0), (9, 0)])
def test_xdp_codes_become_the_action_byte_and_redirect_aborts(code: int, verdict: int) -> None:
    m = load(f"r0 = {code}\nexit")
    m.reset(RunInput(packet=ETH_IPV4))
    event = m.run(StopCondition())
    assert (event.reason, event.retval) == (StopReason.EXIT, verdict)
    assert m.registers()[0] == code  # the program's r0 stays visible
    assert m.native_registers()[-2][0] == "A0 flags"


@pytest.mark.parametrize(("code", "verdict"), [(2, 2), (4, 4), (5, 5), (8, 0), (-1, 0)])
def test_tc_codes_map_back_through_the_nibble_tables(code: int, verdict: int) -> None:
    m = load(f"r0 = {code}\nexit", "tc")
    m.reset(RunInput(packet=ETH_IPV4))
    assert m.run(StopCondition()).retval == verdict


def test_tc_reads_len_data_and_data_end() -> None:
    text = """
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = *(u32 *)(r1 + 0)
r3 -= r2
if r3 != r4 goto out
r0 = 2
exit
out:
r0 = 4
exit
"""
    lockstep(text, [ETH_IPV4, RUNT], prog_type="tc")


def test_growing_the_tail_fails_on_the_device() -> None:
    """§5.11: adjust_tail only shrinks; the host grows the packet (a documented difference)."""
    m = load("r2 = 4\ncall 65\nexit")
    m.reset(RunInput(packet=ETH_IPV4))
    assert m.run(StopCondition()).retval == 0  # r0 = -EINVAL: not a verdict below 4: abort
    assert m.registers()[0] == (-22) & (1 << 64) - 1


def test_perf_event_output_is_asynchronous_and_lands_on_the_host_array() -> None:
    events = MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2)
    text = """
r6 = 0x1122334455667788 ll
*(u64 *)(r10 - 8) = r6
r2 = map[idx:0]
r3 = 0xffffffff ll
r4 = r10
r4 += -8
r5 = 8
call 25
r0 = 2
exit
"""
    engine = lockstep(text, [ETH_IPV4], lambda: env("nfp-agilio", (events,)))
    dump = engine.machines["nic"].map_set().dump()["events"]
    assert dump == [{"cpu": 0, "record": bytes.fromhex("8877665544332211").hex()}]


# -- refusals and faults ------------------------------------------------------------------------------
def test_refusal_names_the_instruction_the_driver_line_and_the_fix() -> None:
    report = create("nic").load(program("r0 = 7\nr0 %= 3\nexit"), env())
    assert not report.ok
    (diag,) = report.errors
    assert diag.pc == 1 and diag.message.startswith("[nfp] instruction 0x97 not supported")
    assert "; " in diag.message  # followed by the hint


def test_helpers_the_firmware_lacks_are_refused_with_the_drivers_message() -> None:
    report = create("nic").load(program("call 2\nexit"), env())  # map_update on the public firmware
    assert (
        not report.ok
        and "map_update" in report.errors[0].message
        or "function id" in report.errors[0].message
    )


def test_packet_read_past_the_end_faults_with_the_interpreters_message() -> None:
    text = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u32 *)(r2 + 60)\nexit"
    m = load(text)
    m.reset(RunInput(packet=ETH_IPV4))
    event = m.run(StopCondition())
    interp = create("interp")
    interp.load(program(text), env())
    interp.reset(RunInput(packet=ETH_IPV4))
    expected = interp.run(StopCondition())
    assert event.reason is StopReason.FAULT and event.fault == expected.fault
    assert event.insns == expected.insns and m.fault_address() is not None


# -- the debugger's view ------------------------------------------------------------------------------
def test_undefined_registers_after_a_helper_call() -> None:
    m = load(COUNT, environment=env(maps=(COUNTERS,), entries=ENTRIES))
    m.reset(RunInput(packet=ETH_IPV4))
    m.run(StopCondition(pcs=frozenset({14})))  # after call 1
    assert {1, 2, 3, 4, 5} <= m.undefined_registers()
    assert 0 not in m.undefined_registers() and 6 not in m.undefined_registers()


def test_native_view_of_an_instruction_and_the_image() -> None:
    m = load(COUNT, environment=env(maps=(COUNTERS,), entries=ENTRIES))
    code = m.native(13)  # call 1
    assert any("br[.15001]" in n.text for n in code)
    assert all(len(n.raw) == 8 for n in code)
    image = m.native_image_listing()
    assert image[0][2].text.startswith("immed[gprB_22, 0x3fff]") and image[0][1] is None
    assert [a for a, pc, _ in image if pc == 13] == [n.address for n in code]
    names = [name for name, _ in m.native_registers()]
    assert names[:2] == ["r0 (gpr0:1)", "r1 (gpr2:3)"] and names[-4:] == [
        "A22 stack",
        "B22 plen",
        "A0 flags",
        "pc",
    ]


def test_step_journal_and_registers_are_in_interpreter_addresses() -> None:
    m = load(COUNT, environment=env(maps=(COUNTERS,), entries=ENTRIES))
    m.reset(RunInput(packet=ETH_IPV4))
    assert m.step().regs[0].new == PKT_BASE + 256  # r2 = data
    for _ in range(7):
        event = m.step()
    assert event.pc == 7  # *(u64 *)(r10 - 16) = r2
    (write,) = event.mem
    assert (write.addr, write.where, write.new) == (
        frame_pointer(0) - 16,
        "fp-16",
        (PKT_BASE + 256).to_bytes(8, "little"),
    )
    assert m.read_memory(frame_pointer(0) - 16, 8) == write.new


def test_write_memory_and_set_register_reach_the_device() -> None:
    m = load("r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit")
    m.reset(RunInput(packet=ETH_IPV4))
    m.step()
    m.write_memory(PKT_BASE + 256, b"\x03")
    assert m.run(StopCondition()).retval == 3
    m.reset(RunInput(packet=ETH_IPV4))
    m.step()
    m.set_register(2, PKT_BASE + 256 + 12)  # an interpreter address: the device gets CTM's
    assert m.run(StopCondition()).retval == 0  # reads 0x08: >= 4, abort


# -- stepping controls ----------------------------------------------------------------------------------
LOOP = "r2 = 30000\nr0 = 0\nloop:\nr0 += 3\nr2 += -1\nif r2 != 0 goto loop\nexit"


def test_budget_max_insns_and_interrupt_on_a_long_loop() -> None:
    m = load(LOOP, "raw", Environment(budget=10**12))
    m.reset(RunInput(budget=1000))
    for count in (1, 2, 5, 17):
        before = m.state().insns
        event = m.run(StopCondition(max_insns=count))
        assert event.reason is StopReason.STEP and event.insns == before + count
    event = m.run(StopCondition())
    assert event.reason is StopReason.BUDGET and event.insns == 1000
    assert m.step().stop == event
    m.reset(RunInput())
    timer = threading.Timer(0.02, m.interrupt)
    timer.start()
    event = m.run(StopCondition())
    timer.join()
    assert event.reason is StopReason.INTERRUPTED and 0 < event.insns < 90_000
    assert m.run(StopCondition(max_insns=3)).insns == event.insns + 3
    assert m.run(StopCondition()).retval == 90_000


def test_checkpoint_restores_exactly() -> None:
    m = load(COUNT, environment=env(maps=(COUNTERS,), entries=ENTRIES))
    m.reset(RunInput(packet=ETH_IPV4))
    for _ in range(13):  # after the lookup, before the atomic add
        m.step()
    saved = m.state()
    cp = m.checkpoint()
    expected = m.run(StopCondition())
    expected_maps = m.map_set().dump()
    m.restore(cp)
    assert m.state() == saved
    assert m.run(StopCondition()) == expected
    assert m.map_set().dump() == expected_maps
