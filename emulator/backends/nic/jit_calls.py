"""Calls and exits (reference §3.10-§3.11): the firmware map helpers, prandom,
perf_event_output, inline adjust_head/adjust_tail, bpf-to-bpf calls with the R6-R9
push/pop subroutines and frame moves, and the exits of the main program and sub-functions."""

from __future__ import annotations

from emulator.backends.nic.image import InsnFactsLike
from emulator.backends.nic.jit_base import (
    EOPNOTSUPP,
    ETH_HLEN,
    HELPER_ADJUST_HEAD,
    HELPER_ADJUST_TAIL,
    HELPER_MAP_DELETE,
    HELPER_MAP_LOOKUP,
    HELPER_MAP_UPDATE,
    HELPER_PERF_EVENT_OUTPUT,
    HELPER_PRANDOM,
    IMM_A,
    IMM_B,
    PLEN,
    PPTR,
    PTR_TYPE_CODES,
    PTR_TYPE_SCALAR,
    PV_LEN,
    RET_REG,
    STACK_FRAME_ALIGN,
    STACK_REG,
    Fixup,
    JitBase,
    gpr_hi,
    gpr_lo,
    round_up,
)
from emulator.backends.nic.microcode import (
    BR_OFF_RELO,
    MASK32,
    NONE,
    Alu,
    AluOp,
    Br,
    Cond,
    Csr,
    Immed,
    LdField,
    LocalCsrRd,
    LocalCsrWr,
    Relo,
    Rtn,
    a,
    b,
    both,
    imm,
    lm,
)
from emulator.isa.insn import Insn
from emulator.isa.table import OpInfo


class CallJit(JitBase):
    def push_regs(self) -> None:
        """Store R6-R9 in the callee frame's slots 1-8, then return to the callee (B21)."""
        for reg in range(6, 10):
            idx = 1 + (reg - 6) * 2
            self.mov(lm(0, idx), b(gpr_lo(reg)))
            if reg == 8:
                self.emit(Rtn(IMM_B, defer=3))
            self.mov(lm(0, idx + 1), b(gpr_hi(reg)))

    def pop_regs(self) -> None:
        """Reload R6-R9 from the frame, then return to the caller (A21)."""
        for reg in range(6, 10):
            idx = 1 + (reg - 6) * 2
            self.mov(both(gpr_lo(reg)), lm(0, idx))
            if reg == 8:
                self.emit(Rtn(RET_REG, defer=3))
            self.mov(both(gpr_hi(reg)), lm(0, idx + 1))

    # -- calls and exits -------------------------------------------------------------------
    def call(self, pc: int, insn: Insn, info: OpInfo, f: InsnFactsLike | None) -> None:
        if info.variant == 1:
            self.bpf_to_bpf(pc + 1 + insn.imm)
            return
        if info.variant != 0:
            raise self.fail(EOPNOTSUPP, "kfunc calls are not offloaded")
        hid = insn.imm
        if hid in (HELPER_MAP_LOOKUP, HELPER_MAP_UPDATE, HELPER_MAP_DELETE):
            self.map_call(hid, f)
        elif hid == HELPER_PRANDOM:
            self.emit(LocalCsrRd(Csr.PSEUDO_RND_NUM))
            self.emit(Immed(both(0), 0))
            self.emit(Immed(both(1), 0))
        elif hid == HELPER_PERF_EVENT_OUTPUT:
            data = f.args[3] if f is not None and len(f.args) > 3 else None
            code = PTR_TYPE_CODES.get(getattr(data, "kind", ""), PTR_TYPE_SCALAR)
            ptr_type = self.ur_load(code, IMM_A)
            ret = self.here + 3
            self.emit(Br(BR_OFF_RELO + hid, defer=2, relo=Relo.BR_HELPER))
            self.mov(a(1), ptr_type)
            self.emit(Immed(b(0), ret, relo=Relo.IMMED_REL))
        elif hid == HELPER_ADJUST_HEAD:
            self.adjust_head(pc)
        elif hid == HELPER_ADJUST_TAIL:
            self.adjust_tail()
        else:
            raise self.fail(EOPNOTSUPP, f"unsupported function id: {hid}")

    def map_call(self, hid: int, f: InsnFactsLike | None) -> None:
        """Firmware map helper: table id in A0, key at ActLMAddr0 (moved only when the key is
        not at the frame's start), value at ActLMAddr2, return address in B0."""
        key = f.args[1] if f is not None and len(f.args) > 1 else None
        key_off = getattr(key, "off", None)
        frame_up = getattr(key, "frame_up", 0)
        load_lm = key_off is None or frame_up > 0 or self.frame_depth + key_off != 0
        if load_lm:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, b(gpr_lo(2))))
        if hid == HELPER_MAP_UPDATE:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR2, b(gpr_lo(3))))
        self.emit(Br(BR_OFF_RELO + hid, defer=2, relo=Relo.BR_HELPER))
        ret = self.here + 2
        self.mov(a(0), a(gpr_lo(1)))
        self.emit(Immed(b(0), ret, relo=Relo.IMMED_REL))
        if load_lm:
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
            self.nops(3)

    def adjust_head(self, pc: int) -> None:
        cap = self.profile.adjust_head
        if cap is None:
            raise self.fail(EOPNOTSUPP, "adjust_head not supported by FW")
        delta = a(gpr_lo(2))
        if self.adjust_head_fast == pc:
            self.emit(Alu(PPTR, delta, AluOp.ADD, PPTR))
            self.emit(Alu(PLEN, PLEN, AluOp.SUB, delta))
            self.emit(Alu(PV_LEN, PV_LEN, AluOp.SUB, delta))
            self.immed(both(0), 0)
            self.immed(both(1), 0)
            return
        tmp_min = self.ur_load(cap.off_min, IMM_B)
        self.emit(Alu(IMM_A, delta, AluOp.ADD16, PPTR))
        self.emit(Alu(NONE, IMM_A, AluOp.SUB, tmp_min))
        to_einval = [self.here]
        self.emit(Br(0, Cond.CC))
        self.emit(Alu(NONE, self.ur_load(cap.off_max, IMM_B), AluOp.SUB, IMM_A))
        to_einval.append(self.here)
        self.emit(Br(0, Cond.CC))
        self.emit(Alu(IMM_B, PLEN, AluOp.SUB, delta))
        self.emit(Alu(NONE, IMM_B, AluOp.SUB, imm(ETH_HLEN)))
        to_einval.append(self.here)
        self.emit(Br(0, Cond.MI))
        self.immed(both(0), 0)
        self.immed(both(1), 0)
        self.emit(LdField(PPTR, 0x3, IMM_A))
        to_end = self.here
        self.emit(Br(0, defer=2))
        self.emit(Alu(PLEN, PLEN, AluOp.SUB, delta))
        self.emit(Alu(PV_LEN, PV_LEN, AluOp.SUB, delta))
        for at in to_einval:
            self.retarget(at, self.here)
        self.immed(both(0), -22)
        self.immed(both(1), MASK32)
        self.code[to_end] = Br(self.here, defer=2)

    def adjust_tail(self) -> None:
        delta = a(gpr_lo(2))
        ret_einval = self.here + 9
        end = self.here + 11
        self.emit(Alu(IMM_A, PLEN, AluOp.ADD, delta))
        self.emit(Br(ret_einval, Cond.CC))
        self.emit(Alu(NONE, IMM_A, AluOp.SUB, imm(ETH_HLEN)))
        self.emit(Br(ret_einval, Cond.MI))
        self.emit(Alu(PLEN, PLEN, AluOp.ADD, delta))
        self.emit(Alu(PV_LEN, PV_LEN, AluOp.ADD, delta))
        self.emit(Br(end, defer=2))
        self.immed(both(0), 0)
        self.immed(both(1), 0)
        self.immed(both(0), -22)
        self.immed(both(1), MASK32)

    def bpf_to_bpf(self, callee_pc: int) -> None:
        callee = self._sub_of(callee_pc)
        step = round_up(self.frame_depth, STACK_FRAME_ALIGN)
        if step:
            self.emit(Alu(STACK_REG, STACK_REG, AluOp.ADD, self.ur_load(step, IMM_B)))
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
        if callee.saves_regs:
            ret = self.here + 3
            self.emit(Br(BR_OFF_RELO, defer=2, relo=Relo.BR_GO_CALL_PUSH_REGS))
            self.fixups.append(Fixup(self.here, callee_pc, immed=True))
            self.emit(Immed(IMM_B, 0, relo=Relo.IMMED_REL))
        else:
            ret = self.here + 2
            self.br_pc(Cond.ALWAYS, callee_pc, defer=1)
        self.emit(Immed(RET_REG, ret, relo=Relo.IMMED_REL))
        if step:
            self.emit(Alu(STACK_REG, STACK_REG, AluOp.SUB, self.ur_load(step, IMM_B)))
            self.emit(LocalCsrWr(Csr.ACT_LM_ADDR0, STACK_REG))
            self.nops(3)

    def exit(self) -> None:
        if self.cur.entry == 0:
            self.emit(Br(BR_OFF_RELO, relo=Relo.BR_GO_OUT))
        elif self.cur.saves_regs:
            self.emit(Br(BR_OFF_RELO, defer=1, relo=Relo.BR_GO_CALL_POP_REGS))
            self.mov(RET_REG, lm(0, 0))
        else:
            self.mov(RET_REG, lm(0, 0))
            self.emit(Rtn(RET_REG))
