"""Breakpoints, watchpoints and catchpoints through a Session on the sample programs.

Every expectation comes from an independent single-step trace of the same run (a fresh
session, no stop points, ``stepi`` to the end, recording what each position looks like):
a breakpoint must stop exactly at the trace positions where its pc is reached and its
condition holds, a watchpoint exactly after the instructions that change (or read) what it
watches, a catchpoint exactly before the matching calls or exits, forward and in reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from bpfdbg import expr
from bpfdbg.events import Stopped
from bpfdbg.session import Session
from emulator.asm import assemble
from emulator.isa.fields import PseudoSrc
from emulator.isa.insn import Insn
from emulator.program import Program

from .commands import err, ok

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
FIREWALL_PACKETS = 24
STOPS = ("breakpoint", "watchpoint", "catchpoint")
MASK = (1 << 64) - 1
LDX_SIZES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
FLETCHER_MEM = b"abcabcab"
# checkpoint intervals: the default (one interval per run) and a tiny one, so forward runs
# go in many chunks and reverse-continue searches many intervals
INTERVALS = [pytest.param({}, id="default-interval"), pytest.param({"history_interval": 3}, id="interval-3")]


# -- sessions -----------------------------------------------------------------------------------
def open_sample(name: str, packet: int = 0, prog: str | None = None, **settings: int) -> Session:
    session = Session.open(
        SAMPLES / f"{name}.o",
        prog=prog,
        pcap=SAMPLES / "pcaps" / f"{name}.pcap",
        maps=SAMPLES / "initial_maps.json",
        **settings,
    )
    session.select_packet(packet)
    return session


def open_fletcher(mem: bytes = FLETCHER_MEM, **settings: int) -> Session:
    session = Session.open(SAMPLES / "raw" / "fletcher16.bin", raw=True, **settings)
    session.set_mem(mem)
    return session


NULL_READ = """
r6 = 7
r2 = 0
r6 += 1
r0 = *(u8 *)(r2 + 0)
exit
"""


def open_null_reader() -> Session:
    return Session.from_program(Program.from_insns(assemble(NULL_READ), name="nullread"))


def collect(session: Session, first: Stopped) -> tuple[list[Stopped], Stopped]:
    """``first`` and the stops after it, continuing until the run ends."""
    stops: list[Stopped] = []
    stop = first
    while stop.reason in STOPS:
        stops.append(stop)
        assert session.live
        stop = session.cont()
    return stops, stop


def run_all_stops(session: Session) -> tuple[list[Stopped], Stopped]:
    return collect(session, session.run())


# -- the independent trace -------------------------------------------------------------------------
@dataclass(frozen=True)
class Pos:
    """The machine before the instruction at ``pc`` (``insns`` executed so far)."""

    insns: int
    pc: int
    program: str
    depth: int
    regs: tuple[int, ...]
    insn: Insn | None
    read: tuple[int, int] | None  # (address, size) an LDX here reads
    probe: object


Probe = Callable[[Session], object]


def no_probe(session: Session) -> object:
    return None


def fp16_byte(session: Session) -> object:
    return session.read(session.regs[10] - 16, 1)[0]


def fp16_u64(session: Session) -> object:
    return int.from_bytes(session.read(session.regs[10] - 16, 8), "little")


def counter0(session: Session) -> object:
    value = session.maps["fw_counters"].user_lookup(bytes(4))
    assert isinstance(value, bytes)
    return int.from_bytes(value[:8], "little"), int.from_bytes(value[8:16], "little")


def pkt_base(session: Session) -> object:
    return expr.as_int(session.evaluate("$pkt"))


def byte_at_pkt_22(session: Session) -> object:
    base = expr.as_int(session.evaluate("$pkt"))
    return base, session.read(base + 22, 1)[0]


def ldx_read(insn: Insn | None, regs: tuple[int, ...]) -> tuple[int, int] | None:
    if insn is None or insn.opcode & 0x07 != 0x01 or insn.opcode & 0xE0 not in (0x60, 0x80):
        return None
    return (regs[insn.src] + insn.off) & MASK, LDX_SIZES[insn.opcode & 0x18]


def trace_session(session: Session, probe: Probe = no_probe) -> tuple[list[Pos], Stopped]:
    assert len(session.stops) == 0
    session.start()
    out: list[Pos] = []
    while session.status == "stopped":
        pc, program = session.pc, session.current_program
        insn = session.program_named(program).insns[pc]
        regs = session.regs
        out.append(
            Pos(session.insns, pc, program, session.depth, regs, insn, ldx_read(insn, regs), probe(session))
        )
        session.stepi()
    assert session.last_stop is not None
    return out, session.last_stop


@cache
def trace(
    name: str, packet: int = 0, prog: str | None = None, probe: Probe = no_probe
) -> tuple[list[Pos], Stopped]:
    return trace_session(open_sample(name, packet, prog), probe)


@cache
def fletcher_trace(mem: bytes = FLETCHER_MEM) -> tuple[list[Pos], Stopped]:
    return trace_session(open_fletcher(mem))


def at(positions: list[Pos], pcs: set[int] | int, program: str | None = None) -> list[int]:
    wanted = {pcs} if isinstance(pcs, int) else pcs
    return [p.insns for p in positions if p.pc in wanted and (program is None or p.program == program)]


def is_helper_call(insn: Insn | None, helper: int | None = None) -> bool:
    return (
        insn is not None and insn.opcode == 0x85 and insn.src == 0 and (helper is None or insn.imm == helper)
    )


def changes(values: list[object]) -> list[int]:
    """Indices i where values[i + 1] differs from values[i]."""
    return [i for i in range(len(values) - 1) if values[i + 1] != values[i]]


# -- plain breakpoints ------------------------------------------------------------------------------
def test_trace_sanity() -> None:
    positions, end = trace("xdp_firewall", 0)
    assert [p.insns for p in positions] == list(range(len(positions)))
    assert end.reason == "exited" and end.action == "XDP_PASS" and end.insns == len(positions)
    positions, end = fletcher_trace()
    assert len(at(positions, 7)) == len(FLETCHER_MEM)


def test_breakpoint_stops_at_its_pc_with_the_state_of_the_trace() -> None:
    positions, end = trace("xdp_firewall", 0)
    first = next(p for p in positions if p.pc == 22)
    session = open_sample("xdp_firewall", 0)
    bp = session.break_at("*22")
    assert bp.hits == 0 and bp.where == "insn 22: xdp_firewall.c:130"
    stop = session.run()
    assert (stop.reason, stop.pc, stop.program, stop.insns, stop.number) == (
        "breakpoint", 22, "xdp_firewall", first.insns, bp.number,
    )  # fmt: skip
    assert stop.detail == "" and not stop.reverse
    assert session.live and session.pc == 22 and session.insns == first.insns
    assert session.regs == first.regs
    assert bp.hits == 1
    final = session.cont()
    assert (final.reason, final.action, final.insns) == ("exited", end.action, end.insns)
    assert bp.hits == 1


def test_breakpoint_on_an_inlined_line_stops_once_per_packet_and_counts_every_hit() -> None:
    session = open_sample("xdp_firewall", 0)
    ok(session, "break xdp_firewall.c:94")
    bp = session.stoppoint(1)
    pcs = {site.pc for site in bp.sites}
    assert len(pcs) == 13
    total = 0
    for packet in range(FIREWALL_PACKETS):
        positions, end = trace("xdp_firewall", packet)
        session.select_packet(packet)
        stops, final = run_all_stops(session)
        expected = at(positions, pcs)
        assert [s.insns for s in stops] == expected, packet
        assert all(s.number == 1 and s.pc in pcs for s in stops)
        assert (final.reason, final.action) == ("exited", end.action)
        total += len(expected)
        assert bp.hits == total
    assert total >= FIREWALL_PACKETS - 2


def test_breakpoint_by_source_line_command() -> None:
    positions, _ = trace("xdp_firewall", 0)
    session = open_sample("xdp_firewall", 0)
    assert ok(session, "break xdp_firewall.c:162") == ["Breakpoint 1 at insn 195: xdp_firewall.c:162"]
    lines = ok(session, "run")
    assert lines[0].startswith("Breakpoint 1, insn 195 in xdp_firewall ()")
    assert session.insns == at(positions, 195)[0]
    info = session.execute("info breakpoints").data
    assert info[0]["hits"] == 1 and info[0]["type"] == "breakpoint"


def test_breakpoint_at_the_entry_stops_run() -> None:
    positions, end = trace("xdp_firewall", 0)
    session = open_sample("xdp_firewall", 0)
    bp = session.break_at("xdp_firewall")
    stop = session.run()
    assert (stop.reason, stop.pc, stop.insns, stop.number) == ("breakpoint", 0, 0, bp.number)
    assert bp.hits == 1 and session.regs == positions[0].regs
    # continuing leaves the entry behind; the command does the same as the API
    assert session.cont().insns == end.insns
    lines = ok(session, "run")
    assert lines[0].startswith("Breakpoint 1, insn 0 in xdp_firewall ()")
    assert bp.hits == 2
    ok(session, "delete")
    ok(session, "tbreak xdp_firewall.c:115")
    assert session.run().detail == "temporary" and len(session.stops) == 0
    assert session.run().reason == "exited"


# -- conditions ---------------------------------------------------------------------------------------
# (condition, evaluated natively by the interpreter, holds(position, address of the input))
FLETCHER_CONDITIONS: list[tuple[str, bool, Callable[[Pos, int], bool]]] = [
    ("$r7 == 0x63", True, lambda p, mem: p.regs[7] == 0x63),
    ("0x62 == $r7", True, lambda p, mem: p.regs[7] == 0x62),
    ("$r7 & 1", True, lambda p, mem: p.regs[7] & 1 != 0),
    ("$r3 >= 0xc4", True, lambda p, mem: p.regs[3] >= 0xC4),
    ("*(u8 *)($r6 + 0) == 0x61", False, lambda p, mem: FLETCHER_MEM[p.regs[6] - mem] == 0x61),
    ("$r7 == 0x63 && $r5 > 4", False, lambda p, mem: p.regs[7] == 0x63 and p.regs[5] > 4),
]


@pytest.mark.parametrize("settings", INTERVALS)
@pytest.mark.parametrize(("condition", "guarded", "holds"), FLETCHER_CONDITIONS)
def test_conditional_breakpoint_in_a_loop_stops_exactly_when_true(
    condition: str, guarded: bool, holds: Callable[[Pos, int], bool], settings: dict[str, int]
) -> None:
    assert (expr.guard_of(condition) is not None) == guarded
    positions, _ = fletcher_trace()
    mem = positions[0].regs[1]  # raw programs get the input memory in r1
    expected = [p.insns for p in positions if p.pc == 7 and holds(p, mem)]
    assert 0 < len(expected) < len(at(positions, 7))
    session = open_fletcher(**settings)
    bp = session.break_at("*7", condition)
    stops, final = run_all_stops(session)
    assert [s.insns for s in stops] == expected
    assert all(s.pc == 7 and s.number == bp.number for s in stops)
    assert bp.hits == len(expected)
    assert final.reason == "exited"


@pytest.mark.parametrize(("condition", "guarded"), [("$r6 == 1", True), ("*(u8 *)($r10 - 16) == 2", False)])
def test_conditional_breakpoint_on_the_firewall_stops_exactly_when_true(
    condition: str, guarded: bool
) -> None:
    assert (expr.guard_of(condition) is not None) == guarded
    session = open_sample("xdp_firewall", 0)
    bp = session.break_at("xdp_firewall.c:94", condition)
    pcs = {site.pc for site in bp.sites}
    seen_true = seen_false = 0
    for packet in range(FIREWALL_PACKETS):
        positions, end = trace("xdp_firewall", packet, probe=fp16_byte)
        if guarded:
            expected = [p.insns for p in positions if p.pc in pcs and p.regs[6] == 1]
        else:
            expected = [p.insns for p in positions if p.pc in pcs and p.probe == 2]
        reached = at(positions, pcs)
        seen_true += len(expected)
        seen_false += len(reached) - len(expected)
        session.select_packet(packet)
        stops, final = run_all_stops(session)
        assert [s.insns for s in stops] == expected, packet
        assert (final.reason, final.action) == ("exited", end.action)
    assert seen_true >= 3 and seen_false >= 3
    assert bp.hits == seen_true


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("$r7 < -1", lambda r: r[7] < MASK),  # registers are u64: -1 is the largest value
        ("-1 > $r7", lambda r: r[7] < MASK),
        ("$r7 >= -200", lambda r: r[7] >= MASK - 199),
        ("$r7 == (s8)0xe3", lambda r: r[7] == MASK - 28),
        ("$r7 == 'c'", lambda r: r[7] == 0x63),
        ("$r7 == (u8)0x163", lambda r: r[7] == 0x63),
        ("$r5 == sizeof(int)", lambda r: r[5] == 4),
        ("$r7 & 0x2", lambda r: r[7] & 2 != 0),
    ],
)
def test_native_and_evaluated_conditions_agree(
    condition: str, holds: Callable[[tuple[int, ...]], bool]
) -> None:
    """The same condition run natively (guard_of) and by the evaluator (``&& 1`` defeats the
    guard) stops at the same crossings: the ones the trace says."""
    assert expr.guard_of(condition) is not None
    assert expr.guard_of(f"({condition}) && 1") is None
    positions, _ = fletcher_trace()
    expected = [p.insns for p in positions if p.pc == 7 and holds(p.regs)]
    for text in (condition, f"({condition}) && 1"):
        session = open_fletcher()
        session.break_at("*7", text)
        assert [s.insns for s in run_all_stops(session)[0]] == expected, text


def test_condition_that_cannot_be_evaluated_stops_with_the_error() -> None:
    session = open_fletcher()
    bp = session.break_at("*7", "*(u8 *)($r0 + 0) == 1")  # r0 is 0 in the loop: no memory there
    stop = session.run()
    assert (stop.reason, stop.pc, stop.number) == ("breakpoint", 7, bp.number)
    assert stop.detail.startswith(f"Error in testing condition for breakpoint {bp.number}: ")


# -- ignore counts, tbreak, enable/disable, delete, condition, continue N ------------------------------
def test_ignore_count_skips_crossings_and_counts_them() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    ok(session, "break *7")
    assert ok(session, "ignore 1 3") == ["Will ignore next 3 crossings of breakpoint 1."]
    assert session.execute("info breakpoints").data[0]["ignore"] == 3
    stop = session.run()
    assert (stop.reason, stop.insns) == ("breakpoint", crossings[3])
    bp = session.stoppoint(1)
    assert bp.hits == 4 and bp.ignore == 0
    assert session.cont().insns == crossings[4]
    assert bp.hits == 5
    assert ok(session, "ignore 1 1") == ["Will ignore next crossing of breakpoint 1."]
    assert session.cont().insns == crossings[6]
    assert ok(session, "ignore 1 0") == ["Will stop next time breakpoint 1 is reached."]
    assert session.cont().insns == crossings[7]
    assert session.cont().reason == "exited"
    assert bp.hits == 8


def test_ignore_count_with_a_guarded_condition_counts_only_true_crossings() -> None:
    positions, _ = fletcher_trace()
    true_at = [p.insns for p in positions if p.pc == 7 and p.regs[7] == 0x63]
    assert len(true_at) == 2
    session = open_fletcher()
    bp = session.break_at("*7", "$r7 == 0x63")
    ok(session, f"ignore {bp.number} 1")
    stops, final = run_all_stops(session)
    assert [s.insns for s in stops] == true_at[1:]
    assert bp.hits == 2 and final.reason == "exited"


def test_tbreak_is_deleted_after_it_fires() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    assert ok(session, "tbreak *7") == ["Temporary breakpoint 1 at insn 7"]
    info = session.execute("info breakpoints").data
    assert info[0]["temporary"] is True
    stop = session.run()
    assert (stop.reason, stop.insns, stop.number, stop.detail) == ("breakpoint", crossings[0], 1, "temporary")
    assert session.stops.get(1) is None
    assert ok(session, "info breakpoints") == ["No breakpoints or watchpoints."]
    assert session.cont().reason == "exited"


def test_conditional_tbreak_is_deleted_only_when_it_fires() -> None:
    positions, _ = fletcher_trace()
    true_at = [p.insns for p in positions if p.pc == 7 and p.regs[7] == 0x63]
    session = open_fletcher()
    ok(session, "tbreak *7 if $r7 == 0x63")
    ok(session, "break *13")
    stop = session.run()
    assert (stop.insns, stop.number) == (true_at[0], 1)
    assert session.stops.get(1) is None and session.stops.get(2) is not None
    stop = session.cont()
    assert (stop.pc, stop.number) == (13, 2)


def test_disable_and_enable() -> None:
    positions, _ = fletcher_trace()
    at7, at12 = at(positions, 7), at(positions, 12)
    session = open_fletcher()
    ok(session, "break *7")
    ok(session, "break *12")
    ok(session, "disable 1")
    assert [p["enabled"] for p in session.execute("info breakpoints").data] == [False, True]
    stop = session.run()
    assert (stop.number, stop.insns) == (2, at12[0])
    assert session.cont().insns == at12[1]
    ok(session, "enable 1")
    here = session.insns
    stop = session.cont()
    assert (stop.number, stop.insns) == (1, min(x for x in at7 if x > here))
    ok(session, "disable")
    assert session.cont().reason == "exited"
    ok(session, "enable")
    stops, _ = run_all_stops(session)
    assert [s.insns for s in stops] == sorted(at7 + at12)


def test_enable_once_disables_after_the_next_stop() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    ok(session, "break *7")
    ok(session, "disable 1")
    ok(session, "enable once 1")
    stop = session.run()
    assert (stop.number, stop.insns) == (1, crossings[0])
    bp = session.stops.get(1)
    assert bp is not None and not bp.enabled
    assert session.execute("info breakpoints").data[0]["enabled"] is False
    assert session.cont().reason == "exited"
    # enabled again (without once), it stays enabled
    ok(session, "enable 1")
    stops, _ = run_all_stops(session)
    assert [s.insns for s in stops] == crossings


def test_delete() -> None:
    positions, _ = fletcher_trace()
    at7, at12 = at(positions, 7), at(positions, 12)
    session = open_fletcher()
    ok(session, "break *7")
    ok(session, "break *12")
    ok(session, "break *13")
    stop = session.run()
    assert (stop.number, stop.insns) == (1, at7[0])
    ok(session, "delete 1")
    assert session.stops.get(1) is None
    stop = session.cont()
    assert (stop.number, stop.insns) == (2, at12[0])
    ok(session, "delete 2-3")
    assert len(session.stops) == 0
    assert session.cont().reason == "exited"
    ok(session, "break *7")
    ok(session, "delete")
    assert ok(session, "info breakpoints") == ["No breakpoints or watchpoints."]


def test_condition_on_the_breakpoint_stopped_at() -> None:
    positions, _ = fletcher_trace()
    crossings = [p for p in positions if p.pc == 7]
    session = open_fletcher()
    ok(session, "break *7")
    assert session.run().insns == crossings[0].insns
    assert ok(session, "condition 1 $r7 == 0x63") == ["Breakpoint 1 stops only if $r7 == 0x63."]
    true_after = [p.insns for p in crossings[1:] if p.regs[7] == 0x63]
    assert session.cont().insns == true_after[0]
    assert ok(session, "condition 1") == ["Breakpoint 1 now unconditional."]
    assert session.stoppoint(1).condition is None
    assert session.cont().insns == min(p.insns for p in crossings if p.insns > true_after[0])
    # a bad condition is refused and the old one kept
    ok(session, "condition 1 $r7 == 1")
    assert err(session, "condition 1 $r7 ==").startswith("bad condition '$r7 =='")
    assert session.stoppoint(1).condition == "$r7 == 1"


def test_continue_n_ignores_the_breakpoint_n_minus_1_more_times() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    ok(session, "break *7")
    assert session.run().insns == crossings[0]
    stop = session.cont(3)
    assert (stop.insns, stop.number) == (crossings[3], 1)
    assert session.stoppoint(1).hits == 4
    ok(session, "continue 2")
    assert session.insns == crossings[5]
    lines = ok(session, "continue 100")
    assert session.status == "exited", lines
    assert session.stoppoint(1).hits == 8


# -- subprograms and tail calls ------------------------------------------------------------------
def test_breakpoint_in_a_subprogram() -> None:
    for packet in (0, 6, 9):
        positions, end = trace("xdp_subprog_globals", packet)
        session = open_sample("xdp_subprog_globals", packet)
        entry = session.break_at("port_in_table")
        inside = session.break_at("*150")  # in classify
        assert entry.sites[0].pc == 173
        stops, final = run_all_stops(session)
        expected = [(p.insns, p.pc, p.depth) for p in positions if p.pc in (150, 173)]
        assert [(s.insns, s.pc) for s in stops] == [(i, pc) for i, pc, _ in expected], packet
        assert all(d > 0 for _, _, d in expected)
        assert entry.hits == len(at(positions, 173)) and inside.hits == len(at(positions, 150))
        assert final.action == end.action


def test_breakpoint_depth_and_frames_in_a_subprogram() -> None:
    positions, _ = trace("xdp_subprog_globals", 0)
    first = next(p for p in positions if p.pc == 173)
    session = open_sample("xdp_subprog_globals", 0)
    ok(session, "break port_in_table")
    session.run()
    assert (session.insns, session.depth, session.regs) == (first.insns, first.depth, first.regs)
    assert session.frames()[0][1] == "port_in_table"


@pytest.mark.parametrize("settings", INTERVALS)
def test_breakpoint_in_a_tail_called_program_fires_only_there(settings: dict[str, int]) -> None:
    positions, end = trace("xdp_tailcall", 0, "xdp_dispatch")
    programs = {p.program for p in positions}
    assert programs == {"xdp_dispatch", "handle_ipv4", "handle_tcp"}
    # an instruction number every program of the chain executes
    shared = sorted(
        {p.pc for p in positions if p.program == "xdp_dispatch"}
        & {p.pc for p in positions if p.program == "handle_tcp"}
        & {p.pc for p in positions if p.program == "handle_ipv4"}
    )
    assert shared
    pc = shared[len(shared) // 2]
    for spec, program in ((f"handle_tcp:{pc}", "handle_tcp"), (f"*{pc}", "xdp_dispatch"),
                          (f"*handle_ipv4:{pc}", "handle_ipv4")):  # fmt: skip
        session = open_sample("xdp_tailcall", 0, "xdp_dispatch", **settings)
        bp = session.break_at(spec)
        stops, final = run_all_stops(session)
        expected = at(positions, pc, program)
        assert expected and [s.insns for s in stops] == expected, spec
        assert all((s.program, s.pc) == (program, pc) for s in stops)
        assert bp.hits == len(expected)
        assert final.action == end.action
        # and back: reverse-continue meets the same hits, latest first, in the same program
        back = []
        while (stop := session.reverse_continue()).reason == "breakpoint":
            assert (stop.program, stop.pc, session.current_program) == (program, pc, program)
            back.append(session.insns)
        assert back == list(reversed(expected)) and stop.reason == "history-start"


def test_breakpoint_at_a_tail_call_target_entry() -> None:
    for packet, target in ((0, "handle_tcp"), (9, "handle_tcp"), (5, "handle_udp"), (13, None)):
        positions, _ = trace("xdp_tailcall", packet, "xdp_dispatch")
        session = open_sample("xdp_tailcall", packet, "xdp_dispatch")
        ok(session, "break handle_tcp")
        ok(session, "break handle_udp")
        stops, _ = run_all_stops(session)
        expected = [
            (p.program, p.insns) for p in positions if p.pc == 0 and p.program in ("handle_tcp", "handle_udp")
        ]
        assert [(s.program, s.insns) for s in stops] == expected
        assert [s.program for s in stops] == ([] if target is None else [target])


# -- catchpoints -------------------------------------------------------------------------------------
def test_catch_helper_stops_before_every_helper_call() -> None:
    for packet in (0, 6, 13, 19):
        positions, end = trace("xdp_firewall", packet)
        calls = [p for p in positions if is_helper_call(p.insn)]
        assert calls
        for spec in ("catch helper", "catch helper bpf_map_lookup_elem", "catch helper map_lookup_elem 1"):
            session = open_sample("xdp_firewall", packet)
            ok(session, spec)
            stops, final = run_all_stops(session)
            assert [(s.insns, s.pc) for s in stops] == [(p.insns, p.pc) for p in calls], (packet, spec)
            assert all(s.reason == "catchpoint" and s.detail == "helper bpf_map_lookup_elem" for s in stops)
            assert session.stoppoint(1).hits == len(calls)
            assert final.action == end.action
    session = open_sample("xdp_firewall", 0)
    assert ok(session, "catch helper bpf_ktime_get_ns") == ["Catchpoint 1 (helper bpf_ktime_get_ns)"]
    assert session.run().reason == "exited"


def map_of_calls(positions: list[Pos], obj_maps: list[str]) -> list[tuple[Pos, str]]:
    """Each helper call with the map its r1 names, found from the lddw that loaded it."""
    pointers: dict[int, str] = {}
    for here, after in zip(positions, positions[1:], strict=False):
        insn = here.insn
        if insn is not None and insn.opcode == 0x18 and insn.src == PseudoSrc.MAP_IDX:
            pointers[after.regs[insn.dst]] = obj_maps[insn.imm]
    return [(p, pointers.get(p.regs[1], "?")) for p in positions if is_helper_call(p.insn)]


def test_catch_map_name_and_operation() -> None:
    session = open_sample("xdp_firewall", 0)
    assert session.obj is not None
    names = [m.name for m in session.obj.maps]
    for packet in (0, 2, 13):
        positions, _ = trace("xdp_firewall", packet)
        calls = map_of_calls(positions, names)
        for spec, wanted in (
            ("catch map fw_counters lookup", "fw_counters"),
            ("catch map fw_rules", "fw_rules"),
            ("catch map lookup", None),
            ("catch map", None),
        ):
            session = open_sample("xdp_firewall", packet)
            ok(session, spec)
            stops, _ = run_all_stops(session)
            expected = [p.insns for p, name in calls if wanted is None or name == wanted]
            assert [s.insns for s in stops] == expected, (packet, spec)
            for s, (_, name) in zip(
                stops, [c for c in calls if wanted is None or c[1] == wanted], strict=True
            ):
                assert s.detail == f"map call bpf_map_lookup_elem on map_ptr({name})"
        rules = [p for p, name in calls if name == "fw_rules"]
        assert (len(rules) > 0) == (packet != 13)
    session = open_sample("xdp_firewall", 0)
    ok(session, "catch map fw_rules update delete")
    assert session.run().reason == "exited"


def test_catch_map_name_when_stepping_and_in_reverse() -> None:
    """Where the interpreter cannot pre-filter on r1: single steps, a watchpoint forcing them,
    and reverse-continue's replay."""
    session = open_sample("xdp_firewall", 2)
    assert session.obj is not None
    positions, _ = trace("xdp_firewall", 2)
    calls = map_of_calls(positions, [m.name for m in session.obj.maps])
    rules = [p.insns for p, name in calls if name == "fw_rules"]
    counters = [p.insns for p, name in calls if name == "fw_counters"]
    assert rules and counters
    ok(session, "catch map fw_rules")
    session.start()
    stepped = []
    while session.live:
        stop = session.stepi()
        if stop.reason == "catchpoint":
            stepped.append(stop.insns)
    assert stepped == rules
    session.start()
    ok(session, "watch $r9 + 1000")  # changes now and then: forces single steps
    stops, _ = collect(session, session.cont())
    assert [s.insns for s in stops if s.reason == "catchpoint"] == rules
    ok(session, "delete")
    ok(session, "catch map fw_counters")
    back = []
    while (stop := session.reverse_continue()).reason == "catchpoint":
        back.append(stop.insns)
    assert back == list(reversed(counters))


def test_catch_tailcall() -> None:
    for packet in (0, 8, 13, 14):
        positions, end = trace("xdp_tailcall", packet, "xdp_dispatch")
        calls = [p for p in positions if is_helper_call(p.insn, 12)]
        session = open_sample("xdp_tailcall", packet, "xdp_dispatch")
        assert ok(session, "catch tailcall") == ["Catchpoint 1 (tailcall)"]
        stops, final = run_all_stops(session)
        assert [(s.program, s.insns) for s in stops] == [(p.program, p.insns) for p in calls], packet
        for s, p in zip(stops, calls, strict=True):
            assert s.detail == f"tail call through map_ptr(jmp_table) index {p.regs[3] & 0xFFFFFFFF}"
        assert final.action == end.action
    # ARP (#13) tail-calls an empty slot and carries on; LLDP (#14) has no slot at all
    assert len([p for p in trace("xdp_tailcall", 13, "xdp_dispatch")[0] if is_helper_call(p.insn, 12)]) == 1
    assert not [p for p in trace("xdp_tailcall", 14, "xdp_dispatch")[0] if is_helper_call(p.insn, 12)]


@pytest.mark.parametrize(
    ("spec", "wanted"), [("XDP_DROP", {1}), ("xdp_pass", {2}), ("1 2", {1, 2}), ("", None)]
)
def test_catch_exit_with_actions(spec: str, wanted: set[int] | None) -> None:
    session = open_sample("xdp_firewall", 0)
    ok(session, f"catch exit {spec}".strip())
    caught = 0
    for packet in range(FIREWALL_PACKETS):
        positions, end = trace("xdp_firewall", packet)
        session.select_packet(packet)
        stops, final = run_all_stops(session)
        assert end.retval is not None
        if wanted is None or end.retval in wanted:
            last = positions[-1]
            assert [(s.reason, s.insns, s.pc) for s in stops] == [("catchpoint", last.insns, last.pc)]
            assert last.insn is not None and last.insn.opcode == 0x95
            assert stops[0].detail == f"exit with r0 = {end.retval:#x} ({end.action})"
            caught += 1
        else:
            assert stops == []
        assert (final.reason, final.action, final.insns) == ("exited", end.action, end.insns)
    assert 0 < caught <= FIREWALL_PACKETS
    assert caught == FIREWALL_PACKETS or wanted is not None


@pytest.mark.parametrize(("name", "packet"), [("xdp_subprog_globals", 0), ("xdp_loop_parser", 12)])
def test_catch_exit_ignores_subprogram_and_callback_returns(name: str, packet: int) -> None:
    """bpf-to-bpf returns and bpf_loop callback returns are exits at depth > 0: not caught."""
    positions, end = trace(name, packet)
    exits = [p for p in positions if p.insn is not None and p.insn.opcode == 0x95]
    assert len(exits) > 1 and [p.depth for p in exits][-1] == 0 and all(p.depth > 0 for p in exits[:-1])
    session = open_sample(name, packet)
    ok(session, "catch exit")
    stops, final = run_all_stops(session)
    assert [s.insns for s in stops] == [exits[-1].insns]
    assert final.action == end.action
    assert [s.insns for s in run_all_stops(session)[0]] == [exits[-1].insns]
    assert session.reverse_continue().insns == exits[-1].insns


def test_catch_helper_inside_a_bpf_loop_callback() -> None:
    positions, _ = trace("xdp_loop_parser", 12)
    calls = [p for p in positions if is_helper_call(p.insn)]
    assert {p.depth for p in calls} == {0, 1}
    session = open_sample("xdp_loop_parser", 12)
    ok(session, "catch helper map_lookup_elem")
    stops, _ = run_all_stops(session)
    assert [s.insns for s in stops] == [p.insns for p in calls if p.insn is not None and p.insn.imm == 1]


def test_catch_fault_stops_live_before_the_faulting_instruction() -> None:
    positions, end = trace_session(open_null_reader())
    assert end.reason == "faulted" and end.fault is not None
    faulting = positions[-1]
    assert faulting.insns == end.insns and faulting.pc == end.pc == 3
    session = open_null_reader()
    assert ok(session, "catch fault") == ["Catchpoint 1 (fault)"]
    stop = session.run()
    assert (stop.reason, stop.pc, stop.insns, stop.number) == ("catchpoint", 3, faulting.insns, 1)
    assert stop.detail == f"fault: {end.fault}"
    assert stop.fault is None and session.status == "stopped" and session.live
    assert session.regs == faulting.regs and session.regs[6] == 8
    after = session.stepi()
    assert (after.reason, after.pc, after.fault) == ("faulted", 3, end.fault)
    assert session.status == "faulted" and not session.live
    # going back reaches the live machine before the instruction: the catchpoint is met again
    back = session.reverse_stepi()
    assert (back.insns, session.status) == (faulting.insns, "stopped")
    assert (session.cont().reason, session.insns) == ("catchpoint", faulting.insns)
    assert session.cont().reason == "faulted"
    assert session.stoppoint(1).hits == 2


def test_catch_fault_from_raw_bytes_and_continue() -> None:
    prog = Program.from_bytes(Program.from_insns(assemble(NULL_READ)).encode(), name="bytes")
    session = Session.from_program(prog)
    ok(session, "catch fault")
    ok(session, "break *1")
    stop = session.run()
    assert (stop.reason, stop.pc) == ("breakpoint", 1)
    stop = session.cont()
    assert (stop.reason, stop.pc, stop.insns) == ("catchpoint", 3, 3)
    assert session.cont().reason == "faulted"
    # without the catchpoint the run just faults
    ok(session, "delete")
    assert session.run().reason == "faulted"


# -- watchpoints ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", INTERVALS)
def test_watch_a_register(settings: dict[str, int]) -> None:
    positions, end = fletcher_trace()
    values = [p.regs[3] for p in positions]
    expected = [(i + 1, values[i], values[i + 1]) for i in changes(values)]
    assert len(expected) > 5
    session = open_fletcher(**settings)
    session.start()
    assert ok(session, "watch $r3") == ["Watchpoint 1: $r3"]
    stops, final = collect(session, session.cont())
    assert [s.insns for s in stops] == [e[0] for e in expected]
    for s, (_, old, new) in zip(stops, expected, strict=True):
        assert (s.reason, s.number, s.detail) == ("watchpoint", 1, f"Old value = {old}\nNew value = {new}")
    assert session.stoppoint(1).hits == len(expected)
    assert final.retval == end.retval


def test_watch_with_a_condition() -> None:
    positions, _ = fletcher_trace()
    values = [p.regs[3] for p in positions]
    expected = [i + 1 for i in changes(values) if values[i + 1] > 0x80]
    session = open_fletcher()
    session.start()
    ok(session, "watch $r3 if $r3 > 0x80")
    stops, _ = collect(session, session.cont())
    assert [s.insns for s in stops] == expected


def test_watch_with_a_bad_condition_adds_nothing() -> None:
    session = open_fletcher()
    session.start()
    assert err(session, "watch $r3 if $r3 ==").startswith("bad condition")
    assert len(session.stops) == 0


@pytest.mark.parametrize("settings", INTERVALS)
def test_watch_stack_memory(settings: dict[str, int]) -> None:
    positions, end = trace("xdp_firewall", 0, probe=fp16_u64)
    values = [p.probe for p in positions]
    expected = [(i + 1, values[i], values[i + 1]) for i in changes(values)]
    assert len(expected) >= 3
    session = open_sample("xdp_firewall", 0, **settings)
    session.start()
    ok(session, "watch *(u64 *)($r10 - 16)")
    stops, final = collect(session, session.cont())
    assert [(s.insns, s.detail) for s in stops] == [
        (i, f"Old value = {old}\nNew value = {new}") for i, old, new in expected
    ]
    assert final.action == end.action


def test_watch_a_map_value() -> None:
    positions, end = trace("xdp_firewall", 0, probe=counter0)
    values = [p.probe for p in positions]
    expected = [(i + 1, values[i], values[i + 1]) for i in changes(values)]
    session = open_sample("xdp_firewall", 0)
    length = len(session.input_packet or b"")
    # frame #0 passes by the default policy: slot 0 gets one packet, then its bytes
    assert [(old, new) for _, old, new in expected] == [((0, 0), (1, 0)), ((1, 0), (1, length))]
    session.start()
    assert ok(session, "watch map fw_counters[0]") == ["Watchpoint 1: fw_counters[0]"]
    stops, final = collect(session, session.cont())
    assert [s.insns for s in stops] == [i for i, _, _ in expected]
    for s, (_, old, new) in zip(stops, expected, strict=True):
        old_text = f"{{packets = {old[0]}, bytes = {old[1]}}}"
        new_text = f"{{packets = {new[0]}, bytes = {new[1]}}}"
        assert s.detail == f"Old value = {old_text}\nNew value = {new_text}"
    assert final.action == "XDP_PASS"
    # maps carry over: the next run starts from {1, 74}
    stops, _ = collect(session, session.run())
    assert stops[0].detail.startswith(f"Old value = {{packets = 1, bytes = {length}}}")


def ethertype_ipv4_entry(session: Session) -> object:
    value = session.maps["ethertype_stats"].user_lookup((0x0800).to_bytes(2, "little"))
    return value if isinstance(value, bytes) else None


def test_watch_a_map_key_until_it_appears() -> None:
    positions, _ = trace("xdp_percpu_counter", 0, probe=ethertype_ipv4_entry)
    assert positions[0].probe is None
    appears = next(p.insns for p in positions if p.probe is not None)
    session = open_sample("xdp_percpu_counter", 0)
    session.start()
    ok(session, "watch map ethertype_stats[0x0800]")
    stop = session.cont()
    assert (stop.reason, stop.insns) == ("watchpoint", appears)
    assert stop.detail.endswith("New value = 1")


def test_watch_map_requires_a_key() -> None:
    session = open_sample("xdp_firewall", 0)
    session.start()
    assert err(session, "watch map fw_counters") == "watch map needs a key: watch map NAME[KEY]"


def test_rwatch_on_packet_bytes() -> None:
    positions, end = trace("xdp_firewall", 0, probe=pkt_base)
    base = positions[0].probe
    assert isinstance(base, int)
    reads = [
        p.insns for p in positions if p.read and p.read[0] < base + 14 and base + 12 < p.read[0] + p.read[1]
    ]
    assert len(reads) == 2
    packet = open_sample("xdp_firewall", 0).input_packet
    assert packet is not None
    value = int.from_bytes(packet[12:14], "little")
    for mode in ("rwatch", "awatch"):
        session = open_sample("xdp_firewall", 0)
        session.start()
        assert ok(session, f"{mode} *(u16 *)($pkt + 12)")[0].endswith(": *(u16 *)($pkt + 12)")
        stops, final = collect(session, session.cont())
        assert [(s.insns, s.detail) for s in stops] == [(i + 1, f"Value = {value}") for i in reads], mode
        assert final.action == end.action
    session = open_sample("xdp_firewall", 0)
    session.start()
    assert err(session, "rwatch $r1").startswith("rwatch needs memory to watch")


def test_awatch_on_packet_bytes_that_are_read_and_written() -> None:
    positions, end = trace("tc_p4_shaped", 0, probe=byte_at_pkt_22)
    base = positions[0].probe[0]  # type: ignore[index]
    assert all(p.probe[0] == base for p in positions)  # type: ignore[index]
    values = [p.probe[1] for p in positions]  # type: ignore[index]
    reads = {p.insns for p in positions if p.read and p.read[0] <= base + 22 < p.read[0] + p.read[1]}
    changed = set(changes(values))
    assert reads and changed
    expected = []
    for i in sorted(reads | changed):
        if i in changed:
            expected.append((i + 1, f"Old value = {values[i]}\nNew value = {values[i + 1]}"))
        else:
            expected.append((i + 1, f"Value = {values[i + 1]}"))
    session = open_sample("tc_p4_shaped", 0)
    session.start()
    ok(session, "awatch *(u8 *)($pkt + 22)")
    stops, final = collect(session, session.cont())
    assert [(s.insns, s.detail) for s in stops] == expected
    assert final.retval == end.retval
    # rwatch sees the reads only
    session = open_sample("tc_p4_shaped", 0)
    session.start()
    ok(session, "rwatch *(u8 *)($pkt + 22)")
    stops, _ = collect(session, session.cont())
    assert [s.insns for s in stops] == [i + 1 for i in sorted(reads)]


# -- reverse-continue ---------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", INTERVALS)
def test_reverse_continue_to_previous_breakpoint_hits(settings: dict[str, int]) -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher(**settings)
    ok(session, "break *7")
    stops, final = run_all_stops(session)
    assert [s.insns for s in stops] == crossings and final.reason == "exited"
    for expected in reversed(crossings):
        stop = session.reverse_continue()
        assert (stop.reason, stop.number, stop.pc, stop.reverse) == ("breakpoint", 1, 7, True)
        assert session.insns == expected and session.live
    stop = session.reverse_continue()
    assert (stop.reason, stop.insns, stop.pc) == ("history-start", 0, 0)
    assert session.insns == 0
    # and forward again from the start
    assert session.cont().insns == crossings[0]


def test_reverse_continue_from_a_hit_then_forward_again() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    ok(session, "break *7")
    session.run()
    session.cont(4)
    assert session.insns == crossings[4]
    assert session.reverse_continue().insns == crossings[3]
    assert session.reverse_continue().insns == crossings[2]
    assert session.cont().insns == crossings[3]


@pytest.mark.parametrize("settings", INTERVALS)
def test_reverse_continue_honours_conditions(settings: dict[str, int]) -> None:
    positions, _ = fletcher_trace()
    true_at = [p.insns for p in positions if p.pc == 7 and p.regs[7] == 0x63]
    for condition in ("$r7 == 0x63", "$r7 + 0 == 0x63"):
        session = open_fletcher(**settings)
        session.run()
        assert session.status == "exited"
        session.break_at("*7", condition)
        assert [session.reverse_continue().insns for _ in true_at] == list(reversed(true_at))
        assert session.reverse_continue().reason == "history-start"


@pytest.mark.parametrize("settings", INTERVALS)
def test_reverse_continue_to_watch_changes(settings: dict[str, int]) -> None:
    positions, _ = trace("xdp_firewall", 0, probe=fp16_u64)
    values = [p.probe for p in positions]
    changed = changes(values)
    session = open_sample("xdp_firewall", 0, **settings)
    assert session.run().reason == "exited"
    ok(session, "watch *(u64 *)($r10 - 16)")
    for i in reversed(changed):
        stop = session.reverse_continue()
        assert (stop.reason, stop.number, stop.reverse) == ("watchpoint", 1, True)
        # stopped before the instruction that made the change; values shown as seen going back
        assert session.insns == i and stop.pc == positions[i].pc
        assert stop.detail == f"Old value = {values[i + 1]}\nNew value = {values[i]}"
    stop = session.reverse_continue()
    assert (stop.reason, session.insns) == ("history-start", 0)
    # forward from there meets the first change again, after its instruction
    stop = session.cont()
    assert (stop.reason, stop.insns) == ("watchpoint", changed[0] + 1)
    assert stop.detail == f"Old value = {values[changed[0]]}\nNew value = {values[changed[0] + 1]}"


@pytest.mark.parametrize("settings", INTERVALS)
def test_reverse_continue_to_catchpoints(settings: dict[str, int]) -> None:
    positions, _ = trace("xdp_firewall", 0)
    calls = [p.insns for p in positions if is_helper_call(p.insn)]
    exit_at = positions[-1].insns
    session = open_sample("xdp_firewall", 0, **settings)
    ok(session, "catch helper")
    ok(session, "catch exit")
    stops, final = run_all_stops(session)
    assert [s.insns for s in stops] == [*calls, exit_at] and final.reason == "exited"
    stop = session.reverse_continue()
    assert (stop.reason, stop.number, session.insns) == ("catchpoint", 2, exit_at)
    assert stop.detail == "exit with r0 = 0x2 (XDP_PASS)"
    for expected in reversed(calls):
        stop = session.reverse_continue()
        assert (stop.reason, stop.number, session.insns) == ("catchpoint", 1, expected)
        assert stop.detail == "helper bpf_map_lookup_elem"
    assert session.reverse_continue().reason == "history-start"


@pytest.mark.parametrize("settings", INTERVALS)
def test_reverse_continue_picks_the_latest_of_breakpoints_and_watches(settings: dict[str, int]) -> None:
    positions, _ = fletcher_trace()
    at12 = at(positions, 12)
    values = [p.regs[4] for p in positions]
    watch_at = changes(values)
    session = open_fletcher(**settings)
    session.run()
    ok(session, "break *12")
    ok(session, "watch $r4")
    events = sorted([(i, "breakpoint") for i in at12] + [(i, "watchpoint") for i in watch_at])
    for position, reason in reversed(events):
        stop = session.reverse_continue()
        assert (session.insns, stop.reason) == (position, reason)
    assert session.reverse_continue().reason == "history-start"


def test_reverse_continue_without_stop_points_goes_to_the_start() -> None:
    session = open_sample("xdp_firewall", 0)
    session.run()
    stop = session.reverse_continue()
    assert (stop.reason, stop.pc, stop.insns, stop.reverse) == ("history-start", 0, 0, True)
    assert session.live
    # only later hits: also the start
    positions, _ = trace("xdp_firewall", 0)
    session.start()
    session.stepi(10)
    session.break_at("*20")
    assert at(positions, 20)[0] > 10
    assert session.reverse_continue().reason == "history-start"
    assert session.insns == 0


def test_reverse_continue_skips_disabled_points() -> None:
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    session.run()
    ok(session, "break *7")
    ok(session, "catch exit")
    ok(session, "disable")
    assert session.reverse_continue().reason == "history-start"
    session.run()
    ok(session, "enable 1")
    assert session.reverse_continue().insns == crossings[-1]


# -- error messages of the commands -------------------------------------------------------------------
def test_command_errors_are_one_line() -> None:
    session = open_sample("xdp_firewall", 0)
    assert err(session, "break nosuchfunc") == "function 'nosuchfunc' not defined; functions: xdp_firewall"
    assert err(session, "condition 99 x") == "no breakpoint number 99"
    assert err(session, "watch") == "watch needs an expression"
    assert err(session, "catch helper nosuchhelper") == "unknown helper 'nosuchhelper'"
    assert err(session, "break *9999") == "no instruction 9999 in xdp_firewall (it has 226 slots, 0-225)"
    assert err(session, "break *14").endswith("use *13")
    assert (
        err(session, "break +1")
        == "+1 is relative to the current instruction, and the program is not running"
    )
    assert err(session, "break").startswith("break needs a location")
    assert err(session, "ignore 99 1") == "no breakpoint number 99"
    assert err(session, "catch map nosuch") == "no map 'nosuch'; maps: fw_rules, fw_counters"
    assert err(session, "catch exit FOO").startswith("unknown action 'FOO'; use XDP_ABORTED, XDP_DROP")
    assert err(session, "catch fault now") == "catch fault takes no arguments"
    assert err(session, "break *15 if $r1 ==").startswith("bad condition '$r1 =='")
    assert len(session.stops) == 0
    assert err(session, "watch $r1") == 'The program is not being run. Use "start" or "run".'
    session.start()
    assert err(session, "watch $r99").startswith("cannot watch '$r99'")
    assert len(session.stops) == 0


def test_two_breakpoints_at_one_instruction_both_count_the_hit() -> None:
    """gdb counts a hit on every breakpoint at the instruction and reports the lowest number;
    the others' ignore counts are used up by the same crossing."""
    crossings = at(fletcher_trace()[0], 7)
    session = open_fletcher()
    first = session.break_at("*7")
    second = session.break_at("*7")
    stop = session.run()
    assert stop.number == first.number
    assert (first.hits, second.hits) == (1, 1)
    ok(session, "ignore 2 2")
    ok(session, "disable 1")
    stop = session.cont()
    assert (stop.number, stop.insns) == (2, crossings[3])
    assert (first.hits, second.hits) == (1, 4)
    ok(session, "enable 1")
    ok(session, "ignore 2 1")
    ok(session, "ignore 1 1")
    stop = session.cont()  # crossing 5: both ignore it; crossing 6: both fire, 1 reported
    assert (stop.number, stop.insns) == (1, crossings[5])
    assert (first.hits, second.hits) == (3, 6)


@pytest.mark.parametrize("command", ["nexti", "until", "next"])
def test_stepping_over_a_call_counts_a_breakpoint_at_the_return_point_once(command: str) -> None:
    """Stepping over the call at insn 10 of xdp_subprog_globals returns to insn 11: a
    breakpoint there is reached once, so one crossing uses up an ignore count of 1."""
    session = open_sample("xdp_subprog_globals")
    session.break_at("*10")
    session.run()
    assert session.pc == 10
    point = session.break_at("*11")
    point.ignore = 1
    stop = getattr(session, command)()
    assert point.hits == 1
    assert point.ignore == 0
    assert not (stop.reason == "breakpoint" and stop.number == point.number)


@pytest.mark.parametrize(
    ("name", "packet", "watched"),
    [
        ("xdp_firewall", 1, "fw_counters[5].packets"),  # changed by an atomic add into a map value
        ("xdp_firewall", 1, "*(u32 *)($r10 - 12)"),  # stack memory through a register
        ("xdp_subprog_globals", 0, "pkts_seen"),  # a C global, written through a map value pointer
        ("xdp_lb", 1, "*(u8 *)($pkt + 22)"),  # packet bytes (the TTL the balancer rewrites)
        ("xdp_percpu_counter", 0, "$r0 + $r6"),  # a computed expression of two registers
        ("xdp_loop_parser", 10, "$pc > 200"),  # depends on the pc: re-evaluated every step
    ],
)
def test_watch_stops_exactly_where_a_naive_evaluation_sees_the_value_change(
    name: str, packet: int, watched: str
) -> None:
    """The watchpoint skips re-evaluating after steps that cannot change the value; it must
    still stop at every change a step-by-step evaluation sees, and nowhere else."""
    naive = open_sample(name, packet)
    naive.start()
    changes = []
    before = str(naive.evaluate(watched))
    while naive.live:
        naive.stepi()
        try:
            now = str(naive.evaluate(watched))
        except expr.EvalError as error:
            now = f"<{error}>"
        if now != before:
            changes.append(naive.insns)
            before = now
    session = open_sample(name, packet)
    session.start()
    session.watch(watched)
    stops = []
    while True:
        stop = session.cont()
        if stop.reason != "watchpoint":
            break
        stops.append(session.insns)
    assert stops == changes
