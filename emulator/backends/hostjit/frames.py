"""Call frames of the host-JIT machine: what a bpf-to-bpf call, a callx or a helper's
callback needs to return natively (the caller's rsp and return address), and the state of
a helper that calls back into the program (bpf_loop, bpf_for_each_map_elem)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CallFrame:
    """A bpf-to-bpf (or callback) frame: where it was called from and the caller's rsp."""

    call_pc: int
    rsp: int
    ret: int  # native return address
    saved: tuple[int, ...] = ()  # r6-r10 of the caller (callback frames restore them)
