"""Where the program is: backtrace, frame, up, down, info frame, list, disassemble,
info line and info source.

A BPF program's "stack" is short and exact: bpf-to-bpf frames (at most eight), with the
tail calls that led to the running program shown below them, since a tail call replaces
the caller and leaves no frame to select. Code is shown in the bpftool/LLVM dialect with
gdb's markers (``=>`` the next instruction, ``b``/``B`` a breakpoint not yet hit / hit),
and source from the file on disk or from the object's BTF line info.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bpfdbg.breakpoints import Breakpoint
from bpfdbg.commands.common import parse_int
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of
from bpfdbg.render.code import function_at, insn_text, location_text, source_file_lines, source_text
from emulator.isa.table import Form
from emulator.memory import STACK_SIZE
from emulator.program import Program, SourceLine

if TYPE_CHECKING:
    from bpfdbg.session import Session

LIST_SIZE = 10  # gdb's "set listsize"
MASK64 = (1 << 64) - 1


# -- frames -------------------------------------------------------------------------------------
def _frames(session: Session) -> list[tuple[int, str, int, int]]:
    if not session.started:
        raise CommandError('No stack: the program is not being run. Use "start" or "run".')
    return session.frames()


def frame_line(session: Session, level: int, pc: int) -> str:
    """``#1  insn 10 in xdp_port_blocker () at xdp_subprog_globals.c:162``."""
    return f"#{level:<3}{location_text(session, pc, session.current_program)}"


def _frame_where(session: Session, level: int) -> list[str]:
    """A frame as ``frame``, ``up`` and ``down`` show it: its line and its source line
    (or the instruction, without line info)."""
    frames = _frames(session)
    _, _, pc, _ = frames[level]
    lines = [frame_line(session, level, pc)]
    src = session.source_line(pc)
    if src is not None:
        lines.append(source_text(src))
    else:
        lines.append(f"{'=> ' if level == 0 else '   '}{pc}: {insn_text(session, pc)}")
    return lines


@command("backtrace", aliases=("bt", "where"), category="stack")
def cmd_backtrace(session: Session, args: str) -> CommandResult:
    """backtrace [N | -N]

    The bpf-to-bpf call frames, innermost first (#0 is where the program is), then the
    tail calls that led to the running program, most recent first. N shows the innermost
    N frames, -N the outermost N.
    """
    frames = _frames(session)
    text = args.strip()
    limit = parse_int(text, "the frame count", "backtrace [N | -N]") if text else None
    rows: list[tuple[str, dict[str, object]]] = []
    for level, (depth, func, pc, entry) in enumerate(frames):
        data = {"level": level, "function": func, "pc": pc, "entry": entry, "depth": depth}
        rows.append((frame_line(session, level, pc), data))
    chain = session.machine().tail_chain()
    for n, (program, pc) in enumerate(reversed(chain)):
        level = len(frames) + n
        src = session.source_line(pc, program)
        at = f" at {Path(src.file).name}:{src.line}" if src is not None else ""
        rows.append(
            (
                f"#{level:<3}[tail call] from {program} insn {pc}{at}",
                {"level": level, "tail_call_from": program, "pc": pc},
            )
        )
    shown = rows
    more = ""
    if limit is not None and limit > 0 and limit < len(rows):
        shown, more = rows[:limit], "(More stack frames follow...)"
    elif limit is not None and limit < 0 and -limit < len(rows):
        shown = rows[limit:]
    lines = [line for line, _ in shown] + ([more] if more else [])
    return CommandResult("backtrace", lines=lines, data=[d for _, d in shown])


def _select(session: Session, level: int) -> CommandResult:
    session.selected_frame = level
    return CommandResult("frame", lines=_frame_where(session, level), data={"level": level})


@command("frame", aliases=("f",), category="stack")
def cmd_frame(session: Session, args: str) -> CommandResult:
    """frame [N]

    Select frame N (0 is the innermost) and show it; without N, show the selected frame.
    "list", "disassemble", "info frame" and "finish" work on the selected frame.
    """
    frames = _frames(session)
    text = args.strip().removeprefix("level").strip()
    if not text:
        return _select(session, min(session.selected_frame, len(frames) - 1))
    level = parse_int(text, "the frame number", "frame [N]")
    if not 0 <= level < len(frames):
        raise CommandError(f'No frame at level {level}: frames are 0-{len(frames) - 1} (see "backtrace")')
    return _select(session, level)


@command("up", category="stack")
def cmd_up(session: Session, args: str) -> CommandResult:
    """up [N]

    Select the frame N levels out (default 1): the caller of the selected frame.
    """
    frames = _frames(session)
    n = parse_int(args.strip(), "the count", "up [N]") if args.strip() else 1
    top = len(frames) - 1
    if session.selected_frame >= top and n > 0:
        raise CommandError("Initial frame selected; you cannot go up.")
    return _select(session, max(0, min(session.selected_frame + n, top)))


@command("down", category="stack")
def cmd_down(session: Session, args: str) -> CommandResult:
    """down [N]

    Select the frame N levels in (default 1): the function the selected frame called.
    """
    frames = _frames(session)
    n = parse_int(args.strip(), "the count", "down [N]") if args.strip() else 1
    if session.selected_frame <= 0 and n > 0:
        raise CommandError("Bottom (innermost) frame selected; you cannot go down.")
    return _select(session, max(0, min(session.selected_frame - n, len(frames) - 1)))


def function_range(prog: Program, pc: int) -> tuple[str, int, int]:
    """(name, first pc, end pc) of the function holding ``pc``: from its symbol to the
    next one (bpf-to-bpf callees follow the entry function, as libbpf lays them out)."""
    entries = sorted(prog.symbols) or [0]
    start = max((e for e in entries if e <= pc), default=0)
    end = min((e for e in entries if e > start), default=prog.nslots)
    return function_at(prog, start), start, end


def stack_depth(prog: Program, start: int, end: int) -> int:
    """How deep below fp the function's code reaches (bytes), from its fp-relative loads,
    stores and pointers (``r2 = r10; r2 += -16``): the verifier's stack depth, roughly."""
    deepest = 0
    alias: dict[int, int] = {}  # register -> offset from fp it holds
    for pc in range(start, end):
        insn = prog.insn_at(pc)
        if insn is None or insn.info is None:
            continue
        info = insn.info
        form = info.form
        if form in (Form.LDX, Form.LDXSX) and (insn.src == 10 or insn.src in alias):
            deepest = max(deepest, -(insn.off + alias.get(insn.src, 0)))
        elif form in (Form.ST, Form.STX, Form.ATOMIC) and (insn.dst == 10 or insn.dst in alias):
            deepest = max(deepest, -(insn.off + alias.get(insn.dst, 0)))
        if form is Form.ALU_REG and info.is64 and info.op == 0xB0 and (insn.src == 10 or insn.src in alias):
            alias[insn.dst] = alias.get(insn.src, 0)
        elif form is Form.ALU_IMM and info.is64 and info.op == 0x00 and insn.dst in alias:
            alias[insn.dst] += insn.imm
            deepest = max(deepest, -alias[insn.dst])
        elif form in (
            Form.ALU_REG,
            Form.ALU_IMM,
            Form.NEG,
            Form.MOVSX,
            Form.END,
            Form.LDX,
            Form.LDXSX,
            Form.LDDW,
        ):
            alias.pop(insn.dst, None)
        elif form is Form.CALL:
            for reg in range(6):
                alias.pop(reg, None)
    return min(max(deepest, 0), STACK_SIZE)


@sub_of("info", "frame", aliases=("f",))
def info_frame(session: Session, args: str) -> CommandResult:
    """info frame

    The selected frame: its level, frame pointer, function and entry, where it is, its
    caller and callee, and how much of its 512-byte stack its code uses.
    """
    frames = _frames(session)
    level = min(session.selected_frame, len(frames) - 1)
    depth, func, pc, entry = frames[level]
    program = session.current_program
    prog = session.program_named(program)
    fp = next((f.fp for f in session.state().frames if f.depth == depth), None)
    fp_text = f"{fp:#x}" if fp is not None else "?"
    _, start, end = function_range(prog, entry)
    used = stack_depth(prog, start, end)
    lines = [
        f"Stack level {level}, frame at fp = {fp_text}:",
        f" {location_text(session, pc, program)}",
        f" function {func}: entry insn {entry}, insns {start}-{end - 1}, call depth {depth}",
    ]
    if level + 1 < len(frames):
        caller = frames[level + 1]
        lines.append(f" called by frame at level {level + 1}: {caller[1]} (the call at insn {caller[2]})")
    elif session.machine().tail_chain():
        prev, at = session.machine().tail_chain()[-1]
        lines.append(f" outermost frame of {program}, reached by a tail call from {prev} insn {at}")
    else:
        lines.append(f" outermost frame (the entry of {program})")
    if level > 0:
        lines.append(f" caller of frame at level {level - 1}: {frames[level - 1][1]}")
    if used:
        lines.append(f" stack: {used} of {STACK_SIZE} bytes used by this function's code (fp-{used} to fp-1)")
    else:
        lines.append(f" stack: none of its {STACK_SIZE} bytes used by this function's code")
    data = {
        "level": level,
        "fp": fp,
        "function": func,
        "pc": pc,
        "entry": entry,
        "depth": depth,
        "stack": used,
    }
    return CommandResult("info frame", lines=lines, data=data)


# -- list ----------------------------------------------------------------------------------------
@dataclass
class ListState:
    """Where the last ``list`` ended, so that ``list`` again continues and ``list -``
    goes back; ``anchor`` is the stop it was centred on (a new stop re-centres)."""

    file: str | None = None
    first: int = 0
    last: int = 0
    anchor: tuple[str, int, int, int] | None = None


def list_state(session: Session) -> ListState:
    state = session.command_state.get("list")
    if not isinstance(state, ListState):
        state = session.command_state["list"] = ListState()
    return state


def _selected_pc(session: Session) -> int | None:
    if not session.started:
        return None
    frames = session.frames()
    return frames[min(session.selected_frame, len(frames) - 1)][2]


def _anchor(session: Session) -> tuple[str, int, int, int] | None:
    if not session.started:
        return None
    return (session.current_program, session.pc, session.insns, session.selected_frame)


def _no_line_info(session: Session) -> CommandError:
    return CommandError(
        f"{session.current_program} has no line info (built without -g, or raw instructions); "
        '"disassemble" lists its instructions'
    )


def _home(session: Session) -> SourceLine:
    """The line ``list`` centres on: the selected frame's, or the program's first."""
    pc = _selected_pc(session)
    src = session.source_line(pc) if pc is not None else None
    if src is not None:
        return src
    table = session.program_named(session.current_program).lines
    if not table:
        raise _no_line_info(session)
    return table[min(table)]


def _known_file(session: Session, name: str) -> str | None:
    files = {src.file for prog in session.programs for src in prog.lines.values()}
    for file in sorted(files):
        if file == name or Path(file).name == name or file.endswith("/" + name):
            return file
    return None


def _line_spec(session: Session, spec: str, default_file: str | None) -> tuple[str, int]:
    """(file, line) for LINE, FILE:LINE or any location (function, *INSN, PROG:INSN)."""
    text = spec.strip()
    if text.isdigit():
        return default_file or _home(session).file, int(text)
    m = re.fullmatch(r"(.+):(\d+)", text)
    if m is not None:
        known = _known_file(session, m.group(1))
        if known is not None:
            return known, int(m.group(2))
    loc = session.location(text)
    site = loc.sites[0]
    src = session.source_line(site.pc, site.program)
    if src is None:
        raise CommandError(f'no line info for insn {site.pc} of {site.program}; "disassemble" shows it')
    return src.file, src.line


def _listing(session: Session, file: str, first: int, last: int) -> CommandResult:
    lines = source_file_lines(session, file)
    if lines is None:
        raise CommandError(
            f"cannot read {file}: it is not on disk and the object's line info carries no text of it"
        )
    name = Path(file).name
    first = max(first, 1)
    last = min(last, len(lines))
    if first > len(lines):
        raise CommandError(f'Line number {first} out of range; "{name}" has {len(lines)} lines.')
    pc = _selected_pc(session)
    here = session.source_line(pc) if pc is not None else None
    current = here.line if here is not None and Path(here.file).name == name else None
    out = [f"{'=> ' if n == current else ''}{n}\t{lines[n - 1]}" for n in range(first, last + 1)]
    state = list_state(session)
    state.file, state.first, state.last, state.anchor = file, first, last, _anchor(session)
    return CommandResult(
        "list", lines=out, data={"file": file, "first": first, "last": last, "current": current}
    )


def _centred(session: Session, file: str, line: int) -> CommandResult:
    first = max(line - LIST_SIZE // 2, 1)
    return _listing(session, file, first, first + LIST_SIZE - 1)


@command("list", aliases=("l",), category="files", completes="location")
def cmd_list(session: Session, args: str) -> CommandResult:
    """list [LOCATION | FIRST,LAST | FIRST, | ,LAST | + | -]

    Source lines: ten around the selected frame's line (marked "=>") or around LOCATION
    (LINE, FILE:LINE, FUNCTION, *INSN); "list" again continues, "list -" shows the ten
    before. From the source file on disk, or from the object's BTF line info.
    """
    state = list_state(session)
    text = args.strip()
    if not session.program_named(session.current_program).lines and not any(
        p.lines for p in session.programs
    ):
        raise _no_line_info(session)
    if text in ("", "+"):
        fresh = state.file is None or (text == "" and state.anchor != _anchor(session))
        if fresh:
            home = _home(session)
            return _centred(session, home.file, home.line)
        assert state.file is not None
        return _listing(session, state.file, state.last + 1, state.last + LIST_SIZE)
    if text == "-":
        if state.file is None:
            home = _home(session)
            return _listing(session, home.file, max(home.line - LIST_SIZE // 2 - LIST_SIZE, 1),
                            max(home.line - LIST_SIZE // 2 - 1, 0))  # fmt: skip
        if state.first <= 1:
            raise CommandError(f"Already at the start of {Path(state.file).name}.")
        return _listing(session, state.file, max(state.first - LIST_SIZE, 1), state.first - 1)
    if "," in text:
        left, _, right = (part.strip() for part in text.partition(","))
        if left:
            file, first = _line_spec(session, left, state.file)
            if right:
                _, last = _line_spec(session, right, file)
            else:
                last = first + LIST_SIZE - 1
        elif right:
            file, last = _line_spec(session, right, state.file)
            first = max(last - LIST_SIZE + 1, 1)
        else:
            raise CommandError("list needs FIRST,LAST", "list [LOCATION | FIRST,LAST | + | -]")
        if last < first:
            raise CommandError(f"the last line ({last}) comes before the first ({first})")
        return _listing(session, file, first, last)
    file, line = _line_spec(session, text, state.file)
    return _centred(session, file, line)


# -- disassemble ---------------------------------------------------------------------------------
def _breakpoint_marks(session: Session, program: str) -> dict[int, str]:
    """pc -> ``b`` (enabled breakpoint) or ``B`` (one that has stopped the program)."""
    marks: dict[int, str] = {}
    for point in session.stops:
        if isinstance(point, Breakpoint) and point.enabled:
            for site in point.sites:
                if site.program == program:
                    marks[site.pc] = "B" if point.hits or marks.get(site.pc) == "B" else "b"
    return marks


def _target_note(prog: Program, pc: int) -> str:
    """`` <insn 22>`` after a branch, naming a function when the target is one."""
    insn = prog.insn_at(pc)
    if insn is None or insn.info is None or not insn.info.is_branch:
        return ""
    target = insn.jump_target(pc)
    if target is None:
        return ""
    name = prog.symbols.get(target)
    return f" <{name}>" if name else f" <insn {target}>"


def _pc_spec(session: Session, text: str) -> tuple[str, int]:
    """(program, pc) for an instruction number or a location."""
    if re.fullmatch(r"\d+|0x[0-9a-fA-F]+", text):
        program, pc = session.current_program, int(text, 0)
        nslots = session.program_named(program).nslots
        if pc >= nslots:
            raise CommandError(f"no instruction {pc} in {program} (it has slots 0-{nslots - 1})")
        return program, pc
    site = session.location(text).sites[0]
    return site.program, site.pc


def disassembly(
    session: Session,
    program: str,
    start: int,
    end: int,
    *,
    raw: bool = False,
    source: bool = False,
    counts: bool = False,
) -> list[str]:
    """Instructions ``start`` to ``end`` (exclusive) of ``program``, gdb style:
    ``B=>   83: if r3 > r1 goto +40 <insn 124>``; with ``counts``, how often each ran in
    this run (``x12``) in a column before the text."""
    prog = session.program_named(program)
    ran = session.stepper.exec_counts() if counts else None
    count_width = len(str(max(ran.values(), default=0))) + 1 if ran else 2
    current = session.pc if session.started and session.current_program == program else None
    marks = _breakpoint_marks(session, program)
    width = len(str(max(end - 1, 0)))
    out: list[str] = []
    last_src: SourceLine | None = None
    last_file: str | None = None
    for pc in range(start, end):
        if prog.insn_at(pc) is None:
            continue
        if source:
            src = session.source_line(pc, program)
            if src is not None and (
                last_src is None or (src.file, src.line) != (last_src.file, last_src.line)
            ):
                if src.file != last_file:
                    out.append(f"{Path(src.file).name}:")
                    last_file = src.file
                out.append(source_text(src))
                last_src = src
        text = insn_text(session, pc, program, raw=raw) + _target_note(prog, pc)
        gutter = marks.get(pc, " ") + ("=>" if pc == current else "  ")
        if ran is not None:
            hits = ran.get((program, pc), 0)
            column = f"x{hits}" if hits else ""
            out.append(f"{gutter} {pc:>{width}}: {column:>{count_width}}  {text}")
        else:
            out.append(f"{gutter} {pc:>{width}}: {text}")
    return out


def _function_title(name: str, program: str) -> str:
    where = f" of program {program}" if name != program else ""
    return f"Dump of assembler code for function {name}{where}:"


@command("disassemble", aliases=("disas",), category="data", completes="location")
def cmd_disassemble(session: Session, args: str) -> CommandResult:
    """disassemble [/r] [/s] [/c] [START[,END | ,+N]]

    The instructions of the selected frame's function (or of the function holding START,
    or from START to END, or N instructions from START), bpftool/LLVM dialect: "=>" marks
    the next instruction, "b"/"B" a breakpoint (B: it has stopped the program), and jumps
    name their targets. /r adds the raw bytes, /s interleaves the source lines, /c shows
    how often each instruction ran in this run so far.
    """
    text = args.strip()
    raw = source = counts = False
    while text.startswith("/"):
        mods, _, text = text[1:].partition(" ")
        for ch in mods:
            if ch == "r":
                raw = True
            elif ch in "sm":
                source = True
            elif ch == "c":
                counts = True
            else:
                raise CommandError(
                    f"invalid disassemble modifier '/{ch}': use /r (raw bytes), /s (source) or /c (counts)"
                )
        text = text.strip()
    if not text:
        program = session.current_program
        pc = _selected_pc(session) or 0
        name, start, end = function_range(session.program_named(program), pc)
        title = _function_title(name, program)
    elif "," in text:
        left, _, right = (part.strip() for part in text.partition(","))
        program, start = _pc_spec(session, left)
        if right.startswith("+"):
            end = start + parse_int(right[1:], "the instruction count", "disassemble START,+N")
        elif right:
            other, last = _pc_spec(session, right)
            if other != program:
                raise CommandError(f"START and END are in different programs ({program}, {other})")
            end = last
        else:
            raise CommandError(
                "disassemble START,END needs END", "disassemble [/r] [/s] [/c] [START[,END | ,+N]]"
            )
        title = f"Dump of assembler code from insn {start} to {end} of {program}:"
    else:
        program, pc = _pc_spec(session, text)
        name, start, end = function_range(session.program_named(program), pc)
        title = _function_title(name, program)
    prog = session.program_named(program)
    if not 0 <= start < prog.nslots:
        raise CommandError(f"no instruction {start} in {program} (it has slots 0-{prog.nslots - 1})")
    end = min(end, prog.nslots)
    if end <= start:
        raise CommandError(f"nothing to show: the range ends ({end}) before it starts ({start})")
    lines = [
        title,
        *disassembly(session, program, start, end, raw=raw, source=source, counts=counts),
        "End of assembler dump.",
    ]
    return CommandResult("disassemble", lines=lines, data={"program": program, "start": start, "end": end})


# -- info line / info source --------------------------------------------------------------------
def _spans(pcs: list[int]) -> str:
    parts: list[str] = []
    for pc in pcs:
        if parts and pc == int(parts[-1].rpartition("-")[2]) + 1:
            head = parts[-1].partition("-")[0]
            parts[-1] = f"{head}-{pc}"
        else:
            parts.append(str(pc))
    return ", ".join(parts)


@sub_of("info", "line")
def info_line(session: Session, args: str) -> CommandResult:
    """info line [LOCATION]

    Which instructions a source line compiled to (the selected frame's line by default).
    """
    if args.strip():
        file, line = _line_spec(session, args, list_state(session).file)
    else:
        home = _home(session)
        file, line = home.file, home.line
    name = Path(file).name
    found: list[str] = []
    for prog in session.programs:
        table = session.lines_of(prog.name)
        pcs = [
            pc
            for pc in range(prog.nslots)
            if prog.insns[pc] is not None
            and (src := table.line_of(pc)) is not None
            and src.line == line
            and Path(src.file).name == name
        ]
        if pcs:
            funcs = sorted({function_at(prog, pc) for pc in pcs})
            noun = "insn" if len(pcs) == 1 else "insns"
            found.append(f"{noun} {_spans(pcs)} of {prog.name} (in {', '.join(funcs)})")
    if not found:
        return CommandResult("info line", lines=[f'Line {line} of "{name}" has no code.'])
    return CommandResult("info line", lines=[f'Line {line} of "{name}" is at {"; ".join(found)}.'])


@sub_of("info", "source")
def info_source(session: Session, args: str) -> CommandResult:
    """info source

    The current source file: where it is, how many lines it has, where its line info
    comes from.
    """
    prog = session.program_named(session.current_program)
    if not prog.lines:
        return CommandResult(
            "info source",
            lines=[f"No current source file: {prog.name} has no line info (built without -g?)."],
        )
    home = _home(session)
    lines = [f"Current source file is {home.file}"]
    candidates = [Path(home.file)]
    if session.path:
        candidates.append(Path(session.path).parent / Path(home.file).name)
    on_disk = next((p for p in candidates if p.is_file()), None)
    if on_disk is not None:
        lines.append(f"Located in {on_disk.resolve()}")
    else:
        lines.append("Not on disk: the text comes from the object's BTF line info.")
    text = source_file_lines(session, home.file)
    if text is not None:
        lines.append(f"Contains {len(text)} lines.")
    lines.append("Source language is c.")
    entries = sum(1 for src in prog.lines.values() if src.file == home.file)
    lines.append(f"Line info: {entries} entries for {prog.name} (BTF .BTF.ext / DWARF).")
    return CommandResult("info source", lines=lines, data={"file": home.file, "path": str(on_disk or "")})
