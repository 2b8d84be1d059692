"""The offload verifier: one small program per rule of reference nfp_offload.md §4, each
refused with the driver's exact text, at the stage and eBPF pc where the real system
reports it; accepted programs carry their facts.

Expected texts are the reference's quoted driver strings with the numbers the rule
defines (pointer-type numbers of §4.4, tnum notation of the kernel's tnum_strn).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from emulator.asm import assemble
from emulator.backends.nic.offload_messages import STAGES, OffloadVerdict, c_hex, tnum_str
from emulator.backends.nic.offload_verifier import (
    SUPPORTED_OPCODES,
    check_image_size,
    stack_usage,
    verify,
    with_image_size,
)
from emulator.backends.nic.profiles import AdjustHead, DeviceProfile, profile
from emulator.env import Environment
from emulator.isa.insn import Insn
from emulator.maps.spec import F_MMAPABLE, F_NO_PREALLOC, F_RDONLY_PROG, MapSpec, MapType
from emulator.program import Program
from emulator.verifier import analyse

PUBLIC = profile("nfp-public-fw")
AGILIO = profile("nfp-agilio")

ARRAY = MapSpec("arr", MapType.ARRAY, 4, 16, 4)
HASH = MapSpec("hash", MapType.HASH, 8, 16, 16)

# A lookup of key 0 in map 0; r0 is the value in the body (pc 8 on), "out" returns XDP_PASS.
LOOKUP = """
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    r1 = map[idx:0]
    call 1
    if r0 == 0 goto out
"""
OUT = """
out:
    r0 = 2
    exit
"""
BODY = 8  # pc of the first instruction after LOOKUP


def program(text: str, prog_type: str = "xdp") -> Program:
    return Program.from_insns(assemble(text), prog_type=prog_type)


def label_pc(text: str, label: str = "bad") -> int:
    """The pc of ``label`` in ``text`` (the target of a jump to it appended at the end)."""
    insns = assemble(f"{text}\ngoto {label}\n")
    last = sum(i.slots for i in insns[:-1])
    target = insns[-1].jump_target(last)
    assert target is not None
    return target


def check(
    text: str,
    prog_type: str = "xdp",
    maps: tuple[MapSpec, ...] = (),
    prof: DeviceProfile = PUBLIC,
    **env: Any,
) -> OffloadVerdict:
    return verify(program(text, prog_type), Environment(maps=maps, **env), prof)


@dataclass(frozen=True)
class Case:
    """One refusal: the program, and what the real system says about it."""

    name: str
    text: str
    stage: str
    pc: int | str | None  # a label name: the pc of that label
    message: str
    errno: str
    prog_type: str = "xdp"
    maps: tuple[MapSpec, ...] = ()
    prof: DeviceProfile = PUBLIC
    env: dict[str, Any] = field(default_factory=dict)


NO_HEAD = replace(PUBLIC, adjust_head=None)
META_HEAD = replace(PUBLIC, adjust_head=AdjustHead(False, 44, 248, 84, 112))
NO_TAIL = replace(PUBLIC, adjust_tail=False)
NO_RANDOM = replace(PUBLIC, random=False)
NO_QUEUE = replace(PUBLIC, queue_select=False)

CASES = [
    # §4.2: opcodes without a JIT callback.
    Case(
        "mod64-imm", "r0 = 7\nr0 %= 3\nexit", "verifier", 1, "[nfp] instruction 0x97 not supported", "EINVAL"
    ),
    Case(
        "mod64-reg",
        "r1 = 3\nr0 = 7\nr0 %= r1\nexit",
        "verifier",
        2,
        "[nfp] instruction 0x9f not supported",
        "EINVAL",
    ),
    Case("mod32", "w0 = 7\nw0 %= 3\nexit", "verifier", 1, "[nfp] instruction 0x94 not supported", "EINVAL"),
    Case(
        "le16", "r0 = 2\nr0 = le16 r0\nexit", "verifier", 1, "[nfp] instruction 0xd4 not supported", "EINVAL"
    ),
    Case(
        "bswap",
        "r0 = 2\nr0 = bswap16 r0\nexit",
        "verifier",
        1,
        "[nfp] instruction 0xd7 not supported",
        "EINVAL",
    ),
    Case(
        "ldsx",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr0 = *(s8 *)(r10 - 8)\nexit",
        "verifier",
        2,
        "[nfp] instruction 0x91 not supported",
        "EINVAL",
    ),
    Case("gotol", "r0 = 2\ngotol +0\nexit", "verifier", 1, "[nfp] instruction 0x6 not supported", "EINVAL"),
    Case(
        "callx",
        "r1 = 0\ncallx r1\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] instruction 0x8d not supported",
        "EINVAL",
    ),
    # §10.4: ISA v4 forms the driver would silently mistranslate: bpfdbg refuses them.
    Case(
        "movsx",
        "r1 = 0xff\nr0 = (s8)r1\nexit",
        "verifier",
        1,
        "bpfdbg: movsx8 (ISA v4) cannot be offloaded: the NFP driver does not tell it from a plain move "
        "and would silently translate it as a plain move",
        "",
    ),
    Case(
        "sdiv",
        "r0 = 6\nr0 s/= 3\nexit",
        "verifier",
        1,
        "bpfdbg: sdiv (ISA v4) cannot be offloaded: the NFP driver does not tell it from an unsigned "
        "division and would silently translate it as an unsigned division",
        "",
    ),
    # §4.4: helpers.
    Case("ktime", "call 5\nr0 = 2\nexit", "verifier", 0, "[nfp] unsupported function id: 5", "EOPNOTSUPP"),
    # (a real tail call also needs a prog_array map, whose creation on the device fails first)
    Case(
        "tail-call",
        "r3 = 0\ncall 12\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] unsupported function id: 12",
        "EOPNOTSUPP",
    ),
    Case(
        "adjust-head-fw",
        "r2 = -14\ncall 44\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] adjust_head not supported by FW",
        "EOPNOTSUPP",
        prof=NO_HEAD,
    ),
    Case(
        "adjust-head-meta",
        "r2 = -14\ncall 44\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] adjust_head: FW requires shifting metadata, not supported by the driver",
        "EOPNOTSUPP",
        prof=META_HEAD,
    ),
    Case(
        "adjust-tail-fw",
        "r2 = -4\ncall 65\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] adjust_tail not supported by FW",
        "EOPNOTSUPP",
        prof=NO_TAIL,
    ),
    Case(
        "random-fw",
        "call 7\nr0 = 2\nexit",
        "verifier",
        0,
        "[nfp] bpf_get_prandom_u32(): FW doesn't support random number generation",
        "EOPNOTSUPP",
        prof=NO_RANDOM,
    ),
    Case(
        "map-update-fw",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 24) = r1\n*(u64 *)(r10 - 16) = r1\n"
        "r2 = r10\nr2 += -8\nr3 = r10\nr3 += -24\nr1 = map[idx:0]\nr4 = 0\ncall 2\nr0 = 2\nexit",
        "verifier",
        11,
        "[nfp] map_update: not supported by FW",
        "EOPNOTSUPP",
        maps=(HASH,),
    ),
    Case(
        "map-delete-fw",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = map[idx:0]\ncall 3\nr0 = 2\nexit",
        "verifier",
        6,
        "[nfp] map_delete: not supported by FW",
        "EOPNOTSUPP",
        maps=(HASH,),
    ),
    Case(
        "lookup-key-in-packet",
        "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 4\nif r4 > r3 goto out\n"
        "r1 = map[idx:0]\ncall 1\n" + OUT,
        "verifier",
        7,
        "[nfp] map_lookup: unsupported ptr type 8",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "lookup-key-variable",
        "r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u64 *)(r10 - 8) = r1\ncall 7\nr0 &= 4\n"
        "r2 = r10\nr2 += -16\nr2 += r0\nr1 = map[idx:0]\ncall 1\nr0 = 2\nexit",
        "verifier",
        10,
        "[nfp] map_lookup: variable pointer",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "lookup-key-unaligned",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 16) = r1\n"
        "r2 = r10\nr2 += -10\nr1 = map[idx:0]\ncall 1\nr0 = 2\nexit",
        "verifier",
        7,
        "[nfp] map_lookup: unaligned stack pointer 10",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "event-output-fw",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr4 = r10\nr4 += -8\n"
        "r5 = 8\nr1 = r6\ncall 25\nr0 = 2\nexit",
        "verifier",
        10,
        "[nfp] event_output: not supported by FW",
        "EOPNOTSUPP",
        maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),),
    ),
    Case(
        "event-output-flags",
        "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = map[idx:0]\nr3 = 0\nr4 = r10\nr4 += -8\n"
        "r5 = 8\nr1 = r6\ncall 25\nr0 = 2\nexit",
        "verifier",
        10,
        f"[nfp] event_output: must use BPF_F_CURRENT_CPU, var_off: {tnum_str(0, 0)}",
        "EOPNOTSUPP",
        maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),),
        prof=AGILIO,
    ),
    Case(
        "event-output-ptr",
        "r6 = r1\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr4 = r6\nr5 = 8\nr1 = r6\nbad:\ncall 25\nr0 = 2\nexit",
        "verifier",
        "bad",
        "[nfp] event_output: unsupported ptr type: 2",
        "EOPNOTSUPP",
        maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),),
        prof=AGILIO,
    ),
    Case(
        "event-output-unaligned",
        "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 16) = r1\nr2 = map[idx:0]\n"
        "r3 = 0xffffffff ll\nr4 = r10\nr4 += -11\nr5 = 8\nr1 = r6\nbad:\ncall 25\nr0 = 2\nexit",
        "verifier",
        "bad",
        "[nfp] event_output: unaligned stack pointer 11",
        "EOPNOTSUPP",
        maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),),
        prof=AGILIO,
    ),
    # §4.5: memory accesses.
    Case(
        "load-through-map-ptr",
        "r1 = map[idx:0]\nr0 = *(u32 *)(r1 + 0)\nr0 = 2\nexit",
        "verifier",
        2,
        "[nfp] unsupported ptr type: 3",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "variable-stack",
        "r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u64 *)(r10 - 8) = r1\ncall 7\nr0 &= 8\n"
        "r2 = r10\nr2 += -16\nr2 += r0\nr0 = *(u32 *)(r2 + 0)\nr0 = 2\nexit",
        "verifier",
        8,
        "[nfp] variable ptr stack access",
        "EINVAL",
    ),
    Case(
        "map-writes",
        LOOKUP + "r1 = 5\n*(u64 *)(r0 + 0) = r1\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] map writes not supported",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "map-offset-variable",
        LOOKUP + "r6 = r0\ncall 7\nr0 &= 4\nr6 += r0\nr1 = *(u32 *)(r6 + 0)\n" + OUT,
        "verifier",
        BODY + 4,
        "[nfp] map value offset is variable",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "map-oob",
        LOOKUP + "r1 = *(u32 *)(r0 + 14)\n" + OUT,
        "verifier",
        BODY,
        "[nfp] map value access out-of-bounds",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "map-use-conflict",
        LOOKUP + "r1 = 1\nlock *(u64 *)(r0 + 0) += r1\nr1 = *(u32 *)(r0 + 4)\n" + OUT,
        "verifier",
        BODY + 2,
        "[nfp] map value use type conflict atomic vs read off: 4",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "atomic-host-nonzero",
        LOOKUP + "r1 = 1\nlock *(u32 *)(r0 + 8) += r1\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] atomic counter in map value may already be initialized to non-zero value off: 8",
        "EOPNOTSUPP",
        maps=(ARRAY,),
        env={"map_entries": (("arr", bytes(4), bytes(8) + (5).to_bytes(4, "little") + bytes(4)),)},
    ),
    Case(
        "ctx-store-tc",
        "r2 = 7\n*(u32 *)(r1 + 8) = r2\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] unsupported store to context field",
        "EOPNOTSUPP",
        prog_type="tc",
    ),
    Case(
        "ctx-store-xdp",
        "r2 = 7\n*(u32 *)(r1 + 12) = r2\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] unsupported store to context field",
        "EOPNOTSUPP",
    ),
    Case(
        "queue-select-fw",
        "r2 = 1\n*(u32 *)(r1 + 16) = r2\nr0 = 2\nexit",
        "verifier",
        1,
        "[nfp] queue selection not supported by FW",
        "EOPNOTSUPP",
        prof=NO_QUEUE,
    ),
    Case(
        "atomic-or",
        LOOKUP + "r1 = 1\nlock *(u64 *)(r0 + 0) |= r1\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] atomic op not implemented: 64",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "atomic-fetch-add",
        LOOKUP + "r1 = 1\nr1 = atomic_fetch_add((u64 *)(r0 + 0), r1)\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] atomic op not implemented: 1",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    Case(
        "atomic-on-stack",
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 1\nlock *(u64 *)(r10 - 8) += r1\nr0 = 2\nexit",
        "verifier",
        3,
        "[nfp] atomic add not to a map value pointer: 6",
        "EOPNOTSUPP",
    ),
    Case(
        "atomic-of-pointer",
        LOOKUP + "r1 = r10\nlock *(u64 *)(r0 + 0) += r1\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] atomic add not of a scalar: 6",
        "EOPNOTSUPP",
        maps=(ARRAY,),
    ),
    # §4.6: multiply and divide operand ranges (64-bit ranges, also for 32-bit ops).
    Case(
        "mul-dst",
        LOOKUP + "r1 = *(u64 *)(r0 + 0)\nr1 *= 3\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] multiplier is not within u32 value range",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "mul32-dst",
        LOOKUP + "r1 = *(u64 *)(r0 + 0)\nw1 *= 3\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] multiplier is not within u32 value range",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "mul-src",
        LOOKUP + "r1 = *(u64 *)(r0 + 0)\nr2 = 3\nr2 *= r1\n" + OUT,
        "verifier",
        BODY + 2,
        "[nfp] multiplicand is not within u32 value range",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "mul-negative",
        LOOKUP + "r1 = *(u32 *)(r0 + 0)\nr1 *= -3\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] sign extended multiplicand won't be within u32 value range",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "div-dividend",
        LOOKUP + "r1 = *(u64 *)(r0 + 0)\nr1 /= 3\n" + OUT,
        "verifier",
        BODY + 1,
        "[nfp] dividend is not within u32 value range",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        "div-variable",
        LOOKUP + "r1 = *(u32 *)(r0 + 0)\nr2 = 1000\nr2 /= r1\n" + OUT,
        "verifier",
        BODY + 2,
        "[nfp] divisor is not constant",
        "EINVAL",
        maps=(ARRAY,),
    ),
    Case(
        # Netronome's xdp_div_reject_1: a constant on each path, a different one per path.
        "div-constant-per-path",
        "call 7\nr1 = 3\nif r0 > 5 goto big\nr1 = 5\nbig:\nr0 = 100\nr0 /= r1\nexit",
        "verifier",
        5,
        "[nfp] divisor is not constant",
        "EINVAL",
    ),
    Case(
        "div-wide-divisor",
        "r1 = 0x100000000 ll\nr0 = 100\nr0 /= r1\nexit",
        "verifier",
        3,
        "[nfp] divisor is not within u32 value range",
        "EINVAL",
    ),
    Case(
        "div-negative",
        "r0 = 100\nr0 /= -3\nexit",
        "verifier",
        1,
        "[nfp] divide by negative constant is not supported",
        "EINVAL",
    ),
    # §4.3: TC exit codes.
    Case(
        "tc-exit-ok",
        "r0 = 0\nexit",
        "verifier",
        1,
        "[nfp] unsupported exit state: 1, imm: 0",
        "EINVAL",
        prog_type="tc",
    ),
    Case(
        "tc-exit-redirect",
        "r0 = 7\nexit",
        "verifier",
        1,
        "[nfp] unsupported exit state: 1, imm: 7",
        "EINVAL",
        prog_type="tc",
    ),
    Case(
        "tc-exit-computed",
        "r0 = *(u32 *)(r1 + 0)\nexit",
        "verifier",
        1,
        f"[nfp] unsupported exit state: 1, var_off: {tnum_str(0, 0xFFFFFFFF)}",
        "EINVAL",
        prog_type="tc",
    ),
    Case(
        "tc-exit-pointer",
        "r0 = r10\nexit",
        "verifier",
        1,
        f"[nfp] unsupported exit state: 6, var_off: {tnum_str(0, 0)}",
        "EINVAL",
        prog_type="tc",
    ),
    # §4.7: finalize.
    Case(
        "stack-too-large",
        "r1 = 0\n*(u64 *)(r10 - 512) = r1\ncall sub\nr0 = 2\nexit\nsub:\nr0 = 0\nexit",
        "finalize",
        None,
        "[nfp] stack too large: program 576B > FW stack 512B",
        "EOPNOTSUPP",
    ),
    # §4.7: the core verifier and global data; §4.1: program types.
    Case(
        "global-data",
        "r1 = map[idx:0][0]+0\nr0 = *(u32 *)(r1 + 0)\nr0 = 2\nexit",
        "core",
        0,
        "no direct value access support for this map type",
        "EINVAL",
        maps=(MapSpec("prog.rodata", MapType.ARRAY, 4, 8, 1, section=".rodata"),),
    ),
    Case(
        "socket",
        "r0 = 0\nexit",
        "load",
        None,
        "bpfdbg: BPF_PROG_LOAD refuses to offload a socket program (the kernel answers EINVAL and prints "
        "nothing: only XDP and SCHED_CLS programs can be offloaded)",
        "EINVAL",
        prog_type="socket",
    ),
    # §4.8: translation.
    Case(
        "bpf-st",
        "r0 = 2\nr1 = 0\n*(u32 *)(r10 - 4) = 0\nexit",
        "translate",
        2,
        "NFP net bpf: Translation failed with error -95 (translated: 2)",
        "EINVAL",
    ),
    Case(
        "ctx-ingress-ifindex",
        "r2 = *(u32 *)(r1 + 12)\nr0 = 2\nexit",
        "translate",
        0,
        "NFP net bpf: Translation failed with error -95 (translated: 0)",
        "EINVAL",
    ),
    Case(
        "ctx-data-meta",
        "r0 = 2\nr2 = *(u32 *)(r1 + 8)\nexit",
        "translate",
        1,
        "NFP net bpf: Translation failed with error -95 (translated: 1)",
        "EINVAL",
    ),
    Case(
        "ctx-mark",
        "r0 = 2\nr3 = 0\nr2 = *(u32 *)(r1 + 8)\nexit",
        "translate",
        2,
        "NFP net bpf: Translation failed with error -95 (translated: 2)",
        "EINVAL",
        prog_type="tc",
    ),
    # §4.9: attach.
    Case(
        "mtu-split",
        "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 2000\nif r4 > r3 goto out\n"
        "r0 = *(u8 *)(r2 + 1999)\n" + OUT,
        "attach",
        None,
        "nfp: BPF offload not supported with potential packet access beyond HW packet split boundary",
        "EOPNOTSUPP",
        env={"mtu": 9000},
    ),
    # §4.10: map creation.
    Case(
        "map-percpu",
        "r0 = 2\nexit",
        "map",
        None,
        "bpfdbg: map counts: type percpu_array cannot be offloaded (the kernel refuses map_ifindex for it "
        "with EINVAL and prints nothing: only hash and array maps live on the device)",
        "EINVAL",
        maps=(MapSpec("counts", MapType.PERCPU_ARRAY, 4, 8, 4),),
    ),
    Case(
        "map-flags",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map flags are not supported",
        "EINVAL",
        maps=(MapSpec("h", MapType.HASH, 4, 8, 4, flags=F_NO_PREALLOC),),
    ),
    Case(
        "map-rodata",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map flags are not supported",
        "EINVAL",
        maps=(
            MapSpec("x.rodata", MapType.ARRAY, 4, 8, 1, flags=F_MMAPABLE | F_RDONLY_PROG, section=".rodata"),
        ),
    ),
    Case(
        "map-fw-type",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map type not supported",
        "EOPNOTSUPP",
        maps=(ARRAY,),
        prof=replace(PUBLIC, map_types=frozenset({"hash"})),
    ),
    Case(
        "map-count",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: too many maps for a device",
        "ENOMEM",
        maps=tuple(MapSpec(f"m{i}", MapType.ARRAY, 4, 8, 1) for i in range(129)),
    ),
    Case(
        "map-elements",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map with too many elements: 2000000, left: 48000",
        "ENOMEM",
        maps=(MapSpec("a", MapType.ARRAY, 4, 8, 2_000_000), MapSpec("b", MapType.HASH, 4, 8, 2_000_000)),
    ),
    Case(
        "map-entry-size",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map elements too large: 72, FW max element size (key+value): 64",
        "ENOMEM",
        maps=(MapSpec("wide", MapType.HASH, 8, 60, 4),),
    ),
    Case(
        "map-key-size",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map key size 60, FW max is 56",
        "ENOMEM",
        maps=(MapSpec("k", MapType.HASH, 60, 4, 4),),
        prof=replace(PUBLIC, max_elem=256),
    ),
    Case(
        "map-value-size",
        "r0 = 2\nexit",
        "map",
        None,
        "NFP net bpf: map value size 100, FW max is 56",
        "ENOMEM",
        maps=(MapSpec("v", MapType.HASH, 4, 100, 4),),
        prof=replace(PUBLIC, max_elem=256),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refusal(case: Case) -> None:
    verdict = check(case.text, case.prog_type, case.maps, case.prof, **case.env)
    assert not verdict.ok
    first = verdict.errors[0]
    pc = label_pc(case.text, case.pc) if isinstance(case.pc, str) else case.pc
    assert (first.stage, first.pc, first.text, first.errno) == (case.stage, pc, case.message, case.errno)
    assert first.hint and first.rule
    assert verdict.stage == case.stage
    # the first failing stage ends the load: no error of a later stage is reported
    assert all(STAGES.index(m.stage) <= STAGES.index(case.stage) for m in verdict.messages)


def test_one_rule_per_case() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


# ----------------------------------------------------------------------------------------
# What passes.


@pytest.mark.parametrize(
    ("text", "prog_type", "prof"),
    [
        ("r0 = 2\nexit", "xdp", PUBLIC),
        ("r0 = 2\nexit", "tc", PUBLIC),  # TC_ACT_SHOT
        ("r0 = -1\nexit", "tc", PUBLIC),  # TC_ACT_UNSPEC: > 7 as unsigned, means pass
        ("r0 = 4\nexit", "tc", PUBLIC),  # STOLEN
        ("r0 = 0\nexit", "xdp", PUBLIC),  # XDP has no exit check
        ("r0 = *(u32 *)(r1 + 0)\nr0 = 2\nexit", "tc", PUBLIC),  # skb->len
        ("r2 = 1\n*(u32 *)(r1 + 16) = r2\nr0 = 2\nexit", "xdp", PUBLIC),  # queue select
        ("r2 = -14\ncall 44\nr0 = 2\nexit", "xdp", PUBLIC),
        ("r2 = -4\ncall 65\nr0 = 2\nexit", "xdp", PUBLIC),
        ("call 7\nr0 = 2\nexit", "xdp", PUBLIC),
        ("r1 = 0\n*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 4)\nr0 = 2\nexit", "raw", PUBLIC),
        ("r0 = *(u32 *)(r1 + 4)\nexit", "raw", PUBLIC),  # raw: r1 is the packet (the memory)
        ("r0 = 100\nr0 /= 7\nw0 &= 0xff\nw0 *= 3\nexit", "xdp", PUBLIC),  # bounded after the div
    ],
)
def test_accepted_with_facts(text: str, prog_type: str, prof: DeviceProfile) -> None:
    verdict = check(text, prog_type, prof=prof)
    assert verdict.ok, [str(m) for m in verdict.messages]
    assert verdict.stage is None and not verdict.errors
    assert verdict.facts is not None
    assert verdict.facts.at(0) is not None


def test_a_quotient_is_unbounded_as_the_kernel_tracks_it() -> None:
    """This kernel's verifier leaves a quotient as an unknown 64-bit scalar (its level-2
    log shows R0=scalar() after a division), and the NFP hook checks multiplier ranges on
    those states: a product of a quotient is refused unless the program bounds it first."""
    verdict = check("r0 = 100\nr0 /= 7\nw0 *= 3\nexit", "xdp", prof=PUBLIC)
    assert [(m.pc, m.text) for m in verdict.errors] == [(2, "[nfp] multiplier is not within u32 value range")]


def test_map_program_accepted() -> None:
    text = LOOKUP + "r1 = *(u32 *)(r0 + 4)\nr2 = 1\nlock *(u64 *)(r0 + 8) += r2\n" + OUT
    verdict = check(text, maps=(ARRAY, MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2)))
    assert verdict.ok, [str(m) for m in verdict.messages]


def test_host_writes_after_the_load_do_not_poison() -> None:
    text = LOOKUP + "r1 = 1\nlock *(u32 *)(r0 + 8) += r1\n" + OUT
    entries = (("arr", bytes(4), bytes(8) + (5).to_bytes(4, "little") + bytes(4)),)
    prog = program(text)
    env = Environment(maps=(ARRAY,), map_entries=entries)
    assert not verify(prog, env, PUBLIC).ok
    assert verify(prog, env, PUBLIC, host_writes_first=False).ok
    # a byte-swap-neutral word (same bytes either way round) does not poison the counter
    neutral = (("arr", bytes(4), bytes(8) + b"\x07\x07\x07\x07" + bytes(4)),)
    assert verify(prog, Environment(maps=(ARRAY,), map_entries=neutral), PUBLIC).ok


def test_update_then_atomic_and_atomic_then_update() -> None:
    """The update writes a non-zero stack word into a map word: it may not become a counter
    afterwards; a word already used as a counter may only be written as zero."""
    maps = (ARRAY,)
    update = (
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 5\n*(u64 *)(r10 - 24) = r1\nr1 = 0\n*(u64 *)(r10 - 16) = r1\n"
        "r2 = r10\nr2 += -8\nr3 = r10\nr3 += -24\nr1 = map[idx:0]\nr4 = 0\ncall 2\n"
    )
    atomic = LOOKUP + "r1 = 1\nlock *(u64 *)(r0 + 0) += r1\n"
    first_update = check(update + atomic + OUT, maps=maps, prof=AGILIO)
    assert first_update.errors[0].text == (
        "[nfp] atomic counter in map value may already be initialized to non-zero value off: 0"
    )
    # the atomic add first (its pc is lower, so the analysis reaches it first on this straight line)
    first_atomic = check(atomic + update + OUT, maps=maps, prof=AGILIO)
    message = first_atomic.errors[0]
    assert message.text == (
        "[nfp] value at offset 0/23 may be non-zero, bpf_map_update_elem() is required to initialize "
        "atomic counters to zero to avoid offload endian issues"
    )
    # a zero value is fine
    zeroed = check(atomic + update.replace("r1 = 5", "r1 = 0") + OUT, maps=maps, prof=AGILIO)
    assert zeroed.ok, [str(m) for m in zeroed.messages]


def test_event_output_is_accepted_with_the_drivers_warning() -> None:
    text = (
        "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr4 = r10\n"
        "r4 += -8\nr5 = 8\nr1 = r6\ncall 25\nr0 = 2\nexit"
    )
    verdict = check(text, maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),), prof=AGILIO)
    assert verdict.ok
    assert [m.text for m in verdict.warnings] == [
        "[nfp] warning: return codes and behavior of event_output helper differ for offload!",
        "bpf: note: return codes and behavior of bpf_event_output() helper differs for offloaded programs!",
    ]


def test_event_output_pointer_type_changes_between_paths() -> None:
    text = (
        "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr7 = r10\nr7 += -8\ncall 7\nif r0 > 5 goto call\n"
        "r7 = 0\ncall:\nr4 = r7\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr5 = 8\nr1 = r6\nbad:\ncall 25\n"
        "r0 = 2\nexit"
    )
    verdict = check(text, maps=(MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),), prof=AGILIO)
    first = verdict.errors[0]
    assert (first.pc, first.errno) == (label_pc(text), "EINVAL")
    # the kernel explores the fall-through side of a branch first: NULL (a scalar) first, then the stack
    assert first.text == "[nfp] event_output: ptr type changed: 1 6"


def test_pointer_type_changes_between_paths() -> None:
    text = (
        "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto out\n"
        "r6 = r2\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr7 = r10\nr7 += -8\ncall 7\nif r0 > 5 goto load\n"
        "r7 = r6\nload:\nbad:\nr0 = *(u32 *)(r7 + 0)\n" + OUT
    )
    verdict = check(text)
    first = verdict.errors[0]
    assert (first.stage, first.pc, first.errno) == ("verifier", label_pc(text), "EINVAL")
    assert first.text == "[nfp] ptr type changed for instruction 8 -> 6"  # fall-through (packet) first


def test_stack_access_changes_location_between_paths() -> None:
    # offsets -8 and -6 differ modulo 4 (C remainders 0 and -2): refused; -8 and -4 agree.
    base = (
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr7 = r10\nr7 += -8\ncall 7\nif r0 > 5 goto load\nr7 += {step}\n"
        "load:\nbad:\nr0 = *(u8 *)(r7 + 0)\nr0 = 2\nexit"
    )
    verdict = check(base.format(step=2))
    first = verdict.errors[0]
    assert (first.stage, first.pc) == ("verifier", label_pc(base.format(step=2)))
    assert first.text == "[nfp] stack access changed location was:-6 is:-8"  # fall-through first
    assert check(base.format(step=4)).ok


def test_first_failing_visit_wins() -> None:
    """Two refusable instructions: the first the exploration reaches is the one reported."""
    verdict = check("r0 = 7\nr0 /= -3\nr0 %= 3\nexit")
    assert [m.pc for m in verdict.errors] == [1]


def test_stack_budget_counts_callee_frames() -> None:
    """§1.5: round_up(depth, 64) per frame of the deepest chain; callees add 4 bytes of
    return address, and 32 more when they write r6-r9."""
    text = (
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\ncall a\nr0 = 2\nexit\n"
        "a:\nr1 = 0\n*(u64 *)(r10 - 64) = r1\ncall b\nr0 = 0\nexit\n"
        "b:\nr6 = 0\n*(u64 *)(r10 - 8) = r6\nr0 = 0\nexit"
    )
    prog = program(text)
    analysis = analyse(prog, Environment())
    # main 8 -> 64; a 64 + 4 -> 128; b 8 + 4 + 32 -> 64
    assert stack_usage(prog, analysis) == 64 + 128 + 64
    assert verify(prog, Environment(), PUBLIC).ok
    small = replace(PUBLIC, stack_size=192)
    assert (
        verify(prog, Environment(), small).errors[0].text
        == "[nfp] stack too large: program 256B > FW stack 192B"
    )


def test_mtu_within_the_split_is_accepted() -> None:
    case = next(c for c in CASES if c.name == "mtu-split")
    assert check(case.text).ok  # MTU 1500: min(max_pkt_offset, MTU) <= 1888
    assert not check(case.text, mtu=1889).ok


def test_corner_case_warnings() -> None:
    verdict = check("r0 = 100\nr0 /= 1\nexit")
    assert verdict.ok
    assert [m.rule for m in verdict.warnings] == ["div-by-one"]
    assert all(m.origin == "bpfdbg" and m.severity == "warning" for m in verdict.warnings)
    assert [m.rule for m in check("r0 = 1\nr0 += -2147483648\nexit").warnings] == ["int-min-imm"]


def test_supported_opcode_table_matches_the_isa() -> None:
    """Every opcode the JIT table names exists, and the refused ones are the reference's."""
    from emulator.isa.table import ROWS

    known = {row.opcode for row in ROWS}
    assert SUPPORTED_OPCODES <= known
    refused = known - SUPPORTED_OPCODES
    assert {0x97, 0x9F, 0x94, 0x9C, 0xD4, 0xD7, 0x81, 0x89, 0x91, 0x06, 0x8D} <= refused
    assert refused <= {0x97, 0x9F, 0x94, 0x9C, 0xD4, 0xD7, 0x81, 0x89, 0x91, 0x06, 0x8D} | {0x38, 0x58}


def test_c_hex_prints_zero_without_prefix() -> None:
    assert (c_hex(0), c_hex(0x9F), c_hex(6)) == ("0", "0x9f", "0x6")


def test_image_size() -> None:
    assert check_image_size(PUBLIC.max_insns, PUBLIC) == ()
    ranges = {0: (2, 10), 1: (10, 3000), 2: (3000, 3080)}
    limit, failed = check_image_size(3100, PUBLIC, ranges=ranges, nslots=4)
    assert limit.text == "NFP net bpf: instruction limit reached (3072 NFP instructions)"
    assert (limit.errno, limit.stage) == ("ENOSPC", "translate")
    assert failed.text == "NFP net bpf: Translation failed with error -28 (translated: 2)"
    assert failed.pc == 2
    # only the outro overflows: every instruction was translated
    _, tail = check_image_size(3100, PUBLIC, ranges={0: (2, 10)}, nslots=4)
    assert tail.text.endswith("(translated: 4)")


def test_image_size_replaces_an_attach_refusal() -> None:
    case = next(c for c in CASES if c.name == "mtu-split")
    verdict = check(case.text, mtu=9000)
    assert verdict.stage == "attach"
    bigger = with_image_size(verdict, 5000, PUBLIC, nslots=10)
    assert bigger.stage == "translate" and bigger.insn_store == 5000
    assert all(m.stage != "attach" for m in bigger.messages)
    fits = with_image_size(check("r0 = 2\nexit"), 12, PUBLIC)
    assert fits.ok and fits.insn_store == 12


def test_profile_changes_the_verdict() -> None:
    text = (
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 24) = r1\n*(u64 *)(r10 - 16) = r1\n"
        "r2 = r10\nr2 += -8\nr3 = r10\nr3 += -24\nr1 = map[idx:0]\nr4 = 0\ncall 2\nr0 = 2\nexit"
    )
    assert not check(text, maps=(HASH,), prof=PUBLIC).ok
    assert check(text, maps=(HASH,), prof=AGILIO).ok


def test_extended_registers() -> None:
    """A hand-built program naming BPF_REG_AX (11), as constant blinding would."""
    prog = Program((Insn(0xB7, dst=11, imm=1), Insn(0xB7, dst=0, imm=2), Insn(0x95)), prog_type="xdp")
    verdict = verify(prog, Environment(), PUBLIC)
    assert [(m.pc, m.text, m.errno) for m in verdict.errors] == [
        (0, "[nfp] program uses extended registers - jit hardening?", "EINVAL")
    ]
