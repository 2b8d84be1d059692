"""The 64-bit address space a program runs in: named regions, every access checked.

Each region (a stack frame, the input memory or ctx, the packet, a map value, ...) has a base
address, a size and its bytes. Loads and stores outside every region, or past a region's
end, raise :class:`MemoryFaultError`, whose message says what was accessed and where, in the
verifier's pointer vocabulary ("read of 4 bytes at pkt+62, packet is 60 bytes").

The layout is fixed so that every backend (and the host JIT under Unicorn) can map the same
regions at the same addresses, and pointer values compare equal across backends.

Loads and stores are on the interpreter's hot path: the common case (same region as the
last access) costs one subtraction, one bounds check and one ``struct`` call.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from emulator.errors import EmulatorError
from emulator.state import MemWrite, RegionSnapshot

# Address layout: each kind of region lives in its own 4 GiB window, page aligned.
CTX_BASE = 0x1_0000_0000  # raw input memory or the program's context
PKT_BASE = 0x2_0000_0000  # packet data (headroom below, tailroom above)
STACK_BASE = 0x3_0000_0000  # call frame k occupies the top of page window k
CODE_BASE = 0x5_0000_0000  # code addresses of subprograms (for callx), not readable
MAP_BASE = 0x10_0000_0000  # maps: map i owns the 1 GiB window at MAP_BASE + i * MAP_WINDOW
MAP_WINDOW = 0x4000_0000
STACK_WINDOW = 0x1000
STACK_SIZE = 512

_FMT = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}


class MemoryFaultError(EmulatorError):
    """An access outside the regions; the backend turns it into a Fault at the current pc."""

    def __init__(self, message: str, addr: int, size: int) -> None:
        super().__init__(message)
        self.message = message
        self.addr = addr
        self.size = size


class RegionHandler(Protocol):
    """Memory whose loads and stores mean something more than bytes: a program's context.

    The kernel rewrites ctx accesses (loading ``xdp_md.data`` yields a 64-bit packet
    pointer, not the u32 in the struct), so ctx regions answer accesses themselves. They
    raise MemoryFaultError for accesses the verifier would reject.
    """

    def load(self, off: int, size: int) -> int: ...
    def store(self, off: int, size: int, value: int) -> None: ...
    def snapshot(self) -> bytes: ...


@dataclass(eq=False, slots=True)
class Region:
    """A named, contiguous piece of memory.

    ``label`` is how addresses inside it are shown (``pkt``, ``fp``, ``ctx``,
    ``map_value(counters)``); ``what`` names it in fault messages ("packet", "stack frame").
    For stack frames ``anchor_end`` makes offsets count from the top (``fp-8``).
    ``data`` may be a memoryview into a larger buffer (the packet within its headroom).
    A region with a ``handler`` has no bytes of its own (``data`` is empty, so the fast
    paths never take it) and ``vsize`` bytes of address range.
    """

    name: str
    kind: str
    base: int
    data: bytearray | memoryview
    writable: bool = True
    label: str = ""
    what: str = ""
    anchor_end: bool = False
    handler: RegionHandler | None = None
    vsize: int = 0

    size: int = field(init=False)
    end: int = field(init=False)

    def __post_init__(self) -> None:
        # computed once: the bytes behind a region never change length, and region_for
        # reads ``end`` on every slow-path access
        self.size = self.vsize if self.handler is not None else len(self.data)
        self.end = self.base + self.size

    def contents(self) -> bytes:
        return self.handler.snapshot() if self.handler is not None else bytes(self.data)

    def describe(self, addr: int) -> str:
        label = self.label or self.name
        off = addr - (self.end if self.anchor_end else self.base)
        if off == 0:
            return label
        return f"{label}{'+' if off > 0 else '-'}{abs(off)}"


_NEAR = 0x10000  # addresses this close to a region are described relative to it


class AddressSpace:
    """The set of regions of one backend's machine, with checked access.

    ``journal`` is None while running fast; the single-step path sets it to a list, and
    every store then records its old and new bytes there (the write journal of StepEvents).
    """

    def __init__(self) -> None:
        self._regions: list[Region] = []
        self._bases: list[int] = []
        self._by_name: dict[str, Region] = {}
        self._last: Region = Region("<none>", "none", -(1 << 70), bytearray())
        self.journal: list[MemWrite] | None = None

    # -- regions -----------------------------------------------------------------------
    def add(self, region: Region) -> Region:
        if region.name in self._by_name:
            raise ValueError(f"region {region.name!r} already exists")
        i = bisect.bisect(self._bases, region.base)
        for other in self._regions[max(i - 1, 0) : i + 1]:  # sorted: only neighbours can overlap
            if region.base < other.end and other.base < region.end:
                raise ValueError(f"region {region.name!r} overlaps {other.name!r}")
        self._regions.insert(i, region)
        self._bases.insert(i, region.base)
        self._by_name[region.name] = region
        return region

    def clear(self) -> None:
        """Drop every region (a fresh run); accessors made earlier stay valid."""
        self._regions.clear()
        self._bases.clear()
        self._by_name.clear()
        self._last = Region("<none>", "none", -(1 << 70), bytearray())
        self.journal = None

    def remove(self, name: str) -> None:
        region = self._by_name.pop(name)
        i = self._regions.index(region)
        del self._regions[i]
        del self._bases[i]
        if self._last is region:
            self._last = Region("<none>", "none", -(1 << 70), bytearray())

    def get(self, name: str) -> Region | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Region]:
        return iter(self._regions)

    def find(self, addr: int) -> Region | None:
        i = bisect.bisect(self._bases, addr) - 1
        if i >= 0:
            region = self._regions[i]
            if addr < region.end:
                return region
        return None

    def snapshot(self) -> dict[str, RegionSnapshot]:
        return {r.name: RegionSnapshot(r.name, r.kind, r.base, r.contents()) for r in self._regions}

    # -- describing addresses ----------------------------------------------------------
    def nearest(self, addr: int) -> Region | None:
        """The region containing ``addr``, or the closest one within 64 KiB of it."""
        best: Region | None = None
        best_dist = _NEAR + 1
        for region in self._regions:
            if region.base <= addr < region.end:
                return region
            dist = region.base - addr if addr < region.base else addr - region.end + 1
            if dist < best_dist:
                best, best_dist = region, dist
        return best

    def describe(self, addr: int) -> str:
        """``pkt+14``, ``fp-8``, ``map_value(counters)+4``, or hex when in no region."""
        region = self.nearest(addr)
        return region.describe(addr) if region else f"{addr:#x}"

    def _fault(self, verb: str, addr: int, size: int) -> MemoryFaultError:
        noun = f"{verb} of {size} byte{'s' if size != 1 else ''}"
        if addr == 0 or 0 <= addr < 0x1000:
            return MemoryFaultError(f"{noun} at {addr:#x}: NULL pointer dereference", addr, size)
        region = self.nearest(addr)
        if region is None:
            return MemoryFaultError(
                f"{noun} at {addr & 0xFFFFFFFFFFFFFFFF:#x}: not in any memory region (is this a pointer?)",
                addr,
                size,
            )
        where = region.describe(addr)
        what = region.what or region.kind
        if region.base <= addr < region.end and addr + size <= region.end and verb == "write":
            return MemoryFaultError(f"{noun} at {where}: {what} is read-only", addr, size)
        return MemoryFaultError(f"{noun} at {where}, {what} is {region.size} bytes", addr, size)

    # -- checked access ----------------------------------------------------------------
    def region_for(self, addr: int, size: int, verb: str = "read") -> Region:
        region = self._last
        if not (region.base <= addr and addr + size <= region.end):
            found = self.find(addr)
            if found is None or addr + size > found.end:
                raise self._fault(verb, addr, size)
            region = self._last = found
        return region

    def load(self, addr: int, size: int) -> int:
        """Unsigned little-endian value of ``size`` (1, 2, 4, 8) bytes at ``addr``."""
        region = self._last
        off = addr - region.base
        if off < 0 or off + size > len(region.data):
            region = self.region_for(addr, size, "read")
            off = addr - region.base
            if region.handler is not None:
                return region.handler.load(off, size)
        return _FMT[size].unpack_from(region.data, off)[0]

    def store(self, addr: int, size: int, value: int) -> None:
        region = self._last
        off = addr - region.base
        if off < 0 or off + size > len(region.data) or not region.writable:
            region = self.region_for(addr, size, "write")
            if not region.writable:
                raise self._fault("write", addr, size)
            off = addr - region.base
            if region.handler is not None:
                self._store_handled(region, addr, off, size, value)
                return
        if self.journal is not None:
            old = bytes(region.data[off : off + size])
            _FMT[size].pack_into(region.data, off, value & _MASK[size])
            self.journal.append(
                MemWrite(addr, old, bytes(region.data[off : off + size]), region.describe(addr))
            )
            return
        _FMT[size].pack_into(region.data, off, value & _MASK[size])

    def _store_handled(self, region: Region, addr: int, off: int, size: int, value: int) -> None:
        handler = region.handler
        assert handler is not None
        old = handler.load(off, size) if self.journal is not None else 0
        handler.store(off, size, value & _MASK[size])
        if self.journal is not None:
            new = handler.load(off, size)
            self.journal.append(MemWrite(addr, old.to_bytes(size, "little"), new.to_bytes(size, "little"),
                                         region.describe(addr)))  # fmt: skip

    def read(self, addr: int, size: int) -> bytes:
        """Bytes at ``addr``; for helpers and the debugger (``x/16xb``)."""
        if size == 0:
            return b""
        region = self.region_for(addr, size, "read")
        off = addr - region.base
        if region.handler is not None:
            return region.handler.snapshot()[off : off + size]
        return bytes(region.data[off : off + size])

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        region = self.region_for(addr, len(data), "write")
        if not region.writable or region.handler is not None:
            raise self._fault("write", addr, len(data))
        off = addr - region.base
        old = bytes(region.data[off : off + len(data)])
        region.data[off : off + len(data)] = data
        if self.journal is not None:
            self.journal.append(MemWrite(addr, old, bytes(data), region.describe(addr)))

    def accessors(self) -> dict[str, object]:
        """Size-specialised load/store closures for generated code (one call per access)."""
        space = self
        u = {n: f.unpack_from for n, f in _FMT.items()}
        p = {n: f.pack_into for n, f in _FMT.items()}

        def make_load(size: int) -> Callable[[int], int]:
            unpack = u[size]

            def load(addr: int) -> int:
                region = space._last
                off = addr - region.base
                if off < 0 or off + size > len(region.data):
                    return space.load(addr, size)
                return unpack(region.data, off)[0]

            return load

        def make_store(size: int) -> Callable[[int, int], None]:
            pack = p[size]
            mask = _MASK[size]

            def store(addr: int, value: int) -> None:
                region = space._last
                off = addr - region.base
                if (
                    off < 0
                    or off + size > len(region.data)
                    or not region.writable
                    or space.journal is not None
                ):
                    space.store(addr, size, value)
                    return
                pack(region.data, off, value & mask)

            return store

        out: dict[str, object] = {}
        for size in (1, 2, 4, 8):
            out[f"ld{size}"] = make_load(size)
            out[f"st{size}"] = make_store(size)
        return out


def stack_frame_region(depth: int) -> Region:
    """The 512-byte frame of call depth ``depth``; r10 points at its end."""
    window = STACK_BASE + depth * STACK_WINDOW
    label = "fp" if depth == 0 else f"fp[{depth}]"
    return Region(
        f"stack[{depth}]",
        "stack",
        window + STACK_WINDOW - STACK_SIZE,
        bytearray(STACK_SIZE),
        label=label,
        what="stack frame",
        anchor_end=True,
    )


def frame_pointer(depth: int) -> int:
    return STACK_BASE + depth * STACK_WINDOW + STACK_WINDOW
