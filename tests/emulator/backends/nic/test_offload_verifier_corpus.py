"""The offload verifier over whole corpora: every sample object's programs and every
conformance program get a verdict (never an exception), on every shipped profile, and
each verdict is well formed: texts carry their stage's prefix, pcs name instructions,
the first failing stage is the last one reported.

What the samples must get follows from reference §4.10 and §4.1 (maps the device cannot
hold are refused at map creation, before the program; only XDP and TC load).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from emulator.backends.nic.offload_messages import (
    DMESG_PREFIX,
    EXTACK_PREFIX,
    STAGES,
    VERIFIER_PREFIX,
    OffloadVerdict,
)
from emulator.backends.nic.offload_verifier import rejection_reasons, verify
from emulator.backends.nic.profiles import profile, profile_names
from emulator.elf.loader import load_object
from emulator.env import Environment
from emulator.maps.spec import MapType
from emulator.program import Program

ROOT = Path(__file__).resolve().parents[4]
SAMPLES = sorted((ROOT / "sample_progs").glob("*.o"))
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "assembled.json"

PREFIXES = {"verifier": VERIFIER_PREFIX, "finalize": VERIFIER_PREFIX, "translate": DMESG_PREFIX}


def well_formed(verdict: OffloadVerdict, prog: Program) -> None:
    assert verdict.ok == (not verdict.errors)
    for m in verdict.messages:
        assert m.stage in STAGES and m.hint
        if m.origin == "nfp":
            if m.stage in PREFIXES:
                assert m.text.startswith(PREFIXES[m.stage]), m
            elif m.stage == "attach":
                assert m.text.startswith(EXTACK_PREFIX), m
            elif m.stage == "map":
                assert m.text.startswith(DMESG_PREFIX), m
        elif m.origin == "bpfdbg":
            assert m.text.startswith("bpfdbg: "), m
        if m.pc is not None:
            assert prog.insn_at(m.pc) is not None, m
    if verdict.errors:
        last = max(STAGES.index(m.stage) for m in verdict.messages)
        assert STAGES.index(verdict.errors[0].stage) == last
    else:
        assert verdict.facts is not None


@pytest.mark.parametrize("name", profile_names())
@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_programs(path: Path, name: str) -> None:
    obj = load_object(path)
    env = Environment.for_object(obj)
    prof = profile(name)
    for prog in obj.programs:
        verdict = verify(prog, env, prof)
        well_formed(verdict, prog)
        off_device = [
            m for m in obj.maps if m.type not in (MapType.HASH, MapType.ARRAY, MapType.PERF_EVENT_ARRAY)
        ]
        flagged = [m for m in obj.maps if m.type in (MapType.HASH, MapType.ARRAY) and m.flags]
        if off_device or flagged:
            assert verdict.stage == "map"
            refused = {m.rule for m in verdict.errors}
            assert ("map-type" in refused) == bool(off_device)
            assert ("map-flags" in refused) == bool(flagged)
        elif prog.prog_type not in ("xdp", "tc"):
            assert verdict.stage == "load"
        else:
            assert verdict.stage not in ("map", "load")


def _conformance() -> list[dict[str, object]]:
    if not CONFORMANCE.exists():
        return []
    cases: list[dict[str, object]] = json.loads(CONFORMANCE.read_text())
    return cases


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="../shared/conformance is not here")
def test_conformance_programs() -> None:
    verdicts = []
    prof = profile()
    for case in _conformance():
        prog = Program.from_bytes(bytes.fromhex(str(case["program"])), name=str(case["name"]))
        verdict = verify(prog, Environment(), prof)
        well_formed(verdict, prog)
        verdicts.append(verdict)
    reasons = rejection_reasons(verdicts)
    assert sum(reasons.values()) == len(verdicts)
    # raw programs are offloaded as packet programs: the plain ALU/jump/memory ones pass
    assert reasons.get("accepted", 0) > len(verdicts) // 3
    # the suite has modulo, byte swaps and sign extension, which the device lacks
    assert {"unsupported-opcode", "isa-v4", "atomic-op"} <= set(reasons)


def test_rejection_reasons_counts() -> None:
    prof = profile()
    exit2 = "b7000000020000009500000000000000"  # r0 = 2; exit
    mod = "b70000000700000097000000030000009500000000000000"  # r0 = 7; r0 %= 3; exit
    verdicts = [verify(Program.from_bytes(bytes.fromhex(h)), Environment(), prof) for h in (exit2, mod)]
    assert Counter(rejection_reasons(verdicts)) == Counter({"accepted": 1, "unsupported-opcode": 1})
