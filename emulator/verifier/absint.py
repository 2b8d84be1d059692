"""An abstract interpreter over eBPF programs: every path, with what each register holds.

This is the exploration half of the Linux verifier's ``do_check``, without its safety
checks: a depth-first walk over (pc, state) pairs, where a state gives every register a
kind (scalar, ctx, stack, packet, map value...) with an unsigned range and a tnum, plus the
registers spilled to the stack and the bpf-to-bpf call chain. Branches whose outcome the
state decides are followed one way; the others narrow the compared registers on each side
(and NULL checks turn a nullable map value into a pointer or into 0). Bounded loops are
unrolled, as the kernel does, because a state differs from one iteration to the next; a
state covered by one already explored at the same join point (same pointers, scalar
ranges within the earlier ones, dead registers ignored) is not explored again.

Consumers (the NFP offload verifier and translator) need what the kernel's per-instruction
hooks see, so the ranges are the kernel's own, imprecision included (checked against the
kernel's verifier log in tests/emulator/verifier/test_kernel_oracle.py): division and
variable shifts lose the range, integer helper results are unknown, stack slots are typed
as the kernel types them, array lookups with a constant in-bounds key are not NULL, global
functions are explored on their own. :class:`Visit` records every instruction visit with
its registers and stack slots. The analysis never raises for a program it cannot follow:
what it did not understand is in ``Analysis.problems`` and ``complete`` is False.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import NamedTuple

from emulator.env import Environment
from emulator.helpers.registry import HelperSpec, HelperTable
from emulator.isa.fields import AluOp, AtomicOp, CallKind, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form, Group
from emulator.maps.spec import MapType
from emulator.program import Program
from emulator.verifier import helper_model, scalar
from emulator.verifier.branches import NEGATION, NOT_JSET, decide, refine
from emulator.verifier.global_funcs import argument_states, global_entries
from emulator.verifier.liveness import live_in, needs_zext, upper_halves_live
from emulator.verifier.regstate import (
    CTX,
    EMPTY_SPILLS,
    FUNC,
    M32,
    M64,
    MAP_PTR,
    MAP_PTR_OR_NULL,
    MAP_VALUE,
    MAP_VALUE_OR_NULL,
    NULLABLE,
    OTHER,
    OTHER_OR_NULL,
    PACKET,
    PACKET_END,
    PACKET_KINDS,
    PACKET_META,
    SCALAR,
    STACK,
    UNINIT,
    UNINIT_REG,
    UNKNOWN,
    RegState,
    Slot,
    Spills,
    const_reg,
    pointer,
    range_reg,
    scalar_reg,
)
from emulator.verifier.scalar import Scalar

__all__ = ["Analysis", "RegState", "Spills", "SubprogInfo", "Visit", "analyse", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 1_000_000
_SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
_WIDE = frozenset({Group.ALU64, Group.JMP})
"""Groups whose operations are 64-bit (OpInfo.is64, without building the Class enum)."""
MAX_CALL_FRAMES = 8
"""The kernel's MAX_CALL_FRAMES: deeper bpf-to-bpf calls are not followed."""

CTX_POINTERS: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {
        "xdp": MappingProxyType({0: PACKET, 4: PACKET_END, 8: PACKET_META}),
        "tc": MappingProxyType({76: PACKET, 80: PACKET_END, 140: PACKET_META}),
        "socket": MappingProxyType({76: PACKET, 80: PACKET_END, 140: PACKET_META}),
    }
)
"""Context fields a 4-byte load turns into packet pointers (struct xdp_md, __sk_buff)."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One (instruction, path state) the analysis explored: the state before ``pc``."""

    pc: int
    depth: int  # call depth (0 = main program)
    subprog: int  # entry pc of the function executing
    regs: tuple[RegState, ...]  # r0..r10
    stack: Mapping[tuple[int, int], RegState]
    """(frame, 8-aligned off from that frame's r10) -> the slot: the spilled register of a
    whole-register spill, else the slot's 8 bytes as a little-endian scalar with the
    unknown bytes masked (narrow spills, zeroed bytes); slots with nothing known are
    absent."""
    seq: int = 0  # position in the exploration order (0 = the first visit)


@dataclass(frozen=True, slots=True)
class SubprogInfo:
    """One function of the program.

    ``stack_depth`` is what the kernel reports as the function's ``stack depth`` (and what
    the NFP driver budgets from): the largest number of bytes below the frame's r10 that
    any access reaches (including a helper's through a pointer argument, and a callee's
    through a pointer into this frame), rounded up to 8 as the kernel's
    ``grow_stack_state`` does. ``writes_callee_saved`` is the NFP driver's ``needs_reg_push``:
    some instruction of the function names r6-r9 as its dst register.
    """

    entry: int
    end: int  # first pc after the function
    stack_depth: int
    writes_callee_saved: bool
    name: str = ""


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyse`.

    ``max_pkt_offset`` is the kernel's ``prog->aux->max_pkt_offset``: over every packet
    access, ``pointer off + variable part umax + insn off + size - 1`` (the offset of the
    last byte any access may touch; 0 without packet accesses).
    """

    program: Program
    visits_by_pc: Mapping[int, tuple[Visit, ...]]  # pcs never visited are dead code
    subprogs: tuple[SubprogInfo, ...]
    max_pkt_offset: int
    complete: bool  # False when the budget ran out or a state was not understood
    problems: tuple[tuple[int, str], ...]  # (pc, message): what the analysis could not follow
    visits: int = 0  # instruction visits explored (the kernel's "processed N insns")
    zext: frozenset[int] = frozenset()
    """pcs of 32-bit writes whose upper half a later instruction may read: the kernel's
    ``zext_dst`` marks (the NFP JIT zero-extends only these)."""
    upper_live: tuple[int, ...] = ()
    """Per pc, a bit mask of the registers whose upper 32 bits may still be read from
    there on; the others' upper halves are never observed (liveness.upper_halves_live)."""

    def visits_at(self, pc: int) -> tuple[Visit, ...]:
        return self.visits_by_pc.get(pc, ())

    def subprog_at(self, pc: int) -> SubprogInfo | None:
        for info in self.subprogs:
            if info.entry <= pc < info.end:
                return info
        return None


class _Frame(NamedTuple):
    """A caller waiting for a bpf-to-bpf call (or a helper's callback) to return."""

    ret_pc: int
    regs: tuple[RegState, ...]  # the caller's registers at the call
    func: int  # the caller's entry pc
    callback: tuple[int, int, tuple[RegState, ...]] | None = None
    """For a helper callback: (helper id, callback entry, callee r1..r5) to run it again."""


class _State(NamedTuple):
    pc: int
    regs: tuple[RegState, ...]
    spills: Spills
    func: int
    calls: tuple[_Frame, ...]


def analyse(
    program: Program, env: Environment, budget: int = DEFAULT_BUDGET, *, kernel_ranges: bool = True
) -> Analysis:
    """Explore every path of ``program`` (see the module docstring).

    ``kernel_ranges`` (the default) gives scalars exactly the ranges the kernel verifier
    computes, imprecision included, because the NFP driver's checks see those: division,
    modulo and shifts by a register give an unknown 64-bit scalar (even for ALU32 and for
    constants), integer helper results are unknown whatever their C type, LD_ABS/IND
    results are unknown. False keeps the tighter (still sound) ranges instead: quotients
    and remainders bounded by their operands, ``__u32`` helper results in [0, 2**32-1],
    LD_ABS/IND results in their load size.
    """
    return _Analyser(program, env, budget, kernel_ranges).run()


def _frame_pointer(frame: int) -> RegState:
    return RegState(STACK, 0, 0, 0, 0, 0, frame, None, 0)


def _floor8(x: int) -> int:
    return x - (x % 8)


class _Analyser:
    def __init__(self, program: Program, env: Environment, budget: int, kernel_ranges: bool = True) -> None:
        self.kernel_ranges = kernel_ranges
        self.program = program
        self.env = env
        self.insns = program.insns
        self.budget = budget
        self.helpers: HelperTable = env.helpers_for(program.prog_type)
        self.ctx_pointers = CTX_POINTERS.get(program.prog_type, {})
        self.visits: dict[int, list[Visit]] = {}
        self.seen: dict[int, set[object]] = {}
        self.covering: dict[tuple[int, object], list[tuple[int, ...]]] = {}
        self.live = live_in(self.insns)
        self.problems: dict[tuple[int, str], None] = {}
        self.complete = True
        self.count = 0
        self.next_id = 0
        self.max_pkt = 0
        self.entries = self._function_entries()
        self.depths: dict[int, int] = dict.fromkeys(self.entries, 0)
        self.prune_points = self._join_points()
        self.globals = global_entries(env.btf, program.symbols)
        self.called_globals: set[int] = set()

    # ----------------------------------------------------------------- structure

    def _function_entries(self) -> list[int]:
        entries = {0}
        entries.update(pc for pc in self.program.symbols if 0 <= pc < len(self.insns))
        for pc, insn in enumerate(self.insns):
            if insn is None or insn.info is None:
                continue
            form = insn.info.form
            if (form is Form.CALL and insn.info.variant == CallKind.LOCAL) or (
                form is Form.LDDW and insn.info.variant == PseudoSrc.FUNC
            ):
                target = insn.jump_target(pc)
                if target is not None and 0 <= target < len(self.insns):
                    entries.add(target)
        return sorted(entries)

    def _join_points(self) -> frozenset[int]:
        points = set(self.entries)
        for pc, insn in enumerate(self.insns):
            if insn is None or insn.info is None:
                continue
            if insn.info.is_branch:
                target = insn.jump_target(pc)
                if target is not None:
                    points.add(target)
            elif insn.info.form in (Form.CALL, Form.CALLX):
                points.add(pc + 1)
        return frozenset(points)

    def _subprogs(self) -> tuple[SubprogInfo, ...]:
        out = []
        bounds = self.entries + [len(self.insns)]
        for entry, end in zip(self.entries, bounds[1:], strict=False):
            writes = False
            for pc in range(entry, end):
                insn = self.insns[pc]
                if insn is not None and 6 <= insn.dst <= 9:
                    writes = True
                    break
            name = self.program.symbols.get(entry, "")
            out.append(SubprogInfo(entry, end, self.depths.get(entry, 0), writes, name))
        return tuple(out)

    def _problem(self, pc: int, message: str, incomplete: bool = True) -> None:
        self.problems.setdefault((pc, message), None)
        if incomplete:
            self.complete = False

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # ----------------------------------------------------------------- driver

    def _entry_state(self) -> _State:
        regs = [UNINIT_REG] * 11
        if self.program.prog_type == "raw":
            regs[1] = pointer(PACKET)
            regs[2] = UNKNOWN
        else:
            regs[1] = pointer(CTX)
        regs[10] = _frame_pointer(0)
        return _State(0, tuple(regs), EMPTY_SPILLS, 0, ())

    def run(self) -> Analysis:
        self._explore(self._entry_state())
        done: set[int] = set()
        while self.called_globals - done and self.count < self.budget:
            entry = min(self.called_globals - done)
            done.add(entry)
            self._explore(self._global_entry_state(entry))
        return Analysis(
            self.program,
            MappingProxyType({pc: tuple(v) for pc, v in sorted(self.visits.items())}),
            self._subprogs(),
            self.max_pkt,
            self.complete,
            tuple(self.problems),
            self.count,
            needs_zext(self.insns, self._helper_arg_count),
            tuple(upper_halves_live(self.insns, self._helper_arg_count)),
        )

    def _explore(self, initial: _State) -> None:
        """Depth-first over every path from ``initial``, recording each visit."""
        work = [initial]
        nslots = len(self.insns)
        while work:
            st: _State | None = work.pop()
            while st is not None:
                pc = st.pc
                if not 0 <= pc < nslots or self.insns[pc] is None:
                    self._problem(pc, f"control reaches pc {pc}, which is not an instruction")
                    break
                if pc in self.prune_points and self._explored(st):
                    break
                if self.count >= self.budget:
                    self._problem(pc, f"program too complex to analyse ({self.count} instructions explored)")
                    work.clear()
                    break
                self.visits.setdefault(pc, []).append(
                    Visit(pc, len(st.calls), st.func, st.regs, st.spills, self.count)
                )
                self.count += 1
                nexts = self._step(st)
                if not nexts:
                    st = None
                else:
                    st = nexts[0]
                    work.extend(reversed(nexts[1:]))

    def _global_entry_state(self, entry: int) -> _State:
        """A global function on its own: frame 0, arguments from its BTF prototype."""
        name = self.program.symbols.get(entry, "")
        args = argument_states(self.env.btf, name, self.program.prog_type)
        args = tuple(replace(a, id=self._new_id()) if a.kind in NULLABLE else a for a in args)
        regs = (UNINIT_REG, *args, UNINIT_REG, UNINIT_REG, UNINIT_REG, UNINIT_REG, _frame_pointer(0))
        return _State(entry, regs, EMPTY_SPILLS, entry, ())

    def _helper_arg_count(self, hid: int) -> int:
        spec = self.helpers.get(hid)
        if spec is None or "..." in spec.args:
            return 5
        return min(len(spec.args), 5)

    def _explored(self, st: _State) -> bool:
        """Whether a state covering ``st`` was already explored at its pc; remembers ``st``.

        Registers dead at the pc are left out, ids are renumbered by first appearance, and
        an earlier state covers this one when every pointer is the same and every scalar's
        range and tnum hold this one's (the kernel's ``states_equal`` without precision
        marks). Covered paths cannot reach a register value the covering one does not.
        """
        found: dict[int, int] = {}
        shape: list[object] = [st.func]
        vec: list[int] = []
        _split(st.regs, self.live[st.pc], found, shape, vec)
        for frame in st.calls:
            shape.append(frame.ret_pc)
            shape.append(frame.callback)
            ret_live = self.live[frame.ret_pc] & ~0b111111 if frame.ret_pc < len(self.live) else 0
            _split(frame.regs, ret_live, found, shape, vec)
        for key, slot in st.spills.slots():
            shape.append((key, slot.spill, slot.zeros))
            if slot.reg is not None:
                _split((slot.reg,), 1, found, shape, vec)
        bucket_key = (st.pc, tuple(shape))
        flat = tuple(vec)
        seen = self.seen.setdefault(st.pc, set())
        full = (bucket_key, flat)
        if full in seen:
            return True
        bucket = self.covering.setdefault(bucket_key, [])
        for old in bucket:
            if _covers(old, flat):
                return True
        seen.add(full)
        bucket.append(flat)
        return False

    # ----------------------------------------------------------------- one instruction

    def _step(self, st: _State) -> list[_State]:
        insn = self.insns[st.pc]
        assert insn is not None
        info = insn.info
        if info is None:
            self._problem(st.pc, f"unknown instruction (opcode {insn.opcode:#04x}): the path is not followed")
            return []
        form = info.form
        if form in (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.MOVSX, Form.END):
            return [self._alu(st, insn)]
        if form in (Form.JCOND_REG, Form.JCOND_IMM):
            return self._cond(st, insn)
        if form in (Form.JA, Form.JA32):
            target = insn.jump_target(st.pc)
            assert target is not None
            return [st._replace(pc=target)]
        if form in (Form.LDX, Form.LDXSX):
            return [self._load(st, insn)]
        if form in (Form.ST, Form.STX):
            return [self._store(st, insn)]
        if form is Form.ATOMIC:
            return [self._atomic(st, insn)]
        if form is Form.LDDW:
            return [self._lddw(st, insn)]
        if form is Form.CALL:
            if info.variant == CallKind.LOCAL:
                return self._local_call(st, insn)
            if info.variant == CallKind.HELPER:
                return self._helper_call(st, insn.imm)
            self._problem(
                st.pc, f"kfunc call (BTF id {insn.imm}) treated as returning an unknown scalar", False
            )
            return [self._after_call(st, UNKNOWN)]
        if form is Form.CALLX:
            self._problem(
                st.pc, "callx (call through a register) treated as returning an unknown scalar", False
            )
            return [self._after_call(st, UNKNOWN)]
        if form is Form.EXIT:
            return self._exit(st)
        if form in (Form.LD_ABS, Form.LD_IND):
            regs = list(st.regs)
            # the kernel marks it unknown, though the load is zero-extended
            regs[0] = UNKNOWN if self.kernel_ranges else range_reg(info.size)
            for r in range(1, 6):
                regs[r] = UNINIT_REG
            return [st._replace(pc=st.pc + 1, regs=tuple(regs))]
        self._problem(st.pc, f"instruction form {form.value} is not modelled")
        return []

    # ----------------------------------------------------------------- ALU

    def _alu(self, st: _State, insn: Insn) -> _State:
        info = insn.info
        assert info is not None
        regs = list(st.regs)
        is64 = info.group in _WIDE
        bits = 64 if is64 else 32
        op = info.op
        form = info.form
        dst = regs[insn.dst]
        if form is Form.NEG:
            regs[insn.dst] = self._scalar_result(dst, lambda s: scalar.neg(s, bits), bits)
        elif form is Form.END:
            nbytes = info.size // 8
            if info.mnemonic.startswith("le"):
                result = self._scalar_result(dst, lambda s: scalar.truncate(s, info.size), 64)
            else:
                result = self._scalar_result(dst, lambda s: scalar.bswap(s, nbytes), 64)
            regs[insn.dst] = result
        elif form is Form.MOVSX:
            src = regs[insn.src]
            if src.kind in (SCALAR, UNINIT):
                regs[insn.dst] = scalar_reg(scalar.sign_extend(src.scalar, info.size, bits))
            else:
                regs[insn.dst] = UNKNOWN if is64 else range_reg(4)
        else:
            if form is Form.ALU_REG:
                src = regs[insn.src]
            else:
                src = const_reg(insn.imm & (M64 if is64 else M32))
            if op == AluOp.MOV:
                regs[insn.dst] = self._mov(regs, insn, src, is64)
            else:
                regs[insn.dst] = self._binary(op, dst, src, bits, info.signed)
        return _State(st.pc + 1, tuple(regs), st.spills, st.func, st.calls)

    @staticmethod
    def _scalar_result(reg: RegState, fn: object, bits: int) -> RegState:
        """A unary scalar op on ``reg``'s ``bits``-bit view; pointers become unknown."""
        assert callable(fn)
        if reg.kind in (SCALAR, UNINIT):
            view = reg.scalar if bits == 64 else scalar.truncate(reg.scalar, 32)
            return scalar_reg(fn(view))
        return UNKNOWN if bits == 64 else range_reg(4)

    def _mov(self, regs: list[RegState], insn: Insn, src: RegState, is64: bool) -> RegState:
        if not is64:
            if src.kind in (SCALAR, UNINIT):
                return scalar_reg(scalar.truncate(src.scalar, 32))
            return range_reg(4)
        if src.kind == UNINIT:
            return UNKNOWN
        if src.kind == SCALAR and insn.info is not None and insn.info.form is Form.ALU_REG:
            if src.mask and not src.id:  # link the copies: a branch on one narrows both
                src = replace(src, id=self._new_id())
                regs[insn.src] = src
        return src

    def _binary(self, op: int, dst: RegState, src: RegState, bits: int, signed: bool) -> RegState:
        d_scalar = dst.kind in (SCALAR, UNINIT)
        s_scalar = src.kind in (SCALAR, UNINIT)
        if d_scalar and s_scalar:
            if self.kernel_ranges and (op in (AluOp.DIV, AluOp.MOD) or (op in _SHIFTS and src.const is None)):
                # The kernel computes no range for these (is_safe_to_compute_dst_reg_range):
                # the result is unknown, all 64 bits, even for constants and for ALU32.
                return UNKNOWN
            a, b = dst.scalar, src.scalar
            if bits == 32:
                a, b = scalar.truncate(a, 32), scalar.truncate(b, 32)
            return scalar_reg(scalar.alu(op, a, b, bits, signed))
        if bits == 64 and op in (AluOp.ADD, AluOp.SUB):
            if not d_scalar and s_scalar:
                return self._ptr_add(dst, src.scalar, op == AluOp.SUB)
            if d_scalar and not s_scalar and op == AluOp.ADD:
                return self._ptr_add(src, dst.scalar, False)
        return UNKNOWN if bits == 64 else range_reg(4)

    def _ptr_add(self, ptr: RegState, s: Scalar, negate: bool) -> RegState:
        c = s.const
        if c is not None:
            delta = scalar.to_signed(c, 64)
            return replace(ptr, off=ptr.off - delta if negate else ptr.off + delta)
        var = scalar.alu(AluOp.SUB if negate else AluOp.ADD, ptr.scalar, s, 64)
        new_id = self._new_id() if ptr.kind in (PACKET, PACKET_META) else ptr.id
        return RegState(
            ptr.kind, ptr.off, var.umin, var.umax, var.value, var.mask, ptr.frame, ptr.map_index, new_id
        )

    # ----------------------------------------------------------------- branches

    def _cond(self, st: _State, insn: Insn) -> list[_State]:
        info = insn.info
        assert info is not None
        target = insn.jump_target(st.pc)
        assert target is not None
        op = info.op
        is64 = info.group in _WIDE
        bits = 64 if is64 else 32
        dst = st.regs[insn.dst]
        reg_form = info.form is Form.JCOND_REG
        src = st.regs[insn.src] if reg_form else const_reg(insn.imm & (M64 if is64 else M32))
        taken = st._replace(pc=target)
        fall = st._replace(pc=st.pc + 1)
        if op in (JmpOp.JEQ, JmpOp.JNE) and is64:
            nulls = self._null_check(st, dst, src, op == JmpOp.JEQ)
            if nulls is None:
                nulls = self._null_check(st, src, dst, op == JmpOp.JEQ)
            if nulls is not None:
                eq_state, ne_state = nulls
                if op == JmpOp.JEQ:
                    return [
                        fall._replace(regs=ne_state[0], spills=ne_state[1], calls=ne_state[2]),
                        taken._replace(regs=eq_state[0], spills=eq_state[1], calls=eq_state[2]),
                    ]
                return [
                    fall._replace(regs=eq_state[0], spills=eq_state[1], calls=eq_state[2]),
                    taken._replace(regs=ne_state[0], spills=ne_state[1], calls=ne_state[2]),
                ]
        d_scalar = dst.kind in (SCALAR, UNINIT)
        s_scalar = src.kind in (SCALAR, UNINIT)
        if not (d_scalar and s_scalar):
            outcome = _pointer_outcome(op, dst, src) if is64 else None
            if outcome is True:
                return [taken]
            if outcome is False:
                return [fall]
            return [fall, taken]
        a, b = dst.scalar, src.scalar
        if bits == 32:
            a, b = scalar.truncate(a, 32), scalar.truncate(b, 32)
        verdict = decide(op, a, b, bits)
        if verdict is True:
            return [taken]
        if verdict is False:
            return [fall]
        out = []
        neg = NOT_JSET if op == JmpOp.JSET else NEGATION[op]
        for side, cond_op in ((fall, neg), (taken, op)):
            narrowed = refine(cond_op, a, b, bits)
            if narrowed is None:
                continue
            side = self._narrow(side, insn.dst, dst, narrowed[0], bits)
            if reg_form:
                side = self._narrow(side, insn.src, src, narrowed[1], bits)
            out.append(side)
        return out

    def _narrow(self, st: _State, r: int, old: RegState, new: Scalar, bits: int) -> _State:
        """Replace register ``r`` (and every scalar linked to it by id) with ``new``."""
        if old.kind != SCALAR:
            return st
        if bits == 32 and old.umax > M32:
            return st  # the 32-bit view does not describe the whole register
        if new == old.scalar:
            return st
        reg = scalar_reg(new, old.id) if old.id else scalar_reg(new)
        if not old.id:
            regs = list(st.regs)
            regs[r] = reg
            return st._replace(regs=tuple(regs))
        ident = old.id

        def change(x: RegState) -> RegState:
            return reg if x.kind == SCALAR and x.id == ident else x

        return _map_state(st, change)

    def _null_check(
        self, st: _State, ptr: RegState, other: RegState, eq: bool
    ) -> tuple[tuple[tuple[RegState, ...], Spills, tuple[_Frame, ...]], ...] | None:
        """(state where ptr == NULL, state where ptr != NULL) for a nullable ``ptr``
        compared with 0, or None when this is not a NULL check."""
        if ptr.kind not in NULLABLE or other.const != 0:
            return None
        ident = ptr.id
        zero = const_reg(0)

        def null(x: RegState) -> RegState:
            return zero if x.kind in NULLABLE and x.id == ident else x

        def nonnull(x: RegState) -> RegState:
            if x.kind in NULLABLE and x.id == ident:
                return replace(x, kind=NULLABLE[x.kind], id=0)
            return x

        if not ident:  # unlinked: only this register
            return None
        a = _map_state(st, null)
        b = _map_state(st, nonnull)
        return ((a.regs, a.spills, a.calls), (b.regs, b.spills, b.calls))

    # ----------------------------------------------------------------- memory

    def _touch_stack(self, st: _State, ptr: RegState, insn_off: int) -> None:
        """Record the stack depth an access through ``ptr`` reaches."""
        lowest = ptr.off + insn_off
        if ptr.has_var_part:
            if ptr.umax >= 1 << 63:
                return
            lowest += ptr.umin
        if lowest >= 0:
            return
        func = self._frame_func(st, ptr.frame)
        depth = -lowest + (8 - (-lowest) % 8) % 8  # the kernel grows stacks by 8 bytes
        if func is not None and depth > self.depths.get(func, 0):
            self.depths[func] = depth

    @staticmethod
    def _frame_func(st: _State, frame: int) -> int | None:
        depth = len(st.calls)
        if frame == depth:
            return st.func
        if 0 <= frame < depth:
            return st.calls[frame].func
        return None

    def _touch_packet(self, ptr: RegState, insn_off: int, size: int) -> None:
        last = ptr.off + ptr.umax + insn_off + size - 1
        if last > self.max_pkt:
            self.max_pkt = last

    def _load(self, st: _State, insn: Insn) -> _State:
        info = insn.info
        assert info is not None
        size = info.size
        base = st.regs[insn.src]
        raw: Scalar | RegState = scalar.from_range(0, (1 << (8 * size)) - 1)
        kind = base.kind
        if kind == CTX and not base.has_var_part:
            field_kind = self.ctx_pointers.get(base.off + insn.off) if size == 4 else None
            if field_kind is not None and info.form is Form.LDX:
                raw = pointer(field_kind)
        elif kind == STACK:
            self._touch_stack(st, base, insn.off)
            if not base.has_var_part:
                raw = self._fill(st, base.frame, base.off + insn.off, size)
        elif kind in (PACKET, PACKET_META):
            self._touch_packet(base, insn.off, size)
        elif kind == MAP_VALUE and not base.has_var_part:
            known = self._frozen_value(base.map_index, base.off + insn.off, size)
            if known is not None:
                raw = scalar.const(known)
        if isinstance(raw, RegState):
            loaded = raw
            if size < 8 and raw.kind == SCALAR:  # a narrow fill: the kernel's coerce_reg_to_size
                if info.form is Form.LDXSX:
                    loaded = scalar_reg(scalar.sign_extend(raw.scalar, 8 * size, 64))
                elif raw.umax >> (8 * size):
                    loaded = scalar_reg(scalar.truncate(raw.scalar, 8 * size))
        elif info.form is Form.LDXSX:
            loaded = scalar_reg(scalar.sign_extend(raw, 8 * size, 64))
        else:
            loaded = scalar_reg(raw)
        regs = list(st.regs)
        regs[insn.dst] = loaded
        return st._replace(pc=st.pc + 1, regs=tuple(regs))

    def _fill(self, st: _State, frame: int, addr: int, size: int) -> Scalar | RegState:
        """A load from the stack, as the kernel's ``check_stack_read_fixed_off`` sees it:
        a whole spill gives the register back; a narrow load at the start of a scalar
        spill gives the register (the caller truncates it); bytes all known zero give 0;
        anything else is unknown."""
        slot_off = _floor8(addr)
        default = scalar.from_range(0, (1 << (8 * size)) - 1)
        if addr + size > slot_off + 8:
            return default
        slot = st.spills.slot((frame, slot_off))
        if slot is None:
            return default
        k = addr - slot_off
        reg = slot.reg
        if reg is not None and slot.spill:
            if size == 8 and slot.spill == 8:
                return reg
            if reg.kind != SCALAR:
                return default
            if k == 0 and size <= slot.spill:
                if reg.id and reg.umax.bit_length() > 8 * size:  # a narrowing fill breaks the link
                    reg = replace(reg, id=0)
                return reg
            spill_bytes = sum(1 for i in range(k, k + size) if i < slot.spill)
            if spill_bytes == size and reg.const == 0:
                return scalar.const(0)
        if all(slot.zeros >> i & 1 for i in range(k, k + size)):
            return scalar.const(0)
        return default

    def _frozen_value(self, map_index: int | None, off: int, size: int) -> int | None:
        """A read-only map's bytes are constants the program may rely on (the kernel reads
        them at verification time for frozen maps)."""
        if map_index is None or not 0 <= map_index < len(self.env.maps):
            return None
        spec = self.env.maps[map_index]
        if not spec.frozen or spec.type is not MapType.ARRAY or off < 0:
            return None
        for key, value in spec.initial:
            if int.from_bytes(key, "little") == 0 and off + size <= len(value):
                return int.from_bytes(value[off : off + size], "little")
        return None

    def _store(self, st: _State, insn: Insn) -> _State:
        info = insn.info
        assert info is not None
        size = info.size
        base = st.regs[insn.dst]
        spills = st.spills
        regs = st.regs
        if base.kind == STACK:
            self._touch_stack(st, base, insn.off)
            frame = base.frame
            if base.has_var_part:
                spills = spills.without(lambda k, _v: k[0] == frame)
            else:
                addr = base.off + insn.off
                if info.form is Form.STX:
                    value = regs[insn.src]
                    if (
                        value.kind == SCALAR
                        and value.mask
                        and not value.id
                        and addr % 8 == 0
                        and value.umax.bit_length() <= 8 * size
                    ):  # the kernel links a register and its spilled copy
                        value = replace(value, id=self._new_id())
                        changed = list(regs)
                        changed[insn.src] = value
                        regs = tuple(changed)
                else:
                    value = const_reg(insn.imm & M64)
                spills = _stack_write(spills, frame, addr, size, value)
        elif base.kind in (PACKET, PACKET_META):
            self._touch_packet(base, insn.off, size)
        return st._replace(pc=st.pc + 1, regs=regs, spills=spills)

    def _atomic(self, st: _State, insn: Insn) -> _State:
        info = insn.info
        assert info is not None
        size = info.size
        base = st.regs[insn.dst]
        spills = st.spills
        if base.kind == STACK:
            self._touch_stack(st, base, insn.off)
            frame = base.frame
            if base.has_var_part:
                spills = spills.without(lambda k, _v: k[0] == frame)
            else:
                spills = _clobber(spills, frame, base.off + insn.off, base.off + insn.off + size)
        regs = list(st.regs)
        fetched = range_reg(size)
        if info.op == AtomicOp.CMPXCHG:
            regs[0] = fetched
        elif info.op & AtomicOp.FETCH:
            regs[insn.src] = fetched
        return st._replace(pc=st.pc + 1, regs=tuple(regs), spills=spills)

    def _lddw(self, st: _State, insn: Insn) -> _State:
        info = insn.info
        assert info is not None
        src = info.variant
        nmaps = len(self.env.maps)
        if src == PseudoSrc.IMM64:
            value = const_reg(insn.imm64)
        elif src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_FD):
            index = insn.imm if 0 <= insn.imm < nmaps else None
            if index is None:
                self._problem(st.pc, f"lddw names map {insn.imm}, but the program has {nmaps} maps", False)
            value = pointer(MAP_PTR, map_index=index)
        elif src in (PseudoSrc.MAP_IDX_VALUE, PseudoSrc.MAP_VALUE):
            index = insn.imm if 0 <= insn.imm < nmaps else None
            if index is None:
                self._problem(st.pc, f"lddw names map {insn.imm}, but the program has {nmaps} maps", False)
            value = pointer(MAP_VALUE, off=insn.imm_hi & M32, map_index=index)
        elif src == PseudoSrc.FUNC:
            value = pointer(FUNC, off=st.pc + 1 + insn.imm)
        else:
            value = pointer(OTHER)
        regs = list(st.regs)
        regs[insn.dst] = value
        return st._replace(pc=st.pc + 2, regs=tuple(regs))

    # ----------------------------------------------------------------- calls

    @staticmethod
    def _after_call(st: _State, r0: RegState, spills: Spills | None = None) -> _State:
        regs = list(st.regs)
        regs[0] = r0
        for r in range(1, 6):
            regs[r] = UNINIT_REG
        return st._replace(pc=st.pc + 1, regs=tuple(regs), spills=st.spills if spills is None else spills)

    def _enter(
        self, st: _State, entry: int, args: tuple[RegState, ...], callback: object = None
    ) -> _State | None:
        depth = len(st.calls) + 1
        if depth >= MAX_CALL_FRAMES:
            self._problem(st.pc, f"call chain deeper than {MAX_CALL_FRAMES} frames is not followed")
            return None
        regs = (UNINIT_REG, *args, UNINIT_REG, UNINIT_REG, UNINIT_REG, UNINIT_REG, _frame_pointer(depth))
        frame = _Frame(st.pc + 1, st.regs, st.func, callback)  # type: ignore[arg-type]
        return _State(entry, regs, st.spills, entry, (*st.calls, frame))

    def _local_call(self, st: _State, insn: Insn) -> list[_State]:
        target = insn.jump_target(st.pc)
        assert target is not None
        if target in self.globals:  # verified on its own; returns an unknown scalar
            self.called_globals.add(target)
            return [self._after_call(st, UNKNOWN)]
        entered = self._enter(st, target, st.regs[1:6])
        return [entered] if entered is not None else []

    def _exit(self, st: _State) -> list[_State]:
        if not st.calls:
            return []
        frame = st.calls[-1]
        depth = len(st.calls)
        spills = st.spills.without(lambda k, _v: k[0] >= depth)
        caller = _State(frame.ret_pc, frame.regs, spills, frame.func, st.calls[:-1])
        if frame.callback is None:
            return [self._after_call(caller._replace(pc=frame.ret_pc - 1), st.regs[0])]
        hid, entry, args = frame.callback
        out = [self._after_call(caller._replace(pc=frame.ret_pc - 1), UNKNOWN)]
        again = self._enter(caller._replace(pc=frame.ret_pc - 1), entry, args, frame.callback)
        if again is not None:
            out.append(again)
        return out

    def _helper_call(self, st: _State, hid: int) -> list[_State]:
        spec = self.helpers.get(hid)
        regs = st.regs
        spills = self._helper_memory(st, hid)
        kind = helper_model.returns(spec)
        r1 = regs[1]
        if hid in helper_model.MAP_LOOKUPS:
            index = r1.map_index if r1.kind == MAP_PTR else None
            inner = index is not None and self.env.maps[index].type in (
                MapType.ARRAY_OF_MAPS,
                MapType.HASH_OF_MAPS,
            )
            r0 = pointer(MAP_PTR_OR_NULL if inner else MAP_VALUE_OR_NULL, map_index=None if inner else index)
            if hid == helper_model.MAP_LOOKUP_ELEM and index is not None and self._in_bounds_key(st, index):
                r0 = pointer(MAP_VALUE, map_index=index)  # an array element that exists: never NULL
            else:
                r0 = replace(r0, id=self._new_id())
        elif hid == helper_model.GET_SMP_PROCESSOR_ID:
            r0 = scalar_reg(scalar.from_range(0, max(self.env.ncpus, 1) - 1))
        elif kind == "void":
            r0 = UNINIT_REG
        elif kind == "pointer":
            r0 = pointer(OTHER_OR_NULL, id=self._new_id())
        elif not self.kernel_ranges and helper_model.returns_u32(spec):
            r0 = range_reg(4)
        else:
            r0 = UNKNOWN
        if spec is not None and spec.name in helper_model.PACKET_CHANGING:
            st = _map_state(st, lambda x: UNKNOWN if x.kind in PACKET_KINDS else x)
            spills = spills.mapped(lambda x: UNKNOWN if x.kind in PACKET_KINDS else x)
        after = self._after_call(st, r0, spills)
        if not helper_model.has_callback(spec):
            return [after]
        if hid not in helper_model.EXPLORED_CALLBACKS:
            self._problem(st.pc, f"the callback of {spec.name if spec else hid} is not explored", False)
            return [after]
        return self._callback(st._replace(spills=spills), hid, after)

    def _in_bounds_key(self, st: _State, index: int) -> bool:
        """A lookup in an array map with a constant key below max_entries: the kernel
        (6.14+, ``can_elide_value_nullness``) knows the result is not NULL. The key must
        be known zero bytes, or a spilled constant exactly key_size wide."""
        spec = self.env.maps[index]
        if spec.type not in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            return False
        key = st.regs[2]
        if key.kind != STACK or key.has_var_part:
            return False
        slot_off = _floor8(key.off)
        slot = st.spills.slot((key.frame, slot_off))
        if slot is None:
            return False
        k = key.off - slot_off
        zero_run = 0
        for i in range(k, 8):
            if not slot.zeros >> i & 1:
                break
            zero_run += 1
        if zero_run >= spec.key_size:
            return 0 < spec.max_entries
        if slot.reg is None or slot.reg.kind != SCALAR or k >= slot.spill:
            return False
        value = slot.reg.const
        return slot.spill - k == spec.key_size and value is not None and value < spec.max_entries

    def _callback(self, st: _State, hid: int, after: _State) -> list[_State]:
        regs = st.regs
        fn = regs[2]
        if fn.kind != FUNC:
            self._problem(st.pc, "callback argument r2 is not a known function: callback not explored", False)
            return [after]
        if hid == helper_model.LOOP:
            n = regs[1].scalar if regs[1].kind == SCALAR else scalar.top()
            hi = max(min(n.umax, 1 << 23) - 1, 0)
            args: tuple[RegState, ...] = (
                scalar_reg(scalar.from_range(0, hi)),
                regs[3],
                UNINIT_REG,
                UNINIT_REG,
                UNINIT_REG,
            )
            may_skip = n.umin == 0
        else:
            r1 = regs[1]
            value = pointer(MAP_VALUE, map_index=r1.map_index) if r1.kind == MAP_PTR else pointer(OTHER)
            args = (r1, pointer(OTHER), value, regs[3], UNINIT_REG)
            may_skip = True
        entered = self._enter(st, fn.off, args, (hid, fn.off, args))
        out = [] if entered is None else [entered]
        if may_skip or entered is None:
            out.append(after)
        return out

    def _argument_size(self, st: _State, hid: int, spec: HelperSpec | None, index: int) -> int | None:
        """How many bytes a helper may access through pointer argument ``index`` (0 = r1):
        the map's key or value size for the map helpers, else the largest value of the
        size argument that follows it."""
        regs = st.regs
        r1 = regs[1]
        if hid in helper_model.MAP_KEY_VALUE_ARGS and r1.kind == MAP_PTR and r1.map_index is not None:
            spec_map = self.env.maps[r1.map_index]
            role = helper_model.MAP_KEY_VALUE_ARGS[hid].get(index)
            if role == "key":
                return spec_map.key_size
            if role == "value":
                return spec_map.value_size
            return None
        size_at = helper_model.size_argument(spec, index)
        if size_at is None:
            return None
        size = regs[size_at + 1]
        if size.kind != SCALAR or size.umax >= 1 << 16:
            return None
        return size.umax

    def _helper_memory(self, st: _State, hid: int) -> Spills:
        """Stack accesses through a helper's pointer arguments: the stack depth they reach,
        and the spilled registers a helper that writes there overwrites."""
        spec = self.helpers.get(hid)
        spills = st.spills
        regs = st.regs
        for index in range(5):
            ptr = regs[index + 1]
            if ptr.kind in (PACKET, PACKET_META):
                size = self._argument_size(st, hid, spec, index)
                if size:
                    self._touch_packet(ptr, 0, size)
                continue
            if ptr.kind != STACK:
                continue
            self._touch_stack(st, ptr, 0)
            if not helper_model.writes_argument(spec, index) or hid in helper_model.EXPLORED_CALLBACKS:
                continue
            frame = ptr.frame
            size_at = helper_model.size_argument(spec, index)
            size = regs[size_at + 1].const if size_at is not None else None
            if ptr.has_var_part or size is None:
                lo = ptr.off if not ptr.has_var_part else -(1 << 62)
                spills = _clobber(spills, frame, lo, 0)
            else:
                spills = _clobber(spills, frame, ptr.off, ptr.off + size)
        return spills


def _clobber(spills: Spills, frame: int, lo: int, hi: int) -> Spills:
    """Bytes [lo, hi) of ``frame``'s stack become unknown (STACK_MISC): a helper or an
    atomic wrote them. A spill they touch is gone."""
    for key, slot in spills.slots():
        if key[0] != frame or key[1] + 8 <= lo or key[1] >= hi:
            continue
        written = sum(1 << i for i in range(8) if lo <= key[1] + i < hi)
        zeros = slot.zeros & ~written
        if slot.reg is not None and not written & ((1 << slot.spill) - 1):
            spills = spills.with_slot(key, slot._replace(zeros=zeros))
        else:
            spills = spills.with_slot(key, Slot(None, 0, zeros))
    return spills


def _stack_write(spills: Spills, frame: int, addr: int, size: int, value: RegState) -> Spills:
    """A store of ``value`` (``size`` bytes at ``addr``), as the kernel's
    ``check_stack_write_fixed_off`` records it: an aligned store of a scalar (or a whole
    pointer) is a spill of that size; any other store makes its bytes zero (storing a
    known 0) or unknown, and ends the spill it hits."""
    slot_off = _floor8(addr)
    key = (frame, slot_off)
    if addr == slot_off and (value.kind == SCALAR or (size == 8 and value.kind != UNINIT)):
        old = spills.slot(key)
        zeros = (old.zeros if old is not None else 0) & ~((1 << size) - 1) & 0xFF
        if old is not None and old.reg is not None and size < 8:
            zeros &= ~(((1 << old.spill) - 1) & ~((1 << size) - 1))  # old spill bytes: unknown
        reg = value
        if size < 8 and reg.id and reg.umax.bit_length() > 8 * size:
            reg = replace(reg, id=0)  # a narrowing spill breaks the link
        return spills.with_slot(key, Slot(reg, size, zeros if size < 8 else 0))
    zero = value.const == 0
    for off in range(slot_off, addr + size, 8):
        k = (frame, off)
        old = spills.slot(k) or Slot(None, 0, 0)
        written = sum(1 << i for i in range(8) if addr <= off + i < addr + size)
        zeros = old.zeros & ~written
        if zero:
            zeros |= written
        spills = spills.with_slot(k, Slot(None, 0, zeros))
    return spills


def _pointer_outcome(op: int, a: RegState, b: RegState) -> bool | None:
    """A pointer that cannot be NULL compared with 0 (the kernel decides these)."""
    if op not in (JmpOp.JEQ, JmpOp.JNE):
        return None
    for p, other in ((a, b), (b, a)):
        if p.kind in (MAP_VALUE, OTHER) and other.const == 0:
            return op == JmpOp.JNE
    return None


def _map_state(st: _State, change: object) -> _State:
    """``st`` with ``change`` applied to every register of every frame and every spill."""
    assert callable(change)
    regs = tuple(change(r) for r in st.regs)
    spills = st.spills.mapped(change)  # type: ignore[arg-type]
    calls = tuple(f._replace(regs=tuple(change(r) for r in f.regs)) for f in st.calls)
    return st._replace(regs=regs, spills=spills, calls=calls)


def _covers(old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    """Every scalar of ``old`` (flattened umin, umax, value, mask) holds the one of ``new``."""
    for i in range(0, len(old), 4):
        o_min, o_max, o_val, o_mask = old[i], old[i + 1], old[i + 2], old[i + 3]
        n_min, n_max, n_val, n_mask = new[i], new[i + 1], new[i + 2], new[i + 3]
        if n_min < o_min or n_max > o_max or n_mask & ~o_mask or (n_val & ~o_mask) != o_val:
            return False
    return True


def _split(
    regs: tuple[RegState, ...], live: int, found: dict[int, int], shape: list[object], vec: list[int]
) -> None:
    """Append the registers' shape (kinds, pointers, ids) and their scalar ranges."""
    for r, reg in enumerate(regs):
        if not live >> r & 1 or reg.kind == UNINIT:
            shape.append(None)
            continue
        ident = reg.id
        if ident:
            ident = found.setdefault(ident, len(found) + 1)
        if reg.kind == SCALAR:
            if reg.mask == 0:  # constants are compared exactly: smaller buckets to search
                shape.append((ident, reg.value))
            else:
                shape.append(ident)
                vec.extend((reg.umin, reg.umax, reg.value, reg.mask))
        elif ident != reg.id:
            shape.append(replace(reg, id=ident))
        else:
            shape.append(reg)
