"""Malformed or unexpected input: exactly one ElfLoadError naming the problem and the fix.

Each case is a real object (compiled, or a fixture with a few bytes changed where the
field lives), and each message is checked for the words a user needs: what is wrong, and
what to do about it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.elf import load_object
from emulator.elf.image import R_BPF_64_ABS64
from emulator.errors import ElfLoadError
from tests.emulator.elf.elf_patch import patched, section_offset, symbol_entry_offset, u16, u32, u64
from tests.emulator.elf.paths import fixture


def _error(path: Path | str) -> str:
    with pytest.raises(ElfLoadError) as info:
        load_object(path)
    err = info.value
    assert err.__cause__ is None, f"caught by the catch-all, not by a check: {err!r}"
    return str(err)


# -- not an object at all -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nothere.o"
    assert _error(path) == f"{path}: no such file"


def test_directory(tmp_path: Path) -> None:
    assert "is a directory, not an object file" in _error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.o"
    path.write_bytes(b"")
    assert "the file is empty; compile the program with clang" in _error(path)


def test_not_elf(tmp_path: Path) -> None:
    path = tmp_path / "prog.c"
    path.write_text("int main(void) { return 0; }\n")
    assert _error(path).startswith(f"{path} is not an ELF file (it starts with b'int ')")


# -- the wrong kind of ELF ------------------------------------------------------------------


def test_x86_64_object() -> None:
    path = fixture("not_bpf_x86_64")
    assert _error(path) == f"{path} is an ELF object for x86-64, not BPF; compile with clang -target bpf"


def test_i386_object() -> None:
    assert "is an ELF object for x86 (i386), not BPF" in _error(fixture("not_bpf_i386"))


def test_big_endian_bpf() -> None:
    message = _error(fixture("big_endian"))
    assert "is a big-endian BPF object (clang -target bpfeb)" in message
    assert "compile with clang -target bpf" in message


def test_elf32_bpf(tmp_path: Path) -> None:
    path = patched(tmp_path, "xdp_counters", {4: b"\x01"})
    assert "is a 32-bit ELF object; BPF objects are ELF64" in _error(path)


def test_not_relocatable(tmp_path: Path) -> None:
    path = patched(tmp_path, "xdp_counters", {16: u16(2)})
    assert "is not a relocatable object (ET_EXEC)" in _error(path)


# -- truncated --------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [8, 40, 63, 1000, 4000])
def test_truncated(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.o"
    path.write_bytes(fixture("xdp_counters").read_bytes()[:keep])
    assert "truncated" in _error(path)


# -- contents ---------------------------------------------------------------------------------


def test_no_programs() -> None:
    path = fixture("bad_no_programs")
    assert _error(path) == (
        f"no BPF programs found in {path} (sections: .text, license, .maps); put each program in a "
        'section such as SEC("xdp"), SEC("tc") or SEC("socket")'
    )


def test_unknown_btf_map_type() -> None:
    assert "map 'mystery' has map type 999, which bpfdbg does not know" in _error(fixture("bad_map_type"))


def test_unknown_legacy_map_type(tmp_path: Path) -> None:
    path = patched(tmp_path, "legacy_maps", {section_offset("legacy_maps", "maps"): u32(4242)})
    assert "map 'port_counts' has map type 4242" in _error(path)


def test_kconfig_extern() -> None:
    message = _error(fixture("bad_extern_kconfig"))
    assert "'LINUX_KERNEL_VERSION' is a .kconfig extern variable" in message
    assert "not supported yet" in message


def test_kfunc_extern() -> None:
    assert "'bpf_rcu_read_lock' is a kfunc (a .ksyms extern function)" in _error(fixture("bad_extern_kfunc"))


def _first_rel(name: str, section: str) -> int:
    return section_offset(name, section)


def test_unsupported_relocation_type(tmp_path: Path) -> None:
    info = _first_rel("xdp_counters", ".relxdp") + 8  # r_info: symbol << 32 | type
    data = fixture("xdp_counters").read_bytes()
    symbol = int.from_bytes(data[info : info + 8], "little") >> 32
    path = patched(tmp_path, "xdp_counters", {info: u64(symbol << 32 | R_BPF_64_ABS64)})
    message = _error(path)
    assert (
        "unsupported relocation R_BPF_64_ABS64 against 'flows' at xdp+0xa0 (insn 20, in count_packets)"
        in message
    )
    assert "R_BPF_64_64 (lddw) and R_BPF_64_32 (call)" in message


def test_unknown_relocation_number(tmp_path: Path) -> None:
    info = _first_rel("xdp_counters", ".relxdp") + 8
    data = fixture("xdp_counters").read_bytes()
    symbol = int.from_bytes(data[info : info + 8], "little") >> 32
    path = patched(tmp_path, "xdp_counters", {info: u64(symbol << 32 | 77)})
    assert "unsupported relocation type 77" in _error(path)


def test_relocation_on_wrong_instruction(tmp_path: Path) -> None:
    path = patched(tmp_path, "xdp_counters", {_first_rel("xdp_counters", ".relxdp"): u64(0)})
    assert (
        "R_BPF_64_64 against 'flows' at xdp+0x0 (insn 0, in count_packets) is on opcode 0x61, not on a lddw"
        in (_error(path))
    )


def test_call_into_the_middle_of_a_function(tmp_path: Path) -> None:
    # classify_len's pc-relative call to bump (.text insn 7, imm 11) moved one slot on.
    offset = section_offset("subprog_calls", ".text") + 7 * 8 + 4
    path = patched(tmp_path, "subprog_calls", {offset: u32(12)})
    assert "classify_len (insn 7) calls .text insn 20, which is the middle of bump" in _error(path)


def test_misaligned_function_symbol(tmp_path: Path) -> None:
    value = symbol_entry_offset("xdp_counters", "count_packets") + 8
    path = patched(tmp_path, "xdp_counters", {value: u64(4)})
    assert "function count_packets in xdp starts at byte 4" in _error(path)


def test_bad_btf_magic(tmp_path: Path) -> None:
    path = patched(tmp_path, "xdp_counters", {section_offset("xdp_counters", ".BTF"): u16(0x1234)})
    message = _error(path)
    assert "bad BTF: .BTF has magic 0x1234, not 0xeb9f" in message
    assert "recompile with clang -g" in message


def test_bad_btf_ext_version(tmp_path: Path) -> None:
    path = patched(tmp_path, "xdp_counters", {section_offset("xdp_counters", ".BTF.ext") + 2: b"\x07"})
    assert "bad BTF: .BTF.ext version 7 is not supported" in _error(path)


def test_every_message_names_the_file(tmp_path: Path) -> None:
    for path in (fixture("bad_map_type"), fixture("bad_no_programs"), fixture("not_bpf_i386")):
        assert str(path) in _error(path)
