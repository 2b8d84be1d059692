"""Program: decoded instructions plus what is known about them (name, type, symbols).

The ELF loader (and the raw-bytes path) produce Programs; backends load them. A Program is
immutable, so every backend can share one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from emulator.diagnostics import Diagnostic
from emulator.isa.insn import Insn, decode, decode_program, encode_program


@dataclass(frozen=True, slots=True)
class SourceLine:
    """Where an instruction came from (DWARF .debug_line or BTF.ext line info)."""

    file: str
    line: int
    column: int = 0
    text: str = ""  # the source line itself, when the object carries it (BTF line info does)


@dataclass(frozen=True)
class Program:
    """A program ready to load.

    Map references are self-contained: after relocation a ``lddw`` names a map by its index
    in the owning object's map list (pseudo sources MAP_IDX / MAP_IDX_VALUE, as the kernel's
    fd_array convention), so a Program needs no file descriptors. bpf-to-bpf callees from
    ``.text`` are appended after the entry function, as libbpf does; ``symbols`` names the
    entry pc of each function.
    """

    insns: tuple[Insn | None, ...]  # per slot; None = second half of a lddw
    name: str = "prog"
    prog_type: str = "raw"  # "raw", "xdp", "tc", "socket"
    section: str = ""
    symbols: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[Diagnostic, ...] = ()
    lines: Mapping[int, SourceLine] = field(default_factory=lambda: MappingProxyType({}))
    license: str = ""

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "prog", prog_type: str = "raw") -> Program:
        """Decode raw 8-byte slots; raises DecodeError naming every bad slot."""
        decoded = decode_program(data)
        insns = decode(data)  # raises on errors
        warnings = tuple(d for d in decoded.diagnostics if d.severity.value != "error")
        return cls(insns, name=name, prog_type=prog_type, warnings=warnings)

    @classmethod
    def from_insns(cls, insns: list[Insn], **kw: object) -> Program:
        from emulator.isa.insn import slot_list

        return cls.from_bytes(encode_program(slot_list(insns)), **kw)  # type: ignore[arg-type]

    @property
    def nslots(self) -> int:
        return len(self.insns)

    def encode(self) -> bytes:
        return encode_program(self.insns)

    def insn_at(self, pc: int) -> Insn | None:
        if 0 <= pc < len(self.insns):
            return self.insns[pc]
        return None
