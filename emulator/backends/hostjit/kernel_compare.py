"""Our JIT beside the kernel's, instruction by instruction (for ``prog dump jited --kernel``).

The kernel JITs its *xlated* program (after the verifier's rewrites) and exports no
instruction -> native table (host_jit.md A6). So the xlated program is run through our
emitter, and the kernel's native stream of each function is cut into per-instruction pieces
by walking both in step: where our piece for an instruction has the same mnemonics as the
kernel's next native instructions, they belong together; otherwise the kernel's piece ends
where our *next* instruction's mnemonics start (a bounded look-ahead). Everything is
returned as data; nothing is printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.backends.hostjit.emitter import JitError, JitOptions, jit_program
from emulator.backends.hostjit.listing import disassemble
from emulator.isa.insn import decode_program
from emulator.isa.table import Form
from emulator.prog_info import JitedInfo

LOOKAHEAD = 64
_PROLOGUE = re.compile(
    r"^(nop|endbr64|push (rbp|rax|rbx|r12|r13|r14|r15)|mov rbp, rsp|sub rsp, \S+|"
    r"xor rax, rax|xor eax, eax)\b"
)
_NUMBER = re.compile(r"-?0x[0-9a-f]+|\b\d+\b")
STRAIGHT_LINE = (Form.ALU_REG, Form.ALU_IMM, Form.NEG, Form.MOVSX, Form.END)


@dataclass(frozen=True)
class InsnComparison:
    """One xlated instruction: our native text and the kernel's piece (None: not aligned)."""

    pc: int
    form: str
    ours: tuple[str, ...]
    kernel: tuple[str, ...] | None

    @property
    def same_count(self) -> bool:
        return self.kernel is not None and len(self.kernel) == len(self.ours)

    @property
    def same_shape(self) -> bool:
        """Same instructions up to immediates and displacements (so the same registers)."""
        return self.kernel is not None and [_shape(t) for t in self.ours] == [_shape(t) for t in self.kernel]


@dataclass(frozen=True)
class FunctionComparison:
    entry: int
    kernel_address: int
    kernel_size: int
    our_size: int
    kernel_prologue: tuple[str, ...]
    our_prologue: tuple[str, ...]
    insns: tuple[InsnComparison, ...]


@dataclass(frozen=True)
class KernelComparison:
    """The whole program; ``straight_line`` counts ALU-class instructions (those whose native
    code involves no control flow, call or memory), where the counts should agree."""

    functions: tuple[FunctionComparison, ...]
    notes: tuple[str, ...] = field(default=())

    def all_insns(self) -> list[InsnComparison]:
        return [c for fn in self.functions for c in fn.insns]

    def straight_line(self) -> list[InsnComparison]:
        return [c for c in self.all_insns() if c.form in {f.name for f in STRAIGHT_LINE}]

    def differences(self) -> list[InsnComparison]:
        return [c for c in self.all_insns() if not c.same_shape]

    def register_mapping_agrees(self) -> bool:
        """Every aligned straight-line instruction with the same count reads and writes the
        same x86 registers in both images."""
        return all(c.same_shape for c in self.straight_line() if c.same_count)


def _shape(text: str) -> str:
    return _NUMBER.sub("N", text)


def _mnemonic(text: str) -> str:
    return text.split(" ", 1)[0]


def compare_with_kernel(info: JitedInfo, options: JitOptions | None = None) -> KernelComparison:
    """Compare our JIT of the kernel's xlated program with the kernel's own images."""
    opts = options or JitOptions(div_guards=False, lenient=True)
    insns = decode_program(info.xlated).insns

    def targets(kind: str, value: int) -> int:
        if kind == "pseudo":
            insn = insns[value]
            return insn.imm64 if insn is not None else 0
        return 0xFFFF_FFFF_8100_0000

    notes: list[str] = []
    kernel_funcs = info.functions()
    ours = None
    best = -1
    tail_calls = any(i is not None and i.opcode == 0x85 and i.src == 0 and i.imm == 12 for i in insns)
    for starts in _candidate_starts(insns):
        try:
            jit = jit_program(
                insns, 0xFFFF_FFFF_A000_0000, targets, options=opts, starts=starts, tail_calls=tail_calls
            )
        except JitError as err:
            notes.append(f"our JIT failed on the xlated program at insn {err.pc}: {err.message}")
            continue
        if len(jit.functions) != len(kernel_funcs):
            continue
        miss = sum(abs(len(f.code) - len(k)) for f, (_, k) in zip(jit.functions, kernel_funcs, strict=True))
        if ours is None or miss < best:
            ours, best = jit, miss
    if ours is None:
        return KernelComparison(
            (),
            (
                *notes,
                f"no split of the xlated program into {len(kernel_funcs)} "
                "functions matches the kernel's images",
            ),
        )
    out = []
    for fn, (kaddr, kcode) in zip(ours.functions, kernel_funcs, strict=False):
        kernel = [i.text for i in disassemble(kcode, kaddr)]
        pieces: list[tuple[int, tuple[str, ...]]] = []
        for pc in sorted(fn.ranges):
            start, end = fn.ranges[pc]
            pieces.append((pc, tuple(i.text for i in disassemble(fn.code[start:end], fn.base + start))))
        kpro = _body_start(kernel, _anchor(pieces, -1))
        ourpro = tuple(i.text for i in disassemble(fn.code[: fn.prologue_len], fn.base))
        out.append(
            FunctionComparison(
                fn.entry,
                kaddr,
                len(kcode),
                len(fn.code),
                tuple(kernel[:kpro]),
                ourpro,
                tuple(_align(insns, pieces, kernel, kpro)),
            )
        )
    return KernelComparison(tuple(out), tuple(notes))


def _body_start(kernel: list[str], first: list[str]) -> int:
    """Where the kernel's code for insn 0 begins: past the prologue (its length depends on
    the kernel version and on tail-call reachability, so the first instructions of our
    insn 0 are looked for after `mov rbp, rsp`, with the plain prologue shape as fallback)."""
    base = next((i + 1 for i, t in enumerate(kernel[:12]) if t == "mov rbp, rsp"), 0)
    for key in (_shape, _mnemonic):
        found = _find(kernel, base, first, key) if first else None
        if found is not None:
            return base + found
    kpro = 0
    while kpro < len(kernel) and _PROLOGUE.match(kernel[kpro]):
        kpro += 1
    return kpro


def _candidate_starts(insns) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Where functions may begin in an xlated program. bpf-to-bpf calls and function
    addresses both name them, except that an inlined bpf_loop leaves a call with a
    meaningless offset behind; the caller picks the split that fits the kernel's images."""
    n = len(insns)
    calls, by_off, funcs = {0}, {0}, {0}
    for pc, insn in enumerate(insns):
        if insn is None or insn.info is None:
            continue
        if insn.info.form is Form.CALL and insn.src == 1:
            if 0 <= pc + 1 + insn.imm < n:
                calls.add(pc + 1 + insn.imm)
            if 0 <= pc + 1 + insn.off < n:  # newer dumps: imm = function index, off = offset
                by_off.add(pc + 1 + insn.off)
        elif insn.info.form is Form.LDDW and insn.src == 4 and 0 <= pc + 1 + insn.imm < n:
            funcs.add(pc + 1 + insn.imm)
    return [sorted(calls | funcs), sorted(by_off | funcs), sorted(funcs), sorted(calls), sorted(by_off)]


def _find(
    kernel: list[str], pos: int, want: list[str], key: Callable[[str], str], lookahead: int = LOOKAHEAD
) -> int | None:
    wanted = [key(t) for t in want]
    for m in range(lookahead):
        if [key(t) for t in kernel[pos + m : pos + m + len(wanted)]] == wanted:
            return m
    return None


def _anchor(pieces: list[tuple[int, tuple[str, ...]]], k: int) -> list[str]:
    """Up to four native instructions of the pieces after the k-th."""
    out: list[str] = []
    for _, piece in pieces[k + 1 :]:
        out.extend(piece)
        if len(out) >= 4:
            break
    return out[:4]


def _align(
    insns, pieces: list[tuple[int, tuple[str, ...]]], kernel: list[str], pos: int
) -> list[InsnComparison]:  # type: ignore[no-untyped-def]
    result = []
    for k, (pc, mine) in enumerate(pieces):
        insn = insns[pc]
        form = insn.info.form.name if insn is not None and insn.info is not None else "UNKNOWN"
        window = kernel[pos : pos + len(mine)]
        if [_mnemonic(t) for t in window] == [_mnemonic(t) for t in mine]:
            result.append(InsnComparison(pc, form, mine, tuple(window)))
            pos += len(mine)
            continue
        anchor = _anchor(pieces, k)
        if not anchor:
            result.append(InsnComparison(pc, form, mine, tuple(kernel[pos:])))
            pos = len(kernel)
            continue
        cut = _find(kernel, pos, anchor, _shape)
        if cut is None:
            cut = _find(kernel, pos, anchor, _mnemonic, LOOKAHEAD // 4)
        if cut is None:  # not aligned; the next instructions try again from the same place
            result.append(InsnComparison(pc, form, mine, None))
            continue
        result.append(InsnComparison(pc, form, mine, tuple(kernel[pos : pos + cut])))
        pos += cut
    return result
