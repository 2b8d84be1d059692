"""ALU, byte-swap, ``lddw`` and conditional-jump sequences (reference §3.1-§3.6): 64-bit
pairs with carry, the immediate specials, 16x16 or 32x32 multiplies by operand range,
division by a constant through a reciprocal, shifts by immediate or by register (below,
above or across 32), to-big-endian swaps, compares with the JIT's operand swaps."""

from __future__ import annotations

from emulator.backends.nic.image import InsnFactsLike
from emulator.backends.nic.jit_base import (
    ALU_OPS,
    CARRY_OPS,
    EINVAL,
    EOPNOTSUPP,
    IMM_A,
    IMM_B,
    IMM_BOTH,
    JMP_CODES,
    MASK64,
    NEG_JUMPS,
    STACK_REG,
    JitBase,
    gpr_lo,
    s32,
)
from emulator.backends.nic.microcode import (
    MASK32,
    NONE,
    SHL_INDIRECT,
    SHR_INDIRECT,
    Alu,
    AluOp,
    AluShf,
    Asr,
    Br,
    BrBset,
    Cond,
    DblShf,
    Dest,
    LdField,
    MulMode,
    MulStep,
    Operand,
    a,
    b,
    both,
    imm,
    rot,
    shl,
    shr,
)
from emulator.backends.nic.reciprocal import divide_plan
from emulator.isa.fields import AluOp as BpfAlu
from emulator.isa.fields import Class, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form, OpInfo


class AluJit(JitBase):
    # -- ALU -------------------------------------------------------------------------------
    def alu(self, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        is64 = info.cls is Class.ALU64
        d = gpr_lo(insn.dst)
        form = info.form
        if form is Form.END:
            self.end(insn, info)
            return
        if form is Form.NEG:
            self.emit(Alu(both(d), imm(0), AluOp.SUB, b(d)))
            if is64:
                self.emit(Alu(both(d + 1), imm(0), AluOp.SUB_C, b(d + 1)))
            else:
                self.zext(f, d)
            return
        op = BpfAlu(info.op)
        if form is Form.MOVSX:
            self.note("ISA v4 movsx is translated as a plain mov (the NFP JIT ignores off)")
        if op is BpfAlu.MOV:
            self.mov_alu(insn, is64, form is Form.ALU_IMM)
            return
        if info.signed:
            self.note("ISA v4 sdiv/smod is translated as the unsigned operation (the NFP JIT ignores off)")
        from_reg = form is not Form.ALU_IMM
        value = insn.imm
        if not from_reg and op in (BpfAlu.ADD, BpfAlu.SUB) and value < 0:  # opt_neg_add_sub
            op = BpfAlu.SUB if op is BpfAlu.ADD else BpfAlu.ADD
            value = s32(-value)
        if op in ALU_OPS:
            self.binary(ALU_OPS[op], d, gpr_lo(insn.src), value, is64, from_reg, f)
        elif op is BpfAlu.MUL:
            self.mul(insn, f, is64, from_reg)
        elif op is BpfAlu.DIV:
            self.div(insn, f, from_reg)
        elif op in (BpfAlu.LSH, BpfAlu.RSH, BpfAlu.ARSH):
            self.shift(op, insn, f, is64, from_reg)
        else:
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported ({info.mnemonic})")

    def mov_alu(self, insn: Insn, is64: bool, from_imm: bool) -> None:
        d = gpr_lo(insn.dst)
        if from_imm:
            value = insn.imm & MASK64 if is64 else insn.imm & MASK32
            self.immed(both(d), value & MASK32)
            self.immed(both(d + 1), value >> 32)
            return
        if insn.src == 10:
            self.emit(Alu(both(d), STACK_REG, AluOp.ADD, self.ur_load(self.frame_depth, IMM_B)))
            self.immed(both(d + 1), 0)
            return
        s = gpr_lo(insn.src)
        self.mov(both(d), b(s))
        if is64:
            self.mov(both(d + 1), b(s + 1))
        else:
            self.immed(both(d + 1), 0)

    def alu_imm(self, gpr: int, op: AluOp, value: int) -> None:
        """``wrp_alu_imm``: AND 0 / OR ~0 become immed, XOR ~0 a NOT, no-ops vanish."""
        value &= MASK32
        if op is AluOp.AND:
            if value == 0:
                self.immed(both(gpr), 0)
            if value in (0, MASK32):
                return
        elif op is AluOp.OR:
            if value == MASK32:
                self.immed(both(gpr), MASK32)
            if value in (0, MASK32):
                return
        elif op is AluOp.XOR:
            if value == MASK32:
                self.emit(Alu(both(gpr), NONE, AluOp.NOT_B, b(gpr)))
            if value in (0, MASK32):
                return
        self.emit(Alu(both(gpr), a(gpr), op, self.ur_load(value, IMM_B)))

    def binary(
        self, op: AluOp, d: int, s: int, value: int, is64: bool, from_reg: bool, f: InsnFactsLike | None
    ) -> None:
        carry = CARRY_OPS.get(op, op)
        if from_reg:
            self.emit(Alu(both(d), a(d), op, b(s)))
            if is64:
                self.emit(Alu(both(d + 1), a(d + 1), carry, b(s + 1)))
            else:
                self.zext(f, d)
            return
        if not is64:
            self.alu_imm(d, op, value)
            self.zext(f, d)
            return
        wide = value & MASK64
        if (op is AluOp.AND and wide == MASK64) or (op in (AluOp.OR, AluOp.XOR) and wide == 0):
            return  # marked a no-op
        if op in CARRY_OPS:  # the carry half is always emitted
            self.emit(Alu(both(d), a(d), op, self.ur_load(wide & MASK32, IMM_B)))
            self.emit(Alu(both(d + 1), a(d + 1), carry, self.ur_load(wide >> 32, IMM_B)))
            return
        self.alu_imm(d, op, wide & MASK32)
        self.alu_imm(d + 1, op, wide >> 32)

    def mul(self, insn: Insn, f: InsnFactsLike | None, is64: bool, from_reg: bool) -> None:
        d = gpr_lo(insn.dst)
        left = a(d)
        left_max = (f.dst.umax if f is not None and f.dst is not None else MASK32) & MASK32
        right: Operand
        if from_reg:
            right = b(gpr_lo(insn.src))
            right_max = (f.src.umax if f is not None and f.src is not None else MASK32) & MASK32
        else:
            value = insn.imm & MASK32
            right = self.ur_load(value, IMM_B)
            right_max = value
        if left_max > 0xFFFF or right_max > 0xFFFF:
            self.mul32(both(d + 1), both(d), left, right, is64)
        else:
            self.mul16(both(d), left, right)

    def mul32(self, dst_hi: Dest, dst_lo: Dest, left: Operand, right: Operand, high: bool) -> None:
        for mode in (MulMode.START, MulMode.STEP1_32, MulMode.STEP2_32, MulMode.STEP3_32, MulMode.STEP4_32):
            self.emit(MulStep(left, right, mode))
        self.emit(MulStep(dst_lo, NONE, MulMode.LAST_32))
        if high:
            self.emit(MulStep(dst_hi, NONE, MulMode.LAST2_32))
        else:
            self.immed(dst_hi, 0)

    def mul16(self, dst_lo: Dest, left: Operand, right: Operand) -> None:
        for mode in (MulMode.START, MulMode.STEP1_16, MulMode.STEP2_16):
            self.emit(MulStep(left, right, mode))
        self.emit(MulStep(dst_lo, NONE, MulMode.LAST_16))

    def div(self, insn: Insn, f: InsnFactsLike | None, from_reg: bool) -> None:
        d = gpr_lo(insn.dst)
        if from_reg:
            src = f.src if f is not None else None
            if src is None or src.umin != src.umax:
                raise self.fail(EOPNOTSUPP, "division by a register that is not one known constant")
            divisor = src.umin
        else:
            divisor = insn.imm & MASK64
        if divisor > MASK32:
            self.immed(both(d), 0)
            return
        if divisor == 0:
            raise self.fail(
                EINVAL,
                "division by a known zero: the JIT's reciprocal of 0 is undefined (the kernel WARNs); "
                "eBPF defines the quotient as 0",
            )
        if divisor > 1 << 31:
            tmp = self.ur_load(divisor, IMM_B)
            self.emit(Alu(NONE, a(d), AluOp.SUB, tmp))
            self.immed(IMM_A, 0)
            self.emit(Alu(both(d), IMM_A, AluOp.ADD_C, imm(0)))
            return
        kind, pre_shift, rv = divide_plan(divisor)
        magic = self.ur_load(rv.m, IMM_B)
        if kind == "shift":
            self.shr_lo(d, rv.exp, "division by 1")
        elif kind == "wide":
            self.mul32(IMM_BOTH, NONE, a(d), magic, True)
            self.emit(Alu(both(d), a(d), AluOp.SUB, IMM_B))
            self.shr_lo(d, 1, "")
            self.emit(Alu(both(d), a(d), AluOp.ADD, IMM_B))
            self.shr_lo(d, rv.sh - 1, f"division by {divisor}")
        else:
            if pre_shift:
                self.shr_lo(d, pre_shift, "")
            self.mul32(both(d), NONE, a(d), magic, True)
            self.shr_lo(d, rv.sh, f"division by {divisor}")

    def shr_lo(self, d: int, n: int, what: str) -> None:
        """``alu_shf[d, --, B, d, >>n]``; n = 0 is the encoding of an indirect shift."""
        if n == 0:
            self.note(
                f"{what}: the JIT's final shift by 0 is encoded as an indirect shift, so the "
                "quotient is shifted by whatever amount the previous alu instruction latched"
            )
            self.emit(AluShf(both(d), NONE, AluOp.B, b(d), SHR_INDIRECT))
        else:
            self.emit(AluShf(both(d), NONE, AluOp.B, b(d), shr(n)))

    # -- shifts ----------------------------------------------------------------------------
    def shift(self, op: BpfAlu, insn: Insn, f: InsnFactsLike | None, is64: bool, from_reg: bool) -> None:
        d = gpr_lo(insn.dst)
        width = 64 if is64 else 32
        if from_reg:
            src = f.src if f is not None else None
            umin, umax = (src.umin, src.umax) if src is not None else (0, MASK64)
            if umin == umax:
                self.shift_imm(op, d, umin & (width - 1), is64, f)
                return
            s = gpr_lo(insn.src)
            if not is64:
                latch = b(d) if op is BpfAlu.ARSH else imm(0)
                self.emit(Alu(NONE, a(s), AluOp.OR, latch))
                if op is BpfAlu.ARSH:
                    self.emit(Asr(both(d), b(d), SHR_INDIRECT))
                else:
                    kind = SHL_INDIRECT if op is BpfAlu.LSH else SHR_INDIRECT
                    self.emit(AluShf(both(d), NONE, AluOp.B, b(d), kind))
                self.zext(f, d)
                return
            self.shift_reg64(op, d, s, umin, umax)
            return
        self.shift_imm(op, d, insn.imm & (width - 1), is64, f)

    def shift_imm(self, op: BpfAlu, d: int, n: int, is64: bool, f: InsnFactsLike | None) -> None:
        if not is64:
            if n:
                if op is BpfAlu.ARSH:
                    self.emit(Alu(NONE, a(d), AluOp.OR, imm(0)))
                    self.emit(Asr(both(d), b(d), shr(n)))
                else:
                    self.emit(AluShf(both(d), NONE, AluOp.B, b(d), shl(n) if op is BpfAlu.LSH else shr(n)))
            self.zext(f, d)
            return
        if n == 0:
            return
        lo, hi = d, d + 1
        if op is BpfAlu.LSH:
            if n < 32:
                self.emit(DblShf(both(hi), a(hi), b(lo), shr(32 - n)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(lo), shl(n)))
            elif n == 32:
                self.mov(both(hi), b(lo))
                self.immed(both(lo), 0)
            else:
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(lo), shl(n - 32)))
                self.immed(both(lo), 0)
        elif op is BpfAlu.RSH:
            if n < 32:
                self.emit(DblShf(both(lo), a(hi), b(lo), shr(n)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(hi), shr(n)))
            elif n == 32:
                self.mov(both(lo), b(hi))
                self.immed(both(hi), 0)
            else:
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(hi), shr(n - 32)))
                self.immed(both(hi), 0)
        else:
            if n < 32:
                self.emit(DblShf(both(lo), a(hi), b(lo), shr(n)))
                self.emit(Alu(NONE, a(hi), AluOp.OR, imm(0)))
                self.emit(Asr(both(hi), b(hi), shr(n)))
            elif n == 32:
                self.mov(both(lo), b(hi))
                self.emit(Asr(both(hi), b(hi), shr(31)))
            else:
                self.emit(Alu(NONE, a(hi), AluOp.OR, imm(0)))
                self.emit(Asr(both(lo), b(hi), shr(n - 32)))
                self.emit(Asr(both(hi), b(hi), shr(31)))

    def shift_reg64(self, op: BpfAlu, d: int, s: int, umin: int, umax: int) -> None:
        """64-bit shift by a register: a sequence for amounts below 32, one for 32 and up, or
        both behind ``br_bset`` on bit 5 when the range straddles 32."""
        lo, hi = d, d + 1

        def lt32_first() -> None:  # the half that must be computed first
            if op is BpfAlu.LSH:
                self.emit(Alu(IMM_BOTH, imm(32), AluOp.SUB, b(s)))
                self.emit(Alu(NONE, IMM_A, AluOp.OR, imm(0)))
                self.emit(DblShf(both(hi), a(hi), b(lo), SHR_INDIRECT))
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(DblShf(both(lo), a(hi), b(lo), SHR_INDIRECT))

        def lt32_second() -> None:
            if op is BpfAlu.LSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(lo), SHL_INDIRECT))
            elif op is BpfAlu.RSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(hi), SHR_INDIRECT))
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, b(hi)))
                self.emit(Asr(both(hi), b(hi), SHR_INDIRECT))

        def ge32() -> None:
            if op is BpfAlu.LSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(hi), NONE, AluOp.B, b(lo), SHL_INDIRECT))
                self.immed(both(lo), 0)
            elif op is BpfAlu.RSH:
                self.emit(Alu(NONE, a(s), AluOp.OR, imm(0)))
                self.emit(AluShf(both(lo), NONE, AluOp.B, b(hi), SHR_INDIRECT))
                self.immed(both(hi), 0)
            else:
                self.emit(Alu(NONE, a(s), AluOp.OR, b(hi)))
                self.emit(Asr(both(lo), b(hi), SHR_INDIRECT))
                self.emit(Asr(both(hi), b(hi), shr(31)))

        if umax < 32:
            lt32_first()
            lt32_second()
        elif umin >= 32:
            ge32()
        else:
            bset = self.here
            self.emit(BrBset(a(s), 5, 0))
            lt32_first()
            br = self.here
            self.emit(Br(0, defer=2))
            lt32_second()
            ge32_at = self.here
            ge32()
            self.code[bset] = BrBset(a(s), 5, ge32_at)
            self.code[br] = Br(self.here, defer=2)

    # -- byte swap -------------------------------------------------------------------------
    def end(self, insn: Insn, info: OpInfo) -> None:
        d = gpr_lo(insn.dst)
        if info.cls is not Class.ALU or not insn.opcode & 0x08:
            raise self.fail(
                EOPNOTSUPP,
                f"instruction {insn.opcode:#04x} not supported: the NFP converts to big endian only",
            )
        bits = info.size
        if bits == 16:
            self.emit(LdField(both(d), 0x9, b(d), rot(8)))
            self.emit(LdField(both(d), 0xE, b(d), shr(16)))
            self.immed(both(d + 1), 0)
        elif bits == 32:
            self.emit(LdField(both(d), 0xF, b(d), rot(8)))
            self.emit(LdField(both(d), 0x5, b(d), rot(16)))
            self.immed(both(d + 1), 0)
        else:
            self.mov(IMM_B, b(d + 1))
            self.emit(LdField(both(d + 1), 0xF, b(d), rot(8)))
            self.emit(LdField(both(d + 1), 0x5, b(d), rot(24)))
            self.emit(LdField(both(d), 0xF, IMM_B, rot(8)))
            self.emit(LdField(both(d), 0x5, IMM_B, rot(24)))

    # -- lddw ------------------------------------------------------------------------------
    def lddw(self, insn: Insn, info: OpInfo) -> None:
        d = gpr_lo(insn.dst)
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            tid = self.map_tid(insn.imm)
            self.tids[insn.imm] = tid
            low, high = tid & MASK32, 0
        elif insn.src == PseudoSrc.IMM64:
            low, high = insn.imm & MASK32, insn.imm_hi & MASK32
        else:
            raise self.fail(
                EOPNOTSUPP,
                f"lddw with pseudo source {insn.src} ({info.mnemonic}): offloaded programs cannot "
                "use global data or code addresses",
            )
        self.immed(both(d), low)
        if low == high:
            self.mov(both(d + 1), b(d))
        else:
            self.immed(both(d + 1), high)

    # -- jumps -----------------------------------------------------------------------------
    def jump(self, pc: int, insn: Insn, info: OpInfo) -> None:
        op = JmpOp(info.op)
        is64 = info.cls is Class.JMP
        target = pc + 1 + insn.off
        d = gpr_lo(insn.dst)
        from_reg = info.form is Form.JCOND_REG
        value = insn.imm
        neg = False
        if not from_reg and op in NEG_JUMPS and value < 0:  # opt_neg_add_sub's jump_neg_op
            value = s32(-value)
            neg = True
        wide = value & MASK64
        if op is JmpOp.JEQ:
            if from_reg:
                s = gpr_lo(insn.src)
                self.emit(Alu(IMM_A, a(d), AluOp.XOR, b(s)))
                if is64:
                    self.emit(Alu(IMM_B, a(d + 1), AluOp.XOR, b(s + 1)))
                    self.emit(Alu(NONE, IMM_A, AluOp.OR, IMM_B))
            else:
                or1: Operand = a(d)
                or2: Operand = b(d + 1)
                if wide & MASK32:
                    self.emit(Alu(IMM_A, a(d), AluOp.XOR, self.ur_load(wide & MASK32, IMM_B)))
                    or1 = IMM_A
                if is64:
                    if wide >> 32:
                        self.emit(Alu(IMM_B, a(d + 1), AluOp.XOR, self.ur_load(wide >> 32, IMM_B)))
                        or2 = IMM_B
                    self.emit(Alu(NONE, or1, AluOp.OR, or2))
                else:
                    self.emit(Alu(NONE, NONE, AluOp.B, or1))
            self.br_pc(Cond.EQ, target)
        elif op is JmpOp.JNE and not from_reg:
            if not wide:
                if is64:
                    self.emit(Alu(NONE, a(d), AluOp.OR, b(d + 1)))
                else:
                    self.emit(Alu(NONE, NONE, AluOp.B, b(d)))
                self.br_pc(Cond.NE, target)
                return
            self.emit(Alu(NONE, a(d), AluOp.XOR, self.ur_load(wide & MASK32, IMM_B)))
            self.br_pc(Cond.NE, target)
            if is64:
                self.emit(Alu(NONE, a(d + 1), AluOp.XOR, self.ur_load(wide >> 32, IMM_B)))
                self.br_pc(Cond.NE, target)
        elif op in (JmpOp.JNE, JmpOp.JSET) and from_reg:
            alu_op = AluOp.XOR if op is JmpOp.JNE else AluOp.AND
            s = gpr_lo(insn.src)
            self.emit(Alu(IMM_A, a(d), alu_op, b(s)))
            if is64:
                self.emit(Alu(IMM_B, a(d + 1), alu_op, b(s + 1)))
                self.emit(Alu(NONE, IMM_A, AluOp.OR, IMM_B))
            self.br_pc(Cond.NE, target)
        elif op is JmpOp.JSET:
            self.emit(Alu(IMM_B, a(d), AluOp.AND, self.ur_load(wide & MASK32, IMM_B)))
            if is64 and wide >> 32:
                self.emit(Alu(NONE, a(d + 1), AluOp.OR, IMM_B))
            self.br_pc(Cond.NE, target)
        elif op in JMP_CODES:
            cond, swap = JMP_CODES[op]
            if from_reg:
                left, right = (gpr_lo(insn.src), d) if swap else (d, gpr_lo(insn.src))
                self.emit(Alu(NONE, a(left), AluOp.SUB, b(right)))
                if is64:
                    self.emit(Alu(NONE, a(left + 1), AluOp.SUB_C, b(right + 1)))
            else:
                alu_op, carry_op = (AluOp.ADD, AluOp.ADD_C) if neg else (AluOp.SUB, AluOp.SUB_C)
                tmp = self.ur_load(wide & MASK32, IMM_B)
                self.emit(Alu(NONE, tmp, alu_op, a(d)) if swap else Alu(NONE, a(d), alu_op, tmp))
                if is64:
                    tmp = self.ur_load(wide >> 32, IMM_B)
                    self.emit(
                        Alu(NONE, tmp, carry_op, a(d + 1)) if swap else Alu(NONE, a(d + 1), carry_op, tmp)
                    )
            self.br_pc(cond, target)
        else:
            raise self.fail(EOPNOTSUPP, f"instruction {insn.opcode:#04x} not supported ({info.mnemonic})")
