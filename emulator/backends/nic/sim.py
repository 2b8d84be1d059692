"""A simulator of the NFP-flavoured microcode (emulator.backends.nic.microcode) for one
thread of one microengine, with the firmware around it: the helper subroutines the JIT
branches to, and the "packet done" address where a program ends.

The machine follows the semantics contract in microcode.py's docstring: two banks of 32
GPRs, transfer registers, condition codes Z/N/C/V with the ARM-style carry, the
``alu_out`` and ``shift_src`` latches (indirect shift amounts, ``asr``'s sign, the
``indirect_ref`` data override), the multiplier's latched operands, ``defer[n]`` delay
slots on branches, ``rtn`` and deferred memory commands, the four LM pointers (with the
3-instruction write latency checked: a use inside it is a translator bug and stops the run
as a hazard) and ``local_csr_rd`` delivering into the next ``immed``.

Each instruction is compiled once into a closure over the machine's register lists, so a
run costs one Python call per microcode instruction. ``run_to`` executes until control
reaches one of a set of addresses with no delay slot pending (the next eBPF instruction's
code) or the program ends.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

from emulator.backends.nic import microcode as mc
from emulator.backends.nic.ctrl import ControlChannel
from emulator.backends.nic.devmem import (
    LM_PV_BASE,
    M32,
    M64,
    PLEN_MASK,
    PV_CTM,
    PV_LEN,
    DeviceFault,
    Memories,
)
from emulator.maps import MapSet, MapType

Op = Callable[[], "Transfer | None"]

ALWAYS = mc.Cond.ALWAYS
TAKEN_BRANCH_EXTRA = 2
"""A taken branch costs 3 instruction times in the pipeline: what the LM latency check counts
(microcode.py: the JIT's bpf-to-bpf call relies on it)."""
END = -1  # run_to's result when the program branched to the firmware's "packet done"
MAX_MICROCODE = 1 << 20  # microcode instructions one eBPF instruction may take (a runaway loop)


class HazardError(DeviceFault):
    """An LM pointer used within its write latency: the translator broke its own rule."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """A change of control an instruction asks for: where to (relocation kind and target),
    whether it is taken, and how many delay slots run first. A deferred memory command is a
    Transfer too (``action`` performs it once its slots have run)."""

    relo: mc.Relo
    target: int
    taken: bool
    defer: int
    action: Callable[[], None] | None = None


class Firmware:
    """What the program branches out to: helper subroutines (by helper id) and the end of
    the program. The backend provides the real ones (maps, perf events); this base refuses."""

    def helper(self, hid: int, sim: Sim) -> None:
        raise DeviceFault(f"the firmware has no helper {hid}")


MAP_LOOKUP, MAP_UPDATE, MAP_DELETE, PERF_EVENT_OUTPUT = 1, 2, 3, 25
PTR_SCALAR, PTR_MAP_VALUE, PTR_STACK, PTR_PACKET = 1, 4, 6, 8  # firmware ABI codes in A1 [code: fw.h]
BPF_F_CTXLEN_SHIFT = 32


class DeviceFirmware(Firmware):
    """The firmware's helper subroutines over the device tables (reference §1.7, §3.10).

    Map helpers take the table id in A0, the key at LM address ``ActLMAddr0``, an update's
    value at ``ActLMAddr2`` and its flags in R4; they answer in R0: a 40-bit EMEM value pointer
    or 0 (lookup), 0 or a negative errno (update, delete). perf_event_output takes the host's
    perf array id in R2, the flags in R3, the data pointer in R4 with its type code in A1 and
    the size in R5; it sends the event to the host and returns 0 whatever becomes of it.
    The firmware's own use of A0/B0/A1, LM pointers and transfer registers is not modelled:
    the JIT assumes nothing but R6-R9 and the stack survives a call.
    """

    def __init__(self, maps: MapSet, tids: Mapping[int, int], channel: ControlChannel, cpu: int = 0) -> None:
        self.maps = maps
        self.index_of = {tid: index for index, tid in tids.items()}
        self.channel = channel
        self.cpu = cpu

    def helper(self, hid: int, sim: Sim) -> None:
        if hid in (MAP_LOOKUP, MAP_UPDATE, MAP_DELETE):
            sim.set_pair(0, self._map_helper(hid, sim) & M64)
        elif hid == PERF_EVENT_OUTPUT:
            self._event_output(sim)
            sim.set_pair(0, 0)
        else:
            raise DeviceFault(f"the firmware has no helper {hid}")

    def _map_helper(self, hid: int, sim: Sim) -> int:
        tid = sim.a[0]
        index = self.index_of.get(tid)
        if index is None:
            raise DeviceFault(f"map helper {hid} called with table id {tid}, which the device does not have")
        m = self.maps[index]
        mem = sim.mem
        key = mem.lm_bytes(mem.lm.ptr[0], m.key_size)
        if hid == MAP_LOOKUP:
            element = m.lookup(key, self.cpu)
            return 0 if element is None else mem.emem.address(index, element)
        if hid == MAP_UPDATE:
            value = mem.lm_bytes(mem.lm.ptr[2], m.value_size)
            return m.update(key, value, sim.pair(4), cpu=self.cpu)
        return m.delete(key, cpu=self.cpu)

    def _event_output(self, sim: Sim) -> None:
        m = self.maps.by_id(sim.a[4])
        if m is None or m.type is not MapType.PERF_EVENT_ARRAY:
            self.channel.event_output_failed(f"no perf event array with host id {sim.a[4]}")
            return
        flags, ptr, size, code = sim.pair(3), sim.pair(4), sim.a[10], sim.a[1]
        mem = sim.mem
        if code == PTR_STACK:
            data = mem.lm_bytes(ptr & M32, size)
        elif code == PTR_MAP_VALUE:
            data = mem.read((ptr >> 32 & 0xFF) << 32 | (ptr & M32), size, emem=True) if size else b""
        elif code == PTR_PACKET:
            data = mem.read(ptr & M32, size, emem=False) if size else b""
        else:
            data = b""
        sample = (flags >> BPF_F_CTXLEN_SHIFT) & 0xFFFFF
        if sample:
            plen = mem.lm_read(LM_PV_BASE + PV_LEN) & PLEN_MASK
            if sample > plen:
                self.channel.event_output_failed(f"packet sample of {sample} bytes, the packet has {plen}")
                return
            data += mem.read(mem.lm_read(LM_PV_BASE + PV_CTM), sample, emem=False)
        self.channel.event_output(m, data, flags, self.cpu)


@dataclass(frozen=True, slots=True)
class SimState:
    """Everything of the machine a checkpoint needs (memories are saved by their owner)."""

    a: tuple[int, ...]
    b: tuple[int, ...]
    xfer: tuple[int, ...]
    flags: tuple[bool, bool, bool, bool]
    alu_out: int
    shift_src: int
    mul: tuple[int, int]
    csr: int | None
    pc: int
    executed: int
    time: int
    lm_ptr: tuple[int, ...]
    lm_written: tuple[int, ...]


class Sim:
    """One ME thread running an image (a list of microcode instructions, program-relative
    addresses) with its firmware."""

    def __init__(
        self,
        code: Sequence[mc.Instr],
        labels: Mapping[mc.Relo, int],
        mem: Memories,
        firmware: Firmware,
        random_u32: Callable[[], int],
    ) -> None:
        self.code = list(code)
        self.labels = dict(labels)
        self.mem = mem
        self.firmware = firmware
        self.random_u32 = random_u32
        self.a = [0] * 32
        self.b = [0] * 32
        self.xfer = mem.xfer
        self.z = self.n = self.c = self.v = False
        self.alu_out = 0
        self.shift_src = 0
        self.mul = (0, 0)
        self.csr: int | None = None  # a local_csr_rd value waiting for the next immed
        self.pc = 0
        self.executed = 0  # microcode instructions executed (the device clock's cycles)
        self.time = 0  # instruction times, taken branches counting 3 (the LM latency check)
        self._ops: list[Op] = [self._compile(insn, addr) for addr, insn in enumerate(self.code)]

    # -- running ----------------------------------------------------------------------------
    def run_to(self, stops: Container[int], limit: int = MAX_MICROCODE) -> int:
        """Execute from ``pc`` until control reaches an address in ``stops`` (after at least
        one instruction) with no delay slot pending; returns that address, or END when the
        program branched to the firmware's packet-done address."""
        ops = self._ops
        size = len(ops)
        pc = self.pc
        pending: Transfer | None = None
        slots = 0
        budget = limit
        while True:
            if not 0 <= pc < size:
                self.pc = pc
                raise DeviceFault(f"control reached microcode address {pc}, outside the image")
            budget -= 1
            if budget < 0:
                self.pc = pc
                raise DeviceFault(
                    f"more than {limit} microcode instructions without reaching the next eBPF one"
                )
            self.executed += 1
            self.time += 1
            self.pc = pc
            t = ops[pc]()
            nxt = pc + 1
            if t is not None:
                if pending is not None:
                    raise DeviceFault(f"microcode {pc}: a change of control in a delay slot")
                if t.defer:
                    pending, slots = t, t.defer
                else:
                    nxt = self._transfer(t, nxt)
            elif pending is not None:
                slots -= 1
                if slots == 0:
                    done, pending = pending, None
                    nxt = self._transfer(done, nxt)
            if nxt == END:
                self.pc = END
                return END
            pc = nxt
            if pending is None and pc in stops:
                self.pc = pc
                return pc

    def _transfer(self, t: Transfer, nxt: int) -> int:
        if t.action is not None:
            t.action()
            return nxt
        if not t.taken:
            return nxt
        self.time += TAKEN_BRANCH_EXTRA
        relo = t.relo
        if relo is mc.Relo.BR_REL:
            return t.target
        if relo is mc.Relo.BR_NEXT_PKT:
            return END
        if relo is mc.Relo.BR_HELPER:
            ret = self.b[0]  # the return address the JIT put in B0 (the helper's result lands there too)
            self.firmware.helper(t.target - mc.BR_OFF_RELO, self)
            return ret
        label = self.labels.get(relo)
        if label is None:
            raise DeviceFault(f"branch to {relo.name}, a label this image does not have")
        return label

    # -- state ---------------------------------------------------------------------------------
    def save(self) -> SimState:
        lm = self.mem.lm
        return SimState(
            tuple(self.a),
            tuple(self.b),
            tuple(self.xfer),
            (self.z, self.n, self.c, self.v),
            self.alu_out,
            self.shift_src,
            self.mul,
            self.csr,
            self.pc,
            self.executed,
            self.time,
            tuple(lm.ptr),
            tuple(lm.written),
        )

    def load(self, s: SimState) -> None:
        self.a[:] = s.a
        self.b[:] = s.b
        self.xfer[:] = s.xfer
        self.z, self.n, self.c, self.v = s.flags
        self.alu_out, self.shift_src, self.mul, self.csr = s.alu_out, s.shift_src, s.mul, s.csr
        self.pc, self.executed, self.time = s.pc, s.executed, s.time
        self.mem.lm.ptr[:] = s.lm_ptr
        self.mem.lm.written[:] = s.lm_written

    def reset(self, pc: int = 0) -> None:
        self.a[:] = [0] * 32
        self.b[:] = [0] * 32
        self.xfer[:] = [0] * len(self.xfer)
        self.z = self.n = self.c = self.v = False
        self.alu_out = self.shift_src = 0
        self.mul = (0, 0)
        self.csr = None
        self.pc = pc
        self.executed = 0
        self.time = 0

    def pair(self, n: int) -> int:
        """eBPF register ``n`` as the device holds it: GPR 2n (low) and 2n+1 (high), A copies."""
        return self.a[2 * n] | self.a[2 * n + 1] << 32

    def set_pair(self, n: int, value: int) -> None:
        lo, hi = value & M32, (value >> 32) & M32
        self.a[2 * n] = self.b[2 * n] = lo
        self.a[2 * n + 1] = self.b[2 * n + 1] = hi

    # -- operands ------------------------------------------------------------------------------
    def _lm_addr(self, op: mc.Lm) -> int:
        lm = self.mem.lm
        p = op.pointer
        if self.time - lm.written[p] <= lm.LATENCY:
            raise HazardError(
                f"microcode {self.pc}: *l$index{p} used {self.time - lm.written[p] - 1} instruction time(s) "
                f"after local_csr_wr[ActLMAddr{p}] (the pointer takes {lm.LATENCY} to settle)"
            )
        base = lm.ptr[p]
        if op.step:
            lm.ptr[p] = (base + 4 * op.step) & M32
            return base
        if base & 4 * op.index:
            raise DeviceFault(
                f"microcode {self.pc}: *l$index{p}[{op.index}] with ActLMAddr{p} = {base:#x}: the index "
                "overlaps the pointer's low bits (LM windows must be aligned)"
            )
        return base | 4 * op.index

    def _reader(self, op: mc.Operand | mc.Both) -> Callable[[], int]:
        if isinstance(op, mc.Gpr):
            regs = self.a if op.bank == "A" else self.b
            i = op.index
            return lambda: regs[i]
        if isinstance(op, mc.Both):
            regs, i = self.a, op.index
            return lambda: regs[i]
        if isinstance(op, mc.Imm):
            value = op.value
            return lambda: value
        if isinstance(op, mc.Xfer):
            xfer, i = self.xfer, op.index
            return lambda: xfer[i]
        if isinstance(op, mc.Lm):
            mem = self.mem
            lm_addr = self._lm_addr
            return lambda: mem.lm_read(lm_addr(op))
        return lambda: 0

    def _writer(self, dst: mc.Dest) -> Callable[[int], None]:
        if isinstance(dst, mc.Both):
            a, b, i = self.a, self.b, dst.index

            def both(v: int) -> None:
                a[i] = b[i] = v

            return both
        if isinstance(dst, mc.Gpr):
            regs, i = (self.a if dst.bank == "A" else self.b), dst.index

            def one(v: int) -> None:
                regs[i] = v

            return one
        if isinstance(dst, mc.Xfer):
            xfer, i = self.xfer, dst.index

            def to_xfer(v: int) -> None:
                xfer[i] = v

            return to_xfer
        if isinstance(dst, mc.Lm):
            mem, lm_addr = self.mem, self._lm_addr

            def to_lm(v: int) -> None:
                mem.lm_write(lm_addr(dst), v)

            return to_lm
        return lambda v: None

    def _shifter(self, shift: mc.Shift) -> Callable[[int], int]:
        kind, n = shift.kind, shift.amount
        K = mc.ShiftKind
        if kind is K.NONE:
            return lambda v: v
        if kind is K.LEFT:
            return lambda v: (v << n) & M32
        if kind is K.RIGHT:
            return lambda v: v >> n
        if kind is K.ROT:
            return lambda v: ((v >> n) | (v << (32 - n))) & M32
        if kind is K.LEFT_INDIRECT:
            return lambda v: (v << (self.shift_src & 31)) & M32
        return lambda v: v >> (self.shift_src & 31)

    # -- compiling instructions ---------------------------------------------------------------
    def _compile(self, insn: mc.Instr, addr: int) -> Op:
        method = getattr(self, f"_c_{type(insn).__name__}")
        op: Op = method(insn, addr)
        return op

    def _c_Nop(self, insn: mc.Nop, addr: int) -> Op:  # noqa: N802
        return lambda: None

    def _c_Alu(self, insn: mc.Alu, addr: int) -> Op:  # noqa: N802
        get_a, get_b, put = self._reader(insn.a), self._reader(insn.b), self._writer(insn.dst)
        op = insn.op
        Op_ = mc.AluOp
        sim = self

        if op in (Op_.ADD, Op_.ADD_C, Op_.ADD16, Op_.ADD8):
            bits = {Op_.ADD: 32, Op_.ADD_C: 32, Op_.ADD16: 16, Op_.ADD8: 8}[op]
            mask = (1 << bits) - 1
            with_carry = op is Op_.ADD_C

            def add() -> None:
                x, y = get_a(), get_b()
                total = x + y + (1 if with_carry and sim.c else 0)
                r = total & mask
                sim.c = bool(total >> bits & 1)
                sim.v = bits == 32 and bool((x ^ r) & (y ^ r) & 0x80000000)
                sim.z, sim.n = r == 0, bool(r >> 31)
                sim.alu_out, sim.shift_src = r, x
                put(r)

            return add
        if op in (Op_.SUB, Op_.SUB_C, Op_.B_SUB_A):
            swap, with_borrow = op is Op_.B_SUB_A, op is Op_.SUB_C

            def sub() -> None:
                left = get_a()
                x, y = left, get_b()
                if swap:
                    x, y = y, x
                diff = x - y - (1 if with_borrow and not sim.c else 0)
                r = diff & M32
                sim.c = diff >= 0
                sim.v = bool((x ^ y) & (x ^ r) & 0x80000000)
                sim.z, sim.n = r == 0, bool(r >> 31)
                sim.alu_out, sim.shift_src = r, left
                put(r)

            return sub
        logic = _LOGIC[op]

        def log() -> None:
            x = get_a()
            r = logic(x, get_b())
            sim.z, sim.n, sim.c, sim.v = r == 0, bool(r >> 31), False, False
            sim.alu_out, sim.shift_src = r, x
            put(r)

        return log

    def _c_AluShf(self, insn: mc.AluShf, addr: int) -> Op:  # noqa: N802
        get_a, get_b, put = self._reader(insn.a), self._reader(insn.b), self._writer(insn.dst)
        shift, logic, sim = self._shifter(insn.shift), _LOGIC[insn.op], self

        def alu_shf() -> None:
            r = logic(get_a(), shift(get_b()))
            sim.z, sim.n, sim.c, sim.v = r == 0, bool(r >> 31), False, False
            sim.alu_out = r
            put(r)

        return alu_shf

    def _c_Asr(self, insn: mc.Asr, addr: int) -> Op:  # noqa: N802
        get_b, put, sim = self._reader(insn.b), self._writer(insn.dst), self
        indirect, amount = insn.shift.indirect, insn.shift.amount

        def asr() -> None:
            n = sim.shift_src & 31 if indirect else amount
            v = get_b()
            r = v >> n
            if sim.alu_out & 0x80000000:  # the sign comes from the previous ALU result
                r |= (M32 << (32 - n)) & M32
            sim.z, sim.n, sim.c, sim.v = r == 0, bool(r >> 31), False, False
            sim.alu_out = r
            put(r)

        return asr

    def _c_DblShf(self, insn: mc.DblShf, addr: int) -> Op:  # noqa: N802
        get_a, get_b, put, sim = self._reader(insn.a), self._reader(insn.b), self._writer(insn.dst), self
        indirect, amount = insn.shift.indirect, insn.shift.amount

        def dbl_shf() -> None:
            x, y = get_a(), get_b()
            if indirect and sim.shift_src & 63 == 32:
                r = x  # [inferred] a latched 32 returns A (reference §10)
            else:
                n = sim.shift_src & 31 if indirect else amount
                r = ((x << 32 | y) >> n) & M32
            sim.z, sim.n, sim.c, sim.v = r == 0, bool(r >> 31), False, False
            sim.alu_out = r
            put(r)

        return dbl_shf

    def _c_LdField(self, insn: mc.LdField, addr: int) -> Op:  # noqa: N802
        dst = insn.dst
        assert not isinstance(dst, mc.NoOperand)
        get_src, shift, sim = self._reader(insn.src), self._shifter(insn.shift), self
        mask = sum(0xFF << (8 * i) for i in range(4) if insn.mask >> i & 1)
        clear = insn.clear
        if isinstance(dst, mc.Lm):
            # read-modify-write of one LM word: resolve the address once (post-increment)
            mem, lm_addr = self.mem, self._lm_addr

            def ld_field_lm() -> None:
                v = shift(get_src())
                where = lm_addr(dst)
                old = 0 if clear else mem.lm_read(where)
                r = (old & ~mask & M32) | (v & mask)
                sim.alu_out = r
                mem.lm_write(where, r)

            return ld_field_lm
        get_old, put = self._reader(dst), self._writer(dst)

        def ld_field() -> None:
            v = shift(get_src())
            old = 0 if clear else get_old()
            r = (old & ~mask & M32) | (v & mask)
            sim.alu_out = r
            put(r)

        return ld_field

    def _c_Immed(self, insn: mc.Immed, addr: int) -> Op:  # noqa: N802
        put, sim = self._writer(insn.dst), self
        width, value = insn.width, insn.value
        get_old = self._reader(insn.dst) if width is not mc.ImmedWidth.ALL else (lambda: 0)

        def immed() -> None:
            v = value
            if sim.csr is not None:
                v, sim.csr = sim.csr, None
            if width is mc.ImmedWidth.W0:
                v = (get_old() & 0xFFFF0000) | (v & 0xFFFF)
            elif width is mc.ImmedWidth.W1:
                v = (get_old() & 0xFFFF) | ((v & 0xFFFF) << 16)
            sim.alu_out = v
            put(v)

        return immed

    def _c_MulStep(self, insn: mc.MulStep, addr: int) -> Op:  # noqa: N802
        sim, mode = self, insn.mode
        M = mc.MulMode
        if mode is M.START:
            get_a, get_b = self._reader(insn.a), self._reader(insn.b)  # type: ignore[arg-type]

            def start() -> None:
                sim.mul = (get_a(), get_b())

            return start
        if not mode.is_last:
            get_a, get_b = self._reader(insn.a), self._reader(insn.b)  # type: ignore[arg-type]

            def step() -> None:
                if (get_a(), get_b()) != sim.mul:
                    raise DeviceFault(
                        f"microcode {sim.pc}: mul_step {mode.value} with other operands than its start"
                    )

            return step
        assert not isinstance(insn.a, mc.Imm)
        put = self._writer(insn.a)

        def last() -> None:
            x, y = sim.mul
            if mode is M.LAST_16:
                r = (x & 0xFFFF) * (y & 0xFFFF)
            elif mode is M.LAST_32:
                r = (x * y) & M32
            else:
                r = (x * y) >> 32
            sim.alu_out = r
            put(r)

        return last

    def _c_Br(self, insn: mc.Br, addr: int) -> Op:  # noqa: N802
        relo, target, defer = insn.relo, insn.target, insn.defer
        taken = Transfer(relo, target, True, defer)
        not_taken = Transfer(relo, target, False, defer)
        cond, sim = insn.cond, self
        C = mc.Cond
        tests: dict[mc.Cond, Callable[[], bool]] = {
            C.ALWAYS: lambda: True,
            C.EQ: lambda: sim.z,
            C.NE: lambda: not sim.z,
            C.MI: lambda: sim.n,
            C.PL: lambda: not sim.n,
            C.CS: lambda: sim.c,
            C.CC: lambda: not sim.c,
            C.GE: lambda: sim.n == sim.v,
            C.LT: lambda: sim.n != sim.v,
        }
        if cond is ALWAYS:
            return lambda: taken
        test = tests[cond]
        return lambda: taken if test() else not_taken

    def _c_BrBset(self, insn: mc.BrBset, addr: int) -> Op:  # noqa: N802
        get, bit, want = self._reader(insn.reg), insn.bit, insn.set
        taken = Transfer(insn.relo, insn.target, True, insn.defer)
        not_taken = Transfer(insn.relo, insn.target, False, insn.defer)
        return lambda: taken if bool(get() >> bit & 1) == want else not_taken

    def _c_Rtn(self, insn: mc.Rtn, addr: int) -> Op:  # noqa: N802
        get, defer = self._reader(insn.reg), insn.defer
        return lambda: Transfer(mc.Relo.BR_REL, get(), True, defer)

    def _c_LocalCsrWr(self, insn: mc.LocalCsrWr, addr: int) -> Op:  # noqa: N802
        get, sim = self._reader(insn.src), self
        csr = insn.csr
        if csr is mc.Csr.PSEUDO_RND_NUM:
            return lambda: None
        p = int(csr.value[-1])
        lm = self.mem.lm

        def csr_wr() -> None:
            lm.ptr[p] = get() & M32 & ~3  # word aligned: the low two bits are discarded
            lm.written[p] = sim.time

        return csr_wr

    def _c_LocalCsrRd(self, insn: mc.LocalCsrRd, addr: int) -> Op:  # noqa: N802
        sim, csr = self, insn.csr
        if csr is mc.Csr.PSEUDO_RND_NUM:

            def rnd() -> None:
                sim.csr = sim.random_u32() & M32

            return rnd
        p = int(csr.value[-1])

        def csr_rd() -> None:
            sim.csr = sim.mem.lm.ptr[p]

        return csr_rd

    def _c_Mem(self, insn: mc.Mem, addr: int) -> Op:  # noqa: N802
        get_a, get_b, sim = self._reader(insn.a), self._reader(insn.b), self
        mem, xfer, k, count, cmd = self.mem, self.xfer, insn.xfer, insn.count, insn.cmd
        emem = insn.mode is mc.AddrMode.MODE_40
        C = mc.MemCmd

        def address() -> int:
            x, y = get_a(), get_b()
            return ((x & 0xFF) << 32 | y) if emem else (x + y) & M32

        def perform(where: int) -> None:
            if cmd is C.READ32_SWAP or cmd is C.READ8:
                nwords = count if cmd is C.READ32_SWAP else (count + 3) // 4
                data = mem.read(where, 4 * nwords, emem)
                order = "little" if cmd is C.READ32_SWAP else "big"
                for i in range(nwords):
                    xfer[k + i] = int.from_bytes(data[4 * i : 4 * i + 4], order)  # type: ignore[arg-type]
            elif cmd is C.WRITE8_SWAP or cmd is C.WRITE32_SWAP:
                nbytes = count if cmd is C.WRITE8_SWAP else 4 * count
                words = b"".join(xfer[k + i].to_bytes(4, "little") for i in range((nbytes + 3) // 4))
                mem.write(where, words[:nbytes], emem)
            elif cmd is C.ADD or cmd is C.ADD64:
                size = 4 if cmd is C.ADD else 8
                value = xfer[k] if size == 4 else xfer[k] | xfer[k + 1] << 32
                self._atomic(where, value, size, emem)
            else:
                raise AssertionError(cmd)

        if cmd is C.ADD_IMM or cmd is C.ADD64_IMM:
            size = 4 if cmd is C.ADD_IMM else 8

            def add_imm() -> None:  # posted: performed at once, nothing waits for it
                self._atomic(address(), (sim.alu_out >> 16) & 0xFFFF, size, emem)

            return add_imm
        if insn.defer:
            relo, defer = mc.Relo.NONE, insn.defer

            def deferred() -> Transfer:
                where = address()
                return Transfer(relo, 0, True, defer, lambda: perform(where))

            return deferred

        def now() -> None:
            perform(address())

        return now

    def _atomic(self, where: int, value: int, size: int, emem: bool) -> None:
        if not emem:
            raise DeviceFault(
                f"microcode {self.pc}: atomic add to CTM address {where:#x} (only EMEM has the engine)"
            )
        self.mem.atomic_add(where, value, size)


_LOGIC: dict[mc.AluOp, Callable[[int, int], int]] = {
    mc.AluOp.B: lambda x, y: y,
    mc.AluOp.NOT_B: lambda x, y: ~y & M32,
    mc.AluOp.AND: lambda x, y: x & y,
    mc.AluOp.AND_NOT_B: lambda x, y: x & ~y & M32,
    mc.AluOp.NOT_A_AND: lambda x, y: ~x & y & M32,
    mc.AluOp.OR: lambda x, y: x | y,
    mc.AluOp.XOR: lambda x, y: x ^ y,
}
