"""Data commands as a user types them: info registers, x, print, output, display,
undisplay, info display, set var, ptype, whatis and packet; and the pure helpers behind
them (hex dumps with marks, header summaries, packet diffs, x formats)."""

from __future__ import annotations

import pytest

from bpfdbg.commands.registry import CommandError
from bpfdbg.render import packet as pkt
from bpfdbg.render.displays import ExamineFormat, display_lines, parse_examine
from bpfdbg.session import Session
from emulator.isa.insn import Insn

from . import SAMPLES, err, ok, open_sample


@pytest.fixture
def fw() -> Session:
    """xdp_firewall stopped at the source-rule lookup (insn 195, line 162): r2 = fp-16 holds
    the key {kind = 2, addr = 192.168.1.10}."""
    session = open_sample("xdp_firewall")
    ok(session, "break xdp_firewall.c:162")
    ok(session, "run")
    return session


# -- info registers ---------------------------------------------------------------------------
def test_info_registers_names_what_each_register_points_at(fw: Session) -> None:
    lines = ok(fw, "info registers")
    assert len(lines) == 12
    assert lines[1] == "r1   0x000000000a01a8c0  167880896            scalar"
    assert lines[2] == "r2   0x0000000300000ff0  12884905968          fp-16"
    assert lines[8] == "r8   0x000000020000014a  8589934922           pkt_end"
    assert lines[9] == "r9   0x000000020000010e  8589934862           pkt+14"
    assert lines[10] == "r10  0x0000000300001000  12884905984          fp"
    assert lines[11] == "pc   insn 195 in xdp_firewall () at xdp_firewall.c:162"


def test_info_registers_marks_what_the_last_step_changed(fw: Session) -> None:
    ok(fw, "stepi")
    assert ok(fw, "i r r1") == [
        "r1   0x0000001000000000  68719476736          map_ptr(fw_rules)  (was 0xa01a8c0)"
    ]
    assert ok(fw, "regs $r2 pc") == [
        "r2   0x0000000300000ff0  12884905968          fp-16",
        "pc   insn 197 in xdp_firewall () at xdp_firewall.c:162",
    ]
    ok(fw, "stepi")  # the lookup misses: r0 stays 0, so it is not marked
    assert ok(fw, "info registers r0") == ["r0   0x0000000000000000  0                    scalar"]


def test_info_all_registers_adds_counters(fw: Session) -> None:
    lines = ok(fw, "info all-registers")
    assert lines[-3:] == [
        "insns 32 instructions executed",
        "depth 0 (bpf-to-bpf call depth)",
        "prog xdp_firewall",
    ]


def test_register_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "info registers r11") == (
        "invalid register 'r11': the registers are r0-r10 (fp is r10) and pc"
    )
    assert "invalid register 'rax'" in err(fw, "regs rax")
    idle = open_sample("xdp_firewall")
    assert err(idle, "info registers") == 'The program is not being run. Use "start" or "run".'


# -- x ---------------------------------------------------------------------------------------------
def test_x_labels_rows_by_region(fw: Session) -> None:
    assert ok(fw, "x/4xb $r2") == ["fp-16:  0x02  0x00  0x00  0x00"]
    assert ok(fw, "x/2xw $r2") == ["fp-16:  0x00000002  0x0a01a8c0"]
    assert ok(fw, "x") == ["fp-8:  0x00000000  0x00000000"]  # continues, format remembered
    assert ok(fw, "x/6xb $pkt") == ["pkt:  0x02  0x00  0x00  0x00  0x00  0x01"]
    assert ok(fw, "x/2uh $pkt+12") == ["pkt+12:  8  69"]
    assert ok(fw, "x/tb $pkt") == ["pkt:  00000010"]
    assert ok(fw, "x/ob $pkt+12") == ["pkt+12:  010"]
    assert ok(fw, "x/2dw $fp-8") == ["fp-8:  0  0"]
    assert ok(fw, "x/2c $pkt+12") == ["pkt+12:  8 '\\b'  0 '\\0'"]


def test_x_wraps_rows_like_gdb(fw: Session) -> None:
    lines = ok(fw, "x/10xb $pkt")
    assert lines == [
        "pkt:    0x02  0x00  0x00  0x00  0x00  0x01  0x02  0x00",
        "pkt+8:  0x00  0x00",
    ]


def test_x_addresses_and_strings(fw: Session) -> None:
    ok(fw, "set var *(u64 *)($fp - 8) = $pkt + 14")
    assert ok(fw, "x/ag $fp-8") == ["fp-8:  0x20000010e <pkt+14>"]
    ok(fw, 'set var $fp[-24:-20] = x"61626300"')
    assert ok(fw, "x/s $fp-24") == ['fp-24:  "abc"']


def test_x_reports_a_fault_in_one_line_after_what_it_could_read(fw: Session) -> None:
    result = fw.execute("x/8xb $pkt+70")
    assert not result.ok
    assert result.lines == ["pkt+70:  0x01  0x03  0x03  0x07"]
    assert result.error == "Cannot access memory at pkt+74: packet is 74 bytes"
    assert err(fw, "x/4xb 0") == "Cannot access memory at 0x0: NULL pointer dereference"
    assert err(fw, "x/2xg $fp") == "Cannot access memory at fp: stack frame is 512 bytes"


def test_x_i_lists_instructions_with_the_current_one_marked(fw: Session) -> None:
    assert ok(fw, "x/5i $pc") == [
        "=> 195: r1 = map[idx:0] <fw_rules>",
        "   197: call bpf_map_lookup_elem#1",
        "   198: if r0 == 0 goto +12",
        "   199: r1 = *(u32 *)(r0 + 0)",
        "   200: if r1 == 2 goto +1",
    ]
    assert ok(fw, "x/2i") == ["   201: r6 = 1", "   202: r1 = *(u32 *)(r0 + 4)"]
    assert ok(fw, "x/2i 14") == [  # the second half of a lddw shows the lddw
        "   13: r1 = map[idx:1] <fw_counters>",
        "   15: call bpf_map_lookup_elem#1",
    ]


def test_x_i_works_before_the_run_and_on_functions() -> None:
    session = open_sample("xdp_subprog_globals")
    assert ok(session, "x/2i 0") == [
        "   0: r2 = map[idx:2][0]+0 <xdp_subp.bss>",
        "   2: r3 = *(u64 *)(r2 + 0)",
    ]
    assert ok(session, "x/1i parse_ipv4") == ["   77: r0 = 0xffffffff ll"]


def test_x_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "x/4qb $r2") == (
        "undefined format letter 'q' in '/4qb': formats are x d u o t a c s i z, sizes b h w g"
    )
    assert err(fw, "x/0xb $r2") == "the count in '/0xb' must be at least 1"
    assert err(fw, "x/xbh $r2") == "'/xbh' gives the unit size twice"
    assert err(fw, "x/4xb $r2 +").startswith("unexpected end of expression")
    assert err(fw, "x/2i 500") == "no instruction 500 in xdp_firewall (it has slots 0-225)"
    idle = open_sample("xdp_firewall")
    assert err(idle, "x") == "x needs an address the first time: x/4xb $r10-8, x/16xb $pkt, x/5i $pc"
    assert "not being run" in err(idle, "x/4xb $r2")
    assert err(idle, "x/4xb 0x300000ff0") == 'The program is not being run. Use "start" or "run".'


def test_parse_examine_defaults_follow_gdb() -> None:
    last = ExamineFormat(1, "x", "w")
    assert parse_examine("4xb", last) == ExamineFormat(4, "x", "b")
    assert parse_examine("2", ExamineFormat(1, "d", "h")) == ExamineFormat(2, "d", "h")
    assert parse_examine("a", last) == ExamineFormat(1, "a", "g")
    assert parse_examine("c", last) == ExamineFormat(1, "c", "b")
    assert parse_examine("5i", last).spec() == "5i"
    assert parse_examine("bx", last) == ExamineFormat(1, "x", "b")
    with pytest.raises(CommandError):
        parse_examine("-3x", last)


# -- print and output -------------------------------------------------------------------------------
def test_print_a_btf_struct_through_a_cast(fw: Session) -> None:
    assert ok(fw, "p/x *(struct fw_key *)$r2") == [
        "$1 = {kind = 0x2, proto = 0x0, port = 0x0, addr = 0xa01a8c0}"
    ]
    assert ok(fw, "print *(struct fw_key *)$r2") == ["$2 = {kind = 2, proto = 0, port = 0, addr = 167880896}"]


def test_print_keeps_a_value_history_and_names_pointers(fw: Session) -> None:
    assert ok(fw, "p $r2") == ["$1 = 12884905968 <fp-16>"]
    assert ok(fw, "p/x $r2") == ["$2 = 0x300000ff0 <fp-16>"]
    assert ok(fw, "p $pkt") == ["$3 = (u8 *) 0x200000100 <pkt>"]
    assert ok(fw, "p $ctx->data_end") == ["$4 = (u8 *) 0x20000014a <pkt_end>"]
    assert ok(fw, "p") == ["$5 = (u8 *) 0x20000014a <pkt_end>"]
    assert ok(fw, "p $1 + 1") == ["$6 = 12884905969"]
    assert ok(fw, "p/d $r10") == ["$7 = 12884905984"]
    assert len(fw.values) == 7


def test_print_assigns(fw: Session) -> None:
    assert ok(fw, "print $r1 = 5") == ["$1 = 5"]
    assert ok(fw, "regs r1") == ["r1   0x0000000000000005  5                    scalar"]


def test_output_prints_the_bare_value_without_history(fw: Session) -> None:
    assert ok(fw, "output/x $r7") == ["0x4a"]
    assert fw.values == []


def test_print_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "p/q $r1") == "undefined output format 'q': use one of x d u t o c a z s"
    assert err(fw, "p $r11") == "there is no register $r11: eBPF has $r0..$r10"
    assert err(fw, "output") == "output needs an expression"
    idle = open_sample("xdp_firewall")
    assert err(idle, "p") == "the value history is empty: print EXPR first"
    assert ok(idle, "p 1 + 2") == ["$1 = 3"]  # constants need no machine
    assert "not being run" in err(idle, "p $r1")


# -- display -------------------------------------------------------------------------------------
def test_display_shows_now_and_after_every_stop(fw: Session) -> None:
    assert ok(fw, "display $r0") == ["1: $r0 = 0"]
    assert ok(fw, "display/i $pc") == ["2: x/i $pc", "=> 195: r1 = map[idx:0] <fw_rules>"]
    assert ok(fw, "display/x $r1") == ["3: /x $r1 = 0xa01a8c0"]
    lines = ok(fw, "stepi")
    assert lines[-4:] == [
        "1: $r0 = 0",
        "2: x/i $pc",
        "=> 197: call bpf_map_lookup_elem#1",
        "3: /x $r1 = 0x1000000000 <map_ptr(fw_rules)>",
    ]
    assert display_lines(fw) == lines[-4:]
    assert ok(fw, "display") == lines[-4:]


def test_info_display_and_undisplay(fw: Session) -> None:
    ok(fw, "display $r0")
    ok(fw, "display/i $pc")
    ok(fw, "display/4xb $r2")
    assert ok(fw, "info display") == [
        "Auto-display expressions now in effect:",
        "Num Enb Expression",
        "1:   y  $r0",
        "2:   y  x/i $pc",
        "3:   y  x/4xb $r2",
    ]
    assert ok(fw, "display") == [
        "1: $r0 = 0",
        "2: x/i $pc",
        "=> 195: r1 = map[idx:0] <fw_rules>",
        "3: x/4xb $r2",
        "fp-16:  0x02  0x00  0x00  0x00",
    ]
    ok(fw, "undisplay 2")
    assert [d.number for d in fw.displays] == [1, 3]
    assert err(fw, "undisplay 2") == 'no display number 2; "info display" lists them'
    ok(fw, "undisplay")
    assert ok(fw, "info display") == ["There are no auto-display expressions now."]


def test_display_before_the_run_waits_for_a_stop() -> None:
    session = open_sample("xdp_firewall")
    assert ok(session, "display/x $r2") == []
    ok(session, "break *197")
    assert ok(session, "run")[-1] == "1: /x $r2 = 0x300000ff0 <fp-16>"


def test_a_display_that_fails_shows_its_error_in_place(fw: Session) -> None:
    assert ok(fw, "display *(u32 *)0") == [
        "1: *(u32 *)0 = <error: cannot access memory: read of 4 bytes at 0x0: NULL pointer dereference>"
    ]
    assert ok(fw, "display/2xg $fp") == [
        "2: x/2xg $fp",
        "<error: Cannot access memory at fp: stack frame is 512 bytes>",
    ]


def test_display_errors_are_one_line(fw: Session) -> None:
    assert "undefined format letter 'q'" in err(fw, "display/q $r0")
    assert err(fw, "display $r0 +") == "unexpected end of expression at column 6"
    assert err(fw, "display/x") == "display needs an expression after the format"
    assert err(fw, "undisplay x") == "a display number must be a number, not 'x'"


# -- set var ------------------------------------------------------------------------------------
def test_set_var_changes_registers_memory_and_maps(fw: Session) -> None:
    assert ok(fw, "set var $r3 = 7") == []
    assert ok(fw, "p $r3") == ["$1 = 7"]
    ok(fw, "set variable *(u16 *)($r2 + 2) = 0x5000")
    assert ok(fw, "x/4xb $r2") == ["fp-16:  0x02  0x00  0x00  0x50"]
    ok(fw, "set var ((struct fw_key *)$r2)->proto = 6")
    assert ok(fw, "p/x *(struct fw_key *)$r2") == [
        "$2 = {kind = 0x2, proto = 0x6, port = 0x5000, addr = 0xa01a8c0}"
    ]
    ok(fw, "set var fw_counters[0].bytes = 5")
    assert ok(fw, "p fw_counters[0]") == ["$3 = {packets = 0, bytes = 5}"]
    ok(fw, 'set var $pkt[12:14] = x"86dd"')
    assert ok(fw, "x/2xb $pkt+12") == ["pkt+12:  0x86  0xdd"]


def test_set_var_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "set var 5") == "expected an assignment, like $r1 = 5 or *(u32 *)($fp - 8) = 0; got '5'"
    assert err(fw, "set var") == "set var needs an assignment"
    assert "cannot write memory" in err(fw, "set var *(u32 *)0 = 1")


# -- ptype / whatis -----------------------------------------------------------------------------
def test_ptype_shows_btf_definitions(fw: Session) -> None:
    struct = [
        "type = struct fw_key {",
        "    __u8 kind;",
        "    __u8 proto;",
        "    __be16 port;",
        "    __be32 addr;",
        "}",
    ]
    assert ok(fw, "ptype struct fw_key") == struct
    assert ok(fw, "ptype *(struct fw_key *)$r2") == struct
    assert ok(fw, "ptype struct fw_key *") == [*struct[:-1], "} *"]
    assert ok(fw, "whatis *(struct fw_key *)$r2") == ["type = struct fw_key"]
    assert ok(fw, "whatis $r2") == ["type = u64"]
    assert ok(fw, "ptype __u32") == ["type = unsigned int"]
    assert ok(fw, "ptype u16") == ["type = unsigned short"]
    assert ok(fw, "ptype fw_counters") == [
        "type = array map fw_counters, 64 entries",
        "key:   __u32",
        "value: struct fw_counter {",
        "    __u64 packets;",
        "    __u64 bytes;",
        "}",
    ]
    assert ok(fw, "ptype $ctx")[0] == "type = struct xdp_md {"


def test_ptype_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "ptype struct nope") == "no struct nope in this object's BTF"
    assert err(fw, "ptype") == "ptype needs a type or an expression"


# -- packet --------------------------------------------------------------------------------------
FIRST_ROW = "0x0000:  0200 0000 0001 0200 0000 0002 0800 4500  ..............E."


def test_packet_before_the_run_shows_the_input() -> None:
    session = open_sample("xdp_firewall")
    lines = ok(session, "packet")
    assert lines[0] == "packet 1 (74 bytes, input): eth/ipv4/tcp 192.168.1.10:40000 -> 10.0.0.1:80 [S]"
    assert lines[1] == FIRST_ROW
    assert lines[-1] == "0x0040:  e240 0000 0000 0103 0307                 .@........"


def test_packet_n_selects_a_packet() -> None:
    session = open_sample("xdp_firewall")
    assert ok(session, "packet 2")[0].startswith("packet 2 selected (")
    assert session.packet_index == 1
    assert err(session, "packet 99") == "no packet 99: the capture has packets 1-24"
    assert err(session, "packet 1 2") == "packet takes one argument, not '1 2'"


def test_packet_marks_the_bytes_the_last_instruction_read() -> None:
    session = open_sample("xdp_firewall")
    ok(session, "break *23")
    ok(session, "run")
    assert ok(session, "packet")[1] == FIRST_ROW  # nothing read by the last step yet
    ok(session, "stepi")  # r1 = *(u8 *)(r2 + 13)
    lines = ok(session, "packet")
    assert lines[0] == "packet 1 at insn 24 (74 bytes): eth/ipv4/tcp 192.168.1.10:40000 -> 10.0.0.1:80 [S]"
    assert lines[1] == "0x0000:  0200 0000 0001 0200 0000 0002 08<00> 4500  ..............E."
    assert lines[2] == "0x0010:  003c 1001 4000 4006 5f08 c0a8 010a 0a00    .<..@.@._......."
    assert lines[-1] == "<..> read by insn 23: r1 = *(u8 *)(r2 + 13)"


def test_packet_marks_the_bytes_the_last_instruction_wrote() -> None:
    session = open_sample("tc_classifier")
    ok(session, "start")
    for _ in range(400):
        session.stepi()
        step = session.last_step
        if step is not None and any(w.where.startswith("pkt") for w in step.mem):
            break
    lines = ok(session, "packet")
    assert lines[2] == "0x0010:  004c 1001 4000 4006 [5e40] c0a8 010a 0a00  .L..@.@.^@......"
    assert lines[-1] == "[..] written by insn 142: call bpf_l3_csum_replace#10"


def test_packet_after_the_run_diffs_output_against_input() -> None:
    session = open_sample("tc_classifier")
    ok(session, "run")
    lines = ok(session, "packet")
    assert lines[0] == (
        "packet out (90 bytes; 2 bytes changed or added): eth/ipv4/tcp 192.168.1.10:40000 -> 10.0.0.1:22 [PA]"
    )
    assert lines[1] == "0x0000:  0200 0000 0001 0200 0000 0002 0800 45[b8]  ..............E."
    assert lines[2] == "0x0010:  004c 1001 4000 4006 5e[40] c0a8 010a 0a00  .L..@.@.^@......"
    assert lines[-1] == "[..] changed or added by the program"
    assert ok(session, "packet diff") == lines


def test_packet_diff_reports_xdp_metadata() -> None:
    session = open_sample("xdp_tailcall", prog="xdp_dispatch")
    ok(session, "run")
    lines = ok(session, "packet")
    assert lines[0].startswith("packet out = packet in (no bytes changed, 74 bytes)")
    assert lines[1] == "metadata (8 bytes, in front of the packet; data_out holds both, 82 bytes):"
    assert lines[2].startswith("0x0000:  b706 0e00 2200 0000")


def test_packet_of_a_socket_filter_starts_at_the_ip_header() -> None:
    session = open_sample("socket_filter")
    ok(session, "run")
    lines = ok(session, "packet")
    assert lines[0].startswith("packet out = packet in (no bytes changed, ")
    assert "BPF_PROG_TEST_RUN hands the MAC header back zeroed" in lines[-1]


def test_packet_errors_are_one_line() -> None:
    session = open_sample("xdp_firewall")
    assert err(session, "packet diff") == (
        'the program is not being run, so there is no output packet yet; "packet" shows the input'
    )
    assert err(session, "packet x") == "the packet number must be a number, not 'x'"
    raw = Session.open(SAMPLES / "raw" / "fletcher16.bin", raw=True)
    assert err(raw, "packet") == (
        'a raw program has no packet: its input is memory ("x/16xb $ctx" shows it, "set mem HEX" sets it)'
    )


def test_hexdump_brackets_runs_across_groups_and_rows() -> None:
    data = bytes(range(0x41, 0x41 + 20))
    lines = pkt.hexdump(data, {1: pkt.WRITE, 2: pkt.WRITE, 15: pkt.READ, 16: pkt.READ})
    assert lines == [
        "0x0000:  41[42 43]44 4546 4748 494a 4b4c 4d4e 4f<50>  ABCDEFGHIJKLMNOP",
        "0x0010:  <51>52 5354                                  QRST",
    ]
    assert pkt.hexdump(b"") == []


def test_insn_reads_cover_loads_atomics_and_legacy_packet_loads() -> None:
    regs = [0] * 11
    regs[2] = 0x1000
    ldxb = Insn(0x71, dst=1, src=2, off=13)  # r1 = *(u8 *)(r2 + 13)
    assert pkt.insn_reads(ldxb, regs, None) == [pkt.Access(0x100D, 1, pkt.READ)]
    atomic = Insn(0xDB, dst=2, src=1, off=8)  # lock *(u64 *)(r2 + 8) += r1
    assert pkt.insn_reads(atomic, regs, None) == [pkt.Access(0x1008, 8, pkt.READ)]
    ld_abs = Insn(0x28, imm=12)  # r0 = *(u16 *)skb[12]
    assert pkt.insn_reads(ld_abs, regs, 0x2000) == [pkt.Access(0x200C, 2, pkt.READ)]
    assert pkt.insn_reads(Insn(0xB7, dst=0, imm=1), regs, None) == []
    marks = pkt.marks_in([pkt.Access(0x100D, 2, pkt.READ), pkt.Access(0x100E, 1, pkt.WRITE)], 0x1000, 15)
    assert marks == {13: pkt.READ, 14: pkt.WRITE}


def test_summary_decodes_common_headers() -> None:
    from bpfdbg.packets import build_packet

    assert pkt.summary(
        build_packet("eth/ipv4(src=10.0.0.1,dst=10.0.0.2)/tcp(sport=40000,dport=80,flags=S)")
    ) == ("eth/ipv4/tcp 10.0.0.1:40000 -> 10.0.0.2:80 [S]")
    assert pkt.summary(
        build_packet("eth/vlan(id=100)/ipv6(src=2001:db8::1,dst=2001:db8::2)/udp(sport=53,dport=5353)")
    ) == ("eth/vlan(100)/ipv6/udp [2001:db8::1]:53 -> [2001:db8::2]:5353")
    assert pkt.summary(build_packet("eth/ipv4(src=1.1.1.1,dst=2.2.2.2)/icmp(type=8)")) == (
        "eth/ipv4/icmp 1.1.1.1 -> 2.2.2.2 type 8 code 0"
    )
    frame = build_packet("eth/ipv4(src=10.0.0.1,dst=10.0.0.2)/udp(sport=1,dport=2)")
    assert pkt.summary(frame[:20]) == "eth/ipv4 (truncated)"
    assert pkt.summary(frame[14:], l2=False) == "ipv4/udp 10.0.0.1:1 -> 10.0.0.2:2"
    assert pkt.summary(b"\x00" * 10) == "eth (truncated: 10 bytes)"
    assert pkt.summary(bytes(12) + b"\x08\x06" + bytes(28)) == "eth/arp"
    assert pkt.summary(bytes(12) + b"\x88\xcc" + bytes(10)) == "eth (type 0x88cc)"


def test_diff_aligns_a_changed_length_at_the_cheaper_end() -> None:
    before = bytes(range(40))
    pushed = pkt.diff(before, b"\xaa\xbb\xcc\xdd" + before)
    assert pushed.note == "4 bytes added at the front"
    assert sorted(pushed.marks) == [0, 1, 2, 3]
    trimmed = pkt.diff(before, before[:30])
    assert trimmed.note == "10 bytes removed from the end"
    assert trimmed.marks == {}
    popped = pkt.diff(before, before[1:])
    assert popped.note == "1 byte removed from the front"
    same = pkt.diff(before, before)
    assert pkt.diff_lines(same)[0].startswith("packet out = packet in (no bytes changed, 40 bytes)")
    lines = pkt.diff_lines(pushed)
    assert lines[0].startswith(
        "packet out (44 bytes, was 40: 4 bytes added at the front; 4 bytes changed or added)"
    )
    assert lines[1].startswith("0x0000:  [aabb ccdd] 0001 0203")
