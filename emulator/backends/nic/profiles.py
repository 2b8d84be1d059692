"""Device profiles: what one NFP firmware offers an offloaded eBPF program.

The real driver learns these values from the firmware at probe time (capability TLVs in the
``_abi_bpf_capabilities`` symbol, and the vNIC BAR words ``NFP_NET_CFG_BPF_*``); the offload
verifier, the translator and the device model all read them from here instead, so a
program's verdict and behaviour follow the firmware the user picks. The profiles are JSON
files in ``profiles/`` next to this module (one per firmware, loaded by name); a path to a
JSON file of the same shape works too, for firmware we do not ship.

Every value comes from the reference notes (``nfp_offload.md`` §1, §3.10, §6.3, §7); each
profile's ``description`` says which source gave which value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from emulator.errors import EmulatorError
from emulator.maps.spec import MapType

PROFILE_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = "nfp-public-fw"

# Helper ids the firmware can advertise in its FUNC TLV (the others are inline in the JIT
# and gated by their own capability: random, adjust_head, adjust_tail).
FW_HELPERS = {1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem", 25: "perf_event_output"}
# Map types the firmware's types bitmap can name: the offload only ever creates these two.
FW_MAP_TYPES = {"hash": MapType.HASH, "array": MapType.ARRAY}


class ProfileError(EmulatorError):
    """A device profile file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class AdjustHead:
    """The ADJUST_HEAD capability TLV: where the packet start may move in the CTM buffer.

    ``off_min``/``off_max`` bound the new start offset; a move of at most ``guaranteed_sub``
    bytes towards the head or ``guaranteed_add`` towards the tail is always possible, which
    lets the JIT drop its runtime checks. ``no_meta``: the firmware does not need the
    metadata area shifted (the driver supports only such firmware).
    """

    no_meta: bool
    off_min: int
    off_max: int
    guaranteed_sub: int
    guaranteed_add: int


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """One firmware's offload capabilities (§7 of the reference notes)."""

    name: str
    description: str
    max_insns: int
    """Instruction store for one program (``NFP_NET_CFG_BPF_MAX_LEN``), NFP instructions."""
    start_off: int
    """Where the program is loaded in the instruction store (``NFP_NET_CFG_BPF_START``)."""
    done_off: int
    """The firmware's "next packet" address a program branches to (``NFP_NET_CFG_BPF_DONE``)."""
    stack_size: int
    """Stack per thread in local memory, bytes (``NFP_NET_CFG_BPF_STACK_SZ`` x 64)."""
    inl_mtu_units: int
    """Inline packet split in 64-byte units (``NFP_NET_CFG_BPF_INL_MTU``)."""
    map_types: frozenset[str]
    """Map types of the firmware's MAPS TLV bitmap ("hash", "array"); empty = no maps."""
    max_maps: int
    max_elems: int
    """Entries over all offloaded maps of the device."""
    max_key: int
    max_value: int
    max_elem: int
    """round_up(key, 8) + round_up(value, 8) limit of one entry."""
    helpers: frozenset[int]
    """Helper ids of the FUNC TLV: 1 lookup, 2 update, 3 delete, 25 perf_event_output."""
    random: bool
    queue_select: bool
    adjust_tail: bool
    adjust_head: AdjustHead | None
    abi_version: int
    """BPF ABI of the firmware (2, or 3 with sized map control messages)."""
    multi_ent: bool
    """CMSG_MULTI_ENT: the driver batches map dumps and caches host reads for cache_time_ns."""
    cache_time_ns: int
    relo: bool
    """RELO capability: a running program can be replaced without stopping the datapath."""
    packet_offset: int
    """Start of the packet data in the CTM buffer when the program starts."""
    threads_per_me: int

    @property
    def fw_mtu(self) -> int:
        """Bytes of a packet the program can reach: the driver's INL_MTU * 64 - 32."""
        return self.inl_mtu_units * 64 - 32

    @property
    def map_type_ids(self) -> frozenset[MapType]:
        return frozenset(FW_MAP_TYPES[t] for t in self.map_types)

    def has_helper(self, helper_id: int) -> bool:
        return helper_id in self.helpers


_FIELDS = {f.name for f in fields(DeviceProfile)}
_INT_FIELDS = (
    "max_insns",
    "start_off",
    "done_off",
    "stack_size",
    "inl_mtu_units",
    "max_maps",
    "max_elems",
    "max_key",
    "max_value",
    "max_elem",
    "abi_version",
    "cache_time_ns",
    "packet_offset",
    "threads_per_me",
)
_BOOL_FIELDS = ("random", "queue_select", "adjust_tail", "multi_ent", "relo")
_ADJUST_HEAD_INTS = ("off_min", "off_max", "guaranteed_sub", "guaranteed_add")


def _int(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProfileError(f"{where}: {key!r} must be a non-negative integer, not {value!r}")
    return value


def profile_from_dict(data: Any, where: str = "profile") -> DeviceProfile:
    """Build a profile from parsed JSON, naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: a device profile is a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - _FIELDS - {"comment"})
    if unknown:
        known = ", ".join(sorted(_FIELDS))
        raise ProfileError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {known}")
    missing = sorted(_FIELDS - set(data))
    if missing:
        raise ProfileError(f"{where}: missing field(s) {', '.join(missing)}")
    values: dict[str, Any] = {}
    for key in ("name", "description"):
        if not isinstance(data[key], str) or not data[key]:
            raise ProfileError(f"{where}: {key!r} must be a non-empty string")
        values[key] = data[key]
    for key in _INT_FIELDS:
        values[key] = _int(where, key, data[key])
    for key in _BOOL_FIELDS:
        if not isinstance(data[key], bool):
            raise ProfileError(f"{where}: {key!r} must be true or false, not {data[key]!r}")
        values[key] = data[key]
    types = data["map_types"]
    if not isinstance(types, list) or any(t not in FW_MAP_TYPES for t in types):
        raise ProfileError(f"{where}: 'map_types' must be a list of {sorted(FW_MAP_TYPES)}, not {types!r}")
    values["map_types"] = frozenset(types)
    helpers = data["helpers"]
    if not isinstance(helpers, list) or any(h not in FW_HELPERS for h in helpers):
        names = ", ".join(f"{k} ({v})" for k, v in FW_HELPERS.items())
        raise ProfileError(f"{where}: 'helpers' must list firmware helper ids among {names}, not {helpers!r}")
    values["helpers"] = frozenset(helpers)
    head = data["adjust_head"]
    if head is None:
        values["adjust_head"] = None
    else:
        if not isinstance(head, dict) or set(head) != {"no_meta", *_ADJUST_HEAD_INTS}:
            keys = ", ".join(("no_meta", *_ADJUST_HEAD_INTS))
            raise ProfileError(f"{where}: 'adjust_head' must be null or an object with {keys}")
        if not isinstance(head["no_meta"], bool):
            raise ProfileError(f"{where}: 'adjust_head.no_meta' must be true or false")
        ints = {k: _int(where, f"adjust_head.{k}", head[k]) for k in _ADJUST_HEAD_INTS}
        values["adjust_head"] = AdjustHead(no_meta=head["no_meta"], **ints)
    if values["abi_version"] not in (2, 3):
        raise ProfileError(f"{where}: 'abi_version' must be 2 or 3 (the driver refuses other firmware ABIs)")
    if values["stack_size"] % 64:
        raise ProfileError(f"{where}: 'stack_size' must be a multiple of 64 (the BAR counts 64-byte units)")
    return DeviceProfile(**values)


def load_profile_file(path: str | Path) -> DeviceProfile:
    """A profile from a JSON file (ProfileError when it is missing or malformed)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the device profile: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    return profile_from_dict(data, str(path))


def profile_names() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


@cache
def _shipped(name: str) -> DeviceProfile:
    prof = load_profile_file(PROFILE_DIR / f"{name}.json")
    if prof.name != name:
        where = PROFILE_DIR / f"{name}.json"
        raise ProfileError(f"{where}: 'name' is {prof.name!r}, not the file's {name!r}")
    return prof


def profile(name: str = DEFAULT_PROFILE) -> DeviceProfile:
    """The shipped profile called ``name``, or the profile in the JSON file ``name``.

    Raises KeyError naming the known profiles when ``name`` is neither.
    """
    if name in profile_names():
        return _shipped(name)
    if name.endswith(".json") and Path(name).is_file():
        return load_profile_file(name)
    raise KeyError(f"unknown device profile {name!r}; known profiles: {', '.join(profile_names())}")
