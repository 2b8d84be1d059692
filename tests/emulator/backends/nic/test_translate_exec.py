"""Translated code computes what the eBPF instruction means: small programs are translated
(with facts that force the JIT's different paths: 16x16 or 32x32 multiply, shifts below, above
or across 32, every stack access strategy), run on the microcode simulator, and the registers
compared with the reference interpreter's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.base import create
from emulator.backends.nic.devmem import (
    CTM_BUFFER,
    LM_PV_BASE,
    LM_STACK_BASE,
    PV_CTM,
    PV_LEN,
    Emem,
    Memories,
    packet_ctm,
    table_ids,
)
from emulator.backends.nic.profiles import profile
from emulator.backends.nic.sim import END, Firmware, Sim
from emulator.backends.nic.translate import NfpImage, divide_plan, translate
from emulator.env import Environment, RunInput
from emulator.map_memory import MapMemory
from emulator.maps import MapSet
from emulator.memory import AddressSpace
from emulator.progtypes.packet import PacketBuffer
from emulator.state import StopCondition
from tests.emulator.backends.nic.nfp_fakes import Facts, Facts1, Ptr, Range, Sub, program

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
PACKET_OFFSET = 128


def device_regs(image: NfpImage) -> list[int]:
    """r0-r9 after the program ran on the simulator (as the backend sets a thread up)."""
    space = AddressSpace()
    packet = PacketBuffer(space, bytes(range(64)))
    maps = MapSet(())
    emem = Emem(MapMemory(space, maps.maps), table_ids(maps.maps))
    mem = Memories(space, packet_ctm(packet, PACKET_OFFSET), emem)
    sim = Sim(list(image.insns), image.relo_labels, mem, Firmware(), lambda: 0)
    mem.lm.set_word(LM_PV_BASE + PV_LEN, 64)
    mem.lm.set_word(LM_PV_BASE + PV_CTM, CTM_BUFFER + PACKET_OFFSET)
    mem.lm.ptr[0] = LM_STACK_BASE
    sim.a[22] = LM_STACK_BASE
    assert sim.run_to(frozenset()) == END
    return [sim.pair(n) for n in range(10)]


def interp_regs(text: str) -> list[int]:
    backend = create("interp")
    assert backend.load(program(text, "raw"), Environment(budget=10_000)).ok
    backend.reset(RunInput(mem=b""))
    backend.run(StopCondition())
    return list(backend.state().regs[:10])


def check(text: str, per_pc: dict[int, Facts1], regs: tuple[int, ...], depth: int = 0) -> None:
    prog = program(text, "xdp")
    facts = Facts(prog.nslots, per_pc, (Sub(0, prog.nslots, depth),))
    image = translate(prog, facts, profile("nfp-public-fw"))
    got, want = device_regs(image), interp_regs(text)
    for r in regs:
        assert got[r] == want[r], f"r{r}: device {got[r]:#x}, interp {want[r]:#x}\n{text}"


def setup(x: int, y: int) -> str:
    return f"r6 = {x:#x} ll\nr7 = {y:#x} ll\n"


u64 = st.integers(0, M64)
u32 = st.integers(0, M32)
edges64 = st.sampled_from([0, 1, 0x7FFFFFFF, 0x80000000, M32, 1 << 32, 1 << 63, M64, 0xFFFF, 0x10000])


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["+=", "-=", "&=", "|=", "^="]),
    st.one_of(u64, edges64),
    st.one_of(u64, edges64),
    st.booleans(),
)
def test_alu_register_ops(op: str, x: int, y: int, wide: bool) -> None:
    r6, r7 = ("r6", "r7") if wide else ("w6", "w7")
    check(setup(x, y) + f"{r6} {op} {r7}\nexit", {}, (6, 7))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["+=", "-=", "&=", "|=", "^="]), u64, st.integers(-(2**31), 2**31 - 1), st.booleans())
def test_alu_immediate_ops(op: str, x: int, k: int, wide: bool) -> None:
    if wide and k == -(2**31) and op in ("+=", "-="):
        return  # opt_neg_add_sub negates INT_MIN to itself: the JIT's known miscompile (§3.9)
    r6 = "r6" if wide else "w6"
    check(setup(x, 0) + f"{r6} {op} {k}\nexit", {}, (6,))


@settings(max_examples=40, deadline=None)
@given(u32, u32, st.booleans(), st.booleans())
def test_multiply(x: int, y: int, wide: bool, from_reg: bool) -> None:
    """16x16 when both ranges fit 16 bits, else 32x32 (the facts give exact ranges)."""
    r6 = "r6" if wide else "w6"
    operand = ("r7" if wide else "w7") if from_reg else str(y & 0x7FFFFFFF)
    y_eff = y if from_reg else y & 0x7FFFFFFF
    text = setup(x, y_eff) + f"{r6} *= {operand}\nexit"
    check(text, {4: Facts1(dst=Range(x, x), src=Range(y_eff, y_eff))}, (6,))


@settings(max_examples=80, deadline=None)
@given(u32, st.integers(1, M32), st.booleans())
def test_divide_by_constant(x: int, d: int, from_reg: bool) -> None:
    kind, _, rv = divide_plan(d)
    if d == 1 or (kind == "wide" and rv.sh == 1) or (kind == "mul" and rv.sh == 0):
        return  # a shift by 0, i.e. indirect on the device: flagged by the translator
    if not from_reg:
        d &= 0x7FFFFFFF
        if d == 0:
            return
    operand = "r7" if from_reg else str(d)
    check(setup(x, d) + f"r6 /= {operand}\nexit", {4: Facts1(dst=Range(0, x), src=Range(d, d))}, (6,))


def _shift_range(n: int, width: int, how: int) -> Range:
    if how == 0:
        return Range(n, n)
    if width == 32 or how == 1:
        return Range(0, 31) if n < 32 else Range(32, 63)
    return Range(0, 63)


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(["<<=", ">>=", "s>>="]),
    u64,
    st.integers(0, 63),
    st.booleans(),
    st.integers(0, 2),
    st.booleans(),
)
def test_shifts(op: str, x: int, n: int, wide: bool, how: int, from_reg: bool) -> None:
    """By immediate and by register with the amount known, within one half, or across 32."""
    width = 64 if wide else 32
    n %= width
    r6, r7 = ("r6", "r7") if wide else ("w6", "w7")
    operand = r7 if from_reg else str(n)
    text = setup(x, n) + f"{r6} {op} {operand}\nexit"
    check(text, {4: Facts1(src=_shift_range(n, width, how))}, (6,))


@pytest.mark.parametrize("bits", [16, 32, 64])
@pytest.mark.parametrize("x", [0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x80])
def test_byte_swap(bits: int, x: int) -> None:
    check(setup(x, 0) + f"r6 = be{bits} r6\nexit", {}, (6,))


@pytest.mark.parametrize("x", [0, 1, 1 << 63, M64, 0x1234_5678_9ABC_DEF0])
def test_negate_and_moves(x: int) -> None:
    check(setup(x, 0) + "r6 = -r6\nw7 = -w7\nr8 = r6\nw9 = w6\nexit", {}, (6, 7, 8, 9))


JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(JUMPS), st.one_of(u64, edges64), st.one_of(u64, edges64), st.booleans(), st.booleans())
def test_conditional_jumps(op: str, x: int, y: int, wide: bool, from_reg: bool) -> None:
    a, b = ("r6", "r7") if wide else ("w6", "w7")
    k = y & 0xFFFFFFFF
    k = k - (1 << 32) if k >> 31 else k
    if not from_reg and k == -(2**31) and op in (">=", "s>=", "<", "s<"):
        return  # opt_neg_add_sub negates INT_MIN to itself: the JIT's known miscompile (§3.9)
    operand = b if from_reg else str(k)
    text = setup(x, y) + f"r8 = 0\nif {a} {op} {operand} goto +1\nr8 = 1\nexit"
    check(text, {}, (8,))


@settings(max_examples=80, deadline=None)
@given(u64, st.integers(1, 64), st.sampled_from([1, 2, 4, 8]), st.integers(-8, 8))
def test_stack_store_then_load(x: int, slot: int, size: int, delta: int) -> None:
    """Every LM strategy (direct words, a 32-byte window, a post-increment walk) over a
    512-byte frame, narrow and unaligned accesses included."""
    store_off = -8 * slot
    load_off = store_off + delta
    if load_off + size > 0 or load_off < -512:
        return
    kind = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}[size]
    text = (
        setup(x, x ^ M64)
        + "*(u64 *)(r10 - 512) = r7\n"
        + f"*(u64 *)(r10 {store_off:+d}) = r6\n"
        + f"r8 = *({kind} *)(r10 {load_off:+d})\n"
        + f"*({kind} *)(r10 {load_off:+d}) = r7\n"
        + f"r9 = *(u64 *)(r10 {store_off:+d})\nexit"
    )
    stack = Facts1(ptr=Ptr("stack", 0))
    check(text, {4: stack, 5: stack, 6: stack, 7: stack, 8: stack}, (8, 9), depth=512)


def test_int_min_add_is_the_jits_corner_case() -> None:
    """§3.9: opt_neg_add_sub turns ``+= INT_MIN`` into ``-= -INT_MIN``, and -INT_MIN is INT_MIN
    again as a 32-bit immediate, so the device subtracts the sign-extended INT_MIN: it adds
    2^31 where the host subtracts it."""
    prog = program(setup(5, 0) + "r6 += -2147483648\nexit", "xdp")
    image = translate(prog, Facts(prog.nslots), profile("nfp-public-fw"))
    assert device_regs(image)[6] == 5 + (1 << 31)
    assert interp_regs(setup(5, 0) + "r6 += -2147483648\nexit")[6] == (5 - (1 << 31)) & M64


def _verdict_byte(text: str, prog_type: str) -> int:
    prog = program(text, prog_type)
    image = translate(prog, Facts(prog.nslots), profile("nfp-public-fw"))
    space = AddressSpace()
    mem = Memories(
        space, packet_ctm(PacketBuffer(space, bytes(64)), PACKET_OFFSET), Emem(MapMemory(space, ()), {})
    )
    sim = Sim(list(image.insns), image.relo_labels, mem, Firmware(), lambda: 0)
    mem.lm.set_word(LM_PV_BASE + PV_LEN, 64)
    mem.lm.set_word(LM_PV_BASE + PV_CTM, CTM_BUFFER + PACKET_OFFSET)
    assert sim.run_to(frozenset()) == END
    return (sim.a[0] >> 16) & 0xFF


# §1.9: the action byte the outro leaves in A0 bits 16-23 for each return code.
XDP_ACTIONS = {0: 0x82, 1: 0x22, 2: 0x11, 3: 0x44, 4: 0x82, 7: 0x82, 0xFFFFFFFF: 0x82}
TC_ACTIONS = {
    0: 0x11,
    1: 0x11,
    2: 0x22,
    3: 0x11,
    4: 0x02,
    5: 0x02,
    6: 0x11,
    7: 0x44,
    8: 0x11,
    0xFFFFFFFF: 0x11,
}


@pytest.mark.parametrize(("r0", "byte"), sorted(XDP_ACTIONS.items()))
def test_xdp_outro_action_byte(r0: int, byte: int) -> None:
    assert _verdict_byte(f"r0 = {r0:#x} ll\nexit", "xdp") == byte


@pytest.mark.parametrize(("r0", "byte"), sorted(TC_ACTIONS.items()))
def test_tc_outro_action_byte(r0: int, byte: int) -> None:
    assert _verdict_byte(f"r0 = {r0:#x} ll\nexit", "tc") == byte


def test_ld_abs_out_of_bounds_takes_the_abort_path() -> None:
    """The bounds check branches to abort: pass for TC (0x11), abort for XDP (0x82)."""
    assert _verdict_byte("r0 = *(u32 *)skb[62]\nr0 = 2\nexit", "tc") == 0x11
    assert _verdict_byte("r0 = *(u32 *)skb[60]\nr0 = 2\nexit", "tc") == 0x22


@pytest.mark.parametrize("saves", [False, True])
def test_bpf_to_bpf_call_keeps_the_caller_frame_and_callee_saved_registers(saves: bool) -> None:
    """The caller's frame moves A22 by round_up(depth, 64) for the callee and back; a callee
    that writes R6-R9 has them pushed and popped by the shared subroutines."""
    from emulator.isa.insn import Insn, encode_program, slot_list
    from emulator.program import Program

    callee_dst = 6 if saves else 1
    insns = [
        Insn(0xB7, dst=6, imm=7),
        Insn(0x7B, dst=10, src=6, off=-8),
        Insn(0x85, src=1, imm=2),
        Insn(0x79, dst=7, src=10, off=-8),
        Insn(0x95),
        Insn(0xB7, dst=callee_dst, imm=9),
        Insn(0x7B, dst=10, src=callee_dst, off=-8),
        Insn(0x95),
    ]
    prog = Program.from_bytes(encode_program(slot_list(insns)), prog_type="xdp")
    stack = Facts1(ptr=Ptr("stack", 0))
    facts = Facts(prog.nslots, {1: stack, 3: stack, 6: stack}, (Sub(0, 5, 8), Sub(5, 8, 8, saves)))
    image = translate(prog, facts, profile("nfp-public-fw"))
    regs = device_regs(image)
    assert regs[6] == 7 and regs[7] == 7  # r6 survived the call, the callee wrote its own frame
