"""Packet helpers on interp: what the kernel oracle cannot show (faults for programs the
verifier would reject, stale pointers, per-run state, sizes beyond the oracle's buffers)."""

from __future__ import annotations

import pytest

from emulator.asm import assemble
from emulator.backends.base import create
from emulator.backends.interp.backend import InterpBackend, _HelperContext
from emulator.env import Environment, RunInput
from emulator.helpers.redirect import RedirectTarget, redirect_target
from emulator.program import Program
from emulator.state import StopCondition, StopEvent, StopReason

PKT = bytes.fromhex("ffffffffffff0200000000010800") + bytes(range(46))


def run(
    src: str, prog_type: str, packet: bytes = PKT, machine: InterpBackend | None = None
) -> tuple[StopEvent, InterpBackend]:
    machine = machine or create("interp")  # type: ignore[assignment]
    assert machine is not None
    if machine._prog is None:
        assert machine.load(Program.from_insns(assemble(src), prog_type=prog_type), Environment()).ok
    machine.reset(RunInput(packet=packet))
    return machine.run(StopCondition()), machine


def fault_of(src: str, prog_type: str, packet: bytes = PKT) -> str:
    stop, _ = run(src, prog_type, packet)
    assert stop.reason is StopReason.FAULT and stop.fault is not None, stop
    return stop.fault.message


@pytest.mark.parametrize(
    ("src", "prog_type", "words"),
    [
        ("r2 = 0\ncall 44", "tc", ["bpf_xdp_adjust_head", "TC (sched_cls) programs cannot call", "#44"]),
        ("r2 = 0\nr3 = 0\ncall 38", "socket", ["bpf_skb_change_tail", "socket filter"]),
        ("r2 = 0\nr3 = 0\ncall 38", "xdp", ["bpf_skb_change_tail", "XDP programs cannot call"]),
        ("r1 = r10\nr2 = 0\ncall 44", "xdp", ["argument 1 must be the context pointer", "fp"]),
        ("r2 = 0\nr3 = r10\nr3 += 8\nr4 = 4\ncall 26", "tc", ["bpf_skb_load_bytes: argument 3"]),
        ("r2 = 0\nr3 = r10\nr3 += -8\nr4 = 0\ncall 26", "tc", ["argument 4 (size) is 0"]),
        ("r1 = 0\nr2 = 4\nr3 = 0\nr4 = 0\nr5 = 0\ncall 28", "xdp", ["bpf_csum_diff: argument 1", "NULL"]),
    ],
)
def test_misuse_the_verifier_rejects_is_a_fault(src: str, prog_type: str, words: list[str]) -> None:
    message = fault_of(src + "\nexit", prog_type)
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("prog_type", "resize", "at"),
    [
        ("xdp", "r1 = r6\nr2 = 20\ncall 44", 0),  # data moved forward past the old pointer
        ("xdp", "r1 = r6\nr2 = -30\ncall 65", 30),  # the tail cut below it
        ("tc", "r1 = r6\nr2 = 20\nr3 = 0\ncall 38", 30),
        ("tc", "r1 = r6\nr2 = -4\nr3 = 0\nr4 = 0\ncall 50", 0),  # room removed after the IP header
    ],
)
def test_stale_packet_pointers_fault(prog_type: str, resize: str, at: int) -> None:
    """The verifier forgets packet pointers across helpers that change the packet; a
    program that used one anyway could read moved or freed memory. Pointers beyond the new
    edges fault (ones that still land inside the packet read whatever is there now)."""
    data_off, end_off = (0, 4) if prog_type == "xdp" else (76, 80)
    src = f"""
r6 = r1
r7 = *(u32 *)(r6 + {data_off})
r8 = *(u32 *)(r6 + {end_off})
r2 = r7
r2 += 40
if r2 > r8 goto +4
{resize}
r0 = *(u8 *)(r7 + {at})
exit
r0 = 0
exit
"""
    message = fault_of(src, prog_type)
    assert "pkt" in message


def test_xdp_meta_and_head_move_together() -> None:
    src = """
r6 = r1
r2 = -8
call 54
r2 = *(u32 *)(r6 + 8)
r3 = *(u32 *)(r6 + 0)
r4 = r2
r4 += 8
if r4 > r3 goto +5
r1 = 0x1122334455667788 ll
*(u64 *)(r2 + 0) = r1
r1 = r6
r2 = 4
call 44
exit
"""
    stop, machine = run(src, "xdp")
    assert stop.retval == 0
    regions = machine.state().regions
    assert regions["pkt_meta"].data == bytes.fromhex("8877665544332211")
    assert regions["pkt"].data == PKT[4:]


def test_skb_sizes_beyond_the_buffer() -> None:
    """Growing beyond the test-run buffer reallocates (as pskb_expand_head does) up to
    SKB_MAX_ALLOC (16064 bytes); len follows."""
    src = """
r6 = r1
r1 = r6
r2 = 16000
r3 = 0
call 43
r7 = r0
r1 = r6
r2 = 16064
r3 = 0
call 38
r7 |= r0
r1 = r6
r2 = 16065
r3 = 0
call 38
r0 = *(u32 *)(r6 + 0)
r0 <<= 8
r0 |= r7
exit
"""
    stop, machine = run(src, "tc")
    assert stop.retval == 16064 << 8
    pkt = machine.state().regions["pkt"].data
    assert len(pkt) == 16064 and pkt[:16000] == bytes(16000) and pkt[16000:16060] == PKT


def test_run_state_starts_fresh_every_run() -> None:
    src = """
r6 = r1
r1 = r6
r2 = 0x81
r3 = 5
call 18
r0 = *(u32 *)(r6 + 0)
exit
"""
    stop, machine = run(src, "tc")
    assert stop.retval == 60
    stop, machine = run(src, "tc", machine=machine)  # a second push would insert a tag
    assert stop.retval == 60
    assert machine.state().regions["pkt"].data == PKT


@pytest.mark.parametrize(
    ("prog_type", "flags", "retval", "target"),
    [
        ("xdp", 0, 4, RedirectTarget("bpf_redirect", 7, 0)),
        ("xdp", 1, 0, None),
        ("tc", 1, 7, RedirectTarget("bpf_redirect", 7, 1)),
        ("tc", 2, 2, None),
    ],
)
def test_redirect_target_is_recorded(
    prog_type: str, flags: int, retval: int, target: RedirectTarget | None
) -> None:
    stop, machine = run(f"r1 = 7\nr2 = {flags}\ncall 23\nexit", prog_type)
    assert stop.retval == retval
    assert redirect_target(_HelperContext(machine)) == target
    if target is not None:
        assert "ifindex 7" in target.describe()


def test_hash_stand_in_is_deterministic() -> None:
    src = "r6 = r1\nr1 = r6\ncall 34\nr7 = r0\nr0 = *(u32 *)(r6 + 68)\nr0 ^= r7\nr0 |= r7\nexit"
    first, _ = run(src, "tc")
    second, _ = run(src, "tc")
    assert first.retval == second.retval and first.retval != 0
