"""The data windows as Unicorn MMIO over the machine's AddressSpace.

Native loads and stores reach the very regions the helpers and the debugger use, so nothing
is copied back and forth. The precise check of each eBPF access (which region, its bounds,
read-only) happens before the native instruction runs (see the backend's access hook);
what arrives here is already allowed. Unicorn splits accesses into aligned pieces of at most
4 bytes, so a piece may stick out of a region: those bytes read as zero and are dropped.
Bytes of the stack windows outside every frame are the native code's own (saved rbp, return
addresses, callee-saved pushes) and live in ``scratch``.
"""

from __future__ import annotations

from emulator.memory import STACK_BASE, STACK_SIZE, STACK_WINDOW, AddressSpace, Region

SCRATCH_FRAMES = 12  # stack windows backed by scratch (call depth limit + room for the frame tops)
NATIVE_ONLY = STACK_WINDOW - STACK_SIZE  # the low part of each stack window is never a frame
_NONE = Region("<none>", "none", -(1 << 70), bytearray())


class NativeMemory:
    """MMIO read/write callbacks for ``[base, base + size)``."""

    def __init__(self, space: AddressSpace, base: int) -> None:
        self.space = space
        self.base = base
        self.scratch = bytearray(SCRATCH_FRAMES * STACK_WINDOW)
        self._last = _NONE

    def _region(self, addr: int, size: int) -> Region | None:
        last = self._last
        if last.base <= addr and addr + size <= last.end and self.space.get(last.name) is last:
            return last
        region = self.space.find(addr)
        if region is None or region.handler is not None or addr + size > region.end:
            return None
        self._last = region
        return region

    def _native_only(self, addr: int, size: int) -> int:
        """The scratch offset when [addr, addr+size) is native stack only (pushes, saved rbp,
        return addresses), else -1."""
        off = addr - STACK_BASE
        if 0 <= off < len(self.scratch) - 8 and (off % STACK_WINDOW) + size <= NATIVE_ONLY:
            return off
        return -1

    def read(self, _uc: object, offset: int, size: int, _ud: object) -> int:
        addr = self.base + offset
        scratch = self._native_only(addr, size)
        if scratch >= 0:
            return int.from_bytes(self.scratch[scratch : scratch + size], "little")
        region = self._region(addr, size)
        if region is not None:
            off = addr - region.base
            return int.from_bytes(region.data[off : off + size], "little")
        return int.from_bytes(bytes(self._byte(addr + k) for k in range(size)), "little")

    def write(self, _uc: object, offset: int, size: int, value: int, _ud: object) -> None:
        addr = self.base + offset
        data = value.to_bytes(size, "little")
        scratch = self._native_only(addr, size)
        if scratch >= 0:
            self.scratch[scratch : scratch + size] = data
            return
        region = self._region(addr, size)
        if region is not None:
            off = addr - region.base
            region.data[off : off + size] = data
            return
        for k, byte in enumerate(data):
            self._put(addr + k, byte)

    def _byte(self, addr: int) -> int:
        region = self.space.find(addr)
        if region is not None and region.handler is None:
            return region.data[addr - region.base]
        off = addr - STACK_BASE
        return self.scratch[off] if 0 <= off < len(self.scratch) else 0

    def _put(self, addr: int, byte: int) -> None:
        region = self.space.find(addr)
        if region is not None and region.handler is None:
            region.data[addr - region.base] = byte
            return
        off = addr - STACK_BASE
        if 0 <= off < len(self.scratch):
            self.scratch[off] = byte

    def used_scratch(self, chunk: int = 64) -> tuple[tuple[int, bytes], ...]:
        """The non-zero parts of the native stack slots (a checkpoint keeps only these)."""
        zero = bytes(chunk)
        data = self.scratch
        return tuple((off, bytes(data[off : off + chunk])) for off in range(0, len(data), chunk)
                     if data[off : off + chunk] != zero)  # fmt: skip

    def restore_scratch(self, used: tuple[tuple[int, bytes], ...]) -> None:
        self.scratch[:] = bytes(len(self.scratch))
        for off, data in used:
            self.scratch[off : off + len(data)] = data

    # the native code's own stack slots, written by the machine itself -----------------------
    def put_u64(self, addr: int, value: int) -> None:
        off = addr - STACK_BASE
        self.scratch[off : off + 8] = value.to_bytes(8, "little")

    def get_u64(self, addr: int) -> int:
        off = addr - STACK_BASE
        return int.from_bytes(self.scratch[off : off + 8], "little")
