"""The host/offload behaviour differences that show up while a program runs (reference
nfp_offload.md §5), one small program each, run in lockstep on the interpreter (the host) and
the ``nic`` backend (the device): each test asserts the exact first divergence (the pc, every
field that differs and each side's value) and that bpfdbg.offload_explain names the
behaviour behind it; a near miss of each (the same program a hair away) must not diverge.

Expected values come from the reference: the verdict mapping of §1.9, the helper semantics
of §3.10, the behaviour list of §5 and the firmware capabilities of §7; host values from the
kernel semantics the reference states (host XDP_REDIRECT, adjust_tail growth since 5.8, the
perf helper's -E2BIG for an index beyond the array). The load-time refusals (§4) are covered
one rule per program in test_offload_verifier.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bpfdbg.lockstep import Difference, Divergence, Lockstep, LockstepResult
from bpfdbg.offload_explain import Evidence, Explanation, explain
from emulator.backends.base import backend_names, create
from emulator.isa.table import Form
from emulator.program import Program
from emulator.state import StopCondition, StopReason
from tests.emulator.backends.nic.behaviour_programs import (
    AGILIO,
    ATOMIC_FROM_DATAPATH,
    BIG_EVENT,
    EVENTS,
    GET_PRANDOM_U32,
    MAP_UPDATE_ELEM,
    NEW_VALUE,
    OLD_VALUE,
    PERF_BIG,
    PERF_EVENT_OUTPUT,
    PRANDOM,
    PRANDOM_MASKED,
    PUBLIC,
    TC_LEN,
    UPDATE_FROM_DATAPATH,
    UPPER_HALF_KEPT,
    UPPER_HALF_MOV32,
    UPPER_HALF_READ,
    XDP_ADJUST_HEAD,
    XDP_ADJUST_TAIL,
    XDP_DATA_END,
    BehaviourProgram,
    adjust_head,
    adjust_tail,
    call_pc,
    perf_output,
    returns,
)

pytestmark = pytest.mark.skipif("nic" not in backend_names(), reason="the nic backend is not registered")

NAMES = ("interp", "nic")
DEVICE = frozenset({"nic"})
M64 = (1 << 64) - 1
EINVAL, E2BIG = 22, 7
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4
TC_ACT_OK, TC_ACT_SHOT, TC_ACT_STOLEN, TC_ACT_QUEUED, TC_ACT_UNSPEC = 0, 2, 4, 5, -1
PLEN_BITS = 14  # B22 = packet-vector word 0 AND 0x3fff (§1.3, §1.9 intro)
CACHE_TIME_NS = 250_000  # NFP_BPF_MAP_CACHE_TIME_NS (§5.2)


def hexv(value: int) -> str:
    """A register value as lockstep shows it."""
    return f"{value & M64:#x}"


def exit_text(code: int) -> str:
    """How lockstep shows a normal end with verdict ``code``."""
    return f"exit r0={code & M64:#x}"


def run_lockstep(case: BehaviourProgram) -> tuple[Lockstep, LockstepResult]:
    engine = Lockstep(case.program(), case.environment, list(NAMES))
    engine.reset(case.run_input())
    return engine, engine.run()


def differences(div: Divergence) -> dict[str, dict[str, str]]:
    return {d.what: dict(d.values) for d in div.differences}


def explanation(case: BehaviourProgram, div: Divergence, profile: str | None = None) -> Explanation | None:
    prog = case.program()
    evidence = Evidence(
        div, prog.insn_at(div.pc), prog.prog_type, DEVICE, len(case.packet), profile or case.profile
    )
    return explain(evidence)


def exit_pc(case: BehaviourProgram) -> int:
    return case.program().nslots - 1


@dataclass(frozen=True)
class Expected:
    """A program, the pc of its first divergence, what differs there (what -> backend ->
    value as lockstep shows it) and the catalogue entry (id, §5 item) that explains it."""

    case: BehaviourProgram
    pc: int
    diffs: dict[str, dict[str, str]]
    behaviour: str
    fact: int


def _verdict(code: int, device: int, prog_type: str = "xdp") -> Expected:
    case = returns(code, prog_type)
    fact = 6 if prog_type == "xdp" else 7
    behaviour = "xdp-actions" if prog_type == "xdp" else "tc-actions"
    return Expected(
        case,
        exit_pc(case),
        {"end": {"interp": exit_text(code), "nic": exit_text(device)}},
        behaviour,
        fact,
    )


def _helper_r0(
    case: BehaviourProgram, helper: int, host: int, device: int, behaviour: str, fact: int
) -> Expected:
    """A helper call whose return value differs: r1-r5 are clobbered by the call (the
    firmware keeps none of them, §3.10), so r0 is all that may differ."""
    return Expected(
        case,
        call_pc(case.program(), helper),
        {"r0": {"interp": hexv(host), "nic": hexv(device)}},
        behaviour,
        fact,
    )


def _window() -> tuple[int, int, int]:
    """(off_min, off_max, packet offset) of the public firmware's adjust_head window."""
    from emulator.backends.nic.profiles import profile

    head = profile(PUBLIC).adjust_head
    assert head is not None
    return head.off_min, head.off_max, profile(PUBLIC).packet_offset


def test_the_public_firmwares_adjust_head_window_is_the_references() -> None:
    """§7: new start offset within [44, 248] of the CTM buffer, -84/+112 guaranteed, so the
    packet starts 128 bytes in (off_min + guaranteed_sub): the deltas below rest on these."""
    from emulator.backends.nic.profiles import profile

    head = profile(PUBLIC).adjust_head
    assert head is not None
    assert (head.no_meta, head.off_min, head.off_max, head.guaranteed_sub, head.guaranteed_add) == (
        True,
        44,
        248,
        84,
        112,
    )
    assert profile(PUBLIC).packet_offset == head.off_min + head.guaranteed_sub


OFF_MIN, OFF_MAX, PACKET_OFFSET = _window()
HEAD_BELOW = OFF_MIN - PACKET_OFFSET - 1  # new start one byte below the window
HEAD_ABOVE = OFF_MAX - PACKET_OFFSET + 1  # one byte above it

DIVERGENCES = [
    # §1.9 / §5.6: R0.lo > 3 takes the abort path (action byte 0x82, XDP_ABORTED); on the host
    # XDP_REDIRECT redirects and any code is the program's own.
    pytest.param(_verdict(XDP_REDIRECT, XDP_ABORTED), id="xdp-redirect-aborts"),
    pytest.param(_verdict(7, XDP_ABORTED), id="xdp-unknown-7-aborts"),
    pytest.param(_verdict(-1, XDP_ABORTED), id="xdp-minus-1-aborts"),
    pytest.param(_verdict(1 << 32 | XDP_REDIRECT, XDP_ABORTED), id="xdp-redirect-in-the-low-word-aborts"),
    # §1.9 / §5.7: R0.lo > 7, TC_ACT_UNSPEC included, takes the abort path, which for TC is pass.
    pytest.param(_verdict(TC_ACT_UNSPEC, TC_ACT_OK, "tc"), id="tc-unspec-passes"),
    pytest.param(_verdict(8, TC_ACT_OK, "tc"), id="tc-unknown-8-passes"),
    # §3.10 / §5.11: new = plen + delta must carry (shrink only): growth and 0 return -EINVAL;
    # the host (5.8+) grows into the tailroom and takes 0 as a no-op.
    pytest.param(
        _helper_r0(adjust_tail(16), XDP_ADJUST_TAIL, 0, -EINVAL, "adjust-tail-shrink", 11),
        id="adjust-tail-growth",
    ),
    pytest.param(
        _helper_r0(adjust_tail(0), XDP_ADJUST_TAIL, 0, -EINVAL, "adjust-tail-shrink", 11),
        id="adjust-tail-zero",
    ),
    # §3.10 / §5.10: the new start offset must stay in the firmware's [off_min, off_max], else
    # -EINVAL; the host's limit is the 256-byte XDP headroom less the 40-byte xdp_frame.
    pytest.param(
        _helper_r0(adjust_head(HEAD_BELOW), XDP_ADJUST_HEAD, 0, -EINVAL, "adjust-head-window", 10),
        id="adjust-head-below-the-window",
    ),
    pytest.param(
        _helper_r0(adjust_head(HEAD_ABOVE), XDP_ADJUST_HEAD, 0, -EINVAL, "adjust-head-window", 10),
        id="adjust-head-above-the-window",
    ),
    # §5.5: on the device the helper returns success whatever becomes of the event; on the
    # host, BPF_F_CURRENT_CPU on CPU 1 indexes past a one-slot array: -E2BIG.
    pytest.param(
        _helper_r0(perf_output("xdp", cpu=1), PERF_EVENT_OUTPUT, -E2BIG, 0, "perf-output-async", 5),
        id="perf-output-xdp-missing-slot",
    ),
    pytest.param(
        _helper_r0(perf_output("tc", cpu=1), PERF_EVENT_OUTPUT, -E2BIG, 0, "perf-output-async", 5),
        id="perf-output-tc-missing-slot",
    ),
]


@pytest.mark.parametrize("expected", DIVERGENCES)
def test_the_first_divergence_is_the_references_and_is_explained(expected: Expected) -> None:
    _, result = run_lockstep(expected.case)
    div = result.divergence
    assert div is not None, f"{expected.case.name}: host and device agreed"
    assert (div.pc, differences(div)) == (expected.pc, expected.diffs)
    ex = explanation(expected.case, div)
    assert ex is not None, f"{expected.case.name}: no known behaviour explains {differences(div)}"
    assert (ex.behaviour.id, ex.behaviour.number) == (expected.behaviour, expected.fact)


NEAR_MISSES = [
    # the verdicts the device applies as the host does (§1.9)
    pytest.param(returns(XDP_ABORTED), XDP_ABORTED, id="xdp-aborted"),
    pytest.param(returns(XDP_DROP), XDP_DROP, id="xdp-drop"),
    pytest.param(returns(XDP_PASS), XDP_PASS, id="xdp-pass"),
    pytest.param(returns(XDP_TX), XDP_TX, id="xdp-tx"),
    pytest.param(returns(TC_ACT_SHOT, "tc"), TC_ACT_SHOT, id="tc-shot"),
    pytest.param(returns(TC_ACT_STOLEN, "tc"), TC_ACT_STOLEN, id="tc-stolen"),
    pytest.param(returns(TC_ACT_QUEUED, "tc"), TC_ACT_QUEUED, id="tc-queued"),
    # shrinking the tail works on both (§3.10: the add carries, the result keeps >= 14 bytes)
    pytest.param(adjust_tail(-16), XDP_PASS, id="adjust-tail-shrink"),
    # moves inside the firmware's window: to its lower edge (the -84 guaranteed) and back a bit
    pytest.param(adjust_head(OFF_MIN - PACKET_OFFSET), XDP_PASS, id="adjust-head-lower-edge"),
    pytest.param(adjust_head(-16), XDP_PASS, id="adjust-head-grow-16"),
    pytest.param(adjust_head(OFF_MAX - PACKET_OFFSET), XDP_PASS, id="adjust-head-upper-edge"),
    pytest.param(adjust_head(16), XDP_PASS, id="adjust-head-shrink-16"),
    # an event both deliver: CPU 0's slot exists, 8 bytes fit any control message
    pytest.param(perf_output("xdp", cpu=0), XDP_PASS, id="perf-output-delivered"),
    # the 32-bit add read as 64 bits later is marked and zero-extended; a 32-bit move always is
    pytest.param(UPPER_HALF_READ, 2, id="alu32-marked"),
    pytest.param(UPPER_HALF_MOV32, 2, id="mov32-always-zero-extends"),
]


@pytest.mark.parametrize(("case", "verdict"), NEAR_MISSES)
def test_a_near_miss_does_not_diverge(case: BehaviourProgram, verdict: int) -> None:
    _, result = run_lockstep(case)
    assert result.divergence is None, differences(result.divergence)
    assert {name: (end.reason, end.retval) for name, end in result.ends.items() if end is not None} == {
        name: (StopReason.EXIT, verdict) for name in NAMES
    }


def test_an_upper_half_nobody_reads_is_kept_on_the_device_but_not_compared() -> None:
    """§3.1 / §5.22: a 32-bit add writes only Rn.lo unless the verifier marked it for zero
    extension; r1 is read afterwards as 32 bits only, so the device keeps r1.hi = 0xffffffff.
    No instruction can observe it, so lockstep compares only r1's low half there (the
    behaviour is the same), while the device's own register view shows the kept half."""
    engine, result = run_lockstep(UPPER_HALF_KEPT)
    assert result.agreed
    engine.reset(UPPER_HALF_KEPT.run_input())
    engine.step()
    engine.step()  # after w1 += 3
    interp, nic = (engine.machines[n] for n in NAMES)
    assert interp.registers()[1] == 2 and nic.registers()[1] == 0xFFFFFFFF_00000002
    assert engine.register_masks()[1] == 0xFFFFFFFF


def test_a_delivered_event_is_on_both_perf_rings() -> None:
    """The near miss of the asynchronous output, with the event itself: CPU 0's record, the
    8 stored bytes (little-endian u64 0x1122334455667788), in the host's perf array."""
    engine, result = run_lockstep(perf_output("xdp", cpu=0))
    assert result.agreed
    for name in NAMES:
        perf = engine.machines[name].map_set()[EVENTS.name]
        assert perf.records() == [(0, (0x1122334455667788).to_bytes(8, "little"))], name


def test_an_event_too_big_for_a_control_message_is_lost_on_the_device() -> None:
    """§5.5: the device reports success (r0 = 0 on both) but drops an event that does not
    fit one control message; the host's ring has it. The first divergence is the perf map
    after the call, explained as the asynchronous output."""
    engine, result = run_lockstep(PERF_BIG)
    div = result.divergence
    assert div is not None and div.pc == call_pc(PERF_BIG.program(), PERF_EVENT_OUTPUT)
    assert div.fields == {f"map {EVENTS.name}"}
    host = engine.machines["interp"].map_set()[EVENTS.name].records()
    assert host == [(0, PERF_BIG.packet[:BIG_EVENT])]
    assert engine.machines["nic"].map_set()[EVENTS.name].records() == []
    assert engine.machines["interp"].registers()[0] == engine.machines["nic"].registers()[0] == 0
    ex = explanation(PERF_BIG, div)
    assert ex is not None and (ex.behaviour.id, ex.behaviour.number) == ("perf-output-async", 5)


# -- §5.12: randomness ----------------------------------------------------------------------------
def test_prandom_differs_at_the_call() -> None:
    """The device reads the ME's PseudoRndNum CSR (§3.10: R0.lo = the CSR, R0.hi = 0), not the
    host's per-CPU generator: the numbers differ at the call, both 32-bit; benign."""
    _, result = run_lockstep(PRANDOM)
    div = result.divergence
    assert div is not None, "the device returned the host's random number"
    assert div.pc == call_pc(PRANDOM.program(), GET_PRANDOM_U32) and div.fields == {"r0"}
    values = {name: int(v, 16) for name, v in div.differences[0].values}
    assert values["interp"] != values["nic"] and all(v >> 32 == 0 for v in values.values())
    ex = explanation(PRANDOM, div)
    assert ex is not None and (ex.behaviour.id, ex.behaviour.number) == ("random-source", 12)
    assert ex.behaviour.benign


def test_a_masked_random_number_leaves_the_packets_fate_alone() -> None:
    """The near miss of §5.12: a program that throws the number away passes the packet on
    both; if lockstep sees the numbers differ at all, it is at the call, in r0 only, and the
    explanation is the benign random source."""
    prog = PRANDOM_MASKED.program()
    for name in NAMES:
        machine = create(name)
        assert machine.load(prog, PRANDOM_MASKED.environment()).ok
        machine.reset(PRANDOM_MASKED.run_input())
        end = machine.run(StopCondition())
        assert (end.reason, end.retval) == (StopReason.EXIT, XDP_PASS), name
    _, result = run_lockstep(PRANDOM_MASKED)
    if result.divergence is not None:
        div = result.divergence
        assert div.pc == call_pc(prog, GET_PRANDOM_U32) and div.fields == {"r0"}
        ex = explanation(PRANDOM_MASKED, div)
        assert ex is not None and ex.behaviour.id == "random-source" and ex.behaviour.benign


# -- §5.9: the 14-bit packet length ---------------------------------------------------------------
BIG_FRAME = 16400  # > 2**14 - 1: the device sees 16400 - 16384 = 16 bytes


def test_tc_len_is_14_bits_on_the_device() -> None:
    """__sk_buff.len is plen on the device (§1.8), 14 bits wide: a 16400-byte frame reads as
    16; the host reads 16400. The offload loads the program (it reads no packet bytes, so
    the inline split does not matter)."""
    case = BehaviourProgram(TC_LEN.name, TC_LEN.text, "tc", packet=bytes(BIG_FRAME))
    _, result = run_lockstep(case)
    div = result.divergence
    assert div is not None
    expected = {"r2": {"interp": hexv(BIG_FRAME), "nic": hexv(BIG_FRAME % (1 << PLEN_BITS))}}
    assert (div.pc, differences(div)) == (0, expected)
    ex = explanation(case, div)
    assert ex is not None and (ex.behaviour.id, ex.behaviour.number) == ("packet-size", 9)


def test_xdp_data_end_is_data_plus_the_14_bit_length_on_the_device() -> None:
    """data_end = pptr + plen (§1.8): data agrees, data_end is 16384 short on the device."""
    case = BehaviourProgram(XDP_DATA_END.name, XDP_DATA_END.text, packet=bytes(BIG_FRAME))
    engine, result = run_lockstep(case)
    div = result.divergence
    assert div is not None and div.pc == 1 and div.fields == {"r2"}
    data = engine.machines["interp"].registers()[3]
    assert engine.machines["nic"].registers()[3] == data
    assert differences(div)["r2"] == {
        "interp": hexv(data + BIG_FRAME),
        "nic": hexv(data + BIG_FRAME % (1 << PLEN_BITS)),
    }
    ex = explanation(case, div)
    assert ex is not None and (ex.behaviour.id, ex.behaviour.number) == ("packet-size", 9)


@pytest.mark.parametrize("case", [TC_LEN, XDP_DATA_END], ids=lambda c: c.name)
def test_the_largest_14_bit_length_is_the_same_on_both(case: BehaviourProgram) -> None:
    near = BehaviourProgram(case.name, case.text, case.prog_type, packet=bytes((1 << PLEN_BITS) - 1))
    _, result = run_lockstep(near)
    assert result.divergence is None, differences(result.divergence)


# -- §5.2: host reads through the driver's cache --------------------------------------------------
KEY = bytes(4)


def _write_pc(prog: Program) -> int:
    """The pc of the program's datapath write to the table: the update call or the atomic add."""
    for pc, insn in enumerate(prog.insns):
        if insn is None or insn.info is None:
            continue
        if insn.info.form is Form.ATOMIC:
            return pc
    return call_pc(prog, MAP_UPDATE_ELEM)


def _run_on_each(case: BehaviourProgram, dump_first: bool) -> dict[str, Any]:
    """Each backend alone: load, reset, optionally ``bpftool map dump`` (GETFIRST/GETNEXT,
    whose multi-entry replies the driver caches), run the program to its exit."""
    machines: dict[str, Any] = {}
    for name in NAMES:
        machine: Any = create(name)
        assert machine.load(case.program(), case.environment()).ok
        machine.reset(case.run_input())
        if dump_first:
            before = machine.map_set().dump()[case.maps[0].name]
            assert len(before) == 1, before
        end = machine.run(StopCondition())
        assert (end.reason, end.retval) == (StopReason.EXIT, XDP_PASS), name
        machines[name] = machine
    return machines


def _host_lookup(machine: Any, name: str) -> int:
    value = machine.map_set()[name].user_lookup(KEY)
    assert isinstance(value, bytes), value
    return int.from_bytes(value, "little")


STALE_CASES = [
    pytest.param(UPDATE_FROM_DATAPATH, OLD_VALUE, NEW_VALUE, id="map_update_elem"),
    pytest.param(ATOMIC_FROM_DATAPATH, 0, 1, id="atomic-add"),
]


@pytest.mark.parametrize(("case", "old", "new"), STALE_CASES)
def test_a_host_lookup_after_a_dump_misses_the_datapaths_write(
    case: BehaviourProgram, old: int, new: int
) -> None:
    """§5.2 (ABI 3 + CMSG_MULTI_ENT): the driver answers a LOOKUP from the cached dump reply
    for 250 µs, and datapath writes do not invalidate it: right after the program wrote
    ``new`` the host still reads ``old``, though the device's table holds ``new``. The
    divergence is the map as the host sees it, at the writing instruction."""
    machines = _run_on_each(case, dump_first=True)
    name = case.maps[0].name
    host = {n: _host_lookup(m, name) for n, m in machines.items()}
    assert host == {"interp": new, "nic": old}
    device_table = machines["nic"].device_maps()[name]
    assert int.from_bytes(device_table.user_lookup(KEY), "little") == new
    prog = case.program()
    pc = _write_pc(prog)
    div = Divergence(
        pc, prog.name, 0, (Difference(f"map {name}", tuple((n, hex(v)) for n, v in host.items())),)
    )
    ex = explanation(case, div)
    assert ex is not None and (ex.behaviour.id, ex.behaviour.number) == ("stale-host-reads", 2)
    assert ex.behaviour.benign
    assert explanation(case, div, profile=PUBLIC) is None  # no multi-entry cache: not this


@pytest.mark.parametrize(("case", "old", "new"), STALE_CASES)
def test_lockstep_dumps_see_the_datapaths_write(case: BehaviourProgram, old: int, new: int) -> None:
    """A dump starts with GETFIRST, which the driver never answers from its cache (only LOOKUP
    and GETNEXT), so lockstep's own map comparisons, whole dumps, agree."""
    engine, result = run_lockstep(case)
    assert result.divergence is None, differences(result.divergence)
    assert {n: _host_lookup(m, case.maps[0].name) for n, m in engine.machines.items()} == dict.fromkeys(
        NAMES, new
    )


@pytest.mark.parametrize(("case", "old", "new"), STALE_CASES)
def test_near_misses_of_the_stale_read(case: BehaviourProgram, old: int, new: int) -> None:
    """No dump before the write (nothing cached), or a lookup once the 250 µs are over: the
    host reads the device's new value."""
    name = case.maps[0].name
    fresh = _run_on_each(case, dump_first=False)
    assert {n: _host_lookup(m, name) for n, m in fresh.items()} == dict.fromkeys(NAMES, new)
    later = _run_on_each(case, dump_first=True)
    later["nic"].clock.message_ns += CACHE_TIME_NS + 1
    assert {n: _host_lookup(m, name) for n, m in later.items()} == dict.fromkeys(NAMES, new)


def test_datapath_map_writes_need_the_agilio_firmware() -> None:
    """Why the stale-read programs use nfp-agilio: the public firmware has no update helper
    (§4.11), so the offload refuses the program and lockstep cannot start."""
    from bpfdbg.lockstep import LoadMismatch

    case = BehaviourProgram(
        "update-public", UPDATE_FROM_DATAPATH.text, maps=UPDATE_FROM_DATAPATH.maps, profile=PUBLIC
    )
    with pytest.raises(LoadMismatch, match="not supported by FW"):
        run_lockstep(case)
    assert AGILIO == UPDATE_FROM_DATAPATH.profile
