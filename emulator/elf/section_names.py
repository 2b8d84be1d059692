"""Which program type a code section's name means, by libbpf's rules.

libbpf (1.x) decides a program's type from its ELF section name: ``SEC("xdp")`` is XDP,
``SEC("tc")`` and ``SEC("tcx/ingress")`` are SCHED_CLS, and so on. A rule is spelled as
libbpf spells it:

* ``"xdp"``: exactly that name;
* ``"kprobe+"``: that name, or that name followed by ``/`` and anything;
* ``"sk_skb/"`` style entries do not occur in libbpf 1.x any more; ``"+"`` covers them.

Objects written for libbpf 0.x, iproute2, cilium/ebpf (bpf2go) or the kernel samples use
looser names (``xdp_prog``, ``xdp/filter``, ``classifier/ingress``, ``socket1``), which
those loaders accepted as plain prefixes. Those still load here, by prefix, with a warning
that libbpf >= 1.0 would reject the name. A name no rule matches gives the ``raw`` program
type and a warning: the object still loads, and the user can pick the type at run time.

``prog_type`` names are the debugger's (``xdp``, ``tc``, ``socket``, then the kernel's
``bpf_prog_type`` names in lower case without the prefix); :data:`KERNEL_PROG_TYPE` maps
them to ``enum bpf_prog_type`` numbers for the kernel backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

# Program type name -> enum bpf_prog_type (uapi/linux/bpf.h).
KERNEL_PROG_TYPE = MappingProxyType(
    {
        "raw": 0,
        "socket": 1,
        "kprobe": 2,
        "tc": 3,
        "sched_act": 4,
        "tracepoint": 5,
        "xdp": 6,
        "perf_event": 7,
        "cgroup_skb": 8,
        "cgroup_sock": 9,
        "lwt_in": 10,
        "lwt_out": 11,
        "lwt_xmit": 12,
        "sock_ops": 13,
        "sk_skb": 14,
        "cgroup_device": 15,
        "sk_msg": 16,
        "raw_tracepoint": 17,
        "cgroup_sock_addr": 18,
        "lwt_seg6local": 19,
        "lirc_mode2": 20,
        "sk_reuseport": 21,
        "flow_dissector": 22,
        "cgroup_sysctl": 23,
        "raw_tracepoint_writable": 24,
        "cgroup_sockopt": 25,
        "tracing": 26,
        "struct_ops": 27,
        "ext": 28,
        "lsm": 29,
        "sk_lookup": 30,
        "syscall": 31,
        "netfilter": 32,
    }
)

_CGROUP_SOCK_ADDR = [
    f"cgroup/{verb}{family}"
    for verb in ("bind", "connect", "sendmsg", "recvmsg", "getpeername", "getsockname")
    for family in ("4", "6", "_unix")
    if not (verb == "bind" and family == "_unix")
]

# (libbpf spelling, prog_type); first match wins, so specific names come before general ones.
_RULES: tuple[tuple[str, str], ...] = (
    ("socket", "socket"),
    ("sk_reuseport/migrate", "sk_reuseport"),
    ("sk_reuseport", "sk_reuseport"),
    *((name, "kprobe") for name in (
        "kprobe+", "uprobe+", "uprobe.s+", "kretprobe+", "uretprobe+", "uretprobe.s+",
        "kprobe.multi+", "kretprobe.multi+", "kprobe.session+", "uprobe.multi+",
        "uretprobe.multi+", "uprobe.multi.s+", "uretprobe.multi.s+", "uprobe.session+",
        "uprobe.session.s+", "ksyscall+", "kretsyscall+", "usdt+", "usdt.s+",
    )),
    *((name, "tc") for name in (
        "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "netkit/primary", "netkit/peer",
        "tc", "classifier",
    )),
    ("action", "sched_act"),
    ("tracepoint+", "tracepoint"),
    ("tp+", "tracepoint"),
    ("raw_tracepoint+", "raw_tracepoint"),
    ("raw_tp+", "raw_tracepoint"),
    ("raw_tracepoint.w+", "raw_tracepoint_writable"),
    ("raw_tp.w+", "raw_tracepoint_writable"),
    *((name, "tracing") for name in (
        "tp_btf+", "fentry+", "fmod_ret+", "fexit+", "fentry.s+", "fmod_ret.s+", "fexit.s+",
        "iter+", "iter.s+",
    )),
    ("freplace+", "ext"),
    ("lsm+", "lsm"),
    ("lsm.s+", "lsm"),
    ("lsm_cgroup+", "lsm"),
    ("syscall", "syscall"),
    *((name, "xdp") for name in (
        "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags", "xdp",
    )),
    ("perf_event", "perf_event"),
    ("lwt_in", "lwt_in"),
    ("lwt_out", "lwt_out"),
    ("lwt_xmit", "lwt_xmit"),
    ("lwt_seg6local", "lwt_seg6local"),
    ("sockops", "sock_ops"),
    *((name, "sk_skb") for name in (
        "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict", "sk_skb",
    )),
    ("sk_msg", "sk_msg"),
    ("lirc_mode2", "lirc_mode2"),
    ("flow_dissector", "flow_dissector"),
    ("cgroup_skb/ingress", "cgroup_skb"),
    ("cgroup_skb/egress", "cgroup_skb"),
    ("cgroup/skb", "cgroup_skb"),
    *((name, "cgroup_sock") for name in (
        "cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4",
        "cgroup/post_bind6",
    )),
    *((name, "cgroup_sock_addr") for name in _CGROUP_SOCK_ADDR),
    ("cgroup/sysctl", "cgroup_sysctl"),
    ("cgroup/getsockopt", "cgroup_sockopt"),
    ("cgroup/setsockopt", "cgroup_sockopt"),
    ("cgroup/dev", "cgroup_device"),
    ("struct_ops+", "struct_ops"),
    ("struct_ops.s+", "struct_ops"),
    ("sk_lookup", "sk_lookup"),
    ("netfilter", "netfilter"),
)  # fmt: skip

# Plain prefixes the pre-1.0 loaders accepted ("sloppy" names), longest first.
_LEGACY_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        (
            ("xdp", "xdp"),
            ("tc", "tc"),
            ("classifier", "tc"),
            ("action", "sched_act"),
            ("socket", "socket"),
            ("sk_skb", "sk_skb"),
            ("sk_msg", "sk_msg"),
            ("sockops", "sock_ops"),
            ("flow_dissector", "flow_dissector"),
            ("cgroup_skb", "cgroup_skb"),
            ("perf_event", "perf_event"),
            ("lwt_in", "lwt_in"),
            ("lwt_out", "lwt_out"),
            ("lwt_xmit", "lwt_xmit"),
            ("lwt_seg6local", "lwt_seg6local"),
            ("kprobe", "kprobe"),
            ("kretprobe", "kprobe"),
            ("uprobe", "kprobe"),
            ("uretprobe", "kprobe"),
            ("tracepoint", "tracepoint"),
            ("raw_tracepoint", "raw_tracepoint"),
            ("raw_tp", "raw_tracepoint"),
        ),
        key=lambda rule: -len(rule[0]),
    )
)


@dataclass(frozen=True, slots=True)
class SectionKind:
    """What a section name means: the program type, and a warning when the name is not
    one libbpf >= 1.0 accepts (empty when it is)."""

    prog_type: str
    warning: str = ""


def _matches(rule: str, name: str) -> bool:
    if rule.endswith("+"):
        stem = rule[:-1]
        return name == stem or name.startswith(stem + "/")
    return name == rule


def classify_section(name: str) -> SectionKind:
    """The program type of code section ``name`` (``raw``, with a warning, if unknown).

    A leading ``?`` (libbpf: do not load this program automatically) does not change the type.
    """
    name = name.removeprefix("?")
    for rule, prog_type in _RULES:
        if _matches(rule, name):
            return SectionKind(prog_type)
    for prefix, prog_type in _LEGACY_PREFIXES:
        if name.startswith(prefix):
            return SectionKind(
                prog_type,
                f"section name {name!r} is a pre-libbpf-1.0 spelling, read as {prog_type} by its "
                f'prefix {prefix!r}; libbpf >= 1.0 rejects it (use SEC("{_modern(prog_type)}"))',
            )
    return SectionKind(
        "raw",
        f"section name {name!r} does not name a program type libbpf knows; loaded as a raw "
        "program (choose the type when running it, e.g. --type xdp)",
    )


def _modern(prog_type: str) -> str:
    for rule, kind in _RULES:
        if kind == prog_type:
            return rule.rstrip("+")
    return prog_type
