"""Values, memory and auto-displays as the console shows them (gdb's ``print``, ``x`` and
``display`` output, with eBPF's address vocabulary).

Addresses are shown the way the verifier names them (``fp-16``, ``pkt+12``,
``map_value(counters)+4``) rather than as raw 64-bit numbers, because a BPF program's
memory is a handful of regions and the region is what the user reasons about. The
``x`` and ``display`` commands share :func:`examine`, so an examine display looks exactly
like the ``x`` it repeats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfdbg import expr
from bpfdbg.commands.registry import CommandError
from bpfdbg.render.code import insn_text
from emulator.elf.btf import Btf
from emulator.memory import MemoryFaultError

if TYPE_CHECKING:
    from bpfdbg.session import Display, Session

MASK64 = (1 << 64) - 1
EXAMINE_LETTERS = "xduotacsiz"
PRINT_LETTERS = "xdutocazs"
SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
_PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}  # items per row, as gdb prints them
MAX_STRING = 4096


@dataclass(frozen=True)
class ExamineFormat:
    """``x/NFU``: ``count`` units of ``size`` bytes shown as ``letter``."""

    count: int = 1
    letter: str = "x"
    size: str = "w"

    def spec(self) -> str:
        """The canonical ``/NFU`` text (``4xb``, ``i``, ``3s``) for headers and Display.fmt."""
        count = str(self.count) if self.count != 1 else ""
        size = "" if self.letter in "is" else self.size
        return f"{count}{self.letter}{size}"


_FMT = re.compile(r"^(?P<count>-?\d*)(?P<letters>[a-zA-Z]*)$")


def parse_examine(text: str, last: ExamineFormat) -> ExamineFormat:
    """``4xb`` -> ExamineFormat(4, "x", "b"); letters missing from ``text`` come from
    ``last`` (gdb remembers the last format and size). ``a`` implies giant words and ``c``
    bytes unless a size is given."""
    m = _FMT.match(text.strip())
    if m is None or m.group("count") == "-":
        raise CommandError(f"invalid format '/{text}': write /NFU, like /4xb, /2g, /5i, /s")
    count = int(m.group("count")) if m.group("count") else 1
    if count < 1:
        raise CommandError(f"the count in '/{text}' must be at least 1")
    letter, size = None, None
    for ch in m.group("letters"):
        if ch in SIZES:
            if size is not None:
                raise CommandError(f"'/{text}' gives the unit size twice")
            size = ch
        elif ch in EXAMINE_LETTERS:
            if letter is not None:
                raise CommandError(f"'/{text}' gives the format letter twice")
            letter = ch
        else:
            raise CommandError(
                f"undefined format letter '{ch}' in '/{text}': formats are x d u o t a c s i z, sizes b h w g"
            )
    letter = letter or last.letter
    if size is None:
        size = {"a": "g", "c": "b"}.get(letter, last.size)
    return ExamineFormat(count, letter, size)


def print_format(text: str) -> str | None:
    """The letter of ``print/FMT`` (None for no format); one clear line when it is not one."""
    fmt = text.strip()
    if not fmt:
        return None
    if len(fmt) != 1 or fmt not in PRINT_LETTERS:
        raise CommandError(f"undefined output format '{fmt}': use one of x d u t o c a z s")
    return fmt


# -- addresses -------------------------------------------------------------------------------
def address_label(session: Session, addr: int) -> str:
    """``fp-16``, ``pkt+12``, ``map_value(fw_counters)+8``; hex when in no region."""
    kind = session.pointer_kind(addr)
    return kind if kind is not None else f"{addr & MASK64:#x}"


def cannot_access(err: MemoryFaultError) -> str:
    """The memory layer's "read of 4 bytes at pkt+62, packet is 60 bytes" in gdb's words:
    "Cannot access memory at pkt+62: packet is 60 bytes"."""
    m = re.match(r"^(?:read|write) of \d+ bytes? at (\S+?)[,:] (.*)$", err.message)
    if m is None:
        return f"Cannot access memory: {err.message}"
    return f"Cannot access memory at {m.group(1)}: {m.group(2)}"


def _read(session: Session, addr: int, size: int) -> bytes:
    return bytes(session.require_started().read_memory(addr & MASK64, size))


# -- x -----------------------------------------------------------------------------------------
@dataclass
class Examined:
    """What ``x`` produced: the rows, where the next ``x`` without an address continues,
    and the error that cut it short (rows already read are kept, as gdb does)."""

    lines: list[str]
    next_addr: int
    error: str | None = None


def examine(session: Session, fmt: ExamineFormat, addr: int) -> Examined:
    """Rows of ``x/NFU`` at ``addr``: labelled by region, items separated by two spaces;
    ``i`` lists instructions from pc ``addr`` of the current program."""
    if fmt.letter == "i":
        return _examine_insns(session, fmt.count, addr)
    if fmt.letter == "s":
        return _examine_strings(session, fmt.count, addr)
    size = SIZES[fmt.size]
    per_line = _PER_LINE[size]
    rows: list[tuple[str, list[str]]] = []
    error = None
    pos = addr
    for i in range(fmt.count):
        try:
            data = _read(session, pos, size)
        except MemoryFaultError as err:
            error = cannot_access(err)
            break
        if i % per_line == 0:
            rows.append((address_label(session, pos), []))
        rows[-1][1].append(_unit(session, fmt.letter, data))
        pos += size
    width = max((len(label) for label, _ in rows), default=0) + 1
    lines = [f"{label + ':':<{width}}  {'  '.join(items)}" for label, items in rows]
    return Examined(lines, pos, error)


def _unit(session: Session, letter: str, data: bytes) -> str:
    size = len(data)
    value = int.from_bytes(data, "little")
    if letter in "xz":
        return f"0x{value:0{2 * size}x}"
    if letter == "d":
        return str(value - (1 << 8 * size) if value >> (8 * size - 1) else value)
    if letter == "u":
        return str(value)
    if letter == "o":
        return f"0{value:o}" if value else "0"
    if letter == "t":
        return f"{value:0{8 * size}b}"
    if letter == "a":
        kind = session.pointer_kind(value)
        return f"{value:#x}" + (f" <{kind}>" if kind else "")
    if letter == "c":
        signed = value - 256 if value >= 128 else value
        return f"{signed} {char_literal(value & 0xFF)}"
    raise CommandError(f"format letter '{letter}' is not for memory units")  # pragma: no cover


def char_literal(byte: int) -> str:
    """``'a'``, ``'\\n'``, ``'\\006'`` (gdb's char notation)."""
    escapes = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
    if byte in escapes:
        return f"'{escapes[byte]}'"
    if byte in (0x27, 0x5C):
        return f"'\\{chr(byte)}'"
    if 0x20 <= byte < 0x7F:
        return f"'{chr(byte)}'"
    return f"'\\{byte:03o}'"


def c_string(data: bytes) -> str:
    """``"abc\\n"``: bytes as a C string literal (x/s)."""
    out = []
    for byte in data:
        if byte == 0x22:
            out.append('\\"')
        elif byte == 0x27:
            out.append("'")
        else:
            out.append(char_literal(byte)[1:-1])
    return '"' + "".join(out) + '"'


def _examine_strings(session: Session, count: int, addr: int) -> Examined:
    rows: list[tuple[str, str]] = []
    pos = addr
    error = None
    for _ in range(count):
        start = pos
        data = bytearray()
        while len(data) < MAX_STRING:
            try:
                byte = _read(session, pos, 1)[0]
            except MemoryFaultError as err:
                if not data:
                    error = cannot_access(err)
                break
            pos += 1
            if byte == 0:
                break
            data.append(byte)
        if error is not None:
            break
        rows.append((address_label(session, start), c_string(bytes(data))))
        if pos == start:
            break
    width = max((len(label) for label, _ in rows), default=0) + 1
    return Examined([f"{label + ':':<{width}}  {text}" for label, text in rows], pos, error)


def _examine_insns(session: Session, count: int, pc: int) -> Examined:
    program = session.current_program
    prog = session.program_named(program)
    current = session.pc if session.started else None
    if not 0 <= pc < prog.nslots:
        return Examined([], pc, f"no instruction {pc} in {program} (it has slots 0-{prog.nslots - 1})")
    if prog.insns[pc] is None:
        pc -= 1  # the second half of a lddw: show the lddw
    pcs: list[int] = []
    while len(pcs) < count and pc < prog.nslots:
        if prog.insns[pc] is not None:
            pcs.append(pc)
        pc += 1
    width = len(str(pcs[-1])) if pcs else 1
    lines = [f"{'=> ' if p == current else '   '}{p:>{width}}: {insn_text(session, p, program)}" for p in pcs]
    return Examined(lines, pc)


# -- print ------------------------------------------------------------------------------------
def session_btf(session: Session) -> Btf | None:
    """The loaded object's BTF (None without one, or for raw instructions)."""
    btf = session.btf
    return btf if isinstance(btf, Btf) else None


def value_text(session: Session, value: expr.Value, fmt: str | None) -> str:
    """``print``'s rendering of a value; pointers (and registers holding one) get the
    region they point into, ``(u8 *) 0x200000100 <pkt>``, as gdb adds ``<symbol>``."""
    text = expr.format_value(value, fmt, session_btf(session))
    if fmt in (None, "x", "a", "z") and (
        value.kind == "ptr" or value.kind == "int" and isinstance(value.lvalue, expr.RegLoc)
    ):
        kind = session.pointer_kind(value.number & MASK64)
        if kind is not None:
            text += f" <{kind}>"
    return text


# -- display ------------------------------------------------------------------------------------
def display_header(display: Display) -> str:
    """``1: /x $r0`` or ``2: x/i $pc`` (what ``info display`` and each stop show)."""
    fmt = display.fmt or ""
    if fmt.startswith("x/"):
        return f"{display.number}: {fmt} {display.expr}"
    return f"{display.number}: {'/' + fmt + ' ' if fmt else ''}{display.expr}"


def display_one(session: Session, display: Display) -> list[str]:
    """One display's lines at the current stop; an expression that cannot be evaluated
    here shows its error in place (it stays enabled, as in gdb)."""
    head = display_header(display)
    fmt = display.fmt or ""
    try:
        if fmt.startswith("x/"):
            spec = parse_examine(fmt[2:], ExamineFormat())
            addr = expr.as_int(session.evaluate(display.expr))
            got = examine(session, spec, addr)
            lines = [head, *got.lines]
            if got.error:
                lines.append(f"<error: {got.error}>")
            return lines
        value = session.evaluate(display.expr)
        return [f"{head} = {value_text(session, value, fmt or None)}"]
    except (expr.EvalError, CommandError) as err:
        return [f"{head} = <error: {err}>"]


def display_lines(session: Session) -> list[str]:
    """Every enabled auto-display, in number order (shown after each stop)."""
    out: list[str] = []
    for display in sorted(session.displays, key=lambda d: d.number):
        if display.enabled:
            out.extend(display_one(session, display))
    return out
