"""The NFP offload verifier: does the real offload accept this program, and if not, what does
it say, where, and at which stage.

The real load meets the checks in this order, and so does :func:`verify`:

1. ``map``: libbpf creates the object's maps on the device (perf event arrays stay on the
   host); the kernel refuses types other than hash and array, the driver checks flags and the
   firmware's map geometry (dmesg ``NFP net bpf: ...``).
2. ``load``: BPF_PROG_LOAD with a device binds only XDP and SCHED_CLS programs.
3. ``core``: the core verifier refuses direct access to global data on the device.
4. ``verifier``: the driver's hook runs on every instruction *visit* of the kernel's path
   exploration and accumulates per instruction (pointer type, stack offset, the union of
   ALU ranges, helper argument types) and per map (how each value word is used). The kernel
   stops at the first error, so only the first failing visit is reported.
5. ``finalize``: the stack of the deepest bpf-to-bpf call chain against the firmware stack.
6. ``translate``: the JIT refuses what it has no code for (BPF_ST, context fields other than
   data/data_end/len) and reports how many eBPF instructions it had translated; the image
   size check needs the translation and is :func:`check_image_size`, called by the backend.
7. ``attach``: the packet split against the MTU (netlink extack ``nfp: ...``).

The first stage with an error ends the verdict, as the real load ends there. Warnings (the
driver's perf_event_output warning, bpfdbg's notes on translations §10 of the reference
calls uncertain) are kept from the stages that ran.

Map use state (which value words are read and which are atomic counters, and which were
written with non-zero data) lives on the *map* in the real driver and so spans every program
loaded onto it; here it is rebuilt for each :func:`verify` call from this program alone and
from the host writes the environment describes (map initial contents and
``Environment.map_entries``), taken as written before the load when ``host_writes_first``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from emulator.backends.nic import offload_messages as msg
from emulator.backends.nic.offload_messages import OffloadMessage, OffloadVerdict, reg_type_number
from emulator.backends.nic.profiles import DeviceProfile
from emulator.env import Environment
from emulator.isa.fields import AluOp, AtomicOp, CallKind, Class, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program
from emulator.verifier import Analysis, RegState, Visit, analyse

if TYPE_CHECKING:
    from emulator.backends.nic.facts import ProgramFacts

U32_MAX: Final = (1 << 32) - 1
U64_MAX: Final = (1 << 64) - 1
INT_MIN: Final = -(1 << 31)
BPF_F_INDEX_MASK: Final = 0xFFFFFFFF
BPF_F_CURRENT_CPU: Final = 0xFFFFFFFF
STACK_FRAME_ALIGN: Final = 64
RETURN_ADDRESS_BYTES: Final = 4  # callee frames hold the return address ...
CALLEE_SAVED_BYTES: Final = 32  # ... and r6-r9 when they write them

# Helper ids the driver knows (reference §3.10).
MAP_LOOKUP, MAP_UPDATE, MAP_DELETE = 1, 2, 3
GET_PRANDOM_U32 = 7
PERF_EVENT_OUTPUT = 25
XDP_ADJUST_HEAD = 44
XDP_ADJUST_TAIL = 65
MAP_HELPER_NAMES: Final = {MAP_LOOKUP: "map_lookup", MAP_UPDATE: "map_update", MAP_DELETE: "map_delete"}

# TC verdicts the device refuses as exit codes: <= TC_ACT_REDIRECT except SHOT, STOLEN, QUEUED.
TC_ACT_REDIRECT = 7
TC_ALLOWED_LOW = frozenset({2, 4, 5})

# Context fields the JIT translates (offset -> name), 4-byte loads only (reference §1.8).
XDP_CTX_READS: Final = {0: "data", 4: "data_end"}
TC_CTX_READS: Final = {0: "len", 76: "data", 80: "data_end"}
XDP_RX_QUEUE_INDEX: Final = 16
XDP_MD_FIELDS: Final = {
    0: "data",
    4: "data_end",
    8: "data_meta",
    12: "ingress_ifindex",
    16: "rx_queue_index",
    20: "egress_ifindex",
}
SK_BUFF_FIELDS: Final = {
    0: "len",
    4: "pkt_type",
    8: "mark",
    12: "queue_mapping",
    16: "protocol",
    20: "vlan_present",
    24: "vlan_tci",
    28: "vlan_proto",
    32: "priority",
    36: "ingress_ifindex",
    40: "ifindex",
    44: "tc_index",
    48: "cb[0]",
    52: "cb[1]",
    56: "cb[2]",
    60: "cb[3]",
    64: "cb[4]",
    68: "hash",
    72: "tc_classid",
    76: "data",
    80: "data_end",
    84: "napi_id",
    88: "family",
    92: "remote_ip4",
    96: "local_ip4",
    132: "remote_port",
    136: "local_port",
    140: "data_meta",
    144: "flow_keys",
    152: "tstamp",
    160: "wire_len",
    164: "gso_segs",
    168: "sk",
    176: "gso_size",
    184: "hwtstamp",
}

# Opcodes the NFP JIT has a callback for (reference §3.1); the verifier hook refuses the rest.
_ALU_OPS: Final = (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0)  # no MOD, NEG/END below
_JMP_CONDS: Final = (0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0)


def _supported_opcodes() -> frozenset[int]:
    codes: set[int] = set()
    for cls in (Class.ALU64, Class.ALU):
        for op in _ALU_OPS:
            codes.update((cls | op, cls | op | 0x08))
        codes.add(cls | AluOp.NEG)
    codes.add(Class.ALU | AluOp.END | 0x08)  # be16/32/64 only
    codes.update((0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50))  # lddw, ld_abs/ld_ind W/H/B
    for size in (0x00, 0x08, 0x10, 0x18):
        codes.update((Class.LDX | 0x60 | size, Class.ST | 0x60 | size, Class.STX | 0x60 | size))
    codes.update((Class.STX | 0xC0 | 0x00, Class.STX | 0xC0 | 0x18))  # atomic W/DW
    codes.update((Class.JMP | JmpOp.JA, Class.JMP | JmpOp.CALL, Class.JMP | JmpOp.EXIT))
    for cls in (Class.JMP, Class.JMP32):
        for op in _JMP_CONDS:
            codes.update((cls | op, cls | op | 0x08))
    return frozenset(codes)


SUPPORTED_OPCODES: Final = _supported_opcodes()


# ----------------------------------------------------------------------------------------
# Public entry points.


def verify(
    program: Program,
    env: Environment,
    profile: DeviceProfile,
    *,
    host_writes_first: bool = True,
    analysis: Analysis | None = None,
) -> OffloadVerdict:
    """Every check of the real offload (reference §4), stage by stage; see the module doc.

    ``analysis`` may be given when the caller already has one for this program and env.
    """
    messages: list[OffloadMessage] = []
    early = _map_stage(env.maps, profile) or _load_stage(program) or _core_stage(program, env)
    if not early:
        wide = _extended_registers(program)
        if wide is not None:  # the analysis models r0-r10 only; nothing later matters
            return OffloadVerdict(False, (wide,), None)
    if analysis is None:
        analysis = analyse(program, env)
    facts = _facts(analysis)
    if early:
        return OffloadVerdict(False, tuple(early), facts)
    if not analysis.complete:
        shown = "; ".join(f"insn {pc}: {text}" for pc, text in analysis.problems[:3])
        messages.append(msg.analysis_incomplete(shown or "budget exhausted"))
    hook = _Hook(program, env, profile, host_writes_first)
    for stage in (
        lambda: hook.run(analysis),
        lambda: _finalize_stage(program, analysis, profile),
        lambda: _translate_stage(program, analysis, hook),
        lambda: _attach_stage(analysis, env, profile),
    ):
        found = stage()
        messages.extend(found)
        if any(m.severity == "error" for m in found):
            return OffloadVerdict(False, tuple(messages), facts)
    return OffloadVerdict(True, tuple(messages), facts)


def check_image_size(
    n_nfp_insns: int,
    profile: DeviceProfile,
    *,
    ranges: Mapping[int, tuple[int, int]] | None = None,
    nslots: int | None = None,
    translated: int | None = None,
    pc: int | None = None,
) -> tuple[OffloadMessage, ...]:
    """The JIT's instruction-buffer check, for the backend to call after translating.

    The JIT's buffer holds ``profile.max_insns`` instructions: the push that would exceed it
    prints ``instruction limit reached`` and translation fails with -ENOSPC, counting the
    eBPF instructions (slots) it had translated. With the image's ``ranges`` (pc -> [start,
    end) of its NFP code) the failing instruction is the first whose code does not fit, and
    the count is its pc; when only the outro or tail overflows, every slot (``nslots``) was
    translated. ``translated``/``pc`` override. Empty when the image fits.
    """
    limit = profile.max_insns
    if n_nfp_insns <= limit:
        return ()
    if pc is None and ranges:
        pc = next((p for p in sorted(ranges) if ranges[p][1] > limit), None)
    if translated is None:
        if pc is not None:
            translated = pc
        elif nslots is not None:
            translated = nslots
        else:
            translated = max(ranges) + 1 if ranges else 0
    detail = f"the translated image needs {n_nfp_insns} NFP instructions; the instruction store holds {limit}"
    return (
        msg.instruction_limit(pc, limit),
        msg.translation_failed(
            pc,
            "ENOSPC",
            translated,
            "shorten the program (fewer inlined functions, smaller unrolled loops), or pick a device "
            "with a larger instruction store",
            detail,
            "insn-limit",
        ),
    )


def with_image_size(
    verdict: OffloadVerdict,
    n_nfp_insns: int,
    profile: DeviceProfile,
    *,
    ranges: Mapping[int, tuple[int, int]] | None = None,
    nslots: int | None = None,
    translated: int | None = None,
    pc: int | None = None,
) -> OffloadVerdict:
    """``verdict`` completed with the translated image's size (see :func:`check_image_size`).

    Translation comes before attach: when the image does not fit, its failure replaces an
    attach-stage refusal (the real load never gets to attach).
    """
    if verdict.stage not in (None, "attach"):
        return replace(verdict, insn_store=n_nfp_insns)
    found = check_image_size(n_nfp_insns, profile, ranges=ranges, nslots=nslots, translated=translated, pc=pc)
    if not found:
        return replace(verdict, insn_store=n_nfp_insns)
    kept = tuple(m for m in verdict.messages if m.stage != "attach")
    return replace(verdict, ok=False, messages=kept + found, insn_store=n_nfp_insns)


def _facts(analysis: Analysis) -> ProgramFacts | None:
    try:
        from emulator.backends.nic.facts import program_facts
    except ImportError:  # the projection is optional for the verdict itself
        return None
    return program_facts(analysis)


# ----------------------------------------------------------------------------------------
# Stage 1: map creation.


def _offloaded(spec: MapSpec) -> bool:
    """Every map but a perf event array is created on the device (libbpf/bpftool)."""
    return spec.type is not MapType.PERF_EVENT_ARRAY


def _map_stage(maps: Sequence[MapSpec], profile: DeviceProfile) -> list[OffloadMessage]:
    """One message per map the device refuses (libbpf stops at the first: the first message
    is the one a real load shows); maps that fit count against the firmware's totals."""
    out: list[OffloadMessage] = []
    in_use, elems_in_use = 0, 0
    for spec in maps:
        if not _offloaded(spec):
            continue
        refusal = _map_refusal(spec, profile, in_use, elems_in_use)
        if refusal is not None:
            out.append(refusal)
            continue
        in_use += 1
        elems_in_use += spec.max_entries
    return out


def _round8(n: int) -> int:
    return (n + 7) & ~7


def _map_refusal(spec: MapSpec, profile: DeviceProfile, in_use: int, elems: int) -> OffloadMessage | None:
    if spec.type not in (MapType.HASH, MapType.ARRAY):
        return msg.map_type_refused(spec)
    if not profile.map_types:
        return msg.map_no_maps_cap(spec)
    if spec.flags:
        return msg.map_flags(spec)
    if spec.type not in profile.map_type_ids:
        return msg.map_type_not_supported(spec)
    if in_use >= profile.max_maps:
        return msg.too_many_maps(spec)
    left = profile.max_elems - elems
    if spec.max_entries > left:
        return msg.too_many_elements(spec, left)
    entry = _round8(spec.key_size) + _round8(spec.value_size)
    if entry > profile.max_elem:
        return msg.elements_too_large(spec, entry, profile.max_elem)
    if spec.key_size > profile.max_key:
        return msg.key_too_large(spec, profile.max_key)
    if spec.value_size > profile.max_value:
        return msg.value_too_large(spec, profile.max_value)
    return None


# ----------------------------------------------------------------------------------------
# Stages 2 and 3: BPF_PROG_LOAD and the core verifier.

OFFLOADABLE_TYPES: Final = ("xdp", "tc", "raw")
"""``raw`` is the conformance convention: bpfdbg offloads it as an XDP-like packet program
(its memory is the packet), without a type check."""


def _load_stage(program: Program) -> list[OffloadMessage]:
    if program.prog_type in OFFLOADABLE_TYPES:
        return []
    return [msg.prog_type_refused(program.prog_type)]


def _core_stage(program: Program, env: Environment) -> list[OffloadMessage]:
    """resolve_pseudo_ldimm64: a pseudo map-value lddw (global data) on a device map."""
    for pc, insn in enumerate(program.insns):
        if insn is None or insn.info is None or insn.info.form is not Form.LDDW:
            continue
        if insn.info.variant not in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            continue
        if 0 <= insn.imm < len(env.maps) and _offloaded(env.maps[insn.imm]):
            return [msg.no_direct_value_access(pc)]
    return []


# ----------------------------------------------------------------------------------------
# Stage 4: the driver's per-visit hook.


def _extended_registers(program: Program) -> OffloadMessage | None:
    """Registers above r10 (the JIT hardening's BPF_REG_AX): the hook refuses the first
    instruction naming one. Decoded programs never have them; hand-built ones may."""
    for pc, insn in enumerate(program.insns):
        if insn is not None and (insn.src > 10 or insn.dst > 10):
            return msg.extended_registers(pc)
    return None


def _c_rem(a: int, b: int) -> int:
    """C's ``%`` (the sign follows the dividend)."""
    r = abs(a) % b
    return -r if a < 0 else r


def _var_const(reg: RegState) -> int | None:
    """The variable part of a pointer when it is a known constant (tnum_is_const)."""
    return reg.value if reg.mask == 0 else None


def _type_of(reg: RegState) -> int:
    return reg_type_number(reg.kind)


USE_UNUSED, USE_READ, USE_WRITE, USE_ATOMIC = "unused", "read", "write", "atomic"


@dataclass
class _Word:
    """The driver's per-map record of one 4-byte value word."""

    use: str = USE_UNUSED
    non_zero_update: bool = False


@dataclass
class _InsnMeta:
    """What the driver accumulates per instruction over the visits (its nfp_insn_meta)."""

    ptr: RegState | None = None
    ptr_not_const: bool = False
    umin_src: int = U64_MAX
    umax_src: int = 0
    umin_dst: int = U64_MAX
    umax_dst: int = 0
    func_seen: bool = False
    arg_type: int | None = None
    visits: int = 0


@dataclass
class _Hook:
    program: Program
    env: Environment
    profile: DeviceProfile
    host_writes_first: bool
    metas: dict[int, _InsnMeta] = field(default_factory=dict)
    words: dict[int, dict[int, _Word]] = field(default_factory=dict)
    warnings: list[OffloadMessage] = field(default_factory=list)

    @property
    def is_tc(self) -> bool:
        return self.program.prog_type == "tc"

    def run(self, analysis: Analysis) -> list[OffloadMessage]:
        if self.host_writes_first:
            self._record_host_writes()
        for visit in _exploration_order(analysis):
            insn = self.program.insns[visit.pc]
            if insn is None:
                continue
            meta = self.metas.setdefault(visit.pc, _InsnMeta())
            meta.visits += 1
            error = self._check(visit, insn, meta)
            if error is not None:
                return [*self.warnings, error]
        return list(self.warnings)

    # The map use state. -------------------------------------------------------------

    def _map_words(self, index: int) -> dict[int, _Word]:
        return self.words.setdefault(index, {})

    def _record_host_writes(self) -> None:
        """Host updates of words no program uses yet: a word whose bytes are not the same
        read in either byte order may not be used as an atomic counter later."""
        by_name = {spec.name: i for i, spec in enumerate(self.env.maps)}
        writes: list[tuple[int, bytes]] = []
        for i, spec in enumerate(self.env.maps):
            writes.extend((i, value) for _key, value in spec.initial)
        for name, _key, value in self.env.map_entries:
            if name in by_name:
                writes.append((by_name[name], value))
        for index, value in writes:
            spec = self.env.maps[index]
            if not _offloaded(spec):
                continue
            padded = value[: spec.value_size].ljust((spec.value_size + 3) // 4 * 4, b"\0")
            for w in range(len(padded) // 4):
                word = padded[4 * w : 4 * w + 4]
                if word != word[::-1]:
                    self._map_words(index).setdefault(w, _Word()).non_zero_update = True

    def _mark_used(self, pc: int, index: int, off: int, use: str) -> OffloadMessage | None:
        word = self._map_words(index).setdefault(off // 4, _Word())
        if word.use != USE_UNUSED and word.use != use:
            return msg.map_use_conflict(pc, word.use, use, off)
        if word.non_zero_update and use == USE_ATOMIC:
            return msg.atomic_may_be_nonzero(pc, off)
        word.use = use
        return None

    # The checks, in the order the driver makes them. --------------------------------

    def _check(self, visit: Visit, insn: Insn, meta: _InsnMeta) -> OffloadMessage | None:
        pc = visit.pc
        info = insn.info
        if insn.opcode not in SUPPORTED_OPCODES or info is None:
            return msg.unsupported_opcode(pc, insn.opcode)
        if insn.src > 10 or insn.dst > 10:
            return msg.extended_registers(pc)
        if info.form is Form.MOVSX:
            return msg.isa_v4_alu(pc, f"movsx{info.size}", "a plain move")
        if info.signed and info.op == AluOp.DIV:
            return msg.isa_v4_alu(pc, "sdiv", "an unsigned division")
        form = info.form
        if form is Form.CALL and info.variant != CallKind.LOCAL:
            return self._helper_call(visit, insn, meta)
        if form is Form.EXIT:
            return self._exit(visit)
        if form is Form.LDX:
            return self._check_ptr(visit, insn, meta, visit.regs[insn.src])
        if form is Form.STX:
            return self._check_store(visit, insn, meta)
        if form is Form.ATOMIC:
            return self._check_atomic(visit, insn, meta)
        if info.cls in (Class.ALU, Class.ALU64):
            return self._check_alu(visit, insn, meta)
        return None

    def _exit(self, visit: Visit) -> OffloadMessage | None:
        if not self.is_tc:
            return None
        r0 = visit.regs[0]
        if r0.kind != "scalar" or r0.mask != 0:
            return msg.exit_not_constant(visit.pc, _type_of(r0), r0.value, r0.mask)
        imm = r0.value
        if imm <= TC_ACT_REDIRECT and imm not in TC_ALLOWED_LOW:
            return msg.exit_code_refused(visit.pc, _type_of(r0), imm)
        return None

    def _check_ptr(self, visit: Visit, insn: Insn, meta: _InsnMeta, reg: RegState) -> OffloadMessage | None:
        pc = visit.pc
        kind = reg.kind
        if kind not in ("ctx", "stack", "map_value", "packet"):
            return msg.unsupported_ptr_type(pc, _type_of(reg))
        if kind == "stack":
            error = self._check_stack_access(pc, meta, reg)
            if error is not None:
                return error
        if kind == "map_value":
            assert insn.info is not None
            form = insn.info.form
            if form is Form.LDX:
                error = self._map_access(pc, insn, reg, USE_READ)
            elif form is Form.STX:
                error = msg.map_writes(pc)
            else:
                error = self._map_access(pc, insn, reg, USE_ATOMIC)
            if error is not None:
                return error
        if meta.ptr is not None and meta.ptr.kind != kind:
            return msg.ptr_type_changed(pc, _type_of(meta.ptr), _type_of(reg))
        meta.ptr = reg
        return None

    def _check_stack_access(self, pc: int, meta: _InsnMeta, reg: RegState) -> OffloadMessage | None:
        var = _var_const(reg)
        if var is None:
            return msg.variable_stack_access(pc)
        if meta.ptr is None:
            return None
        old_off = meta.ptr.off + meta.ptr.value
        new_off = reg.off + var
        meta.ptr_not_const |= old_off != new_off
        if not meta.ptr_not_const or _c_rem(old_off, 4) == _c_rem(new_off, 4):
            return None
        return msg.stack_changed_location(pc, old_off, new_off)

    def _map_access(self, pc: int, insn: Insn, reg: RegState, use: str) -> OffloadMessage | None:
        assert insn.info is not None
        var = _var_const(reg)
        if var is None:
            return msg.map_offset_variable(pc)
        off = reg.off + var + insn.off
        size = insn.info.size
        index = reg.map_index
        if index is None or not 0 <= index < len(self.env.maps):
            return None  # a map the analysis could not name: nothing to account against
        if off + size > self.env.maps[index].value_size:
            return msg.map_out_of_bounds(pc)
        i = 0
        while i < size:
            error = self._mark_used(pc, index, off + i, use)
            if error is not None:
                return error
            i += 4 - _c_rem(off + i, 4)
        return None

    def _check_store(self, visit: Visit, insn: Insn, meta: _InsnMeta) -> OffloadMessage | None:
        reg = visit.regs[insn.dst]
        if reg.kind == "ctx":
            if self.program.prog_type != "tc" and reg.off + insn.off == XDP_RX_QUEUE_INDEX:
                if not self.profile.queue_select:
                    return msg.queue_select_not_supported(visit.pc)
            else:
                return msg.store_to_context(visit.pc)
        return self._check_ptr(visit, insn, meta, reg)

    def _check_atomic(self, visit: Visit, insn: Insn, meta: _InsnMeta) -> OffloadMessage | None:
        if insn.imm != AtomicOp.ADD:
            return msg.atomic_op(visit.pc, insn.imm)
        dst, src = visit.regs[insn.dst], visit.regs[insn.src]
        if dst.kind != "map_value":
            return msg.atomic_not_map_value(visit.pc, _type_of(dst))
        if src.kind != "scalar":
            return msg.atomic_not_scalar(visit.pc, _type_of(src))
        return self._check_ptr(visit, insn, meta, dst)

    def _check_alu(self, visit: Visit, insn: Insn, meta: _InsnMeta) -> OffloadMessage | None:
        info = insn.info
        assert info is not None
        src, dst = visit.regs[insn.src], visit.regs[insn.dst]
        meta.umin_src = min(meta.umin_src, src.umin)
        meta.umax_src = max(meta.umax_src, src.umax)
        meta.umin_dst = min(meta.umin_dst, dst.umin)
        meta.umax_dst = max(meta.umax_dst, dst.umax)
        reg_form = info.form is Form.ALU_REG
        pc = visit.pc
        if info.op == AluOp.MUL:
            if meta.umax_dst > U32_MAX:
                return msg.alu_message(pc, "multiplier is not within u32 value range")
            if reg_form and meta.umax_src > U32_MAX:
                return msg.alu_message(pc, "multiplicand is not within u32 value range")
            if info.cls is Class.ALU64 and not reg_form and insn.imm < 0:
                return msg.alu_message(pc, "sign extended multiplicand won't be within u32 value range")
        if info.op == AluOp.DIV:
            if meta.umax_dst > U32_MAX:
                return msg.alu_message(pc, "dividend is not within u32 value range")
            if reg_form:
                if meta.umin_src != meta.umax_src:
                    return msg.alu_message(pc, "divisor is not constant")
                if meta.umax_src > U32_MAX:
                    return msg.alu_message(pc, "divisor is not within u32 value range")
            if not reg_form and insn.imm < 0:
                return msg.alu_message(pc, "divide by negative constant is not supported")
        return None

    # Helper calls (reference §4.4). ---------------------------------------------------

    def _helper_call(self, visit: Visit, insn: Insn, meta: _InsnMeta) -> OffloadMessage | None:
        assert insn.info is not None
        pc, func = visit.pc, insn.imm
        regs = visit.regs
        profile = self.profile
        if insn.info.variant == CallKind.KFUNC:
            return msg.unsupported_function(pc, func, kfunc=True)
        error: OffloadMessage | None = None
        if func == XDP_ADJUST_HEAD:
            head = profile.adjust_head
            if head is None or not head.off_max:
                error = msg.adjust_head_not_supported(pc)
            elif not head.no_meta:
                error = msg.adjust_head_needs_meta(pc)
        elif func == XDP_ADJUST_TAIL:
            if not profile.adjust_tail:
                error = msg.adjust_tail_not_supported(pc)
        elif func in MAP_HELPER_NAMES:
            fname = MAP_HELPER_NAMES[func]
            if not profile.has_helper(func):
                error = msg.map_helper_not_supported(pc, fname)
            else:
                error = self._stack_arg(pc, fname, regs[2], "key")
                if error is None and func == MAP_UPDATE:
                    error = self._stack_arg(pc, fname, regs[3], "value") or self._update_value(visit)
        elif func == GET_PRANDOM_U32:
            if not profile.random:
                error = msg.random_not_supported(pc)
        elif func == PERF_EVENT_OUTPUT:
            error = self._event_output(visit, meta)
        else:
            error = msg.unsupported_function(pc, func)
        if error is None:
            meta.func_seen = True
        return error

    def _stack_arg(self, pc: int, fname: str, reg: RegState, arg: str) -> OffloadMessage | None:
        if reg.kind != "stack":
            return msg.map_helper_ptr_type(pc, fname, _type_of(reg), arg)
        return self._stack_arg_position(pc, fname, reg)

    @staticmethod
    def _stack_arg_position(pc: int, fname: str, reg: RegState) -> OffloadMessage | None:
        var = _var_const(reg)
        if var is None:
            return msg.stack_arg_variable(pc, fname)
        off = reg.off + var
        if _c_rem(-off, 4):
            return msg.stack_arg_unaligned(pc, fname, -off)
        return None

    def _update_value(self, visit: Visit) -> OffloadMessage | None:
        """The value bpf_map_update_elem() writes must be zero in every atomic-counter word;
        its non-zero words may not become counters later."""
        r1, r3 = visit.regs[1], visit.regs[3]
        index = r1.map_index
        if r1.kind != "map_ptr" or index is None or not 0 <= index < len(self.env.maps):
            return None
        spec = self.env.maps[index]
        off = r3.off + r3.value
        words = self._map_words(index)
        for i in range(spec.value_size):
            if _stack_byte_is_zero(visit, r3.frame, off + i):
                continue
            word = words.setdefault(i // 4, _Word())
            if word.use == USE_ATOMIC:
                return msg.update_atomic_nonzero(visit.pc, i, -(off + i) - 1)
            word.non_zero_update = True
        return None

    def _event_output(self, visit: Visit, meta: _InsnMeta) -> OffloadMessage | None:
        pc, regs = visit.pc, visit.regs
        if not self.profile.has_helper(PERF_EVENT_OUTPUT):
            return msg.event_output_not_supported(pc)
        flags = regs[3]
        if flags.mask & BPF_F_INDEX_MASK or (flags.value & BPF_F_INDEX_MASK) != BPF_F_CURRENT_CPU:
            return msg.event_output_flags(pc, flags.value, flags.mask)
        data = regs[4]
        data_type = _type_of(data)
        if data.kind not in ("scalar", "map_value", "stack", "packet"):
            return msg.event_output_ptr_type(pc, data_type)
        if data.kind == "stack":
            error = self._stack_arg_position(pc, "event_output", data)
            if error is not None:
                return error
        if meta.arg_type is not None and meta.arg_type != data_type:
            return msg.event_output_ptr_changed(pc, meta.arg_type, data_type)
        if meta.arg_type is None:
            self.warnings.extend(msg.event_output_warnings(pc))
        meta.arg_type = data_type
        return None


def _stack_byte_is_zero(visit: Visit, frame: int, off: int) -> bool:
    """Whether the stack byte at ``off`` from frame ``frame``'s r10 is known to hold 0 (the
    kernel's STACK_ZERO): from the spilled registers the analysis records (8-byte stores);
    narrower zero stores are not tracked, so their bytes count as possibly non-zero."""
    slot = off - (off % 8)
    spilled = visit.stack.get((frame, slot))
    if spilled is None or spilled.kind != "scalar":
        return False
    shift = 8 * (off - slot)
    return not ((spilled.value | spilled.mask) >> shift) & 0xFF


def _exploration_order(analysis: Analysis) -> Iterator[Visit]:
    """Visits in the order the kernel's path exploration makes them, when the analysis
    numbers them (``Visit.seq``); otherwise by pc, each pc's visits in exploration order."""
    visits: list[Visit] = [v for pc in sorted(analysis.visits_by_pc) for v in analysis.visits_by_pc[pc]]
    if visits and all(hasattr(v, "seq") for v in visits):
        visits.sort(key=lambda v: v.seq)  # type: ignore[attr-defined]
    return iter(visits)


# ----------------------------------------------------------------------------------------
# Stage 5: finalize (stack of the deepest call chain).


def _callees(program: Program, entry: int, end: int) -> Iterator[int]:
    for pc in range(entry, min(end, len(program.insns))):
        insn = program.insns[pc]
        if insn is None or insn.info is None:
            continue
        if insn.info.form is Form.CALL and insn.info.variant == CallKind.LOCAL:
            target = insn.jump_target(pc)
            if target is not None:
                yield target


def stack_usage(program: Program, analysis: Analysis) -> int:
    """The driver's frame budget: over the deepest bpf-to-bpf call chain, the sum of each
    frame's depth rounded up to 64, a callee's depth counting 4 bytes of return address
    and 32 more when it saves r6-r9 (reference §1.5)."""
    subprogs = {s.entry: s for s in analysis.subprogs}
    memo: dict[int, int] = {}

    def frame(entry: int, main: bool) -> int:
        info = subprogs.get(entry)
        if info is None:
            return 0
        depth = info.stack_depth
        if not main:
            depth += RETURN_ADDRESS_BYTES + (CALLEE_SAVED_BYTES if info.writes_callee_saved else 0)
        return -(-depth // STACK_FRAME_ALIGN) * STACK_FRAME_ALIGN

    def chain(entry: int, main: bool, active: frozenset[int]) -> int:
        if entry in memo and not main:
            return memo[entry]
        info = subprogs.get(entry)
        deepest = 0
        if info is not None:
            for callee in _callees(program, info.entry, info.end):
                if callee not in active:  # recursion: the kernel refuses it before us
                    deepest = max(deepest, chain(callee, False, active | {callee}))
        total = frame(entry, main) + deepest
        if not main:
            memo[entry] = total
        return total

    return chain(0, True, frozenset({0}))


def _finalize_stage(program: Program, analysis: Analysis, profile: DeviceProfile) -> list[OffloadMessage]:
    used = stack_usage(program, analysis)
    if used > profile.stack_size:
        return [msg.stack_too_large(used, profile.stack_size)]
    return []


# ----------------------------------------------------------------------------------------
# Stage 6: translation (what the JIT has no code for), plus bpfdbg's notes on §10's corners.


def _ctx_field(prog_type: str, off: int) -> str:
    fields = SK_BUFF_FIELDS if prog_type == "tc" else XDP_MD_FIELDS
    return fields.get(off, f"the field at offset {off}")


def _translate_error(program: Program, pc: int, insn: Insn, visits: Sequence[Visit]) -> OffloadMessage | None:
    info = insn.info
    assert info is not None
    if info.form is Form.ST:
        return msg.translation_failed(
            pc,
            "EOPNOTSUPP",
            pc,
            "store through a register instead (rX = imm; *(size *)(dst + off) = rX), e.g. by building "
            "for -mcpu=v3 or older, where LLVM does not emit BPF_ST",
            "BPF_ST (store of an immediate) has no NFP translation: the driver records pointer types "
            "only for STX, so its store-immediate callback never finds the packet pointer it needs "
            "(reference §10.3, inferred from the driver code)",
            "bpf-st",
        )
    if info.form is Form.LDX:
        base = visits[-1].regs[insn.src]
        if base.kind == "ctx":
            off = base.off + insn.off
            readable = TC_CTX_READS if program.prog_type == "tc" else XDP_CTX_READS
            if info.size != 4 or off not in readable:
                struct = "__sk_buff" if program.prog_type == "tc" else "xdp_md"
                allowed = (
                    " and ".join(readable.values()) if program.prog_type != "tc" else "len, data and data_end"
                )
                name = _ctx_field(program.prog_type, off)
                return msg.translation_failed(
                    pc,
                    "EOPNOTSUPP",
                    pc,
                    f"read only {allowed} from the context (4-byte loads); keep {name} on the host or "
                    "carry it in a map",
                    f"the NFP JIT translates only {allowed} of struct {struct}; this is a {info.size}-byte "
                    f"load of {name}",
                    "ctx-field",
                )
    return None


def _corner_cases(pc: int, insn: Insn, meta: _InsnMeta | None) -> list[OffloadMessage]:
    """§10's corner cases: translations the reference calls uncertain or wrong."""
    info = insn.info
    assert info is not None
    out: list[OffloadMessage] = []
    reg_form = info.form is Form.ALU_REG
    constant_src = meta is not None and meta.umin_src == meta.umax_src
    if info.cls in (Class.ALU, Class.ALU64) and info.op == AluOp.DIV and not info.signed:
        divisor = insn.imm if not reg_form else (meta.umin_src if meta is not None and constant_src else None)
        if divisor == 1:
            out.append(
                msg.corner_case(
                    pc,
                    "division by 1: the NFP JIT emits a shift by 0, which the hardware reads as an indirect "
                    "shift by the latched amount; the device result is uncertain",
                    "drop the division by 1",
                    "div-by-one",
                )
            )
        elif divisor == 0 and reg_form:
            out.append(
                msg.corner_case(
                    pc,
                    "division by a register known to be 0: the NFP JIT computes the reciprocal of 0 (the "
                    "kernel WARNs); the device result is undefined",
                    "test the divisor against 0 before dividing",
                    "div-by-zero",
                )
            )
    if info.cls is Class.ALU64 and info.op in (AluOp.ADD, AluOp.SUB) and not reg_form and insn.imm == INT_MIN:
        out.append(
            msg.corner_case(
                pc,
                "64-bit add/sub of INT_MIN: the NFP JIT rewrites it as the opposite operation of -imm, "
                "which overflows back to INT_MIN; the device computes the wrong sign",
                "load the constant into a register first and add the register",
                "int-min-imm",
            )
        )
    if (
        info.form is Form.JCOND_IMM
        and info.op in (JmpOp.JGE, JmpOp.JSGE, JmpOp.JLT, JmpOp.JSLT)
        and insn.imm == INT_MIN
    ):
        out.append(
            msg.corner_case(
                pc,
                "compare with INT_MIN: the NFP JIT compares by adding -imm, which overflows back to "
                "INT_MIN; the device may take the other branch",
                "compare against a register holding the constant",
                "int-min-imm",
            )
        )
    if (
        info.cls is Class.ALU64
        and reg_form
        and info.op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
        and meta is not None
        and not constant_src
        and meta.umin_src == 0
    ):
        out.append(
            msg.corner_case(
                pc,
                "64-bit shift by a register that may be 0: the NFP sequence relies on a double shift by "
                "an indirect amount of 0 or 32, whose hardware result the public sources leave open",
                "shift by a constant, or branch around the shift when the amount is 0",
                "indirect-shift-zero",
            )
        )
    return out


def _translate_stage(program: Program, analysis: Analysis, hook: _Hook) -> list[OffloadMessage]:
    """The JIT walks the live instructions in order (dead code was removed by the kernel)
    and stops at the first it cannot translate; its count is of the slots before it."""
    out: list[OffloadMessage] = []
    for pc in sorted(analysis.visits_by_pc):
        insn = program.insns[pc]
        visits = analysis.visits_by_pc[pc]
        if insn is None or insn.info is None or not visits:
            continue
        error = _translate_error(program, pc, insn, visits)
        if error is not None:
            out.append(error)
            return out
        out.extend(_corner_cases(pc, insn, hook.metas.get(pc)))
    return out


# ----------------------------------------------------------------------------------------
# Stage 7: attach.


def _attach_stage(analysis: Analysis, env: Environment, profile: DeviceProfile) -> list[OffloadMessage]:
    reach = min(analysis.max_pkt_offset, env.mtu)
    if reach > profile.fw_mtu:
        return [msg.mtu_beyond_split(analysis.max_pkt_offset, env.mtu, profile.fw_mtu)]
    return []


def rejection_reasons(verdicts: Iterable[OffloadVerdict]) -> Mapping[str, int]:
    """How many verdicts each first error's rule refused (for summaries: triage, tests)."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        errors = verdict.errors
        key = errors[0].rule if errors else "accepted"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
