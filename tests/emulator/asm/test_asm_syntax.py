"""Assembler syntax: labels, comments, aliases, quirks of the suite, symbols."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from emulator.asm import assemble, assemble_bytes
from emulator.asm.common import AsmSymbols
from emulator.disasm.resolver import MapKind

EXIT = "9500000000000000"


def hexof(text: str, **kwargs: object) -> str:
    return assemble_bytes(text, **kwargs).hex()  # type: ignore[arg-type]


def test_labels_and_relative_targets() -> None:
    text = """
    start:
        mov %r0, 0
        jeq %r1, 0, done      # forward, to pc 3
        ja start              # backward, to pc 0
    done:
        exit
    """
    assert hexof(text) == ("b70000000000000015010100000000000500fdff00000000" + EXIT)


def test_label_before_instruction_on_same_line() -> None:
    assert hexof("L: r0 = 1\ngoto L") == "b7000000010000000500feff00000000"
    assert hexof("a: b: exit\nja a\nja b") == EXIT + "0500feff000000000500fdff00000000"


def test_lddw_counts_two_slots_for_labels() -> None:
    text = "ja over\nlddw %r0, 1\nover: exit"
    assert hexof(text) == "050002000000000018000000010000000000000000000000" + EXIT


def test_first_exit_is_implicitly_labelled_exit() -> None:
    text = "ja exit\nmov %r0, 1\nexit\nexit"
    assert hexof(text) == "0500010000000000b700000001000000" + EXIT + EXIT
    # An explicit label of that name takes precedence.
    assert hexof("ja exit\nexit\nexit:\nexit") == "0500010000000000" + EXIT + EXIT


def test_comment_styles() -> None:
    text = "mov %r0, 1 # hash\nr0 += 2 ; semicolon\nr0 -= 3 // slashes\n; whole line\n// too\n#\n"
    assert hexof(text) == "b70000000100000007000000020000001700000003000000"


def test_helper_name_hash_is_not_a_comment() -> None:
    assert hexof("call bpf_map_lookup_elem#1") == "8500000001000000"
    assert hexof("call kfunc#-2") == "85200000feffffff"
    assert hexof("call 5 #comment") == "8500000005000000"


def test_immediate_spellings() -> None:
    assert hexof("mov %r0, 0xffffffff") == "b7000000ffffffff"
    assert hexof("mov %r0, -1") == "b7000000ffffffff"
    assert hexof("mov %r0, 0x0000000000000001") == "b700000001000000"
    assert hexof("r0 = -0x80000000") == "b700000000000080"
    assert hexof("r0 = +5") == "b700000005000000"
    assert hexof("ldxw %r0, [%r1+0xffff]") == "6110ffff00000000"
    assert hexof("ldxw %r0, [%r1 - 8]") == "6110f8ff00000000"
    assert hexof("lddw %r0, -1") == "18000000ffffffff00000000ffffffff"
    assert hexof("lddw %r0, 18446744073709551615") == "18000000ffffffff00000000ffffffff"
    assert hexof("r0 = 0x8000000000000000 ll") == "18000000000000000000000000000080"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("add64 %r0, 1", "0700000001000000"),
        ("mov64 %r0, %r1", "bf10000000000000"),
        ("neg64 %r0", "8700000000000000"),
        ("swap16 %r0", "d700000010000000"),
        ("call helper 5", "8500000005000000"),
        ("call runtime 7", "8520000007000000"),
        ("call kfunc 7", "8520000007000000"),
        ("callx %r2", "8d02000000000000"),
        ("callx r2", "8d02000000000000"),
        ("call %r2", "8d02000000000000"),
        ("goto pc+3", "0500030000000000"),
        ("goto pc-1", "0500ffff00000000"),
        ("if r1>0x10 goto +3", "2501030010000000"),
        ("r0 = *(u32 *)(r1)", "6110000000000000"),
        ("w0 = *(u32 *)(r1 + 4)", "6110040000000000"),
        ("*(u32 *)(r10 - 8) = w1", "631af8ff00000000"),
        ("r2 = *(u32 *)(r1 +4)", "6112040000000000"),  # bpftool spacing
        ("lock *(u32 *)(r10 - 8) += r1", "c31af8ff00000000"),
        ("r0 = *(u8 *)skb[r1]", "5010000000000000"),
        ("lddw %r1, map[fd:5][0]+0x10", "18210000050000000000000010000000"),
        ("r1 = func[+2]\nexit\nexit", "18410000020000000000000000000000" + EXIT + EXIT),
        ("r1 = func[sub]\nexit\nsub: exit", "18410000020000000000000000000000" + EXIT + EXIT),
        ("lddw %r1, btf_id[7][fd:3]", "18310000070000000000000003000000"),
        ("ldxw %r0, [%r1+4]   // c++ comment", "6110040000000000"),
        ("JEQ %r1, 0, +1", "1501010000000000"),
    ],
)
def test_alternative_spellings(text: str, expected: str) -> None:
    assert hexof(text) == expected


def test_call_name_is_local_call_when_label_exists() -> None:
    assert hexof("call sub\nexit\nsub: exit") == "8510000001000000" + EXIT + EXIT


@dataclass
class Symbols:
    helpers: dict[str, int]
    maps: dict[str, tuple[MapKind, int]]

    def helper_id(self, name: str) -> int | None:
        return self.helpers.get(name)

    def map_ref(self, name: str) -> tuple[MapKind, int] | None:
        return self.maps.get(name)


def test_symbols_name_helpers_and_maps() -> None:
    symbols: AsmSymbols = Symbols({"bpf_trace_printk": 6}, {"counters": ("fd", 5), "stats": ("idx", 2)})
    assert hexof("call bpf_trace_printk", symbols=symbols) == "8500000006000000"
    assert hexof("r1 = map[counters]", symbols=symbols) == "18110000050000000000000000000000"
    assert hexof("r1 = map[stats][0]+4", symbols=symbols) == "18610000020000000000000004000000"


def test_auto_dialect_mixes_lines() -> None:
    text = "mov %r0, 1\nr0 += 2\nja +0\ngoto +0\nexit"
    assert hexof(text) == hexof(text, dialect="auto")
    assert len(assemble(text)) == 5


def test_raw_listing_column_is_skipped() -> None:
    text = "b7 00 00 00 01 00 00 00  r0 = 1\n18 01 00 00 05 00 00 00 00 00 00 00 00 00 00 00  r1 = 5 ll"
    assert hexof(text) == "b70000000100000018010000050000000000000000000000"


def test_assemble_returns_insns_with_info() -> None:
    [lddw, exit_] = assemble("lddw %r0, 0x1122334455667788\nexit")
    assert lddw.info is not None and lddw.info.mnemonic == "lddw"
    assert lddw.imm64 == 0x1122334455667788
    assert exit_.info is not None and exit_.info.mnemonic == "exit"


def test_empty_text_assembles_to_nothing() -> None:
    assert assemble("") == [] and assemble_bytes("# only a comment\n\n") == b""
