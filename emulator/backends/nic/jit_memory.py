"""Loads and stores by pointer kind (reference §1.5-§1.8, §3.7-§3.8): context fields by
offset, packet bytes through ``read32_swap``/``write8_swap`` and transfer registers, stack
words in local memory (direct, a 32-byte window, a post-increment walk or a run-time
address), map values through 40-bit EMEM reads, atomic adds, the XDP queue select and the
classic LD_ABS/LD_IND loads."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.backends.nic.image import InsnFactsLike, PtrLike
from emulator.backends.nic.jit_base import (
    ADD_IMM_OVERRIDE,
    EOPNOTSUPP,
    IMM_A,
    IMM_B,
    IMM_BOTH,
    IMMA_A,
    IMMA_B,
    LM_DIRECT_MAX,
    NFP_NET_RXR_MAX,
    PLEN,
    PPTR,
    PV_QSEL_SET,
    PV_QSEL_VAL,
    QSEL_SET_BIT,
    SKB_DATA,
    SKB_DATA_END,
    SKB_LEN,
    STACK_REG,
    XDP_DATA,
    XDP_DATA_END,
    XDP_RX_QUEUE_INDEX,
    JitBase,
    byte_shift,
    gpr_lo,
    round_down,
    round_up,
)
from emulator.backends.nic.microcode import (
    BR_OFF_RELO,
    NONE,
    Alu,
    AluOp,
    AluShf,
    Br,
    Cond,
    Csr,
    Dest,
    LdField,
    LocalCsrWr,
    Mem,
    MemCmd,
    Operand,
    Relo,
    a,
    b,
    both,
    imm,
    lm,
    lm_inc,
    shl,
    shr,
    xfer,
)
from emulator.backends.nic.microcode import AddrMode as Mode
from emulator.isa.insn import Insn
from emulator.isa.table import Form, OpInfo


class MemoryJit(JitBase):
    # -- memory ----------------------------------------------------------------------------
    def _ptr(self, f: InsnFactsLike | None, base: int) -> PtrLike:
        ptr = f.ptr if f is not None else None
        if ptr is None:
            if base == 10:
                return _StackPtr()
            raise self.fail(EOPNOTSUPP, f"nothing is known about the pointer in r{base}")
        if self.raw and ptr.kind == "ctx":
            return _RawMemoryPtr()
        return ptr

    def ldx(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        size = info.size
        ptr = self._ptr(f, insn.src)
        d = gpr_lo(insn.dst)
        if ptr.kind == "ctx":
            self.ldx_ctx(insn, size, ptr)
        elif ptr.kind == "stack":
            self.stack_access(insn, f, size, ptr, d, gpr_lo(insn.src), load=True)
        elif ptr.kind == "packet":
            offset = self.re_load(insn.off, IMM_B)
            self.data_ld_host_order(f, d, a(gpr_lo(insn.src)), offset, size, Mode.MODE_32)
        elif ptr.kind == "map_value":
            s = gpr_lo(insn.src)
            offset = self.re_load(insn.off, IMM_B)
            if offset == imm(0):
                high, low = b(s + 1), a(s)
            else:
                self.emit(Alu(IMM_A, a(s), AluOp.ADD, offset))
                self.emit(Alu(IMM_B, b(s + 1), AluOp.ADD_C, imm(0)))
                high, low = IMM_B, IMM_A
            self.data_ld_host_order(f, d, high, low, size, Mode.MODE_40)
        else:
            raise self.fail(EOPNOTSUPP, f"a load through a {ptr.kind} pointer has no NFP translation")

    def ldx_ctx(self, insn: Insn, size: int, ptr: PtrLike) -> None:
        off = insn.off + (ptr.off or 0)
        d = gpr_lo(insn.dst)
        if size != 4:
            raise self.fail(EOPNOTSUPP, f"context loads must be 4 bytes wide, this one is {size}")
        if self.prog_type == "tc":
            if off == SKB_LEN:
                self.mov(both(d), PLEN)
            elif off == SKB_DATA:
                self.mov(both(d), PPTR)
            elif off == SKB_DATA_END:
                self.emit(Alu(both(d), PLEN, AluOp.ADD, PPTR))
            else:
                raise self.fail(
                    EOPNOTSUPP, f"__sk_buff field at offset {off}: only len, data and data_end are offloaded"
                )
        elif off == XDP_DATA:
            self.mov(both(d), PPTR)
        elif off == XDP_DATA_END:
            self.emit(Alu(both(d), PLEN, AluOp.ADD, PPTR))
        else:
            raise self.fail(EOPNOTSUPP, f"xdp_md field at offset {off}: only data and data_end are offloaded")
        self.immed(both(d + 1), 0)

    def data_ld_host_order(
        self, f: InsnFactsLike | None, d: int, left: Operand, right: Operand, size: int, mode: Mode
    ) -> None:
        """``read32_swap`` then the wanted bytes from the transfer registers."""
        words = max(size, 4) // 4
        self.emit(Mem(MemCmd.READ32_SWAP, 0, left, right, words, mode))
        moved = 0
        if size < 4:
            self.emit(LdField(both(d), (1 << size) - 1, xfer(0), clear=True))
        else:
            for i in range(words):
                self.mov(both(d + i), xfer(i))
            moved = words
        if moved < 2:
            self.zext(f, d)

    def stx(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        size = info.size
        ptr = self._ptr(f, insn.dst)
        s = gpr_lo(insn.src)
        if ptr.kind == "stack":
            self.stack_access(insn, f, size, ptr, s, gpr_lo(insn.dst), load=False)
        elif ptr.kind == "packet":
            offset = self.re_load(insn.off, IMM_B)
            for i in range((size + 3) // 4):
                self.mov(xfer(i), a(s + i))
            self.emit(Mem(MemCmd.WRITE8_SWAP, 0, a(gpr_lo(insn.dst)), offset, size))
        elif ptr.kind == "ctx" and self.prog_type == "xdp":
            off = insn.off + (ptr.off or 0)
            if off != XDP_RX_QUEUE_INDEX or size != 4:
                raise self.fail(EOPNOTSUPP, f"store to xdp_md offset {off}: only rx_queue_index (4 bytes)")
            self.queue_select(s)
        elif ptr.kind == "map_value":
            raise self.fail(EOPNOTSUPP, "stores to map values are not offloaded (map writes not supported)")
        else:
            raise self.fail(EOPNOTSUPP, f"a store through a {ptr.kind} pointer has no NFP translation")

    def queue_select(self, s: int) -> None:
        """Steer the packet to RX queue ``s``, or to NFP_NET_RXR_MAX if it does not fit."""
        target = self.here + 5
        self.emit(Alu(NONE, a(s), AluOp.AND_NOT_B, imm(0xFF)))
        self.emit(Br(target, Cond.EQ, defer=2))
        self.emit(AluShf(PV_QSEL_SET, PV_QSEL_SET, AluOp.OR, imm(1), shl(QSEL_SET_BIT)))
        self.emit(LdField(PV_QSEL_VAL, 0x1, b(s)))
        self.emit(LdField(PV_QSEL_VAL, 0x1, imm(NFP_NET_RXR_MAX)))

    def stack_access(
        self, insn: Insn, f: InsnFactsLike | None, size: int, ptr: PtrLike, gpr: int, base: int, load: bool
    ) -> None:
        """``mem_op_stack``: a stack access through LM, as directly addressed words of the frame
        (first 64 bytes), an aligned 32-byte window through ActLMAddr3, or a walk with
        post-increment (also for pointers the JIT cannot place at translation time)."""
        off = self.frame_depth + insn.off + (ptr.off or 0)
        lm3 = True
        needs_inc = False
        if ptr.off is None or ptr.frame_up > 0:
            tmp = self.ur_load(insn.off, IMM_B)
            self.emit(Alu(IMM_B, a(base), AluOp.ADD, tmp))
            needs_inc = True
        elif off + size <= 64:
            lm3 = False
        elif round_down(off, 32) == round_down(off + size - 1, 32):
            tmp = self.ur_load(round_down(off, 32), IMM_B)
            self.emit(Alu(IMM_B, STACK_REG, AluOp.ADD, tmp))
            off %= 32
        else:
            tmp = self.ur_load(round_down(off, 4), IMM_B)
            self.emit(Alu(IMM_B, STACK_REG, AluOp.ADD, tmp))
            needs_inc = True
        narrow = load and size < 8
        zext = f is None or f.zext
        if lm3:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR3, IMM_B))
            self.nops(2 if narrow and zext else 3)
        if narrow:
            self.zext(f, gpr)
        first = True
        prev_gpr = -1
        gpr_byte = 0
        while size:
            piece = min(size, 4 - gpr_byte)
            piece = min(off + piece, round_up(off + 1, 4)) - off
            last = piece == size
            if needs_inc:
                off %= 4
            new_gpr = gpr != prev_gpr
            if load:
                self.lmem_load(gpr, gpr_byte, off, piece, first, new_gpr, last, lm3, needs_inc)
            else:
                self.lmem_store(gpr, gpr_byte, off, piece, first, new_gpr, last, lm3, needs_inc)
            prev_gpr = gpr
            first = False
            gpr_byte += piece
            if gpr_byte >= 4:
                gpr_byte -= 4
                gpr += 1
            size -= piece
            off += piece

    def lmem_load(
        self,
        gpr: int,
        dst_byte: int,
        off: int,
        size: int,
        first: bool,
        new_gpr: bool,
        last: bool,
        lm3: bool,
        needs_inc: bool,
    ) -> None:
        should_inc = needs_inc and new_gpr and not last
        idx = off // 4
        pointer = 3 if lm3 else 0
        if size == 4:
            self.mov(both(gpr), lm_inc(3) if should_inc else lm(pointer, idx))
            return
        mask = ((1 << size) - 1) << dst_byte
        shift = byte_shift(off % 4, dst_byte)
        src: Operand
        if idx <= LM_DIRECT_MAX:
            src = lm(pointer, idx)
        else:
            src = IMM_A
            if first or not new_gpr:  # else the word is already in imm_a
                self.mov(IMM_A, lm(0, idx))
        self.emit(LdField(both(gpr), mask, src, shift, clear=new_gpr))
        if should_inc:
            self.mov(NONE, lm_inc(3))

    def lmem_store(
        self,
        gpr: int,
        src_byte: int,
        off: int,
        size: int,
        first: bool,
        new_gpr: bool,
        last: bool,
        lm3: bool,
        needs_inc: bool,
    ) -> None:
        should_inc = needs_inc and new_gpr and not last
        idx = off // 4
        pointer = 3 if lm3 else 0
        if size == 4:
            self.mov(lm_inc(3) if should_inc else lm(pointer, idx), b(gpr))
            return
        mask = ((1 << size) - 1) << (off % 4)
        shift = byte_shift(src_byte, off % 4)
        dst: Dest
        if idx <= LM_DIRECT_MAX:
            dst = lm(pointer, idx)
        else:
            dst = IMM_A  # read-modify-write through imm_a (ld_field reaches *l$index0[0..7] only)
            if first or last:
                self.mov(IMM_A, lm(0, idx))
        self.emit(LdField(dst, mask, b(gpr), shift))
        if new_gpr or last:
            if idx > LM_DIRECT_MAX:
                self.mov(lm(0, idx), IMM_A)
            if should_inc:
                self.mov(NONE, lm_inc(3))

    def atomic(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        if info.op != 0 or info.size not in (4, 8):
            raise self.fail(EOPNOTSUPP, f"atomic operation {info.mnemonic}: only add (no fetch) is offloaded")
        ptr = self._ptr(f, insn.dst)
        if ptr.kind != "map_value":
            raise self.fail(EOPNOTSUPP, f"atomic add to a {ptr.kind} pointer: only map values")
        self.xadd(insn, f, info.size == 8)

    def xadd(self, insn: Insn, f: InsnFactsLike | None, is64: bool) -> None:
        """Atomic add in EMEM: ``add_imm`` with the value in the ALU override when it fits 16
        bits, ``add``/``add64`` from transfer registers otherwise, or both behind a run-time
        test when the value's range allows both."""
        d, s = gpr_lo(insn.dst), gpr_lo(insn.src)
        src = f.src if f is not None else None
        maybe16 = src is None or src.umin <= 0xFFFF
        over16 = src is None or src.umax > 0xFFFF
        offset = self.ur_load(insn.off, IMM_B)
        both_paths = maybe16 and over16
        branch = -1
        if both_paths:
            self.immed(IMM_A, 0xFFFF)
            self.emit(Alu(NONE, IMM_A, AluOp.SUB, b(s)))
            self.emit(Alu(NONE, imm(0), AluOp.SUB_C, b(s + 1)))
            branch = self.here
            self.emit(Br(0, Cond.CC, 2 if insn.off else 0))
        high: Operand
        low: Operand
        if not insn.off:
            high, low = b(d + 1), a(d)
        else:
            self.emit(Alu(IMMA_A, a(d), AluOp.ADD, offset))
            self.emit(Alu(IMMA_B, a(d + 1), AluOp.ADD_C, imm(0)))
            high, low = IMMA_B, IMMA_A
        out_branch = -1
        if maybe16:
            self.immed(IMM_A, ADD_IMM_OVERRIDE | ((8 | int(is64) << 2) << 8))
            self.emit(LdField(IMM_A, 0xC, b(s), shl(16)))
            cmd = MemCmd.ADD64_IMM if is64 else MemCmd.ADD_IMM
            self.emit(Mem(cmd, 0, high, low, 1, Mode.MODE_40, ctx_swap=False, indirect_ref=True))
            if over16:
                out_branch = self.here
                self.emit(Br(0))
        if branch >= 0:
            self.code[branch] = Br(self.here, Cond.CC, 2 if insn.off else 0)
        if over16:
            cmd = MemCmd.ADD64 if is64 else MemCmd.ADD
            self.emit(Mem(cmd, 0, high, low, 2 if is64 else 1, Mode.MODE_40, defer=2 if is64 else 1))
            self.mov(xfer(0), a(s))
            if is64:
                self.mov(xfer(1), a(s + 1))
        if out_branch >= 0:
            self.code[out_branch] = Br(self.here)

    def ld_abs(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        """Classic packet loads: bounds check against plen (abort when short), ``read8``,
        shift the wanted bytes down. The result is R0."""
        size = info.size
        if size not in (1, 2, 4):
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported")
        offset = insn.imm & 0xFFFF
        if info.form is Form.LD_ABS:
            tmp = self.ur_load(offset + size, IMM_A)
            self.emit(Alu(NONE, PLEN, AluOp.SUB, tmp))
            self.emit(Br(BR_OFF_RELO, Cond.CC, relo=Relo.BR_GO_ABORT))
            where = self.re_load(offset, IMM_B)
        else:
            tmp = self.ur_load(offset, IMM_B)
            self.emit(Alu(IMM_BOTH, a(gpr_lo(insn.src)), AluOp.ADD, tmp))
            self.emit(Alu(IMM_A, IMM_A, AluOp.ADD, imm(size)))
            self.emit(Alu(NONE, PLEN, AluOp.SUB, IMM_A))
            self.emit(Br(BR_OFF_RELO, Cond.CC, relo=Relo.BR_GO_ABORT))
            where = IMM_B
        self.emit(Mem(MemCmd.READ8, 0, PPTR, where, max(size, 4)))
        if size < 4:
            self.emit(AluShf(both(0), NONE, AluOp.B, xfer(0), shr((4 - size) * 8)))
        else:
            self.mov(both(0), xfer(0))
        self.zext(f, 0)


@dataclass(frozen=True, slots=True)
class _StackPtr:
    """R10 itself when the analysis gave no pointer facts: this frame, offset 0."""

    kind: str = "stack"
    off: int | None = 0
    frame_up: int = 0
    map_index: int | None = None


@dataclass(frozen=True, slots=True)
class _RawMemoryPtr:
    """The raw convention's memory buffer, which the device holds in CTM like a packet."""

    kind: str = "packet"
    off: int | None = None
    frame_up: int = 0
    map_index: int | None = None
