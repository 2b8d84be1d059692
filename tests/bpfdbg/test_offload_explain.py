"""The catalogue of host/offload behaviour differences (reference nfp_offload.md §5) and the
matchers that explain a lockstep divergence with one of them.

Divergences are built directly, with the values the reference gives for each side (the
device's exit codes from §1.9, -EINVAL from §3.10's helper sequences); every matcher is
also shown *not* to fire on a near miss, since an explanation that covers a bug hides it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpfdbg.lockstep import Difference, Divergence
from bpfdbg.offload_explain import (
    BY_ID,
    CATALOGUE,
    MATCHERS,
    Evidence,
    behaviour,
    explain,
    explain_refusal,
)
from emulator.asm import assemble
from emulator.isa.insn import Insn

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "nfp_offload.md"
DEVICE = frozenset({"nic"})
NEG22 = f"{-22 & (1 << 64) - 1:#x}"


def _insn(text: str) -> Insn:
    return assemble(text)[0]


def _div(*diffs: tuple[str, str, str], pc: int = 7) -> Divergence:
    """Differences as (what, interp's value, nic's value)."""
    return Divergence(pc, "prog", 10, tuple(Difference(w, (("interp", a), ("nic", b))) for w, a, b in diffs))


def _explain(
    insn: str | None, *diffs: tuple[str, str, str], prog_type: str = "xdp", **kw: object
) -> str | None:
    ev = Evidence(_div(*diffs), _insn(insn) if insn else None, prog_type, DEVICE, **kw)  # type: ignore[arg-type]
    found = explain(ev)
    return found.behaviour.id if found is not None else None


# -- the catalogue -------------------------------------------------------------------------------
def test_the_catalogue_is_the_22_differences_of_the_reference() -> None:
    assert [b.number for b in CATALOGUE] == list(range(1, 23))
    assert len(BY_ID) == 22
    for b in CATALOGUE:
        assert b.title and b.text.endswith(".") and b.sources
        assert set(b.sources) <= {"code", "fw", "test", "doc", "inferred"}
        assert behaviour(b.number) is b and behaviour(b.id) is b
    with pytest.raises(KeyError, match="no behaviour difference"):
        behaviour("nosuch")
    assert {key for key, _ in MATCHERS} <= set(BY_ID)


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference is not here")
def test_the_catalogue_follows_the_references_numbering_and_tags() -> None:
    """Item N of §5 is catalogue entry N, and its confidence tags are the reference's."""
    text = REFERENCE.read_text()
    section = text.split("## 5.", 1)[1].split("\n## 6.", 1)[0]
    items = re.findall(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. \*\*|\Z)", section, re.S | re.M)
    assert [int(n) for n, _, _ in items] == list(range(1, 23))
    for number, _, body in items:
        marks = re.findall(r"\*\*((?:\[[^\]]+\])+)\*\*", body)[-1]
        kinds = set(re.findall(r"\[(code|fw|test|doc|inferred)\b", marks))
        entry = behaviour(int(number))
        assert set(entry.sources) == kinds, (number, entry.sources, kinds)


# -- XDP and TC verdicts (§1.9, §5.6, §5.7) -------------------------------------------------------
@pytest.mark.parametrize("code", [4, 5, 0x7FFFFFFF, 0xFFFFFFFF])
def test_xdp_codes_of_4_and_above_abort_on_the_device(code: int) -> None:
    assert _explain("exit", ("end", f"exit r0={code:#x}", "exit r0=0x0")) == "xdp-actions"


@pytest.mark.parametrize(("prog_type", "code"), [("xdp", 2), ("xdp", 0), ("tc", 2), ("tc", 7)])
def test_a_wide_r0_with_the_same_low_word_is_the_same_verdict(prog_type: str, code: int) -> None:
    """The host takes the action from r0's low 32 bits (u32 act), the device from R0.lo."""
    diff = ("end", f"exit r0={(1 << 32) | code:#x}", f"exit r0={code:#x}")
    assert _explain("exit", diff, prog_type=prog_type) == f"{prog_type}-actions"
    other = ("end", f"exit r0={(1 << 32) | code:#x}", f"exit r0={(code + 1) % 4:#x}")
    assert _explain("exit", other, prog_type=prog_type) is None


@pytest.mark.parametrize(
    "insn,diffs,prog_type",
    [
        ("exit", [("end", "exit r0=0x3", "exit r0=0x0")], "xdp"),  # TX is a real action on the device
        ("exit", [("end", "exit r0=0x4", "exit r0=0x1")], "xdp"),  # the abort path is 0, not DROP
        ("exit", [("end", "exit r0=0x4", "exit r0=0x0")], "tc"),  # wrong program type
        ("exit", [("end", "exit r0=0x4", "exit r0=0x0"), ("r0", "0x4", "0x0")], "xdp"),  # r0 too
        ("r0 = 4", [("end", "exit r0=0x4", "exit r0=0x0")], "xdp"),  # not at an exit
        ("exit", [("end", "exit r0=0x4", "fault: read out of bounds")], "xdp"),
    ],
)
def test_near_misses_of_the_xdp_action_rule_stay_unexplained(insn: str, diffs: list, prog_type: str) -> None:  # type: ignore[type-arg]
    assert _explain(insn, *diffs, prog_type=prog_type) is None


@pytest.mark.parametrize("code", [8, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 100])
def test_tc_codes_above_7_and_minus_1_pass_on_the_device(code: int) -> None:
    assert _explain("exit", ("end", f"exit r0={code:#x}", "exit r0=0x0"), prog_type="tc") == "tc-actions"


def test_tc_codes_the_device_keeps_are_not_excused() -> None:
    assert _explain("exit", ("end", "exit r0=0x2", "exit r0=0x0"), prog_type="tc") is None  # SHOT
    assert _explain("exit", ("end", "exit r0=0x8", "exit r0=0x2"), prog_type="tc") is None


# -- helpers (§3.10, §5.5, §5.10-12) --------------------------------------------------------------
def test_random_numbers_differ_benignly() -> None:
    assert _explain("call 7", ("r0", "0x1234", "0x9876")) == "random-source"
    assert BY_ID["random-source"].benign
    assert _explain("call 1", ("r0", "0x1234", "0x9876")) is None  # a map lookup must agree
    assert _explain("call 7", ("r0", "0x1", "0x2"), ("r6", "0x1", "0x2")) is None  # r6 survives calls


def test_adjust_tail_growth_is_refused_on_the_device() -> None:
    assert _explain("call 65", ("r0", "0x0", NEG22)) == "adjust-tail-shrink"
    assert _explain("call 65", ("r0", NEG22, "0x0")) is None  # the device shrinks what the host refuses?
    assert _explain("call 65", ("r0", "0x0", "0xfffffffffffffff2")) is None  # -14 is not the device's error
    assert _explain("call 65", ("r0", "0x0", NEG22), prog_type="tc") is None


def test_adjust_head_outside_the_firmware_window() -> None:
    assert _explain("call 44", ("r0", "0x0", NEG22)) == "adjust-head-window"
    assert _explain("call 44", ("r0", NEG22, "0x0")) == "adjust-head-window"  # windows differ both ways
    assert _explain("call 44", ("r0", "0x0", "0x1")) is None


def test_perf_event_output_reports_success_on_the_device() -> None:
    assert _explain("call 25", ("r0", f"{-2 & (1 << 64) - 1:#x}", "0x0")) == "perf-output-async"
    assert _explain("call 25", ("map events", "[{'cpu': 0, 'record': '01'}]", "[]")) == "perf-output-async"
    assert _explain("call 25", ("r0", "0x0", NEG22)) is None  # the device never reports a failure
    assert _explain("call 25", ("r3", "0x1", "0x2")) is None  # only a clobbered argument register


# -- registers and lengths (§5.9, §5.22) ----------------------------------------------------------
def test_upper_halves_of_32_bit_results_are_benign() -> None:
    assert _explain("w3 += w2", ("r3", "0x5", "0xdead00000005")) == "upper-halves"
    assert _explain("w3 = -w3", ("r3", "0xfffffffb", "0x1fffffffb")) == "upper-halves"
    assert BY_ID["upper-halves"].benign
    assert _explain("r3 += r2", ("r3", "0x5", "0xdead00000005")) is None  # 64-bit ALU
    assert _explain("w3 += w2", ("r3", "0x5", "0xdead00000006")) is None  # low halves differ
    assert _explain("w3 += w2", ("r3", "0xdead00000005", "0x5")) is None  # the host zero-extends
    assert _explain("w3 += w2", ("r4", "0x5", "0xdead00000005")) is None  # not the destination


def test_the_devices_14_bit_packet_length() -> None:
    data, length = 0x1000, 20000
    host, dev = data + length, data + (length & 0x3FFF)
    diff = ("r3", f"{host:#x}", f"{dev:#x}")
    assert _explain("r3 = *(u32 *)(r1 + 4)", diff, packet_len=length) == "packet-size"
    assert _explain("r3 = *(u32 *)(r1 + 4)", diff, packet_len=1500) is None
    assert _explain("r3 = *(u32 *)(r1 + 4)", ("r3", f"{host:#x}", f"{dev + 1:#x}"), packet_len=length) is None


def test_stale_map_reads_need_a_caching_profile() -> None:
    diff = ("map counters", "[{'key': '00', 'value': '02'}]", "[{'key': '00', 'value': '01'}]")
    assert _explain("call 2", diff) is None  # no profile: no read cache
    assert _explain("call 2", diff, profile="no-such-profile") is None
    profiles = pytest.importorskip("emulator.backends.nic.profiles")
    caching = [n for n in profiles.profile_names() if profiles.profile(n).multi_ent]
    plain = [n for n in profiles.profile_names() if not profiles.profile(n).multi_ent]
    assert caching and plain  # Agilio firmware (ABI 3, CMSG_MULTI_ENT) and the public firmware
    assert _explain("call 2", diff, profile=caching[0]) == "stale-host-reads"
    assert _explain("lock *(u64 *)(r1 + 0) += r2", diff, profile=caching[0]) == "stale-host-reads"
    assert _explain("call 2", diff, profile=plain[0]) is None
    assert _explain("call 1", diff, profile=caching[0]) is None  # a lookup writes nothing
    assert _explain("call 2", diff, ("r0", "0x0", "0x1"), profile=caching[0]) is None


# -- who may be excused --------------------------------------------------------------------------
def test_only_a_divergence_between_host_and_device_is_explained() -> None:
    div = _div(("end", "exit r0=0x4", "exit r0=0x0"))
    exit_insn = _insn("exit")
    assert explain(Evidence(div, exit_insn, "xdp", frozenset())) is None  # two host backends
    assert explain(Evidence(div, exit_insn, "xdp", frozenset({"interp", "nic"}))) is None  # two devices
    three = Divergence(
        7,
        "prog",
        10,
        (
            Difference(
                "end", (("interp", "exit r0=0x4"), ("host-jit", "exit r0=0x4"), ("nic", "exit r0=0x0"))
            ),
        ),
    )
    found = explain(Evidence(three, exit_insn, "xdp", DEVICE))
    assert found is not None and found.behaviour.number == 6
    split = Divergence(
        7,
        "prog",
        10,
        (
            Difference(
                "end", (("interp", "exit r0=0x4"), ("host-jit", "exit r0=0x5"), ("nic", "exit r0=0x0"))
            ),
        ),
    )
    assert explain(Evidence(split, exit_insn, "xdp", DEVICE)) is None  # the host side disagrees with itself


@pytest.mark.parametrize(
    "message,number",
    [
        ("[nfp] unsupported function id: 51", 13),
        ("[nfp] divisor is not constant", 14),
        ("[nfp] multiplier is not within u32 value range", 14),
        ("[nfp] stack too large: program 576B > FW stack 512B", 15),
        ("nfp: program too long", 16),
        ("[nfp] unsupported exit state: 1, imm: 0", 7),
        ("nfp: BPF offload not supported with potential packet access beyond HW packet split boundary", 9),
        ("[nfp] adjust_tail not supported by FW", 11),
        ("[nfp] map writes not supported", 4),
        ("[nfp] program uses extended registers - jit hardening?", 19),
        ("map bridge_stats: type percpu_array cannot be offloaded; use a plain array and atomic adds", 17),
        (
            "[nfp] value at offset 0/4 may be non-zero, bpf_map_update_elem() is required to initialize "
            "atomic counters to zero to avoid offload endian issues",
            3,
        ),
    ],
)
def test_refusals_name_the_limit_behind_them(message: str, number: int) -> None:
    found = explain_refusal(message)
    assert found is not None and found.number == number
    assert explain_refusal("something else entirely") is None
