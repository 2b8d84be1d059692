"""Triage throughput: a 10,000-packet load-balancer capture through interp and nic in
lockstep (``bpfdbg triage``), against the same packets run plainly on interp in the same
process (what comparing after every instruction, and simulating NFP microcode, costs).

Run: ``python3 benchmarks/bench_triage.py [--packets 10000] [--jobs 1 4] [--sample xdp_lb_offload]``.

The capture is made here, deterministically (seeded), from the sample captures' frame
builders: mostly established TCP flows and DNS to the load balancer's VIPs, some new
connections (SYN, which the program samples with bpf_get_prandom_u32), traffic for other
hosts, IPv6, ARP, fragments and truncated frames, in the proportions of a busy edge.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_progs"
sys.path.insert(0, str(SAMPLES))

import make_pcaps as mk  # noqa: E402  (the sample captures' frame builders)

from bpfdbg.triage import TriageSpec, load_inputs, triage  # noqa: E402
from emulator.backends.base import create  # noqa: E402
from emulator.env import RunInput  # noqa: E402
from emulator.state import StopCondition  # noqa: E402


def lb_traffic(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """``count`` frames of load-balancer traffic."""
    rng = random.Random(seed)
    clients = [f"192.168.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}" for _ in range(400)]
    frames: list[tuple[str, bytes]] = []
    for _ in range(count):
        client, sport = rng.choice(clients), rng.randrange(1024, 65535)
        roll = rng.random()
        if roll < 0.55:
            flags = mk.TCP_ACK | (mk.TCP_PSH if rng.random() < 0.5 else 0)
            payload = mk.http_get() if flags & mk.TCP_PSH else b""
            frame = mk.v4(client, mk.VIP1, mk.tcp(sport, 80, flags, payload=payload, seq=1001, ack=5001))
        elif roll < 0.65:
            frame = mk.v4(client, mk.VIP1, mk.tcp(sport, 80, opts=mk.syn_opts()))
        elif roll < 0.80:
            frame = mk.v4(client, mk.VIP1, mk.udp(sport, 53, b"\x12\x34" + bytes(30)))
        elif roll < 0.88:
            frame = mk.v4(client, "10.100.0.9", mk.tcp(sport, 8080, mk.TCP_ACK))
        elif roll < 0.93:
            frame = mk.v6("2001:db8::10", "2001:db8::1", mk.tcp(sport, 80, opts=mk.syn_opts()))
        elif roll < 0.97:
            frame = mk.v4("198.51.100.7", mk.VIP1, mk.tcp(sport, 80, mk.TCP_ACK))
        else:
            frame = mk.v4(client, mk.VIP1, mk.tcp(sport, 80, mk.TCP_ACK))[:40]  # truncated
        frames.append(("", frame))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--sample", default="xdp_lb_offload")
    parser.add_argument("--backends", default="interp,nic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "lb10k.pcap"
        pcap.write_bytes(mk.pcap_bytes(lb_traffic(args.packets)))
        maps = Path(tmp) / "maps.json"
        import json

        maps.write_text(json.dumps({f"{args.sample}.o": mk.INITIAL_MAPS[f"{args.sample}.o"]()}))
        spec = TriageSpec(
            str(SAMPLES / f"{args.sample}.o"), str(pcap), maps_path=str(maps),
            backends=tuple(args.backends.split(",")),
        )  # fmt: skip
        inputs = load_inputs(spec)
        machine = create("interp")
        machine.load(inputs.program, inputs.make_env())
        t = time.perf_counter()
        for data in inputs.packets:
            machine.reset(RunInput(packet=data))
            machine.run(StopCondition())
        plain = time.perf_counter() - t
        n = len(inputs.packets)
        print(f"{args.sample}: {n} packets, backends {args.backends}")
        print(f"  interp alone (run mode): {n / plain:9.1f} packets/s")
        for jobs in args.jobs:
            t = time.perf_counter()
            report = triage(spec, jobs=jobs)
            seconds = time.perf_counter() - t
            print(
                f"  triage --jobs {jobs}: {n / seconds:9.1f} packets/s ({seconds:.1f} s; "
                f"{seconds / plain:.0f}x interp alone); agreement {report.agreed} of {n} "
                f"({report.rate:.1f}%), {len(report.classes)} divergence classes"
            )


if __name__ == "__main__":
    main()
