"""eBPF -> x86-64, following the Linux x86-64 JIT's conventions (reference/host_jit.md, A1-A5).

One image per BPF function (the entry program and each bpf-to-bpf callee), each with the
kernel's prologue and an epilogue at the first ``exit``; later exits jump to it. Every eBPF
instruction keeps the native byte range it produced (``Function.ranges``), which is what
the debugger steps by. Jump sizes (rel8 vs rel32) converge over several passes that reuse
the previous pass's offsets, as the kernel's ``addrs[]`` loop does; after the sizes are
stable the images are placed and emitted once more with the real call targets.

Where the kernel relies on the verifier having rewritten the program first, this emitter
keeps one eBPF instruction = one native range instead, and says so in ``DEVIATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from emulator.backends.hostjit import x86
from emulator.backends.hostjit.x86 import AUX, AX, BPF_TO_X86, RAX, RCX, RDX
from emulator.isa.fields import AluOp, AtomicOp, CallKind, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form

MAX_PASSES = 20
PADDING_PASSES = MAX_PASSES - 5
STACK_SIZE = 512  # MAX_BPF_STACK: the frame is sized for the largest program (no verifier here)
PASS0_INSN_BYTES = 64

DEVIATIONS = (
    "div/mod by a register carry their own zero (and, signed, -1) guard inside the instruction's "
    "native range; the kernel has the verifier insert those as separate eBPF instructions",
    "32-bit cmpxchg is followed by `mov eax, eax` inside the same range (the verifier's `w0 = w0`)",
    "the stack frame is always 512 bytes (`sub rsp, 0x200`): without a verifier the real depth is unknown",
    "bpf_tail_call stays a helper call to a trampoline (the kernel inlines a prog-array lookup and jumps "
    "into the target image past its `push rbp; mov rbp, rsp`); the machine does that jump itself",
    "no tail-call counter slots in the prologue and no `mov rax, [rbp-off]` before subprogram calls",
    "ld_imm64 of maps and functions loads bpfdbg's addresses (map windows, code addresses), "
    "not kernel pointers, so values agree with the other backends",
    "ld_abs/ld_ind, kfunc calls and callx call trampolines (the kernel rewrites or rejects them)",
    "each image ends with `call fall_off` for paths that run past the last instruction, and a "
    "`call bad_pc` for each jump into the second half of a lddw",
)

SIMPLE_ALU = {AluOp.ADD: 0x01, AluOp.SUB: 0x29, AluOp.AND: 0x21, AluOp.OR: 0x09, AluOp.XOR: 0x31}
ALU_IMM = {
    AluOp.ADD: (0, 0x05),
    AluOp.OR: (1, 0x0D),
    AluOp.AND: (4, 0x25),
    AluOp.SUB: (5, 0x2D),
    AluOp.XOR: (6, 0x35),
}
SHIFT_EXT = {AluOp.LSH: 4, AluOp.RSH: 5, AluOp.ARSH: 7}
SHIFTX_PP = {AluOp.LSH: 1, AluOp.RSH: 3, AluOp.ARSH: 2}  # 66 / F2 / F3
JCC = {
    JmpOp.JEQ: 0x74,
    JmpOp.JNE: 0x75,
    JmpOp.JSET: 0x75,
    JmpOp.JGT: 0x77,
    JmpOp.JLT: 0x72,
    JmpOp.JGE: 0x73,
    JmpOp.JLE: 0x76,
    JmpOp.JSGT: 0x7F,
    JmpOp.JSLT: 0x7C,
    JmpOp.JSGE: 0x7D,
    JmpOp.JSLE: 0x7E,
}
CALLEE_SAVED = (6, 7, 8, 9)  # R6-R9: rbx, r13, r14, r15


class JitError(Exception):
    """The program cannot be translated (e.g. a jump into another function)."""

    def __init__(self, pc: int, message: str) -> None:
        super().__init__(message)
        self.pc = pc
        self.message = message


@dataclass(frozen=True, slots=True)
class JitOptions:
    """Kernel configuration choices that change the bytes (host_jit.md B6 risk 1)."""

    bmi2: bool = True  # shlx/shrx/sarx for shifts by a register (kernel on BMI2 CPUs)
    endbr: bool = False  # CONFIG_X86_KERNEL_IBT
    stack_size: int = STACK_SIZE
    div_guards: bool = True  # our own x/0 (and signed x/-1) guard; off for verifier-rewritten code
    lenient: bool = False  # translate anything (ud2 for the unknown): for comparing with kernel images


@dataclass(frozen=True, slots=True)
class MemAccess:
    """A native instruction that performs an eBPF load/store (the first memory access of the
    instruction). ``kind``: load, loadsx, store, store_imm, atomic. Registers are x86."""

    pc: int
    offset: int  # within the function image
    length: int
    kind: str
    base: int
    off: int
    size: int
    reg: int  # load destination / store source (x86); -1 for store_imm
    imm: int = 0
    atomic: int = -1  # AtomicOp for atomics


@dataclass
class Function:
    """One BPF function's image. ``ranges[pc]`` = (start, end) offsets in ``code``."""

    entry: int
    end: int  # first slot after the function
    code: bytes = b""
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    prologue_len: int = 0
    tail_entry: int = 0  # offset after `push rbp; mov rbp, rsp` (where a tail call lands)
    cleanup: int | None = None  # offset of the epilogue (the first exit)
    fall_off: int = 0  # offset of the trailing fall-off call
    bad_targets: dict[int, int] = field(default_factory=dict)  # stub offset -> mid-lddw jump target
    size: int = 0
    mem: list[MemAccess] = field(default_factory=list)
    calls: dict[int, int] = field(default_factory=dict)  # pc of a local call -> offset of `call`
    base: int = 0  # absolute address once placed
    passes: int = 0


Targets = Callable[[str, int], int]  # ("helper", id) / ("special", index) / ("func", pc) -> address


def function_starts(insns: Sequence[Insn | None], symbols: Sequence[int] = ()) -> list[int]:
    """Entry pcs of the BPF functions: 0, every local call target, every function address
    taken by ld_imm64 (callbacks), and every symbol that names an instruction."""
    n = len(insns)
    starts = {0}
    for pc, insn in enumerate(insns):
        if insn is None or insn.info is None:
            continue
        info = insn.info
        if (info.form is Form.CALL and info.variant == CallKind.LOCAL) or (
            info.form is Form.LDDW and info.variant == PseudoSrc.FUNC
        ):
            target = pc + 1 + insn.imm
            if 0 <= target < n and insns[target] is not None:
                starts.add(target)
    starts.update(s for s in symbols if 0 <= s < n and insns[s] is not None)
    return sorted(starts)


def _uses_callee_saved(insns: Sequence[Insn | None], lo: int, hi: int) -> list[int]:
    used: set[int] = set()
    for insn in insns[lo:hi]:
        if insn is None:
            continue
        for reg in (insn.dst, insn.src):
            if reg in CALLEE_SAVED:
                used.add(reg)
    return [r for r in CALLEE_SAVED if r in used]


class _FunctionEmitter:
    def __init__(self, insns: Sequence[Insn | None], fn: Function, opts: JitOptions, tail_slot: bool) -> None:
        self.insns = insns
        self.fn = fn
        self.opts = opts
        self.tail_slot = tail_slot
        self.saved = [BPF_TO_X86[r] for r in _uses_callee_saved(insns, fn.entry, fn.end)]
        self.bad_targets = sorted(
            t
            for pc in range(fn.entry, fn.end)
            if (i := insns[pc]) is not None
            and i.info is not None
            and i.info.is_branch
            and (t := i.jump_target(pc)) is not None
            and fn.entry <= t < fn.end
            and insns[t] is None
        )
        self.first_exit = next(
            (
                pc
                for pc in range(fn.entry, fn.end)
                if (i := insns[pc]) is not None and i.info is not None and i.info.form is Form.EXIT
            ),
            None,
        )

    # -- prologue / epilogue ------------------------------------------------------------------
    def prologue(self) -> tuple[bytes, int]:
        out = bytearray()
        if self.opts.endbr:
            out += b"\xf3\x0f\x1e\xfa"
        out += x86.NOPS[5]  # patch site for BPF trampolines
        out += b"\x48\x31\xc0" if self.tail_slot else x86.NOPS[3]  # tail-call counter init
        out += b"\x55\x48\x89\xe5"  # push rbp; mov rbp, rsp
        tail_entry = len(out)
        if self.opts.endbr:
            out += b"\xf3\x0f\x1e\xfa"
        out += b"\x48\x81\xec" + x86.i32(self.opts.stack_size)  # sub rsp, imm32
        for reg in self.saved:
            out += x86.push(reg)
        return bytes(out), tail_entry

    def epilogue(self) -> bytes:
        out = bytearray()
        for reg in reversed(self.saved):
            out += x86.pop(reg)
        out += b"\xc9\xc3"  # leave; ret
        return bytes(out)

    # -- passes ---------------------------------------------------------------------------------
    def run_pass(
        self, addrs: list[int], prev_len: list[int], padding: bool, base: int, targets: Targets
    ) -> tuple[bytes, list[int]]:
        """One emission pass. ``addrs[i]`` (i relative to the entry) is the start of insn i,
        updated in place as the kernel does: backward jumps see this pass's offsets, forward
        jumps the previous pass's."""
        fn = self.fn
        n = fn.end - fn.entry
        pro, tail_entry = self.prologue()
        out = bytearray(pro)
        fn.prologue_len = len(pro)
        fn.tail_entry = tail_entry
        fn.mem = []
        fn.calls = {}
        fn.cleanup = None
        fn.ranges = {}
        addrs[0] = len(out)
        lens = [0] * n
        i = 0
        while i < n:
            pc = fn.entry + i
            insn = self.insns[pc]
            if insn is None:
                i += 1
                continue
            start = len(out)
            code = self.insn(pc, insn, i, addrs, start, base + start, targets, padding)
            if padding and len(code) < prev_len[i]:
                code += x86.nops(prev_len[i] - len(code))
            out += code
            lens[i] = len(code)
            fn.ranges[pc] = (start, len(out))
            for k in range(1, insn.slots + 1):
                if i + k <= n:
                    addrs[i + k] = len(out)
            i += insn.slots
        fn.fall_off = len(out)
        out += x86.call_rel32(base + len(out), targets("special", 4))
        fn.bad_targets = {}
        for target in self.bad_targets:  # jumps into the middle of a lddw fault there
            fn.bad_targets[len(out)] = target
            addrs[target - fn.entry] = len(out)
            out += x86.call_rel32(base + len(out), targets("special", 5))
        fn.size = len(out)
        return bytes(out), lens

    # -- one instruction -----------------------------------------------------------------------
    def _target_offset(self, pc: int, target: int, i: int, slots: int, addrs: list[int]) -> int:
        fn = self.fn
        if not fn.entry <= target <= fn.end:
            if self.opts.lenient:
                return 0
            raise JitError(
                pc,
                f"jump from insn {pc} to insn {target} leaves its function "
                f"(insns {fn.entry}-{fn.end - 1}); the kernel rejects that too",
            )
        return addrs[target - fn.entry] - addrs[i + slots]

    def insn(
        self,
        pc: int,
        insn: Insn,
        i: int,
        addrs: list[int],
        pos: int,
        ip: int,
        targets: Targets,
        padding: bool,
    ) -> bytes:
        info = insn.info
        if info is None:
            if self.opts.lenient and insn.opcode == 0xBF and insn.off == -1 and max(insn.dst, insn.src) <= 10:
                # BPF_MOV64_PERCPU_REG (verifier-inserted): mov dst, src; add dst, gs:[this_cpu_off]
                dst, src = BPF_TO_X86[insn.dst], BPF_TO_X86[insn.src]
                gs_add = b"\x65" + x86.rex(True, dst, 0) + bytes([0x03, x86.modrm(0, dst, 4), 0x25])
                return x86.mov_reg(True, dst, src) + gs_add + x86.i32(0)
            if self.opts.lenient:
                return b"\x0f\x0b"  # ud2
            raise JitError(pc, f"cannot translate opcode {insn.opcode:#04x}")
        form = info.form
        dst = BPF_TO_X86[insn.dst] if insn.dst <= 10 else RAX
        src = BPF_TO_X86[insn.src] if insn.src <= 10 else RAX
        is64 = info.is64
        if form in (Form.ALU_REG, Form.ALU_IMM):
            return self.alu(insn, dst, src, is64)
        if form is Form.NEG:
            return x86.rex(is64, 0, dst) + bytes([0xF7, x86.modrm(3, 3, dst)])
        if form is Form.MOVSX:
            return self.movsx(info.size, is64, dst, src)
        if form is Form.END:
            return self.end(info.mnemonic, info.size, dst)
        if form in (Form.JA, Form.JA32):
            off = insn.off if form is Form.JA else insn.imm
            rel = self._target_offset(pc, pc + 1 + off, i, 1, addrs)
            if rel == 0:
                return b""
            if -128 <= rel <= 123:
                return b"\xeb" + x86.i8(rel)
            return b"\xe9" + x86.i32(rel)
        if form in (Form.JCOND_REG, Form.JCOND_IMM):
            cmp = self.compare(insn, dst, src, is64)
            rel = self._target_offset(pc, pc + 1 + insn.off, i, 1, addrs)
            jcc = JCC[JmpOp(info.op)]
            if -128 <= rel <= 123:
                return cmp + bytes([jcc]) + x86.i8(rel)
            return cmp + bytes([0x0F, jcc + 0x10]) + x86.i32(rel)
        if form is Form.EXIT:
            if pc == self.first_exit:
                self.fn.cleanup = pos
                return self.epilogue()
            assert self.first_exit is not None
            cleanup = addrs[self.first_exit - self.fn.entry]
            rel = cleanup - addrs[i + 1]
            return (b"\xeb" + x86.i8(rel)) if x86.is_imm8(rel) else (b"\xe9" + x86.i32(rel))
        if form is Form.CALL:
            if info.variant == CallKind.LOCAL:
                self.fn.calls[pc] = pos
                return x86.call_rel32(ip, targets("func", pc + 1 + insn.imm))
            if info.variant == CallKind.HELPER:
                return x86.call_rel32(ip, targets("helper", insn.imm & 0xFFFFFFFF))
            return x86.call_rel32(ip, targets("special", 2))
        if form is Form.CALLX:
            return x86.call_rel32(ip, targets("special", 3))
        if form in (Form.LD_ABS, Form.LD_IND):
            return x86.call_rel32(ip, targets("special", 0 if form is Form.LD_ABS else 1))
        if form is Form.LDDW:
            if info.variant == PseudoSrc.IMM64:
                return x86.mov_imm64(dst, insn.imm64)
            return x86.mov_imm64(dst, targets("pseudo", pc))
        if form in (Form.LDX, Form.LDXSX):
            code = self.ldx(info.size, form is Form.LDXSX, dst, src, insn.off)
            kind = "loadsx" if form is Form.LDXSX else "load"
            self.fn.mem.append(MemAccess(pc, pos, len(code), kind, src, insn.off, info.size, dst))
            return code
        if form is Form.STX:
            code = self.stx(info.size, dst, src, insn.off)
            self.fn.mem.append(MemAccess(pc, pos, len(code), "store", dst, insn.off, info.size, src))
            return code
        if form is Form.ST:
            code = self.st(info.size, dst, insn.off, insn.imm)
            self.fn.mem.append(
                MemAccess(pc, pos, len(code), "store_imm", dst, insn.off, info.size, -1, insn.imm)
            )
            return code
        if form is Form.ATOMIC:
            return self.atomic(pc, pos, info.variant, info.size, dst, src, insn.off)
        raise JitError(pc, f"no x86 translation for {info.mnemonic}")

    # -- ALU ----------------------------------------------------------------------------------
    def alu(self, insn: Insn, dst: int, src: int, is64: bool) -> bytes:
        info = insn.info
        assert info is not None
        op = AluOp(info.op)
        reg = info.form is Form.ALU_REG
        imm = insn.imm
        if op in SIMPLE_ALU:
            if reg:
                return x86.alu_reg(SIMPLE_ALU[op], is64, dst, src)
            ext_op, short = ALU_IMM[op]
            return x86.alu_imm(ext_op, short, is64, dst, imm)
        if op is AluOp.MOV:
            return x86.mov_reg(is64, dst, src) if reg else x86.mov_imm32(is64, dst, imm)
        if op is AluOp.MUL:
            if reg:
                return x86.rex(is64, dst, src) + bytes([0x0F, 0xAF, x86.modrm(3, dst, src)])
            prefix = x86.rex(is64, dst, dst)
            if x86.is_imm8(imm):
                return prefix + bytes([0x6B, x86.modrm(3, dst, dst)]) + x86.i8(imm)
            return prefix + bytes([0x69, x86.modrm(3, dst, dst)]) + x86.i32(imm)
        if op in SHIFT_EXT:
            ext_op = SHIFT_EXT[op]
            if not reg:
                count = imm & (63 if is64 else 31)
                prefix = x86.rex(is64, 0, dst)
                if count == 1:
                    return prefix + bytes([0xD1, x86.modrm(3, ext_op, dst)])
                return prefix + bytes([0xC1, x86.modrm(3, ext_op, dst), count])
            return self.shift_reg(op, ext_op, is64, dst, src)
        if op in (AluOp.DIV, AluOp.MOD):
            return self.divmod(op, info.signed, reg, is64, dst, src, imm)
        raise JitError(0, f"no x86 translation for ALU op {op.name}")

    def shift_reg(self, op: AluOp, ext_op: int, is64: bool, dst: int, src: int) -> bytes:
        if self.opts.bmi2 and src != RCX:
            return x86.vex3(dst, dst, src, is64, SHIFTX_PP[op]) + bytes([0xF7, x86.modrm(3, dst, dst)])
        out = bytearray()
        real_dst = dst
        if dst == RCX:
            out += x86.mov_reg(True, AUX, RCX)
            dst = AUX
        if src != RCX:
            out += x86.push(RCX)
            out += x86.mov_reg(True, RCX, src)
        out += x86.rex(is64, 0, dst) + bytes([0xD3, x86.modrm(3, ext_op, dst)])
        if src != RCX:
            out += x86.pop(RCX)
        if real_dst == RCX:
            out += x86.mov_reg(True, RCX, AUX)
        return bytes(out)

    def divmod(self, op: AluOp, signed: bool, reg: bool, is64: bool, dst: int, src: int, imm: int) -> bytes:
        mask = 0xFFFFFFFFFFFFFFFF if is64 else 0xFFFFFFFF
        zero_code = (
            x86.mov_imm32(False, dst, 0)
            if op is AluOp.DIV
            else (b"" if is64 else x86.mov_reg(False, dst, dst))
        )
        minus1_code = (
            x86.rex(is64, 0, dst) + bytes([0xF7, x86.modrm(3, 3, dst)])
            if op is AluOp.DIV
            else x86.mov_imm32(False, dst, 0)
        )
        if not reg:
            if imm & mask == 0:
                return zero_code
            if signed and imm == -1:
                return minus1_code
            return self.div_pattern(op, signed, is64, dst, None, imm)
        body = self.div_pattern(op, signed, is64, dst, src, 0)
        if not self.opts.div_guards:
            return body
        test = x86.alu_reg(0x85, is64, src, src)
        if not signed:
            if not zero_code:
                return test + b"\x74" + x86.i8(len(body)) + body
            body += b"\xeb" + x86.i8(len(zero_code))
            return test + b"\x74" + x86.i8(len(body)) + body + zero_code
        cmp_m1 = x86.rex(is64, 0, src) + bytes([0x83, x86.modrm(3, 7, src), 0xFF])
        tail_zero = zero_code + (b"\xeb" + x86.i8(len(minus1_code)) if zero_code else b"")
        body += b"\xeb" + x86.i8(len(tail_zero) + len(minus1_code))
        je_m1 = b"\x74" + x86.i8(len(body) + len(tail_zero))
        jz_zero = b"\x74" + x86.i8(len(cmp_m1) + 2 + len(body) + (0 if zero_code else len(minus1_code)))
        return test + jz_zero + cmp_m1 + je_m1 + body + tail_zero + minus1_code

    def div_pattern(self, op: AluOp, signed: bool, is64: bool, dst: int, src: int | None, imm: int) -> bytes:
        """The kernel's div/idiv frame: rax/rdx saved unless they are the destination."""
        out = bytearray()
        if dst != RAX:
            out += x86.push(RAX)
        if dst != RDX:
            out += x86.push(RDX)
        if src is None:
            out += b"\x49\xc7\xc3" + x86.i32(imm)  # mov r11, imm32
            src = AUX
        elif src in (RAX, RDX):
            out += x86.mov_reg(True, AUX, src)
            src = AUX
        if dst != RAX:
            out += x86.mov_reg(is64, RAX, dst)
        if not signed:
            out += b"\x31\xd2"  # xor edx, edx
        else:
            out += b"\x48\x99" if is64 else b"\x99"  # cqo / cdq
        out += x86.rex(is64, 0, src) + bytes([0xF7, x86.modrm(3, 7 if signed else 6, src)])
        if op is AluOp.MOD and dst != RDX:
            out += x86.mov_reg(is64, dst, RDX)
        elif op is AluOp.DIV and dst != RAX:
            out += x86.mov_reg(is64, dst, RAX)
        if dst != RDX:
            out += x86.pop(RDX)
        if dst != RAX:
            out += x86.pop(RAX)
        return bytes(out)

    def movsx(self, bits: int, is64: bool, dst: int, src: int) -> bytes:
        if bits == 32:
            return x86.rex(True, dst, src) + bytes([0x63, x86.modrm(3, dst, src)])
        force = bits == 8 and src in (4, 5, 6, 7)
        prefix = x86.rex(is64, dst, src, force=force)
        return prefix + bytes([0x0F, 0xBE if bits == 8 else 0xBF, x86.modrm(3, dst, src)])

    def end(self, mnemonic: str, bits: int, dst: int) -> bytes:
        movzx16 = x86.rex(False, dst, dst) + bytes([0x0F, 0xB7, x86.modrm(3, dst, dst)])
        if mnemonic.startswith("le"):
            if bits == 16:
                return movzx16
            if bits == 32:
                return x86.mov_reg(False, dst, dst)
            return b""
        if bits == 16:
            return b"\x66" + x86.rex(False, 0, dst) + bytes([0xC1, x86.modrm(3, 1, dst), 8]) + movzx16
        return x86.rex(bits == 64, 0, dst) + bytes([0x0F, 0xC8 + (dst & 7)])

    def compare(self, insn: Insn, dst: int, src: int, is64: bool) -> bytes:
        info = insn.info
        assert info is not None
        op = JmpOp(info.op)
        if info.form is Form.JCOND_REG:
            return x86.alu_reg(0x85 if op is JmpOp.JSET else 0x39, is64, dst, src)
        imm = insn.imm
        if op is JmpOp.JSET:
            return x86.rex(is64, 0, dst) + bytes([0xF7, x86.modrm(3, 0, dst)]) + x86.i32(imm)
        if imm == 0:
            return x86.alu_reg(0x85, is64, dst, dst)
        return x86.alu_imm(7, None, is64, dst, imm)

    # -- memory -------------------------------------------------------------------------------
    def ldx(self, size: int, signed: bool, dst: int, src: int, off: int) -> bytes:
        if signed:
            opcode = {1: b"\x0f\xbe", 2: b"\x0f\xbf", 4: b"\x63"}[size]
            return x86.rex(True, dst, src) + opcode + x86.mem_suffix(dst, src, off)
        if size == 1:
            return x86.rex(True, dst, src) + b"\x0f\xb6" + x86.mem_suffix(dst, src, off)
        if size == 2:
            return x86.rex(True, dst, src) + b"\x0f\xb7" + x86.mem_suffix(dst, src, off)
        return x86.rex(size == 8, dst, src) + b"\x8b" + x86.mem_suffix(dst, src, off)

    def stx(self, size: int, dst: int, src: int, off: int) -> bytes:
        if size == 1:
            prefix = x86.rex(False, src, dst, force=src in (4, 5, 6, 7))
            return prefix + b"\x88" + x86.mem_suffix(src, dst, off)
        pre = b"\x66" if size == 2 else b""
        return pre + x86.rex(size == 8, src, dst) + b"\x89" + x86.mem_suffix(src, dst, off)

    def st(self, size: int, dst: int, off: int, imm: int) -> bytes:
        pre = b"\x66" if size == 2 else b""
        opcode = b"\xc6" if size == 1 else b"\xc7"
        value = {1: bytes([imm & 0xFF]), 2: (imm & 0xFFFF).to_bytes(2, "little")}.get(size, x86.i32(imm))
        return pre + x86.rex(size == 8, 0, dst) + opcode + x86.mem_suffix(0, dst, off) + value

    def atomic(self, pc: int, pos: int, aop: int, size: int, dst: int, src: int, off: int) -> bytes:
        is64 = size == 8
        if aop in (
            AtomicOp.AND | AtomicOp.FETCH,
            AtomicOp.OR | AtomicOp.FETCH,
            AtomicOp.XOR | AtomicOp.FETCH,
        ):
            out = bytearray(x86.mov_reg(True, AX, RAX))  # R0 is cmpxchg's operand: save it
            real_src = AX if src == RAX else src
            real_dst = AX if dst == RAX else dst
            loop = len(out)
            load = self.ldx(size, False, RAX, real_dst, off)
            self.fn.mem.append(
                MemAccess(pc, pos + len(out), len(load), "atomic", real_dst, off, size, real_src, atomic=aop)
            )
            out += load
            out += x86.mov_reg(is64, AUX, RAX)
            out += x86.alu_reg(SIMPLE_ALU[AluOp(aop & ~AtomicOp.FETCH)], is64, AUX, real_src)
            out += b"\xf0" + x86.rex(is64, AUX, real_dst) + b"\x0f\xb1" + x86.mem_suffix(AUX, real_dst, off)
            out += b"\x75" + x86.i8(loop - (len(out) + 2))
            out += x86.mov_reg(is64, real_src, RAX)
            out += x86.mov_reg(True, RAX, AX)
            return bytes(out)
        opcode = {
            AtomicOp.ADD: b"\x01",
            AtomicOp.AND: b"\x21",
            AtomicOp.OR: b"\x09",
            AtomicOp.XOR: b"\x31",
            AtomicOp.ADD | AtomicOp.FETCH: b"\x0f\xc1",
            AtomicOp.XCHG: b"\x87",
            AtomicOp.CMPXCHG: b"\x0f\xb1",
        }[AtomicOp(aop)]
        code = b"\xf0" + x86.rex(is64, src, dst) + opcode + x86.mem_suffix(src, dst, off)
        self.fn.mem.append(MemAccess(pc, pos, len(code), "atomic", dst, off, size, src, atomic=aop))
        if aop == AtomicOp.CMPXCHG and not is64:
            code += x86.mov_reg(False, RAX, RAX)
        return code


@dataclass
class JitProgram:
    """The images of one program's functions, placed at ``base``."""

    functions: list[Function]
    base: int
    passes: int
    options: JitOptions

    def function_of(self, pc: int) -> Function | None:
        for fn in self.functions:
            if fn.entry <= pc < fn.end:
                return fn
        return None

    def range_of(self, pc: int) -> tuple[int, int] | None:
        """Absolute [start, end) of the native code of the instruction at ``pc``."""
        fn = self.function_of(pc)
        if fn is None or pc not in fn.ranges:
            return None
        start, end = fn.ranges[pc]
        return fn.base + start, fn.base + end

    @property
    def size(self) -> int:
        last = self.functions[-1]
        return last.base + len(last.code) - self.base


def jit_program(
    insns: Sequence[Insn | None],
    base: int,
    targets: Targets,
    *,
    symbols: Sequence[int] = (),
    tail_calls: bool = False,
    options: JitOptions | None = None,
    starts: Sequence[int] | None = None,
) -> JitProgram:
    """Translate a program: converge every function's size, place the images one after the
    other (16-byte aligned) from ``base``, and emit them once more with the real targets.
    ``targets("pseudo", pc)`` gives the value of a pseudo ld_imm64 at ``pc``; ``starts``
    overrides where functions begin (default: ``function_starts``)."""
    opts = options or JitOptions()
    starts = sorted(starts) if starts is not None else function_starts(insns, symbols)
    bounds = list(zip(starts, [*starts[1:], len(insns)], strict=True))
    funcs = [Function(lo, hi) for lo, hi in bounds]
    emitters = [_FunctionEmitter(insns, fn, opts, tail_calls and fn.entry == 0) for fn in funcs]

    def placeholder(kind: str, value: int) -> int:
        return targets(kind, value) if kind == "pseudo" else 0

    max_passes = 0
    states: list[tuple[list[int], list[int]]] = []
    for fn, em in zip(funcs, emitters, strict=True):
        n = fn.end - fn.entry
        addrs = [PASS0_INSN_BYTES * k for k in range(n + 1)]
        prev_len = [0] * n
        prev_size = -1
        for npass in range(MAX_PASSES):
            code, lens = em.run_pass(addrs, prev_len, npass >= PADDING_PASSES, 0, placeholder)
            prev_len = lens
            if len(code) == prev_size:
                fn.passes = npass + 1
                break
            prev_size = len(code)
        else:
            raise JitError(fn.entry, f"the JIT did not converge after {MAX_PASSES} passes")
        max_passes = max(max_passes, fn.passes)
        states.append((addrs, prev_len))
    addr = base
    for fn in funcs:
        fn.base = addr
        addr = (addr + fn.size + 15) & ~15
    for fn, em, (addrs, prev_len) in zip(funcs, emitters, states, strict=True):
        before = list(addrs)

        def final(kind: str, value: int) -> int:
            if kind == "func":
                callee = next((f for f in funcs if f.entry == value), None)
                if callee is None:
                    if opts.lenient:
                        return base  # keeps rel32 in range; the call is flagged by the comparison
                    raise JitError(value, f"call target insn {value} is not a function start")
                return callee.base
            return targets(kind, value)

        code, _ = em.run_pass(addrs, prev_len, fn.passes > PADDING_PASSES, fn.base, final)
        if addrs != before:
            raise JitError(fn.entry, "the final JIT pass changed instruction offsets")
        fn.code = code
    return JitProgram(funcs, base, max_passes, opts)
