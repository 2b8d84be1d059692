"""Location specs (bpfdbg.locations): ``resolve()`` and ``LineTable`` on the sample objects and
on hand-made programs whose line info is chosen to hit each rule.

Expectations are computed here from the programs' raw line entries and symbols, with a
deliberately naive reading of the rules (linear scans, no bisect), not with the module's
own helpers.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path
from types import MappingProxyType

import pytest

from bpfdbg.commands.registry import CommandError
from bpfdbg.locations import LineTable, Location, resolve
from emulator.asm import assemble
from emulator.elf import load_object
from emulator.program import Program, SourceLine

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
NO_LINE_INFO = "no line info: a bare number is an instruction"


@cache
def programs_of(name: str) -> tuple[Program, ...]:
    return tuple(load_object(str(SAMPLES / f"{name}.o")).programs)


def program_of(name: str, prog: str | None = None) -> Program:
    progs = programs_of(name)
    return progs[0] if prog is None else next(p for p in progs if p.name == prog)


@cache
def fletcher() -> Program:
    return Program.from_bytes((SAMPLES / "raw" / "fletcher16.bin").read_bytes(), name="fletcher16")


def sites(loc: Location) -> list[tuple[str, int]]:
    return [(s.program, s.pc) for s in loc.sites]


def error_of(spec: str, programs: list[Program], current: Program, pc: int | None = None) -> str:
    with pytest.raises(CommandError) as info:
        resolve(spec, programs, current, pc)
    message = info.value.message
    assert message and "\n" not in message
    return message


# -- the oracle: the rules of the module docstring, spelled out naively ---------------------
def naive_line_of(prog: Program, pc: int) -> SourceLine | None:
    """The nearest line entry at or before ``pc`` that is not in an earlier function."""
    entry = max((e for e in prog.symbols if e <= pc), default=0)
    for q in range(pc, entry - 1, -1):
        if q in prog.lines:
            return prog.lines[q]
    return None


def naive_runs(prog: Program, line: int) -> list[int]:
    """First pc of each maximal run of instructions attributed to ``line``."""
    out = []
    for pc in range(prog.nslots):
        here = naive_line_of(prog, pc)
        if here is None or here.line != line:
            continue
        before = naive_line_of(prog, pc - 1) if pc > 0 else None
        if before is None or before.line != line or before.file != here.file:
            out.append(pc)
    return out


def lines_with_code(progs: list[Program]) -> set[int]:
    return {src.line for p in progs for src in p.lines.values()}


def expected_line_sites(progs: list[Program], line: int) -> tuple[int | None, list[tuple[str, int]]]:
    """gdb's rule: the first line at or after ``line`` that has code anywhere, then its code
    in every program that has some."""
    target = min((n for n in lines_with_code(progs) if n >= line), default=None)
    if target is None:
        return None, []
    return target, [(p.name, pc) for p in progs for pc in naive_runs(p, target)]


def single_file_programs() -> list[tuple[str, str]]:
    return [("xdp_firewall", "xdp_firewall.c"), ("xdp_subprog_globals", "xdp_subprog_globals.c")]


# -- instructions: *N, *0xN, PROG:N, *PROG:N ----------------------------------------------------
def test_star_number_is_an_instruction_of_the_current_program() -> None:
    fw = program_of("xdp_firewall")
    assert sites(resolve("*17", [fw], fw, None)) == [("xdp_firewall", 17)]
    assert sites(resolve("*0x11", [fw], fw, None)) == [("xdp_firewall", 17)]
    assert sites(resolve("  *0  ", [fw], fw, None)) == [("xdp_firewall", 0)]
    last = fw.nslots - 1
    assert fw.insns[last] is not None
    assert sites(resolve(f"*{last}", [fw], fw, None)) == [("xdp_firewall", last)]
    assert resolve("*17", [fw], fw, None).note == ""


def test_instruction_out_of_range() -> None:
    fw = program_of("xdp_firewall")
    n = fw.nslots
    assert n == 226
    message = error_of(f"*{n}", [fw], fw)
    assert message == f"no instruction {n} in xdp_firewall (it has {n} slots, 0-{n - 1})"
    assert error_of("*-1", [fw], fw).startswith("no instruction -1 in xdp_firewall")
    assert error_of("*abc", [fw], fw) == "bad instruction number in '*abc': write *17 or *0x11"


def test_second_half_of_lddw_is_refused_everywhere() -> None:
    fw = program_of("xdp_firewall")
    halves = [pc for pc, insn in enumerate(fw.insns) if insn is None]
    assert halves and all(fw.insns[pc - 1] is not None for pc in halves)
    for pc in halves:
        for spec in (f"*{pc}", f"xdp_firewall:{pc}", f"*xdp_firewall:{pc}"):
            message = error_of(spec, [fw], fw)
            assert f"instruction {pc} is the second half of the lddw at {pc - 1}" in message
            assert message.endswith(f"use *{pc - 1}")
        # the first half is fine
        assert sites(resolve(f"*{pc - 1}", [fw], fw, None)) == [("xdp_firewall", pc - 1)]


def test_prog_colon_insn_names_another_program_of_the_object() -> None:
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    assert sites(resolve("handle_tcp:5", progs, dispatch, None)) == [("handle_tcp", 5)]
    assert sites(resolve("*handle_tcp:5", progs, dispatch, None)) == [("handle_tcp", 5)]
    assert sites(resolve("handle_udp:0x11", progs, dispatch, None)) == [("handle_udp", 17)]
    # *5 alone is the current program's instruction
    assert sites(resolve("*5", progs, dispatch, None)) == [("xdp_dispatch", 5)]
    tcp = program_of("xdp_tailcall", "handle_tcp")
    assert error_of(f"handle_tcp:{tcp.nslots}", progs, dispatch) == (
        f"no instruction {tcp.nslots} in handle_tcp (it has {tcp.nslots} slots, 0-{tcp.nslots - 1})"
    )
    half = next(pc for pc, insn in enumerate(tcp.insns) if insn is None)
    assert "second half of the lddw" in error_of(f"handle_tcp:{half}", progs, dispatch)
    message = error_of("*nosuch:3", progs, dispatch)
    assert message.startswith("no program 'nosuch'; programs: ")
    assert all(p.name in message for p in progs)


def test_prog_colon_insn_with_an_lddw_half_in_that_program_only() -> None:
    # handle_udp's slot 16 is an lddw half; xdp_dispatch's slot 16 is not
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    udp = program_of("xdp_tailcall", "handle_udp")
    assert udp.insns[16] is None and dispatch.insns[16] is not None
    assert sites(resolve("*16", progs, dispatch, None)) == [("xdp_dispatch", 16)]
    assert "lddw at 15" in error_of("handle_udp:16", progs, dispatch)


# -- functions --------------------------------------------------------------------------------
def test_function_names_resolve_to_their_entry() -> None:
    sub = program_of("xdp_subprog_globals")
    assert len(sub.symbols) == 7
    for entry, name in sub.symbols.items():
        loc = resolve(name, [sub], sub, None)
        assert sites(loc) == [("xdp_port_blocker", entry)], name
    assert sites(resolve("classify", [sub], sub, None)) == [("xdp_port_blocker", 148)]


def test_program_names_resolve_to_pc_zero_of_that_program() -> None:
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    for p in progs:
        assert sites(resolve(p.name, progs, dispatch, None)) == [(p.name, 0)]


def test_unknown_function_lists_the_choices() -> None:
    sub = program_of("xdp_subprog_globals")
    message = error_of("nosuchfunc", [sub], sub)
    assert message.startswith("function 'nosuchfunc' not defined; functions: ")
    listed = message.split("functions: ", 1)[1].split(", ")
    assert listed == sorted(set(sub.symbols.values()))
    progs = list(programs_of("xdp_tailcall"))
    listed = error_of("nosuchfunc", progs, progs[0]).split("functions: ", 1)[1].split(", ")
    assert listed == sorted(p.name for p in progs)


def test_empty_spec_is_an_error() -> None:
    fw = program_of("xdp_firewall")
    assert error_of("   ", [fw], fw).startswith("a location is needed")


# -- source lines on the samples ------------------------------------------------------------------
@pytest.mark.parametrize(("name", "file"), single_file_programs())
def test_every_file_line_resolves_as_gdb_does(name: str, file: str) -> None:
    prog = program_of(name)
    known = lines_with_code([prog])
    checked = 0
    for line in range(1, max(known) + 3):
        target, expected = expected_line_sites([prog], line)
        spec = f"{file}:{line}"
        if target is None:
            assert error_of(spec, [prog], prog) == f"line {line} of {file} has no code at or after it"
            continue
        loc = resolve(spec, [prog], prog, None)
        assert sites(loc) == expected, spec
        assert loc.note == ("" if target == line else f"line {line} has no code; using line {target}"), spec
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(("name", "file"), single_file_programs())
def test_bare_line_number_is_a_line_of_the_current_file(name: str, file: str) -> None:
    prog = program_of(name)
    for line in sorted(lines_with_code([prog])):
        for pc in (None, 0):
            loc = resolve(str(line), [prog], prog, pc)
            assert sites(loc) == sites(resolve(f"{file}:{line}", [prog], prog, None)), line
            assert loc.note == ""


def test_firewall_inlined_line_has_one_site_per_copy() -> None:
    # count_and_return (line 94) is inlined at every return: one site per copy
    fw = program_of("xdp_firewall")
    loc = resolve("xdp_firewall.c:94", [fw], fw, None)
    expected = naive_runs(fw, 94)
    assert sites(loc) == [("xdp_firewall", pc) for pc in expected]
    assert len(expected) == 13
    # line 128 has two entries (pcs 6 and 8) with nothing else between them: one run
    assert fw.lines[6].line == fw.lines[8].line == 128 and 7 not in fw.lines
    assert sites(resolve("xdp_firewall.c:128", [fw], fw, None)) == [("xdp_firewall", 6)]


def test_line_without_code_moves_to_the_next_line_with_code() -> None:
    fw = program_of("xdp_firewall")
    assert 117 not in lines_with_code([fw]) and 118 in lines_with_code([fw])
    for spec in ("117", "xdp_firewall.c:117", "./xdp_firewall.c:117"):
        loc = resolve(spec, [fw], fw, None)
        assert sites(loc) == [("xdp_firewall", 3)], spec
        assert loc.note == "line 117 has no code; using line 118"
    assert "has no code at or after it; use *211 for an instruction" in error_of("211", [fw], fw)


def test_unknown_file_lists_the_files_and_programs() -> None:
    fw = program_of("xdp_firewall")
    assert error_of("nosuch.c:10", [fw], fw) == (
        "no source file named 'nosuch.c'; files: xdp_firewall.c; programs: xdp_firewall"
    )
    progs = list(programs_of("xdp_tailcall"))
    message = error_of("xdp_firewall.c:10", progs, progs[0])
    assert message.startswith("no source file named 'xdp_firewall.c'; files: xdp_tailcall.c; programs: ")
    assert (
        error_of("xdp_firewall.c:abc", [fw], fw) == "bad line or instruction number in 'xdp_firewall.c:abc'"
    )


def test_file_line_in_code_shared_by_every_program() -> None:
    # bump() (lines 97-100) is inlined into every program of xdp_tailcall
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    ordered = [dispatch, *[p for p in progs if p is not dispatch]]
    loc = resolve("xdp_tailcall.c:100", progs, dispatch, None)
    expected = [(p.name, pc) for p in ordered for pc in naive_runs(p, 100)]
    assert sites(loc) == expected
    assert {name for name, _ in expected} == {p.name for p in progs}
    assert loc.note == ""


def test_file_line_with_code_in_one_program_stays_in_that_program() -> None:
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    tcp = program_of("xdp_tailcall", "handle_tcp")
    loc = resolve("xdp_tailcall.c:250", progs, dispatch, None)
    assert sites(loc) == [("handle_tcp", pc) for pc in naive_runs(tcp, 250)]
    assert loc.note == ""


def test_every_line_of_a_multi_program_file_resolves_as_gdb_does() -> None:
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    ordered = [dispatch, *[p for p in progs if p is not dispatch]]
    for line in range(1, max(lines_with_code(progs)) + 1):
        target, expected = expected_line_sites(ordered, line)
        loc = resolve(f"xdp_tailcall.c:{line}", progs, dispatch, None)
        assert sorted(sites(loc)) == sorted(expected), line
        assert loc.note == ("" if target == line else f"line {line} has no code; using line {target}")


def test_bare_line_number_means_the_same_as_current_file_colon_line() -> None:
    progs = list(programs_of("xdp_tailcall"))
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    assert sites(resolve("250", progs, dispatch, None)) == sites(
        resolve("xdp_tailcall.c:250", progs, dispatch, None)
    )


# -- raw programs: no line info ---------------------------------------------------------------------
def test_raw_program_bare_number_is_an_instruction() -> None:
    raw = fletcher()
    assert raw.nslots == 17 and not raw.lines
    for pc in range(raw.nslots):
        loc = resolve(str(pc), [raw], raw, None)
        assert sites(loc) == [("fletcher16", pc)]
        assert loc.note == NO_LINE_INFO
    assert error_of("17", [raw], raw) == "no instruction 17 in fletcher16 (it has 17 slots, 0-16)"
    assert sites(resolve("0x10", [raw], raw, None)) == [("fletcher16", 16)]


def test_raw_program_has_no_source_files() -> None:
    raw = fletcher()
    assert error_of("fletcher16.s:3", [raw], raw) == (
        "no source file named 'fletcher16.s'; files: none (no line info); programs: fletcher16"
    )
    assert sites(resolve("fletcher16", [raw], raw, None)) == [("fletcher16", 0)]
    assert sites(resolve("fletcher16:4", [raw], raw, None)) == [("fletcher16", 4)]
    table = LineTable(raw)
    assert not table
    assert all(table.line_of(pc) is None for pc in range(raw.nslots))
    assert not any(table.is_line_start(pc) for pc in range(raw.nslots))


def test_relative_locations() -> None:
    raw = fletcher()
    message = error_of("+3", [raw], raw, None)
    assert message == "+3 is relative to the current instruction, and the program is not running"
    assert error_of("-2", [raw], raw, None).startswith("-2 is relative to the current instruction")
    for pc in range(raw.nslots):
        for delta in (-3, -1, 0, 1, 2, 5):
            spec = f"{delta:+d}"
            target = pc + delta
            if 0 <= target < raw.nslots:
                assert sites(resolve(spec, [raw], raw, pc)) == [("fletcher16", target)], (pc, spec)
            else:
                assert error_of(spec, [raw], raw, pc).startswith(f"no instruction {target} in fletcher16")
    assert sites(resolve("+0x2", [raw], raw, 4)) == [("fletcher16", 6)]


def test_relative_location_is_in_the_current_program() -> None:
    progs = list(programs_of("xdp_tailcall"))
    tcp = program_of("xdp_tailcall", "handle_tcp")
    assert sites(resolve("+2", progs, tcp, 10)) == [("handle_tcp", 12)]
    half = next(pc for pc, insn in enumerate(tcp.insns) if insn is None)
    assert "second half of the lddw" in error_of("+1", progs, tcp, half - 1)


# -- a hand-made program with chosen line info -----------------------------------------------------
HAND_ASM = """
r1 = 1
r2 = 2
r3 = 3
r1 = 0x1122334455667788 ll
call 1
r0 = 0
exit
r0 = 1
r0 += 1
r0 += 2
exit
"""
A, B = "src/a.c", "z.c"


def hand_program(lines: dict[int, SourceLine], symbols: dict[int, str], name: str = "hand") -> Program:
    prog = Program.from_insns(assemble(HAND_ASM), name=name)
    assert prog.nslots == 12 and prog.insns[4] is None
    return replace(prog, lines=MappingProxyType(lines), symbols=MappingProxyType(symbols))


@pytest.fixture
def hand() -> Program:
    """f (0-7): a.c lines 10, 10, 12, 10 (lddw 3-4), -, 14, -; g (8-11): z.c line 3 at 8, 5 at 10."""
    lines = {
        0: SourceLine(A, 10),
        1: SourceLine(A, 10),
        2: SourceLine(A, 12),
        3: SourceLine(A, 10),
        6: SourceLine(A, 14),
        8: SourceLine(B, 3),
        10: SourceLine(B, 5),
    }
    return hand_program(lines, {0: "f", 8: "g"})


def test_hand_first_pc_of_each_run(hand: Program) -> None:
    for spec in ("a.c:10", "src/a.c:10", "10"):
        loc = resolve(spec, [hand], hand, None)
        assert sites(loc) == [("hand", 0), ("hand", 3)], spec
        assert loc.note == ""
    assert sites(resolve("a.c:12", [hand], hand, None)) == [("hand", 2)]
    assert sites(resolve("z.c:5", [hand], hand, None)) == [("hand", 10)]


def test_hand_line_without_code_moves_to_the_next(hand: Program) -> None:
    cases = {"a.c:11": (12, [2]), "a.c:13": (14, [6]), "a.c:0": (10, [0, 3]), "z.c:4": (5, [10])}
    for spec, (target, pcs) in cases.items():
        loc = resolve(spec, [hand], hand, None)
        assert sites(loc) == [("hand", pc) for pc in pcs], spec
        line = int(spec.split(":")[1])
        assert loc.note == f"line {line} has no code; using line {target}"
    assert error_of("a.c:15", [hand], hand) == "line 15 of a.c has no code at or after it"
    assert error_of("z.c:6", [hand], hand) == "line 6 of z.c has no code at or after it"


def test_hand_unknown_file_and_function(hand: Program) -> None:
    assert error_of("c.c:1", [hand], hand) == "no source file named 'c.c'; files: a.c, z.c; programs: hand"
    assert error_of("nosuch", [hand], hand) == "function 'nosuch' not defined; functions: f, g, hand"
    assert sites(resolve("g", [hand], hand, None)) == [("hand", 8)]
    assert sites(resolve("f", [hand], hand, None)) == [("hand", 0)]


def test_hand_lddw_half_and_range(hand: Program) -> None:
    assert error_of("*4", [hand], hand) == "*4: instruction 4 is the second half of the lddw at 3; use *3"
    assert (
        error_of("hand:4", [hand], hand)
        == "hand:4: instruction 4 is the second half of the lddw at 3; use *3"
    )
    assert error_of("+1", [hand], hand, 3) == "+1: instruction 4 is the second half of the lddw at 3; use *3"
    assert error_of("*12", [hand], hand) == "no instruction 12 in hand (it has 12 slots, 0-11)"
    assert error_of("+100", [hand], hand, 2) == "no instruction 102 in hand (it has 12 slots, 0-11)"
    assert sites(resolve("+2", [hand], hand, 3)) == [("hand", 5)]
    assert sites(resolve("-3", [hand], hand, 3)) == [("hand", 0)]


def test_hand_bare_number_uses_the_file_of_the_current_line_start(hand: Program) -> None:
    # stopped at a line start in z.c: "3" is z.c:3
    assert sites(resolve("3", [hand], hand, 8)) == [("hand", 8)]
    assert sites(resolve("5", [hand], hand, 10)) == [("hand", 10)]
    # not running: the file of instruction 0
    assert sites(resolve("12", [hand], hand, None)) == [("hand", 2)]


def test_hand_bare_number_inside_a_line_uses_that_lines_file(hand: Program) -> None:
    assert LineTable(hand).line_of(9) == SourceLine(B, 3)
    assert sites(resolve("3", [hand], hand, 9)) == [("hand", 8)]


def test_hand_file_line_does_not_spill_into_other_programs() -> None:
    p1 = hand_program({0: SourceLine(A, 10), 2: SourceLine(A, 20)}, {0: "p1"}, name="p1")
    p2 = hand_program({0: SourceLine(A, 30), 5: SourceLine(A, 40)}, {0: "p2"}, name="p2")
    loc = resolve("a.c:20", [p1, p2], p1, None)
    assert sites(loc) == [("p1", 2)]
    assert loc.note == ""


def test_hand_file_line_across_programs() -> None:
    p1 = hand_program({0: SourceLine(A, 10), 2: SourceLine(A, 20)}, {0: "p1"}, name="p1")
    p2 = hand_program(
        {0: SourceLine(A, 10), 5: SourceLine(A, 20), 7: SourceLine(A, 10)}, {0: "p2"}, name="p2"
    )
    loc = resolve("a.c:10", [p1, p2], p2, None)
    # the current program first, then the others
    assert sites(loc) == [("p2", 0), ("p2", 7), ("p1", 0)]
    assert sites(resolve("p1:5", [p1, p2], p2, None)) == [("p1", 5)]


# -- LineTable ------------------------------------------------------------------------------------
def test_hand_line_of_across_function_boundaries(hand: Program) -> None:
    table = LineTable(hand)
    assert table
    expected = {
        0: (A, 10), 1: (A, 10), 2: (A, 12), 3: (A, 10), 4: (A, 10), 5: (A, 10), 6: (A, 14), 7: (A, 14),
        8: (B, 3), 9: (B, 3), 10: (B, 5), 11: (B, 5),
    }  # fmt: skip
    for pc, (file, line) in expected.items():
        got = table.line_of(pc)
        assert got is not None and (got.file, got.line) == (file, line), pc
    assert [pc for pc in range(12) if table.is_line_start(pc)] == [0, 1, 2, 3, 6, 8, 10]
    assert table.line_of(12) == SourceLine(B, 5)


def test_hand_line_of_is_none_before_a_functions_first_entry() -> None:
    # g starts at 7 but its first line entry is at 8: 7 belongs to no line (not a.c:14 of f)
    lines = {0: SourceLine(A, 10), 6: SourceLine(A, 14), 8: SourceLine(B, 3)}
    prog = hand_program(lines, {0: "f", 7: "g"})
    table = LineTable(prog)
    assert table.line_of(6) == SourceLine(A, 14)
    assert table.line_of(7) is None
    assert table.line_of(8) == SourceLine(B, 3)
    assert table.line_of(11) == SourceLine(B, 3)
    # no entry at all before the first one
    late = hand_program({2: SourceLine(A, 1)}, {0: "f"})
    assert [LineTable(late).line_of(pc) for pc in range(3)] == [None, None, SourceLine(A, 1)]


@pytest.mark.parametrize(
    ("name", "prog"),
    [
        ("xdp_firewall", None),
        ("xdp_subprog_globals", None),
        ("xdp_tailcall", "xdp_dispatch"),
        ("xdp_tailcall", "handle_ipv4"),
        ("xdp_tailcall", "handle_tcp"),
    ],
)
def test_line_of_matches_the_naive_rule_on_samples(name: str, prog: str | None) -> None:
    program = program_of(name, prog)
    table = LineTable(program)
    assert table
    for pc in range(program.nslots):
        assert table.line_of(pc) == naive_line_of(program, pc), pc
        assert table.is_line_start(pc) == (pc in program.lines)


def test_line_of_at_subprogram_boundaries() -> None:
    sub = program_of("xdp_subprog_globals")
    table = LineTable(sub)
    entries = sorted(sub.symbols)
    for i, entry in enumerate(entries):
        end = entries[i + 1] if i + 1 < len(entries) else sub.nslots
        own = {sub.lines[pc] for pc in sub.lines if entry <= pc < end}
        # every instruction of a function maps to one of that function's own line entries
        for pc in range(entry, end):
            assert table.line_of(pc) in own, (sub.symbols[entry], pc)
    # ttl_too_low (160-166) is one line, 102, whatever the instruction
    assert {table.line_of(pc).line for pc in range(160, 167)} == {102}  # type: ignore[union-attr]
    # the instruction before classify's entry (148) is the end of flow_hash, not classify
    assert table.line_of(147).line == 152  # type: ignore[union-attr]
    assert table.line_of(148).line == 106  # type: ignore[union-attr]


def test_line_of_in_tail_called_programs_is_per_program() -> None:
    tcp = program_of("xdp_tailcall", "handle_tcp")
    dispatch = program_of("xdp_tailcall", "xdp_dispatch")
    t_tcp, t_dispatch = LineTable(tcp), LineTable(dispatch)
    # pc 0 of each program is that program's own function line
    assert t_tcp.line_of(0).line == 238  # type: ignore[union-attr]
    assert t_dispatch.line_of(0).line == 122  # type: ignore[union-attr]
    assert t_tcp.line_of(0).text.startswith("int handle_tcp")  # type: ignore[union-attr]
