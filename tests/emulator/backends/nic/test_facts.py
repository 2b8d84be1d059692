"""ProgramFacts: the analysis merged per instruction the way the NFP driver accumulates
verifier states (pointer kind and offset per memory access, union of ranges per ALU
operand, helper argument kinds, registers and spills that hold one pointer kind)."""

from __future__ import annotations

from emulator.asm import assemble
from emulator.backends.nic.facts import Ptr, Range, program_facts
from emulator.env import Environment
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program
from emulator.verifier import analyse

HASH = MapSpec("h", MapType.HASH, 4, 8, 16)


def facts_of(text: str, maps: tuple[MapSpec, ...] = ()):  # type: ignore[no-untyped-def]
    program = Program.from_insns(assemble(text), prog_type="xdp")
    return program_facts(analyse(program, Environment(maps=maps)))


def test_pointer_of_a_memory_access_merged_over_paths() -> None:
    f = facts_of(
        """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 20
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 12)
        r6 = r2
        if r5 > 3 goto load
        r6 += 2
        load:
        r0 = *(u8 *)(r6 + 4)
        r7 = r10
        if r5 > 5 goto spill
        r7 = r2
        spill:
        *(u64 *)(r10 - 8) = r7
        r0 = 2
        exit
        out:
        r0 = 1
        exit
        """
    )
    assert f.at(5).ptr == Ptr("packet", 0)
    assert f.at(9).ptr == Ptr("packet", None)  # offset 0 on one path, 2 on the other
    assert f.at(9).regs[6] == Ptr("packet", None)
    assert f.at(13).regs[7] is None  # stack on one path, packet on the other
    assert f.at(13).ptr == Ptr("stack", 0, frame_up=0)  # r10, with -8 in the instruction
    assert dict(f.at(14).spills) == {}  # the slot's pointer kind differs between paths
    assert f.at(0).regs[1] == Ptr("ctx", 0) and f.at(0).regs[0] == Ptr("uninit", None)
    assert f.at(9).regs[5] is None  # a scalar
    r5 = f.at(7).dst
    assert r5 == Range(0, 255)
    assert f.dead(100) and not f.dead(0)
    assert f.max_pkt_offset == 12  # the byte at packet offset 12 read through r2


def test_helper_arguments_ranges_and_spills() -> None:
    f = facts_of(
        """
        r6 = r1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        *(u64 *)(r10 - 16) = r6
        r2 = r10
        r2 += -4
        r1 = map[idx:0]
        call 1
        r1 = *(u64 *)(r10 - 16)
        r0 = 2
        exit
        """,
        maps=(HASH,),
    )
    call = f.at(8)
    assert call.args[0] == Ptr("map_ptr", 0, map_index=0)
    assert call.args[1] == Ptr("stack", -4)
    assert call.args[2] is None  # uninit
    assert call.spills == {(0, -16): Ptr("ctx", 0)}
    assert f.at(9).regs[0] == Ptr("map_value_or_null", 0, map_index=0)
    assert f.subprogs[0].stack_depth == 16


def test_constant_divisor_per_path_is_a_range_when_paths_differ() -> None:
    f = facts_of(
        """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 1
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 0)
        r6 = 3
        if r5 > 7 goto div
        r6 = 5
        div:
        r5 /= r6
        r0 = 2
        exit
        out:
        r0 = 1
        exit
        """
    )
    div = f.at(9)
    assert div.src == Range(3, 5) and div.src.const is None
    assert div.dst == Range(0, 255)


def test_zext_only_where_the_upper_half_is_read() -> None:
    f = facts_of(
        """
        w2 = 1
        w3 = 2
        r2 += 1
        *(u32 *)(r10 - 4) = r3
        r0 = 2
        exit
        """
    )
    assert f.at(0).zext and not f.at(1).zext
