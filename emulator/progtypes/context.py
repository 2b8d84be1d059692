"""Context structs (xdp_md, __sk_buff) as memory that answers field by field.

The verifier rewrites every ctx access into a load of the real kernel object, so a program
never sees the struct's own bytes: ``r2 = *(u32 *)(r1 + 0)`` on an xdp_md yields the 64-bit
address of the packet. A :class:`ContextHandler` reproduces that from a field table, and
rejects what the verifier would reject (unknown offsets, wrong sizes, writes to read-only
fields) with the verifier's reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from emulator.memory import MemoryFaultError


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    off: int
    size: int
    writable: bool = False
    pointer: str = ""  # "pkt", "pkt_end", "pkt_meta": loads yield an address
    narrow: bool = True  # 1- and 2-byte loads of the low bytes allowed (scalar fields)


class ContextHandler:
    """A RegionHandler for one ctx struct instance."""

    def __init__(self, struct_name: str, fields: tuple[Field, ...], size: int,
                 values: dict[str, int], pointers: Mapping[str, Callable[[], int]]) -> None:  # fmt: skip
        self.struct_name = struct_name
        self.size = size
        self.values = values  # current scalar field values, by name (writes land here)
        self.pointers = pointers
        self._by_off: dict[int, Field] = {}
        for f in fields:
            for i in range(f.size):
                self._by_off[f.off + i] = f

    def _field(self, off: int, size: int, verb: str) -> Field:
        f = self._by_off.get(off)
        what = f"{verb} of {size} byte{'s' if size != 1 else ''} at ctx+{off}"
        if f is None:
            raise MemoryFaultError(f"invalid access to {self.struct_name}: {what} is not a field", off, size)
        inner = off - f.off
        if f.pointer and (size != 4 or inner):
            raise MemoryFaultError(f"invalid access to {self.struct_name}.{f.name}: {what}; "
                                   "pointer fields are read with 4-byte loads", off, size)  # fmt: skip
        if inner + size > f.size or (not f.narrow and size != f.size) or (inner % size):
            raise MemoryFaultError(f"invalid access to {self.struct_name}.{f.name}: {what} "
                                   f"(the field is {f.size} bytes)", off, size)  # fmt: skip
        return f

    def load(self, off: int, size: int) -> int:
        f = self._field(off, size, "read")
        if f.pointer:
            return self.pointers[f.pointer]()
        value = self.values.get(f.name, 0)
        shift = (off - f.off) * 8
        return (value >> shift) & ((1 << (size * 8)) - 1)

    def store(self, off: int, size: int, value: int) -> None:
        f = self._field(off, size, "write")
        if not f.writable:
            raise MemoryFaultError(f"invalid access to {self.struct_name}.{f.name}: the field is "
                                   "read-only for this program type", off, size)  # fmt: skip
        shift = (off - f.off) * 8
        mask = ((1 << (size * 8)) - 1) << shift
        old = self.values.get(f.name, 0)
        self.values[f.name] = (old & ~mask) | ((value << shift) & mask)

    def snapshot(self) -> bytes:
        """The struct as the program would see it (pointers as their low 32 bits)."""
        out = bytearray(self.size)
        seen: set[str] = set()
        for f in self._by_off.values():
            if f.name in seen:
                continue
            seen.add(f.name)
            value = self.pointers[f.pointer]() if f.pointer else self.values.get(f.name, 0)
            out[f.off : f.off + f.size] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")
        return bytes(out)
