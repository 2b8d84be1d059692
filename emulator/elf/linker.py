"""Assemble one program: the entry function, then every function it reaches, libbpf's way.

The kernel loads a program as one instruction array; bpf-to-bpf callees live in the same
array after the entry function. libbpf builds it depth-first: walking the entry function,
the first call to a function not yet in the program appends that function's code at the
end and walks it at once (so its own callees follow it), then the walk resumes. Each
function is appended once, however often it is called, and every call's ``imm`` is set to
the callee's new position. Function addresses loaded with ``lddw src=BPF_PSEUDO_FUNC``
(callbacks) place their target the same way. Doing the same here means bpfdbg's pcs are
the pcs the kernel's verifier log and ``bpftool prog dump xlated`` talk about.

Map and global-variable ``lddw`` fixups are applied in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from emulator.elf.functions import CodeSection, Function
from emulator.elf.relocations import CodeRef, Fixup, MapLoad, MapValueLoad
from emulator.errors import ElfLoadError
from emulator.isa.fields import CallKind, PseudoSrc
from emulator.isa.insn import Insn

LDDW = 0x18


@dataclass(frozen=True, slots=True)
class Placement:
    """Function ``function`` occupies pcs ``pc`` .. ``pc + function.length`` of the program."""

    function: Function
    pc: int


@dataclass(frozen=True)
class LinkedProgram:
    insns: tuple[Insn | None, ...]
    placements: tuple[Placement, ...]  # the entry first, then callees in append order


def _key(func: Function) -> tuple[int, int]:
    return (func.section_index, func.start)


def _check_bounds(path: str, code: CodeSection, func: Function) -> None:
    slots = code.slots
    if slots[func.start] is None or (func.end < len(slots) and slots[func.end] is None):
        raise ElfLoadError(
            f"{path}: function {func.name} in {code.name} starts or ends inside a lddw instruction; "
            "the symbol table does not match the code"
        )


def _patched(insn: Insn, fixup: Fixup, pc: int, target_pc: int) -> Insn:
    if isinstance(fixup, MapLoad):
        return Insn(LDDW, insn.dst, PseudoSrc.MAP_IDX, insn.off, fixup.map_index, 0)
    if isinstance(fixup, MapValueLoad):
        offset = fixup.offset if fixup.offset < 1 << 31 else fixup.offset - (1 << 32)
        return Insn(LDDW, insn.dst, PseudoSrc.MAP_IDX_VALUE, insn.off, fixup.map_index, offset)
    rel = target_pc - pc - 1
    if fixup.is_call:
        return Insn(insn.opcode, insn.dst, CallKind.LOCAL, insn.off, rel)
    return Insn(LDDW, insn.dst, PseudoSrc.FUNC, insn.off, rel, 0)


def link_program(
    path: str,
    entry: Function,
    code_sections: Mapping[int, CodeSection],
    fixups: Mapping[int, Mapping[int, Fixup]],
) -> LinkedProgram:
    """The entry function with its callees appended and every fixup applied."""
    out: list[Insn | None] = []
    placed: dict[tuple[int, int], int] = {}
    placements: list[Placement] = []

    def place(func: Function) -> Iterator[int]:
        code = code_sections[func.section_index]
        _check_bounds(path, code, func)
        placed[_key(func)] = len(out)
        placements.append(Placement(func, len(out)))
        out.extend(code.slots[func.start : func.end])
        return iter(range(func.start, func.end))

    stack: list[tuple[Function, Iterator[int]]] = [(entry, place(entry))]
    while stack:
        func, slots = stack[-1]
        base = placed[_key(func)] - func.start
        section_fixups = fixups.get(func.section_index, {})
        for slot in slots:
            fixup = section_fixups.get(slot)
            if fixup is None:
                continue
            pc = base + slot
            insn = out[pc]
            assert insn is not None  # fixups are only recorded on first slots
            if not isinstance(fixup, CodeRef):
                out[pc] = _patched(insn, fixup, pc, 0)
                continue
            target = _target(path, func, slot, fixup, code_sections)
            new = _key(target) not in placed
            target_slots = place(target) if new else None
            out[pc] = _patched(insn, fixup, pc, placed[_key(target)])
            if target_slots is not None:
                stack.append((target, target_slots))
                break  # walk the new callee now; this function's walk resumes afterwards
        else:
            stack.pop()
    return LinkedProgram(tuple(out), tuple(placements))


def _target(
    path: str, caller: Function, slot: int, ref: CodeRef, code_sections: Mapping[int, CodeSection]
) -> Function:
    code = code_sections.get(ref.section_index)
    what = "calls" if ref.is_call else "takes the address of"
    if code is None:
        raise ElfLoadError(
            f"{path}: {caller.name} (insn {slot - caller.start}) {what} code in a section that has none"
        )
    target = code.function_at(ref.slot)
    if target is None:
        inside = code.function_containing(ref.slot)
        detail = f"the middle of {inside.name}" if inside is not None else "no function"
        raise ElfLoadError(
            f"{path}: {caller.name} (insn {slot - caller.start}) {what} {code.name} insn {ref.slot}, "
            f"which is {detail}"
        )
    return target
