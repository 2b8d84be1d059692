"""Register kinds: entry registers, context loads, lddw pseudo sources, pointer arithmetic,
NULL checks and helper calls."""

from __future__ import annotations

import pytest

from emulator.env import Environment
from emulator.verifier.regstate import M64
from tests.emulator.verifier.helpers import ARRAY, HASH, only, regs_at, run


@pytest.mark.parametrize(
    ("prog_type", "data", "end", "meta"),
    [("xdp", 0, 4, 8), ("tc", 76, 80, 140), ("socket", 76, 80, 140)],
)
def test_context_loads_give_packet_pointers(prog_type: str, data: int, end: int, meta: int) -> None:
    a = run(
        f"""
        r2 = *(u32 *)(r1 + {data})
        r3 = *(u32 *)(r1 + {end})
        r4 = *(u32 *)(r1 + {meta})
        r5 = *(u16 *)(r1 + 12)
        r0 = 0
        exit
        """,
        prog_type,
    )
    assert only(a, 0, 1).kind == "ctx"
    assert only(a, 0, 10).kind == "stack" and only(a, 0, 10).frame == 0
    assert only(a, 0, 0).kind == "uninit"
    assert [only(a, 4, r).kind for r in (2, 3, 4)] == ["packet", "packet_end", "packet_meta"]
    other = only(a, 4, 5)
    assert (other.kind, other.umin, other.umax) == ("scalar", 0, 0xFFFF)


def test_raw_programs_get_memory_and_length() -> None:
    a = run("r0 = *(u8 *)(r1 + 3)\nexit", "raw")
    assert only(a, 0, 1).kind == "packet"
    assert only(a, 0, 2).kind == "scalar"
    assert a.max_pkt_offset == 3  # the last byte touched, as the kernel's max_pkt_offset


def test_pointer_arithmetic_constant_and_variable() -> None:
    a = run(
        """
        r2 = *(u32 *)(r1 + 0)
        r2 += 14
        r3 = *(u8 *)(r2 + 0)
        r3 &= 0xf
        r2 += r3
        r4 = *(u8 *)(r2 + 2)
        r5 = r10
        r5 += -16
        r0 = 0
        exit
        """
    )
    assert (only(a, 2, 2).kind, only(a, 2, 2).off) == ("packet", 14)
    after_var = only(a, 5, 2)
    assert (after_var.kind, after_var.off, after_var.umin, after_var.umax) == ("packet", 14, 0, 15)
    assert after_var.id != only(a, 2, 2).id  # a variable offset makes a new packet pointer
    assert a.max_pkt_offset == 14 + 15 + 2
    fp = only(a, 8, 5)
    assert (fp.kind, fp.off, fp.frame) == ("stack", -16, 0)


def test_lddw_map_sources() -> None:
    a = run(
        """
        r1 = map[idx:1]
        r2 = map[idx:1][0]+8
        r3 = map[idx:0]
        r0 = 0
        exit
        """,
        maps=(HASH, ARRAY),
    )
    r1, r2, r3 = (only(a, 6, r) for r in (1, 2, 3))
    assert (r1.kind, r1.map_index) == ("map_ptr", 1)
    assert (r2.kind, r2.map_index, r2.off) == ("map_value", 1, 8)
    assert (r3.kind, r3.map_index) == ("map_ptr", 0)


LOOKUP = """
    r6 = 0
    *(u32 *)(r10 - 4) = r6
    r2 = r10
    r2 += -4
    r1 = map[idx:0]
    call 1
    r7 = r0
    if r0 == 0 goto +2
    r0 = *(u64 *)(r0 + 0)
    exit
    r0 = 1
    exit
"""


def test_map_lookup_and_null_check() -> None:
    a = run(LOOKUP, maps=(HASH,))
    call_pc = 6
    assert [x.kind for x in regs_at(a, call_pc, 2)] == ["stack"]
    r0 = only(a, call_pc + 1, 0)
    assert (r0.kind, r0.map_index) == ("map_value_or_null", 0) and r0.id
    assert only(a, call_pc + 1, 1).kind == "uninit"  # r1-r5 are clobbered by the call
    # the non-NULL side: r0 and its copy r7 are map values; the NULL side: both are 0
    assert [only(a, 9, r).kind for r in (0, 7)] == ["map_value", "map_value"]
    assert [only(a, 11, r).const for r in (0, 7)] == [0, 0]
    assert only(a, 11, 7).kind == "scalar"
    assert a.subprogs[0].stack_depth == 8  # 4 bytes used; the kernel grows stacks by 8


def test_map_value_not_null_is_decided() -> None:
    a = run(
        """
        r1 = map[idx:0][0]+0
        if r1 != 0 goto +1
        r0 = 1
        r0 = 0
        exit
        """,
        maps=(ARRAY,),
    )
    assert 3 not in a.visits_by_pc  # a map value pointer is never NULL


def test_helper_returns_as_the_kernel_types_them() -> None:
    a = run(
        """
        call 7
        r6 = r0
        call 8
        r7 = r0
        r0 = 0
        exit
        """
    )
    # RET_INTEGER: an unknown 64-bit scalar, though bpf_get_prandom_u32 returns __u32
    rand = only(a, 2, 6)
    assert (rand.kind, rand.umin, rand.umax) == ("scalar", 0, M64)
    cpu = only(a, 4, 7)  # bpf_get_smp_processor_id: [0, ncpus - 1]
    assert (cpu.umin, cpu.umax) == (0, Environment().ncpus - 1)


def test_packet_pointers_are_forgotten_after_adjust_head() -> None:
    a = run(
        """
        r6 = r1
        r7 = *(u32 *)(r6 + 0)
        r2 = 14
        call 44
        r0 = 0
        exit
        """
    )
    assert only(a, 3, 7).kind == "packet"
    assert only(a, 4, 7).kind == "scalar"
    assert only(a, 4, 6).kind == "ctx"


def test_array_lookup_with_a_constant_key_in_bounds_is_not_null() -> None:
    """The kernel (6.14+) elides the NULL of an array lookup whose key is a known constant
    below max_entries: a constant spilled exactly key_size wide, or zeroed (not spilled)
    bytes. Expected kinds as the 6.18 kernel logs them for the same programs."""

    def lookup(store: str, off: int) -> str:
        return f"{store}\nr2 = r10\nr2 += {off}\nr1 = map[idx:0]\ncall 1\nr0 = 0\nexit"

    cases = {
        "4-byte spill of 3": ("r1 = 3\n*(u32 *)(r10 - 8) = r1", -8, "map_value"),
        "4-byte spill of 4": ("r1 = 4\n*(u32 *)(r10 - 8) = r1", -8, "map_value_or_null"),  # 4 entries
        "8-byte spill of 3": ("r1 = 3\n*(u64 *)(r10 - 8) = r1", -8, "map_value_or_null"),
        "8-byte spill of 0": ("r1 = 0\n*(u64 *)(r10 - 8) = r1", -8, "map_value_or_null"),
        "4-byte store imm 0": ("*(u32 *)(r10 - 8) = 0", -8, "map_value"),
        "unaligned zero": ("r1 = 0\n*(u32 *)(r10 - 4) = r1", -4, "map_value"),
        "unknown": ("call 7\n*(u32 *)(r10 - 8) = r0", -8, "map_value_or_null"),
    }
    for name, (store, off, kind) in cases.items():
        a = run(lookup(store, off), maps=(ARRAY,))
        last = a.program.nslots - 2  # r0 = 0, after the call
        assert only(a, last, 0).kind == kind, name
    hashed = run(lookup("*(u32 *)(r10 - 8) = 0", -8), maps=(HASH,))
    assert only(hashed, hashed.program.nslots - 2, 0).kind == "map_value_or_null"


def test_visits_are_numbered_in_exploration_order() -> None:
    a = run("r0 = 0\nif r1 == 0 goto +1\nr0 = 1\nexit")
    seqs = sorted(v.seq for vs in a.visits_by_pc.values() for v in vs)
    assert seqs == list(range(a.visits))


def test_helper_access_to_packet_counts_in_max_pkt_offset() -> None:
    # a lookup keyed by 4 packet bytes at offset 26: the kernel checks [26, 30) as a packet
    # access (check_helper_mem_access), so the last byte reached is 29
    a = run(
        """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 30
        if r4 > r3 goto +4
        r2 += 26
        r1 = map[idx:0]
        call 1
        r0 = 2
        exit
        """,
        maps=(HASH,),
    )
    assert a.max_pkt_offset == 29
