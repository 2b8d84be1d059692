"""The kernel's helper table: every helper id with its name and signature, and our
implementation where we have one. A helper without an implementation is still named (the
disassembler shows ``call bpf_fib_lookup#69``), and calling it stops the run with its name
and id; it never silently returns 0.
"""

from __future__ import annotations

from functools import cache

from emulator.helpers import csum, fib, misc, packet, redirect, skb
from emulator.helpers.kernel_ids import KERNEL_HELPERS
from emulator.helpers.maps import MAP_HELPERS
from emulator.helpers.registry import HelperImpl, HelperSpec, HelperTable, helper_table

IMPLEMENTATIONS: dict[str, HelperImpl] = {
    "bpf_ktime_get_ns": misc.ktime_get_ns,
    "bpf_ktime_get_boot_ns": misc.ktime_get_ns,
    "bpf_ktime_get_coarse_ns": misc.ktime_get_ns,
    "bpf_jiffies64": misc.jiffies64,
    "bpf_get_prandom_u32": misc.get_prandom_u32,
    "bpf_get_smp_processor_id": misc.get_smp_processor_id,
    "bpf_trace_printk": misc.trace_printk,
    "bpf_trace_vprintk": misc.trace_vprintk,
}

for _family in (packet, skb, csum, redirect, fib):
    IMPLEMENTATIONS.update(_family.HELPERS)
IMPLEMENTATIONS.update(MAP_HELPERS)


def register(name: str, impl: HelperImpl) -> None:
    """Add an implementation by kernel name (family modules call this at import)."""
    IMPLEMENTATIONS[name] = impl


@cache
def kernel_helpers() -> HelperTable:
    specs = [
        HelperSpec(hid, name, args, IMPLEMENTATIONS.get(name), ret) for hid, name, ret, args in KERNEL_HELPERS
    ]
    return helper_table("kernel", specs)
