"""Every sample program on the nic backend: either the device refuses it with the driver's
message (pinned here, first message and its stage), or it runs every packet of its capture
in lockstep with interp, diverging only where a known host/offload behaviour difference
explains it (reference nfp_offload.md §4, §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfdbg.capture import read_capture, read_map_entries
from bpfdbg.lockstep import Lockstep
from bpfdbg.offload_explain import Evidence, explain
from emulator.backends.base import create
from emulator.elf import load_object
from emulator.env import Environment, RunInput
from emulator.state import StopCondition

SAMPLES = Path(__file__).resolve().parents[4] / "sample_progs"

# (object, program) -> the first message of the refusal, or None when the device accepts it
VERDICTS: dict[tuple[str, str], str | None] = {
    ("socket_filter.o", "socket_dns_tcpctl"): "BPF_PROG_LOAD refuses to offload a socket program",
    ("tc_classifier.o", "tc_classify"): "[nfp] unsupported store to context field",
    ("tc_p4_shaped.o", "tc_ingress"): "[nfp] unsupported store to context field",
    ("xdp_firewall.o", "xdp_firewall"): None,
    ("xdp_frags.o", "xdp_jumbo"): "map frag_stats: type percpu_array cannot be offloaded",
    ("xdp_l2_bridge.o", "xdp_bridge"): "map mac_table: type lru_hash cannot be offloaded",
    ("xdp_lb.o", "xdp_lb"): "map client_pinning: type lpm_trie cannot be offloaded",
    ("xdp_lb_offload.o", "xdp_lb_offload"): None,
    ("xdp_loop_parser.o", "xdp_loop_parser"): "[nfp] unsupported function id: 181",
    ("xdp_map_in_map.o", "xdp_tenant_acl"): "map tenant_acls: type array_of_maps cannot be offloaded",
    ("xdp_percpu_counter.o", "xdp_count"): "map ethertype_stats: type percpu_hash cannot be offloaded",
    ("xdp_printk.o", "xdp_printk"): "NFP net bpf: map flags are not supported",
    ("xdp_ringbuf.o", "xdp_conn_events"): "map events: type ringbuf cannot be offloaded",
    ("xdp_subprog_globals.o", "xdp_port_blocker"): "NFP net bpf: map flags are not supported",
    **{
        ("xdp_tailcall.o", name): "map jmp_table: type prog_array cannot be offloaded"
        for name in ("handle_ipv4", "handle_ipv6", "handle_tcp", "handle_udp", "xdp_dispatch")
    },
}


def _env(obj_name: str, **settings: object) -> Environment:
    obj = load_object(str(SAMPLES / obj_name))
    entries = read_map_entries(str(SAMPLES / "initial_maps.json"), obj_name)
    return Environment.for_object(obj, map_entries=entries, **settings)  # type: ignore[arg-type]


def test_every_sample_program_has_a_pinned_verdict() -> None:
    found = {(p.name, prog.name) for p in SAMPLES.glob("*.o") for prog in load_object(str(p)).programs}
    assert found == set(VERDICTS)


@pytest.mark.parametrize(("obj_name", "prog_name"), sorted(VERDICTS), ids=lambda v: str(v))
@pytest.mark.parametrize("profile", ["nfp-public-fw", "nfp-agilio"])
def test_the_device_verdict(obj_name: str, prog_name: str, profile: str) -> None:
    prog = load_object(str(SAMPLES / obj_name)).program(prog_name)
    report = create("nic").load(prog, _env(obj_name, device_profile=profile))
    expected = VERDICTS[(obj_name, prog_name)]
    if expected is None:
        assert report.ok, [str(d) for d in report.diagnostics]
        return
    assert not report.ok
    assert expected in report.errors[0].message


ACCEPTED = sorted(k for k, v in VERDICTS.items() if v is None)


@pytest.mark.parametrize(("obj_name", "prog_name"), ACCEPTED, ids=lambda v: str(v))
def test_accepted_samples_diverge_only_where_a_known_difference_explains_it(
    obj_name: str, prog_name: str
) -> None:
    obj = load_object(str(SAMPLES / obj_name))
    prog = obj.program(prog_name)
    engine = Lockstep(prog, lambda: _env(obj_name), ["interp", "nic"])
    packets = read_capture(str(SAMPLES / "pcaps" / f"{Path(obj_name).stem}.pcap"))
    explained = 0
    for packet in packets:
        engine.reset(RunInput(packet=packet.data))
        result = engine.run()
        if result.divergence is None:
            continue
        div = result.divergence
        found = explain(
            Evidence(div, prog.insn_at(div.pc), prog.prog_type, frozenset({"nic"}), len(packet.data))
        )
        assert found is not None, (packet.index, div)
        explained += 1
        for name, machine in engine.machines.items():  # finish the packet, as a device would
            if engine.ended.get(name) is None:
                machine.run(StopCondition())
    assert explained < len(packets)  # most packets agree outright
