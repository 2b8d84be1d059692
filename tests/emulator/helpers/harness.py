"""Run one assembled program on the real kernel (BPF_PROG_TEST_RUN, repeat=1) and on the
interp backend, and give back what both observable sides show: the return value (u32, as
test_run reports it), the packet as data_out returns it (XDP: metadata + packet; a socket
filter's MAC header zeroed), the ``__sk_buff`` as ctx_out returns it (skb types), and for
the kernel whether the verifier accepted the program, for interp whether it faulted.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from emulator.asm import assemble
from emulator.backends.base import create
from emulator.backends.kernel.syscall import Bpf, BpfError, VerifierError, xdp_md
from emulator.env import Environment, RunInput
from emulator.program import Program
from emulator.state import StopCondition, StopReason

KERNEL_TYPES = {"xdp": "xdp", "tc": "sched_cls", "socket": "socket_filter"}
SK_BUFF_SIZE = 192
TOO_BIG = "ENOSPC: data_out is larger than the oracle's buffer (input length + 4096)"


@dataclass(frozen=True)
class Outcome:
    """One side's result. ``rejected``: the kernel's verifier refused the program (its
    last log line), or interp stopped with a fault (its message)."""

    retval: int | None
    data_out: bytes
    cb: tuple[int, ...] = ()
    rejected: str | None = None

    def same_as(self, other: Outcome) -> bool:
        if (self.rejected is None) != (other.rejected is None):
            return False
        if self.rejected is not None:
            return True
        return (self.retval, self.data_out, self.cb) == (other.retval, other.data_out, other.cb)


_BPF: Bpf | None = None


def _bpf() -> Bpf:
    global _BPF
    if _BPF is None:
        _BPF = Bpf()
    return _BPF


def kernel(src: str, prog_type: str, packet: bytes, meta: bytes = b"") -> Outcome:
    bpf = _bpf()
    code = Program.from_insns(assemble(src)).encode()
    try:
        fd = bpf.prog_load(code, KERNEL_TYPES[prog_type])
    except VerifierError as err:
        lines = [line for line in err.log.strip().splitlines() if line and not line.startswith("processed")]
        return Outcome(None, b"", rejected=lines[-1] if lines else f"errno {err.errno}")
    try:
        if prog_type == "xdp":  # xdp_md.data = metadata length, data_end = end of data_in
            ctx = (
                struct.pack("<6I", len(meta), len(meta) + len(packet), 0, 0, 0, 0)
                if meta
                else xdp_md(len(packet))
            )
        else:
            ctx = bytes(SK_BUFF_SIZE)
        run = bpf.test_run(fd, meta + packet, ctx)
    except BpfError as err:
        if err.errno == errno.ENOSPC:  # the packet grew beyond the oracle's data_out buffer
            return Outcome(None, b"", rejected=TOO_BIG)
        raise
    finally:
        bpf.close_fd(fd)
    cb = struct.unpack_from("<5I", run.ctx_out, 48) if prog_type != "xdp" else ()
    return Outcome(run.retval, run.data_out, cb)


def interp(
    src: str, prog_type: str, packet: bytes, env: Environment | None = None, meta: bytes = b""
) -> Outcome:
    machine = create("interp")
    report = machine.load(Program.from_insns(assemble(src), prog_type=prog_type), env or Environment())
    assert report.ok, report
    machine.reset(RunInput(packet=packet, meta=meta))
    stop = machine.run(StopCondition())
    if stop.reason is StopReason.FAULT:
        assert stop.fault is not None
        return Outcome(None, b"", rejected=stop.fault.message)
    assert stop.reason is StopReason.EXIT, stop
    regions = machine.state().regions
    pkt = regions["pkt"].data
    if prog_type == "xdp":
        meta = regions["pkt_meta"].data if "pkt_meta" in regions else b""
        data_out = meta + pkt
    elif prog_type == "socket":
        data_out = bytes(14) + pkt
    else:
        data_out = pkt
    cb = struct.unpack_from("<5I", regions["ctx"].data, 48) if prog_type != "xdp" else ()
    assert stop.retval is not None
    return Outcome(stop.retval & 0xFFFFFFFF, data_out, cb)


def both(src: str, prog_type: str, packet: bytes, meta: bytes = b"") -> tuple[Outcome, Outcome]:
    return kernel(src, prog_type, packet, meta), interp(src, prog_type, packet, meta=meta)


def available_reason() -> str | None:
    try:
        from emulator.backends.kernel.syscall import available
    except ImportError as err:  # pragma: no cover
        return str(err)
    try:
        return available()
    except BpfError as err:  # pragma: no cover
        return str(err)


# -- program text builders -------------------------------------------------------------------
def stack_bytes(data: bytes, at: int) -> str:
    """Instructions storing ``data`` (padded to 4 bytes) at ``r10 + at``."""
    padded = data + bytes(-len(data) % 4)
    lines = []
    for i in range(0, len(padded), 4):
        value = struct.unpack_from("<i", padded, i)[0]
        lines.append(f"*(u32 *)(r10 {at + i:+d}) = {value}")
    return "\n".join(lines)


def imm64(reg: str, value: int) -> str:
    return f"{reg} = {value & 0xFFFFFFFFFFFFFFFF:#x} ll"


SKB_CB_DUMP = """
r1 = *(u32 *)(r6 + 0)
*(u32 *)(r6 + 48) = r1
r1 = *(u32 *)(r6 + 16)
*(u32 *)(r6 + 52) = r1
r1 = *(u32 *)(r6 + 20)
*(u32 *)(r6 + 56) = r1
r1 = *(u32 *)(r6 + 24)
*(u32 *)(r6 + 60) = r1
r1 = *(u32 *)(r6 + 28)
*(u32 *)(r6 + 64) = r1
"""
"""Store len, protocol, vlan_present, vlan_tci, vlan_proto of ``r6`` into cb[0..4]."""
