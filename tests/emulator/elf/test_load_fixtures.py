"""What load_object makes of each fixture: programs, maps, relocations, subprogram layout,
initial values, license and source lines, checked against the C source's intent."""

from __future__ import annotations

import struct

import pytest

from emulator.bpfobject import BpfObject
from emulator.diagnostics import Severity
from emulator.elf import Btf, load_object, source_line_at
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn
from emulator.maps.spec import F_MMAPABLE, F_NO_PREALLOC, F_RDONLY_PROG, MapType
from emulator.program import Program
from tests.emulator.elf.paths import LOADABLE, fixture


def _load(name: str) -> BpfObject:
    return load_object(fixture(name))


def _lddws(prog: Program, src: PseudoSrc) -> list[tuple[int, Insn]]:
    return [(pc, i) for pc, i in enumerate(prog.insns) if i is not None and i.opcode == 0x18 and i.src == src]


def _local_calls(prog: Program) -> list[tuple[int, int]]:
    """(pc, target pc) of every bpf-to-bpf call."""
    return [
        (pc, pc + 1 + i.imm)
        for pc, i in enumerate(prog.insns)
        if i is not None and i.opcode == 0x85 and i.src == CallKind.LOCAL
    ]


def _type_name(obj: BpfObject, type_id: int) -> str:
    assert isinstance(obj.btf, Btf)
    return obj.btf.type_name(type_id)


@pytest.mark.parametrize("name", LOADABLE)
def test_programs_are_self_consistent(name: str) -> None:
    obj = _load(name)
    for prog in obj.programs:
        assert Program.from_bytes(prog.encode()).insns == prog.insns
        assert prog.symbols[0] == prog.name and prog.license == obj.license
        for _pc, target in _local_calls(prog):
            assert target in prog.symbols, f"{prog.name}: call to pc {target}, not a function start"
        for _pc, insn in _lddws(prog, PseudoSrc.FUNC):
            assert insn.jump_target(_pc) in prog.symbols
        for src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE):
            assert all(0 <= i.imm < len(obj.maps) for _, i in _lddws(prog, src))
        assert obj.program(prog.name) is prog


def test_xdp_counters() -> None:
    obj = _load("xdp_counters")
    assert [p.name for p in obj.programs] == ["count_packets"]
    prog = obj.programs[0]
    assert (prog.section, prog.prog_type, prog.license, prog.warnings) == ("xdp", "xdp", "GPL", ())
    flows, totals, rodata, strings = obj.maps
    assert (flows.name, flows.type, flows.key_size, flows.value_size, flows.max_entries, flows.flags) == (
        "flows",
        MapType.HASH,
        8,
        24,
        1024,
        F_NO_PREALLOC,
    )
    assert (_type_name(obj, flows.key_btf), _type_name(obj, flows.value_btf)) == (
        "struct flow_key",
        "struct flow_stats",
    )
    assert (totals.type, totals.pinning, _type_name(obj, totals.value_btf)) == (MapType.ARRAY, 1, "__u64")
    assert (rodata.name, rodata.section, rodata.frozen, rodata.flags) == (
        "xdp_coun.rodata",
        ".rodata",
        True,
        F_RDONLY_PROG | F_MMAPABLE,
    )
    assert (strings.name, strings.value_size, strings.max_entries, strings.key_size) == (
        ".rodata.str1.1",
        19,
        1,
        4,
    )
    assert strings.initial == ((b"\0\0\0\0", b"new flow proto %x\n\0"),)
    assert [i.imm for _, i in _lddws(prog, PseudoSrc.MAP_IDX)] == [0, 0, 1]
    # the string literal at .rodata.str1.1+0, then bpf_printk's static format in .rodata
    assert isinstance(obj.btf, Btf)
    datasec = obj.btf.type(rodata.value_btf)
    fmt = next(i for i in datasec.secinfos if obj.btf.type(i.type).name == "count_packets.____fmt")
    assert [(i.imm, i.imm_hi) for _, i in _lddws(prog, PseudoSrc.MAP_IDX_VALUE)] == [(3, 0), (2, fmt.offset)]
    assert rodata.initial[0][1][fmt.offset : fmt.offset + fmt.size] == b"len %d\0"


def test_legacy_maps_section() -> None:
    obj = _load("legacy_maps")
    assert [(m.name, m.type, m.key_size, m.value_size, m.max_entries, m.section) for m in obj.maps] == [
        ("port_counts", MapType.HASH, 2, 8, 256, "maps"),
        ("drops", MapType.PERCPU_ARRAY, 4, 8, 1, "maps"),
    ]
    assert (obj.programs[0].prog_type, obj.license) == ("socket", "Dual BSD/GPL")


def test_global_data() -> None:
    obj = _load("global_data")
    assert [m.name for m in obj.maps] == ["global_d.rodata", "global_d.data", ".data.tuning", "global_d.bss"]
    rodata, data, tuning, bss = obj.maps
    assert rodata.initial == ((bytes(4), struct.pack("<I", 8080) + b"bpfdbg".ljust(12, b"\0")),)
    assert data.initial == ((bytes(4), struct.pack("<QI", 5, 3)),) and not data.frozen
    assert tuning.initial == ((bytes(4), struct.pack("<II", 7, 9)),)
    assert bss.initial == ((bytes(4), bytes(8)),) and bss.section == ".bss"
    refs = [(i.imm, i.imm_hi) for _, i in _lddws(obj.programs[0], PseudoSrc.MAP_IDX_VALUE)]
    # seen (global, .data+0), last_len (static: section symbol + 8), drop_port, tuning,
    # dropped (.bss), banner (global at .rodata+4), tuning again
    assert refs == [(1, 0), (1, 8), (0, 0), (2, 0), (3, 0), (0, 4), (2, 0)]


def test_subprograms_are_appended_depth_first_once_each() -> None:
    obj = _load("subprog_calls")
    two_levels, direct = obj.programs
    assert dict(two_levels.symbols) == {0: "entry_two_levels", 11: "classify_len", 30: "bump", 44: "parity"}
    assert dict(direct.symbols) == {0: "entry_direct", 17: "parity", 20: "bump"}
    assert _local_calls(two_levels) == [(3, 11), (18, 30), (21, 44), (28, 30)]
    assert _local_calls(direct) == [(1, 17), (6, 20)]
    # bump's source lines move with it
    assert two_levels.lines[30] == direct.lines[20]
    assert two_levels.lines[30].text.startswith("static __noinline __u64 bump")


def test_map_in_map() -> None:
    obj = _load("map_in_map")
    names = [m.name for m in obj.maps]
    outer_array, outer_hash = obj.maps[2], obj.maps[3]
    assert names == ["inner_a", "inner_b", "outer_array", "outer_hash"]
    assert (outer_array.type, outer_array.key_size, outer_array.value_size) == (MapType.ARRAY_OF_MAPS, 4, 4)
    assert outer_array.inner is not None and outer_array.inner.name == "outer_array.inner"
    assert (outer_array.inner.type, outer_array.inner.max_entries) == (MapType.ARRAY, 8)
    slots = {struct.unpack("<I", k)[0]: names[struct.unpack("<I", v)[0]] for k, v in outer_array.initial}
    assert slots == {0: "inner_a", 2: "inner_b"}
    assert (outer_hash.type, outer_hash.key_size, outer_hash.initial) == (MapType.HASH_OF_MAPS, 8, ())
    assert outer_hash.inner is not None and (outer_hash.inner.type, outer_hash.inner.value_size) == (
        MapType.HASH,
        8,
    )


def test_prog_array_initial_slots() -> None:
    obj = _load("tail_calls")
    assert [p.name for p in obj.programs] == ["handle_ipv4", "handle_ipv6", "dispatch"]
    assert {p.section for p in obj.programs} == {"xdp"}
    (table,) = obj.maps
    assert (table.type, table.key_size, table.value_size, table.max_entries) == (MapType.PROG_ARRAY, 4, 4, 4)
    assert table.initial_programs == ((1, "handle_ipv4"), (3, "handle_ipv6"))


def test_multi_program_object() -> None:
    obj = _load("multi_prog")
    got = [(p.name, p.section, p.prog_type) for p in obj.programs]
    assert got == [
        ("xdp_first", "xdp", "xdp"),
        ("xdp_second", "xdp", "xdp"),
        ("xdp_frags_prog", "xdp.frags", "xdp"),
        ("tcx_in", "tcx/ingress", "tc"),
        ("legacy_classifier", "classifier/egress_filter", "tc"),
        ("socket_prog", "socket/filter_udp", "socket"),
        ("skb_verdict", "sk_skb/stream_verdict", "sk_skb"),
        ("unknown_kind", "mystery_section", "raw"),
    ]
    warned = {p.name: [w.code for w in p.warnings if w.severity is Severity.WARNING] for p in obj.programs}
    assert warned["legacy_classifier"] == ["section-name"] and warned["socket_prog"] == ["section-name"]
    assert warned["unknown_kind"] == ["section-name"] and warned["xdp_first"] == []
    assert obj.program("xdp").name == "xdp_first"  # by section: the first program in it


def test_callbacks_are_placed_and_addressed() -> None:
    prog = _load("bpf_loop").programs[0]
    assert dict(prog.symbols) == {0: "loop_sum", 28: "add_index", 38: "sum_values"}
    assert [(pc, i.jump_target(pc)) for pc, i in _lddws(prog, PseudoSrc.FUNC)] == [(8, 28), (16, 38)]


def test_dwarf_lines_agree_with_btf_lines() -> None:
    """Away from function entries (where BTF names the declaration line and DWARF the first
    statement), both sources give the same line and column at the same pcs."""
    for name in ("xdp_counters", "subprog_calls"):
        btf_obj, dwarf_obj = _load(name), _load(f"{name}_dwarf_only")
        for a, b in zip(btf_obj.programs, dwarf_obj.programs, strict=True):
            common = (set(a.lines) & set(b.lines)) - set(a.symbols)
            assert len(common) >= 0.8 * len(set(a.lines) - set(a.symbols))
            for pc in common:
                assert (a.lines[pc].line, a.lines[pc].column) == (b.lines[pc].line, b.lines[pc].column), (
                    name,
                    pc,
                )
                assert a.lines[pc].text == b.lines[pc].text  # DWARF's text comes from the .c next to the .o
                assert a.lines[pc].file == b.lines[pc].file == f"./{name}.c"


def test_source_line_at_carries_a_record_forward() -> None:
    prog = _load("subprog_calls").programs[0]
    assert 9 not in prog.lines
    assert source_line_at(prog, 9) == prog.lines[8]
    assert source_line_at(prog, 12) == prog.lines[11]  # not classify_len's neighbour in the caller
    assert source_line_at(prog, 0) == prog.lines[0]


def test_core_relocations_are_reported_not_applied() -> None:
    prog = _load("core_reads").programs[0]
    (warning,) = [w for w in prog.warnings if w.code == "core-relocation"]
    assert warning.pc == 6 and warning.severity is Severity.WARNING
    assert "access 0:2" in warning.message and "not applied" in warning.message
    insn = prog.insns[6]
    assert insn is not None and insn.off == 6  # probe_header.flags as clang laid it out
