"""What a helper call does to the abstract state, from the helper table's signatures.

The analysis needs three things per helper: the kind of value it returns in r0, whether
it may move packet data (so packet pointers must be forgotten, as the kernel's
``clear_all_pkt_pointers`` does), and whether it calls back into the program. All are read
from the kernel names and C signatures of emulator.helpers, never from a second list of
ids except for the few helpers whose behaviour the signature does not show.
"""

from __future__ import annotations

from emulator.helpers.registry import HelperSpec

MAP_LOOKUP_ELEM = 1
GET_SMP_PROCESSOR_ID = 8
TAIL_CALL = 12
FOR_EACH_MAP_ELEM = 164
LOOP = 181
MAP_LOOKUP_PERCPU_ELEM = 195

MAP_LOOKUPS = frozenset({MAP_LOOKUP_ELEM, MAP_LOOKUP_PERCPU_ELEM})

MAP_KEY_VALUE_ARGS: dict[int, dict[int, str]] = {
    MAP_LOOKUP_ELEM: {1: "key"},
    2: {1: "key", 2: "value"},  # bpf_map_update_elem
    3: {1: "key"},  # bpf_map_delete_elem
    MAP_LOOKUP_PERCPU_ELEM: {1: "key"},
}
"""Map helpers: argument index (0 = r1) -> whether it points at a key or a value of the
map in r1 (how many bytes the helper reads there)."""

EXPLORED_CALLBACKS = frozenset({LOOP, FOR_EACH_MAP_ELEM})
"""Helpers whose callback the analysis follows like a bpf-to-bpf call, once per
iteration until the states repeat."""

PACKET_CHANGING = frozenset(
    {
        "bpf_skb_store_bytes",
        "bpf_l3_csum_replace",
        "bpf_l4_csum_replace",
        "bpf_clone_redirect",
        "bpf_skb_vlan_push",
        "bpf_skb_vlan_pop",
        "bpf_skb_change_proto",
        "bpf_skb_change_type",
        "bpf_skb_change_tail",
        "bpf_skb_pull_data",
        "bpf_skb_change_head",
        "bpf_skb_adjust_room",
        "bpf_xdp_adjust_head",
        "bpf_xdp_adjust_meta",
        "bpf_xdp_adjust_tail",
        "bpf_msg_pull_data",
        "bpf_msg_push_data",
        "bpf_msg_pop_data",
        "bpf_lwt_push_encap",
        "bpf_lwt_seg6_store_bytes",
        "bpf_lwt_seg6_adjust_srh",
        "bpf_lwt_seg6_action",
        "bpf_skb_ecn_set_ce",
    }
)
"""The kernel's ``bpf_helper_changes_pkt_data`` list: after these, packet pointers are
no longer valid."""


def returns(spec: HelperSpec | None) -> str:
    """How r0 comes back: "void", "pointer" (may be NULL) or "scalar".

    Integer results are unknown 64-bit scalars whatever their C type, as the kernel's
    RET_INTEGER makes them (a ``__u32`` result such as bpf_get_prandom_u32's included):
    the NFP checks see the kernel's ranges, not the C types."""
    if spec is None:
        return "scalar"
    ret = spec.ret.strip()
    if ret == "void":
        return "void"
    if ret.endswith("*"):
        return "pointer"
    return "scalar"


def returns_u32(spec: HelperSpec | None) -> bool:
    """The C type of the result is 32-bit unsigned (the value is zero-extended)."""
    return spec is not None and spec.ret.strip() in ("__u32", "u32", "unsigned int")


def has_callback(spec: HelperSpec | None) -> bool:
    return spec is not None and any("callback" in arg for arg in spec.args)


def writes_argument(spec: HelperSpec | None, index: int) -> bool:
    """Whether argument ``index`` (0 = r1) is memory the helper may write: a non-const
    pointer parameter."""
    if spec is None or index >= len(spec.args):
        return True
    arg = spec.args[index]
    return "*" in arg and not arg.lstrip().startswith("const")


def size_argument(spec: HelperSpec | None, index: int) -> int | None:
    """Index of the argument that gives the size of pointer argument ``index``, if its
    name says so (``size``, ``len``...)."""
    if spec is None or index + 1 >= len(spec.args):
        return None
    name = spec.args[index + 1].split()[-1].lstrip("*")
    if any(word in name for word in ("size", "len")):
        return index + 1
    return None
