"""``bpf_redirect``: choose the device a packet leaves by.

The helper only records the target (per CPU in the kernel, per run here) and returns the
verdict the program is expected to return; the redirect happens afterwards, if the program
does return that verdict. bpfdbg never sends anything anywhere, so the record is what the
debugger shows ("redirect to ifindex 4, ingress").

XDP: any flag gives XDP_ABORTED (nothing recorded), otherwise XDP_REDIRECT.
TC: a flag other than BPF_F_INGRESS gives TC_ACT_SHOT (nothing recorded), otherwise
TC_ACT_REDIRECT. Neither checks that the ifindex exists: that happens at redirect time.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.helpers.packet import HelperCall, helper, read_arg
from emulator.helpers.registry import HelperContext, HelperImpl

XDP_ABORTED = 0
XDP_REDIRECT = 4
TC_ACT_SHOT = 2
TC_ACT_REDIRECT = 7
BPF_F_INGRESS = 1


@dataclass(frozen=True)
class RedirectTarget:
    """The last successful redirect request of a run."""

    helper: str
    ifindex: int
    flags: int = 0

    @property
    def ingress(self) -> bool:
        return self.helper == "bpf_redirect_peer" or bool(self.flags & BPF_F_INGRESS)

    def describe(self) -> str:
        where = "ingress of" if self.ingress else "egress of"
        if self.helper == "bpf_redirect_peer":
            where = "ingress of the peer of"
        return f"{self.helper}: redirect to {where} ifindex {self.ifindex}"


def redirect_target(ctx: HelperContext) -> RedirectTarget | None:
    """What the run asked to be redirected to, for display; None if nothing."""
    target = ctx.run_state.get("redirect")
    return target if isinstance(target, RedirectTarget) else None


@helper("bpf_redirect", "xdp", "tc", ctx_arg=False)
def bpf_redirect(call: HelperCall, ifindex: int, flags: int, *_: int) -> int:
    ifindex &= 0xFFFFFFFF
    flags &= 0xFFFFFFFFFFFFFFFF
    if call.ctx.prog_type == "xdp":
        if flags:
            return XDP_ABORTED
        call.state["redirect"] = RedirectTarget("bpf_redirect", ifindex, 0)
        return XDP_REDIRECT
    if flags & ~BPF_F_INGRESS:
        return TC_ACT_SHOT
    call.state["redirect"] = RedirectTarget("bpf_redirect", ifindex, flags)
    return TC_ACT_REDIRECT


BPF_F_PEER = 1 << 17  # kernel-internal flags the record carries, as bpf_redirect_info does
BPF_F_NEIGH = 1 << 16
BPF_F_NEXTHOP = 1 << 18
REDIR_NEIGH_SIZE = 20  # sizeof(struct bpf_redir_neigh): nh_family + a 16-byte address


@helper("bpf_redirect_peer", "tc", ctx_arg=False)
def bpf_redirect_peer(call: HelperCall, ifindex: int, flags: int, *_: int) -> int:
    """To the peer of a veth/netkit device, at ingress (the target is checked later)."""
    if flags & 0xFFFFFFFFFFFFFFFF:
        return TC_ACT_SHOT
    call.state["redirect"] = RedirectTarget("bpf_redirect_peer", ifindex & 0xFFFFFFFF, BPF_F_PEER)
    return TC_ACT_REDIRECT


@helper("bpf_redirect_neigh", "tc", ctx_arg=False)
def bpf_redirect_neigh(call: HelperCall, ifindex: int, params: int, plen: int, flags: int, _: int) -> int:
    """Through the neighbour subsystem, optionally to a given next hop (``params``)."""
    plen &= 0xFFFFFFFF
    if plen:
        read_arg(call, 2, params, plen)
    if (plen and plen < REDIR_NEIGH_SIZE) or flags & 0xFFFFFFFFFFFFFFFF:
        return TC_ACT_SHOT
    kind = BPF_F_NEIGH | (BPF_F_NEXTHOP if plen else 0)
    call.state["redirect"] = RedirectTarget("bpf_redirect_neigh", ifindex & 0xFFFFFFFF, kind)
    return TC_ACT_REDIRECT


HELPERS: dict[str, HelperImpl] = {
    "bpf_redirect": bpf_redirect,
    "bpf_redirect_peer": bpf_redirect_peer,
    "bpf_redirect_neigh": bpf_redirect_neigh,
}
