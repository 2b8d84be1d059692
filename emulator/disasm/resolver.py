"""Names for numbers: how the disassembler learns what helper 1 or map fd 5 is called.

The disassembler itself knows no helper or map names. Whoever has them (the ELF loader, the
helper registry, a Session) passes an object with these four methods; every method may
answer None, and then the number is printed as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

MapKind = Literal["fd", "idx"]
"""How a lddw pseudo-instruction names its map: by file descriptor or by fd_array index."""


class SymbolResolver(Protocol):
    """Source of names for a listing."""

    def helper_name(self, helper_id: int) -> str | None:
        """Name of kernel helper ``helper_id`` (``bpf_map_lookup_elem`` for 1)."""
        ...

    def map_name(self, kind: MapKind, value: int) -> str | None:
        """Name of the map a ``lddw`` refers to by fd or by index."""
        ...

    def subprog_name(self, pc: int) -> str | None:
        """Name of the subprogram (bpf-to-bpf function) that starts at slot ``pc``."""
        ...

    def label(self, pc: int) -> str | None:
        """Label to show before slot ``pc`` (and after jumps to it)."""
        ...


class NullResolver:
    """Knows no names; the listing shows plain numbers."""

    def helper_name(self, helper_id: int) -> str | None:
        return None

    def map_name(self, kind: MapKind, value: int) -> str | None:
        return None

    def subprog_name(self, pc: int) -> str | None:
        return None

    def label(self, pc: int) -> str | None:
        return None


@dataclass(frozen=True)
class TableResolver:
    """A resolver backed by plain dictionaries; handy for tests and simple callers."""

    helpers: Mapping[int, str] = field(default_factory=dict)
    maps: Mapping[tuple[str, int], str] = field(default_factory=dict)
    subprogs: Mapping[int, str] = field(default_factory=dict)
    labels: Mapping[int, str] = field(default_factory=dict)

    def helper_name(self, helper_id: int) -> str | None:
        return self.helpers.get(helper_id)

    def map_name(self, kind: MapKind, value: int) -> str | None:
        return self.maps.get((kind, value))

    def subprog_name(self, pc: int) -> str | None:
        return self.subprogs.get(pc)

    def label(self, pc: int) -> str | None:
        return self.labels.get(pc)
