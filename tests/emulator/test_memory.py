"""The address space: checked access, fault messages in the verifier's vocabulary, journal."""

from __future__ import annotations

import pytest

from emulator.memory import (
    CTX_BASE,
    PKT_BASE,
    AddressSpace,
    MemoryFaultError,
    Region,
    frame_pointer,
    stack_frame_region,
)


@pytest.fixture
def space() -> AddressSpace:
    s = AddressSpace()
    s.add(stack_frame_region(0))
    s.add(Region("pkt", "pkt", PKT_BASE, bytearray(range(60)), label="pkt", what="packet"))
    s.add(Region("ctx", "ctx", CTX_BASE, bytearray(16), writable=False, label="ctx", what="ctx"))
    return s


def test_loads_are_little_endian_and_sized(space: AddressSpace) -> None:
    assert space.load(PKT_BASE, 1) == 0
    assert space.load(PKT_BASE + 1, 2) == 0x0201
    assert space.load(PKT_BASE + 4, 4) == 0x07060504
    assert space.load(PKT_BASE + 8, 8) == 0x0F0E0D0C0B0A0908


def test_out_of_bounds_read_names_region_offset_and_size(space: AddressSpace) -> None:
    with pytest.raises(MemoryFaultError) as err:
        space.load(PKT_BASE + 58, 4)
    assert err.value.message == "read of 4 bytes at pkt+58, packet is 60 bytes"
    with pytest.raises(MemoryFaultError) as err:
        space.load(PKT_BASE + 62, 4)
    assert err.value.message == "read of 4 bytes at pkt+62, packet is 60 bytes"


def test_stack_is_described_from_the_frame_pointer(space: AddressSpace) -> None:
    fp = frame_pointer(0)
    space.store(fp - 8, 8, 0x1122)
    assert space.load(fp - 8, 8) == 0x1122
    assert space.describe(fp - 8) == "fp-8"
    with pytest.raises(MemoryFaultError) as err:
        space.store(fp - 520, 8, 1)
    assert err.value.message == "write of 8 bytes at fp-520, stack frame is 512 bytes"
    with pytest.raises(MemoryFaultError) as err:
        space.load(fp, 1)
    assert "fp+0" in err.value.message or "at fp," in err.value.message


def test_null_and_wild_pointers(space: AddressSpace) -> None:
    with pytest.raises(MemoryFaultError, match="NULL pointer"):
        space.load(0, 4)
    with pytest.raises(MemoryFaultError, match="not in any memory region"):
        space.load(0xDEAD_0000_0000, 4)


def test_read_only_regions_refuse_writes(space: AddressSpace) -> None:
    with pytest.raises(MemoryFaultError, match="ctx is read-only"):
        space.store(CTX_BASE, 4, 1)
    accessors = space.accessors()
    with pytest.raises(MemoryFaultError, match="read-only"):
        accessors["st4"](CTX_BASE, 1)  # type: ignore[operator]


def test_journal_records_old_and_new(space: AddressSpace) -> None:
    space.journal = []
    space.store(PKT_BASE + 2, 2, 0xBEEF)
    (write,) = space.journal
    assert write.old == bytes([2, 3]) and write.new == bytes([0xEF, 0xBE])
    assert write.where == "pkt+2"


def test_accessors_agree_with_methods(space: AddressSpace) -> None:
    acc = space.accessors()
    acc["st8"](PKT_BASE + 16, -1)  # type: ignore[operator]
    assert space.load(PKT_BASE + 16, 8) == 0xFFFFFFFFFFFFFFFF
    assert acc["ld2"](PKT_BASE + 16) == 0xFFFF  # type: ignore[operator]
    with pytest.raises(MemoryFaultError):
        acc["ld8"](PKT_BASE + 56)  # type: ignore[operator]


def test_regions_cannot_overlap(space: AddressSpace) -> None:
    with pytest.raises(ValueError, match="overlaps"):
        space.add(Region("x", "pkt", PKT_BASE + 8, bytearray(4)))
