#!/usr/bin/env python3
"""Record the real kernel's verdicts for every sample program on every captured frame.

    python3 sample_progs/record_expected.py       (or `make expected`; needs root)

For each object file (sorted by name) and each program in it:

  1. load the object afresh, so every program starts from clean maps;
  2. install the entries of initial_maps.json (what the control plane would do);
  3. run the frames of pcaps/<object stem>.pcap in capture order, one
     BPF_PROG_TEST_RUN each (repeat 1), with this process pinned to CPU 0; map
     contents carry over from frame to frame, as on a real interface;
  4. keep the return value, the packet out (when it differs from the packet in) and the
     bpf_printk lines the run produced.

It writes, next to this file:

  expected_kernel.json      {"<prog>.o": {"<program>": [retval, ...]}}; retval is the
                            kernel's u32 (TC_ACT_UNSPEC is 4294967295); null if the
                            kernel refused to run the frame
  expected_packets.json     {"<prog>.o": {"<program>": [hex or null, ...]}}: the packet
                            out when it differs from the packet in (a socket filter's packet
                            always comes back with the 14 MAC bytes zeroed, since the kernel
                            runs it from L3; that alone does not count as a difference)
  expected_trace.json       {"<prog>.o": {"<program>": [[line, ...], ...]}} for the
                            programs that print; only when tracefs is mounted
  EXPECTED.md               the same, as tables, with each frame's description

The kernel is reached through the small Kernel class below, which drives bpftool. To use
another bpf() front end, write a class with the same methods (load, update_map, run,
close) and pass it to record().
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dpkt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_pcaps  # noqa: E402  (the frame descriptions)

BPFFS = Path("/sys/fs/bpf")
TRACEFS = Path("/sys/kernel/tracing")

XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
TC_ACTIONS = {
    0xFFFFFFFF: "TC_ACT_UNSPEC",
    0: "TC_ACT_OK",
    1: "TC_ACT_RECLASSIFY",
    2: "TC_ACT_SHOT",
    3: "TC_ACT_PIPE",
    4: "TC_ACT_STOLEN",
    5: "TC_ACT_QUEUED",
    6: "TC_ACT_REPEAT",
    7: "TC_ACT_REDIRECT",
    8: "TC_ACT_TRAP",
}


class KernelError(Exception):
    pass


def bpffs_mounted() -> bool:
    """Is a BPF filesystem mounted at /sys/fs/bpf (where objects are pinned)?"""
    with open("/proc/mounts") as f:
        return any(line.split()[1:3] == [str(BPFFS), "bpf"] for line in f)


class Kernel:
    """The real kernel through bpftool: load an object, fill its maps, test-run programs."""

    def __init__(self, bpftool: str = "bpftool"):
        self.bpftool = bpftool
        self.pin_dir: Path | None = None
        self.prog_types: dict[str, str] = {}

    def _bpftool(self, *args: str) -> str:
        proc = subprocess.run([self.bpftool, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise KernelError(f"bpftool {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def load(self, obj: Path) -> list[str]:
        """Load every program of obj with fresh maps; return the program names."""
        self.close()
        self.pin_dir = BPFFS / f"bpfdbg_expected_{os.getpid()}_{obj.stem}"
        self.pin_dir.mkdir()
        self._bpftool(
            "prog", "loadall", str(obj), str(self.pin_dir / "progs"), "pinmaps", str(self.pin_dir / "maps")
        )
        shown = {
            p.name: json.loads(self._bpftool("-j", "prog", "show", "pinned", str(p)))
            for p in (self.pin_dir / "progs").iterdir()
        }
        self.prog_types = {name: info["type"] for name, info in shown.items()}
        # in load order, which is the order of the programs in the object file
        return sorted(shown, key=lambda name: shown[name]["id"])

    def update_map(self, map_name: str, key: bytes, value: bytes) -> None:
        self._bpftool(
            "map",
            "update",
            "pinned",
            str(self.pin_dir / "maps" / map_name),
            "key",
            "hex",
            *[f"{b:02x}" for b in key],
            "value",
            "hex",
            *[f"{b:02x}" for b in value],
        )

    def run(self, prog: str, frame: bytes) -> tuple[int, bytes]:
        """One BPF_PROG_TEST_RUN: (retval, packet out)."""
        with tempfile.TemporaryDirectory() as tmp:
            data_in, data_out = Path(tmp) / "in", Path(tmp) / "out"
            data_in.write_bytes(frame)
            out = self._bpftool(
                "prog",
                "run",
                "pinned",
                str(self.pin_dir / "progs" / prog),
                "data_in",
                str(data_in),
                "data_out",
                str(data_out),
                "repeat",
                "1",
            )
            match = re.search(r"Return value: (\d+)", out)
            if not match:
                raise KernelError(f"unexpected bpftool output: {out!r}")
            return int(match.group(1)), data_out.read_bytes() if data_out.exists() else b""

    def close(self) -> None:
        if self.pin_dir is not None:
            shutil.rmtree(self.pin_dir, ignore_errors=True)
            self.pin_dir = None


class TraceCapture:
    """bpf_printk lines, from a private tracing instance (so the global buffer and anyone
    reading trace_pipe are left alone). Does nothing if tracefs is not mounted."""

    def __init__(self, enabled: bool = True):
        self.dir = TRACEFS / "instances" / f"bpfdbg_expected_{os.getpid()}"
        self.available = enabled and (TRACEFS / "instances").is_dir()
        if self.available:
            self.dir.mkdir()
            (self.dir / "events/bpf_trace/bpf_trace_printk/enable").write_text("1")

    def clear(self) -> None:
        if self.available:
            (self.dir / "trace").write_text("")

    def lines(self) -> list[str]:
        if not self.available:
            return []
        text = (self.dir / "trace").read_text()
        return [m.group(1) for m in re.finditer(r"bpf_trace_printk: (.*)$", text, re.MULTILINE)]

    def close(self) -> None:
        if self.available:
            (self.dir / "events/bpf_trace/bpf_trace_printk/enable").write_text("0")
            self.dir.rmdir()


def read_pcap(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]


def record(kernel, trace: TraceCapture) -> dict:
    """Run everything; return {obj: {prog: [{"retval", "out", "trace"}, ...]}}."""
    initial_maps = json.loads((HERE / "initial_maps.json").read_text())
    results: dict = {}
    for obj in sorted(HERE.glob("*.o")):
        frames = read_pcap(HERE / "pcaps" / f"{obj.stem}.pcap")
        results[obj.name] = {}
        for prog in kernel.load(obj):
            kernel.load(obj)  # fresh maps for each program (the first load only lists them)
            for map_name, entries in initial_maps.get(obj.name, {}).items():
                for e in entries:
                    kernel.update_map(map_name, bytes.fromhex(e["key"]), bytes.fromhex(e["value"]))
            runs = []
            for frame in frames:
                trace.clear()
                try:
                    retval, out = kernel.run(prog, frame)
                except KernelError as err:
                    print(f"{obj.name} {prog}: {err}", file=sys.stderr)
                    runs.append({"retval": None, "out": None, "trace": []})
                    continue
                if kernel.prog_types[prog] == "socket_filter":
                    frame = bytes(14) + frame[14:]  # the kernel runs these from L3: MACs come back zeroed
                runs.append({"retval": retval, "out": out if out != frame else None, "trace": trace.lines()})
            results[obj.name][prog] = {"type": kernel.prog_types[prog], "runs": runs}
            print(f"{obj.name} {prog}: {[r['retval'] for r in runs]}")
    kernel.close()
    return results


def verdict_name(prog_type: str, retval: int | None) -> str:
    if retval is None:
        return "(refused)"
    if prog_type == "xdp":
        return XDP_ACTIONS.get(retval, str(retval))
    if prog_type in ("sched_cls", "sched_act"):
        return TC_ACTIONS.get(retval, str(retval))
    if prog_type == "socket_filter":
        return "drop (0)" if retval == 0 else f"keep {retval}"
    return str(retval)


def nested_json(tree: dict, depth: int) -> str:
    """JSON with one line per leaf list item at the given depth (readable diffs)."""

    def render(node, level: int) -> str:
        pad = " " * level
        if isinstance(node, dict):
            items = [
                f"{pad} {json.dumps(k)}: {render(v, level + 1).lstrip()}" for k, v in sorted(node.items())
            ]
            return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if level >= depth:
            return pad + json.dumps(node)
        return pad + "[\n" + ",\n".join(render(v, level + 1) for v in node) + "\n" + pad + "]"

    return render(tree, 0) + "\n"


def write_outputs(results: dict, have_trace: bool) -> None:
    retvals = {
        obj: {prog: [r["retval"] for r in info["runs"]] for prog, info in progs.items()}
        for obj, progs in results.items()
    }
    packets = {
        obj: {
            prog: [r["out"].hex() if r["out"] is not None else None for r in info["runs"]]
            for prog, info in progs.items()
        }
        for obj, progs in results.items()
    }
    (HERE / "expected_kernel.json").write_text(nested_json(retvals, 2))
    (HERE / "expected_packets.json").write_text(nested_json(packets, 3))
    if have_trace:
        traces = {
            obj: {
                prog: [r["trace"] for r in info["runs"]]
                for prog, info in progs.items()
                if any(r["trace"] for r in info["runs"])
            }
            for obj, progs in results.items()
        }
        traces = {obj: progs for obj, progs in traces.items() if progs}
        (HERE / "expected_trace.json").write_text(nested_json(traces, 3))

    kernel_release = os.uname().release
    md = [
        "# Expected verdicts (recorded from the real kernel)",
        "",
        f"Recorded by `record_expected.py` on Linux {kernel_release} with BPF_PROG_TEST_RUN, one",
        "run per frame in capture order, maps starting from `initial_maps.json` for each program",
        'and carrying over between frames. "out" marks frames the kernel returned modified',
        "(the bytes are in `expected_packets.json`); printed lines are in `expected_trace.json`.",
        "",
    ]
    for obj, progs in results.items():
        descs = [d for d, _ in make_pcaps.capture(Path(obj).stem)]
        names = list(progs)
        md += [
            f"## {obj}",
            "",
            "| # | frame | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for i, desc in enumerate(descs):
            cells = []
            for n in names:
                run = progs[n]["runs"][i]
                cell = verdict_name(progs[n]["type"], run["retval"])
                if run["out"] is not None:
                    cell += ", out"
                cells.append(cell)
            md.append(f"| {i} | {desc.replace('|', '/')} | " + " | ".join(cells) + " |")
        for n in names:
            if any(r["trace"] for r in progs[n]["runs"]):
                md += ["", f"Trace lines of `{n}`:", "", "```"]
                for i, r in enumerate(progs[n]["runs"]):
                    md += [f"[{i}] {line}" for line in r["trace"]]
                md += ["```"]
        md.append("")
    (HERE / "EXPECTED.md").write_text("\n".join(md))


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("record_expected.py needs root (bpf() and bpffs)")
    if not bpffs_mounted():
        raise SystemExit(f"no BPF filesystem at {BPFFS}: mount -t bpf bpf {BPFFS}")
    os.sched_setaffinity(0, {0})  # per-CPU maps and bpf_get_smp_processor_id see CPU 0
    trace = TraceCapture()
    if not trace.available:
        print(
            "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing): "
            "expected_trace.json is left as it is",
            file=sys.stderr,
        )
    try:
        results = record(Kernel(), trace)
    finally:
        trace.close()
    write_outputs(results, trace.available)


if __name__ == "__main__":
    main()
