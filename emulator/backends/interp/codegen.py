"""Python source for eBPF instructions: the interpreter's single statement of semantics.

Each instruction becomes a few lines of Python over local variables ``r0``..``r10`` plus a
terminator saying how control leaves it. The same snippets are assembled two ways:

* ``run`` mode: straight-line runs of instructions (basic blocks) are pasted into one
  function with a dispatch tree on ``pc``, so a hot loop costs a handful of Python
  statements per eBPF instruction and no per-instruction call;
* ``step`` mode: a one-instruction "program" built by exactly the same code.

Because both modes come from the same snippet, single-stepping and running cannot disagree.
The dispatch is derived from the opcode table's ``Form`` and ``op``; there is no second
opcode list here.

Faults raised inside generated code are attributed to an instruction through the line
number the exception passed through (``LineMap``), so no per-instruction bookkeeping is
paid on the fast path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from emulator.isa.fields import AluOp, AtomicOp, CallKind, JmpOp, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.state import Guard

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
SIGN64 = 0x8000000000000000
SIGN32 = 0x80000000

# Helpers that transfer control (they end a basic block and run through the backend's
# ``control_helper``): bpf_tail_call, bpf_for_each_map_elem, bpf_loop.
CONTROL_HELPERS = frozenset({12, 164, 181})

# run() return codes
ST_SLOW = 0  # pc is not a block start here, or the limit is too close: single-step
ST_EXIT = 1
ST_STOP = 2  # reached a candidate stop pc
ST_DEPTH = 3
ST_FAULT = 4
ST_SWITCH = 5  # a tail call replaced the program: the driver switches translations


@dataclass(frozen=True, slots=True)
class Term:
    """How control leaves an instruction.

    kind: "next" (fall through), "jump" (target), "cond" (expr, target, else next),
    "exit", "call" (local call to target), "callx" (through register ``reg``), "hcall" (a
    helper that transfers control: bpf_loop and for_each_map_elem enter a callback,
    bpf_tail_call replaces the program).
    """

    kind: str
    target: int = -1  # jump/call target; helper id for "hcall"
    expr: str = ""
    reg: int = 0


@dataclass
class Snippet:
    lines: list[str]
    term: Term


class CodegenContext:
    """What snippets need to know beyond the instruction: pseudo-lddw values."""

    def __init__(self, pseudo_value: Callable[[Insn, int], int]) -> None:
        self.pseudo_value = pseudo_value


def _hex(v: int) -> str:
    return hex(v)


_ALU_SYMBOL = {AluOp.ADD: "+", AluOp.SUB: "-", AluOp.MUL: "*", AluOp.OR: "|", AluOp.AND: "&", AluOp.XOR: "^"}
_CMP = {
    JmpOp.JEQ: "==",
    JmpOp.JNE: "!=",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSGT: ">",
    JmpOp.JSGE: ">=",
    JmpOp.JSLT: "<",
    JmpOp.JSLE: "<=",
}
_SIGNED_JMP = {JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE}


def _alu(insn: Insn) -> list[str]:
    info = insn.info
    assert info is not None
    op = AluOp(info.op)
    d = f"r{insn.dst}"
    is64 = info.is64
    mask = M64 if is64 else M32
    if info.form is Form.ALU_REG:
        s = f"r{insn.src}"
        const: int | None = None
    else:
        const = insn.imm & mask  # ALU64: sign-extended imm; ALU: its 32 bits
        s = _hex(const)
    if op in _ALU_SYMBOL:
        sym = _ALU_SYMBOL[op]
        if op in (AluOp.OR, AluOp.AND, AluOp.XOR) and is64:
            return [f"{d} {sym}= {s}"]
        return [f"{d} = ({d} {sym} {s}) & {_hex(mask)}"]
    if op is AluOp.MOV:
        if info.form is Form.ALU_REG and not is64:
            return [f"{d} = {s} & {_hex(M32)}"]
        return [f"{d} = {s}"]
    if op is AluOp.LSH:
        count = f"({s} & {63 if is64 else 31})" if const is None else str(const & (63 if is64 else 31))
        return [f"{d} = ({d} << {count}) & {_hex(mask)}"]
    if op is AluOp.RSH:
        if const is not None:
            count = str(const & (63 if is64 else 31))
        else:
            count = f"({s} & {63 if is64 else 31})"
        return [f"{d} >>= {count}"] if is64 else [f"{d} = ({d} & {_hex(M32)}) >> {count}"]
    if op is AluOp.ARSH:
        if const is not None:
            count = str(const & (63 if is64 else 31))
        else:
            count = f"({s} & {63 if is64 else 31})"
        sign = SIGN64 if is64 else SIGN32
        src = d if is64 else f"({d} & {_hex(M32)})"
        return [f"{d} = ((({src} ^ {_hex(sign)}) - {_hex(sign)}) >> {count}) & {_hex(mask)}"]
    if op in (AluOp.DIV, AluOp.MOD):
        if info.signed:
            fn = ("sdiv" if op is AluOp.DIV else "smod") + ("64" if is64 else "32")
            return [f"{d} = {fn}({d}, {s})"]
        if const is not None:
            if const == 0:
                if op is AluOp.DIV:
                    return [f"{d} = 0"]
                return ["pass"] if is64 else [f"{d} &= {_hex(M32)}"]
            sym = "//" if op is AluOp.DIV else "%"
            src = d if is64 else f"({d} & {_hex(M32)})"
            return [f"{d} = {src} {sym} {_hex(const)}"]
        if is64:
            if op is AluOp.DIV:
                return [f"{d} = {d} // {s} if {s} else 0"]
            return [f"{d} = {d} % {s} if {s} else {d}"]
        lines = [f"_b = {s} & {_hex(M32)}"]
        if op is AluOp.DIV:
            return lines + [f"{d} = ({d} & {_hex(M32)}) // _b if _b else 0"]
        return lines + [f"{d} = ({d} & {_hex(M32)}) % _b if _b else {d} & {_hex(M32)}"]
    raise AssertionError(f"unhandled ALU op {op!r}")


def _neg(insn: Insn) -> list[str]:
    assert insn.info is not None
    mask = M64 if insn.info.is64 else M32
    return [f"r{insn.dst} = -r{insn.dst} & {_hex(mask)}"]


def _movsx(insn: Insn) -> list[str]:
    assert insn.info is not None
    bits = insn.info.size
    sign = 1 << (bits - 1)
    mask = M64 if insn.info.is64 else M32
    lo = (1 << bits) - 1
    return [f"r{insn.dst} = (((r{insn.src} & {_hex(lo)}) ^ {_hex(sign)}) - {_hex(sign)}) & {_hex(mask)}"]


def _end(insn: Insn) -> list[str]:
    assert insn.info is not None
    d = f"r{insn.dst}"
    bits = insn.info.size
    if insn.info.mnemonic.startswith("le"):  # host is little-endian: truncate only
        return ["pass"] if bits == 64 else [f"{d} &= {_hex((1 << bits) - 1)}"]
    return [f"{d} = bswap{bits}({d})"]


def _cond(insn: Insn) -> str:
    info = insn.info
    assert info is not None
    op = JmpOp(info.op)
    is64 = info.is64
    mask = M64 if is64 else M32
    sign = SIGN64 if is64 else SIGN32
    d = f"r{insn.dst}" if is64 else f"(r{insn.dst} & {_hex(M32)})"
    if info.form is Form.JCOND_REG:
        s = f"r{insn.src}" if is64 else f"(r{insn.src} & {_hex(M32)})"
        if op is JmpOp.JSET:
            return f"{d} & {s}"
        if op in _SIGNED_JMP:
            return f"({d} ^ {_hex(sign)}) {_CMP[op]} ({s} ^ {_hex(sign)})"
        return f"{d} {_CMP[op]} {s}"
    const = insn.imm & mask
    if op is JmpOp.JSET:
        return f"{d} & {_hex(const)}"
    if op in _SIGNED_JMP:
        return f"({d} ^ {_hex(sign)}) {_CMP[op]} {_hex(const ^ sign)}"
    return f"{d} {_CMP[op]} {_hex(const)}"


def _addr(reg: int, off: int) -> str:
    if off == 0:
        return f"r{reg}"
    return f"r{reg} {'+' if off > 0 else '-'} {abs(off)}"


def _atomic(insn: Insn) -> list[str]:
    info = insn.info
    assert info is not None
    size = info.size
    ld, st = f"ld{size}", f"st{size}"
    s = f"r{insn.src}"
    lines = [f"_a = {_addr(insn.dst, insn.off)}", f"_o = {ld}(_a)"]
    imm = info.variant
    if imm == AtomicOp.XCHG:
        return lines + [f"{st}(_a, {s})", f"{s} = _o"]
    if imm == AtomicOp.CMPXCHG:
        mask = M64 if size == 8 else M32
        return lines + [f"if _o == (r0 & {_hex(mask)}): {st}(_a, {s})", "r0 = _o"]
    base = imm & ~AtomicOp.FETCH
    sym = {AtomicOp.ADD: "+", AtomicOp.OR: "|", AtomicOp.AND: "&", AtomicOp.XOR: "^"}[AtomicOp(base)]
    lines.append(f"{st}(_a, _o {sym} {s})")
    if imm & AtomicOp.FETCH:
        lines.append(f"{s} = _o")
    return lines


def snippet(insn: Insn, pc: int, ctx: CodegenContext) -> Snippet:
    """The Python lines and terminator of the instruction at ``pc``."""
    info = insn.info
    assert info is not None, "codegen of an undecodable instruction"
    form = info.form
    nxt = Term("next")
    d, s = insn.dst, insn.src
    if form in (Form.ALU_REG, Form.ALU_IMM):
        return Snippet(_alu(insn), nxt)
    if form is Form.NEG:
        return Snippet(_neg(insn), nxt)
    if form is Form.MOVSX:
        return Snippet(_movsx(insn), nxt)
    if form is Form.END:
        return Snippet(_end(insn), nxt)
    if form is Form.JA:
        return Snippet([], Term("jump", pc + 1 + insn.off))
    if form is Form.JA32:
        return Snippet([], Term("jump", pc + 1 + insn.imm))
    if form in (Form.JCOND_REG, Form.JCOND_IMM):
        return Snippet([], Term("cond", pc + 1 + insn.off, _cond(insn)))
    if form is Form.EXIT:
        return Snippet([], Term("exit"))
    if form is Form.CALL:
        if info.variant == CallKind.LOCAL:
            return Snippet([], Term("call", pc + 1 + insn.imm))
        if info.variant == CallKind.HELPER:
            if insn.imm & M32 in CONTROL_HELPERS:
                return Snippet([], Term("hcall", insn.imm & M32))
            return Snippet([f"r0 = helper_{insn.imm & M32}(r1, r2, r3, r4, r5)"], nxt)
        return Snippet([f"kfunc({insn.imm})"], nxt)
    if form is Form.CALLX:
        return Snippet([], Term("callx", reg=d))
    if form is Form.LDDW:
        if info.variant == PseudoSrc.IMM64:
            return Snippet([f"r{d} = {_hex(insn.imm64)}"], nxt)
        return Snippet([f"r{d} = {_hex(ctx.pseudo_value(insn, pc))}"], nxt)
    if form is Form.LDX:
        return Snippet([f"r{d} = ld{info.size}({_addr(s, insn.off)})"], nxt)
    if form is Form.LDXSX:
        sign = 1 << (info.size * 8 - 1)
        return Snippet(
            [f"r{d} = ((ld{info.size}({_addr(s, insn.off)}) ^ {_hex(sign)}) - {_hex(sign)}) & {_hex(M64)}"],
            nxt,
        )
    if form is Form.ST:
        value = insn.imm & ((1 << (info.size * 8)) - 1)
        return Snippet([f"st{info.size}({_addr(d, insn.off)}, {_hex(value)})"], nxt)
    if form is Form.STX:
        return Snippet([f"st{info.size}({_addr(d, insn.off)}, r{s})"], nxt)
    if form is Form.ATOMIC:
        return Snippet(_atomic(insn), nxt)
    if form is Form.LD_ABS:
        return Snippet([f"r0 = ldabs({info.size}, {insn.imm})"], nxt)
    if form is Form.LD_IND:
        return Snippet([f"r0 = ldind({info.size}, r{s}, {insn.imm})"], nxt)
    raise AssertionError(f"no codegen for form {form}")


# ----------------------------------------------------------------------------------------
# Assembling snippets into a function


@dataclass
class LineMap:
    """Generated line number -> (pc, adjustment of the executed count at that line)."""

    lines: dict[int, tuple[int, int]] = field(default_factory=dict)


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.linemap = LineMap()

    def emit(self, indent: int, text: str, pc: int | None = None, delta: int = 0) -> None:
        self.out.append("    " * indent + text)
        if pc is not None:
            self.linemap.lines[len(self.out)] = (pc, delta)


def _guard_expr(guard: Guard) -> str:
    if guard.op == "&":
        return f"(r{guard.reg} & {_hex(guard.value)})"
    return f"(r{guard.reg} {guard.op} {_hex(guard.value)})"


def find_leaders(insns: Sequence[Insn | None], stops: set[int]) -> list[int]:
    """Block starts: entry, branch targets and fall-throughs, call targets and returns."""
    n = len(insns)
    leaders = {0} | {p for p in stops if 0 <= p < n and insns[p] is not None}
    for pc, insn in enumerate(insns):
        if insn is None or insn.info is None:
            continue
        target = insn.jump_target(pc)
        if target is not None and 0 <= target < n:
            leaders.add(target)
        if _ends_block(insn) and pc + 1 < n:
            leaders.add(pc + 1)
    return sorted(p for p in leaders if insns[p] is not None)


def basic_blocks(insns: Sequence[Insn | None], leaders: list[int]) -> dict[int, list[int]]:
    """Each leader's block: the pcs from it up to a control transfer or the next leader."""
    leader_set = set(leaders)
    blocks: dict[int, list[int]] = {}
    for start in leaders:
        body = [start]
        pc = start
        while True:
            insn = insns[pc]
            assert insn is not None and insn.info is not None
            nxt = pc + insn.slots
            if _ends_block(insn) or nxt >= len(insns) or nxt in leader_set:
                break
            body.append(nxt)
            pc = nxt
        blocks[start] = body
    return blocks


def _emit_term(w: _Writer, ind: int, pc: int, term: Term, nxt: int, nslots: int) -> None:
    def goto(target: int, indent: int) -> None:
        if target >= nslots:
            w.emit(indent, f"fall_off({pc})", pc, 0)
        else:
            w.emit(indent, f"pc = {target}", pc, 0)
            w.emit(indent, "continue", pc, 0)

    kind = term.kind
    if kind == "next":
        goto(nxt, ind)
    elif kind == "jump":
        goto(term.target, ind)
    elif kind == "cond":
        w.emit(ind, f"if {term.expr}:", pc, 0)
        goto(term.target, ind + 1)
        goto(nxt, ind)
    elif kind == "hcall":
        w.emit(ind, f"_t = control_helper({term.target}, {pc}, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)",
               pc, -1)  # fmt: skip
        w.emit(ind, "if _t is None:", pc, 0)
        w.emit(ind + 1, f"pc = {pc}", pc, 0)
        w.emit(ind + 1, f"status = {ST_SWITCH}", pc, 0)
        w.emit(ind + 1, "break", pc, 0)
        w.emit(ind, "pc, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = _t", pc, 0)
        w.emit(ind, "continue", pc, 0)
    elif kind == "exit":
        w.emit(ind, "if not frames:", pc, 0)
        w.emit(ind + 1, f"pc = {pc}", pc, 0)
        w.emit(ind + 1, f"status = {ST_EXIT}", pc, 0)
        w.emit(ind + 1, "break", pc, 0)
        w.emit(ind, "if callbacks and callbacks[-1].depth == len(frames):", pc, 0)
        w.emit(
            ind + 1,
            "pc, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = "
            "callback_return(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)",
            pc,
            0,
        )
        w.emit(ind + 1, "if len(frames) <= max_depth:", pc, 0)
        w.emit(ind + 2, f"status = {ST_DEPTH}", pc, 0)
        w.emit(ind + 2, "break", pc, 0)
        w.emit(ind + 1, "continue", pc, 0)
        w.emit(ind, "_c, r6, r7, r8, r9, r10 = frames.pop()", pc, 0)
        w.emit(ind, "pop_frame(len(frames) + 1)", pc, 0)
        w.emit(ind, "pc = _c + 1", pc, 0)
        w.emit(ind, "if len(frames) <= max_depth:", pc, 0)
        w.emit(ind + 1, f"status = {ST_DEPTH}", pc, 0)
        w.emit(ind + 1, "break", pc, 0)
        w.emit(ind, "continue", pc, 0)
    elif kind in ("call", "callx"):
        if kind == "callx":
            w.emit(ind, f"_t = callx_target(r{term.reg})", pc, -1)
            w.emit(ind, "if _t < 0:", pc, 0)
            w.emit(ind + 1, f"r0 = callx_helper(r{term.reg}, r1, r2, r3, r4, r5)", pc, -1)
            goto(nxt, ind + 1)
            target = "_t"
        else:
            target = str(term.target)
        w.emit(ind, f"check_depth(len(frames), {pc})", pc, -1)
        w.emit(ind, f"frames.append(({pc}, r6, r7, r8, r9, r10))", pc, 0)
        w.emit(ind, f"r10 = push_frame(len(frames), {target})", pc, 0)
        w.emit(ind, f"pc = {target}", pc, 0)
        w.emit(ind, "continue", pc, 0)
    else:
        raise AssertionError(kind)


# Registers live in locals while generated code runs; they are written back on the way out,
# faults included (the line an exception passed through names the faulting instruction).
_PROLOGUE = f"""\
def run(m, limit, nstart, max_depth):
    R = m.regs
    r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 = R
    frames = m.frames
    callbacks = m.callbacks
    pc = m.pc
    n = m.insns
    status = {ST_SLOW}
    try:
        while True:"""

_EPILOGUE = f"""\
    except CATCH as exc:
        pc, delta = LINES.get(exc.__traceback__.tb_lineno, (pc, 0))
        n += delta
        m.exc = exc
        status = {ST_FAULT}
    finally:
        R[:] = (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)
        m.pc = pc
        m.insns = n
    return status"""


def generate(
    insns: Sequence[Insn | None],
    ctx: CodegenContext,
    stops: frozenset[int] = frozenset(),
    guards: Mapping[int, Sequence[Guard]] | None = None,
    only: int | None = None,
) -> tuple[str, LineMap]:
    """Source of ``def run(m, limit, nstart, max_depth)`` for a program.

    ``only`` restricts the function to the single instruction at that pc (step mode).
    """
    guards = guards or {}
    nslots = len(insns)
    w = _Writer()
    for line in _PROLOGUE.splitlines():
        w.emit(0, line)
    if only is not None:
        leaders = [only]
        blocks = {only: [only]}
    else:
        leaders = find_leaders(insns, set(stops) | set(guards))
        blocks = basic_blocks(insns, leaders)

    def emit_block(start: int, ind: int) -> None:
        body = blocks[start]
        length = len(body)
        if start in guards and guards[start]:
            cond = " or ".join(_guard_expr(g) for g in guards[start])
            w.emit(ind, f"if n > nstart and ({cond}):")
            w.emit(ind + 1, f"status = {ST_STOP}")
            w.emit(ind + 1, "break")
        elif start in stops:
            w.emit(ind, "if n > nstart:")
            w.emit(ind + 1, f"status = {ST_STOP}")
            w.emit(ind + 1, "break")
        w.emit(ind, f"if n + {length} > limit:")
        w.emit(ind + 1, "break")
        w.emit(ind, f"n += {length}")
        for idx, pc in enumerate(body):
            insn = insns[pc]
            assert insn is not None
            sn = snippet(insn, pc, ctx)
            delta = idx - length  # executed count if this instruction faults
            for line in sn.lines:
                w.emit(ind, line, pc, delta)
            if idx == length - 1:
                _emit_term(w, ind, pc, sn.term, pc + insn.slots, nslots)
            else:
                assert sn.term.kind == "next"

    def tree(keys: list[int], ind: int) -> None:
        if len(keys) <= 3:
            for i, key in enumerate(keys):
                w.emit(ind, f"{'if' if i == 0 else 'elif'} pc == {key}:")
                emit_block(key, ind + 1)
            w.emit(ind, "break")
            return
        mid = len(keys) // 2
        w.emit(ind, f"if pc < {keys[mid]}:")
        tree(keys[:mid], ind + 1)
        tree(keys[mid:], ind)

    tree(leaders, 3)
    for line in _EPILOGUE.splitlines():
        w.emit(0, line)
    return "\n".join(w.out) + "\n", w.linemap


def _ends_block(insn: Insn) -> bool:
    """Whether the instruction ends a basic block (any control transfer)."""
    info = insn.info
    assert info is not None
    form = info.form
    return (
        form in (Form.JA, Form.JA32, Form.JCOND_REG, Form.JCOND_IMM, Form.EXIT, Form.CALLX)
        or (form is Form.CALL and info.variant == CallKind.LOCAL)
        or (form is Form.CALL and info.variant == CallKind.HELPER and insn.imm & M32 in CONTROL_HELPERS)
    )
