"""BpfObject: everything an ELF object file holds that bpfdbg uses.

Produced by :mod:`emulator.elf` (or built by hand for raw programs); consumed by the
Environment that every backend loads from.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.maps.spec import MapSpec
from emulator.program import Program


@dataclass(frozen=True)
class BpfObject:
    path: str
    programs: tuple[Program, ...]
    maps: tuple[MapSpec, ...] = ()
    license: str = ""
    btf: object | None = None  # emulator.elf.btf.Btf when the object has .BTF

    def program(self, name: str) -> Program:
        """A program by function name or section name; KeyError lists the choices."""
        for prog in self.programs:
            if name in (prog.name, prog.section):
                return prog
        choices = ", ".join(f"{p.name} ({p.section})" for p in self.programs) or "none"
        raise KeyError(f"no program {name!r} in {self.path}; programs: {choices}")

    def map_index(self, name: str) -> int:
        for i, spec in enumerate(self.maps):
            if spec.name == name:
                return i
        raise KeyError(f"no map {name!r} in {self.path}")
