"""The sample programs' committed artefacts stay consistent with their sources.

- the .o files are what `make` builds from the .c files (when clang-19 is installed);
- the captures and initial_maps.json are what make_pcaps.py writes (byte for byte);
- every capture is a classic Ethernet pcap with 5-40 frames the kernel can test-run;
- expected_kernel.json / expected_packets.json cover every program and every frame;
- and, where bpf() is permitted (root, bpftool, bpffs), the real kernel still gives the
  recorded verdicts, packets and trace lines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = ROOT / "sample_progs"
SOURCES = sorted(SAMPLES.glob("*.c"))
OBJECTS = sorted(SAMPLES.glob("*.o"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"sample_progs_{name}", SAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_pcaps = _load("make_pcaps")


def _programs(obj: Path) -> list[str]:
    """Names of the BPF programs in an object: global functions in executable sections
    other than .text (where subprograms live)."""
    with obj.open("rb") as f:
        elf = ELFFile(f)
        exec_sections = {
            i for i, s in enumerate(elf.iter_sections()) if s["sh_flags"] & 0x4 and s.name != ".text"
        }
        symtab = elf.get_section_by_name(".symtab")
        return sorted(
            sym.name
            for sym in symtab.iter_symbols()
            if sym["st_info"]["type"] == "STT_FUNC"
            and sym["st_info"]["bind"] == "STB_GLOBAL"
            and sym["st_shndx"] in exec_sections
        )


def test_at_least_ten_programs_each_with_object_and_capture():
    assert len(SOURCES) >= 10
    for src in SOURCES:
        assert src.with_suffix(".o").is_file(), f"{src.name} has no committed object (run make)"
        assert (SAMPLES / "pcaps" / f"{src.stem}.pcap").is_file()
        assert src.stem in make_pcaps.CAPTURES


@pytest.mark.skipif(
    shutil.which("clang-19") is None or shutil.which("make") is None, reason="clang-19 is not installed"
)
def test_objects_are_built_from_the_sources(tmp_path):
    for f in [*SOURCES, SAMPLES / "Makefile"]:
        shutil.copy(f, tmp_path)
    subprocess.run(["make", "-s", "-C", str(tmp_path)], check=True, capture_output=True)
    stale = [obj.name for obj in OBJECTS if (tmp_path / obj.name).read_bytes() != obj.read_bytes()]
    assert not stale, f"committed objects differ from `make` output: {stale}"


@pytest.mark.parametrize("name", sorted(make_pcaps.CAPTURES))
def test_capture_is_reproducible(name):
    frames = make_pcaps.capture(name)
    assert make_pcaps.pcap_bytes(frames) == (SAMPLES / "pcaps" / f"{name}.pcap").read_bytes(), (
        "run `python3 sample_progs/make_pcaps.py`"
    )


def test_initial_maps_are_reproducible():
    assert make_pcaps.initial_maps_json() == (SAMPLES / "initial_maps.json").read_text()


@pytest.mark.parametrize("name", sorted(make_pcaps.CAPTURES))
def test_capture_format(name):
    data = (SAMPLES / "pcaps" / f"{name}.pcap").read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    frames, off = [], 24
    while off < len(data):
        _, _, caplen, length = struct.unpack("<IIII", data[off : off + 16])
        assert caplen == length <= snaplen
        frames.append(data[off + 16 : off + 16 + caplen])
        off += 16 + caplen
    assert 5 <= len(frames) <= 40
    for frame in frames:
        ethertype = struct.unpack("!H", frame[12:14])[0]
        minimum = 14
        if name.startswith(("tc_", "socket_")):
            minimum = {0x0800: 34, 0x86DD: 54}.get(ethertype, 14)
        assert len(frame) >= minimum


def test_expected_results_cover_every_program_and_frame():
    retvals = json.loads((SAMPLES / "expected_kernel.json").read_text())
    packets = json.loads((SAMPLES / "expected_packets.json").read_text())
    assert sorted(retvals) == sorted(obj.name for obj in OBJECTS)
    for obj in OBJECTS:
        n = len(make_pcaps.capture(obj.stem))
        assert sorted(retvals[obj.name]) == _programs(obj)
        for prog, values in retvals[obj.name].items():
            assert len(values) == n and all(isinstance(v, int) for v in values), (obj.name, prog)
            assert len(packets[obj.name][prog]) == n


def test_firewall_is_the_default_sample():
    readme = (SAMPLES / "README.md").read_text()
    assert "**Bundled default: `xdp_firewall.o`**" in readme
    verdicts = json.loads((SAMPLES / "expected_kernel.json").read_text())["xdp_firewall.o"]["xdp_firewall"]
    assert {1, 2} <= set(verdicts)  # both paths are exercised


def _kernel_usable() -> bool:
    if os.geteuid() != 0 or shutil.which("bpftool") is None:
        return False
    return _load("record_expected").bpffs_mounted()


@pytest.mark.skipif(not _kernel_usable(), reason="needs root, bpftool and a BPF filesystem at /sys/fs/bpf")
def test_kernel_still_agrees_with_the_recording():
    record_expected = _load("record_expected")
    trace = record_expected.TraceCapture()
    try:
        results = record_expected.record(record_expected.Kernel(), trace)
    finally:
        trace.close()
    retvals = json.loads((SAMPLES / "expected_kernel.json").read_text())
    packets = json.loads((SAMPLES / "expected_packets.json").read_text())
    for obj, progs in results.items():
        for prog, info in progs.items():
            runs = info["runs"]
            assert [r["retval"] for r in runs] == retvals[obj][prog], (obj, prog)
            assert [r["out"].hex() if r["out"] is not None else None for r in runs] == packets[obj][prog], (
                obj,
                prog,
            )
    if trace.available:
        traces = json.loads((SAMPLES / "expected_trace.json").read_text())
        for obj, progs in traces.items():
            for prog, lines in progs.items():
                assert [r["trace"] for r in results[obj][prog]["runs"]] == lines, (obj, prog)
