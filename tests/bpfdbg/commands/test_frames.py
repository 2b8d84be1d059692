"""Frames and code as a user types them: backtrace (bpf-to-bpf frames and tail calls),
frame, up, down, info frame, list, disassemble, info line and info source."""

from __future__ import annotations

import pytest

from bpfdbg.commands.frames import function_range, stack_depth
from bpfdbg.session import Session

from . import SAMPLES, err, ok, open_sample


@pytest.fixture
def sub() -> Session:
    """xdp_subprog_globals stopped inside parse_ipv4 (insn 84), called from insn 10."""
    session = open_sample("xdp_subprog_globals", maps=False)
    ok(session, "break parse_ipv4")
    ok(session, "run")
    ok(session, "stepi 6")
    return session


@pytest.fixture
def fw() -> Session:
    session = open_sample("xdp_firewall")
    ok(session, "break xdp_firewall.c:162")
    ok(session, "run")
    return session


PARSE = "#0  insn 84 in parse_ipv4 () at xdp_subprog_globals.c:124"
CALLER = "#1  insn 10 in xdp_port_blocker () at xdp_subprog_globals.c:162"


# -- backtrace, frame, up, down -------------------------------------------------------------------
def test_backtrace_inside_a_subprogram(sub: Session) -> None:
    assert ok(sub, "bt") == [PARSE, CALLER]
    assert ok(sub, "where") == [PARSE, CALLER]
    assert ok(sub, "backtrace 1") == [PARSE, "(More stack frames follow...)"]
    assert ok(sub, "bt -1") == [CALLER]
    data = sub.execute("bt").data
    assert data[1] == {"level": 1, "function": "xdp_port_blocker", "pc": 10, "entry": 0, "depth": 0}


def test_backtrace_shows_the_tail_calls_below_the_frames() -> None:
    session = open_sample("xdp_tailcall", prog="xdp_dispatch")
    ok(session, "break handle_tcp:0")
    ok(session, "run")
    assert ok(session, "bt") == [
        "#0  insn 0 in handle_tcp () at xdp_tailcall.c:238",
        "#1  [tail call] from handle_ipv4 insn 85 at xdp_tailcall.c:195",
        "#2  [tail call] from xdp_dispatch insn 50 at xdp_tailcall.c:162",
    ]
    frame = ok(session, "info frame")
    assert frame[3] == " outermost frame of handle_tcp, reached by a tail call from handle_ipv4 insn 85"


def test_frame_up_and_down_select_frames(sub: Session) -> None:
    assert ok(sub, "up") == [CALLER, "162\tif (parse_ipv4(ctx, &fl))".replace("if", "\tif", 1)]
    assert sub.selected_frame == 1
    assert err(sub, "up") == "Initial frame selected; you cannot go up."
    assert ok(sub, "frame")[0] == CALLER
    assert ok(sub, "down")[0] == PARSE
    assert sub.selected_frame == 0
    assert err(sub, "down") == "Bottom (innermost) frame selected; you cannot go down."
    assert ok(sub, "f 1")[0] == CALLER
    assert ok(sub, "frame 0") == [
        PARSE,
        "124\t\tif ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))",
    ]
    assert ok(sub, "up 5")[0] == CALLER  # clamped to the outermost frame, as gdb does
    assert err(sub, "frame 3") == 'No frame at level 3: frames are 0-1 (see "backtrace")'
    ok(sub, "stepi")
    assert sub.selected_frame == 0  # every stop selects the innermost frame again


def test_frame_without_line_info_shows_the_instruction() -> None:
    session = Session.open(SAMPLES / "raw" / "fletcher16.bin", raw=True)
    ok(session, "start")
    assert ok(session, "frame") == ["#0  insn 0 in fletcher16 ()", "=> 0: r3 = 0"]


def test_info_frame(sub: Session) -> None:
    assert ok(sub, "info frame") == [
        "Stack level 0, frame at fp = 0x300002000:",
        " insn 84 in parse_ipv4 () at xdp_subprog_globals.c:124",
        " function parse_ipv4: entry insn 77, insns 77-124, call depth 1",
        " called by frame at level 1: xdp_port_blocker (the call at insn 10)",
        " stack: none of its 512 bytes used by this function's code",
    ]
    ok(sub, "up")
    lines = ok(sub, "info frame")
    assert lines[0] == "Stack level 1, frame at fp = 0x300001000:"
    assert lines[3:] == [
        " outermost frame (the entry of xdp_port_blocker)",
        " caller of frame at level 0: parse_ipv4",
        " stack: 16 of 512 bytes used by this function's code (fp-16 to fp-1)",
    ]


def test_stack_depth_follows_fp_copies() -> None:
    session = open_sample("xdp_firewall")
    prog = session.program
    name, start, end = function_range(prog, 5)
    assert (name, start, end) == ("xdp_firewall", 0, prog.nslots)
    assert stack_depth(prog, start, end) == 24  # *(u64 *)(r10 - 24) at insn 188


def test_stack_commands_need_a_run() -> None:
    session = open_sample("xdp_firewall")
    message = 'No stack: the program is not being run. Use "start" or "run".'
    for line in ("bt", "frame", "up", "down", "info frame"):
        assert err(session, line) == message
    assert err(session, "bt x") == message


# -- list ------------------------------------------------------------------------------------------
def test_list_centres_on_the_current_line_and_continues(fw: Session) -> None:
    lines = ok(fw, "list")
    assert len(lines) == 10
    assert lines[0].startswith("157\t")
    assert lines[5] == "=> 162\t\t\trule = bpf_map_lookup_elem(&fw_rules, &key);"
    assert ok(fw, "list")[0].startswith("167\t")
    assert ok(fw, "list -")[0].startswith("157\t")
    assert ok(fw, "list -")[0].startswith("147\t")
    assert ok(fw, "l 111,113") == ['111\tSEC("xdp")', "112\tint xdp_firewall(struct xdp_md *ctx)", "113\t{"]
    assert [line.split("\t")[0] for line in ok(fw, "list xdp_firewall.c:130")] == [
        str(n) for n in range(125, 135)
    ]
    assert ok(fw, "list 120,")[0].startswith("120\t")
    assert ok(fw, "list ,20")[-1].startswith("20\t")
    ok(fw, "stepi")  # a new stop centres the next list again
    assert ok(fw, "list")[5].startswith("=> 162\t")


def test_list_a_function_and_before_the_run() -> None:
    session = open_sample("xdp_subprog_globals", maps=False)
    lines = ok(session, "list parse_ipv4")
    assert lines[5] == "116\tstatic __noinline int parse_ipv4(struct xdp_md *ctx, struct flow *fl)"
    fresh = open_sample("xdp_subprog_globals", maps=False)
    assert not any(line.startswith("=>") for line in ok(fresh, "list"))


def test_list_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "list 9999") == 'Line number 9994 out of range; "xdp_firewall.c" has 212 lines.'
    assert err(fw, "list 20,10") == "the last line (10) comes before the first (20)"
    assert err(fw, "list nosuch").startswith("function 'nosuch' not defined")
    raw = Session.open(SAMPLES / "raw" / "fletcher16.bin", raw=True)
    assert err(raw, "list") == (
        "fletcher16 has no line info (built without -g, or raw instructions); "
        '"disassemble" lists its instructions'
    )


# -- disassemble ------------------------------------------------------------------------------------
def test_disassemble_marks_the_pc_breakpoints_and_jump_targets(sub: Session) -> None:
    lines = ok(sub, "disassemble")
    assert lines[0] == "Dump of assembler code for function parse_ipv4 of program xdp_port_blocker:"
    assert lines[1] == "B    77: r0 = 0xffffffff ll"
    assert "     83: if r3 > r1 goto +40 <insn 124>" in lines
    assert " =>  84: r3 = *(u8 *)(r4 + 12)" in lines
    assert lines[-2] == "    124: exit"
    assert lines[-1] == "End of assembler dump."
    ok(sub, "up")
    caller = ok(sub, "disas")
    assert caller[0] == "Dump of assembler code for function xdp_port_blocker:"
    assert "    10: call pc+66 <parse_ipv4>" in caller
    assert not any("=>" in line for line in caller)  # the pc is in parse_ipv4


def test_disassemble_ranges_raw_bytes_and_source(sub: Session) -> None:
    assert ok(sub, "disas /r 10,12") == [
        "Dump of assembler code from insn 10 to 12 of xdp_port_blocker:",
        "    10: 85 10 00 00 42 00 00 00  call pc+66 <parse_ipv4>",
        "    11: b7 06 00 00 02 00 00 00  r6 = 2",
        "End of assembler dump.",
    ]
    lines = ok(sub, "disassemble /s 77,+4")
    assert lines[1:5] == [
        "xdp_subprog_globals.c:",
        "116\tstatic __noinline int parse_ipv4(struct xdp_md *ctx, struct flow *fl)",
        "B   77: r0 = 0xffffffff ll",
        "119\t\tvoid *data = (void *)(long)ctx->data;",
    ]
    assert ok(sub, "disassemble flow_hash")[0] == (
        "Dump of assembler code for function flow_hash of program xdp_port_blocker:"
    )


def test_disassemble_before_the_run_and_errors() -> None:
    session = open_sample("xdp_firewall")
    lines = ok(session, "disassemble")
    assert lines[1] == "      0: r2 = *(u32 *)(r1 + 0)"
    assert "      8: if r8 >= r9 goto +13 <insn 22>" in lines
    assert (
        err(session, "disassemble /q")
        == "invalid disassemble modifier '/q': use /r (raw bytes), /s (source) or /c (counts)"
    )
    assert err(session, "disassemble 500") == "no instruction 500 in xdp_firewall (it has slots 0-225)"
    assert err(session, "disassemble 20,10") == "nothing to show: the range ends (10) before it starts (20)"


# -- info line / info source ---------------------------------------------------------------------------
def test_info_line(sub: Session) -> None:
    assert ok(sub, "info line") == [
        'Line 124 of "xdp_subprog_globals.c" is at insns 81-90 of xdp_port_blocker (in parse_ipv4).'
    ]
    assert ok(sub, "info line 120") == ['Line 120 of "xdp_subprog_globals.c" has no code.']
    assert ok(sub, "info line *10")[0].startswith('Line 162 of "xdp_subprog_globals.c" is at insn')


def test_info_source(sub: Session) -> None:
    lines = ok(sub, "info source")
    assert lines[0] == "Current source file is ./xdp_subprog_globals.c"
    assert lines[1].startswith("Located in ") and lines[1].endswith("sample_progs/xdp_subprog_globals.c")
    assert "Contains 186 lines." in lines
    raw = Session.open(SAMPLES / "raw" / "fletcher16.bin", raw=True)
    assert ok(raw, "info source") == [
        "No current source file: fletcher16 has no line info (built without -g?)."
    ]
