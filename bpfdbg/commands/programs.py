"""``prog`` (bpftool's program verbs on the loaded object) and ``verify``.

``prog list`` and ``prog dump xlated`` look the way bpftool prints a loaded program, so a
user can hold our listing next to the kernel's: the same header line, the same
``   0: (b7) r0 = 2`` instruction lines with ``; source`` lines from line info, the same
``opcodes`` and ``linum`` options and the same ``-j`` JSON. The instructions are the
object's (what we load and run), not the kernel's verifier rewrite.

``verify`` answers "will the kernel take this?" before anyone runs anything: the static
checks every backend applies at load, then, where bpf() is permitted, the real verifier
(through the kernel backend, which creates the object's maps the same way): for an accepted
program its ``processed N insns`` summary, for a rejected one the end of its log and the
instruction it stopped at shown in our listing with its source line.
"""

from __future__ import annotations

import hashlib
import inspect
import platform
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfdbg.commands.common import split_args
from bpfdbg.commands.output import (
    cmd_tracelog,
    finish,
    first_match,
    fprint_hex,
    hexlist,
    take_json_flags,
)
from bpfdbg.commands.registry import CommandError, CommandResult, command
from bpfdbg.render.code import insn_text
from emulator.backends import base as backends
from emulator.backends.base import NativeInsn
from emulator.diagnostics import Diagnostic, Severity
from emulator.disasm import disassemble
from emulator.disasm.resolver import MapKind
from emulator.isa.fields import PseudoSrc
from emulator.isa.insn import LDDW_OPCODE
from emulator.isa.table import Form
from emulator.isa.validate import validate
from emulator.program import Program

if TYPE_CHECKING:
    from bpfdbg.session import Session

PROG_VERBS = ("show", "list", "dump", "tracelog")  # bpftool's order
EXTRA_VERBS = ("select",)
# bpftool's spelling of our program types (the kernel's prog_type names).
KERNEL_TYPE = {"xdp": "xdp", "tc": "sched_cls", "socket": "socket_filter", "raw": "raw"}
GPL_COMPATIBLE = {
    "GPL",
    "GPL v2",
    "GPL and additional rights",
    "Dual BSD/GPL",
    "Dual MIT/GPL",
    "Dual MPL/GPL",
}
LOG_TAIL = 12
_LOG_INSN = re.compile(r"^(\d+): \(([0-9a-f]{2})\) ")


# -- what a program is -----------------------------------------------------------------------
def prog_tag(prog: Program) -> str:
    """The tag the kernel gives a program (bpftool's ``tag``): the first 8 bytes of a digest
    of its instructions as loaded, with map fds zeroed (bpf_prog_calc_tag). Linux 6.18
    digests with SHA-256 (checked against bpftool on this kernel); older kernels used SHA-1,
    so on those bpftool shows a different tag. Map references by index (fd_array, what our
    objects use) are kept as they are, as the kernel does."""
    raw = bytearray(prog.encode())
    pc = 0
    while pc < len(prog.insns):
        insn = prog.insns[pc]
        if insn is not None and insn.opcode == LDDW_OPCODE:
            if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
                raw[pc * 8 + 4 : pc * 8 + 8] = bytes(4)
                raw[pc * 8 + 12 : pc * 8 + 16] = bytes(4)
            pc += 2
            continue
        pc += 1
    return hashlib.sha256(bytes(raw)).hexdigest()[:16]


def map_indexes(prog: Program) -> list[int]:
    """The object maps a program names (lddw by fd_array index), in first-use order."""
    out: list[int] = []
    for insn in prog.insns:
        if insn is None or insn.info is None or insn.info.form is not Form.LDDW:
            continue
        if insn.info.variant in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE) and insn.imm not in out:
            out.append(insn.imm)
    return out


def license_of(session: Session, prog: Program) -> str:
    return prog.license or (session.obj.license if session.obj is not None else "")


def resolve_prog(session: Session, words: Sequence[str], usage: str) -> tuple[Program, list[str]]:
    """bpftool's ``PROG := id N | name NAME | tag HEX`` (and a bare name or section); no
    handle means the selected program."""
    programs = session.programs
    if not words:
        return session.program, []
    head = words[0]
    if head in ("id", "name", "tag"):
        if len(words) < 2:
            raise CommandError(f"'{head}' needs a value", usage)
        value, rest = words[1], list(words[2:])
        if head == "id":
            try:
                index = int(value, 0)
            except ValueError:
                raise CommandError(f"program id must be a number, not {value!r}", usage) from None
            if not 0 <= index < len(programs):
                raise CommandError(f"no program with id {index}; ids 0-{len(programs) - 1} (prog list)")
            return programs[index], rest
        if head == "tag":
            for prog in programs:
                if prog_tag(prog) == value.lower():
                    return prog, rest
            raise CommandError(f"no program with tag {value}")
        head = value
    else:
        rest = list(words[1:])
    for prog in programs:
        if head in (prog.name, prog.section):
            return prog, rest
    names = ", ".join(p.name for p in programs)
    raise CommandError(f"no program {head!r}; programs: {names}")


class SessionResolver:
    """Names for the listing: the kernel's helper names, the object's maps (by fd_array
    index) and functions, so a listing reads like the source."""

    def __init__(self, session: Session, prog: Program) -> None:
        self.session = session
        self.prog = prog
        self.maps = [spec.name for spec in session.obj.maps] if session.obj is not None else []

    def helper_name(self, helper_id: int) -> str | None:
        name = self.session.helper_name(helper_id)
        return None if name.startswith("helper#") else name

    def map_name(self, kind: MapKind, value: int) -> str | None:
        if kind == "idx" and 0 <= value < len(self.maps):
            return self.maps[value]
        return None

    def subprog_name(self, pc: int) -> str | None:
        return self.prog.symbols.get(pc) if pc else None

    def label(self, pc: int) -> str | None:
        return None


def func_proto(session: Session, name: str) -> str | None:
    """bpftool's prototype line from BTF: ``int xdp_count(struct xdp_md * ctx)``."""
    btf: Any = session.btf
    if btf is None or not hasattr(btf, "find"):
        return None
    from emulator.elf.btf import BtfKind

    func = btf.find(name, BtfKind.FUNC)
    if func is None:
        return None
    proto = btf.type(func.type)
    # "struct xdp_md *" + " ctx": bpftool's spacing ("struct xdp_md * ctx")
    params = ", ".join(f"{btf.type_name(p.type)} {p.name}" if p.type else "..." for p in proto.params)
    return f"{btf.type_name(proto.type)} {name}({params or 'void'})"


# -- prog list / show --------------------------------------------------------------------------
def describe_prog(session: Session, prog: Program, index: int) -> tuple[list[str], dict[str, Any]]:
    selected = prog.name == session.program.name
    gpl = license_of(session, prog) in GPL_COMPATIBLE
    tag = prog_tag(prog)
    kind = KERNEL_TYPE.get(prog.prog_type, prog.prog_type)
    indexes = map_indexes(prog)
    try:
        maps = session.maps
        map_ids = [maps[i].map_id for i in indexes if i < len(maps)]
        map_names = [maps[i].name for i in indexes if i < len(maps)]
    except CommandError:
        map_ids, map_names = [], []
    insns = sum(1 for i in prog.insns if i is not None)
    head = f"{'*' if selected else ' '} {index}: {kind}  name {prog.name}  tag {tag}" + (
        "  gpl" if gpl else ""
    )
    second = f"\txlated {prog.nslots * 8}B  insns {insns}"
    if map_ids:
        second += f"  map_ids {','.join(str(i) for i in map_ids)}"
    lines = [head, second]
    extra = []
    if prog.section:
        extra.append(f"section {prog.section}")
    if map_names:
        extra.append(f"maps {','.join(map_names)}")
    subprogs = [name for pc, name in sorted(prog.symbols.items()) if pc]
    if subprogs:
        extra.append(f"functions {','.join(subprogs)}")
    if prog.lines:
        extra.append(f"line_info {len(prog.lines)}")
    if extra:
        lines.append("\t" + "  ".join(extra))
    data = {
        "id": index,
        "type": kind,
        "name": prog.name,
        "tag": tag,
        "gpl_compatible": gpl,
        "bytes_xlated": prog.nslots * 8,
        "insns": insns,
        "map_ids": map_ids,
        "map_names": map_names,
        "section": prog.section,
        "functions": subprogs,
        "line_info": len(prog.lines),
        "selected": selected,
    }
    return lines, data


def prog_list(session: Session, words: list[str], style: str | None) -> CommandResult:
    programs = session.programs
    if words:
        prog, rest = resolve_prog(session, words, "prog show [PROG]")
        if rest:
            raise CommandError(f"unexpected {' '.join(rest)!r}", "prog show [PROG]")
        lines, data = describe_prog(session, prog, programs.index(prog))
        return finish("prog", data, lines, style)
    all_lines: list[str] = []
    rows = []
    for index, prog in enumerate(programs):
        lines, data = describe_prog(session, prog, index)
        all_lines += lines
        rows.append(data)
    return finish("prog", rows, all_lines, style)


# -- prog dump xlated / jited ------------------------------------------------------------------
def opcodes_json(raw: bytes) -> dict[str, Any]:
    """bpftool's ``opcodes`` object; ``imm`` spans 12 bytes for a lddw (both halves)."""
    return {
        "code": f"0x{raw[0]:02x}",
        "src_reg": f"0x{raw[1] >> 4:x}",
        "dst_reg": f"0x{raw[1] & 0xF:x}",
        "off": hexlist(raw[2:4]),
        "imm": hexlist(raw[4:16] if len(raw) == 16 else raw[4:8]),
    }


def dump_xlated(session: Session, words: list[str], style: str | None) -> CommandResult:
    usage = "prog dump xlated [PROG] [opcodes] [linum] [file FILE]"
    options = {w for w in words if w in ("opcodes", "linum", "visual")}
    words = [w for w in words if w not in options]
    if "visual" in options:
        raise CommandError("'visual' (a DOT graph) is not supported yet; use opcodes and linum", usage)
    target = take_value(words, "file", "a file name", usage)
    prog, rest = resolve_prog(session, words, usage)
    if rest:
        raise CommandError(f"unexpected {' '.join(rest)!r}", usage)
    if target is not None:
        if options:
            raise CommandError("'file' cannot be combined with opcodes or linum (as in bpftool)", usage)
        try:
            Path(target).write_bytes(prog.encode())
        except OSError as err:
            raise CommandError(f"cannot write {target}: {err.strerror or err}") from None
        data = {"file": target, "bytes": prog.nslots * 8}
        return finish("prog", data, [f"wrote {prog.nslots * 8} bytes of {prog.name} to {target}"], style)
    resolver = SessionResolver(session, prog)
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for line in disassemble(prog.insns, resolver=resolver):
        row: dict[str, Any] = {"pc": line.pc}
        name = prog.symbols.get(line.pc)
        if name is not None:
            proto = func_proto(session, name)
            if proto is not None:
                row["proto"] = proto
                lines.append(f"{proto}:")
            elif line.pc:
                lines.append(f"{name}:")
        src = prog.lines.get(line.pc)
        if src is not None:
            text = src.text.strip()
            row["src"] = text
            source = f"; {text}" if text else ";"
            if "linum" in options:
                row.update({"file": src.file, "line_num": src.line, "line_col": src.column})
                source += f" [file:{src.file} line_num:{src.line} line_col:{src.column}]"
            lines.append(source)
        disasm = f"({line.raw[0]:02x}) {line.text}" if line.raw else line.text
        row["disasm"] = disasm
        lines.append(f"{line.pc:4d}: {disasm}")
        if "opcodes" in options:
            row["opcodes"] = opcodes_json(line.raw)
            lines.append(f"       {fprint_hex(line.raw)[0]}")
        rows.append(row)
    return finish("prog", rows, lines, style)


def take_value(words: list[str], keyword: str, what: str, usage: str) -> str | None:
    """Remove ``keyword VALUE`` (bpftool's ``file FILE``, our ``backend NAME``) from
    ``words``; the value, or None when the keyword is absent."""
    if keyword not in words:
        return None
    at = words.index(keyword)
    if at + 1 >= len(words):
        raise CommandError(f"'{keyword}' needs {what}", usage)
    value = words[at + 1]
    del words[at : at + 2]
    return value


def native_backends() -> list[str]:
    """The backends that can show the native code of an instruction (host JIT, NIC)."""
    return [name for name in backends.backend_names() if backends.create(name).capabilities.has_native_view]


def dump_jited(session: Session, words: list[str], style: str | None) -> CommandResult:
    """The whole native image of a translating backend, each range headed by the eBPF
    instruction it came from (and its source line when it starts a new one)."""
    usage = "prog dump jited [PROG] [opcodes] [att] [backend NAME] [kernel]"
    words = ["kernel" if w == "--kernel" else w for w in words]  # bpftool-like keyword, or a flag
    if "kernel" in words:
        words.remove("kernel")
        prog, rest = resolve_prog(session, words, usage)
        if rest:
            raise CommandError(f"unexpected {' '.join(rest)!r}", usage)
        return jited_beside_kernel(session, prog, style)
    name = take_value(words, "backend", "a backend name", usage)
    options = {w for w in words if w in ("opcodes", "linum", "att", "intel")}
    prog, rest = resolve_prog(session, [w for w in words if w not in options], usage)
    if rest:
        raise CommandError(f"unexpected {' '.join(rest)!r}", usage)
    others = native_backends()
    if name is None:
        if session.machine().capabilities.has_native_view:
            name = session.backend_name
        elif others:
            name = others[0]
    if name is None or name not in others:
        asked = f"the {name} backend" if name is not None else f"the {session.backend_name} backend"
        where = (
            f"backends with native code: {', '.join(others)}" if others else "no backend provides native code"
        )
        return CommandResult(
            "prog",
            ok=False,
            error=f"no native code to show: {asked} runs eBPF directly; {where}",
            usage=usage,
            data={"backend": name or session.backend_name, "native_backends": others},
        )
    machine = backends.create(name)
    report = machine.load(prog, session.make_env())
    if not report.ok:
        reasons = "; ".join(str(d) for d in report.errors[:3])
        raise CommandError(f"{name} refused {prog.name}: {reasons}")
    syntax = "att" if "att" in options else "intel"
    listing = native_image(machine, prog, syntax)
    spelling = getattr(machine, "native_syntax", None) or f"{syntax} syntax"
    lines: list[str] = [f"{prog.name}: native code from the {name} backend ({spelling})"]
    rows: list[dict[str, Any]] = []
    last: object = object()
    last_line: tuple[str, int] | None = None
    for pc, n in listing:
        if pc != last:
            last = pc
            if pc is None:
                lines.append("; prologue/epilogue")
            else:
                src = session.source_line(pc, prog.name)
                if src is not None and (src.file, src.line) != last_line:
                    last_line = (src.file, src.line)
                    lines.append(f"; {Path(src.file).name}:{src.line} {' '.join((src.text or '').split())}")
                lines.append(f"; insn {pc}: {insn_text(session, pc, prog.name)}")
        rows.append({"pc": pc, "address": f"0x{n.address:x}", "raw": n.raw.hex(), "text": n.text})
        text = f"{n.address:16x}:\t{n.text}"
        if "opcodes" in options:
            text += f"\n\t{fprint_hex(n.raw)[0]}"
        lines.extend(text.split("\n"))
    return finish("prog", rows, lines, style)


# What each kind of difference between our image and the kernel's means.
KERNEL_DIFFERENCES = {
    "map": "map address: the kernel embeds its own map pointer, bpfdbg its map's address",
    "exit": "return: the kernel returns through its return thunk (a Spectre mitigation), we use ret",
    "tailcall": "tail call: the kernel inlines the tail call (its counter and jump), we call a trampoline",
    "call": "call target: the kernel calls the helper's kernel address, we a trampoline",
    "unaligned": "not aligned: this instruction's kernel code could not be told apart (next to a tail call "
    "or an inlined sequence)",
    "other": "different code",
}


def kernel_difference(form: str, ours: Sequence[str], kernel: Sequence[str] | None) -> str:
    """Which known difference explains one instruction's code differing from the kernel's."""
    if kernel is None:
        return "unaligned"
    if form == "LDDW" and any(k.startswith("movabs") for k in kernel):
        return "map"
    if form == "EXIT" and kernel and kernel[-1].startswith("jmp") and ours and ours[-1] == "ret":
        return "exit"
    if form == "CALL" and len(kernel) > len(ours) + 2:
        return "tailcall"
    if form == "CALL":
        return "call"
    return "other"


def jited_beside_kernel(session: Session, prog: Program, style: str | None) -> CommandResult:
    """``prog dump jited kernel``: the real kernel's JIT image of this program beside ours,
    instruction by instruction, with each difference explained."""
    from emulator.backends.hostjit.kernel_compare import compare_with_kernel
    from emulator.backends.kernel.syscall import available
    from emulator.prog_info import ProgInfoError, jited_info

    why = available()
    if why is not None:
        raise CommandError(f"the kernel's JIT image needs bpf(): {why}")
    kernel = backends.create("kernel")
    report = kernel.load(prog, session.make_env())
    if not report.ok:
        reasons = "; ".join(str(d) for d in report.errors[:2])
        raise CommandError(f"the kernel refused {prog.name}, so it has no JIT image: {reasons}")
    try:
        comparison = compare_with_kernel(jited_info(kernel._fd))  # type: ignore[attr-defined]
    except ProgInfoError as err:
        raise CommandError(f"cannot read the kernel's JIT image: {err}") from None
    finally:
        kernel.close()  # type: ignore[attr-defined]
    lines = [
        f"{prog.name}: our x86-64 JIT beside the kernel's ({platform.release()}), per instruction of the "
        "kernel's xlated program (after the verifier's rewrites)",
        *comparison.notes,
    ]
    rows: list[dict[str, Any]] = []
    kinds: Counter[str] = Counter()
    for fn in comparison.functions:
        lines.append(
            f"function at insn {fn.entry}: kernel image {fn.kernel_size} bytes at {fn.kernel_address:#x}, "
            f"ours {fn.our_size} bytes"
        )
        if fn.kernel_prologue != fn.our_prologue:
            lines.append(
                "  prologue differs (the kernel's frame holds the tail-call counter; ours is 512 bytes):"
            )
            lines.append(f"    ours:   {'; '.join(fn.our_prologue)}")
            lines.append(f"    kernel: {'; '.join(fn.kernel_prologue)}")
        for c in fn.insns:
            same = c.same_count and c.same_shape
            kind = None if same else kernel_difference(c.form, c.ours, c.kernel)
            if kind is not None:
                kinds[kind] += 1
            mark = "=" if same else "!"
            lines.append(f"{mark} insn {c.pc} ({c.form.lower()}): {'; '.join(c.ours)}")
            if not same:
                kernel_text = "; ".join(c.kernel) if c.kernel is not None else "(not aligned)"
                lines.append(f"    kernel: {kernel_text}")
                lines.append(f"    why: {KERNEL_DIFFERENCES[kind or 'other']}")
            rows.append(
                {
                    "pc": c.pc,
                    "form": c.form,
                    "ours": list(c.ours),
                    "kernel": list(c.kernel) if c.kernel else None,
                    "same": same,
                    "difference": kind,
                }  # fmt: skip
            )
    alu = comparison.straight_line()
    agree = sum(1 for c in alu if c.same_count and c.same_shape)
    lines.append(
        f"straight-line ALU instructions: {agree} of {len(alu)} the same (count and registers); "
        f"register mapping {'agrees' if comparison.register_mapping_agrees() else 'DIFFERS'}"
    )
    for kind, count in kinds.most_common():
        lines.append(f"  {count} x {KERNEL_DIFFERENCES[kind]}")
    return finish("prog", rows, lines, style)


def native_image(machine: Any, prog: Program, syntax: str) -> list[tuple[int | None, NativeInsn]]:
    """(eBPF pc or None, native instruction) over the whole image: the backend's own
    whole-image listing where it has one (prologue and epilogue included), else the code of
    each instruction in turn."""
    image = getattr(machine, "native_image_listing", None)
    if callable(image):
        # x86 listings come in Intel or AT&T syntax; NIC microcode has one (binutils nfp-dis)
        if len(inspect.signature(image).parameters) > 0:
            return [(line.pc, line.insn) for line in image(syntax)]
        return [(pc, insn) for _, pc, insn in image()]  # NIC: (address, pc, instruction)
    listing = getattr(machine, "native_listing", None)
    out: list[tuple[int | None, NativeInsn]] = []
    for pc, insn in enumerate(prog.insns):
        if insn is None:
            continue
        code = listing(pc, syntax) if callable(listing) else machine.native(pc)
        out.extend((pc, n) for n in code)
    return out


# -- prog ---------------------------------------------------------------------------------------
@command("prog", aliases=("program",), category="files", subcommands=PROG_VERBS + EXTRA_VERBS)
def cmd_prog(session: Session, args: str) -> CommandResult:
    """prog {list|show|select|dump|tracelog} ...

    The object's programs, with bpftool's words (keywords may be shortened as in bpftool:
    "prog d x" is "prog dump xlated"). PROG is a name or section, "name NAME", "id N" (the
    number prog list shows) or "tag HEX"; without one, the selected program.
      prog list|show [PROG]            type, name, tag, size, maps; * marks the selected one
      prog select PROG                 run and debug PROG from now on (fresh maps, no breakpoints)
      prog dump xlated [PROG] [opcodes] [linum] [file FILE]
                                       the instructions as bpftool prints them, with source
                                       lines; opcodes adds the raw bytes, linum file:line:col
      prog dump jited [PROG] [att] [opcodes] [backend NAME]
                                       the native image of a translating backend (host-jit),
                                       each range headed by its eBPF instruction and source line
      prog dump jited [PROG] kernel    the kernel's JIT image beside ours, differences explained
      prog tracelog                    bpf_printk output of the current run (as "tracelog")
    -j/--json (-p: indented) anywhere gives bpftool's JSON.
    """
    words, style = take_json_flags(split_args(args))
    if not words:
        return prog_list(session, [], style)
    verb = first_match(words[0], PROG_VERBS, EXTRA_VERBS, "prog subcommand")
    rest = words[1:]
    if verb in ("list", "show"):
        return prog_list(session, rest, style)
    if verb == "select":
        return prog_select(session, rest, style)
    if verb == "tracelog":
        return cmd_tracelog(session, " ".join(rest + (["-j"] if style else [])))
    if not rest:
        raise CommandError("prog dump needs xlated or jited", "prog dump {xlated|jited} [PROG] ...")
    what = first_match(rest[0], ("xlated", "jited"), (), "prog dump kind")
    if what == "xlated":
        return dump_xlated(session, rest[1:], style)
    return dump_jited(session, rest[1:], style)


def prog_select(session: Session, words: list[str], style: str | None) -> CommandResult:
    usage = "prog select PROG"
    if not words:
        raise CommandError("prog select needs a program (prog list shows them)", usage)
    prog, rest = resolve_prog(session, words, usage)
    if rest:
        raise CommandError(f"unexpected {' '.join(rest)!r}", usage)
    selected = session.select_program(prog.name)
    insns = sum(1 for i in selected.insns if i is not None)
    kind = KERNEL_TYPE.get(selected.prog_type, selected.prog_type)
    line = (
        f"program {selected.name} selected ({kind}, {insns} insns); "
        "its maps, breakpoints and history start afresh"
    )
    return finish("prog", {"selected": selected.name, "type": kind, "insns": insns}, [line], style)


# -- verify -----------------------------------------------------------------------------------
def static_diagnostics(session: Session, prog: Program) -> list[Diagnostic]:
    """Encoding checks (emulator.isa.validate) and what the reference backend reports when
    it loads the program (unknown helpers, bad map references, map set-up), without
    duplicates, in instruction order."""
    diags = list(validate(prog.insns, prog.encode()))
    if session.env is not None:
        report = backends.create("interp").load(prog, session.env)
        diags += report.diagnostics
    seen: set[tuple[int, str, str]] = set()
    out: list[Diagnostic] = []
    for diag in sorted(diags, key=lambda d: d.pc):
        ident = (diag.pc, diag.code, diag.message)
        if ident not in seen:
            seen.add(ident)
            out.append(diag)
    return out


def kernel_available() -> str | None:
    """None when bpf() can load programs here, else why not (a seam for tests)."""
    from emulator.backends.kernel.syscall import available

    return available()


def kernel_verify(session: Session, prog: Program) -> dict[str, Any]:
    """The real verifier's verdict through the kernel backend: status accepted, rejected or
    skipped, the reason, the log, its ``processed N insns ...`` summary (``stats``, for an
    accepted program too) and the pc the log stopped at."""
    if prog.prog_type not in ("xdp", "tc", "socket"):
        return {"status": "skipped", "reason": f"{prog.prog_type} programs have no kernel program type"}
    why = kernel_available()
    if why is not None:
        return {"status": "skipped", "reason": why}
    from emulator.backends.kernel.backend import KernelBackend

    kernel = KernelBackend()
    assert session.env is not None
    try:
        report = kernel.load(prog, session.env)
        log = kernel.verifier_log
    finally:
        kernel.close()
    result: dict[str, Any] = {
        "status": "accepted" if report.ok else "rejected",
        "kernel": platform.release(),
        "log": log,
    }
    stats = log_stats(log)
    if stats is not None:
        result["stats"] = stats
    if not report.ok:
        result["reason"] = log_reason(log) or "; ".join(d.message for d in report.errors) or "rejected"
        failing = failing_pc(log)
        if failing is not None:
            result["failing_pc"] = failing
    return result


def log_stats(log: str) -> str | None:
    """The verifier's summary, ``processed N insns (limit 1000000) max_states_per_insn ...``:
    how much work the program cost the verifier (and so how close it is to the limit), the
    one line worth showing for an accepted program. None when the log has no such line."""
    for line in reversed(log.splitlines()):
        if line.startswith("processed ") and " insns" in line:
            return line.strip()
    return None


def log_reason(log: str) -> str | None:
    """The verifier's own words: the last log line before its ``processed N insns`` summary."""
    lines = [line for line in log.splitlines() if line.strip()]
    while lines and lines[-1].startswith(("processed ", "verification time")):
        lines.pop()
    return lines[-1] if lines else None


def failing_pc(log: str) -> int | None:
    """The instruction the verifier was at when it gave up: the last ``N: (xx) ...`` line."""
    found = None
    for line in log.splitlines():
        match = _LOG_INSN.match(line)
        if match:
            found = int(match.group(1))
    return found


def insn_lines(session: Session, prog: Program, pc: int) -> list[str]:
    """Instruction ``pc`` in our listing, with its source line."""
    out: list[str] = []
    src = session.source_line(pc, prog.name) if prog.name in {p.name for p in session.programs} else None
    if src is not None:
        out.append(f"    ; {src.text.strip()}  ({Path(src.file).name}:{src.line})")
    for line in disassemble(prog.insns, resolver=SessionResolver(session, prog)):
        if line.pc == pc:
            out.append(f"    {pc:4d}: ({line.raw[0]:02x}) {line.text}")
            break
    else:
        out.append(f"    {pc:4d}: (not an instruction start of {prog.name})")
    return out


@command("verify", category="files")
def cmd_verify(session: Session, args: str) -> CommandResult:
    """verify [PROG] [-j]

    Check a program before running it: the static checks (instruction encodings, helpers,
    map references) and, where bpf() is permitted, the real kernel verifier, which loads the
    program with its maps exactly as the kernel backend does. An acceptance shows the
    verifier's summary (processed N insns of the 1000000 limit, states explored); a
    rejection shows the verifier's reason, the end of its log and the instruction it
    stopped at, with its source line. Fails (for --batch) when either check rejects the
    program.
    """
    words, style = take_json_flags(split_args(args))
    prog, rest = resolve_prog(session, words, "verify [PROG]")
    if rest:
        raise CommandError(f"unexpected {' '.join(rest)!r}", "verify [PROG]")
    diags = static_diagnostics(session, prog)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    warnings = [d for d in diags if d.severity is not Severity.ERROR]
    insns = sum(1 for i in prog.insns if i is not None)
    lines = [f"verify {prog.name} ({KERNEL_TYPE.get(prog.prog_type, prog.prog_type)}, {insns} insns)"]
    verdict = "rejected" if errors else "ok"
    lines.append(f"static checks: {verdict} ({len(errors)} errors, {len(warnings)} warnings)")
    lines += [f"  {d}" for d in diags]
    kernel = kernel_verify(session, prog)
    status = kernel["status"]
    if status == "skipped":
        lines.append(f"kernel verifier: skipped ({kernel['reason']})")
    elif status == "accepted":
        stats = kernel.get("stats")
        lines.append(
            f"kernel verifier (Linux {kernel['kernel']}): accepted" + (f"; {stats}" if stats else "")
        )
        lines += [f"  {line}" for line in _tail(kernel["log"]) if line != stats]
    else:
        lines.append(f"kernel verifier (Linux {kernel['kernel']}): rejected: {kernel['reason']}")
        if "failing_pc" in kernel:
            lines.append(f"  stopped at instruction {kernel['failing_pc']}:")
            lines += insn_lines(session, prog, kernel["failing_pc"])
        tail = _tail(kernel["log"])
        if tail:
            lines.append(f"  log (last {len(tail)} lines):")
            lines += [f"    {line}" for line in tail]
    ok = not errors and status != "rejected"
    data = {
        "program": prog.name,
        "ok": ok,
        "static": {
            "ok": not errors,
            "diagnostics": [
                {"pc": d.pc, "code": d.code, "severity": d.severity.value, "message": d.message}
                for d in diags
            ],
        },
        "kernel": kernel,
    }
    result = finish("verify", data, lines, style)
    if not ok:
        result.ok = False
        why = (
            f"by the kernel verifier: {kernel['reason']}" if status == "rejected" else "by the static checks"
        )
        result.error = f"{prog.name} is rejected {why}"
    return result


def _tail(log: str) -> list[str]:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-LOG_TAIL:]
