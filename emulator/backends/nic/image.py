"""The result of translating an eBPF program for the NFP (:class:`NfpImage`), the JIT's
refusal (:class:`TranslateError`), and the shape of the facts and device profile the
translator reads (structural protocols of :mod:`emulator.backends.nic.facts` and
:mod:`emulator.backends.nic.profiles`, so tests can build them by hand)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from emulator.backends.nic.microcode import (
    Br,
    BrBset,
    Immed,
    Instr,
    Relo,
    encode,
)
from emulator.errors import EmulatorError

# ------------------------------------------------------------------------ facts (structural)


class RangeLike(Protocol):
    @property
    def umin(self) -> int: ...
    @property
    def umax(self) -> int: ...


class PtrLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def off(self) -> int | None: ...
    @property
    def frame_up(self) -> int: ...


class InsnFactsLike(Protocol):
    @property
    def ptr(self) -> PtrLike | None: ...
    @property
    def dst(self) -> RangeLike | None: ...
    @property
    def src(self) -> RangeLike | None: ...
    @property
    def args(self) -> Sequence[object]: ...
    @property
    def zext(self) -> bool: ...


class SubprogLike(Protocol):
    @property
    def entry(self) -> int: ...
    @property
    def stack_depth(self) -> int: ...
    @property
    def writes_callee_saved(self) -> bool: ...


class FactsLike(Protocol):
    """What the translator reads of :class:`emulator.backends.nic.facts.ProgramFacts`."""

    @property
    def subprogs(self) -> Sequence[SubprogLike]: ...

    def at(self, pc: int) -> InsnFactsLike | None: ...


class DeviceLike(Protocol):
    """What the translator reads of :class:`emulator.backends.nic.profiles.DeviceProfile`."""

    @property
    def max_insns(self) -> int: ...
    @property
    def adjust_head(self) -> AdjustHeadLike | None: ...


class AdjustHeadLike(Protocol):
    @property
    def off_min(self) -> int: ...
    @property
    def off_max(self) -> int: ...
    @property
    def guaranteed_sub(self) -> int: ...
    @property
    def guaranteed_add(self) -> int: ...


# ---------------------------------------------------------------------------------- results


class TranslateError(EmulatorError):
    """The JIT refused the program: ``errno`` (negative, as the driver prints it), the eBPF pc
    it stopped at (None in the outro), how many eBPF instructions were translated before, the
    driver's message and what in the program caused it."""

    def __init__(self, errno: int, pc: int | None, translated: int, message: str, detail: str = "") -> None:
        self.errno = errno
        self.pc = pc
        self.translated = translated
        self.message = message
        self.detail = detail
        where = f" at insn {pc}" if pc is not None else ""
        super().__init__(f"{message}{where}" + (f": {detail}" if detail else ""))

    @property
    def dmesg(self) -> str:
        """The line the driver logs (``NFP net bpf: ...``)."""
        return f"Translation failed with error {self.errno} (translated: {self.translated})"


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """How one function's stack frame sits in LM (reference §1.5).

    ``frame_depth``: what ``rX = r10`` adds to A22 (the function's stack depth, plus the return
    address and saved R6-R9 for a callee, rounded up to 4); ``callee_offset``: how far A22
    moves for a call from this function (``round_up(frame_depth, 64)``); ``saves_regs``: the
    callee's frame holds R6-R9 in ``*l$index0[1..8]`` (its return address is always in
    ``*l$index0[0]``)."""

    entry: int
    address: int
    frame_depth: int
    callee_offset: int
    saves_regs: bool


@dataclass(frozen=True)
class NfpImage:
    """A translated program (pre-relocation, as the JIT stores it)."""

    insns: tuple[Instr, ...]
    ranges: Mapping[int, tuple[int, int]]
    """eBPF pc -> [start, end) microcode addresses (empty for removed instructions; dead
    code has no entry)."""
    labels: Mapping[str, int]
    """"intro", "body", "abort", "out", "push_regs"/"pop_regs" (when present), "tail"."""
    frames: Mapping[int, FrameInfo]
    prog_type: str
    map_tids: Mapping[int, int]
    """Environment map index -> the device table id the image's ``lddw`` loads."""
    notes: tuple[tuple[int, str], ...] = ()
    """(pc, text): corner cases translated the way the device does, worth flagging."""
    _owner: tuple[int | None, ...] = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.insns)

    @property
    def words(self) -> tuple[int, ...]:
        return tuple(encode(i) for i in self.insns)

    @property
    def relo_labels(self) -> Mapping[Relo, int]:
        """Where the relocated outro/subroutine branches go (what a simulator resolves)."""
        out = {Relo.BR_GO_OUT: self.labels["out"], Relo.BR_GO_ABORT: self.labels["abort"]}
        if "push_regs" in self.labels:
            out[Relo.BR_GO_CALL_PUSH_REGS] = self.labels["push_regs"]
            out[Relo.BR_GO_CALL_POP_REGS] = self.labels["pop_regs"]
        return out

    def pc_at(self, address: int) -> int | None:
        """The eBPF pc whose translation holds microcode ``address`` (None: intro/outro)."""
        if 0 <= address < len(self._owner):
            return self._owner[address]
        return None

    def relocated(self, start_off: int = 0, done_off: int = 1) -> tuple[Instr, ...]:
        """The image as loaded at ``start_off`` (``nfp_bpf_relo_for_vnic``): program branches
        and return addresses made absolute, outro/subroutine branches resolved, "next packet"
        to ``done_off``; helper branches keep their ``15000 + id`` marker (the firmware's
        helper addresses are not modelled). Relocation kinds are kept for the simulator."""
        labels = self.relo_labels
        out: list[Instr] = []
        for insn in self.insns:
            if isinstance(insn, Br | BrBset):
                if insn.relo is Relo.BR_REL:
                    insn = replace(insn, target=insn.target + start_off)
                elif insn.relo in labels:
                    insn = replace(insn, target=labels[insn.relo] + start_off)
                elif insn.relo is Relo.BR_NEXT_PKT and isinstance(insn, Br):
                    insn = replace(insn, target=done_off)
            elif isinstance(insn, Immed) and insn.relo is Relo.IMMED_REL:
                insn = replace(insn, imm16=insn.imm16 + start_off)
            out.append(insn)
        return tuple(out)
