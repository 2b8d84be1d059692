"""What the NFP offload says when it refuses a program, as data: the message catalogue.

Every refusal the real system can produce has one builder here, so the exact texts live in
one place. A message carries the stage at which the real system reports it (map creation,
BPF_PROG_LOAD, the core verifier, the driver's verifier hook, finalize, translation, attach),
the text exactly as it appears there (with the driver's prefix: ``[nfp] `` in the verifier
log, ``NFP net bpf: `` in dmesg, ``nfp: `` in the netlink extack), the errno, the eBPF pc, and
a one-sentence hint saying what to change. Texts come from reference nfp_offload.md §4.

Where the real system prints nothing (a bare errno) or behaves differently from what bpfdbg
does (ISA v4 forms the driver silently miscompiles, corner cases §10 flags), ``origin`` is
"bpfdbg" and the text is ours; ``detail`` explains the cause in bpfdbg's words when the real
text does not (a translation failure prints only an errno and a count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from emulator.maps.spec import MapSpec

if TYPE_CHECKING:
    from emulator.backends.nic.facts import ProgramFacts

Stage = Literal["map", "load", "core", "verifier", "finalize", "translate", "attach"]
STAGES: Final[tuple[Stage, ...]] = ("map", "load", "core", "verifier", "finalize", "translate", "attach")
"""In the order a load meets them: libbpf creates the maps, then BPF_PROG_LOAD runs the core
verifier (whose do_check calls the driver's hook per instruction visit, then finalize), then
the JIT translates; attaching the program to the port is last."""

Origin = Literal["nfp", "kernel", "bpfdbg"]
Severity = Literal["error", "warning"]

VERIFIER_PREFIX: Final = "[nfp] "
DMESG_PREFIX: Final = "NFP net bpf: "
EXTACK_PREFIX: Final = "nfp: "


@dataclass(frozen=True, slots=True)
class OffloadMessage:
    """One line the offload produces (or, with origin "bpfdbg", one bpfdbg adds)."""

    stage: Stage
    pc: int | None
    text: str
    errno: str  # "EINVAL", "EOPNOTSUPP", ...; "" when the real system does not fail here
    hint: str
    severity: Severity = "error"
    rule: str = ""  # a stable id ("unsupported-opcode", "map-writes"), for grouping and tests
    origin: Origin = "nfp"
    detail: str = ""

    def __str__(self) -> str:
        where = f"insn {self.pc}: " if self.pc is not None else ""
        errno = f" ({self.errno})" if self.errno else ""
        return f"{where}{self.severity}: {self.text}{errno}"


@dataclass(frozen=True)
class OffloadVerdict:
    """The offload's answer for one program on one device profile.

    ``messages`` are the first failing stage's errors (the real load stops there) plus the
    warnings met on the way. ``facts`` is the analysis projection the translator uses (None
    when the analysis could not run). ``insn_store`` is the translated image size, filled in
    by the backend after translating.
    """

    ok: bool
    messages: tuple[OffloadMessage, ...]
    facts: ProgramFacts | None
    insn_store: int | None = None

    @property
    def errors(self) -> tuple[OffloadMessage, ...]:
        return tuple(m for m in self.messages if m.severity == "error")

    @property
    def warnings(self) -> tuple[OffloadMessage, ...]:
        return tuple(m for m in self.messages if m.severity == "warning")

    @property
    def stage(self) -> Stage | None:
        """The stage that refused the program (None when it was accepted)."""
        errors = self.errors
        return errors[0].stage if errors else None


# ----------------------------------------------------------------------------------------
# Formatting as the C code prints it.


def c_hex(value: int) -> str:
    """printf("%#x"): "0x1f", but a bare "0" for zero."""
    return f"{value:#x}" if value else "0"


def tnum_str(value: int, mask: int) -> str:
    """The kernel's tnum_strn(): "(value; mask)", each printed with %#llx."""
    return f"({c_hex(value)}; {c_hex(mask)})"


# enum bpf_reg_type as recent kernels number it; the driver prints these numbers. Scalar 1,
# map value 4, stack 6 and packet 8 are pinned by the firmware ABI, the others depend on
# the kernel version (these are 6.x's; a nullable map value is PTR_TO_MAP_VALUE |
# PTR_MAYBE_NULL).
REG_TYPE_NUMBERS: Final = {
    "uninit": 0,
    "scalar": 1,
    "ctx": 2,
    "map_ptr": 3,
    "map_value": 4,
    "stack": 6,
    "packet_meta": 7,
    "packet": 8,
    "packet_end": 9,
    "map_value_or_null": 4 | 1 << 8,
}
OTHER_REG_TYPE: Final = 16  # PTR_TO_BTF_ID, the commonest pointer the model does not track


def reg_type_number(kind: str) -> int:
    return REG_TYPE_NUMBERS.get(kind, OTHER_REG_TYPE)


def _verifier(
    pc: int | None,
    text: str,
    errno: str,
    hint: str,
    rule: str,
    *,
    severity: Severity = "error",
    detail: str = "",
) -> OffloadMessage:
    return OffloadMessage("verifier", pc, VERIFIER_PREFIX + text, errno, hint, severity, rule, "nfp", detail)


# ----------------------------------------------------------------------------------------
# The driver's verifier hook: instructions and registers (§4.2).

_OPCODE_HINTS: Final = {
    0x97: "compute the remainder as x - (x / K) * K with a constant K, or keep the modulo on the host",
    0x9F: "compute the remainder as x - (x / K) * K with a constant K, or keep the modulo on the host",
    0x94: "compute the remainder as x - (x / K) * K with a constant K, or keep the modulo on the host",
    0x9C: "compute the remainder as x - (x / K) * K with a constant K, or keep the modulo on the host",
    0xD4: "on a little-endian host le16/le32 only truncate: mask the value (& 0xffff) or move it as 32 bits",
    0xD7: "use be16/be32/be64 (to big endian), which the NFP JIT translates, or build for -mcpu=v3",
    0x81: "load unsigned and sign-extend with a shift pair (<<= then s>>=), or build for -mcpu=v3",
    0x89: "load unsigned and sign-extend with a shift pair (<<= then s>>=), or build for -mcpu=v3",
    0x91: "load unsigned and sign-extend with a shift pair (<<= then s>>=), or build for -mcpu=v3",
    0x06: "build for -mcpu=v3 so that LLVM emits 16-bit goto offsets (gotol is ISA v4)",
    0x38: "load the 8 bytes as two 4-byte loads",
    0x58: "load the 8 bytes as two 4-byte loads",
    0x8D: "call the function directly: indirect calls (callx) have no NFP translation",
}


def unsupported_opcode(pc: int, opcode: int) -> OffloadMessage:
    hint = _OPCODE_HINTS.get(
        opcode, "rewrite the instruction with one the NFP JIT translates (reference §3.1)"
    )
    return _verifier(pc, f"instruction {c_hex(opcode)} not supported", "EINVAL", hint, "unsupported-opcode")


def extended_registers(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "program uses extended registers - jit hardening?",
        "EINVAL",
        "turn constant blinding off for offloaded programs (sysctl net.core.bpf_jit_harden=0)",
        "extended-registers",
    )


def isa_v4_alu(pc: int, what: str, wrong: str) -> OffloadMessage:
    """ISA v4 forms that share an opcode with an older instruction: the driver never looks at
    the offset field, so the real hardware would run the older instruction (§10.4)."""
    return OffloadMessage(
        "verifier",
        pc,
        f"bpfdbg: {what} (ISA v4) cannot be offloaded: the NFP driver does not tell it from {wrong} and "
        f"would silently translate it as {wrong}",
        "",
        "build for -mcpu=v3, or write the sign handling out with shifts and compares",
        "error",
        "isa-v4",
        "bpfdbg",
    )


# ----------------------------------------------------------------------------------------
# Helper calls (§4.4).

_HELPER_HINTS: Final = {
    5: "the device has no clock: take timestamps on the host, or drop them",
    6: "remove the bpf_trace_printk() calls from the offloaded program",
    12: "tail calls cannot be offloaded: merge the programs, or dispatch with bpf-to-bpf calls",
    23: "the device can only pass, drop or bounce (XDP_TX) a packet: redirect on the host",
    51: "the device can only pass, drop or bounce (XDP_TX) a packet: redirect on the host",
    54: "the device has no XDP metadata area: carry the data in the packet or a map",
    8: "per-CPU state does not exist on the device: use a plain array and atomic adds",
}


def unsupported_function(pc: int, func_id: int, *, kfunc: bool = False) -> OffloadMessage:
    hint = _HELPER_HINTS.get(
        func_id,
        "use only helpers the firmware offers (map lookup/update/delete, get_prandom_u32, "
        "perf_event_output, xdp_adjust_head/tail) or keep this part on the host",
    )
    detail = "a kfunc call: the driver treats it as a helper whose id is the BTF id" if kfunc else ""
    if kfunc:
        hint = "kernel functions cannot be called from the device: keep this call on the host"
    return _verifier(
        pc, f"unsupported function id: {func_id}", "EOPNOTSUPP", hint, "unsupported-helper", detail=detail
    )


def adjust_head_not_supported(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "adjust_head not supported by FW",
        "EOPNOTSUPP",
        "this firmware cannot move the packet head: pick a profile with ADJUST_HEAD or keep the "
        "encapsulation on the host",
        "adjust-head-fw",
    )


def adjust_head_needs_meta(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "adjust_head: FW requires shifting metadata, not supported by the driver",
        "EOPNOTSUPP",
        "the driver supports only firmware whose ADJUST_HEAD has the NO_META flag: use such firmware",
        "adjust-head-meta",
    )


def adjust_tail_not_supported(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "adjust_tail not supported by FW",
        "EOPNOTSUPP",
        "this firmware cannot trim packets: pick a profile with ADJUST_TAIL or trim on the host",
        "adjust-tail-fw",
    )


def map_helper_not_supported(pc: int, fname: str) -> OffloadMessage:
    verb = {"map_update": "update", "map_delete": "delete"}.get(fname, "look up")
    return _verifier(
        pc,
        f"{fname}: not supported by FW",
        "EOPNOTSUPP",
        f"this firmware cannot {verb} map entries from the datapath: do it from user space, or pick a "
        "profile whose firmware has the helper (nfp-agilio)",
        "map-helper-fw",
    )


def map_helper_ptr_type(pc: int, fname: str, reg_type: int, arg: str) -> OffloadMessage:
    return _verifier(
        pc,
        f"{fname}: unsupported ptr type {reg_type}",
        "EOPNOTSUPP",
        f"copy the {arg} to the stack and pass a pointer to the stack copy",
        "helper-arg-not-stack",
    )


def stack_arg_variable(pc: int, fname: str) -> OffloadMessage:
    return _verifier(
        pc,
        f"{fname}: variable pointer",
        "EOPNOTSUPP",
        "pass a stack pointer at a constant offset from r10",
        "helper-arg-variable",
    )


def stack_arg_unaligned(pc: int, fname: str, off: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"{fname}: unaligned stack pointer {off}",
        "EOPNOTSUPP",
        "place the helper's stack buffer at a 4-byte aligned offset from r10",
        "helper-arg-unaligned",
    )


def update_atomic_nonzero(pc: int, value_off: int, stack_off: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"value at offset {value_off}/{stack_off} may be non-zero, bpf_map_update_elem() is required to "
        "initialize atomic counters to zero to avoid offload endian issues",
        "EOPNOTSUPP",
        "zero the counter words of the value on the stack before bpf_map_update_elem() and count with "
        "atomic adds only",
        "update-atomic-nonzero",
    )


def random_not_supported(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "bpf_get_prandom_u32(): FW doesn't support random number generation",
        "EOPNOTSUPP",
        "this firmware has no RANDOM capability: derive the value from packet data instead",
        "random-fw",
    )


def event_output_not_supported(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "event_output: not supported by FW",
        "EOPNOTSUPP",
        "this firmware cannot send perf events: count in a map instead, or pick a profile with "
        "perf_event_output (nfp-agilio)",
        "event-output-fw",
    )


def event_output_flags(pc: int, value: int, mask: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"event_output: must use BPF_F_CURRENT_CPU, var_off: {tnum_str(value, mask)}",
        "EOPNOTSUPP",
        "pass BPF_F_CURRENT_CPU (0xffffffff) as the flags' index, as a constant",
        "event-output-flags",
    )


def event_output_ptr_type(pc: int, reg_type: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"event_output: unsupported ptr type: {reg_type}",
        "EOPNOTSUPP",
        "pass the data as a stack, map value or packet pointer (or NULL)",
        "event-output-ptr",
    )


def event_output_ptr_changed(pc: int, old: int, new: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"event_output: ptr type changed: {old} {new}",
        "EINVAL",
        "pass the same kind of pointer (stack, map value or packet) on every path to this call",
        "event-output-ptr-changed",
    )


def event_output_warnings(pc: int) -> tuple[OffloadMessage, OffloadMessage]:
    """The verifier-log warning, and the note dmesg prints once."""
    hint = "do not rely on the return value: the device reports success even when the event is dropped"
    return (
        _verifier(
            pc,
            "warning: return codes and behavior of event_output helper differ for offload!",
            "",
            hint,
            "event-output-warning",
            severity="warning",
        ),
        OffloadMessage(
            "verifier",
            pc,
            "bpf: note: return codes and behavior of bpf_event_output() helper differs for offloaded "
            "programs!",
            "",
            hint,
            "warning",
            "event-output-note",
            "kernel",
            "printed once to dmesg",
        ),
    )


# ----------------------------------------------------------------------------------------
# Memory accesses (§4.5).


def unsupported_ptr_type(pc: int, reg_type: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"unsupported ptr type: {reg_type}",
        "EINVAL",
        "access only the packet, the stack, map values and ctx data/data_end from the device",
        "unsupported-ptr",
    )


def ptr_type_changed(pc: int, old: int, new: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"ptr type changed for instruction {old} -> {new}",
        "EINVAL",
        "use separate load/store instructions for each kind of memory (the compiler merged two paths: "
        "make them differ, e.g. with a barrier or separate helpers)",
        "ptr-type-changed",
    )


def variable_stack_access(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "variable ptr stack access",
        "EINVAL",
        "index stack buffers with constant offsets only (unroll the loop)",
        "variable-stack",
    )


def stack_changed_location(pc: int, was: int, now: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"stack access changed location was:{was} is:{now}",
        "EINVAL",
        "let this instruction reach the stack at offsets that agree modulo 4 on every path",
        "stack-location-changed",
    )


def map_writes(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "map writes not supported",
        "EOPNOTSUPP",
        "change map values with bpf_map_update_elem() or atomic adds (__sync_fetch_and_add), not stores",
        "map-writes",
    )


def map_offset_variable(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "map value offset is variable",
        "EOPNOTSUPP",
        "access map values at constant offsets only",
        "map-offset-variable",
    )


def map_out_of_bounds(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "map value access out-of-bounds",
        "EINVAL",
        "keep map value accesses within the map's value_size",
        "map-oob",
    )


def map_use_conflict(pc: int, old: str, new: str, off: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"map value use type conflict {old} vs {new} off: {off}",
        "EOPNOTSUPP",
        "words used as atomic counters are big-endian on the device: never read them from the program "
        "(read them from user space), keep counters and plain data in separate words",
        "map-use-conflict",
    )


def atomic_may_be_nonzero(pc: int, off: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"atomic counter in map value may already be initialized to non-zero value off: {off}",
        "EOPNOTSUPP",
        "initialise counter words to zero (from user space or with a zeroed bpf_map_update_elem) before "
        "using them with atomic adds",
        "atomic-nonzero",
    )


def store_to_context(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "unsupported store to context field",
        "EOPNOTSUPP",
        "the device's context is read-only, except xdp_md.rx_queue_index: keep such stores on the host",
        "ctx-store",
    )


def queue_select_not_supported(pc: int) -> OffloadMessage:
    return _verifier(
        pc,
        "queue selection not supported by FW",
        "EOPNOTSUPP",
        "this firmware cannot steer to a queue: pick a profile with QUEUE_SELECT, or drop the store",
        "queue-select-fw",
    )


def atomic_op(pc: int, imm: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"atomic op not implemented: {imm}",
        "EOPNOTSUPP",
        "only a plain atomic add without fetch is offloaded (__sync_fetch_and_add with the result unused)",
        "atomic-op",
    )


def atomic_not_map_value(pc: int, reg_type: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"atomic add not to a map value pointer: {reg_type}",
        "EOPNOTSUPP",
        "apply atomic adds to map values only; use a plain add on the stack or the packet",
        "atomic-not-map",
    )


def atomic_not_scalar(pc: int, reg_type: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"atomic add not of a scalar: {reg_type}",
        "EOPNOTSUPP",
        "add a number, not a pointer",
        "atomic-not-scalar",
    )


# ----------------------------------------------------------------------------------------
# ALU (§4.6).


def alu_message(pc: int, text: str) -> OffloadMessage:
    hints = {
        "multiplier is not within u32 value range": (
            "mask or bound the destination to 32 bits before the multiply (the device multiplies 32 x 32)",
            "mul-range",
        ),
        "multiplicand is not within u32 value range": (
            "mask or bound the source to 32 bits before the multiply (the device multiplies 32 x 32)",
            "mul-range",
        ),
        "sign extended multiplicand won't be within u32 value range": (
            "multiply by a non-negative constant (negate the result afterwards)",
            "mul-negative",
        ),
        "dividend is not within u32 value range": (
            "bound the dividend to 32 bits before the division",
            "div-range",
        ),
        "divisor is not constant": (
            "divide by a constant, or keep this division on the host",
            "div-not-constant",
        ),
        "divisor is not within u32 value range": ("divide by a constant below 2^32", "div-range"),
        "divide by negative constant is not supported": (
            "divide by the positive constant and negate the result",
            "div-negative",
        ),
    }
    hint, rule = hints[text]
    return _verifier(pc, text, "EINVAL", hint, rule)


# ----------------------------------------------------------------------------------------
# Exit (§4.3).


def exit_not_constant(pc: int, reg_type: int, value: int, mask: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"unsupported exit state: {reg_type}, var_off: {tnum_str(value, mask)}",
        "EINVAL",
        "return a constant verdict on every path (branch to one `return TC_ACT_SHOT;` and one other)",
        "exit-not-constant",
    )


def exit_code_refused(pc: int, reg_type: int, imm: int) -> OffloadMessage:
    return _verifier(
        pc,
        f"unsupported exit state: {reg_type}, imm: {imm:x}",
        "EINVAL",
        "return TC_ACT_SHOT (2), TC_ACT_STOLEN (4), TC_ACT_QUEUED (5) or TC_ACT_UNSPEC (-1, pass): the "
        "device refuses OK, RECLASSIFY, PIPE, REPEAT and REDIRECT",
        "exit-code",
    )


# ----------------------------------------------------------------------------------------
# finalize (§4.7).


def stack_too_large(program_bytes: int, fw_bytes: int) -> OffloadMessage:
    return OffloadMessage(
        "finalize",
        None,
        f"{VERIFIER_PREFIX}stack too large: program {program_bytes}B > FW stack {fw_bytes}B",
        "EOPNOTSUPP",
        "use less stack, or fewer nested bpf-to-bpf calls: each frame is rounded up to 64 bytes and "
        "callees add 4 bytes of return address (36 when they use r6-r9)",
        "error",
        "stack-too-large",
    )


# ----------------------------------------------------------------------------------------
# The core kernel verifier for offloaded programs (§4.7).


def no_direct_value_access(pc: int) -> OffloadMessage:
    return OffloadMessage(
        "core",
        pc,
        "no direct value access support for this map type",
        "EINVAL",
        "the device has no global variables: move .data/.rodata/.bss values into an array map and look "
        "them up, or make them #defines",
        "error",
        "global-data",
        "kernel",
    )


# ----------------------------------------------------------------------------------------
# BPF_PROG_LOAD with prog_ifindex (§4.1).


def prog_type_refused(prog_type: str) -> OffloadMessage:
    return OffloadMessage(
        "load",
        None,
        f"bpfdbg: BPF_PROG_LOAD refuses to offload a {prog_type} program (the kernel answers EINVAL and "
        "prints nothing: only XDP and SCHED_CLS programs can be offloaded)",
        "EINVAL",
        "offload XDP or TC (cls_bpf, direct action) programs only; run this one on the host",
        "error",
        "prog-type",
        "bpfdbg",
    )


# ----------------------------------------------------------------------------------------
# Translation (dmesg, §4.8).

ERRNO_VALUES: Final = {"EOPNOTSUPP": 95, "ENOSPC": 28, "EINVAL": 22}


def translation_failed(
    pc: int | None, errno: str, translated: int, hint: str, detail: str, rule: str
) -> OffloadMessage:
    """The JIT's failure line; the load itself then fails with EINVAL."""
    return OffloadMessage(
        "translate",
        pc,
        f"{DMESG_PREFIX}Translation failed with error -{ERRNO_VALUES[errno]} (translated: {translated})",
        "EINVAL",
        hint,
        "error",
        rule,
        "nfp",
        detail,
    )


def instruction_limit(pc: int | None, limit: int) -> OffloadMessage:
    return OffloadMessage(
        "translate",
        pc,
        f"{DMESG_PREFIX}instruction limit reached ({limit} NFP instructions)",
        "ENOSPC",
        "shorten the program (fewer inlined functions, smaller unrolled loops) or use bpf-to-bpf calls",
        "error",
        "insn-limit",
    )


def corner_case(pc: int, text: str, hint: str, rule: str) -> OffloadMessage:
    """§10's corner cases: the real JIT's result is uncertain, so bpfdbg says so."""
    return OffloadMessage("translate", pc, f"bpfdbg: {text}", "", hint, "warning", rule, "bpfdbg")


def analysis_incomplete(problems: str) -> OffloadMessage:
    return OffloadMessage(
        "verifier",
        None,
        f"bpfdbg: the analysis could not follow the whole program ({problems}); checks on the paths "
        "it did not reach are missing",
        "",
        "simplify the control flow the analysis stopped at, or treat this verdict as partial",
        "warning",
        "analysis-incomplete",
        "bpfdbg",
    )


# ----------------------------------------------------------------------------------------
# Attach (netlink extack, §4.9).


MTU_EXTACK: Final = "BPF offload not supported with potential packet access beyond HW packet split boundary"


def mtu_beyond_split(max_pkt_offset: int, mtu: int, fw_mtu: int) -> OffloadMessage:
    return OffloadMessage(
        "attach",
        None,
        EXTACK_PREFIX + MTU_EXTACK,
        "EOPNOTSUPP",
        f"lower the MTU to {fw_mtu} or less, or bound the program's packet accesses below {fw_mtu} bytes",
        "error",
        "mtu",
        "nfp",
        f"the program may read up to byte {max_pkt_offset} and the MTU is {mtu}; the device holds the "
        f"first {fw_mtu} bytes of a packet inline",
    )


# ----------------------------------------------------------------------------------------
# Map creation (§4.10): dmesg lines, or a bare errno from the kernel.


def _map(spec: MapSpec, text: str | None, errno: str, hint: str, rule: str) -> OffloadMessage:
    if text is None:
        return OffloadMessage(
            "map", None, f"bpfdbg: map {spec.name}: {hint}", errno, hint, "error", rule, "bpfdbg"
        )
    return OffloadMessage(
        "map", None, DMESG_PREFIX + text, errno, hint, "error", rule, "nfp", f"creating map {spec.name!r}"
    )


def map_type_refused(spec: MapSpec) -> OffloadMessage:
    hint = {
        "percpu": "use a plain hash or array map (and atomic adds) instead of a per-CPU map",
        "lru": "use a plain hash map and delete entries from user space",
        "lpm": "match prefixes with one hash map per prefix length, or on the host",
        "ringbuf": "report events with bpf_perf_event_output() (perf event array) instead",
        "prog_array": "tail calls cannot be offloaded: merge the programs",
    }
    label = spec.type.label
    advice = next((h for key, h in hint.items() if key in label), "use a hash or array map")
    return OffloadMessage(
        "map",
        None,
        f"bpfdbg: map {spec.name}: type {label} cannot be offloaded (the kernel refuses map_ifindex for it "
        "with EINVAL and prints nothing: only hash and array maps live on the device)",
        "EINVAL",
        advice,
        "error",
        "map-type",
        "bpfdbg",
    )


def map_flags(spec: MapSpec) -> OffloadMessage:
    if spec.is_global_data:
        hint = (
            "the device has no global variables (libbpf creates this map for the "
            f"{spec.section} section): use #defines or an array map you look up"
        )
    else:
        hint = "create the map with map_flags 0 (no BPF_F_NO_PREALLOC, NUMA node or access flags)"
    return _map(spec, "map flags are not supported", "EINVAL", hint, "map-flags")


def map_no_maps_cap(spec: MapSpec) -> OffloadMessage:
    return _map(spec, None, "EOPNOTSUPP", "this firmware offloads no maps at all", "map-fw")


def map_type_not_supported(spec: MapSpec) -> OffloadMessage:
    return _map(
        spec,
        "map type not supported",
        "EOPNOTSUPP",
        f"this firmware does not offload {spec.type.label} maps",
        "map-fw",
    )


def too_many_maps(spec: MapSpec) -> OffloadMessage:
    return _map(
        spec,
        "too many maps for a device",
        "ENOMEM",
        "use fewer maps (merge small ones into one)",
        "map-count",
    )


def too_many_elements(spec: MapSpec, left: int) -> OffloadMessage:
    return _map(
        spec,
        f"map with too many elements: {spec.max_entries}, left: {left}",
        "ENOMEM",
        f"lower max_entries of {spec.name} to at most {left}",
        "map-entries",
    )


def elements_too_large(spec: MapSpec, size: int, fw_max: int) -> OffloadMessage:
    return _map(
        spec,
        f"map elements too large: {size}, FW max element size (key+value): {fw_max}",
        "ENOMEM",
        f"shrink key and value of {spec.name} (each rounded up to 8 bytes, together at most {fw_max})",
        "map-entry-size",
    )


def key_too_large(spec: MapSpec, fw_max: int) -> OffloadMessage:
    return _map(
        spec,
        f"map key size {spec.key_size}, FW max is {fw_max}",
        "ENOMEM",
        f"use a key of at most {fw_max} bytes (hash a longer key into a shorter one)",
        "map-key-size",
    )


def value_too_large(spec: MapSpec, fw_max: int) -> OffloadMessage:
    return _map(
        spec,
        f"map value size {spec.value_size}, FW max is {fw_max}",
        "ENOMEM",
        f"split the value of {spec.name} over several maps of at most {fw_max} bytes",
        "map-value-size",
    )
