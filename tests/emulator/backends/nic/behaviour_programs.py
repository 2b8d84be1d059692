"""Small programs, one (or a few) per host/offload behaviour difference that can show up while
a program runs (reference nfp_offload.md §5), and their near misses: the same program a
hair away from the difference, which host and device run alike.

Each program is assembled from text; a :class:`BehaviourProgram` carries everything a
lockstep run of it needs (program type, device profile, maps, the packet, the CPU). The
tests in ``test_behaviour_differences.py`` say what each one must show; the load-time
refusals (§4) have their own one-program-per-rule set in ``test_offload_verifier.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.asm import assemble
from emulator.env import Environment, RunInput
from emulator.isa.fields import CallKind
from emulator.isa.table import Form
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program

PUBLIC = "nfp-public-fw"
AGILIO = "nfp-agilio"  # update/delete/perf_event_output helpers, ABI 3 with the host read cache

ETH_FRAME = bytes(6) + bytes(range(1, 7)) + b"\x08\x00" + bytes(range(0x40, 0x40 + 50))  # 64 bytes

# helper ids (include/uapi/linux/bpf.h)
MAP_UPDATE_ELEM = 2
GET_PRANDOM_U32 = 7
PERF_EVENT_OUTPUT = 25
XDP_ADJUST_HEAD = 44
XDP_ADJUST_TAIL = 65

EVENTS = MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 1)
"""A perf event array with one slot: the slot of CPU 0. A program on CPU 1 that outputs with
BPF_F_CURRENT_CPU asks for a slot the array does not have."""
COUNTS = MapSpec("counts", MapType.HASH, 4, 8, 16)


@dataclass(frozen=True)
class BehaviourProgram:
    """A program and the world one lockstep run of it needs."""

    name: str
    text: str
    prog_type: str = "xdp"
    profile: str = PUBLIC
    maps: tuple[MapSpec, ...] = ()
    map_entries: tuple[tuple[str, bytes, bytes], ...] = ()
    packet: bytes = ETH_FRAME
    cpu: int = 0

    def program(self) -> Program:
        return Program.from_insns(assemble(self.text), prog_type=self.prog_type)

    def environment(self) -> Environment:
        return Environment(maps=self.maps, map_entries=self.map_entries, device_profile=self.profile)

    def run_input(self) -> RunInput:
        return RunInput(packet=self.packet, cpu=self.cpu)


def call_pc(prog: Program, helper: int) -> int:
    """The pc of the program's (first) call of ``helper``."""
    for pc, insn in enumerate(prog.insns):
        if (
            insn is not None
            and insn.info is not None
            and insn.info.form is Form.CALL
            and insn.src == CallKind.HELPER
            and insn.imm == helper
        ):
            return pc
    raise ValueError(f"the program does not call helper {helper}")


def returns(code: int, prog_type: str = "xdp") -> BehaviourProgram:
    """A program that returns ``code`` (a 64-bit constant when it does not fit 32 bits)."""
    load = f"r0 = {code:#x} ll" if not -(1 << 31) <= code < 1 << 31 else f"r0 = {code}"
    return BehaviourProgram(f"{prog_type}-returns-{code:#x}", f"{load}\nexit", prog_type)


def adjust_tail(delta: int) -> BehaviourProgram:
    """bpf_xdp_adjust_tail(ctx, delta), then XDP_PASS."""
    return BehaviourProgram(f"adjust-tail-{delta}", f"r2 = {delta}\ncall {XDP_ADJUST_TAIL}\nr0 = 2\nexit")


HEAD_PACKET = ETH_FRAME + bytes(range(136))
"""200 bytes: long enough for the host and the device to keep 14 bytes of frame after the
largest forward move the firmware's window allows."""


def adjust_head(delta: int) -> BehaviourProgram:
    """bpf_xdp_adjust_head(ctx, delta), then XDP_PASS."""
    return BehaviourProgram(
        f"adjust-head-{delta}",
        f"r2 = {delta}\ncall {XDP_ADJUST_HEAD}\nr0 = 2\nexit",
        packet=HEAD_PACKET,
    )


PRANDOM = BehaviourProgram("prandom", f"call {GET_PRANDOM_U32}\nr6 = r0\nr0 = 2\nexit")
"""Keeps the random number in r6 and passes the packet."""
PRANDOM_MASKED = BehaviourProgram("prandom-masked", f"call {GET_PRANDOM_U32}\nr0 &= 0\nr0 += 2\nexit")
"""Throws the random number away: XDP_PASS whatever it was."""

PERF_SMALL = f"""
r6 = r1
r1 = 0x1122334455667788 ll
*(u64 *)(r10 - 8) = r1
r4 = r10
r4 += -8
r1 = r6
r2 = map[idx:0]
w3 = -1
r5 = 8
call {PERF_EVENT_OUTPUT}
r0 = 2
exit
"""
"""An 8-byte event from the stack to the current CPU's slot (BPF_F_CURRENT_CPU), then pass."""


def perf_output(prog_type: str = "xdp", cpu: int = 0) -> BehaviourProgram:
    return BehaviourProgram(
        f"perf-output-{prog_type}-cpu{cpu}", PERF_SMALL, prog_type, AGILIO, (EVENTS,), cpu=cpu
    )


BIG_EVENT = 1600
"""Bytes of an event larger than one control message can carry (the control vNIC's 1500-byte
Ethernet MTU; the reference gives no number, only that such events are dropped, §5.5)."""
PERF_BIG = BehaviourProgram(
    "perf-output-big",
    f"""
r6 = r1
r4 = *(u32 *)(r6 + 0)
r2 = *(u32 *)(r6 + 4)
r3 = r4
r3 += {BIG_EVENT}
if r3 > r2 goto out
r1 = r6
r2 = map[idx:0]
w3 = -1
r5 = {BIG_EVENT}
call {PERF_EVENT_OUTPUT}
out:
r0 = 2
exit
""",
    profile=AGILIO,
    maps=(EVENTS,),
    packet=bytes(i & 0xFF for i in range(1700)),
)
"""The first 1600 bytes of a 1700-byte packet as one perf event (within the 1888-byte inline
split, so the device loads it)."""

OLD_VALUE, NEW_VALUE = 0x1111, 0x2222
UPDATE_FROM_DATAPATH = BehaviourProgram(
    "update-from-datapath",
    f"""
r1 = 0
*(u32 *)(r10 - 4) = r1
r1 = {NEW_VALUE:#x} ll
*(u64 *)(r10 - 16) = r1
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r1 = map[idx:0]
r4 = 0
call {MAP_UPDATE_ELEM}
r0 = 2
exit
""",
    profile=AGILIO,
    maps=(COUNTS,),
    map_entries=(("counts", bytes(4), OLD_VALUE.to_bytes(8, "little")),),
)
"""bpf_map_update_elem(counts, 0, NEW_VALUE, BPF_ANY) on a table whose key 0 holds OLD_VALUE."""

ATOMIC_FROM_DATAPATH = BehaviourProgram(
    "atomic-add-from-datapath",
    """
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
r1 = map[idx:0]
call 1
if r0 == 0 goto out
r1 = 1
lock *(u64 *)(r0 + 0) += r1
out:
r0 = 2
exit
""",
    profile=AGILIO,
    maps=(COUNTS,),
    map_entries=(("counts", bytes(4), bytes(8)),),
)
"""An atomic add of 1 to the counter at key 0 (zero to start with, as the offload requires)."""

TC_LEN = BehaviourProgram("tc-len", "r2 = *(u32 *)(r1 + 0)\nr0 = 2\nexit", "tc")
"""Reads __sk_buff.len (the device's 14-bit plen) and drops the packet."""
XDP_DATA_END = BehaviourProgram("xdp-data-end", "r3 = *(u32 *)(r1 + 0)\nr2 = *(u32 *)(r1 + 4)\nr0 = 2\nexit")
"""Reads data, then data_end (the device's pptr + plen), and passes the packet."""

UPPER_HALF_KEPT = BehaviourProgram("alu32-unmarked", "r1 = -1\nw1 += 3\nw0 = w1\nexit")
"""w1 += 3 on r1 = -1; r1 is read afterwards only as 32 bits, so the verifier does not mark
the add for zero extension."""
UPPER_HALF_READ = BehaviourProgram("alu32-marked", "r1 = -1\nw1 += 3\nr0 = r1\nexit")
"""The same add, with r1 read as 64 bits afterwards: marked, zero-extended on the device."""
UPPER_HALF_MOV32 = BehaviourProgram("mov32", "r1 = -1\nw1 = 2\nw0 = w1\nexit")
"""A 32-bit move: the JIT's mov_imm always zeroes the upper half, marked or not."""
