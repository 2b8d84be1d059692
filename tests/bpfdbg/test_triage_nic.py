"""Triage against the ``nic`` offload backend end to end: a program the device refuses
(with the reasons and the known limit behind them), and an XDP program that returns
XDP_REDIRECT for IPv4 frames, whose divergence on the device must be one class explained by
the abort path (reference nfp_offload.md §1.9, §5 item 6)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from bpfdbg.cli import main
from bpfdbg.triage import TriageSpec, triage, triage_inputs
from emulator.backends.base import backend_names
from tests.bpfdbg.test_triage import LB_PCAP, MAPS, SAMPLES, _is_ipv4, _redirect_inputs

pytestmark = pytest.mark.skipif("nic" not in backend_names(), reason="the nic backend is not registered")

needs_facts = pytest.mark.skipif(
    importlib.util.find_spec("emulator.backends.nic.facts") is None,
    reason="the nic backend needs the program facts (emulator/backends/nic/facts.py) to translate",
)


def test_a_program_with_host_only_maps_is_refused_with_the_known_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The L2 bridge uses an LRU hash, a devmap and a per-CPU array: none can live on the
    device (reference §4.10, §4.11), so the nic refuses and triage stops with exit 1."""
    prog = SAMPLES / "xdp_l2_bridge.o"
    pcap = SAMPLES / "pcaps" / "xdp_l2_bridge.pcap"
    assert (
        main(["triage", str(prog), "--pcap", str(pcap), "--backends", "interp,nic", "--format", "json"]) == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert data["refused"] == ["nic"] and data["packets"] == []
    nic = data["loads"][1]
    assert not nic["ok"] and nic["diagnostics"]
    assert any("devmap" in d["message"] for d in nic["diagnostics"])
    assert any(d.get("known", {}).get("fact") == 17 for d in nic["diagnostics"])


@needs_facts
def test_redirect_on_the_nic_is_one_class_explained_by_the_abort_path() -> None:
    inputs = _redirect_inputs("nic")
    report = triage_inputs(inputs)
    assert all(v.ok for v in report.loads), [str(d) for v in report.loads for d in v.diagnostics]
    assert any("instruction-store slots" in n for n in report.loads[1].notes)
    ipv4 = [i for i, d in enumerate(inputs.packets) if _is_ipv4(d)]
    assert [p.index for p in report.packets if not p.agreed] == ipv4
    assert len(report.classes) == 1
    c = report.classes[0]
    assert c.packets == tuple(ipv4) and c.insn_text == "exit"
    assert c.explanation is not None and c.explanation.behaviour.id == "xdp-actions"
    assert c.verdicts[0][0] == ("XDP_REDIRECT", "XDP_ABORTED")
    assert dict(c.divergence.native)["nic"], "the class shows the device's code for the exit"


@needs_facts
@pytest.mark.parametrize("profile", ["nfp-public-fw", "nfp-agilio"])
def test_the_offload_sample_has_no_unexplained_divergence(profile: str) -> None:
    """xdp_lb_offload is written for the device: it loads, and whatever differs between the
    host and the device on its capture is a known behaviour difference."""
    spec = TriageSpec(
        str(SAMPLES / "xdp_lb_offload.o"),
        str(SAMPLES / "pcaps" / "xdp_lb_offload.pcap"),
        maps_path=str(MAPS),
        backends=("interp", "nic"),
        profile=profile,
    )
    report = triage(spec)
    assert all(v.ok for v in report.loads), [str(d) for v in report.loads for d in v.diagnostics]
    assert len(report.packets) > 0
    unexplained = [c for c in report.classes if c.explanation is None]
    assert not unexplained, [(c.pc, c.insn_text, c.fields, c.packets) for c in unexplained]


def test_unknown_profile_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    profiles = pytest.importorskip("emulator.backends.nic.profiles")
    argv = ["triage", str(SAMPLES / "xdp_lb.o"), "--pcap", str(LB_PCAP), "--profile", "nfp-9999"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown device profile 'nfp-9999'" in err
    assert all(name in err for name in profiles.profile_names())
