"""The presenters without Textual: SessionViews built by ViewBuilder from real sessions on
the sample programs, and hand-built views, turned into the panes' lines.

Every marker is checked as a character (what NO_COLOR still shows) and, where the meaning
is carried by style too, as the style of that character.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest
from rich.text import Text

from bpfdbg.render.packet import READ, WRITE
from bpfdbg.session import Session
from bpfdbg.view import (
    BackendView,
    CodeRow,
    CodeView,
    MapEntryRow,
    MapView,
    PacketRow,
    PacketView,
    RegisterRow,
    SessionView,
    SourceView,
    StackSlot,
    StackView,
    StopRow,
    ViewBuilder,
    empty_view,
)
from tests.tui.sessions import ENDLESS, NULL_READ, ROOT, raw, sample, text_of
from tui import presenters as P


# -- helpers ------------------------------------------------------------------------------------
def styles_at(text: Text, index: int) -> set[str]:
    """The style names covering character ``index`` of ``text`` (spans and the base style)."""
    out = {str(text.style)} if text.style else set()
    for span in text.spans:
        if span.start <= index < span.end:
            out.add(str(span.style))
    return out


def row_of(lines: P.Lines, target: object) -> str:
    return lines.lines[lines.cursor_of[target]].plain


def built(session: Session, *commands: str) -> SessionView:
    for line in commands:
        result = session.execute(line)
        assert result.ok, (line, result.error)
    return ViewBuilder(session).build()


def step_until(session: Session, builder: ViewBuilder, ok: object, limit: int = 400) -> SessionView:
    """stepi until ``ok(view)`` holds (bounded)."""
    for _ in range(limit):
        result = session.execute("stepi")
        assert result.ok, result.error
        view = builder.build()
        if ok(view):  # type: ignore[operator]
            return view
        assert session.live, "the run ended before the condition held"
    raise AssertionError(f"no stop within {limit} steps satisfied the condition")


def hex_column(i: int) -> int:
    """Where byte ``i`` (0..15) of a packet row starts: ``0x0000:  0200 0000 ...``."""
    return len("0x0000:  ") + 2 * i + i // 2


def code_view(**kw: object) -> SessionView:
    """A hand-built view of a three-instruction program; ``kw`` replaces fields."""
    base = empty_view()
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(kw)
    return SessionView(**fields)  # type: ignore[arg-type]


# -- code listing on a real session ----------------------------------------------------------------
def test_code_listing_marks_current_breakpoints_targets_counts_and_source() -> None:
    session = sample("xdp_lb", 0)
    view = built(
        session,
        "break *10",
        "break *24 if r1 == 2",
        "break *43",
        "disable 3",
        "start",
        "stepi",
        "stepi",
        "stepi",
        "stepi",
    )
    lines = P.code_lines(view.code)
    text = text_of(lines)
    assert view.code.current == 4
    current = row_of(lines, 4)
    assert current.startswith("  => ") and "4: r8 = r2" in current
    assert lines.focus == lines.cursor_of[4]
    assert "=>" not in row_of(lines, 5)
    # breakpoint glyphs: enabled, conditional, disabled
    assert row_of(lines, 10).startswith("●")
    assert row_of(lines, 24).startswith("◆")
    assert row_of(lines, 43).startswith("○")
    assert row_of(lines, 11)[0] == " "
    assert P.PALETTE.breakpoint in styles_at(lines.lines[lines.cursor_of[10]], 0)
    assert P.PALETTE.conditional in styles_at(lines.lines[lines.cursor_of[24]], 0)
    assert P.PALETTE.disabled in styles_at(lines.lines[lines.cursor_of[43]], 0)
    # jumps: "-> N" on the jump, ">" on its target
    assert row_of(lines, 8).rstrip().endswith("-> 18")
    assert row_of(lines, 18).startswith("  >    18: ")
    assert row_of(lines, 19).startswith("       19: ")
    # execution counts of this run, on what ran only
    counts = session.stepper.exec_counts()
    for pc in range(4):
        assert counts[("xdp_lb", pc)] == 1
        assert row_of(lines, pc).rstrip().endswith("x1")
    assert not row_of(lines, 4).rstrip().endswith("x1")
    assert not row_of(lines, 9).rstrip().endswith("x1")
    # source lines as comments, before the first instruction of each line
    assert lines.lines[0].plain == "    ; xdp_lb.c:184 void *data = (void *)(long)ctx->data;"
    assert lines.targets[0] is None
    assert "    ; xdp_lb.c:201" in text
    # a single-function program has no function label
    assert "<xdp_lb>:" not in text


def test_code_listing_counts_loops() -> None:
    session = sample("xdp_loop_parser", 0)
    view = built(session, "start", "continue")
    assert session.status == "exited"
    lines = P.code_lines(view.code)
    counts = session.stepper.exec_counts()
    looped = [(pc, n) for (_, pc), n in counts.items() if n > 1]
    assert looped, "the loop parser loops"
    for pc, n in looped:
        assert row_of(lines, pc).rstrip().endswith(f"x{n}")


def test_code_listing_function_labels() -> None:
    session = sample("xdp_subprog_globals", 0)
    view = ViewBuilder(session).build()
    lines = P.code_lines(view.code)
    labels = {
        t.plain for t, target in zip(lines.lines, lines.targets, strict=True) if t.plain.startswith("<")
    }
    assert {"<xdp_port_blocker>:", "<parse_ipv4>:", "<flow_hash>:", "<port_in_table>:"} <= labels
    # the label comes right before the function's first instruction (after its source line)
    at = lines.cursor_of[77]
    above = [lines.lines[i].plain for i in range(at - 3, at)]
    assert "<parse_ipv4>:" in above
    # not running: no "=>" anywhere, the cursor starts at the first instruction
    assert view.code.current is None
    assert "=>" not in text_of(lines)
    assert lines.focus == lines.cursor_of[0]


def test_code_listing_fault_is_drawn_in_the_error_style() -> None:
    session = raw(NULL_READ, "nullread")
    view = built(session, "run")
    assert view.state == "faulted" and view.code.faulted
    lines = P.code_lines(view.code)
    line = lines.lines[lines.cursor_of[1]]
    assert line.plain.startswith("  =>    1: ")
    assert P.PALETTE.error in styles_at(line, 2)


def test_hand_built_code_view() -> None:
    code = CodeView(
        "prog",
        (
            CodeRow(0, "r0 = 0", source="a.c:1 int x;", function="main", count=3),
            CodeRow(1, "if r0 == 0 goto +1", target=3, bp="conditional", bp_numbers=(2,)),
            CodeRow(2, "r0 = 1", bp="disabled", bp_numbers=(1,)),
            CodeRow(3, "exit", is_target=True, bp="enabled", bp_numbers=(3,)),
        ),
        current=1,
        preview="# taken",
    )
    lines = P.code_lines(code)
    assert [t.plain.rstrip() for t in lines.lines[:2]] == ["<main>:", "    ; a.c:1 int x;"]
    assert lines.targets[:3] == (None, None, 0)
    assert row_of(lines, 0).rstrip().endswith("x3")
    assert row_of(lines, 1).startswith("◆ =>    1: if r0 == 0 goto +1  -> 3   # taken")
    assert row_of(lines, 2).startswith("○       2: r0 = 1")
    assert row_of(lines, 3).startswith("● >     3: exit")
    assert lines.focus == 3
    assert P.PALETTE.current in styles_at(lines.lines[3], 10)


# -- source ----------------------------------------------------------------------------------------
def test_source_lines_mark_the_current_line_and_breakpoints() -> None:
    session = sample("xdp_subprog_globals", 0)
    view = built(session, "break parse_ipv4", "run")
    assert view.source is not None and view.source.current == 116
    lines = P.source_lines(view.source)
    assert lines.lines[0].plain.endswith("xdp_subprog_globals.c")
    current = row_of(lines, ("line", 116))
    assert current.startswith("● =>  116  ") and "parse_ipv4" in current
    assert lines.focus == lines.cursor_of[("line", 116)]
    assert row_of(lines, ("line", 1)).startswith("        1  // SPDX")
    hand = P.source_lines(SourceView("x.c", ("a", "\tb", "c"), 2, ((3, 7),)))
    assert [t.plain for t in hand.lines] == ["x.c", "        1  a", "  =>    2          b", "●       3  c"]


# -- registers and stack ---------------------------------------------------------------------------
def test_registers_mark_what_the_last_step_wrote_with_the_old_value() -> None:
    session = sample("xdp_lb", 0)
    view = built(session, "start", "advance *18", "stepi")
    lines = P.register_lines(view.registers, view.code.current)
    r3 = lines.lines[lines.cursor_of["r3"]]
    assert r3.plain.split() == ["r3", "*0x0000000000000008", "8", "scalar", "was", "0x0"]
    assert P.PALETTE.changed in styles_at(r3, 0)
    r4 = lines.lines[lines.cursor_of["r4"]]
    assert r4.plain.startswith("r4  0x") and "*" not in r4.plain
    assert text_of(lines).count("was") == 1 and text_of(lines).count("*") == 1
    # pointer kinds, signed decimal for scalars only, pc last
    assert row_of(lines, "r6").rstrip().endswith(" pkt")
    assert row_of(lines, "r1").rstrip().endswith(" ctx")
    assert row_of(lines, "r10").rstrip().endswith(" fp")
    assert row_of(lines, "r8").split()[1:] == ["0x000000000000004a", "74", "scalar"]
    assert len(lines.lines) == 12, "one row per register, the old value on the same row"
    assert lines.lines[-1].plain == "pc   19"
    compact = P.register_lines(view.registers, view.code.current, compact=True)
    assert compact.lines[compact.cursor_of["r8"]].plain.split()[1:] == ["0x000000000000004a", "scalar"]


def test_registers_hand_built_and_not_running() -> None:
    rows = (RegisterRow("r0", (1 << 64) - 1, "scalar", old=5), RegisterRow("r1", 7, "scalar", old=7))
    lines = P.register_lines(rows, 3)
    assert [t.plain for t in lines.lines] == [
        "r0 *0xffffffffffffffff                   -1 scalar  was 0x5",
        "r1  0x0000000000000007                    7 scalar",  # written with the same value
        "pc   3",
    ]
    assert text_of(P.register_lines((), None)) == "not running"


def test_stack_marks_slots_the_last_step_wrote() -> None:
    session = sample("xdp_lb", 0)
    builder = ViewBuilder(session)
    built(session, "start")
    view = step_until(session, builder, lambda v: any(s.changed for s in v.stack.slots))
    lines = P.stack_lines(view.stack)
    changed = [s for s in view.stack.slots if s.changed]
    for slot in changed:
        assert row_of(lines, slot.offset).startswith(f"fp{slot.offset:<5}*")
    unchanged = [s for s in view.stack.slots if not s.changed]
    assert unchanged and all("*" not in row_of(lines, s.offset) for s in unchanged)
    assert lines.targets[0] == ("frame", 0)  # the frames come first, then the slots
    assert row_of(lines, ("frame", 0)).startswith("> #0 xdp_lb insn ")
    # one step further: a step that writes no stack clears the marks
    following = step_until(session, builder, lambda v: not any(s.changed for s in v.stack.slots))
    assert "*" not in text_of(P.stack_lines(following.stack))


def test_stack_frames_of_bpf_to_bpf_calls() -> None:
    session = sample("xdp_subprog_globals", 0)
    builder = ViewBuilder(session)
    built(session, "break parse_ipv4", "run")
    lines = P.stack_lines(builder.build().stack)
    assert row_of(lines, ("frame", 0)).startswith("> #0 parse_ipv4 insn 77")
    assert row_of(lines, ("frame", 1)).startswith("  #1 xdp_port_blocker insn 10")
    session.execute("up")
    lines = P.stack_lines(builder.build().stack)
    assert row_of(lines, ("frame", 0)).startswith("  #0 parse_ipv4")
    assert row_of(lines, ("frame", 1)).startswith("> #1 xdp_port_blocker")


def test_stack_hand_built() -> None:
    stack = StackView(
        (StackSlot(-8, bytes([1, 0, 0, 0, 0, 0, 0, 0]), changed=True), StackSlot(-16, bytes(8))), ()
    )
    assert [t.plain for t in P.stack_lines(stack).lines] == [
        "fp-8   *01 00 00 00 00 00 00 00  0x1",
        "fp-16   00 00 00 00 00 00 00 00",
    ]
    assert text_of(P.stack_lines(StackView((), ()))) == "not running"


# -- packet -----------------------------------------------------------------------------------------
def test_packet_marks_the_bytes_the_current_instruction_read() -> None:
    session = sample("xdp_lb", 0)
    view = built(session, "start", "advance *18", "stepi")
    assert view.packet is not None and view.packet.marks == {12: READ}
    lines = P.packet_lines(view.packet)
    assert lines.lines[0].plain == "Packet 1 (74 B): eth/ipv4/tcp 192.168.1.10:40000 -> 10.100.0.1:80 [S]"
    row = lines.lines[1]
    assert row.plain.startswith("0x0000:  0200 0000 0001 0200 0000 0002 0800 4500")
    at = hex_column(12)
    assert row.plain[at : at + 2] == "08"
    assert P.PALETTE.read in styles_at(row, at)
    assert P.PALETTE.read not in styles_at(row, hex_column(13))
    assert "reverse" in P.PALETTE.read  # visible without colour
    assert lines.lines[-2].plain == "blue: read by insn 18"
    # the next instruction (19: r4 = *(u8 *)(r6 + 13)) reads byte 13: underlined
    assert view.packet.next_marks == {13: READ}
    assert P.PALETTE.next_access in styles_at(row, hex_column(13))
    assert P.PALETTE.next_access not in styles_at(row, at)
    assert lines.lines[-1].plain == "underlined: insn 19 reads these bytes next"


def test_packet_marks_the_bytes_an_instruction_wrote() -> None:
    session = sample("xdp_lb", 0)
    builder = ViewBuilder(session)
    built(session, "start")
    view = step_until(session, builder, lambda v: v.packet is not None and WRITE in v.packet.marks.values())
    assert view.packet is not None
    lines = P.packet_lines(view.packet)
    off = min(o for o, m in view.packet.marks.items() if m == WRITE)
    row = lines.lines[1 + off // 16]
    assert P.PALETTE.written in styles_at(row, hex_column(off % 16))
    assert any(t.plain.startswith("red: written") and "by insn" in t.plain for t in lines.lines[-2:])


def test_packet_diff_after_exit() -> None:
    session = sample("xdp_lb", 0)
    view = built(session, "run")
    assert view.state == "exited"
    packet = view.packet
    assert packet is not None
    assert packet.title == "Packet 1 out (94 B)"
    lines = P.packet_lines(packet)
    assert lines.lines[0].plain.startswith("Packet 1 out (94 B): eth/ipv4 10.0.0.1 -> 10.1.0.11")
    assert lines.lines[-1].plain == "33 bytes changed or added; 20 bytes added at the front"
    assert len(packet.marks) == 33 and set(packet.marks.values()) == {WRITE}
    unmarked = next(o for o in range(len(packet.data)) if o not in packet.marks)
    assert P.PALETTE.written in styles_at(lines.lines[1], hex_column(0))
    row = lines.lines[1 + unmarked // 16]
    assert P.PALETTE.written not in styles_at(row, hex_column(unmarked % 16))


def test_packet_input_before_a_run_and_a_raw_program() -> None:
    view = ViewBuilder(sample("xdp_lb", 0)).build()
    lines = P.packet_lines(view.packet)
    assert lines.lines[0].plain.startswith("Packet 1 (74 B, input): eth/ipv4/tcp")
    assert len(lines.lines) == 1 + 5  # 74 bytes: five rows of 16
    assert lines.lines[-1].plain.startswith("0x0040:  e240 0000 0000 0103 0307")
    assert lines.lines[-1].plain.endswith(".@........")
    assert "no packet" in text_of(P.packet_lines(None))
    hand = PacketView("P", b"AB\x00", {1: WRITE}, "x")
    assert [t.plain for t in P.packet_lines(hand).lines] == [
        "P: x",
        "0x0000:  4142 00" + " " * (len("0x0000:  4142 0000 0000 0000 0000 0000 0000 0000") - 16) + "  AB.",
    ]


def test_packet_list_shows_verdicts_after_run_all() -> None:
    session = sample("xdp_lb", 0)
    before = P.packet_list_lines(ViewBuilder(session).build().packets)
    assert len(before.lines) == 20
    assert before.lines[0].plain.startswith(">    1     74 B                ")
    assert all(f" {v} " not in text_of(before) for v in ("XDP_TX", "XDP_DROP", "XDP_PASS"))
    view = built(session, "run all")
    lines = P.packet_list_lines(view.packets)
    verdicts = {v.index + 1: v.action for v in session.verdicts}
    assert len(verdicts) == 20
    for number, action in verdicts.items():
        assert f" B  {action} " in row_of(lines, number)
    assert Counter(verdicts.values()) == {"XDP_TX": 9, "XDP_PASS": 6, "XDP_DROP": 5}
    assert row_of(lines, 1).startswith(">    1") and row_of(lines, 2).startswith("     2")
    hand = P.packet_list_lines(
        (PacketRow(1, 60, "eth/arp", "fault"), PacketRow(2, 60, "eth/arp", None, True))
    )
    assert P.PALETTE.error in styles_at(hand.lines[0], hand.lines[0].plain.index("fault"))
    assert hand.lines[1].plain.startswith(">    2")
    assert "no capture" in text_of(P.packet_list_lines(()))


# -- maps --------------------------------------------------------------------------------------------
def test_maps_are_btf_formatted_and_changed_entries_flagged() -> None:
    session = sample("xdp_lb", 0)
    builder = ViewBuilder(session)
    first = builder.build()
    lines = P.map_lines(first.maps)
    assert row_of(lines, ("vips", None)) == "vips  hash 8->8  3/64"
    vip = row_of(lines, ("vips", "0a 64 00 01 00 50 06 00"))
    assert vip == (
        "  0a 64 00 01 00 50 06 00: 01 00 00 00 03 00 00 00   "
        "{addr=16802826, port=20480, proto=6, pad=0} -> {id=1, n_backends=3}"
    )
    assert "[changed]" not in text_of(lines) and not any(m.changed for m in first.maps)
    # a run counts into lb_stats: the next view flags that entry and that map only
    session.execute("run")
    second = builder.build()
    lines = P.map_lines(second.maps)
    assert {m.name for m in second.maps if m.changed} == {"lb_stats"}
    assert row_of(lines, ("lb_stats", None)).endswith("[changed]")
    stats = next(m for m in second.maps if m.name == "lb_stats")
    changed = [e.key for e in stats.entries if e.changed]
    assert changed == ["00 00 00 00"]
    assert row_of(lines, ("lb_stats", "00 00 00 00")).startswith("* 00 00 00 00: 01 00 00 00")
    assert row_of(lines, ("lb_stats", "01 00 00 00")).startswith("  01 00 00 00: 00")
    # nothing changes between two builds of the same state
    third = builder.build()
    assert not any(m.changed for m in third.maps)
    assert not any(e.changed for m in third.maps for e in m.entries)


def test_map_view_hand_built_with_more_entries_than_shown() -> None:
    maps = (
        MapView("m", "hash", 4, 4, 16, 3, (MapEntryRow("01 00 00 00", "02 00 00 00", "1 -> 2", True),), True),
    )
    assert [t.plain for t in P.map_lines(maps).lines] == [
        "m  hash 4->4  3/16  [changed]",
        "* 01 00 00 00: 02 00 00 00   1 -> 2",
        "  ... 2 more: map dump m",
    ]
    assert text_of(P.map_lines(())) == "no maps"


# -- breakpoints --------------------------------------------------------------------------------------
def test_breakpoint_rows() -> None:
    session = sample("xdp_lb", 0)
    view = built(session, "break *10", "break *24 if r1 == 2", "disable 1", "packet 14", "run")
    assert view.status == "stopped: breakpoint 2, insn 24"
    lines = P.stop_lines(view.stops)
    one, two = row_of(lines, 1), row_of(lines, 2)
    assert one.startswith("  1 n breakpoint      insn 10")
    assert two.startswith("  2 y breakpoint      insn 24") and two.endswith("if r1 == 2  (hit 1 time)")
    assert "hit" not in one
    assert [s.number for s in view.stops] == [1, 2]
    hand = P.stop_lines((StopRow(4, "watchpoint", True, "r3", 2),))
    assert hand.lines[0].plain == "  4 y watchpoint      r3  (hit 2 times)"
    assert "no breakpoints" in text_of(P.stop_lines(()))


# -- backends ------------------------------------------------------------------------------------------
def test_backend_pane_of_the_interpreter_has_no_native_code() -> None:
    session = sample("xdp_lb", 0)
    idle = ViewBuilder(session).build()
    assert [t.plain for t in P.backend_lines(idle.backends[0]).lines] == [
        "interp  not running",
        'not running: "start" or "run"',
    ]
    view = built(session, "start", "stepi")
    (backend,) = view.backends
    lines = P.backend_lines(backend)
    assert lines.lines[0].plain == "interp  in xdp_lb"
    assert lines.lines[1].plain == "=> 1: r2 = *(u32 *)(r1 + 4)"
    assert "(executes eBPF directly: no native code)" in text_of(lines)
    assert row_of(lines, "r6") == " r6       0x0000000200000100"


def test_backend_pane_with_native_code_and_differences() -> None:
    backend = BackendView(
        "hostjit",
        5,
        "5: r0 += r1",
        native=((0x1000, "48 01 f8", "add rax, rdi"), (0x1003, "90", "nop")),
        registers=(("rax", 3), ("rdi", 4)),
        differs=frozenset({"rax", "memory"}),
        note="in f",
    )
    lines = P.backend_lines(backend)
    assert [t.plain for t in lines.lines] == [
        "hostjit  in f",
        "=> 5: r0 += r1",
        "   0x1000: add rax, rdi                       48 01 f8",
        "   0x1003: nop                                90",
        "!rax      0x0000000000000003",
        " rdi      0x0000000000000004",
        "! memory differs",
    ]
    assert lines.targets[2] == 0x1000
    assert P.PALETTE.changed in styles_at(lines.lines[4], 0)


# -- status line ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ((), ' xdp_lb.o:xdp_lb (xdp)  packet 1/20  not running: "run" (r) or "start"'),
        (
            ("start", "stepi", "stepi"),
            " xdp_lb.o:xdp_lb (xdp)  packet 1/20  stopped: stepped, insn 2  [2 insns]",
        ),
        (
            ("break *18", "packet 7", "run"),
            " xdp_lb.o:xdp_lb (xdp)  packet 7/20  stopped: breakpoint 1, insn 18",
        ),
        (("run",), " xdp_lb.o:xdp_lb (xdp)  packet 1/20  exited: XDP_TX (3) after 252 insns  [252 insns]"),
    ],
)
def test_status_line(commands: tuple[str, ...], expected: str) -> None:
    view = built(sample("xdp_lb", 0), *commands)
    line = P.status_line(view).plain
    assert line.startswith(expected), line


def test_status_line_of_a_fault_and_while_busy() -> None:
    view = built(raw(NULL_READ, "nullread"), "run")
    line = P.status_line(view, busy="running 'x'...")
    assert line.plain.startswith(" <program>:nullread (raw)  memory ")
    assert "faulted at insn 1: read of 4 bytes at 0x0: NULL pointer dereference" in line.plain
    assert line.plain.endswith("running 'x'...")
    fault = line.plain.index("faulted")
    assert P.PALETTE.error in styles_at(line, fault)
    assert P.status_line(empty_view()).plain == ' (no program)  no program loaded: "load FILE.o"'


# -- ViewBuilder facts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["xdp_lb", "xdp_loop_parser", "xdp_subprog_globals", "xdp_tailcall"])
def test_view_counts_are_the_steppers_exec_counts(name: str) -> None:
    session = sample(name, 0)
    builder = ViewBuilder(session)
    session.execute("start")
    for steps in (1, 7, 40):
        session.execute(f"stepi {steps}")
        view = builder.build()
        counts = session.stepper.exec_counts()
        program = view.code.program
        assert {r.pc: r.count for r in view.code.rows if r.count} == {
            pc: n for (prog, pc), n in counts.items() if prog == program and n
        }
        if not session.live:
            break
    session.execute("reverse-stepi 5")
    view = builder.build()
    assert sum(r.count for r in view.code.rows) == sum(
        n for (prog, _), n in session.stepper.exec_counts().items() if prog == view.code.program
    )


def test_view_flags_map_entries_changed_between_two_builds_by_map_update() -> None:
    session = sample("xdp_lb", 0)
    builder = ViewBuilder(session)
    builder.build()
    result = session.execute(
        "map update name vips key hex 0a 64 00 02 01 bb 06 00 value hex 03 00 00 00 01 00 00 00"
    )
    assert result.ok, result.error
    view = builder.build()
    vips = next(m for m in view.maps if m.name == "vips")
    assert vips.changed
    assert [e.key for e in vips.entries if e.changed] == ["0a 64 00 02 01 bb 06 00"]
    assert next(e for e in vips.entries if e.changed).formatted.endswith("-> {id=3, n_backends=1}")  # type: ignore[union-attr]
    assert not any(m.changed for m in view.maps if m.name != "vips")


def test_presenters_and_views_import_no_textual() -> None:
    code = "import sys, tui.presenters, bpfdbg.view; sys.exit('textual' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr or "tui.presenters pulled in textual"


def test_view_of_a_long_run_carries_no_counts_and_comes_at_once() -> None:
    """Counting replays the run: past MAX_COUNTED_INSNS the view leaves counts out rather than
    keep the TUI waiting (an interrupted endless loop ran millions of instructions)."""
    from bpfdbg.view import MAX_COUNTED_INSNS

    short = raw(ENDLESS, "endless", budget=1000)
    view = built(short, "run")
    assert view.state == "budget" and {r.pc: r.count for r in view.code.rows} == {0: 1, 1: 1000, 2: 0}
    long = raw(ENDLESS, "endless", budget=MAX_COUNTED_INSNS * 2)
    started = time.perf_counter()
    view = built(long, "run")
    assert view.state == "budget" and view.insns > MAX_COUNTED_INSNS
    assert all(r.count == 0 for r in view.code.rows)
    assert time.perf_counter() - started < 10


def test_code_marks_and_focuses_the_selected_caller_frame() -> None:
    """After up, the code pane looks at the call in the caller: ``^`` there, the focus on
    it, and ``=>`` still on the instruction that runs next."""
    session = sample("xdp_subprog_globals", 0)
    builder = ViewBuilder(session)
    built(session, "break parse_ipv4", "run")
    inner = builder.build()
    assert inner.code.frame is None
    session.execute("up")
    view = builder.build()
    call_pc = session.frames()[1][2]
    assert view.code.frame == call_pc and view.code.current == session.pc
    lines = P.code_lines(view.code)
    assert row_of(lines, call_pc)[1:5] == " ^  "
    assert row_of(lines, session.pc)[1:5] == " => "
    assert lines.targets[lines.focus] == call_pc
    session.execute("down")
    lines = P.code_lines(builder.build().code)
    assert lines.targets[lines.focus] == session.pc
