"""Looking at data: info registers, x, print, output, display, undisplay, info display,
set var, ptype, whatis and packet.

These are gdb's verbs with the verifier's nouns: registers say what they point at
(``ctx``, ``pkt+14``, ``fp-16``, ``map_value(counters)+4``), ``x`` labels rows by region
instead of raw addresses, and ``packet`` shows the bytes the last instruction touched, so a
user never has to do pointer arithmetic in their head. Expressions go through
bpfdbg.expr (via ``Session.evaluate``/``assign``); its errors become one-line
CommandErrors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpfdbg import expr
from bpfdbg.commands.common import parse_int
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of
from bpfdbg.render import packet as pkt
from bpfdbg.render.code import insn_text, location_text
from bpfdbg.render.displays import (
    ExamineFormat,
    display_header,
    display_lines,
    display_one,
    examine,
    parse_examine,
    print_format,
    session_btf,
    value_text,
)
from bpfdbg.render.stops import REG_NAMES, register_line
from emulator.elf.btf import Btf, BtfKind, BtfType

if TYPE_CHECKING:
    from bpfdbg.session import Session
    from emulator.state import MachineState, RegionSnapshot


@dataclass
class DataState:
    """What gdb remembers between data commands: the last ``x`` format and where the next
    ``x`` without an address continues."""

    examine: ExamineFormat = field(default_factory=lambda: ExamineFormat())
    next_addr: int | None = None
    next_is_insn: bool = False


def data_state(session: Session) -> DataState:
    """The session's DataState (kept on the session so two sessions never share it)."""
    state = session.command_state.get("data")
    if not isinstance(state, DataState):
        state = session.command_state["data"] = DataState()
    return state


def _split_format(args: str) -> tuple[str | None, str]:
    """``/4xb $r2`` -> (``4xb``, ``$r2``); ``$r2`` -> (None, ``$r2``)."""
    text = args.strip()
    if not text.startswith("/"):
        return None, text
    fmt, _, rest = text[1:].partition(" ")
    return fmt, rest.strip()


def _evaluate(session: Session, text: str) -> expr.Value:
    try:
        return session.evaluate(text)
    except expr.EvalError as err:
        raise CommandError(str(err)) from None


# -- registers ---------------------------------------------------------------------------------
_REG = re.compile(r"^\$?(?:r(?P<n>\d+)|(?P<name>pc|fp))$")


def _register_numbers(args: str) -> list[int | str]:
    """``r1 $r2 pc fp`` -> [1, 2, "pc", 10]; one clear line for anything else."""
    out: list[int | str] = []
    for word in args.replace(",", " ").split():
        m = _REG.match(word)
        if m is None or m.group("n") is not None and not 0 <= int(m.group("n")) <= 10:
            raise CommandError(f"invalid register '{word}': the registers are r0-r10 (fp is r10) and pc")
        if m.group("name") == "pc":
            out.append("pc")
        else:
            out.append(10 if m.group("name") == "fp" else int(m.group("n")))
    return out


def _registers(session: Session, args: str, name: str, everything: bool) -> CommandResult:
    wanted = _register_numbers(args) or [*range(11), "pc"]
    regs = session.regs
    step = session.last_step
    was = {w.reg: w.old for w in step.regs} if step is not None else {}
    lines: list[str] = []
    data: list[dict[str, object]] = []
    for reg in wanted:
        if reg == "pc":
            pc = session.pc
            lines.append(f"{'pc':<4} {location_text(session, pc, session.current_program)}")
            data.append({"reg": "pc", "value": pc, "program": session.current_program})
            continue
        assert isinstance(reg, int)
        value = regs[reg]
        old = was.get(reg)
        if old == value:
            old = None
        lines.append(register_line(session, reg, value, old))
        data.append({"reg": REG_NAMES[reg], "value": value, "kind": session.pointer_kind(value), "was": old})
    if everything:
        lines.append(f"{'insns':<4} {session.insns} instructions executed")
        lines.append(f"{'depth':<4} {session.depth} (bpf-to-bpf call depth)")
        lines.append(f"{'prog':<4} {session.current_program}")
        data.append({"insns": session.insns, "depth": session.depth, "program": session.current_program})
    return CommandResult(name, lines=lines, data=data)


@sub_of("info", "registers", aliases=("r", "reg", "regs"))
def info_registers(session: Session, args: str) -> CommandResult:
    """info registers [rN ...]

    r0-r10 and pc: hex, decimal, and what the value points at (ctx, pkt+14, pkt_end, fp-8,
    map_value(counters)+4, map_ptr(counters)) or "scalar". A register the last instruction
    changed shows its old value "(was 0x...)".
    """
    return _registers(session, args, "info registers", everything=False)


@sub_of("info", "all-registers")
def info_all_registers(session: Session, args: str) -> CommandResult:
    """info all-registers [rN ...]

    Like "info registers", plus the instructions executed, the call depth and the program
    running (it changes with tail calls).
    """
    return _registers(session, args, "info all-registers", everything=True)


@command("regs", category="data", completes="register")
def cmd_regs(session: Session, args: str) -> CommandResult:
    """regs [rN ...]

    Short for "info registers".
    """
    return _registers(session, args, "regs", everything=False)


# -- x -------------------------------------------------------------------------------------------
@command("x", category="data", completes="expr")
def cmd_x(session: Session, args: str) -> CommandResult:
    """x[/NFU] [ADDRESS]

    Examine memory: N units (default 1) of size U (b h w g: 1, 2, 4, 8 bytes) in format F
    (x hex, d signed, u unsigned, o octal, t binary, a address, c char, z zero-padded hex,
    s string, i instructions). F and U default to the last ones used. Rows are labelled by
    region: "x/4xb $r2" shows "fp-16:  0x06  0x00  0x00  0x50". "x/5i $pc" lists
    instructions from the current one (an ADDRESS for i is an instruction number). Without
    ADDRESS, x continues after the last unit examined.
    """
    state = data_state(session)
    fmt_text, rest = _split_format(args)
    fmt = parse_examine(fmt_text, state.examine) if fmt_text is not None else state.examine
    if rest:
        addr = _examine_address(session, fmt, rest)
    elif state.next_addr is not None and state.next_is_insn == (fmt.letter == "i"):
        addr = state.next_addr
    else:
        raise CommandError("x needs an address the first time: x/4xb $r10-8, x/16xb $pkt, x/5i $pc")
    got = examine(session, fmt, addr)
    state.examine = fmt
    state.next_addr, state.next_is_insn = got.next_addr, fmt.letter == "i"
    if got.error and not got.lines:
        raise CommandError(got.error)
    return CommandResult(
        "x", ok=got.error is None, lines=got.lines, error=got.error, data={"next": got.next_addr}
    )


def _examine_address(session: Session, fmt: ExamineFormat, text: str) -> int:
    """The address of ``x``: an expression; for ``x/i`` also a location (``parse_ipv4``)."""
    try:
        return expr.as_int(session.evaluate(text))
    except expr.EvalError as err:
        if fmt.letter == "i":
            try:
                loc = session.location(text)
            except CommandError:
                raise CommandError(str(err)) from None
            return loc.sites[0].pc
        raise CommandError(str(err)) from None


# -- print ---------------------------------------------------------------------------------------
@command("print", aliases=("p", "inspect"), category="data", completes="expr")
def cmd_print(session: Session, args: str) -> CommandResult:
    """print[/FMT] [EXPR]

    Evaluate EXPR and show it as "$N = VALUE", keeping it in the value history ($N, $, $$).
    FMT is one of x d u t o c a z s. EXPR may assign: "print $r1 = 5". Structs show their
    members: "p/x *(struct rule_key *)$r2" gives "{proto = 0x6, pad = 0x0, dport = 0x5000}".
    Without EXPR, shows the last value again.
    """
    fmt_text, text = _split_format(args)
    fmt = print_format(fmt_text) if fmt_text is not None else None
    if not text:
        if not session.values:
            raise CommandError("the value history is empty: print EXPR first")
        text = "$"
    value = _evaluate(session, text)
    try:
        shown = value_text(session, value, fmt)
    except expr.EvalError as err:
        raise CommandError(str(err)) from None
    session.values.append(value)
    number = len(session.values)
    return CommandResult("print", lines=[f"${number} = {shown}"], data={"number": number, "value": shown})


@command("output", category="data", completes="expr")
def cmd_output(session: Session, args: str) -> CommandResult:
    """output[/FMT] EXPR

    Show EXPR's value alone, without "$N = " and without adding it to the value history
    (for user-defined commands and scripts).
    """
    fmt_text, text = _split_format(args)
    fmt = print_format(fmt_text) if fmt_text is not None else None
    if not text:
        raise CommandError("output needs an expression", "output[/FMT] EXPR")
    value = _evaluate(session, text)
    try:
        shown = value_text(session, value, fmt)
    except expr.EvalError as err:
        raise CommandError(str(err)) from None
    return CommandResult("output", lines=[shown], data={"value": shown})


# -- set var -------------------------------------------------------------------------------------
@sub_of("set", "var", aliases=("variable",))
def set_var(session: Session, args: str) -> CommandResult:
    """set var LVALUE = EXPR

    Change a register ($r1), memory through a cast (*(u32 *)($fp - 8)), a packet slice
    ($pkt[12:14] = x"86dd"), a map value (fw_counters[0].bytes = 5) or a convenience
    variable ($n = 3). Compound assignments (+=, |=, ...) work too. The edit becomes part
    of the run: reverse stepping over this point keeps it.
    """
    if not args.strip():
        raise CommandError("set var needs an assignment", "set var LVALUE = EXPR")
    try:
        value = session.assign(args)
        shown = expr.format_value(value, None, session_btf(session))
    except expr.EvalError as err:
        raise CommandError(str(err)) from None
    return CommandResult("set var", data={"value": shown})


# -- display ---------------------------------------------------------------------------------------
def _display_format(text: str) -> str | None:
    """Display.fmt for ``display/FMT``: a print letter (``x``) or ``x/NFU`` for a format
    that only ``x`` has (a count, a size, ``i`` or ``s``)."""
    if len(text) == 1 and text in "xdutocaz":
        return text
    spec = parse_examine(text, ExamineFormat())
    return f"x/{spec.spec()}"


@command("display", category="data", completes="expr")
def cmd_display(session: Session, args: str) -> CommandResult:
    """display[/FMT] [EXPR]

    Show EXPR after every stop: "display $r0", "display/x $r1", "display/i $pc" (the
    instruction about to run), "display/4xb $r10-8". Without EXPR, show every display now.
    """
    from bpfdbg.session import Display

    fmt_text, text = _split_format(args)
    if not text:
        if fmt_text is not None:
            raise CommandError("display needs an expression after the format", "display[/FMT] EXPR")
        if not session.displays:
            return CommandResult("display", lines=[])
        return CommandResult("display", lines=display_lines(session) if session.live else [])
    fmt = _display_format(fmt_text) if fmt_text is not None else None
    try:
        expr.parse(text)
    except expr.EvalError as err:
        raise CommandError(str(err)) from None
    number = max((d.number for d in session.displays), default=0) + 1
    display = Display(number, text, fmt)
    session.displays.append(display)
    lines = display_one(session, display) if session.live else []
    return CommandResult("display", lines=lines, data={"number": number})


@command("undisplay", category="data")
def cmd_undisplay(session: Session, args: str) -> CommandResult:
    """undisplay [N...]

    Stop showing displays N... (ranges like 2-4 work); without N, all of them.
    """
    if not args.strip():
        count = len(session.displays)
        session.displays.clear()
        return CommandResult("undisplay", data={"deleted": count})
    numbers: list[int] = []
    for word in args.replace(",", " ").split():
        lo, dash, hi = word.partition("-")
        if dash and lo:
            start = parse_int(lo, "a display number", "undisplay [N...]")
            end = parse_int(hi, "a display number", "undisplay [N...]")
            numbers.extend(range(start, end + 1))
        else:
            numbers.append(parse_int(word, "a display number", "undisplay [N...]"))
    known = {d.number for d in session.displays}
    missing = [n for n in numbers if n not in known]
    if missing:
        raise CommandError(f'no display number {missing[0]}; "info display" lists them')
    session.displays[:] = [d for d in session.displays if d.number not in set(numbers)]
    return CommandResult("undisplay", data={"deleted": len(set(numbers))})


@sub_of("info", "display")
def info_display(session: Session, args: str) -> CommandResult:
    """info display

    The auto-display expressions, with their numbers and whether they are enabled.
    """
    if not session.displays:
        return CommandResult("info display", lines=["There are no auto-display expressions now."])
    lines = ["Auto-display expressions now in effect:", "Num Enb Expression"]
    for d in sorted(session.displays, key=lambda d: d.number):
        head = display_header(d).split(": ", 1)[1]
        lines.append(f"{str(d.number) + ':':<4}{'y' if d.enabled else 'n':>2}  {head}")
    data = [
        {"number": d.number, "expr": d.expr, "fmt": d.fmt, "enabled": d.enabled} for d in session.displays
    ]
    return CommandResult("info display", lines=lines, data=data)


# -- types ---------------------------------------------------------------------------------------
_C_NAMES = {
    (1, False): "unsigned char", (1, True): "signed char", (2, False): "unsigned short",
    (2, True): "short", (4, False): "unsigned int", (4, True): "int",
    (8, False): "unsigned long", (8, True): "long",
}  # fmt: skip
_TYPE_TEXT = re.compile(r"^(?:(?P<tag>struct|union|enum)\s+)?(?P<name>[A-Za-z_][\w ]*?)\s*(?P<stars>\**)$")


def _member_decl(btf: Btf, type_id: int, name: str, indent: str) -> str:
    """``__u8 kind``, ``char comm[16]``, ``struct flow *fl``, or an anonymous struct or
    union spelled out in place."""
    t = btf.skip_modifiers(type_id)
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION) and not t.name:
        body = _struct_body(btf, t, indent)
        return f"{body} {name}".rstrip()
    text = btf.type_name(type_id)
    if "[" in text and "(*)" not in text:
        base, _, dims = text.partition("[")
        return f"{base} {name}[{dims}"
    if "(*)" in text:
        return text.replace("(*)", f"(*{name})", 1)
    sep = "" if text.endswith("*") else " "
    return f"{text}{sep}{name}" if name else text


def _struct_body(btf: Btf, t: BtfType, indent: str) -> str:
    word = "union" if t.kind is BtfKind.UNION else "struct"
    head = f"{word} {t.name} {{" if t.name else f"{word} {{"
    lines = [head]
    for m in t.members:
        bits = f" : {m.bitfield_size}" if m.bitfield_size else ""
        lines.append(f"{indent}    {_member_decl(btf, m.type, m.name, indent + '    ')}{bits};")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def type_definition(btf: Btf, type_id: int, *, expand: bool = True) -> str:
    """C text of a BTF type as ptype shows it: structs, unions and enums with their bodies
    (typedefs resolved when ``expand``), anything else by name."""
    t = btf.resolve(type_id) if expand else btf.skip_modifiers(type_id)
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        return _struct_body(btf, t, "")
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        items = ", ".join(f"{e.name} = {e.value}" for e in t.enumerators)
        return f"enum {t.name + ' ' if t.name else ''}{{{items}}}"
    if t.kind is BtfKind.PTR and expand:
        inner = btf.skip_modifiers(t.type)
        if inner.kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.TYPEDEF):
            return type_definition(btf, inner.id) + " *"
    return btf.type_name(t.id)


def _named_type(session: Session, text: str) -> tuple[str, str] | None:
    """(ptype text, whatis text) when ``text`` names a type (BTF or builtin), else None."""
    m = _TYPE_TEXT.match(text.strip())
    if m is None:
        return None
    tag, name, stars = m.group("tag"), " ".join(m.group("name").split()), m.group("stars")
    suffix = f" {stars}" if stars else ""
    btf = session_btf(session)
    found: BtfType | None = None
    if btf is not None:
        kinds = {
            "struct": (BtfKind.STRUCT,),
            "union": (BtfKind.UNION,),
            "enum": (BtfKind.ENUM, BtfKind.ENUM64),
            None: (BtfKind.TYPEDEF, BtfKind.INT, BtfKind.FLOAT),
        }[tag]
        for kind in kinds:
            found = found or btf.find(name, kind)
    if found is not None and btf is not None:
        whatis = (f"{tag} {name}" if tag else name) + suffix
        return type_definition(btf, found.id) + suffix, whatis
    if tag is None and name in expr.BUILTIN_TYPES:
        size, signed = expr.BUILTIN_TYPES[name]
        c_name = (
            "char" if name == "char" else "_Bool" if name in ("bool", "_Bool") else _C_NAMES[(size, signed)]
        )
        return c_name + suffix, name + suffix
    if tag is not None:
        where = "this object's BTF" if btf is not None else "this object (it has no BTF)"
        raise CommandError(f"no {tag} {name} in {where}")
    return None


def _map_type(session: Session, name: str) -> list[str] | None:
    try:
        m = session.maps[name]
    except (KeyError, CommandError):
        return None
    spec = m.spec
    btf = session_btf(session)
    kind = getattr(getattr(spec, "type", None), "name", "map").lower()

    def side(type_id: int, size: int) -> str:
        if btf is None or not type_id:
            return f"u8[{size}]"
        if btf.resolve(type_id).kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64):
            return type_definition(btf, type_id)
        return btf.type_name(type_id)

    return [
        f"type = {kind} map {name}, {spec.max_entries} entries",
        f"key:   {side(spec.key_btf, spec.key_size)}",
        f"value: {side(spec.value_btf, spec.value_size)}",
    ]


def _value_type(session: Session, value: expr.Value, expand: bool) -> str:
    t = value.type
    btf = t.btf or session_btf(session)
    if expand and btf is not None:
        if t.btf_id and t.kind in ("struct", "enum"):
            return type_definition(btf, t.btf_id)
        target = t.target
        if t.kind == "ptr" and target is not None and target.btf_id and target.kind in ("struct", "enum"):
            return type_definition(target.btf or btf, target.btf_id) + " *"
    return t.name


def _ptype(session: Session, args: str, name: str, expand: bool) -> CommandResult:
    text = args.strip()
    if not text:
        raise CommandError(f"{name} needs a type or an expression", f"{name} TYPE|EXPR")
    named = _named_type(session, text)
    if named is not None:
        shown = named[0] if expand else named[1]
        return CommandResult(name, lines=f"type = {shown}".splitlines(), data={"type": shown})
    if re.fullmatch(r"[A-Za-z_]\w*", text) and session.loaded:
        lines = _map_type(session, text)
        if lines is not None:
            shown_lines = "\n".join(lines if expand else lines[:1]).splitlines()
            return CommandResult(name, lines=shown_lines)
    shown = _value_type(session, _evaluate(session, text), expand)
    return CommandResult(name, lines=f"type = {shown}".splitlines(), data={"type": shown})


@command("ptype", category="data", completes="expr")
def cmd_ptype(session: Session, args: str) -> CommandResult:
    """ptype TYPE|EXPR|MAP

    The definition of a type from the object's BTF ("ptype struct fw_key"), of an
    expression's type ("ptype $ctx", "ptype *(struct fw_key *)$r2"), or a map's key and
    value types ("ptype fw_counters").
    """
    return _ptype(session, args, "ptype", expand=True)


@command("whatis", category="data", completes="expr")
def cmd_whatis(session: Session, args: str) -> CommandResult:
    """whatis TYPE|EXPR

    The name of an expression's type (not its definition: that is "ptype").
    """
    return _ptype(session, args, "whatis", expand=False)


# -- packet --------------------------------------------------------------------------------------
def _packet_name(session: Session) -> str:
    return f"packet {session.packet_index + 1}" if session.packet_index is not None else "packet"


def _no_packet(session: Session) -> None:
    if session.program.prog_type == "raw":
        raise CommandError(
            'a raw program has no packet: its input is memory ("x/16xb $ctx" shows it, "set mem HEX" sets it)'
        )


def _input_packet(session: Session) -> bytes:
    return session.run_input().packet or b""


def _packet_region(state: MachineState) -> RegionSnapshot:
    region = state.regions.get("pkt")
    if region is None:
        raise CommandError("this program's machine has no packet region")
    return region


def _packet_input_lines(session: Session) -> list[str]:
    data = _input_packet(session)
    source = "input" if session.input_packet is not None else "input: no capture, a zero packet"
    lines = [f"{_packet_name(session)} ({len(data)} bytes, {source}): {pkt.summary(data)}"]
    lines.extend(pkt.hexdump(data))
    return lines


def _packet_live_lines(session: Session) -> list[str]:
    state = session.state()
    region = _packet_region(state)
    data = bytes(region.data)
    before = pkt.loaded_packet(session)
    accesses = pkt.step_accesses(session)
    marks = pkt.marks_in(accesses, region.base, len(data))
    was = f", was {len(before)}" if len(before) != len(data) else ""
    decoded = pkt.summary(data, l2=pkt.starts_at_l2(session))
    head = f"{_packet_name(session)} at insn {session.pc} ({len(data)} bytes{was}): {decoded}"
    lines = [head, *pkt.hexdump(data, marks)]
    meta = state.regions.get("pkt_meta")
    meta_marks: dict[int, str] = {}
    if meta is not None and meta.data:
        meta_marks = pkt.marks_in(accesses, meta.base, len(meta.data))
        lines.append(f"metadata ({len(meta.data)} bytes, in front of the packet):")
        lines.extend(pkt.hexdump(bytes(meta.data), meta_marks))
    step = session.last_step
    if step is not None:
        who = f"insn {step.pc}: {insn_text(session, step.pc)}"
        note = pkt.legend(who, marks, meta_marks)
        if note is not None:
            lines.append(note)
    return lines


def _packet_diff_lines(session: Session) -> list[str]:
    state = session.state()
    region = _packet_region(state)
    before = pkt.loaded_packet(session)
    l2 = pkt.starts_at_l2(session)
    lines = pkt.diff_lines(pkt.diff(before, bytes(region.data)), l2=l2)
    if not l2:
        lines.append(
            "(a socket filter sees the packet from the IP header; BPF_PROG_TEST_RUN hands the "
            "MAC header back zeroed)"
        )
    meta = state.regions.get("pkt_meta")
    if meta is not None and meta.data:
        total = len(meta.data) + len(region.data)
        lines.append(
            f"metadata ({len(meta.data)} bytes, in front of the packet; data_out holds both, {total} bytes):"
        )
        lines.extend(pkt.hexdump(bytes(meta.data)))
    return lines


@command("packet", category="packets")
def cmd_packet(session: Session, args: str) -> CommandResult:
    """packet [N | diff]

    Without arguments: the packet as the program sees it now, in hex with the bytes the
    last instruction wrote [bracketed] and read <bracketed>, and a header summary; before a
    run, the input packet; after the program exited, the output packet against the input.
    "packet N" selects packet N of the capture (from 1) as the next run's input. "packet
    diff" compares the packet now with the input.
    """
    words = args.split()
    if len(words) > 1:
        raise CommandError(f"packet takes one argument, not {args!r}", "packet [N | diff]")
    if words and words[0] != "diff":
        number = parse_int(words[0], "the packet number", "packet [N | diff]")
        chosen = session.select_packet(number - 1)
        line = f"packet {number} selected ({len(chosen.data)} bytes): {pkt.summary(chosen.data)}"
        return CommandResult("packet", lines=[line], data={"index": number})
    _no_packet(session)
    if words:
        if not session.started:
            raise CommandError(
                'the program is not being run, so there is no output packet yet; "packet" shows the input'
            )
        return CommandResult("packet", lines=_packet_diff_lines(session))
    if not session.started:
        return CommandResult("packet", lines=_packet_input_lines(session))
    if session.status == "exited":
        return CommandResult("packet", lines=_packet_diff_lines(session))
    return CommandResult("packet", lines=_packet_live_lines(session))
