"""The kernel is the reference: random programs of ALU, jump, stack load/store and atomic
instructions give the same registers and stack on the real kernel (BPF_PROG_TEST_RUN, so
the x86-64 JIT) and on every bpfdbg backend.

The kernel sees each random body wrapped in an XDP program that zeroes 64 bytes of stack
first and afterwards stores the eight working registers and those 64 bytes into the packet,
so everything comes back in ``data_out``; our backends run the bare body (raw convention,
whose stack starts zeroed) and are compared register by register and byte by byte.
Skipped only where the kernel refuses bpf().
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.base import create, stepping_backend_names
from emulator.backends.kernel.syscall import Bpf, VerifierError, available, xdp_md
from emulator.env import Environment, RunInput
from emulator.isa.fields import AluOp, AtomicOp
from emulator.isa.insn import Insn, encode_program, slot_list
from emulator.isa.table import ROWS, Form
from emulator.isa.validate import UNUSED_FIELDS
from emulator.program import Program
from emulator.state import StopCondition, StopReason

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

WORK = (0, 1, 2, 3, 4, 5, 8, 9)  # r6 = ctx, r7 = packet pointer in the kernel wrapper
_MEMORY = {Form.LDX, Form.LDXSX, Form.ST, Form.STX, Form.ATOMIC}
_FORMS = {
    Form.ALU_REG,
    Form.ALU_IMM,
    Form.NEG,
    Form.MOVSX,
    Form.END,
    Form.JCOND_REG,
    Form.JCOND_IMM,
    Form.JA,
    Form.JA32,
} | _MEMORY
STACK = 64  # bytes below r10 the bodies use
# A 32-bit CMPXCHG that succeeds: RFC 9669 (5.3) and the conformance suite
# (lock_cmpxchg32.data compares the whole of r0) zero-extend the old value into r0, and so do
# interp and host-jit. On x86 the cmpxchg instruction writes eax only on failure, so the
# kernel relies on the verifier patching in a zero-extension, and in some programs (the one
# below, found by this test) that does not happen: r0's upper half survives. A kernel
# deviation from the ISA, pinned by test_cmpxchg32_success_zero_extends_r0_where_the_kernel_
# does_not below and left out of the random programs, which would otherwise keep finding it.
_ROWS = [
    r
    for r in ROWS
    if r.form in _FORMS and not (r.form is Form.ATOMIC and r.op == AtomicOp.CMPXCHG and r.size == 4)
]


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _lddw(reg: int, value: int) -> Insn:
    return Insn(0x18, reg, 0, 0, _s32(value), _s32(value >> 32))


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[int], list[Insn]]:
    inits = [
        draw(
            st.sampled_from([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1])
            | st.integers(0, (1 << 64) - 1)
        )
        for _ in WORK
    ]
    count = draw(st.integers(1, 16))
    body: list[Insn] = []
    for i in range(count):
        row = draw(st.sampled_from(_ROWS))
        imm = st.sampled_from([0, 1, -1, 7, 31, 0x7FFFFFFF, -(2**31)]) | st.integers(-(2**31), 2**31 - 1)
        f = {
            "dst": draw(st.sampled_from(WORK)),
            "src": draw(st.sampled_from(WORK)),
            "off": 0,
            "imm": draw(imm),
        }
        width = 64 if row.is64 else 32
        if row.form is Form.ALU_IMM and row.op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH):
            f["imm"] %= width  # the verifier rejects constant shifts >= the width
        if row.form is Form.ALU_IMM and row.op in (AluOp.DIV, AluOp.MOD) and f["imm"] == 0:
            f["imm"] = 3  # and constant division by zero
        if row.is_branch:
            # unconditional jumps only by 0: the verifier rejects unreachable instructions
            f["off"] = 0 if row.form in (Form.JA, Form.JA32) else draw(st.integers(0, count - i - 1))
            f["imm"] = 0 if row.form is Form.JA32 else f["imm"]
        if row.form in _MEMORY:
            base = "src" if row.form in (Form.LDX, Form.LDXSX) else "dst"
            f[base] = 10
            f["off"] = -row.size * draw(st.integers(1, STACK // row.size))  # the verifier wants
            # stack accesses aligned
        for name in UNUSED_FIELDS[row.form]:
            if name != row.variant_field:
                f[name] = 0
        if row.variant_field:
            f[row.variant_field] = row.variant
        body.append(Insn(row.opcode, f["dst"], f["src"], f["off"], f["imm"]))
    return inits, body


def _kernel_program(inits: list[int], body: list[Insn]) -> bytes:
    nwork = len(WORK)
    pre = [
        Insn(0xBF, 6, 1),  # r6 = ctx
        Insn(0x61, 7, 6, 0),  # r7 = ctx->data
        Insn(0x61, 8, 6, 4),  # r8 = ctx->data_end
        Insn(0xBF, 1, 7),
        Insn(0x07, 1, 0, 0, 8 * nwork + STACK),
        Insn(0x2D, 1, 8, 0, 0),  # if r1 > r8 goto fail (offset patched below)
    ]
    pre += [Insn(0x7A, 10, 0, -STACK + 8 * i, 0) for i in range(STACK // 8)]
    pre += [_lddw(reg, value) for reg, value in zip(WORK, inits, strict=True)]
    post = [Insn(0x7B, 7, reg, 8 * i) for i, reg in enumerate(WORK)]
    for i in range(STACK // 8):
        post += [Insn(0x79, 1, 10, -STACK + 8 * i), Insn(0x7B, 7, 1, 8 * (nwork + i))]
    post += [Insn(0xB7, 0, 0, 0, 2), Insn(0x95)]
    fail = [Insn(0xB7, 0, 0, 0, 1), Insn(0x95)]
    middle = slot_list(pre[6:] + body + post)
    pre[5] = Insn(0x2D, 1, 8, len(middle), 0)
    return encode_program(slot_list(pre[:6]) + middle + slot_list(fail))


# The host ISA's backends. An offload device refuses much of what this generates (mod, byte
# swaps, wide operands) and keeps unread upper halves; lockstep holds it to interp instead.
HOST_BACKENDS = [n for n in stepping_backend_names() if not create(n).capabilities.may_refuse]


def _ours(backend: str, inits: list[int], body: list[Insn]) -> tuple[list[int], bytes]:
    insns = [_lddw(reg, value) for reg, value in zip(WORK, inits, strict=True)] + body + [Insn(0x95)]
    machine = create(backend)
    assert machine.load(Program.from_insns(insns), Environment()).ok
    machine.reset(RunInput())
    event = machine.run(StopCondition())
    assert event.reason is StopReason.EXIT, event
    state = machine.state()
    return [state.regs[r] for r in WORK], state.regions["stack[0]"].data[-STACK:]


@settings(max_examples=400, deadline=None)
@given(bodies())
def test_registers_match_the_kernel(case: tuple[list[int], list[Insn]]) -> None:
    inits, body = case
    code = _kernel_program(inits, body)
    packet = bytes(8 * len(WORK) + STACK + 14)
    with Bpf() as bpf:
        try:
            fd = bpf.prog_load(code, "xdp")
        except VerifierError as err:  # pragma: no cover - a generator bug, not a semantics one
            pytest.fail(f"kernel rejected a generated program:\n{err.log[-2000:]}")
        run = bpf.test_run(fd, packet, xdp_md(len(packet)))
    assert run.retval == 2
    kernel_regs = list(struct.unpack_from(f"<{len(WORK)}Q", run.data_out))
    kernel_stack = run.data_out[8 * len(WORK) : 8 * len(WORK) + STACK]
    for backend in HOST_BACKENDS:
        regs, stack = _ours(backend, inits, body)
        assert regs == kernel_regs, backend
        assert stack == kernel_stack, backend


def test_cmpxchg32_success_zero_extends_r0_where_the_kernel_does_not() -> None:
    """r0 = 1 << 63, then a 32-bit cmpxchg on a zero stack word: the low halves match, so it
    succeeds. RFC 9669 loads the old value zero-extended into r0 (0), as the conformance
    suite checks and our backends do; on this kernel (6.18, x86-64 JIT) this program keeps
    r0 (1 << 63). A kernel that zero-extends agrees with us and this still passes: it pins
    our side and bounds theirs."""
    inits = [0, 1 << 63, 0, 0, 0, 0, 0, 0]
    body = [
        Insn(0x0F, 0, 1),  # r0 += r1
        Insn(0xC3, 10, 0, -4, int(AtomicOp.CMPXCHG)),  # lock cmpxchg32 [r10-4], r0
        *[Insn(0x71, 1, 10, -1)] * 5,  # r1 = *(u8 *)(r10 - 1)
        Insn(0x0F, 1, 1),  # r1 += r1
        Insn(0x7D, 1, 1, 2),  # if r1 s>= r1 goto +2 (always)
        Insn(0x0F, 1, 1),
        Insn(0xC3, 10, 0, -4, int(AtomicOp.ADD) | 1),  # lock fetch add32 (not reached)
    ]
    for backend in HOST_BACKENDS:
        regs, _ = _ours(backend, inits, body)
        assert regs[0] == 0, backend
    with Bpf() as bpf:
        packet = bytes(8 * len(WORK) + STACK + 14)
        run = bpf.test_run(bpf.prog_load(_kernel_program(inits, body), "xdp"), packet, xdp_md(len(packet)))
    kernel_r0 = struct.unpack_from("<Q", run.data_out)[0]
    assert kernel_r0 in (0, 1 << 63)
