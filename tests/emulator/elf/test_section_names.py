"""Section name -> program type, by libbpf's rules (and the legacy prefixes before them)."""

from __future__ import annotations

import pytest

from emulator.elf import KERNEL_PROG_TYPE, classify_section


@pytest.mark.parametrize(
    ("name", "prog_type"),
    [
        ("xdp", "xdp"),
        ("xdp.frags", "xdp"),
        ("xdp/devmap", "xdp"),
        ("xdp.frags/cpumap", "xdp"),
        ("tc", "tc"),
        ("tc/ingress", "tc"),
        ("tcx/egress", "tc"),
        ("classifier", "tc"),
        ("netkit/peer", "tc"),
        ("action", "sched_act"),
        ("socket", "socket"),
        ("sk_skb", "sk_skb"),
        ("sk_skb/stream_verdict", "sk_skb"),
        ("sk_msg", "sk_msg"),
        ("kprobe/do_unlinkat", "kprobe"),
        ("kprobe", "kprobe"),
        ("uretprobe.s/libc:malloc", "kprobe"),
        ("tracepoint/syscalls/sys_enter_openat", "tracepoint"),
        ("tp_btf/sched_switch", "tracing"),
        ("fentry/tcp_connect", "tracing"),
        ("lsm.s/file_open", "lsm"),
        ("cgroup/connect4", "cgroup_sock_addr"),
        ("cgroup/getsockopt", "cgroup_sockopt"),
        ("cgroup_skb/ingress", "cgroup_skb"),
        ("sockops", "sock_ops"),
        ("flow_dissector", "flow_dissector"),
        ("struct_ops/tcp_init", "struct_ops"),
        ("syscall", "syscall"),
        ("netfilter", "netfilter"),
    ],
)
def test_libbpf_names(name: str, prog_type: str) -> None:
    kind = classify_section(name)
    assert (kind.prog_type, kind.warning) == (prog_type, "")
    assert prog_type in KERNEL_PROG_TYPE


@pytest.mark.parametrize(
    ("name", "prog_type"),
    [
        ("xdp_prog", "xdp"),
        ("xdp/filter", "xdp"),
        ("xdp1", "xdp"),
        ("classifier/ingress", "tc"),
        ("tc/custom", "tc"),
        ("socket1", "socket"),
        ("socket/filter_udp", "socket"),
        ("sk_skb/parser_custom", "sk_skb"),
    ],
)
def test_legacy_prefixes_load_with_a_warning(name: str, prog_type: str) -> None:
    kind = classify_section(name)
    assert kind.prog_type == prog_type
    assert "pre-libbpf-1.0 spelling" in kind.warning and "libbpf >= 1.0 rejects it" in kind.warning


@pytest.mark.parametrize("name", ["mystery_section", "prog", "maps_but_code", "fexit_no_slash"])
def test_unknown_names_are_raw_with_a_warning(name: str) -> None:
    kind = classify_section(name)
    assert kind.prog_type == "raw"
    assert "does not name a program type" in kind.warning


def test_prefix_rules_need_a_slash() -> None:
    """``kprobe+`` is "kprobe" or "kprobe/...", not any name starting with kprobe; the
    legacy prefix rule then takes it, with a warning."""
    assert classify_section("kprobe/x").warning == ""
    assert classify_section("kprobe_x").warning != ""


def test_libbpf_no_autoload_mark_is_ignored() -> None:
    assert classify_section("?xdp") == classify_section("xdp")
    assert classify_section("?tc/ingress").prog_type == "tc"


def test_kernel_prog_type_numbers() -> None:
    assert (KERNEL_PROG_TYPE["socket"], KERNEL_PROG_TYPE["tc"], KERNEL_PROG_TYPE["xdp"]) == (1, 3, 6)
