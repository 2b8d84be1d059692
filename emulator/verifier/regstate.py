"""RegState (what the analysis knows about one register) and Spills (the stack slots that
hold a spilled register), both immutable and hashable so that whole path states can be
compared and remembered cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from emulator.verifier.scalar import Scalar

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

UNINIT = "uninit"
SCALAR = "scalar"
CTX = "ctx"
STACK = "stack"
PACKET = "packet"
PACKET_END = "packet_end"
PACKET_META = "packet_meta"
MAP_VALUE = "map_value"
MAP_VALUE_OR_NULL = "map_value_or_null"
MAP_PTR = "map_ptr"
OTHER = "other"
MAP_PTR_OR_NULL = "map_ptr_or_null"
"""A lookup in a map of maps: the inner map, or NULL."""
OTHER_OR_NULL = "other_or_null"
"""A helper's pointer result that may be NULL and is none of the kinds above (a socket, ring
buffer memory, local storage): ``other`` once checked against NULL."""
FUNC = "func"
"""The address of a subprogram (``lddw`` pseudo func, a callback): ``off`` is its entry pc."""

NULLABLE: Mapping[str, str] = {
    MAP_VALUE_OR_NULL: MAP_VALUE,
    MAP_PTR_OR_NULL: MAP_PTR,
    OTHER_OR_NULL: OTHER,
}
"""Kinds that a NULL check turns into a pointer (the non-NULL side)."""

PACKET_KINDS = frozenset({PACKET, PACKET_END, PACKET_META})


@dataclass(frozen=True, slots=True)
class RegState:
    """One register (or spilled slot) on one path.

    ``kind`` is one of the names above. Scalars: ``umin``/``umax`` is the unsigned 64-bit
    range and ``value``/``mask`` the tnum (mask bit 1 = unknown bit); ``id`` links scalars
    copied from one another, so that a branch on one narrows all copies. Pointers: ``off``
    is the constant offset (stack: from the owning frame's r10, packet: from data,
    map_value: from the value's start); ``umin``/``umax``/``value``/``mask`` describe the
    variable part (0 when there is none); ``frame`` is the absolute frame of a stack
    pointer (0 = main program); ``map_index`` indexes Environment.maps; ``id`` is the
    verifier's id of packet pointers and of values that may be NULL.
    """

    kind: str
    off: int = 0
    umin: int = 0
    umax: int = M64
    value: int = 0
    mask: int = M64
    frame: int = 0
    map_index: int | None = None
    id: int = 0

    @property
    def const(self) -> int | None:
        """The value of a scalar known exactly, else None."""
        if self.kind == SCALAR and self.mask == 0:
            return self.value
        return None

    @property
    def is_pointer(self) -> bool:
        return self.kind not in (SCALAR, UNINIT)

    @property
    def has_var_part(self) -> bool:
        """A pointer whose offset has a variable part."""
        return self.mask != 0 or self.umax != 0

    @property
    def scalar(self) -> Scalar:
        """The range and tnum (for a pointer: of its variable part)."""
        return Scalar(self.umin, self.umax, self.value, self.mask)

    def describe(self) -> str:
        """Close to the kernel's log notation: ``scalar(umin=0,umax=255)``, ``pkt(off=14)``."""
        if self.kind == UNINIT:
            return "uninit"
        c = self.const
        if c is not None:
            return str(c) if c < 1 << 63 else str(c - (1 << 64))
        parts = []
        if self.kind != SCALAR:
            parts.append(f"off={self.off}")
            if self.kind == STACK:
                parts.append(f"frame={self.frame}")
            if self.map_index is not None:
                parts.append(f"map={self.map_index}")
        if self.kind == SCALAR or self.has_var_part:
            if self.umin:
                parts.append(f"umin={self.umin}")
            if self.umax != M64:
                parts.append(f"umax={self.umax}")
            if self.mask != M64 and (self.mask or self.value):
                parts.append(f"var_off=({self.value:#x}; {self.mask:#x})")
        if self.id:
            parts.append(f"id={self.id}")
        return f"{self.kind}({','.join(parts)})"


UNINIT_REG = RegState(UNINIT)
UNKNOWN = RegState(SCALAR)


def scalar_reg(s: Scalar, id: int = 0) -> RegState:
    if s.mask == M64 and s.umin == 0 and s.umax == M64 and not id:
        return UNKNOWN
    return RegState(SCALAR, 0, s.umin, s.umax, s.value, s.mask, 0, None, id)


def const_reg(v: int) -> RegState:
    return RegState(SCALAR, 0, v, v, v, 0)


def range_reg(nbytes: int) -> RegState:
    """What a zero-extending load of ``nbytes`` gives: [0, 2**(8*nbytes) - 1]."""
    hi = (1 << (8 * nbytes)) - 1
    return RegState(SCALAR, 0, 0, hi, 0, hi)


def pointer(kind: str, off: int = 0, frame: int = 0, map_index: int | None = None, id: int = 0) -> RegState:
    return RegState(kind, off, 0, 0, 0, 0, frame, map_index, id)


StackKey = tuple[int, int]


class Slot(NamedTuple):
    """What the analysis knows about one 8-byte stack slot (the kernel's slot types).

    ``spill`` bytes at the slot's low end hold the register ``reg`` (8: a whole-register
    spill, pointer or scalar; 1-4: a narrow spill of a scalar by an aligned store); bit i
    of ``zeros`` says byte i (counted from the slot's low address) outside the spill is
    known to be 0 (STACK_ZERO); every other byte is unknown (STACK_MISC).
    """

    reg: RegState | None
    spill: int
    zeros: int

    def view(self) -> RegState:
        """The slot's 8 bytes as one little-endian value (a whole spill: the register)."""
        reg = self.reg
        if self.spill == 8 and reg is not None:
            return reg
        value, mask = 0, M64
        if reg is not None and self.spill:
            width = (1 << (8 * self.spill)) - 1
            low = reg.value & width, reg.mask & width if reg.kind == SCALAR else width
            value, mask = low[0], (mask & ~width) | low[1]
        for i in range(8):
            if self.zeros >> i & 1:
                mask &= ~(0xFF << (8 * i))
                value &= ~(0xFF << (8 * i))
        value &= ~mask
        return RegState(SCALAR, 0, value, value | mask, value, mask)


class Spills(Mapping[StackKey, RegState]):
    """(frame, 8-aligned offset from that frame's r10) -> what the slot holds.

    As a Mapping it gives a RegState per slot: the spilled register for a whole-register
    spill, else the slot's 8 bytes as a little-endian scalar whose unknown bytes are
    masked (so a slot zeroed by narrow stores reads as the constant 0). The analysis
    itself works on the :class:`Slot` records. Immutable and hashable; updates return a
    new object, so consecutive states that do not touch the stack share one.
    """

    __slots__ = ("_slots", "_items", "_hash", "_views")

    def __init__(self, slots: Mapping[StackKey, Slot] | None = None) -> None:
        self._slots: dict[StackKey, Slot] = dict(sorted(slots.items())) if slots else {}
        self._items = tuple(self._slots.items())
        self._hash: int | None = None
        self._views: dict[StackKey, RegState] | None = None

    def _view_index(self) -> dict[StackKey, RegState]:
        if self._views is None:
            self._views = {k: slot.view() for k, slot in self._items}
        return self._views

    def __getitem__(self, key: StackKey) -> RegState:
        return self._view_index()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __iter__(self) -> Iterator[StackKey]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, Spills) and self._items == other._items

    def __repr__(self) -> str:
        return f"Spills({dict(self._items)!r})"

    def slot(self, key: StackKey) -> Slot | None:
        return self._slots.get(key)

    def slots(self) -> tuple[tuple[StackKey, Slot], ...]:
        return self._items

    def with_slot(self, key: StackKey, slot: Slot | None) -> Spills:
        """``slot`` at ``key`` (None, or nothing known: forget the slot)."""
        if slot is not None and slot.reg is None and not slot.zeros:
            slot = None
        if self._slots.get(key) == slot:
            return self
        items = dict(self._slots)
        if slot is None:
            items.pop(key, None)
        else:
            items[key] = slot
        return Spills(items)

    def without(self, drop: Callable[[StackKey, Slot], bool]) -> Spills:
        if not any(drop(k, v) for k, v in self._items):
            return self
        return Spills({k: v for k, v in self._items if not drop(k, v)})

    def mapped(self, change: Callable[[RegState], RegState]) -> Spills:
        """``change`` applied to every spilled register."""
        changed = {}
        same = True
        for k, slot in self._items:
            if slot.reg is not None:
                reg = change(slot.reg)
                if reg is not slot.reg:
                    same = False
                    slot = slot._replace(reg=reg)
            changed[k] = slot
        return self if same else Spills(changed)


EMPTY_SPILLS = Spills()
