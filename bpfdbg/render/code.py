"""Instructions and source lines as the debugger shows them (bpftool/LLVM dialect)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.disasm import format_insn
from emulator.disasm.resolver import TableResolver
from emulator.helpers.kernel import kernel_helpers
from emulator.program import Program, SourceLine

if TYPE_CHECKING:
    from bpfdbg.session import Session
    from emulator.bpfobject import BpfObject


@lru_cache(maxsize=1)
def _helper_names() -> dict[int, str]:
    return {hid: spec.name for hid, spec in kernel_helpers().specs.items()}


def resolver_for(session: Session, program: Program) -> TableResolver:
    """Names for helpers, maps and subprograms of ``program``."""
    return program_resolver(session.obj, program)


def program_resolver(obj: BpfObject | None, program: Program) -> TableResolver:
    """Names for helpers, the object's maps and the subprograms of ``program``."""
    maps: dict[tuple[str, int], str] = {}
    if obj is not None:
        for i, spec in enumerate(obj.maps):
            maps[("idx", i)] = spec.name
    helpers = _helper_names() if program.prog_type != "raw" else {}
    subprogs = {pc: name for pc, name in program.symbols.items() if pc != 0}
    return TableResolver(helpers=helpers, maps=maps, subprogs=subprogs)


def insn_text(session: Session, pc: int, program: str | None = None, *, raw: bool = False) -> str:
    """``call bpf_map_lookup_elem#1``, ``if r0 == 0x0 goto +12 <no_rule>``, ..."""
    prog = session.program_named(program or session.current_program)
    insn = prog.insn_at(pc)
    if insn is None:
        return "(second half of lddw)" if 0 < pc < prog.nslots else "(no instruction)"
    return format_insn(insn, pc, dialect="llvm", resolver=resolver_for(session, prog), raw=raw)


def source_text(src: SourceLine) -> str:
    """``41\\t        struct rule *r = ...`` (gdb's source line), from the object's line info
    or, when that has no text, from the source file if it is on disk."""
    text = src.text
    if not text:
        text = read_source_line(src.file, src.line) or ""
    return f"{src.line}\t{text}"


@lru_cache(maxsize=64)
def _source_lines(path: str) -> tuple[str, ...] | None:
    try:
        return tuple(Path(path).read_text(errors="replace").splitlines())
    except OSError:
        return None


def read_source_line(path: str, line: int) -> str | None:
    lines = _source_lines(path)
    if lines is None or not 1 <= line <= len(lines):
        return None
    return lines[line - 1]


def source_file_lines(session: Session, file: str) -> tuple[str, ...] | None:
    """The whole source file: from disk (next to the object, or as recorded), else the
    lines the object's line info carries."""
    candidates = [file]
    if session.path:
        candidates.append(str(Path(session.path).parent / Path(file).name))
    for path in candidates:
        lines = _source_lines(path)
        if lines is not None:
            return lines
    known: dict[int, str] = {}
    for prog in session.programs:
        for src in prog.lines.values():
            if src.file == file and src.text:
                known[src.line] = src.text
    if not known:
        return None
    return tuple(known.get(n, "") for n in range(1, max(known) + 1))


def location_text(session: Session, pc: int, program: str) -> str:
    """``insn 23 in xdp_fw () at xdp_fw.c:41`` (gdb's frame line)."""
    prog = session.program_named(program)
    func = function_at(prog, pc)
    src = session.source_line(pc, program)
    where = f"insn {pc} in {func} ()"
    if src is not None:
        where += f" at {Path(src.file).name}:{src.line}"
    return where


def function_at(prog: Program, pc: int) -> str:
    best = 0
    for entry in prog.symbols:
        if best < entry <= pc:
            best = entry
    return prog.symbols.get(best, prog.name)
