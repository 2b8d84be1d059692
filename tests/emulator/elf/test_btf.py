"""The BTF parser: every kind, checked against bpftool's raw dump of the same objects, plus
sizes, layouts, names, the encoder's round trip and the errors for damaged BTF."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from emulator.elf import Btf, BtfError, BtfKind, load_object, parse_btf
from emulator.elf.btf_encode import encode_btf
from emulator.elf.image import read_image
from tests.emulator.elf.bpftool_btf_text import render_btf
from tests.emulator.elf.paths import LOADABLE, fixture

BPFTOOL = shutil.which("bpftool")


def _raw_btf(name: str) -> bytes:
    section = read_image(fixture(name)).section_named(".BTF")
    assert section is not None
    return section.data


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
@pytest.mark.parametrize("name", LOADABLE)
def test_parse_matches_bpftool_raw_dump(name: str) -> None:
    """bpftool (libbpf's BTF parser) is the reference: same ids, kinds, names, sizes,
    offsets, bitfields, encodings, enumerator values and linkage, type for type."""
    expected = subprocess.run(
        [BPFTOOL or "bpftool", "btf", "dump", "file", str(fixture(name))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert render_btf(parse_btf(_raw_btf(name))) == expected


def test_btf_kinds_fixture_covers_every_kind_clang_emits() -> None:
    kinds = {t.kind for t in parse_btf(_raw_btf("btf_kinds"))}
    assert kinds >= set(BtfKind) - {BtfKind.UNKN}


@pytest.mark.parametrize("name", LOADABLE)
def test_encode_round_trips(name: str) -> None:
    raw = _raw_btf(name)
    assert encode_btf(parse_btf(raw)) == raw


@pytest.fixture(scope="module")
def kinds() -> Btf:
    btf = load_object(fixture("btf_kinds")).btf
    assert isinstance(btf, Btf)
    return btf


def test_struct_layout_with_bitfields_and_anonymous_union(kinds: Btf) -> None:
    rich = kinds.find("rich_value", BtfKind.STRUCT)
    assert rich is not None and rich.size == 104
    members = {m.name: m for m in kinds.members_of(rich.id)}
    assert (members["flag_a"].bit_offset, members["flag_a"].bitfield_size) == (0, 1)
    assert (members["flag_b"].bit_offset, members["flag_b"].bitfield_size) == (1, 3)
    assert (members["port"].bit_offset, members["port"].bitfield_size) == (4, 12)
    assert kinds.resolve(members[""].type).kind is BtfKind.UNION
    assert members["ratio"].byte_offset == 28 and kinds.size_of(members["ratio"].type) == 4
    assert members["matrix"].byte_offset == 80 and kinds.size_of(members["matrix"].type) == 24


def test_type_names_read_like_c(kinds: Btf) -> None:
    members = {m.name: m.type for m in kinds.members_of(kinds.find("rich_value").id)}  # type: ignore[union-attr]
    assert kinds.type_name(members["name"]) == "char[6]"
    assert kinds.type_name(members["matrix"]) == "__u32[2][3]"
    assert kinds.type_name(members["handle"]) == "struct opaque *"
    assert kinds.type_name(members["cv"]) == "const volatile __u32"
    assert kinds.type_name(members["color"]) == "enum color"
    assert kinds.type_name(members["user_ptr"]) == "int *"
    sum3 = kinds.find("sum3", BtfKind.FUNC)
    assert sum3 is not None and kinds.type_name(sum3.type) == "int (*)(int * restrict, int, ...)"


def test_enums_signed_unsigned_and_64_bit(kinds: Btf) -> None:
    delta = kinds.find("delta", BtfKind.ENUM)
    wide = kinds.find("wide", BtfKind.ENUM64)
    assert delta is not None and delta.is_signed_enum and delta.enumerators[0].value == -1
    assert wide is not None and not wide.is_signed_enum and wide.enumerators[1].value == 1 << 32


def test_datasec_layout_is_filled_in_from_the_elf_file() -> None:
    """clang writes size 0 and offset 0; the loader's BTF has the real numbers."""
    raw = parse_btf(_raw_btf("global_data")).find(".data", BtfKind.DATASEC)
    btf = load_object(fixture("global_data")).btf
    assert isinstance(btf, Btf)
    fixed = btf.find(".data", BtfKind.DATASEC)
    assert raw is not None and raw.size == 0
    assert fixed is not None and fixed.size == 12
    assert [(btf.type(i.type).name, i.offset) for i in fixed.secinfos] == [("seen", 0), ("last_len", 8)]


# -- damaged BTF ------------------------------------------------------------------------------


def _blob(types: bytes, strings: bytes = b"\0int\0") -> bytes:
    return (
        struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings
    )


INT32 = struct.pack("<IIII", 1, 1 << 24, 4, 32)  # [1] INT 'int' size 4, 32 bits


def test_minimal_blob_parses() -> None:
    btf = parse_btf(_blob(INT32))
    assert btf.type(1).name == "int" and btf.size_of(1) == 4


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x9f\xeb", "shorter than its 24-byte header"),
        (_blob(INT32)[:2] + b"\x02" + _blob(INT32)[3:], "version 2 is not supported"),
        (struct.pack("<HBBIIIII", 0x9FEB, 1, 0, 24, 0, 0, 0, 0), "big-endian"),
        (_blob(INT32)[:-3], "runs past the end of the section"),
        (_blob(struct.pack("<III", 1, 25 << 24, 0)), "unknown kind 25"),
        (_blob(struct.pack("<III", 0, 2 << 24, 7)), "refers to type 7, but the BTF has 1 types"),
        (
            _blob(struct.pack("<III", 50, 1 << 24, 4) + struct.pack("<I", 32)),
            "name offset 50 is past the string section",
        ),
        (_blob(struct.pack("<IIII", 1, 1 << 24, 3, 32)), "INT 'int' of 3 bytes"),
        (_blob(struct.pack("<III", 1, (4 << 24) | 2, 8)), "needs 24 more bytes"),
    ],
)
def test_damaged_btf_is_one_clear_error(blob: bytes, message: str) -> None:
    with pytest.raises(BtfError, match=message):
        parse_btf(blob)


def test_cycles_do_not_hang() -> None:
    # [1] TYPEDEF a -> [2] TYPEDEF b -> [1]
    types = struct.pack("<III", 1, 8 << 24, 2) + struct.pack("<III", 1, 8 << 24, 1)
    btf = parse_btf(_blob(types))
    with pytest.raises(BtfError, match="longer than"):
        btf.size_of(1)
    assert btf.type_name(1) == "int"  # a typedef shows its own name


def test_spin_lock_offset() -> None:
    strings = b"\0int\0bpf_spin_lock\0val\0a\0lock\0"
    name = {
        n: strings.index(b"\0" + n.encode() + b"\0") + 1 for n in ("int", "bpf_spin_lock", "val", "a", "lock")
    }
    types = (
        struct.pack("<IIII", name["int"], 1 << 24, 4, 32)  # [1] int
        + struct.pack(
            "<III", name["bpf_spin_lock"], (4 << 24) | 1, 4
        )  # [2] struct bpf_spin_lock { int val; }
        + struct.pack("<III", name["val"], 1, 0)
        + struct.pack(
            "<III", name["val"], (4 << 24) | 2, 8
        )  # [3] struct val { int a; struct bpf_spin_lock lock; }
        + struct.pack("<III", name["a"], 1, 0)
        + struct.pack("<III", name["lock"], 2, 32)
    )
    btf = parse_btf(_blob(types, strings))
    assert btf.spin_lock_offset(3) == 4
    assert btf.spin_lock_offset(1) is None and btf.spin_lock_offset(0) is None
