"""Whole programs through the translator with the real offload facts: every sample program
the offload verifier accepts translates (or is refused by the JIT for a reason the driver
gives), every conformance program either is refused or translates, and the images keep the
JIT's invariants: every branch lands inside the image, every instruction obeys the operand
rules, every translated eBPF instruction owns a contiguous range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfdbg.capture import read_map_entries
from emulator.asm.datafile import parse_data_file
from emulator.backends.nic import microcode as mc
from emulator.backends.nic.listing import format_listing
from emulator.backends.nic.profiles import profile
from emulator.backends.nic.translate import NfpImage, TranslateError, translate
from emulator.elf import load_object
from emulator.env import Environment
from emulator.program import Program
from tests.conftest import CONFORMANCE_DIR

offload_verifier = pytest.importorskip("emulator.backends.nic.offload_verifier")
pytest.importorskip("emulator.backends.nic.facts")

SAMPLES = Path(__file__).resolve().parents[4] / "sample_progs"
EXPECTED = json.loads((SAMPLES / "expected_kernel.json").read_text())
CASES = [(obj, prog) for obj, progs in sorted(EXPECTED.items()) for prog in sorted(progs)]
CONFORMANCE = sorted(CONFORMANCE_DIR.glob("*.data")) if CONFORMANCE_DIR.is_dir() else []
DEVICES = ("nfp-public-fw", "nfp-agilio")


def check_image(image: NfpImage, program: Program) -> None:
    n = len(image)
    targets = {mc.Relo.BR_REL}
    for insn in image.insns:
        insn.check()
        if isinstance(insn, mc.Br | mc.BrBset) and insn.relo in targets:
            assert 0 <= insn.target < n, insn.text()
        if isinstance(insn, mc.Br) and insn.relo is not mc.Relo.BR_REL:
            assert insn.target >= mc.BR_OFF_RELO
    assert [i.text() for i in image.insns[-8:]] == ["nop"] * 8
    seen = 0
    for pc, (start, end) in sorted(image.ranges.items()):
        assert program.insns[pc] is not None
        assert seen <= start <= end <= n
        seen = end
    assert format_listing(image, program)


def _sample(obj_name: str, prog_name: str) -> tuple[Program, Environment]:
    obj = load_object(SAMPLES / obj_name)
    env = Environment.for_object(obj, map_entries=read_map_entries(SAMPLES / "initial_maps.json", obj_name))
    return obj.program(prog_name), env


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_accepted_samples_translate(obj_name: str, prog_name: str, device: str) -> None:
    prog, env = _sample(obj_name, prog_name)
    dev = profile(device)
    verdict = offload_verifier.verify(prog, env, dev)
    if not verdict.ok:
        pytest.skip("refused by the offload verifier: " + "; ".join(m.text for m in verdict.messages[:2]))
    assert verdict.facts is not None
    try:
        image = translate(prog, verdict.facts, dev)
    except TranslateError as err:
        assert err.errno in (-28, -95), err
        return
    check_image(image, prog)
    assert len(image) <= dev.max_insns


@pytest.mark.parametrize("path", CONFORMANCE, ids=[p.stem for p in CONFORMANCE])
def test_conformance_programs_translate_or_are_refused(path: Path) -> None:
    from emulator.backends.nic.facts import program_facts
    from emulator.verifier import analyse

    test = parse_data_file(path.read_text())
    prog = Program.from_bytes(test.program(), name=path.stem, prog_type="raw")
    env = Environment()
    facts = program_facts(analyse(prog, env))
    try:
        image = translate(prog, facts, profile("nfp-public-fw"), prog_type="xdp")
    except TranslateError as err:
        assert err.errno in (-95, -28, -22, -40), err
        return
    check_image(image, prog)
