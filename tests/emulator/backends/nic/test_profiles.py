"""Device profiles: the shipped firmware values (reference nfp_offload.md §7), loading by
name or file, and clear errors for unknown names and malformed files."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from emulator.backends.nic.profiles import (
    DEFAULT_PROFILE,
    PROFILE_DIR,
    AdjustHead,
    ProfileError,
    load_profile_file,
    profile,
    profile_names,
)
from emulator.env import Environment
from emulator.maps.spec import MapType

ROOT = Path(__file__).resolve().parents[4]


def test_shipped_profiles_and_default() -> None:
    assert {"nfp-public-fw", "nfp-agilio"} <= set(profile_names())
    assert DEFAULT_PROFILE == Environment().device_profile == "nfp-public-fw"
    assert profile().name == "nfp-public-fw"


def test_public_firmware_values() -> None:
    p = profile("nfp-public-fw")
    assert p.helpers == frozenset({1})  # the FUNC TLV has only the lookup subroutine
    assert (p.random, p.queue_select, p.adjust_tail) == (True, True, True)
    assert p.adjust_head == AdjustHead(
        no_meta=True, off_min=44, off_max=248, guaranteed_sub=84, guaranteed_add=112
    )
    assert (p.abi_version, p.multi_ent, p.relo) == (2, False, True)
    assert (p.max_insns, p.stack_size, p.inl_mtu_units) == (3072, 512, 30)
    assert p.fw_mtu == 30 * 64 - 32 == 1888
    assert p.map_type_ids == frozenset({MapType.HASH, MapType.ARRAY})
    assert (p.max_maps, p.max_elems, p.max_key, p.max_value, p.max_elem) == (128, 1024 * 2000, 56, 56, 64)
    assert "2560" in p.description  # the smaller build variant is named


def test_agilio_values() -> None:
    p = profile("nfp-agilio")
    assert p.helpers == frozenset({1, 2, 3, 25})
    assert (p.abi_version, p.multi_ent, p.cache_time_ns) == (3, True, 250_000)
    assert (p.max_elems, p.max_insns, p.max_elem) == (3_072_000, 2800, 64)
    assert "mizar" in p.description


def test_every_profile_names_its_sources() -> None:
    for name in profile_names():
        p = profile(name)
        assert p.name == name
        assert len(p.description) > 200


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError) as info:
        profile("nfp-imaginary")
    for name in profile_names():
        assert name in str(info.value)


def test_profile_from_a_file(tmp_path: Path) -> None:
    data = json.loads((PROFILE_DIR / "nfp-public-fw.json").read_text())
    data.update(name="tiny", max_insns=100, helpers=[1, 2], adjust_head=None)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    p = profile(str(path))
    assert (p.name, p.max_insns, p.helpers, p.adjust_head) == ("tiny", 100, frozenset({1, 2}), None)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"helpers": [7]}, "'helpers'"),
        ({"map_types": ["lpm_trie"]}, "'map_types'"),
        ({"abi_version": 4}, "'abi_version'"),
        ({"max_insns": -1}, "'max_insns'"),
        ({"random": "yes"}, "'random'"),
        ({"stack_size": 500}, "'stack_size'"),
        ({"bogus": 1}, "unknown field(s) bogus"),
        ({"adjust_head": {"off_min": 1}}, "'adjust_head'"),
    ],
)
def test_malformed_profile_names_the_field(tmp_path: Path, change: dict[str, object], complaint: str) -> None:
    data = json.loads((PROFILE_DIR / "nfp-public-fw.json").read_text())
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        load_profile_file(path)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile_file(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(ProfileError, match="not JSON"):
        load_profile_file(tmp_path / "x.json")


def test_profiles_ship_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["emulator.backends.nic"]
    shipped = {p.relative_to(PROFILE_DIR.parent).as_posix() for p in PROFILE_DIR.glob("*.json")}
    assert shipped and all(any(Path(s).match(pat) for pat in patterns) for s in shipped)
