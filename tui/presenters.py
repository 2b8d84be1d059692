"""Pure functions from a SessionView to what the panes draw: Rich Text lines and the
row -> thing maps the panes need to turn a click into a command.

No Textual here and no Session: the presenters are tested on views alone. Every marker
that colour shows is also drawn as a character (``●`` breakpoint, ``=>`` current
instruction, ``*`` changed value), so the screen reads the same under NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rich.text import Text

from bpfdbg.render.packet import READ, WRITE
from bpfdbg.view import (
    BackendView,
    CodeRow,
    CodeView,
    MapView,
    PacketRow,
    PacketView,
    RegisterRow,
    SessionView,
    SourceView,
    StackView,
    StopRow,
)


@dataclass(frozen=True, slots=True)
class Palette:
    """Rich styles by meaning. Themes change the app's colours; these stay semantic."""

    current: str = "bold reverse"
    source: str = "italic green"
    function: str = "bold"
    breakpoint: str = "bold red"
    disabled: str = "dim red"
    conditional: str = "bold yellow"
    changed: str = "bold red"
    kind: str = "cyan"
    pointer: str = "bold cyan"
    dim: str = "dim"
    read: str = "bold reverse blue"
    written: str = "bold reverse red"
    target: str = "magenta"
    next_access: str = "underline bold"
    error: str = "bold red"
    verdict: str = "bold"
    header: str = "bold underline"


PALETTE = Palette()
BP_GLYPH = {"enabled": "●", "disabled": "○", "conditional": "◆", "": " "}
TEXT_WIDTH = 44  # instruction text column in the code pane


@dataclass(frozen=True, slots=True)
class Lines:
    """A pane's lines and, for each, the thing a click or Enter on it means (a pc, a
    packet number, a (map, key) pair, ...; None for headers)."""

    lines: tuple[Text, ...]
    targets: tuple[object | None, ...] = ()
    focus: int | None = None  # the line to keep in view (the current instruction)
    cursor_of: dict[object, int] = field(default_factory=dict)  # target -> its line


def _lines(rows: Iterable[tuple[Text, object | None]], focus: int | None = None) -> Lines:
    texts, targets = [], []
    for text, target in rows:
        texts.append(text)
        targets.append(target)
    cursor_of: dict[object, int] = {}
    for i, t in enumerate(targets):
        if t is not None:
            cursor_of.setdefault(t, i)  # a target's first line (a register's, not its "was" line)
    return Lines(tuple(texts), tuple(targets), focus, cursor_of)


# -- status -----------------------------------------------------------------------------------
def status_line(view: SessionView, busy: str | None = None, p: Palette = PALETTE) -> Text:
    """`` xdp_lb.o:xdp_lb (xdp)  packet 3/120  stopped: breakpoint 1, insn 17``."""
    text = Text(" ")
    text.append(view.title, style="bold")
    if view.packet_label:
        text.append(f"  {view.packet_label}")
    text.append("  ")
    style = p.error if view.state in ("faulted", "budget") else "bold" if view.state == "exited" else ""
    text.append(view.status, style=style)
    if view.state not in ("idle",) and view.insns:
        text.append(f"  [{view.insns} insns]", style=p.dim)
    if busy:
        text.append(f"  {busy}", style="bold yellow")
    return text


# -- code ---------------------------------------------------------------------------------------
def code_lines(code: CodeView, p: Palette = PALETTE) -> Lines:
    """The disassembly: function labels, source lines as ``;`` comments, then for each
    instruction the breakpoint glyph, ``=>`` at the current one (``^`` at the call of a
    caller frame selected with up/frame N, which then gets the focus), pc, text, where a
    jump goes and how often the instruction ran in this run."""
    rows: list[tuple[Text, object | None]] = []
    focus = None
    for row in code.rows:
        current = row.pc == code.current
        frame = row.pc == code.frame and not current
        rendered = _code_row(
            row, current, frame, code.preview if current else "", code.faulted and current, p
        )
        if (current and code.frame is None) or frame:
            focus = len(rows) + len(rendered) - 1  # the selected frame's line is where to look
        rows.extend(rendered)
    if focus is None:  # not running: the cursor starts on the first instruction
        focus = next((i for i, (_, target) in enumerate(rows) if target is not None), None)
    return _lines(rows, focus)


@lru_cache(maxsize=32768)
def _code_row(
    row: CodeRow, current: bool, frame: bool, preview: str, faulted: bool, p: Palette
) -> tuple[tuple[Text, object | None], ...]:
    """One instruction's lines. Cached: between two steps only the rows whose marker,
    count or breakpoint changed are new objects, so the pane re-renders only those."""
    rows: list[tuple[Text, object | None]] = []
    if row.function is not None:
        rows.append((Text(f"<{row.function}>:", style=p.function), None))
    if row.source is not None:
        rows.append((Text(f"    ; {' '.join(row.source.split())}", style=p.source), None))
    line = Text()
    style = {"enabled": p.breakpoint, "disabled": p.disabled, "conditional": p.conditional}.get(row.bp, "")
    line.append(BP_GLYPH[row.bp], style=style)
    if current:
        line.append(" => ", style=p.error if faulted else p.current)
    elif frame:
        line.append(" ^  ", style=p.current)  # the call in the frame selected with up/frame N
    elif row.is_target:
        line.append(" >  ", style=p.target)  # something jumps here
    else:
        line.append("    ")
    body = Text(f"{row.pc:>4}: {row.text}")
    if row.target is not None:
        body.append(f"  -> {row.target}", style=p.target)
    if preview:
        body.append(f"   # {preview.lstrip('# ')}", style=p.dim)
    body.append(" " * max(TEXT_WIDTH - body.cell_len, 1))
    body.append(f"x{row.count}" if row.count else "", style=p.dim)
    if current:
        body.stylize(p.error if faulted else p.current)
    line.append_text(body)
    rows.append((line, row.pc))
    return tuple(rows)


@lru_cache(maxsize=8)
def source_lines(src: SourceView, p: Palette = PALETTE) -> Lines:
    """The ``list``-style view: the whole source file, ``=>`` at the current line and the
    breakpoint glyph on lines with a breakpoint."""
    marked = {line for line, _ in src.breakpoints}
    rows: list[tuple[Text, object | None]] = [(Text(src.file, style=p.header), None)]
    focus = None
    for number, content in enumerate(src.lines, 1):
        current = number == src.current
        line = Text()
        line.append("●" if number in marked else " ", style=p.breakpoint)
        line.append(" => " if current else "    ")
        line.append(f"{number:>4}  {content.expandtabs(8)}", style=p.current if current else "")
        if current:
            focus = len(rows)
        rows.append((line, ("line", number)))
    return _lines(rows, focus)


# -- registers and stack ----------------------------------------------------------------------
def register_lines(
    regs: tuple[RegisterRow, ...], pc: int | None, *, compact: bool = False, p: Palette = PALETTE
) -> Lines:
    """``r2  0xffff888000100000  pkt+0`` per register; a register the last step wrote is
    marked ``*`` and shows ``old -> new`` (bpfvv's read/write colouring)."""
    rows: list[tuple[Text, object | None]] = []
    if not regs:
        return _lines([(Text("not running", style=p.dim), None)])
    for r in regs:
        line = Text()
        changed = r.old is not None and r.old != r.value
        line.append(f"{r.name:<3}", style=p.changed if changed else "bold")
        line.append("*" if changed else " ", style=p.changed)
        line.append(f"0x{r.value:016x}", style=p.changed if changed else "")
        if not compact:
            signed = r.value - (1 << 64) if r.value >> 63 else r.value
            line.append(f" {signed:>20}")
        line.append(f" {r.kind}", style=p.kind if r.kind == "scalar" else p.pointer)
        if changed and r.old is not None:
            line.append(f"  was {r.old:#x}", style=p.dim)  # on the same row: the pane keeps its height
        rows.append((line, r.name))
    if pc is not None:
        rows.append((Text(f"pc   {pc}", style="bold"), "pc"))
    return _lines(rows)


def stack_lines(stack: StackView, p: Palette = PALETTE) -> Lines:
    """The call frames first, innermost first, then the tail calls (``>`` marks the one
    selected with up/down/frame N), then that frame as 8-byte slots ``fp-8  00 00 .. 00``
    (slots the last step wrote marked ``*``)."""
    rows: list[tuple[Text, object | None]] = []
    for i, frame in enumerate(stack.frames):
        mark = "> " if i == stack.selected else "  "
        rows.append((Text(mark + frame, style="bold" if i == stack.selected else ""), ("frame", i)))
    for slot in stack.slots:
        line = Text(f"fp{slot.offset:<5}", style="bold" if not slot.changed else p.changed)
        line.append("*" if slot.changed else " ", style=p.changed)
        line.append(slot.data.hex(" "), style=p.changed if slot.changed else "" if any(slot.data) else p.dim)
        value = int.from_bytes(slot.data, "little")
        if value:
            line.append(f"  {value:#x}", style=p.dim)
        rows.append((line, slot.offset))
    if not rows:
        rows.append((Text("not running", style=p.dim), None))
    return _lines(rows)


# -- packet -------------------------------------------------------------------------------------
def packet_lines(packet: PacketView | None, p: Palette = PALETTE) -> Lines:
    """tcpdump ``-x`` rows: offset, 16 bytes in groups of two, ASCII; bytes the current
    instruction reads or writes (or, after exit, that the program changed) highlighted
    in reverse video (bold, underlined for the next instruction), which stays visible
    without colour."""
    if packet is None:
        return _lines(
            [(Text("a raw program has no packet; x/16xb $ctx shows its memory", style=p.dim), None)]
        )
    rows: list[tuple[Text, object | None]] = []
    head = Text(f"{packet.title}: ", style="bold")
    head.append(packet.summary)
    rows.append((head, None))
    data = packet.data
    for start in range(0, len(data), 16):
        line = Text(f"0x{start:04x}:  ")
        ascii_part = Text()
        for i in range(16):
            off = start + i
            if i and i % 2 == 0:
                line.append(" ")
            if off >= len(data):
                line.append("  ")
                continue
            mark = packet.marks.get(off)
            style = p.written if mark == WRITE else p.read if mark == READ else ""
            if off in packet.next_marks:
                style = f"{style} {p.next_access}".strip()
            line.append(f"{data[off]:02x}", style=style)
            ch = chr(data[off]) if 32 <= data[off] < 127 else "."
            ascii_part.append(ch, style=style)
        line.append("  ")
        line.append_text(ascii_part)
        rows.append((line, start))
    if packet.note:
        rows.append((Text(_legend(packet), style=p.dim), None))
    if packet.next_note:
        rows.append((Text(packet.next_note, style=p.dim), None))
    return _lines(rows)


def _legend(packet: PacketView) -> str:
    kinds = set(packet.marks.values())
    parts = []
    if WRITE in kinds:
        parts.append("red: written")
    if READ in kinds:
        parts.append("blue: read")
    note = packet.note or ""
    if parts and note.startswith("by insn"):
        return f"{' and '.join(parts)} {note}"  # "red: written and blue: read by insn 19"
    return note


def packet_list_lines(rows: tuple[PacketRow, ...], p: Palette = PALETTE) -> Lines:
    """The capture: number, length, headers and, after ``run all``, each verdict."""
    if not rows:
        return _lines([(Text('no capture: "load pcap FILE" or --pcap', style=p.dim), None)])
    out: list[tuple[Text, object | None]] = []
    for row in rows:
        line = Text("> " if row.selected else "  ", style="bold")
        line.append(f"{row.number:>4}  {row.length:>5} B  ")
        line.append(
            f"{row.verdict or '':<13}", style=p.error if row.verdict in ("fault", "budget") else p.verdict
        )
        line.append(f" {row.summary}")
        if row.selected:
            line.stylize("bold")
        out.append((line, row.number))
    return _lines(out)


# -- maps ----------------------------------------------------------------------------------------
def map_lines(maps: tuple[MapView, ...], p: Palette = PALETTE) -> Lines:
    """Each map's header (``vips  hash 8->16  2/64``) and its entries, BTF-formatted where
    the object has BTF; entries changed since the previous stop marked ``*``."""
    if not maps:
        return _lines([(Text("no maps", style=p.dim), None)])
    rows: list[tuple[Text, object | None]] = []
    for m in maps:
        head = Text(f"{m.name}", style=p.header)
        head.append(f"  {m.type} {m.key_size}->{m.value_size}  {m.count}/{m.max_entries}")
        if m.changed:
            head.append("  [changed]", style=p.changed)
        rows.append((head, (m.name, None)))
        for e in m.entries:
            line = Text("* " if e.changed else "  ", style=p.changed)
            line.append(f"{e.key}: ", style="bold")
            line.append(e.value, style=p.changed if e.changed else "")
            if e.formatted:
                line.append(f"   {e.formatted}", style=p.kind)
            rows.append((line, (m.name, e.key)))
        if len(m.entries) < m.count:
            rows.append(
                (Text(f"  ... {m.count - len(m.entries)} more: map dump {m.name}", style=p.dim), None)
            )
    return _lines(rows)


# -- breakpoints -------------------------------------------------------------------------------
def stop_lines(stops: tuple[StopRow, ...], p: Palette = PALETTE) -> Lines:
    """``info breakpoints`` as a pane: number, kind, enabled, hits, where, condition."""
    if not stops:
        return _lines([(Text('no breakpoints: F9/b in the code pane, or "break LOC"', style=p.dim), None)])
    rows: list[tuple[Text, object | None]] = []
    for s in stops:
        line = Text(f"{s.number:>3} ", style="bold")
        line.append("y " if s.enabled else "n ", style="" if s.enabled else p.disabled)
        line.append(f"{s.kind:<15} {s.what}")
        if s.condition:
            line.append(f"  if {s.condition}", style=p.conditional)
        if s.hits:
            line.append(f"  (hit {s.hits} time{'s' if s.hits != 1 else ''})", style=p.dim)
        rows.append((line, s.number))
    return _lines(rows)


# -- backends ----------------------------------------------------------------------------------
def backend_lines(backend: BackendView, p: Palette = PALETTE) -> Lines:
    """One backend's view of the current instruction: the eBPF instruction, its native
    code (address, bytes, text) where the backend has some, and its registers; after a
    divergence, what differs is highlighted."""
    rows: list[tuple[Text, object | None]] = []
    head = Text(backend.name, style=p.header)
    if backend.note:
        head.append(f"  {backend.note}", style=p.dim)
    rows.append((head, None))
    if backend.pc is None:
        rows.append((Text('not running: "start" or "run"', style=p.dim), None))
        return _lines(rows)
    rows.append(
        (Text(f"=> {backend.insn}", style="bold" if "pc" not in backend.differs else p.changed), None)
    )
    if backend.native:
        for addr, raw, text in backend.native:
            line = Text(f"   {addr & 0xFFFF:#06x}: ", style=p.dim)  # the low bits: the pane is narrow
            line.append(f"{text:<34}")
            line.append(f" {raw}", style=p.dim)  # the bytes last, where a narrow pane cuts
            rows.append((line, addr))
    else:
        rows.append((Text("   (executes eBPF directly: no native code)", style=p.dim), None))
    for name, value in backend.registers:
        style = p.changed if name in backend.differs else ""
        mark = "!" if name in backend.differs else " "
        rows.append((Text(f"{mark}{name:<8} 0x{value:016x}", style=style), name))
    if backend.native_registers:
        rows.append((Text("native registers", style=p.header), None))
        for name, value in backend.native_registers:
            rows.append((Text(f" {name:<9} 0x{value:016x}", style=p.dim if "(" not in name else ""), name))
    for what in sorted(backend.differs - {r for r, _ in backend.registers} - {"pc"}):
        rows.append((Text(f"! {what} differs", style=p.changed), None))
    return _lines(rows)
