"""The NIC's memories as the microcode sees them, and the bijection between device addresses
and the interpreter's address space.

What the offloaded program touches (reference/nfp_offload.md sections 1.3-1.7):

* **LM**, the microengine's local memory: 4 KiB of 32-bit words, reached through four LM
  address CSRs (``ActLMAddr0..3``). It holds this thread's 512-byte stack (the frame base
  is in A22) and the firmware's packet vector (``ActLMAddr1``: length word, CTM pointer,
  queue selection). A word holds the stack's bytes little-endian, as the JIT's ``ld_field``
  byte masks assume.
* **CTM**: the packet buffer. A packet pointer is a 32-bit CTM address (bit 31 set, the
  packet number in bits 16-30, the 16-bit offset below); packet data starts at the
  profile's ``packet_offset``. ``bpf_xdp_adjust_head`` moves only the low 16 bits.
* **EMEM**: map values behind 40-bit addresses, one 256 MiB window per device table id.
  Words a program updates with atomic adds are big-endian there (the atomic engine's
  order); everywhere else, and in the host's view, they are host order.
* **Transfer registers**: the data of every memory command.

The debugger, lockstep and the other backends see the interpreter's layout instead
(emulator.memory: the packet at PKT_BASE, stack frame ``d`` below ``frame_pointer(d)``,
map values in MapMemory windows). The same bytes back both views where they can: the
packet buffer *is* the interpreter-layout PacketBuffer's buffer, map values *are* the
MapSet's Element buffers; only the stack differs (frames live at LM addresses in one
512-byte area, with the return address and saved registers of callees beside them), so
:class:`Memories` copies each frame's program-visible window into the mirror region
after it changes. Every device address translates to at most one interpreter address and
back (:meth:`Memories.to_interp`, :meth:`Memories.to_device`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from emulator.map_memory import MapMemory
from emulator.maps import Element, Map, MapSpec
from emulator.memory import AddressSpace, Region, frame_pointer
from emulator.progtypes.packet import PacketBuffer
from emulator.state import MemWrite

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

LM_SIZE = 4096
"""Local memory per microengine: 1024 words [code: LM indexes are 10-bit word numbers]."""
LM_CONTEXT = 1
"""The thread the model runs; its 512-byte stack is LM context slot 1 [fw: ``ebpf.uc``
computes a per-thread stack from the thread index; which thread runs is arbitrary]."""
LM_STACK_SIZE = 512
LM_STACK_BASE = LM_CONTEXT * LM_STACK_SIZE
LM_PV_BASE = 0xC00
"""Where the firmware keeps the packet vector (``ActLMAddr1``) [inferred: any LM address
outside the 2 KiB of stacks]."""
PV_LEN, PV_CTM, PV_QSEL, PV_QUEUE = 0, 8, 16, 24
"""Byte offsets in the packet vector of ``*l$index1[0]`` (length), ``[2]`` (CTM pointer),
``[4]`` (bit 4: queue selected) and ``[6]`` (low byte: the queue) [code: ``pkt_vec``]."""
PLEN_MASK = 0x3FFF

CTM_PACKET_NUMBER = 0x2A
CTM_BUFFER = 0x8000_0000 | CTM_PACKET_NUMBER << 16
"""CTM address of this packet's buffer: packet addressing mode (bit 31), the packet number,
a 16-bit offset [inferred from the NFP's CTM packet addressing; the JIT only relies on the
offset being the low 16 bits]."""
CTM_SIZE = 1 << 16

EMEM_BASE = 0x80_0000_0000
"""EMEM island base of map values (40-bit) [inferred: any 40-bit address whose upper bits
are non-zero, so that both halves of a value pointer matter]."""
EMEM_TABLE_SHIFT = 28
EMEM_MAX_TABLES = 128  # HASHMAP_MAX_TID_EBPF [fw]


class DeviceFault(Exception):
    """The device was asked to do something it cannot (an address outside every memory);
    on hardware this would hang or corrupt the ME, here it stops the run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def round8(n: int) -> int:
    return (n + 7) & ~7


def table_ids(maps: Iterable[Map | MapSpec]) -> dict[int, int]:
    """Device table id of each offloaded map (hash and array; a perf event array stays on the
    host), by map index: the firmware hands out ids from 1 at map creation [fw: tids 1-127
    are for eBPF]; maps are created in object order."""
    out: dict[int, int] = {}
    for index, m in enumerate(maps):
        if m.type.label in ("hash", "array"):
            out[index] = len(out) + 1
    return out


# -- local memory -------------------------------------------------------------------------------
class LocalMemory:
    """4 KiB of LM, its four address CSRs, and when each was last written (in microcode
    instructions executed), so that a use inside the write latency shows up as a hazard."""

    LATENCY = 3  # instructions after local_csr_wr before the pointer may be used [code]

    def __init__(self) -> None:
        self.data = bytearray(LM_SIZE)
        self.ptr = [0, LM_PV_BASE, 0, 0]
        self.written = [-100, -100, -100, -100]

    def word(self, addr: int) -> int:
        a = addr & (LM_SIZE - 4)
        return int.from_bytes(self.data[a : a + 4], "little")

    def set_word(self, addr: int, value: int) -> int:
        """Store a word; returns the LM byte address written."""
        a = addr & (LM_SIZE - 4)
        self.data[a : a + 4] = (value & M32).to_bytes(4, "little")
        return a

    def copy(self) -> LocalMemory:
        other = LocalMemory()
        other.data[:] = self.data
        other.ptr = list(self.ptr)
        other.written = list(self.written)
        return other


# -- the packet buffer ------------------------------------------------------------------------
@dataclass
class CtmBuffer:
    """The CTM packet buffer, backed by a bytearray that the interpreter view shares.

    ``backing()`` returns the buffer and the offset in it of CTM offset 0 (for XDP and TC
    the PacketBuffer's bytes, shifted so that data lands at ``packet_offset``; for the raw
    convention the input memory). CTM offsets outside the backing read as zero and ignore
    writes: nothing the eBPF program may reach lives there.
    """

    backing: Callable[[], tuple[bytearray | memoryview, int]]
    interp_base: int  # the interpreter address of CTM offset 0

    def read(self, addr: int, size: int) -> bytes:
        buf, shift = self.backing()
        off = (addr - CTM_BUFFER) + shift
        out = bytearray(size)
        lo, hi = max(off, 0), min(off + size, len(buf))
        if lo < hi:
            out[lo - off : hi - off] = buf[lo:hi]
        return bytes(out)

    def write(self, addr: int, data: bytes) -> tuple[int, bytes] | None:
        """Store ``data``; returns (interpreter address, old bytes) of the part that landed in
        the backing, None when nothing did."""
        buf, shift = self.backing()
        off = (addr - CTM_BUFFER) + shift
        lo, hi = max(off, 0), min(off + len(data), len(buf))
        if lo >= hi:
            return None
        old = bytes(buf[lo:hi])
        buf[lo:hi] = data[lo - off : hi - off]
        return self.interp_base + (lo - shift), old

    def contains(self, addr: int) -> bool:
        return CTM_BUFFER <= addr < CTM_BUFFER + CTM_SIZE

    def to_interp(self, addr: int) -> int:
        return self.interp_base + (addr - CTM_BUFFER)

    def from_interp(self, addr: int) -> int:
        return CTM_BUFFER + (addr - self.interp_base)


def packet_ctm(packet: PacketBuffer, packet_offset: int) -> CtmBuffer:
    """The CTM view of an XDP/TC packet: data at ``packet_offset``, its buffer shared."""
    shift = packet.data - packet_offset

    def backing() -> tuple[bytearray, int]:
        return packet.buf, shift  # packet.buf is replaced when a checkpoint is restored

    return CtmBuffer(backing, packet.base + shift)


def memory_ctm(region: Region | None, base: int, packet_offset: int) -> CtmBuffer:
    """The CTM view of the raw convention's input memory (the bytes of region ``mem``)."""
    data: bytearray | memoryview = region.data if region is not None else bytearray()
    return CtmBuffer(lambda: (data, -packet_offset), base - packet_offset)


# -- EMEM ----------------------------------------------------------------------------------------
@dataclass
class Emem:
    """Map values at 40-bit addresses: table id -> map, element id -> Element.

    An element gets its address when the firmware hands it out (a lookup) or the host asks
    for it; the address is ``EMEM_BASE + tid << 28 + element id * round8(value_size)``, the
    same arithmetic as the interpreter's MapMemory window, so the two translate exactly.
    """

    mapmem: MapMemory
    tids: dict[int, int]  # map index -> device table id
    atomic: dict[int, frozenset[int]] = field(default_factory=dict)  # map index -> word offsets
    _elements: dict[tuple[int, int], Element] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index_of = {tid: index for index, tid in self.tids.items()}

    def address(self, index: int, element: Element) -> int:
        """The EMEM address of ``element``'s value (and its interpreter-view region)."""
        self._elements[(index, element.id)] = element
        self.mapmem.value_ptr(index, element)
        m = self.mapmem.maps[index]
        return EMEM_BASE + (self.tids[index] << EMEM_TABLE_SHIFT) + element.id * round8(max(m.value_size, 1))

    def locate(self, addr: int, size: int, slack: bool = False) -> tuple[int, Element, int]:
        """(map index, element, offset) of ``size`` bytes at EMEM ``addr``. With ``slack``
        the access may run past the value's end into its 8-byte-aligned slot (a word read
        of the value's last bytes)."""
        off = addr - EMEM_BASE
        tid = off >> EMEM_TABLE_SHIFT
        index = self.index_of.get(tid) if off >= 0 else None
        if index is None:
            raise DeviceFault(f"EMEM address {addr:#012x} is in no device table")
        m = self.mapmem.maps[index]
        slot = round8(max(m.value_size, 1))
        rel = off - (tid << EMEM_TABLE_SHIFT)
        element = self._elements.get((index, rel // slot))
        inner = rel % slot
        limit = slot + 4 if slack else max(m.value_size, 1)
        if element is None or inner + size > limit:
            raise DeviceFault(
                f"EMEM access of {size} bytes at {addr:#012x}: outside every value of table {tid} ({m.name})"
            )
        return index, element, inner

    def contains(self, addr: int) -> bool:
        off = addr - EMEM_BASE
        return 0 <= off and (off >> EMEM_TABLE_SHIFT) in self.index_of

    def read(self, addr: int, size: int) -> bytes:
        """Device-order bytes; past the value's end (within its slot) the padding reads 0."""
        index, element, off = self.locate(addr, size, slack=True)
        return self._device_order(index, off, bytes(element.data[off : off + size]).ljust(size, b"\0"))

    def write(self, addr: int, data: bytes) -> tuple[int, bytes]:
        """Store device-order bytes; returns (interpreter address, old host-order bytes)."""
        index, element, off = self.locate(addr, len(data))
        old = bytes(element.data[off : off + len(data)])
        element.data[off : off + len(data)] = self._device_order(index, off, data)  # involution
        return self.mapmem.value_ptr(index, element) + off, old

    def add(self, addr: int, value: int, size: int) -> tuple[int, bytes]:
        """The atomic engine's add of ``size`` (4 or 8) bytes: big-endian 32-bit words, the
        low word first, the carry going into the second [inferred: the driver byte-swaps each
        32-bit word of an atomic counter, and programs add 64-bit counters with add64]."""
        raw = self.read(addr, size)
        words = [int.from_bytes(raw[i : i + 4], "big") for i in range(0, size, 4)]
        total = sum(w << (32 * i) for i, w in enumerate(words)) + value
        new = b"".join(((total >> (32 * i)) & M32).to_bytes(4, "big") for i in range(len(words)))
        return self.write(addr, new)

    def to_interp(self, addr: int) -> int | None:
        try:
            index, element, off = self.locate(addr, 1)
        except DeviceFault:
            return None
        return self.mapmem.value_ptr(index, element) + off

    def from_interp(self, addr: int) -> int | None:
        found = self.mapmem.element_at(addr)
        if found is None:
            return None
        region = self.mapmem.space.find(addr)
        assert region is not None
        for (index, _), element in self._elements.items():
            if element.data is region.data:
                return self.address(index, element) + (addr - region.base)
        return None

    def _device_order(self, index: int, off: int, data: bytes) -> bytes:
        """Swap the 32-bit atomic-counter words wholly inside ``data`` (its own inverse; the
        offload verifier keeps programs from touching part of such a word)."""
        words = self.atomic.get(index)
        if not words:
            return data
        out = bytearray(data)
        for w in words:
            if off <= w and w + 4 <= off + len(data):
                out[w - off : w - off + 4] = out[w - off : w - off + 4][::-1]
        return bytes(out)

    def forget(self) -> None:
        self._elements.clear()

    def elements(self) -> dict[tuple[int, int], Element]:
        return dict(self._elements)

    def restore(self, elements: dict[tuple[int, int], Element]) -> None:
        self._elements = dict(elements)


# -- call frames in LM ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LmFrame:
    """One eBPF call frame in LM: its base (A22 while it runs), its frame depth (what
    ``rX = r10`` adds to A22) and the bytes below r10 the program may touch."""

    base: int
    depth: int
    visible: int

    @property
    def r10(self) -> int:
        return self.base + self.depth


# -- both views together -------------------------------------------------------------------------
class Memories:
    """LM, CTM, EMEM and the transfer registers of one run, with the interpreter-layout
    mirror (``space``) kept equal at instruction boundaries, and the write journal of the
    current step in interpreter addresses."""

    def __init__(
        self, space: AddressSpace, ctm: CtmBuffer, emem: Emem, lm: LocalMemory | None = None
    ) -> None:
        self.space = space
        self.ctm = ctm
        self.emem = emem
        self.lm = lm or LocalMemory()
        self.frames: list[LmFrame] = []
        self.xfer = [0] * 32  # transfer registers (one array: the JIT never needs the two banks)
        self.journal: list[MemWrite] | None = None
        self._dirty = False

    def reset(self, ctm: CtmBuffer, emem: Emem) -> None:
        """A new run: new packet and map views, LM cleared (in place: the simulator's
        compiled instructions hold on to it), no frames."""
        self.ctm, self.emem = ctm, emem
        self.lm.data[:] = bytes(LM_SIZE)
        self.lm.ptr[:] = [0, LM_PV_BASE, 0, 0]
        self.lm.written[:] = [-100] * 4
        self.xfer[:] = [0] * len(self.xfer)
        self.frames = []
        self.journal = None
        self._dirty = False

    def lm_bytes(self, addr: int, size: int) -> bytes:
        """``size`` LM bytes from byte address ``addr`` (what a firmware helper reads)."""
        return bytes(self.lm.data[(addr + i) & (LM_SIZE - 1)] for i in range(size))

    # -- LM words (the stack and the packet vector) ------------------------------------------
    def lm_read(self, addr: int) -> int:
        return self.lm.word(addr)

    def lm_write(self, addr: int, value: int) -> None:
        a = addr & (LM_SIZE - 4)
        old = bytes(self.lm.data[a : a + 4])
        self.lm.set_word(a, value)
        if old != self.lm.data[a : a + 4]:
            self._dirty = True
        if self.journal is not None:  # every store, as the interpreter's journal has it
            where = self.lm_to_interp(a)
            if where is not None:
                self.journal.append(
                    MemWrite(where, old, bytes(self.lm.data[a : a + 4]), self.space.describe(where))
                )

    # -- memory commands ------------------------------------------------------------------
    def read(self, addr: int, size: int, emem: bool) -> bytes:
        """``size`` bytes at a 32-bit CTM address or a 40-bit EMEM address."""
        if emem:
            return self.emem.read(addr, size)
        if self.ctm.contains(addr) and self.ctm.contains(addr + size - 1):
            return self.ctm.read(addr, size)
        raise DeviceFault(f"CTM access of {size} bytes at {addr:#010x}: outside the packet buffer")

    def write(self, addr: int, data: bytes, emem: bool) -> None:
        if emem:
            where, old = self.emem.write(addr, data)
            self._journal(where, old, len(data))
            return
        if not (self.ctm.contains(addr) and self.ctm.contains(addr + len(data) - 1)):
            raise DeviceFault(f"CTM access of {len(data)} bytes at {addr:#010x}: outside the packet buffer")
        done = self.ctm.write(addr, data)
        if done is not None:
            self._journal(done[0], done[1], len(done[1]))

    def atomic_add(self, addr: int, value: int, size: int) -> None:
        where, old = self.emem.add(addr, value, size)
        self._journal(where, old, size)

    def _journal(self, where: int, old: bytes, size: int) -> None:
        if self.journal is None:
            return
        try:
            new = self.space.read(where, size)
        except Exception:  # noqa: BLE001 - an address the interpreter view has no region for
            return
        if new != old:
            self.journal.append(MemWrite(where, old, new, self.space.describe(where)))

    # -- frames and the stack mirror ------------------------------------------------------
    def push_frame(self, frame: LmFrame) -> None:
        self.frames.append(frame)
        self._dirty = True

    def pop_frame(self) -> None:
        self.frames.pop()

    def lm_to_interp(self, addr: int) -> int | None:
        """The interpreter address of a program-visible stack byte at LM ``addr`` (None for
        the return address and saved registers of callees, and LM outside every frame)."""
        for depth in range(len(self.frames) - 1, -1, -1):
            f = self.frames[depth]
            if f.r10 - f.visible <= addr < f.r10:
                return frame_pointer(depth) - (f.r10 - addr)
        return None

    def interp_to_lm(self, addr: int) -> int | None:
        for depth, f in enumerate(self.frames):
            fp = frame_pointer(depth)
            if fp - f.visible <= addr < fp:
                return f.r10 - (fp - addr)
        return None

    def sync_stack(self) -> None:
        """Copy each frame's visible LM window into its mirror region (stack[d])."""
        if not self._dirty:
            return
        self._dirty = False
        for depth, f in enumerate(self.frames):
            region = self.space.get(f"stack[{depth}]")
            if region is None or not f.visible:
                continue
            n = min(f.visible, len(region.data))
            region.data[len(region.data) - n :] = self.lm.data[f.r10 - n : f.r10]

    def write_stack(self, addr: int, data: bytes) -> None:
        """A debugger write into the interpreter view of the stack: the mirror, and LM where
        the bytes are program-visible."""
        self.sync_stack()
        self.space.write(addr, data)
        for i, byte in enumerate(data):
            lm = self.interp_to_lm(addr + i)
            if lm is not None:
                self.lm.data[lm] = byte

    def mark_dirty(self) -> None:
        self._dirty = True
