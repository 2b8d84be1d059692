"""Location specs, as gdb and edb users write them, resolved to instructions.

===========  ==========================================================================
``*17``      instruction 17 of the selected program (``*0x11`` too)
``17``       source line 17 of the current file when the program has line info,
             otherwise instruction 17 (said so in the breakpoint's description)
``file.c:42`` the first instruction of each block of code from line 42 of ``file.c``
             (a line without code moves to the next line that has some, as gdb does)
``func``     the entry of a function (bpf-to-bpf subprogram or a program of the object)
``prog:17``  instruction 17 of program ``prog`` (a tail-call target, for instance)
``+3``/``-2`` relative to the current instruction
===========  ==========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from bpfdbg.commands.registry import CommandError
from emulator.program import Program, SourceLine


@dataclass(frozen=True, slots=True)
class Site:
    """One resolved instruction: the program it belongs to and its pc."""

    program: str
    pc: int


@dataclass(frozen=True)
class Location:
    spec: str
    sites: tuple[Site, ...]
    note: str = ""  # e.g. "no line info: a bare number is an instruction"


def _number(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _check_pc(prog: Program, pc: int, spec: str) -> Site:
    if not 0 <= pc < prog.nslots:
        raise CommandError(
            f"no instruction {pc} in {prog.name} (it has {prog.nslots} slots, 0-{prog.nslots - 1})"
        )
    if prog.insns[pc] is None:
        raise CommandError(
            f"{spec}: instruction {pc} is the second half of the lddw at {pc - 1}; use *{pc - 1}"
        )
    return Site(prog.name, pc)


def _same_file(name: str, wanted: str) -> bool:
    return name == wanted or os.path.basename(name) == wanted or name.endswith("/" + wanted)


def _code_lines(programs: Sequence[Program], file: str | None) -> list[int]:
    lines = {
        src.line
        for prog in programs
        for src in prog.lines.values()
        if file is None or _same_file(src.file, file)
    }
    return sorted(lines)


def _starts_of_line(prog: Program, line: int, file: str | None) -> list[Site]:
    """The first pc of each run of instructions from ``line`` in ``prog``."""
    sites: list[Site] = []
    previous: SourceLine | None = None
    for pc in range(prog.nslots):
        src = prog.lines.get(pc)
        if src is None:
            continue
        matches = src.line == line and (file is None or _same_file(src.file, file))
        if matches and not (previous is not None and previous.line == line and previous.file == src.file):
            sites.append(Site(prog.name, pc))
        previous = src
    return sites


def line_sites(programs: Sequence[Program], line: int, file: str | None) -> tuple[list[Site], int]:
    """Where code for ``line`` starts in every program: the first pc of each run of
    instructions from that line. When the line has no code anywhere, the next line that has
    some (returned as the second value), like gdb; that choice is made once for the file,
    not per program, so a line never spills into other programs' next lines."""
    target = next((n for n in _code_lines(programs, file) if n >= line), None)
    if target is None:
        return [], line
    return [site for prog in programs for site in _starts_of_line(prog, target, file)], target


def current_file(prog: Program, pc: int) -> str | None:
    """The source file of ``pc`` (the line entry it falls under), else the program's first."""
    src = LineTable(prog).line_of(pc)
    if src is not None:
        return src.file
    files = {s.file for s in prog.lines.values()}
    return next(iter(sorted(files)), None)


def resolve(spec: str, programs: Sequence[Program], current: Program, pc: int | None) -> Location:
    """Resolve a location spec against the object's programs; CommandError explains misses."""
    text = spec.strip()
    if not text:
        raise CommandError("a location is needed: *INSN, LINE, FILE:LINE, FUNCTION, PROG:INSN or +N")
    by_name = {p.name: p for p in programs}
    by_name.setdefault(current.name, current)
    if text.startswith("*"):
        inner = text[1:].strip()
        if ":" in inner:
            prog_name, _, num = inner.partition(":")
            prog = by_name.get(prog_name)
            if prog is None:
                raise CommandError(f"no program {prog_name!r}; programs: {', '.join(by_name)}")
            value = _number(num)
        else:
            prog, value = current, _number(inner)
        if value is None:
            raise CommandError(f"bad instruction number in {text!r}: write *17 or *0x11")
        return Location(text, (_check_pc(prog, value, text),))
    if text[0] in "+-" and _number(text[1:]) is not None:
        if pc is None:
            raise CommandError(
                f"{text} is relative to the current instruction, and the program is not running"
            )
        offset = _number(text)
        assert offset is not None
        return Location(text, (_check_pc(current, pc + offset, text),))
    if ":" in text:
        left, _, right = text.rpartition(":")
        value = _number(right)
        if value is None:
            raise CommandError(f"bad line or instruction number in {text!r}")
        if left in by_name:
            return Location(text, (_check_pc(by_name[left], value, text),))
        ordered = [current, *[p for p in programs if p is not current]]
        known_files = {src.file for prog in ordered for src in prog.lines.values()}
        sites, found_line = line_sites(ordered, value, left)
        if not sites:
            if not any(_same_file(f, left) for f in known_files):
                names = ", ".join(sorted({os.path.basename(f) for f in known_files})) or "none (no line info)"
                raise CommandError(
                    f"no source file named {left!r}; files: {names}; programs: {', '.join(by_name)}"
                )
            raise CommandError(f"line {value} of {left} has no code at or after it")
        note = f"line {value} has no code; using line {found_line}" if found_line != value else ""
        return Location(text, tuple(sites), note)
    value = _number(text)
    if value is not None:
        if not current.lines:
            return Location(
                text, (_check_pc(current, value, text),), "no line info: a bare number is an instruction"
            )
        file = current_file(current, pc if pc is not None else 0)
        ordered = [current, *[p for p in programs if p is not current]]
        got, found_line = line_sites(ordered, value, file)
        if not got:
            raise CommandError(
                f"line {value} of {file} has no code at or after it; use *{value} for an instruction"
            )
        note = f"line {value} has no code; using line {found_line}" if found_line != value else ""
        return Location(text, tuple(got), note)
    for prog in [current, *programs]:
        for entry, name in prog.symbols.items():
            if name == text:
                return Location(text, (Site(prog.name, entry),))
    if text in by_name:
        return Location(text, (Site(text, 0),))
    functions = sorted({n for p in [current, *programs] for n in p.symbols.values()} | set(by_name))
    raise CommandError(f"function {text!r} not defined; functions: {', '.join(functions)}")


class LineTable:
    """pc -> source line for one program. Line info only marks where a line's code starts,
    so an instruction belongs to the nearest entry at or before it (within its function)."""

    def __init__(self, prog: Program) -> None:
        self._prog = prog
        self._starts = sorted(prog.lines)
        self._funcs = sorted(prog.symbols)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def line_of(self, pc: int) -> SourceLine | None:
        import bisect

        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0:
            return None
        start = self._starts[i]
        j = bisect.bisect_right(self._funcs, pc) - 1
        if j >= 0 and self._funcs[j] > start:
            return None  # the entry belongs to an earlier function
        return self._prog.lines[start]

    def is_line_start(self, pc: int) -> bool:
        return pc in self._prog.lines
