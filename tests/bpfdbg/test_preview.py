"""The stop line's preview of the next instruction: branch predictions must match what the
machine then does, on every conditional jump the sample programs execute."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfdbg.render.preview import branch_taken, helper_call
from bpfdbg.session import Session
from emulator.asm import assemble

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
PROGRAMS = [
    "xdp_firewall",
    "xdp_lb",
    "xdp_loop_parser",
    "tc_classifier",
    "xdp_subprog_globals",
    "socket_filter",
]


@pytest.mark.parametrize("name", PROGRAMS)
def test_branch_prediction_matches_execution(name: str) -> None:
    session = Session.open(
        SAMPLES / f"{name}.o", pcap=SAMPLES / "pcaps" / f"{name}.pcap", maps=SAMPLES / "initial_maps.json"
    )
    checked = 0
    for index in range(len(session.packets)):
        session.select_packet(index)
        session.start()
        while session.live:
            pc, program = session.pc, session.current_program
            insn = session.program_named(program).insn_at(pc)
            assert insn is not None
            predicted = branch_taken(insn, session.regs)
            session.stepi()
            if predicted is not None and session.live and session.current_program == program:
                assert (session.pc == pc + 1 + insn.off) == predicted, (name, index, pc)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("text", "regs", "taken"),
    [
        ("if r1 s> -1 goto +1", {1: (1 << 64) - 2}, False),  # -2 > -1 is false, signed 64-bit
        ("if w1 s> -1 goto +1", {1: 0xFFFF_FFFF_0000_0000}, True),  # 32-bit compare sees 0
        ("if w1 > 5 goto +1", {1: 0x1_0000_0003}, False),  # the upper half is not compared
        ("if r1 & 0x10 goto +1", {1: 0x30}, True),
        ("if r1 == r2 goto +1", {1: 7, 2: 7}, True),
        ("if r1 < -1 goto +1", {1: 5}, True),  # imm -1 is sign-extended: u64 max
    ],
)
def test_branch_taken_semantics(text: str, regs: dict[int, int], taken: bool) -> None:
    insn = assemble(text + "\nexit\nexit")[0]
    values = [0] * 11
    for reg, value in regs.items():
        values[reg] = value
    assert branch_taken(insn, values) is taken


def test_helper_call_names_its_arguments() -> None:
    session = Session.open(
        SAMPLES / "xdp_firewall.o",
        pcap=SAMPLES / "pcaps" / "xdp_firewall.pcap",
        maps=SAMPLES / "initial_maps.json",
    )
    session.select_packet(1)
    session.break_at("*197")
    session.run()
    insn = session.program.insn_at(197)
    assert insn is not None
    assert (
        helper_call(session, insn, session.regs) == "bpf_map_lookup_elem(map: map_ptr(fw_rules), key: fp-16)"
    )
    stop_text = session.execute("run").text
    assert (
        "=> 197: call bpf_map_lookup_elem#1\n   bpf_map_lookup_elem(map: map_ptr(fw_rules), key: fp-16)"
        in stop_text
    )
