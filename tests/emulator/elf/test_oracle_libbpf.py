"""Cross-check against libbpf itself: ``bpftool -d prog loadall`` prints libbpf's decisions.

For every fixture libbpf 1.x accepts, the debug log says which programs it found, each BTF
map's attributes (type, key/value type ids and sizes, max_entries, flags, pinning, the
inner map of map-in-map), the names and flags of the global-data maps, which slot of a
prog_array or map-in-map points at what, the order maps are created in (= their index),
and for every program the kernel's view: ``func#N @pc`` (where libbpf appended each
subprogram) and the instruction listing the verifier received. The loader must agree on
all of it. Skipped without bpftool, bpffs or bpf() permission.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emulator.backends.kernel.syscall import available
from emulator.bpfobject import BpfObject
from emulator.elf import load_object
from emulator.isa.fields import CallKind
from emulator.maps.spec import MapSpec
from tests.emulator.elf.paths import fixture

BPFTOOL = shutil.which("bpftool")
BPFFS = Path("/sys/fs/bpf")
REASON = (
    "bpftool is not installed"
    if BPFTOOL is None
    else "/sys/fs/bpf is not mounted"
    if not BPFFS.is_dir()
    else available()
)
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

# libbpf >= 1.0 rejects the legacy "maps" section and unknown section names, so
# legacy_maps and multi_prog are checked by the other tests only.
LIBBPF_LOADABLE = [
    "bpf_loop",
    "btf_kinds",
    "global_data",
    "map_in_map",
    "subprog_calls",
    "tail_calls",
    "xdp_counters",
    "xdp_counters_dwarf_only",
    "subprog_calls_dwarf_only",
]

_FOUND_PROG = re.compile(r"^libbpf: sec '(?P<sec>[^']+)': found program '(?P<name>[^']+)'")
_MAP_INT = re.compile(r"^libbpf: map '(?P<map>[^']+)': found (?P<field>\w+) = (?P<value>\w+)\.$")
_MAP_TYPE = re.compile(
    r"^libbpf: map '(?P<map>[^']+)': found (?P<field>key|value) \[(?P<id>\d+)\], sz = (?P<sz>\d+)\.$"
)
_DATA_MAP = re.compile(
    r"^libbpf: map '(?P<map>[^']+)' \(global data\): "
    r"at sec_idx \d+, offset \d+, flags (?P<flags>[0-9a-f]+)\.$"
)
_CREATED = re.compile(r"^libbpf: map '(?P<map>[^']+)': created successfully")
_SLOT = re.compile(
    r"map '(?P<map>[^']+)' slot \[(?P<slot>\d+)\] points to (?P<kind>prog|map) '(?P<target>[^']+)'"
)
_BEGIN = re.compile(r"^libbpf: prog '(?P<prog>[^']+)': -- BEGIN PROG LOAD LOG --$")
_FUNC = re.compile(r"^func#\d+ @(?P<pc>\d+)$")
_LISTING = re.compile(r"^\s+(?P<pc>\d+): \S+ \((?P<op>[0-9a-f]{2})\) (?P<text>.*)$")
_CALL_PC = re.compile(r"^call pc(?P<rel>[+-]\d+)$")


@dataclass
class LibbpfView:
    programs: set[tuple[str, str]] = field(default_factory=set)  # (section, name), .text included
    map_fields: dict[str, dict[str, int]] = field(default_factory=dict)
    data_map_flags: dict[str, int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    slots: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    func_pcs: dict[str, list[int]] = field(default_factory=dict)
    listing: dict[str, dict[int, tuple[int, str]]] = field(
        default_factory=dict
    )  # prog -> pc -> (opcode, text)


def _parse(log: str) -> LibbpfView:
    view = LibbpfView()
    current: str | None = None
    for line in log.splitlines():
        if m := _FOUND_PROG.match(line):
            view.programs.add((m["sec"], m["name"]))
        elif m := _MAP_TYPE.match(line):
            fields_ = view.map_fields.setdefault(m["map"], {})
            fields_[f"{m['field']}_btf"] = int(m["id"])
            fields_[f"{m['field']}_size"] = int(m["sz"])
        elif m := _MAP_INT.match(line):
            view.map_fields.setdefault(m["map"], {})[m["field"]] = int(m["value"], 0)
        elif m := _DATA_MAP.match(line):
            view.data_map_flags[m["map"]] = int(m["flags"], 16)
        elif m := _CREATED.match(line):
            if not m["map"].startswith("libbpf_"):  # libbpf's own feature probes
                view.created.append(m["map"])
        elif m := _SLOT.search(line):
            view.slots.setdefault(m["map"], {})[int(m["slot"])] = (m["kind"], m["target"])
        elif m := _BEGIN.match(line):
            current = m["prog"]
            view.func_pcs[current] = []
            view.listing[current] = {}
        elif line.startswith("libbpf:"):
            current = None if "END PROG LOAD LOG" in line else current
        elif current is not None and (m := _FUNC.match(line)):
            view.func_pcs[current].append(int(m["pc"]))
        elif current is not None and (m := _LISTING.match(line)):
            view.listing[current].setdefault(int(m["pc"]), (int(m["op"], 16), m["text"]))
    return view


def _libbpf_view(name: str, obj: BpfObject) -> LibbpfView:
    """Run bpftool on the fixture; removes what it pinned (programs, and maps with
    LIBBPF_PIN_BY_NAME, which libbpf pins as /sys/fs/bpf/<map name>)."""
    pin_dir = BPFFS / f"bpfdbg_elf_test_{os.getpid()}_{name}"
    by_name = [BPFFS / m.name for m in obj.maps if m.pinning]
    taken = [p.name for p in by_name if p.exists()]
    if taken:
        pytest.skip(f"maps {taken} are already pinned in {BPFFS}; libbpf would reuse them")
    try:
        result = subprocess.run(
            [BPFTOOL or "bpftool", "-d", "prog", "loadall", str(fixture(name)), str(pin_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(pin_dir, ignore_errors=True)
        for pin in by_name:
            pin.unlink(missing_ok=True)
    assert result.returncode == 0, f"bpftool could not load {name}:\n{result.stderr[-3000:]}"
    return _parse(result.stderr)


def _expected_fields(spec: MapSpec) -> dict[str, int]:
    """What libbpf reports for a BTF map definition, from our MapSpec."""
    out = {"type": int(spec.type), "max_entries": spec.max_entries}
    if spec.key_btf:
        out |= {"key_btf": spec.key_btf, "key_size": spec.key_size}
    if spec.value_btf:
        out |= {"value_btf": spec.value_btf, "value_size": spec.value_size}
    if spec.flags:
        out["map_flags"] = spec.flags
    if spec.pinning:
        out["pinning"] = spec.pinning
    return out


def _check_maps(obj: BpfObject, view: LibbpfView) -> None:
    assert view.created == [m.name for m in obj.maps]
    for spec in obj.maps:
        if spec.is_global_data or spec.section.startswith(".bss"):
            assert view.data_map_flags[spec.name] == spec.flags, spec.name
            continue
        reported = view.map_fields[spec.name]
        expected = _expected_fields(spec)
        assert {k: reported.get(k) for k in expected} == expected, spec.name
        if "key_size" in reported and "key_btf" not in reported:
            assert reported["key_size"] == spec.key_size
        if spec.inner is not None:
            inner = view.map_fields[spec.inner.name]
            expected = _expected_fields(spec.inner)
            assert {k: inner.get(k) for k in expected} == expected, spec.inner.name
        slots = {slot: ("prog", prog) for slot, prog in spec.initial_programs}
        if spec.inner is not None:
            names = [m.name for m in obj.maps]
            slots |= {
                int.from_bytes(k, "little"): ("map", names[int.from_bytes(v, "little")])
                for k, v in spec.initial
            }
        assert slots == view.slots.get(spec.name, {}), spec.name


def _check_program_code(obj: BpfObject, view: LibbpfView) -> None:
    for prog in obj.programs:
        assert sorted(prog.symbols) == view.func_pcs[prog.name], prog.name
        listing = view.listing[prog.name]
        if not listing:
            continue  # a kernel that does not print the live-regs listing
        ours = {pc: insn for pc, insn in enumerate(prog.insns) if insn is not None}
        assert sorted(listing) == sorted(ours), prog.name
        for pc, (opcode, text) in listing.items():
            insn = ours[pc]
            assert insn.opcode == opcode, f"{prog.name} pc {pc}: {text}"
            if insn.opcode == 0x85 and insn.src == CallKind.LOCAL:
                m = _CALL_PC.match(text)
                assert m is not None and int(m["rel"]) == insn.imm, f"{prog.name} pc {pc}: {text}"


@pytest.mark.parametrize("name", LIBBPF_LOADABLE)
def test_loader_agrees_with_libbpf(name: str) -> None:
    obj = load_object(fixture(name))
    view = _libbpf_view(name, obj)
    ours = {(p.section, p.name) for p in obj.programs}
    assert ours == {entry for entry in view.programs if entry[0] != ".text"}
    _check_maps(obj, view)
    _check_program_code(obj, view)
