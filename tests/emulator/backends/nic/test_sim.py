"""The microcode simulator, mnemonic by mnemonic, against the semantics contract in
emulator.backends.nic.microcode (its docstring and its executable reference functions
alu_compute / shift_compute) and the reference notes (nfp_offload.md §2, §3.3-§3.6)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from emulator.backends.nic import microcode as mc
from emulator.backends.nic.devmem import (
    CTM_BUFFER,
    DeviceFault,
    Emem,
    Memories,
    packet_ctm,
    table_ids,
)
from emulator.backends.nic.microcode import AluOp, Cond, MulMode, Relo, a, b, both, imm, xfer
from emulator.backends.nic.sim import END, Firmware, HazardError, Sim
from emulator.map_memory import MapMemory
from emulator.maps import MapSet, MapSpec, MapType
from emulator.memory import PKT_BASE, AddressSpace
from emulator.progtypes.packet import PacketBuffer

PACKET = bytes(range(1, 65))
PACKET_OFFSET = 128


class Rig:
    """A Sim over a 64-byte packet (data at CTM offset 128) and one 8-byte array map."""

    def __init__(self, code: Sequence[mc.Instr], rnd: int = 0x1234_5678) -> None:
        self.space = AddressSpace()
        self.packet = PacketBuffer(self.space, PACKET)
        self.maps = MapSet((MapSpec("counters", MapType.ARRAY, 4, 8, 4),))
        self.mapmem = MapMemory(self.space, self.maps.maps)
        self.emem = Emem(self.mapmem, table_ids(self.maps.maps))
        self.mem = Memories(self.space, packet_ctm(self.packet, PACKET_OFFSET), self.emem)
        self.calls: list[int] = []
        rig = self

        class Fw(Firmware):
            def helper(self, hid: int, sim: Sim) -> None:
                rig.calls.append(hid)
                sim.a[0] = sim.b[0] = 0x77

        self.sim = Sim([*code, mc.Br(mc.BR_OFF_RELO, relo=Relo.BR_NEXT_PKT)], {}, self.mem, Fw(), lambda: rnd)

    def run(self) -> int:
        return self.sim.run_to(frozenset())


def run(code: Sequence[mc.Instr], setup: dict[str, int] | None = None) -> Sim:
    rig = Rig(code)
    for name, value in (setup or {}).items():
        bank, n = name[0], int(name[1:])
        (rig.sim.a if bank == "A" else rig.sim.b)[n] = value
    assert rig.run() == END
    return rig.sim


DATA = CTM_BUFFER + PACKET_OFFSET


# -- alu ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", list(AluOp))
def test_alu_matches_the_reference_semantics_with_both_carries(op: AluOp) -> None:
    rng = random.Random(op.value)
    edge = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 0xFF]
    pairs = [(x, y) for x in edge for y in edge] + [
        (rng.getrandbits(32), rng.getrandbits(32)) for _ in range(40)
    ]
    for x, y in pairs:
        for carry in (False, True):
            sim = Rig([mc.Alu(both(3), a(1), op, b(2))]).sim
            sim.a[1], sim.b[2], sim.c = x, y, carry
            sim.run_to(frozenset())
            want, flags = mc.alu_compute(op, x, y, carry)
            assert sim.a[3] == sim.b[3] == want, (op, hex(x), hex(y), carry)
            assert (sim.z, sim.n, sim.c, sim.v) == (flags.z, flags.n, flags.c, flags.v), (op, hex(x), hex(y))
            assert sim.alu_out == want and sim.shift_src == x


def test_64bit_add_carries_across_an_immed_between_the_halves() -> None:
    """§3.2: only immed may sit between + and +carry, because it leaves the flags alone."""
    x, y = 0x0000_0001_FFFF_FFFF, 0x0000_0002_0000_0001
    sim = run(
        [
            mc.Alu(both(4), a(4), AluOp.ADD, b(6)),
            mc.Immed(both(21), 0xFFFF, invert=True),  # a large high immediate: CC unchanged
            mc.Alu(both(5), a(5), AluOp.ADD_C, b(7)),
        ],
        {"A4": x & 0xFFFFFFFF, "A5": x >> 32, "B6": y & 0xFFFFFFFF, "B7": y >> 32},
    )
    assert sim.a[4] | sim.a[5] << 32 == x + y
    assert sim.a[21] == 0xFFFF0000


@pytest.mark.parametrize(
    ("x", "y"), [(5, 7), (7, 5), (5, 5), (1 << 32, 0xFFFF_FFFF), (0xFFFF_FFFF, 1 << 32), (2**64 - 1, 0)]
)
def test_64bit_unsigned_compare_sequence_branches_like_the_jit_expects(x: int, y: int) -> None:
    """§9: ``alu[--, a.lo, -, b.lo]; alu[--, a.hi, -carry, b.hi]; bcc`` is a < b unsigned."""
    code: list[mc.Instr] = [
        mc.Alu(mc.NONE, a(4), AluOp.SUB, b(6)),
        mc.Alu(mc.NONE, a(5), AluOp.SUB_C, b(7)),
        mc.Br(5, Cond.CC),
        mc.Immed(both(0), 0),
        mc.Br(6),
        mc.Immed(both(0), 1),
    ]
    sim = run(code, {"A4": x & 0xFFFFFFFF, "A5": x >> 32, "B6": y & 0xFFFFFFFF, "B7": y >> 32})
    assert sim.a[0] == int(x < y)


def test_carry_becomes_a_value_with_plus_carry_of_zeroes() -> None:
    """§3.5 case 1: ``alu[--, d, -, D]; immed[imm_a, 0]; alu[d, imm_a, +carry, 0]`` = d >= D."""
    for d, big in ((0x9000_0000, 0x8000_0001), (0x8000_0000, 0x8000_0001)):
        sim = run(
            [
                mc.Alu(mc.NONE, a(2), AluOp.SUB, b(21)),
                mc.Immed(a(21), 0),
                mc.Alu(both(2), a(21), AluOp.ADD_C, imm(0)),
            ],
            {"A2": d, "B21": big},
        )
        assert sim.a[2] == int(d >= big)


# -- shifts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 16, 31])
def test_alu_shf_immediate_shifts_and_rotates(n: int) -> None:
    v = 0x8123_4567
    for shift in (mc.shl(n), mc.shr(n), mc.rot(n)):
        sim = run([mc.AluShf(both(2), mc.NONE, AluOp.B, b(3), shift)], {"B3": v})
        assert sim.a[2] == mc.shift_compute(shift, v)


def test_indirect_shift_takes_the_A_operand_of_the_previous_alu() -> None:
    """§2.4.1: the latch is the A operand, not the result (here A OR B = 0x3f, A = 5)."""
    sim = run(
        [
            mc.Alu(mc.NONE, a(1), AluOp.OR, imm(0x3A)),
            mc.AluShf(both(2), mc.NONE, AluOp.B, b(3), mc.SHL_INDIRECT),
        ],
        {"A1": 5, "B3": 1},
    )
    assert sim.a[2] == 1 << 5


def test_dbl_shf_immediate_and_indirect_with_the_latched_32_returning_A() -> None:
    hi, lo = 0x1122_3344, 0x5566_7788
    sim = run([mc.DblShf(both(2), a(1), b(3), mc.shr(8))], {"A1": hi, "B3": lo})
    assert sim.a[2] == 0x4455_6677
    for amount, want in ((0, lo), (4, ((hi << 32 | lo) >> 4) & 0xFFFFFFFF), (32, hi)):
        sim = run(
            [mc.Alu(mc.NONE, a(5), AluOp.OR, imm(0)), mc.DblShf(both(2), a(1), b(3), mc.SHR_INDIRECT)],
            {"A1": hi, "B3": lo, "A5": amount},
        )
        assert sim.a[2] == want, amount


def test_asr_fills_with_the_sign_of_the_previous_alu_result_not_of_B() -> None:
    """§2.4.2: ``alu[--, d.hi, OR, 0]`` supplies the sign; B itself is positive here."""
    negative = run(
        [mc.Alu(mc.NONE, a(1), AluOp.OR, imm(0)), mc.Asr(both(2), b(3), mc.shr(4))],
        {"A1": 0x8000_0000, "B3": 0x10},
    )
    assert negative.a[2] == 0xF000_0001
    positive = run(
        [mc.Alu(mc.NONE, a(1), AluOp.OR, imm(0)), mc.Asr(both(2), b(3), mc.shr(4))],
        {"A1": 1, "B3": 0x8000_0010},
    )
    assert positive.a[2] == 0x0800_0001


def test_asr_indirect_amount_and_sign_from_one_latch() -> None:
    """§3.4 ARSH by register: ``alu[--, s.lo, OR, d.hi]`` gives both amount and sign."""
    d_hi, s = 0x8000_0100, 8
    sim = run(
        [mc.Alu(mc.NONE, a(4), AluOp.OR, b(3)), mc.Asr(both(3), b(3), mc.SHR_INDIRECT)], {"A4": s, "B3": d_hi}
    )
    assert sim.a[3] == ((d_hi - (1 << 32)) >> s) & 0xFFFFFFFF


# -- ld_field ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", range(1, 16))
def test_ld_field_byte_masks_keep_or_clear_the_other_bytes(mask: int) -> None:
    old, src = 0xAABB_CCDD, 0x1122_3344
    keep = run([mc.LdField(both(2), mask, b(3))], {"A2": old, "B2": old, "B3": src})
    clear = run([mc.LdField(both(2), mask, b(3), clear=True)], {"A2": old, "B2": old, "B3": src})
    sel = sum(0xFF << 8 * i for i in range(4) if mask >> i & 1)
    assert keep.a[2] == (old & ~sel & 0xFFFFFFFF) | (src & sel)
    assert clear.a[2] == src & sel


def test_be32_and_be16_sequences_swap_bytes() -> None:
    """§3.6: to-big-endian 32 is ld_field 1111 >>rot8 then 0101 >>rot16; 16 is 1001 >>rot8
    then 1110 >>16."""
    v = 0x1122_3344
    be32 = run(
        [mc.LdField(both(2), 0b1111, a(2), mc.rot(8)), mc.LdField(both(2), 0b0101, a(2), mc.rot(16))],
        {"A2": v},
    )
    assert be32.a[2] == 0x4433_2211
    be16 = run(
        [mc.LdField(both(2), 0b1001, a(2), mc.rot(8)), mc.LdField(both(2), 0b1110, a(2), mc.shr(16))],
        {"A2": v},
    )
    assert be16.a[2] == 0x4433


# -- immed ----------------------------------------------------------------------------------------------
def test_immed_forms() -> None:
    sim = run(
        [
            mc.Immed(both(1), 0x1234, byte_shift=2),
            mc.Immed(both(2), 0x00FF, byte_shift=1, invert=True),
            mc.Immed(both(3), 0xBEEF),
            mc.Immed(both(3), 0xDEAD, width=mc.ImmedWidth.W1),
            mc.Immed(both(4), 0x1111, width=mc.ImmedWidth.W0),
            mc.Immed(mc.NONE, 0x0800),
        ],
        {"A4": 0x2222_3333, "B4": 0x2222_3333},
    )
    assert sim.a[1] == 0x1234_0000 and sim.a[2] == 0xFFFF_00FF
    assert sim.a[3] == 0xDEAD_BEEF and sim.a[4] == 0x2222_1111
    assert sim.alu_out == 0x0800  # immed[--, v] only sets the latch (indirect_ref overrides)


def test_local_csr_rd_delivers_into_the_next_immed_only() -> None:
    rig = Rig(
        [mc.LocalCsrRd(mc.Csr.PSEUDO_RND_NUM), mc.Immed(both(0), 0), mc.Immed(both(1), 0)], rnd=0xCAFEF00D
    )
    rig.run()
    assert (rig.sim.a[0], rig.sim.a[1]) == (0xCAFEF00D, 0)


# -- mul_step ----------------------------------------------------------------------------------------------
def _mul32(x: int, y: int, last: MulMode) -> list[mc.Instr]:
    steps = [MulMode.START, MulMode.STEP1_32, MulMode.STEP2_32, MulMode.STEP3_32, MulMode.STEP4_32]
    return [*(mc.MulStep(a(2), b(3), m) for m in steps), mc.MulStep(both(4), mc.NONE, last)]


@pytest.mark.parametrize(("x", "y"), [(3, 5), (0xFFFF_FFFF, 0xFFFF_FFFF), (0x1234_5678, 0x9ABC_DEF0)])
def test_mul_step_32x32_last_and_last2(x: int, y: int) -> None:
    lo = run(_mul32(x, y, MulMode.LAST_32), {"A2": x, "B3": y})
    hi = run(_mul32(x, y, MulMode.LAST2_32), {"A2": x, "B3": y})
    assert lo.a[4] == (x * y) & 0xFFFFFFFF and hi.a[4] == (x * y) >> 32


def test_mul_step_16x16_multiplies_the_low_halves() -> None:
    code: list[mc.Instr] = [
        mc.MulStep(a(2), b(3), m) for m in (MulMode.START, MulMode.STEP1_16, MulMode.STEP2_16)
    ]
    sim = run([*code, mc.MulStep(both(4), mc.NONE, MulMode.LAST_16)], {"A2": 0x7_FFFF, "B3": 0x3_FFFF})
    assert sim.a[4] == 0xFFFF * 0xFFFF


def test_mul_step_with_other_operands_than_start_is_a_device_fault() -> None:
    rig = Rig([mc.MulStep(a(2), b(3), MulMode.START), mc.MulStep(a(2), b(4), MulMode.STEP1_32)])
    rig.sim.b[4] = 1
    with pytest.raises(DeviceFault, match="other operands"):
        rig.run()


# -- branches --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("taken", [True, False])
def test_defer_slots_run_whether_or_not_the_branch_is_taken(taken: bool) -> None:
    code: list[mc.Instr] = [
        mc.Alu(mc.NONE, a(1), AluOp.B, imm(0)),  # Z = 1
        mc.Br(5, Cond.EQ if taken else Cond.NE, defer=2),
        mc.Immed(both(2), 1),
        mc.Immed(both(3), 1),
        mc.Immed(both(4), 1),  # skipped when taken
        mc.Nop(),
    ]
    sim = run(code)
    assert (sim.a[2], sim.a[3], sim.a[4]) == (1, 1, 0 if taken else 1)


def test_br_bset_rtn_and_a_helper_returning_to_B0() -> None:
    code: list[mc.Instr] = [
        mc.BrBset(a(1), 5, 3),
        mc.Immed(both(2), 0xBAD),
        mc.Nop(),
        mc.Br(mc.BR_OFF_RELO + 1, defer=2, relo=Relo.BR_HELPER),  # 3
        mc.Alu(a(0), mc.NONE, AluOp.B, imm(9)),
        mc.Immed(b(0), 7, relo=Relo.IMMED_REL),
        mc.Immed(both(2), 0xBAD),  # 6: skipped, the helper returns to 7
        mc.Immed(a(21), 10),  # 7
        mc.Rtn(a(21), defer=1),
        mc.Immed(both(3), 3),  # the rtn's delay slot
        mc.Immed(both(4), 4),  # 10
    ]
    rig = Rig(code)
    rig.sim.a[1] = 1 << 5
    assert rig.run() == END
    s = rig.sim
    assert rig.calls == [1] and s.a[2] == 0 and (s.a[3], s.a[4]) == (3, 4) and s.a[0] == 0x77


def test_run_to_stops_at_the_next_boundary_but_not_inside_delay_slots() -> None:
    code: list[mc.Instr] = [
        mc.Br(3, defer=1),
        mc.Immed(both(1), 1),
        mc.Immed(both(2), 2),
        mc.Immed(both(3), 3),
        mc.Nop(),
    ]
    rig = Rig(code)
    assert rig.sim.run_to({1, 3}) == 3  # address 1 is a delay slot: no stop there
    assert rig.sim.a[1] == 1 and rig.sim.a[2] == 0


# -- local memory ----------------------------------------------------------------------------------------
def test_lm_pointer_used_within_three_instructions_is_a_hazard() -> None:
    code: list[mc.Instr] = [
        mc.LocalCsrWr(mc.Csr.ACT_LM_ADDR3, imm(0x40)),
        mc.Nop(),
        mc.Nop(),
        mc.Alu(both(1), mc.NONE, AluOp.B, mc.lm(3)),
    ]
    with pytest.raises(HazardError, match="ActLMAddr3"):
        Rig(code).run()


def test_lm_index_is_ored_and_post_increment_moves_the_pointer() -> None:
    code: list[mc.Instr] = [
        mc.LocalCsrWr(mc.Csr.ACT_LM_ADDR3, imm(0x40)),
        mc.Nop(),
        mc.Nop(),
        mc.Nop(),
        mc.Alu(mc.lm(3, 2), mc.NONE, AluOp.B, imm(0xAB)),  # word at 0x48
        mc.Alu(mc.lm_inc(3), mc.NONE, AluOp.B, imm(0xCD)),  # word at 0x40, then 0x44
        mc.Alu(mc.lm_inc(3), mc.NONE, AluOp.B, imm(0xEF)),
        mc.LdField(mc.lm(3, 1), 0b0010, imm(0x12), mc.shl(8)),  # pointer now 0x48: word 0x4c
    ]
    rig = Rig(code)
    rig.run()
    lm = rig.mem.lm
    assert (lm.word(0x40), lm.word(0x44), lm.word(0x48), lm.word(0x4C)) == (0xCD, 0xEF, 0xAB, 0x1200)
    assert lm.ptr[3] == 0x48


# -- memory commands ----------------------------------------------------------------------------------------
def test_packet_reads_swap_to_host_order_and_read8_is_network_order() -> None:
    code: list[mc.Instr] = [
        mc.Mem(mc.MemCmd.READ32_SWAP, 0, a(1), b(2), 2),
        mc.Alu(both(4), mc.NONE, AluOp.B, xfer(0)),
        mc.Alu(both(5), mc.NONE, AluOp.B, xfer(1)),
        mc.Mem(mc.MemCmd.READ8, 2, a(1), imm(3), 2),
        mc.AluShf(both(6), mc.NONE, AluOp.B, xfer(2), mc.shr(16)),
    ]
    sim = run(code, {"A1": DATA, "B2": 1})
    assert sim.a[4] == int.from_bytes(PACKET[1:5], "little") and sim.a[5] == int.from_bytes(
        PACKET[5:9], "little"
    )
    assert sim.a[6] == int.from_bytes(PACKET[3:5], "big")


def test_write8_swap_stores_exact_bytes_and_journals_interp_addresses() -> None:
    code: list[mc.Instr] = [
        mc.Alu(xfer(0), mc.NONE, AluOp.B, b(3)),
        mc.Mem(mc.MemCmd.WRITE8_SWAP, 0, a(1), imm(2), 3),
    ]
    rig = Rig(code)
    rig.sim.a[1], rig.sim.b[3] = DATA, 0xAABB_CCDD
    rig.mem.journal = []
    rig.run()
    assert rig.packet.packet()[2:6] == bytes([0xDD, 0xCC, 0xBB]) + PACKET[5:6]
    (w,) = rig.mem.journal
    assert (w.addr, w.new, w.where) == (PKT_BASE + 256 + 2, bytes([0xDD, 0xCC, 0xBB]), "pkt+2")


def test_atomic_adds_are_big_endian_on_the_device_and_host_order_in_the_map() -> None:
    rig = Rig([])
    elem = rig.maps[0].lookup((1).to_bytes(4, "little"))
    assert elem is not None
    rig.emem.atomic = {0: frozenset({0, 4})}
    addr = rig.emem.address(0, elem)
    hi, lo = addr >> 32, addr & 0xFFFFFFFF
    code: list[mc.Instr] = [
        mc.Mem(mc.MemCmd.ADD64, 0, a(1), b(2), 2, mc.AddrMode.MODE_40, defer=2),
        mc.Alu(xfer(0), mc.NONE, AluOp.B, b(3)),
        mc.Alu(xfer(1), mc.NONE, AluOp.B, imm(1)),
        mc.Immed(mc.NONE, 0x0005, byte_shift=2),  # the data override: 5 in bits 31:16
        mc.Mem(mc.MemCmd.ADD_IMM, 0, a(1), b(2), 1, mc.AddrMode.MODE_40, ctx_swap=False, indirect_ref=True),
    ]
    rig.sim = Sim([*code, mc.Br(mc.BR_OFF_RELO, relo=Relo.BR_NEXT_PKT)], {}, rig.mem, Firmware(), lambda: 0)
    rig.sim.a[1], rig.sim.b[2], rig.sim.b[3] = hi, lo, 0xFFFF_FFFF
    rig.run()
    # add64 of 0x1_ffffffff, then a 32-bit add_imm of 5 to the low word (no carry out of it)
    assert int.from_bytes(elem.data, "little") == (1 << 32) + ((0xFFFF_FFFF + 5) & 0xFFFFFFFF)
    assert rig.mem.read(addr, 8, emem=True) == (4).to_bytes(4, "big") + (1).to_bytes(4, "big")


def test_ctm_access_outside_the_buffer_is_a_device_fault() -> None:
    with pytest.raises(DeviceFault, match="outside the packet buffer"):
        run([mc.Mem(mc.MemCmd.READ32_SWAP, 0, a(1), imm(0), 1)], {"A1": 0x1000})


def test_a_taken_branch_counts_three_instruction_times_for_the_lm_latency() -> None:
    """microcode.py: the JIT's no-push bpf-to-bpf call writes ActLMAddr0, branches with one
    delay slot and stores through *l$index0 at the callee: legal because the taken branch
    costs 3 instruction times; the same distance without the branch is a hazard."""
    store = mc.Alu(mc.lm(0), mc.NONE, AluOp.B, imm(7))
    ok = Rig([mc.LocalCsrWr(mc.Csr.ACT_LM_ADDR0, imm(0x40)), mc.Br(3, defer=1), mc.Nop(), store])
    ok.run()
    assert ok.mem.lm.word(0x40) == 7
    with pytest.raises(HazardError):
        Rig([mc.LocalCsrWr(mc.Csr.ACT_LM_ADDR0, imm(0x40)), mc.Nop(), mc.Nop(), store]).run()


def test_lm_pointer_writes_drop_the_low_two_bits() -> None:
    code: list[mc.Instr] = [mc.LocalCsrWr(mc.Csr.ACT_LM_ADDR2, imm(0x47)), *[mc.Nop()] * 3]
    code.append(mc.Alu(mc.lm(2), mc.NONE, AluOp.B, imm(9)))
    rig = Rig(code)
    rig.run()
    assert rig.mem.lm.ptr[2] == 0x44 and rig.mem.lm.word(0x44) == 9
