"""The known ways an offloaded program behaves differently from the same program on the host,
and the matchers that recognise them in a lockstep divergence.

The catalogue is the 22 behaviour differences of the NFP offload (reference nfp_offload.md
§5), as data: an id, a title, a paragraph that says why, the kind of source the fact rests
on, and whether a divergence it explains is *benign* (only a view or a nondeterministic
value differs; the packet's fate is the same) or changes what happens to the packet on the
device. ``bpfdbg triage`` uses it so that a divergence class reads "known: XDP_REDIRECT
aborts on the device" instead of a bare pair of values, and so that an unexplained class
stands out as a bug to chase (in the offload or in bpfdbg's model of it).

Matchers are deliberately narrow. Each looks at the first divergent instruction, the
differences with every backend's value split into host and device sides, and the program
type, and answers only when *every* difference fits its fact: an explanation that is right
for part of the evidence would hide the part that is a bug. A load-time refusal is
explained by its message (:func:`explain_refusal`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bpfdbg.lockstep import Difference, Divergence
from emulator.isa.fields import CallKind, Class
from emulator.isa.insn import Insn
from emulator.isa.table import Form

MASK64 = (1 << 64) - 1
MASK32 = 0xFFFFFFFF
EINVAL = -22 & MASK32
PLEN_BITS = 14  # the device keeps the packet length in 14 bits (B22)

HELPER_PRANDOM = 7
HELPER_PERF_EVENT_OUTPUT = 25
HELPER_XDP_ADJUST_HEAD = 44
HELPER_XDP_ADJUST_TAIL = 65
MAP_WRITING_HELPERS = frozenset({2, 3})  # map_update_elem, map_delete_elem


@dataclass(frozen=True, slots=True)
class Behaviour:
    """One known difference between host and offloaded execution (reference §5, item
    ``number``). ``sources`` are the reference's confidence tags (code, fw, test, doc,
    inferred); ``benign`` says that a divergence it explains leaves the packet's fate alone."""

    number: int
    id: str
    title: str
    text: str
    sources: tuple[str, ...]
    benign: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "fact": self.number,
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "sources": list(self.sources),
            "benign": self.benign,
        }


CATALOGUE: tuple[Behaviour, ...] = (
    Behaviour(
        1,
        "device-maps",
        "Maps live on the device",
        "An offloaded map is allocated in NIC memory; every host syscall on it (lookup, update, "
        "delete, get_next_key) is a control-message round trip to the firmware, so a dump is not an "
        "atomic snapshot. Host programs cannot use offloaded maps and offloaded programs cannot use "
        "host maps, and two programs share a map only when both are bound to ports of the same ASIC.",
        ("code", "test"),
    ),
    Behaviour(
        2,
        "stale-host-reads",
        "Host reads of device maps can be stale",
        "With multi-entry control messages (ABI 3 and CMSG_MULTI_ENT) the driver prefetches entries "
        "and answers host lookups and get_next_key from that cache for 250 µs. Host updates and "
        "deletes invalidate the cache; writes by the program on the device do not, so the host's view "
        "of a map can lag behind the device's table by up to 250 µs.",
        ("code",),
        benign=True,
    ),
    Behaviour(
        3,
        "atomic-endianness",
        "Atomic counters are big-endian on the device",
        "Words used with atomic add are kept big-endian in device memory and byte-swapped by the "
        "driver when the host reads or writes them. The offload verifier therefore refuses programs "
        "that read those words or initialise them to non-zero from the datapath, and host writes of "
        "non-swap-neutral data into unused words poison them for later atomic use.",
        ("code",),
    ),
    Behaviour(
        4,
        "no-map-value-stores",
        "No stores through map value pointers",
        "The device cannot write a map value through the pointer a lookup returned: a program that "
        "does val->x = y is refused (map writes not supported). Values change only through "
        "bpf_map_update_elem, when the firmware has it, or atomic add.",
        ("code", "test"),
    ),
    Behaviour(
        5,
        "perf-output-async",
        "bpf_perf_event_output is asynchronous on the device",
        "On the device the helper queues the event to the host in a control message and returns "
        "success at once, even when the event is dropped later (perf ring full, map slot unset, event "
        "too big for a message). Events can be reordered and arrive on the ring of the CPU that "
        "handles the control message, which is why BPF_F_CURRENT_CPU is mandatory.",
        ("code", "test"),
    ),
    Behaviour(
        6,
        "xdp-actions",
        "XDP_REDIRECT and unknown XDP actions abort on the device",
        "The device turns the program's return value into a firmware action from its low 32 bits: 0-3 "
        "are ABORTED, DROP, PASS and TX (TX leaves through the same physical port); XDP_REDIRECT (4) "
        "and every larger value take the abort path and the packet is dropped, counted as an abort, "
        "with no warning on the host. On the host XDP_REDIRECT works.",
        ("code", "doc"),
    ),
    Behaviour(
        7,
        "tc-actions",
        "TC verdicts: direct action only, unknown codes pass",
        "Offloaded classifiers run in direct-action mode and R0 must be a known constant at every "
        "exit. TC_ACT_OK, RECLASSIFY, PIPE, REPEAT and REDIRECT are refused at load. On the device "
        "any value above 7, TC_ACT_UNSPEC (-1) included, takes the abort path, which for TC means "
        "pass; STOLEN and QUEUED mean drop.",
        ("code", "test"),
    ),
    Behaviour(
        8,
        "ctx-access",
        "Only data and data_end can be read from the context",
        "The translator knows the context fields data and data_end (and len for TC) only. Reading "
        "data_meta, ingress_ifindex, rx_queue_index, mark, protocol or any other field fails "
        "translation. An offloaded XDP program may write rx_queue_index to steer the packet to a host "
        "queue, which the host does not allow.",
        ("code",),
    ),
    Behaviour(
        9,
        "packet-size",
        "Only the inline packet is reachable; packet length is 14 bits",
        "The program sees the part of the packet the firmware keeps inline; loading is refused when "
        "the MTU could let the program read beyond that split. The device keeps the packet length in "
        "14 bits, so for a frame of 16 KiB or more data_end (and the TC len field) differ from the "
        "host's by a multiple of 16384.",
        ("code",),
    ),
    Behaviour(
        10,
        "adjust-head-window",
        "bpf_xdp_adjust_head works inside the firmware's window",
        "The firmware sets the range the packet start may move within (public firmware: a new start "
        "offset of 44-248 bytes into the buffer, -84/+112 bytes guaranteed); outside it the device "
        "returns -EINVAL (-22) at run time. The host's limit is the XDP headroom. Both keep at least "
        "14 bytes of frame; the device supports no metadata area.",
        ("code", "fw", "test"),
    ),
    Behaviour(
        11,
        "adjust-tail-shrink",
        "bpf_xdp_adjust_tail can only shrink the packet on the device",
        "The device computes the new length with an add whose carry must be set: a delta of zero or "
        "more (growth, or no change) returns -EINVAL (-22), as does a result shorter than 14 bytes. "
        "Since Linux 5.8 the host allows growth into the tailroom and treats a zero delta as a no-op.",
        ("code", "inferred"),
    ),
    Behaviour(
        12,
        "random-source",
        "bpf_get_prandom_u32 reads the device's random register",
        "On the device the helper reads the microengine's PseudoRndNum CSR, seeded by the firmware; "
        "it is not the host's per-CPU generator, so the two sequences are unrelated. A divergence in "
        "the helper's result is expected; what the program does with the number decides whether it "
        "matters.",
        ("code",),
        benign=True,
    ),
    Behaviour(
        13,
        "missing-helpers",
        "Most helpers do not exist on the device",
        "Only map lookup/update/delete, get_prandom_u32, perf_event_output, xdp_adjust_head and "
        "xdp_adjust_tail are translated, each only when the firmware advertises it. Time, printk, "
        "tail calls, redirect, checksum and skb helpers are missing: the offload verifier refuses the "
        "call with unsupported function id: N.",
        ("code", "doc"),
    ),
    Behaviour(
        14,
        "arithmetic-limits",
        "Multiply and divide have 32-bit operand limits",
        "Multiplication takes operands of at most 32 bits; division is by a constant only, with a "
        "dividend of at most 32 bits; there is no modulo, no signed division and no to-LE byte swap. "
        "The checks use the verifier's 64-bit register range even for 32-bit instructions, so w1 *= "
        "w2 is refused when r1 may exceed U32_MAX.",
        ("code",),
    ),
    Behaviour(
        15,
        "stack-budget",
        "The stack budget shrinks with function calls",
        "The firmware stack (512 bytes in public firmware) must hold every frame rounded up to 64 "
        "bytes along the deepest call chain, plus 4 bytes of return address per callee and 32 bytes "
        "per callee that writes R6-R9. Programs at the host's 512-byte limit, or with nested calls, "
        "can be refused.",
        ("code", "test"),
    ),
    Behaviour(
        16,
        "code-size",
        "The instruction store is small",
        "A vNIC's instruction store holds a few thousand NFP instructions (2560 or 3072 in public "
        "firmware configurations) and translation expands each eBPF instruction several-fold, so "
        "programs that load on the host often fail with program too long or instruction limit "
        "reached.",
        ("code", "fw", "doc"),
    ),
    Behaviour(
        17,
        "no-btf-globals",
        "No BTF maps, global data, ring buffers, spin locks or per-CPU maps",
        "Offloaded maps are plain hash and array maps without BTF or flags. Global variables (.data, "
        ".rodata, .bss direct value access), ring buffers, spin locks and per-CPU maps are not "
        "available on the device.",
        ("code", "doc"),
    ),
    Behaviour(
        18,
        "no-test-run",
        "An offloaded program cannot be test-run on the host",
        "The host copy of an offloaded program is never executed; its entry point is a stub and its "
        "program ops are empty, so BPF_PROG_TEST_RUN is not supported for it.",
        ("code", "inferred"),
    ),
    Behaviour(
        19,
        "dead-code",
        "Dead code must be removable, and no hardening registers",
        "The driver mirrors the verifier's dead-code removal in its copy of the program; when it "
        "cannot, the load fails. Constant blinding (bpf_jit_harden) introduces an extra register the "
        "device does not have, and such programs are refused.",
        ("code",),
    ),
    Behaviour(
        20,
        "concurrency",
        "Packets run in parallel on many threads without per-CPU isolation",
        "Many microengine threads process packets at once and map reads through a lookup pointer go "
        "to memory each time. This resembles host XDP across CPUs, but there is no per-CPU map type "
        "to fall back on.",
        ("inferred",),
    ),
    Behaviour(
        21,
        "device-removal",
        "Programs and maps go away with the device",
        "When the netdev disappears an offloaded program moves to another port of the same ASIC if "
        "there is one; otherwise it is orphaned (listed without a device) and its maps are destroyed, "
        "so map access fails with ENODEV.",
        ("code", "test"),
    ),
    Behaviour(
        22,
        "upper-halves",
        "The upper half of a 32-bit ALU result may keep its old value",
        "The host zero-extends every 32-bit ALU result. The NFP writes the upper 32-bit register of "
        "the pair only when the verifier marked the result as read as 64 bits, so the upper half can "
        "keep what it held before. Nothing the program can observe differs; the register view does.",
        ("code",),
        benign=True,
    ),
)

BY_ID: dict[str, Behaviour] = {b.id: b for b in CATALOGUE}


def behaviour(key: str | int) -> Behaviour:
    """A catalogue entry by id (``xdp-actions``) or by its number in reference §5."""
    if isinstance(key, int):
        for entry in CATALOGUE:
            if entry.number == key:
                return entry
        raise KeyError(f"no behaviour difference number {key} (1-{len(CATALOGUE)})")
    try:
        return BY_ID[key]
    except KeyError:
        raise KeyError(f"no behaviour difference {key!r}; known: {', '.join(BY_ID)}") from None


# -- evidence ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """What a matcher judges: the first divergence, the instruction it happened at, the
    program type, which backends model an offload device (the others are the host side),
    and, when known, the packet's length and the device profile's name."""

    divergence: Divergence
    insn: Insn | None
    prog_type: str
    device: frozenset[str]
    packet_len: int | None = None
    profile: str | None = None

    @property
    def fields(self) -> frozenset[str]:
        return self.divergence.fields

    def difference(self, what: str) -> Difference | None:
        for d in self.divergence.differences:
            if d.what == what:
                return d
        return None

    def sides(self, what: str) -> tuple[str, str] | None:
        """(host value, device value) of one difference, when every host backend shows the
        same value and every device backend the same (other) value; None otherwise."""
        d = self.difference(what)
        if d is None:
            return None
        host = {v for name, v in d.values if name not in self.device}
        dev = {v for name, v in d.values if name in self.device}
        if len(host) != 1 or len(dev) != 1:
            return None
        return host.pop(), dev.pop()

    def int_sides(self, what: str) -> tuple[int, int] | None:
        sides = self.sides(what)
        if sides is None:
            return None
        try:
            return int(sides[0], 16), int(sides[1], 16)
        except ValueError:
            return None

    def exit_sides(self) -> tuple[int, int] | None:
        """Both sides' exit codes when the divergence is only in how the run ended and both
        sides exited normally (``exit r0=0x4`` against ``exit r0=0x0``)."""
        sides = self.sides("end")
        if sides is None:
            return None
        codes = [_EXIT.fullmatch(s) for s in sides]
        if codes[0] is None or codes[1] is None:
            return None
        return int(codes[0][1], 16), int(codes[1][1], 16)

    def helper_call(self) -> int | None:
        """The helper id when the divergent instruction calls a helper."""
        insn = self.insn
        if insn is None or insn.info is None or insn.info.form is not Form.CALL:
            return None
        return insn.imm if insn.src == CallKind.HELPER else None


_EXIT = re.compile(r"exit r0=(0x[0-9a-f]+)")
_CLOBBERED = frozenset(f"r{i}" for i in range(6))  # r0 and the argument registers a call clobbers


@dataclass(frozen=True, slots=True)
class Explanation:
    """A catalogue entry that fits a divergence, with what in the evidence fits it."""

    behaviour: Behaviour
    detail: str

    def to_json(self) -> dict[str, object]:
        return {**self.behaviour.to_json(), "detail": self.detail}


Matcher = Callable[[Evidence], str | None]


def _all(fields: Iterable[str], allowed: Callable[[str], bool]) -> bool:
    return all(allowed(f) for f in fields)


def _xdp_actions(ev: Evidence) -> str | None:
    if ev.prog_type != "xdp" or ev.fields != {"end"} or not _is_exit(ev.insn):
        return None
    codes = ev.exit_sides()
    if codes is None:
        return None
    host, dev = codes
    if host > MASK32 and (host & MASK32) < 4 and dev == host & MASK32:
        return (f"r0 is {host:#x}: the host takes the action from its low 32 bits and so does the device "
                "(R0.lo), so the verdict is the same")  # fmt: skip
    if (host & MASK32) < 4 or dev != 0:
        return None
    name = "XDP_REDIRECT" if host & MASK32 == 4 else f"unknown action {host & MASK32}"
    return f"the program returns {name}; the device takes the abort path (XDP_ABORTED)"


def _tc_actions(ev: Evidence) -> str | None:
    if ev.prog_type != "tc" or ev.fields != {"end"} or not _is_exit(ev.insn):
        return None
    codes = ev.exit_sides()
    if codes is None:
        return None
    host, dev = codes
    low = host & MASK32
    if host > MASK32 and low in (2, 4, 5, 7) and dev == low:
        return (f"r0 is {host:#x}: the host takes the verdict from its low 32 bits and so does the device "
                "(R0.lo), so the verdict is the same")  # fmt: skip
    if low <= 7 or dev != 0:
        return None
    name = "TC_ACT_UNSPEC (-1)" if low == MASK32 else f"unknown verdict {low}"
    return f"the program returns {name}; the device passes the packet (TC_ACT_OK)"


def _random_source(ev: Evidence) -> str | None:
    if (
        ev.helper_call() != HELPER_PRANDOM
        or "r0" not in ev.fields
        or not _all(ev.fields, _CLOBBERED.__contains__)
    ):
        return None
    if ev.sides("r0") is None:
        return None
    return "bpf_get_prandom_u32 returned different numbers on the host and the device"


def _adjust_tail(ev: Evidence) -> str | None:
    if ev.prog_type != "xdp" or ev.helper_call() != HELPER_XDP_ADJUST_TAIL:
        return None
    if "r0" not in ev.fields or not _all(ev.fields, _CLOBBERED.__contains__):
        return None
    r0 = ev.int_sides("r0")
    if r0 is None or r0[0] != 0 or r0[1] & MASK32 != EINVAL:
        return None
    return "the host resized the packet (growth or a zero delta); the device refused with -EINVAL (-22)"


def _adjust_head(ev: Evidence) -> str | None:
    if ev.prog_type != "xdp" or ev.helper_call() != HELPER_XDP_ADJUST_HEAD:
        return None
    if "r0" not in ev.fields or not _all(ev.fields, _CLOBBERED.__contains__):
        return None
    r0 = ev.int_sides("r0")
    if r0 is None or {r0[0] & MASK32, r0[1] & MASK32} != {0, EINVAL}:
        return None
    if r0[1] & MASK32 == EINVAL:
        return (
            "the new packet start is outside the firmware's adjust_head window: the device returned -EINVAL"
        )
    return "the host refused the move (-EINVAL) that the firmware's window allows"


def _perf_output(ev: Evidence) -> str | None:
    if ev.helper_call() != HELPER_PERF_EVENT_OUTPUT:
        return None

    def allowed(f: str) -> bool:
        return f in _CLOBBERED or f == "output" or f.startswith("map ")

    if not _all(ev.fields, allowed) or not any(f == "r0" or not f.startswith("r") for f in ev.fields):
        return None  # r1-r5 alone: clobbered argument registers, not the helper's doing
    if "r0" in ev.fields:
        r0 = ev.int_sides("r0")
        if r0 is None or r0[1] != 0:
            return None  # the device always reports success
        host = _signed(r0[0])
        return f"the host's helper returned {host}; the device reports success and delivers later, if at all"
    return "the event was queued to the host asynchronously: its delivery differs from the host's perf ring"


def _packet_size(ev: Evidence) -> str | None:
    insn = ev.insn
    if ev.packet_len is None or ev.packet_len < 1 << PLEN_BITS or insn is None or insn.info is None:
        return None
    if insn.info.form is not Form.LDX or ev.fields != {f"r{insn.dst}"}:
        return None
    values = ev.int_sides(f"r{insn.dst}")
    if values is None:
        return None
    lost = ev.packet_len - (ev.packet_len & ((1 << PLEN_BITS) - 1))
    if (values[0] - values[1]) & MASK64 != lost:
        return None
    return f"the {ev.packet_len}-byte packet's length is {ev.packet_len - lost} in the device's 14-bit field"


def _stale_reads(ev: Evidence) -> str | None:
    if not ev.fields or not _all(ev.fields, lambda f: f.startswith("map ")):
        return None
    insn = ev.insn
    writes = insn is not None and insn.info is not None and insn.info.form is Form.ATOMIC
    if not (writes or ev.helper_call() in MAP_WRITING_HELPERS):
        return None
    if not _profile_caches(ev.profile):
        return None
    return (
        "the device's table changed on the datapath while the host's view of it comes from the driver's "
        "250 µs read cache, which such writes do not invalidate"
    )


def _upper_halves(ev: Evidence) -> str | None:
    insn = ev.insn
    if insn is None or insn.info is None or insn.info.cls is not Class.ALU:
        return None
    if insn.info.form not in (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.MOVSX):
        return None
    reg = f"r{insn.dst}"
    if ev.fields != {reg}:
        return None
    values = ev.int_sides(reg)
    if values is None:
        return None
    host, dev = values
    if host >> 32 != 0 or dev >> 32 == 0 or host & MASK32 != dev & MASK32:
        return None
    return (
        f"{reg}'s low 32 bits agree ({host & MASK32:#x}); the device kept the old upper half ({dev >> 32:#x})"
    )


def _is_exit(insn: Insn | None) -> bool:
    return insn is not None and insn.info is not None and insn.info.form is Form.EXIT


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _profile_caches(name: str | None) -> bool:
    """Whether the device profile answers host map reads from the driver's cache (ABI 3
    with multi-entry messages). Unknown profiles, or no profile module: no."""
    if name is None:
        return False
    try:
        from emulator.backends.nic.profiles import profile  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    try:
        return bool(getattr(profile(name), "multi_ent", False))
    except KeyError:
        return False


MATCHERS: tuple[tuple[str, Matcher], ...] = (
    ("xdp-actions", _xdp_actions),
    ("tc-actions", _tc_actions),
    ("random-source", _random_source),
    ("adjust-tail-shrink", _adjust_tail),
    ("adjust-head-window", _adjust_head),
    ("perf-output-async", _perf_output),
    ("packet-size", _packet_size),
    ("stale-host-reads", _stale_reads),
    ("upper-halves", _upper_halves),
)
"""Catalogue ids with a matcher: the differences that can show up as a lockstep divergence.
The others are load-time limits (explained by :func:`explain_refusal`) or not observable by
comparing one packet's run."""


def explain(evidence: Evidence) -> Explanation | None:
    """The known behaviour difference that explains a divergence, or None. Only between a
    host backend and a device backend: two host backends must always agree."""
    names = {name for d in evidence.divergence.differences for name, _ in d.values}
    if not evidence.device & names or not names - evidence.device:
        return None
    for key, matcher in MATCHERS:
        detail = matcher(evidence)
        if detail is not None:
            return Explanation(BY_ID[key], detail)
    return None


_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"unsupported function id", "missing-helpers"),
        (r"adjust_head", "adjust-head-window"),
        (r"adjust_tail", "adjust-tail-shrink"),
        (r"stack too large", "stack-budget"),
        (r"program too long|instruction limit reached", "code-size"),
        (r"multipl|divisor|dividend|divide by negative", "arithmetic-limits"),
        (r"map writes not supported", "no-map-value-stores"),
        (r"cannot be offloaded|map type not supported|per-?cpu|ring ?buf|spin.?lock", "no-btf-globals"),
        (r"atomic counters|may be non-zero|offload endian", "atomic-endianness"),
        (r"unsupported exit state", "tc-actions"),
        (r"packet split boundary", "packet-size"),
        (r"no direct value access|BTF|map type not supported", "no-btf-globals"),
        (r"branch hard wire|instruction replacement|extended registers", "dead-code"),
        (r"offload device mismatch", "device-maps"),
        (r"ctx|context", "ctx-access"),
    )
)


def explain_refusal(message: str) -> Behaviour | None:
    """The known limit behind one of the offload's refusal messages (``[nfp] unsupported
    function id: 51`` -> missing helpers), or None."""
    for pattern, key in _REFUSALS:
        if pattern.search(message):
            return BY_ID[key]
    return None


def explanation_lines(ex: Explanation | None) -> list[str]:
    """How an explanation reads under a divergence in the console: the known behaviour
    (and whether it is benign) and the evidence, or that none fits."""
    if ex is None:
        return ["  no known host/offload behaviour difference explains this"]
    kind = "benign" if ex.behaviour.benign else "the packet's fate differs on the device"
    return [
        f"  known behaviour ({kind}): [{ex.behaviour.number} {ex.behaviour.id}] {ex.behaviour.title}",
        f"    {ex.detail}",
    ]


def explain_in_session(session: Any, div: Divergence, names: Sequence[str]) -> list[str]:
    """The explanation lines for a divergence found in a debugging session, when one of
    the backends models an offload device (between host backends nothing may excuse a
    divergence, so nothing is said)."""
    from emulator.backends.base import create

    device = frozenset(n for n in names if getattr(create(n).capabilities, "may_refuse", False))
    if not device:
        return []
    prog = session.program_named(div.program) if div.program else session.program
    insn = prog.insn_at(div.pc)
    packet = session.input_packet
    evidence = Evidence(div, insn, prog.prog_type, device, len(packet) if packet is not None else None,
                        session.device_profile)  # fmt: skip
    return explanation_lines(explain(evidence))
