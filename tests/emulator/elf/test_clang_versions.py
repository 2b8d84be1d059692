"""Objects from older clangs (14-16) load like the clang-19 builds of the same sources.

The fixtures under fixtures/clang_versions/ are ``<name>.clang<N>.o``: ``<name>.c`` (from
fixtures/ or sample_progs/) built by clang-N with the usual flags (see the Makefile there).
For each one:

- load_object accepts it without warnings, with the same programs (names, sections,
  types, subprogram symbols), the same program warnings and the same maps (type, sizes,
  flags, section, inner map, initial .data/.rodata bytes, prog_array slots) as the clang-19
  object; only the instruction counts may differ (codegen), and by little;
- where bpf() is permitted, the real verifier accepts every program with its maps, with
  the object's BTF and func_info (and without BTF where no callback needs it);
- the sample programs give, on interp, the verdicts the kernel recorded for the clang-19
  build on their capture (sample_progs/expected_kernel.json): the C is the same, so the
  verdicts must be too. Maps carry over from packet to packet, as when they were recorded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpfdbg.capture import read_capture, read_map_entries
from emulator.backends.base import create
from emulator.backends.kernel.syscall import Bpf, VerifierError, available
from emulator.bpfobject import BpfObject
from emulator.elf import Btf, load_object
from emulator.elf.btf_encode import encode_btf, func_info
from emulator.env import Environment, RunInput
from emulator.maps.spec import MapSpec
from emulator.state import StopCondition, StopReason
from tests.emulator.elf.kernel_maps import KernelMaps, load_btf, load_program, load_with_btf, needs_btf
from tests.emulator.elf.paths import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample_progs"
VERSIONS_DIR = FIXTURES / "clang_versions"
_NAME = re.compile(r"^(?P<name>\w+)\.clang(?P<version>\d+)\.o$")

OBJECTS = sorted(p.name for p in VERSIONS_DIR.glob("*.clang*.o"))
SAMPLE_OBJECTS = [o for o in OBJECTS if (SAMPLES / f"{_NAME.match(o)['name']}.c").is_file()]  # type: ignore[index]
KERNEL_WHY = available()

# How far an older clang's instruction count may be from clang-19's (codegen only).
MAX_INSN_DRIFT = 0.10


def _split(object_name: str) -> tuple[str, int]:
    m = _NAME.match(object_name)
    assert m is not None, object_name
    return m["name"], int(m["version"])


def _reference(object_name: str) -> Path:
    """The clang-19 object of the same source (committed next to its .c)."""
    name, _ = _split(object_name)
    sample = SAMPLES / f"{name}.o"
    return sample if (SAMPLES / f"{name}.c").is_file() else FIXTURES / f"{name}.o"


def _load(path: Path, recwarn: pytest.WarningsRecorder | None = None) -> BpfObject:
    obj = load_object(path)
    if recwarn is not None:
        assert not [str(w.message) for w in recwarn], f"{path.name}: load_object warned"
    return obj


def _map_shape(spec: MapSpec) -> tuple[object, ...]:
    """Everything about a map that does not depend on codegen (BTF type ids do)."""
    inner = _map_shape(spec.inner) if spec.inner is not None else None
    return (
        spec.name,
        spec.type,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
        spec.pinning,
        spec.section,
        inner,
        spec.initial,
        spec.initial_programs,
        spec.key_btf != 0,
        spec.value_btf != 0,
    )


def test_every_version_has_fixtures_and_samples() -> None:
    versions: dict[int, set[str]] = {}
    for o in OBJECTS:
        name, version = _split(o)
        versions.setdefault(version, set()).add(name)
    assert set(versions) >= {14, 15, 16}
    names = set.union(*versions.values())
    assert all(v == names for v in versions.values()), versions  # same set per version
    assert {"global_data", "subprog_calls", "legacy_maps", "bpf_loop"} <= names
    assert SAMPLE_OBJECTS


@pytest.mark.parametrize("object_name", OBJECTS)
def test_loads_like_the_clang19_build(object_name: str, recwarn: pytest.WarningsRecorder) -> None:
    obj = _load(VERSIONS_DIR / object_name, recwarn)
    ref = _load(_reference(object_name))
    assert isinstance(obj.btf, Btf)
    assert obj.license == ref.license
    assert [_map_shape(m) for m in obj.maps] == [_map_shape(m) for m in ref.maps]
    assert [(p.name, p.section, p.prog_type) for p in obj.programs] == [
        (p.name, p.section, p.prog_type) for p in ref.programs
    ]
    for prog, want in zip(obj.programs, ref.programs, strict=True):
        assert sorted(prog.symbols.values()) == sorted(want.symbols.values()), prog.name
        assert [str(d) for d in prog.warnings] == [str(d) for d in want.warnings], prog.name
        assert prog.symbols.get(0) == prog.name
        drift = abs(len(prog.insns) - len(want.insns)) / len(want.insns)
        assert drift <= MAX_INSN_DRIFT, f"{prog.name}: {len(prog.insns)} insns, clang-19 {len(want.insns)}"
        # Every subprogram starts where a function's BTF says: func_info covers it.
        funcs = func_info(obj.btf, prog)
        assert [pc for pc, _ in funcs] == sorted(prog.symbols)


@pytest.mark.skipif(KERNEL_WHY is not None, reason=KERNEL_WHY or "")
@pytest.mark.parametrize("object_name", OBJECTS)
def test_every_program_passes_the_verifier(object_name: str) -> None:
    """As in test_kernel_load: maps through fd_array, with BTF + func_info, and through
    Bpf.prog_load without BTF where the program has no callbacks."""
    obj = _load(VERSIONS_DIR / object_name)
    assert isinstance(obj.btf, Btf)
    with Bpf() as bpf:
        maps = KernelMaps(bpf)
        try:
            fds = maps.create_all(obj.maps)
            btf_fd = load_btf(bpf, encode_btf(obj.btf))
            maps.fds.append(btf_fd)
            loaded = []
            for prog in obj.programs:
                if prog.prog_type not in ("xdp", "tc", "socket", "sk_skb"):
                    continue
                try:
                    load_with_btf(prog, fds, btf_fd, func_info(obj.btf, prog))
                    if prog.prog_type != "sk_skb" and not needs_btf(prog):
                        load_program(bpf, prog, fds)
                except VerifierError as err:
                    pytest.fail(f"{object_name}: {prog.name} rejected: {err}\n{err.log[-3000:]}")
                loaded.append(prog.name)
            assert loaded
        finally:
            maps.close()


def _verdicts(path: Path, source_name: str) -> dict[str, list[int | None]]:
    """Each program's return value on every packet of the sample's capture, on interp, maps
    carrying over from packet to packet."""
    obj = _load(path)
    entries = read_map_entries(SAMPLES / "initial_maps.json", f"{source_name}.o")
    packets = read_capture(SAMPLES / "pcaps" / f"{source_name}.pcap")
    verdicts: dict[str, list[int | None]] = {}
    for prog in obj.programs:
        machine = create("interp")
        report = machine.load(prog, Environment.for_object(obj, map_entries=entries))
        assert report.ok, report.diagnostics
        got: list[int | None] = []
        for packet in packets:
            machine.reset(RunInput(packet=packet.data))
            event = machine.run(StopCondition())
            assert event.reason is StopReason.EXIT, (prog.name, packet.index, event)
            got.append(event.retval)
        verdicts[prog.name] = got
    return verdicts


@pytest.mark.parametrize("object_name", SAMPLE_OBJECTS)
def test_sample_gives_the_kernels_verdicts(object_name: str) -> None:
    name, _ = _split(object_name)
    expected = json.loads((SAMPLES / "expected_kernel.json").read_text())[f"{name}.o"]
    assert _verdicts(VERSIONS_DIR / object_name, name) == expected
