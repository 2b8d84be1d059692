"""Cross-check with ``llvm-objdump -d -r``: the same functions at the same offsets, the same
relocations against the same symbols, and, in every loaded program, the same bytes for
every instruction the loader did not have to patch."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from emulator.elf import load_object
from emulator.elf.functions import read_code_section
from emulator.elf.image import read_image, relocation_name
from emulator.elf.relocations import symbol_label
from emulator.isa.fields import CallKind
from tests.emulator.elf.paths import LOADABLE, fixture

OBJDUMP = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
pytestmark = pytest.mark.skipif(OBJDUMP is None, reason="llvm-objdump is not installed")

_SECTION = re.compile(r"^Disassembly of section (?P<name>\S+):$")
_FUNCTION = re.compile(r"^(?P<addr>[0-9a-f]{16}) <(?P<name>[^>]+)>:$")
_INSN = re.compile(
    r"^\s+(?P<slot>\d+):\t(?P<bytes>(?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?)\t"
)
_RELOC = re.compile(r"^\t\t(?P<off>[0-9a-f]{16}):  (?P<type>R_BPF_\w+)\t(?P<sym>\S+)$")


@dataclass
class Listing:
    functions: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # section -> (name, slot)
    code: dict[str, dict[int, bytes]] = field(default_factory=dict)  # section -> slot -> bytes
    relocs: dict[str, set[tuple[int, str, str]]] = field(default_factory=dict)  # section -> (off, type, sym)


def _objdump(name: str) -> Listing:
    text = subprocess.run(
        [OBJDUMP or "", "-d", "-r", str(fixture(name))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    out = Listing()
    section = ""
    for line in text.splitlines():
        if m := _SECTION.match(line):
            section = m["name"]
            out.functions.setdefault(section, set())
            out.code.setdefault(section, {})
            out.relocs.setdefault(section, set())
        elif m := _FUNCTION.match(line):
            out.functions[section].add((m["name"], int(m["addr"], 16) // 8))
        elif m := _INSN.match(line):
            out.code[section][int(m["slot"])] = bytes.fromhex(m["bytes"].replace(" ", ""))
        elif m := _RELOC.match(line):
            out.relocs[section].add((int(m["off"], 16), m["type"], m["sym"]))
    return out


@pytest.mark.parametrize("name", LOADABLE)
def test_functions_and_relocations_match_objdump(name: str) -> None:
    listing = _objdump(name)
    image = read_image(fixture(name))
    for sec in image.sections:
        if not (sec.is_exec and sec.size):
            continue
        code = read_code_section(image, sec)
        assert {(f.name, f.start) for f in code.functions} == listing.functions[sec.name]
        ours = {
            (r.offset, relocation_name(r.type), symbol_label(image, r.symbol))
            for r in image.relocations.get(sec.index, ())
        }
        assert ours == listing.relocs[sec.name]


@pytest.mark.parametrize("name", LOADABLE)
def test_unpatched_instructions_keep_their_bytes(name: str) -> None:
    """Every slot of every placed function is the section's bytes, except lddws the loader
    relocated and bpf-to-bpf calls whose offset it recomputed."""
    listing = _objdump(name)
    image = read_image(fixture(name))
    relocated = {
        (image.sections[i].name, r.offset // 8) for i, rels in image.relocations.items() for r in rels
    }
    obj = load_object(fixture(name))
    for prog in obj.programs:
        starts = sorted(prog.symbols)
        for pc, insn in enumerate(prog.insns):
            if insn is None:
                continue
            func_pc = max(p for p in starts if p <= pc)
            section, slot = _origin(listing, prog.symbols[func_pc], pc - func_pc)
            if (section, slot) in relocated or (insn.opcode == 0x85 and insn.src == CallKind.LOCAL):
                continue
            assert insn.encode() == listing.code[section][slot], (prog.name, pc)


def _origin(listing: Listing, function: str, offset: int) -> tuple[str, int]:
    for section, functions in listing.functions.items():
        for name, start in functions:
            if name == function:
                return section, start + offset
    raise AssertionError(f"objdump shows no function {function}")
