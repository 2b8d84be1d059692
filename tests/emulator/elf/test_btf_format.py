"""format_value: map keys and values as bpftool's JSON shows them.

Hand-checked expectations for every kind (floats too, which bpftool cannot print), then the
real bpftool as the reference: the same bytes are written into a map created by bpftool
from the fixture and dumped with ``bpftool -j map dump``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from emulator.backends.kernel.syscall import available
from emulator.elf import Btf, BtfKind, format_value, load_object
from tests.emulator.elf.paths import fixture


@pytest.fixture(scope="module")
def btf() -> Btf:
    b = load_object(fixture("btf_kinds")).btf
    assert isinstance(b, Btf)
    return b


def _type(btf: Btf, name: str) -> int:
    t = btf.find(name)
    assert t is not None
    return t.id


def _rich_value() -> bytes:
    v = bytearray(104)
    v[0] = 1 | (5 << 1) | (0xC << 4)  # flag_a=1, flag_b=5, port low nibble
    v[1] = 0xAB  # port = 0xabc
    v[4:8] = b"abcd"
    struct.pack_into("<I", v, 8, 2)  # GREEN
    struct.pack_into("<Q", v, 16, 1 << 32)  # HUGE
    struct.pack_into("<i", v, 24, -1)  # DOWN
    struct.pack_into("<f", v, 28, 1.5)
    struct.pack_into("<d", v, 32, -0.25)
    v[40] = 1  # seen
    v[41] = 0xF6  # temperature -10
    v[42:48] = b"eth0\0\0"
    struct.pack_into("<q", v, 48, -5)
    struct.pack_into("<Q", v, 56, 0xFFFF_8880_0000_1000)
    struct.pack_into("<I", v, 72, 7)  # cv
    struct.pack_into("<i", v, 76, -3)  # tagged
    struct.pack_into("<6I", v, 80, 1, 2, 3, 4, 5, 6)
    return bytes(v)


def test_every_kind(btf: Btf) -> None:
    text = format_value(btf, _type(btf, "rich_value"), _rich_value())
    assert json.loads(text) == {
        "flag_a": "0x1", "flag_b": "0x5", "port": "0xabc",
        "": {"as_u32": 0x64636261, "as_bytes": [97, 98, 99, 100]},
        "color": "GREEN", "wide": "HUGE", "delta": "DOWN",
        "ratio": 1.5, "average": -0.25, "seen": True, "temperature": -10, "name": "eth0",
        "balance": -5, "handle": 0xFFFF_8880_0000_1000, "user_ptr": 0, "cv": 7, "tagged": -3,
        "matrix": [[1, 2, 3], [4, 5, 6]],
    }  # fmt: skip
    assert text.startswith('{"flag_a": "0x1", "flag_b": "0x5", "port": "0xabc", "": {')


def test_unknown_enum_value_prints_the_number(btf: Btf) -> None:
    assert format_value(btf, _type(btf, "color"), struct.pack("<I", 3)) == "3"
    assert format_value(btf, _type(btf, "delta"), struct.pack("<i", -7)) == "-7"


def test_char_arrays(btf: Btf) -> None:
    char6 = next(m.type for m in btf.members_of(_type(btf, "rich_value")) if m.name == "name")
    assert format_value(btf, char6, b"hi\0\0\0\0") == '"hi"'
    assert format_value(btf, char6, b"abcdef") == "[97, 98, 99, 100, 101, 102]"  # no NUL: no string
    assert format_value(btf, char6, b"a\nb\0\0\0") == "[97, 10, 98, 0, 0, 0]"  # unprintable


def test_datasec_value() -> None:
    obj = load_object(fixture("global_data"))
    assert isinstance(obj.btf, Btf)
    spec = obj.maps[obj.map_index("global_d.data")]
    text = format_value(obj.btf, spec.value_btf, spec.initial[0][1])
    assert text == '{".data": [{"seen": 5}, {"last_len": 3}]}'


def test_short_data_is_refused(btf: Btf) -> None:
    with pytest.raises(ValueError, match="is 104 bytes, only 3 given"):
        format_value(btf, _type(btf, "rich_value"), b"abc")


def test_key_types_of_maps_format(btf: Btf) -> None:
    assert btf.find("samples", BtfKind.VAR) is not None
    assert format_value(btf, _type(btf, "__u32"), struct.pack("<I", 4000000000)) == "4000000000"


# -- bpftool as the reference -----------------------------------------------------------------

BPFTOOL = shutil.which("bpftool")
BPFFS = Path("/sys/fs/bpf")
REASON = "bpftool is not installed" if BPFTOOL is None else available()


def _bpftool(*args: str) -> str:
    result = subprocess.run(
        [BPFTOOL or "bpftool", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _sample_values() -> list[bytes]:
    rng = random.Random(1)
    values = [bytes(range(1, 89)), bytes(88)]
    for _ in range(12):
        v = bytearray(rng.randbytes(88))
        v[28] = rng.randint(1, 255)  # _Bool: bpftool reads 4 bytes there, so keep it non-zero
        if rng.random() < 0.5:
            v[30:36] = b"lo\0\0\0\0"
        if rng.random() < 0.5:
            struct.pack_into("<I", v, 8, rng.choice([1, 2, 4]))  # a named color
        values.append(bytes(v))
    return values


@pytest.mark.skipif(REASON is not None or not BPFFS.is_dir(), reason=REASON or "no /sys/fs/bpf")
def test_matches_bpftool_map_dump(btf: Btf) -> None:
    value_type = _type(btf, "sample_value")
    pin = BPFFS / f"bpfdbg_format_test_{os.getpid()}"
    try:
        pin.mkdir()
        _bpftool(
            "prog", "loadall", str(fixture("btf_kinds")), str(pin / "progs"), "pinmaps", str(pin / "maps")
        )
        for value in _sample_values():
            _bpftool(
                "map",
                "update",
                "pinned",
                str(pin / "maps" / "samples"),
                "key",
                "hex",
                "00",
                "00",
                "00",
                "00",
                "value",
                "hex",
                *(f"{b:02x}" for b in value),
            )
            dumped = json.loads(_bpftool("-j", "map", "dump", "pinned", str(pin / "maps" / "samples")))
            assert json.loads(format_value(btf, value_type, value)) == dumped[0]["formatted"]["value"], (
                value.hex()
            )
    finally:
        shutil.rmtree(pin, ignore_errors=True)
