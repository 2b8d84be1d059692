"""SessionView: an immutable picture of a Session at one moment, for front ends that draw.

The TUI never touches the Session from its UI thread: a worker runs a command line, then
builds a view here (in the same worker) and hands it over. The view carries plain values
only (numbers, strings, tuples), so presenters are pure functions of it and can be tested
without a terminal. Building a view is on the path from a key press to the updated screen,
so the static parts of the code listing are cached per program and map contents are
bounded to what a pane can show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfdbg.render import packet as pkt
from bpfdbg.render.code import function_at, insn_text, source_file_lines, source_text
from bpfdbg.render.preview import preview

if TYPE_CHECKING:
    from bpfdbg.session import Session
    from emulator.maps import Map
    from emulator.program import Program

MAX_MAP_ROWS = 256  # entries per map a view carries; the map commands show the rest
# Counting replays the run block by block (some 5 x 10^5 insns/s on a tight loop, once: later
# steps only add what they ran). Past this many instructions a view carries no counts ("info
# counts" still gives them), so the view after an interrupted endless loop or a spent budget
# comes at once instead of after a minute of replay.
MAX_COUNTED_INSNS = 300_000
STACK_SLOTS_MIN = 8
FRAME_SIZE = 512
REG_NAMES = tuple(f"r{i}" for i in range(11))


# -- the view -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CodeRow:
    """One instruction of the listing. ``source`` is set on the first instruction of a new
    source line; ``bp`` is "" or "enabled", "disabled", "conditional"; ``target`` is where
    a jump goes; ``count`` how often it ran in this run."""

    pc: int
    text: str
    source: str | None = None
    bp: str = ""
    bp_numbers: tuple[int, ...] = ()
    count: int = 0
    target: int | None = None
    is_target: bool = False
    function: str | None = None  # set on the first instruction of a function


@dataclass(frozen=True, slots=True)
class CodeView:
    program: str
    rows: tuple[CodeRow, ...]
    current: int | None  # pc of the next instruction when stopped
    preview: str = ""  # "# taken", or the helper call with named arguments
    faulted: bool = False
    frame: int | None = None  # pc of the selected caller frame (after up/frame N), else None


@dataclass(frozen=True, slots=True)
class SourceView:
    """The source file around the current line (the ``list``-style toggle)."""

    file: str
    lines: tuple[str, ...]
    current: int | None
    breakpoints: tuple[tuple[int, int], ...] = ()  # (line, breakpoint number)


@dataclass(frozen=True, slots=True)
class RegisterRow:
    name: str
    value: int
    kind: str  # "ctx", "pkt+14", "fp-8", "scalar"
    old: int | None = None  # set when the last step wrote it


@dataclass(frozen=True, slots=True)
class StackSlot:
    offset: int  # negative, from the frame pointer
    data: bytes
    changed: bool = False


@dataclass(frozen=True, slots=True)
class StackView:
    slots: tuple[StackSlot, ...]
    frames: tuple[str, ...]  # "#0 func insn 17 (file.c:48)", innermost first, then tail calls
    selected: int = 0


@dataclass(frozen=True, slots=True)
class PacketView:
    title: str
    data: bytes
    marks: dict[int, str]  # offset -> pkt.WRITE / pkt.READ
    summary: str
    note: str | None = None  # who made the marks ("by insn 19"), or how the length changed
    next_marks: dict[int, str] = field(default_factory=dict)  # what the instruction at pc will touch
    next_note: str | None = None


@dataclass(frozen=True, slots=True)
class PacketRow:
    number: int  # from 1
    length: int
    summary: str
    verdict: str | None = None
    selected: bool = False


@dataclass(frozen=True, slots=True)
class MapEntryRow:
    key: str  # hex
    value: str  # hex
    formatted: str | None = None  # BTF-formatted "key -> value"
    changed: bool = False


@dataclass(frozen=True, slots=True)
class MapView:
    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int
    count: int
    entries: tuple[MapEntryRow, ...]
    changed: bool = False


@dataclass(frozen=True, slots=True)
class StopRow:
    number: int
    kind: str
    enabled: bool
    what: str
    hits: int
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class BackendView:
    """One execution backend's view of the current instruction: the eBPF instruction, its
    native code where the backend has some, and its registers (native names where it has
    them). ``differs`` names what disagrees with the other backends after a divergence."""

    name: str
    pc: int | None
    insn: str
    native: tuple[tuple[int, str, str], ...] = ()  # (address, bytes hex, text)
    registers: tuple[tuple[str, int], ...] = ()
    differs: frozenset[str] = frozenset()
    note: str = ""
    native_registers: tuple[tuple[str, int], ...] = ()  # the machine's own ("rdi (r1)", value)


@dataclass(frozen=True, slots=True)
class SessionView:
    title: str  # "xdp_lb.o:xdp_lb (xdp)"
    packet_label: str  # "packet 3/120"
    status: str  # "stopped: breakpoint 1, insn 17"
    state: str  # idle, stopped, exited, faulted, budget
    insns: int
    code: CodeView
    source: SourceView | None
    registers: tuple[RegisterRow, ...]
    stack: StackView
    packet: PacketView | None
    packets: tuple[PacketRow, ...]
    maps: tuple[MapView, ...]
    stops: tuple[StopRow, ...]
    backends: tuple[BackendView, ...]
    output: tuple[str, ...] = ()  # program output since the previous view (trace_pipe lines, records)
    reason: str | None = None  # why execution last stopped (Stopped.reason): "divergence", ...
    map_contents: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False)


# -- building ---------------------------------------------------------------------------------
@dataclass
class _Listing:
    """The parts of a program's listing that do not change while it runs."""

    rows: tuple[CodeRow, ...]
    index: dict[int, int]  # pc -> row index


class ViewBuilder:
    """Builds SessionViews for one Session, remembering what the previous view held (to
    mark map entries changed since then) and caching static listings."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._listings: dict[tuple[int, str], _Listing] = {}
        self._previous_maps: dict[str, tuple[tuple[str, str], ...]] = {}
        self._run: object = None  # the first checkpoint of the run the trace lines belong to
        self._trace_seen = 0
        self._records_seen: dict[str, int] = {}

    def build(self) -> SessionView:
        s = self.session
        if not s.loaded:
            return empty_view()
        program = s.current_program
        live = s.started
        state = s.state() if live else None
        title = (
            f"{Path(s.path).name if s.path else '<program>'}:{program} ({s.program_named(program).prog_type})"
        )
        maps = self._maps()
        view = SessionView(
            title=title,
            packet_label=_packet_label(s),
            status=status_text(s),
            state=s.status,
            insns=state.insns if state is not None else 0,
            code=self._code(program),
            source=self._source(program),
            registers=_registers(s),
            stack=_stack(s, state),
            packet=_packet(s, state),
            packets=_packets(s),
            maps=maps,
            stops=_stops(s),
            backends=_backends(s),
            output=self._new_output(),
            reason=s.last_stop.reason if s.last_stop is not None and s.status != "idle" else None,
            map_contents={m.name: tuple((e.key, e.value) for e in m.entries) for m in maps},
        )
        self._previous_maps = view.map_contents
        return view

    # -- output ---------------------------------------------------------------------------------
    def _new_output(self) -> tuple[str, ...]:
        """What the program printed since the previous view: bpf_printk lines in
        trace_pipe's format and ring buffer/perf records, one line each. Going backwards
        prints nothing (the lines were shown when they happened)."""
        from bpfdbg.commands.output import event_maps, fprint_hex, records_of, trace_messages, trace_pipe_line

        s = self.session
        out: list[str] = []
        trace = trace_messages(s) if s.started else []
        run = s.history.at_or_before(s.history.start) if s.started else None
        if run is not self._run:
            self._run, self._trace_seen = run, 0
        if len(trace) > self._trace_seen:
            clock = s.env.clock_ns if s.env is not None else 0
            out.extend(trace_pipe_line(line, s.cpu, clock) for line in trace[self._trace_seen :])
        self._trace_seen = len(trace)
        for m in event_maps(s):
            records = records_of(m)
            seen = self._records_seen.get(m.name, 0)
            for row in records[seen:]:
                data = " ".join(fprint_hex(bytes.fromhex(row["data"])))
                where = f" cpu {row['cpu']}" if "cpu" in row else ""
                out.append(f"{m.type.label} {m.name}: record {row['index']}{where} ({row['size']} B): {data}")
            self._records_seen[m.name] = len(records)
        return tuple(out)

    # -- code ----------------------------------------------------------------------------------
    def listing(self, program: str) -> _Listing:
        s = self.session
        key = (id(s.obj) ^ id(s.program_named(program)), program)
        cached = self._listings.get(key)
        if cached is not None:
            return cached
        prog = s.program_named(program)
        targets = {t for pc, insn in _insns(prog) if (t := _jump_target(insn, pc)) is not None}
        rows: list[CodeRow] = []
        last_line: tuple[str, int] | None = None
        for pc, insn in _insns(prog):
            src = s.source_line(pc, program)
            source = None
            if src is not None and (src.file, src.line) != last_line:
                last_line = (src.file, src.line)
                source = f"{Path(src.file).name}:{source_text(src)}"
            func = prog.symbols.get(pc)
            rows.append(
                CodeRow(
                    pc=pc,
                    text=insn_text(s, pc, program),
                    source=source,
                    target=_jump_target(insn, pc),
                    is_target=pc in targets,
                    function=func if func is not None and (pc != 0 or len(prog.symbols) > 1) else None,
                )
            )
        listing = _Listing(tuple(rows), {row.pc: i for i, row in enumerate(rows)})
        self._listings[key] = listing
        return listing

    def _code(self, program: str) -> CodeView:
        s = self.session
        listing = self.listing(program)
        marks = _breakpoint_marks(s, program)
        counted = s.started and s.insns <= MAX_COUNTED_INSNS
        counts: Counter[tuple[str, int]] = s.stepper.exec_counts() if counted else Counter()
        rows = []
        for row in listing.rows:
            mark = marks.get(row.pc)
            count = counts.get((program, row.pc), 0)
            if mark is None and not count:
                rows.append(row)
                continue
            bp, numbers = mark if mark is not None else ("", ())
            rows.append(
                CodeRow(
                    row.pc, row.text, row.source, bp, numbers, count, row.target, row.is_target, row.function
                )
            )
        current = s.pc if s.started else None
        suffix = ""
        if s.live and current is not None:
            taken, below = preview(s, current, program)
            suffix = taken.strip() or (below or "")
        frame = None
        if s.started and s.selected_frame > 0:
            frames = s.frames()
            if s.selected_frame < len(frames):
                frame = frames[s.selected_frame][2]
        return CodeView(program, tuple(rows), current, suffix, s.status == "faulted", frame)

    def _source(self, program: str) -> SourceView | None:
        s = self.session
        pc = s.pc if s.started else 0
        src = s.source_line(pc, program)
        if src is None:
            prog = s.program_named(program)
            src = prog.lines[min(prog.lines)] if prog.lines else None
            if src is None:
                return None
        lines = source_file_lines(s, src.file)
        if lines is None:
            return None
        marked = sorted(
            {
                (site_line, bp.number)
                for bp in s.stops.breakpoints()
                for site in bp.sites
                if (site_line := _site_line(s, site, src.file)) is not None
            }
        )
        current = src.line if s.started else None
        return SourceView(src.file, lines, current, tuple(marked))

    # -- maps -------------------------------------------------------------------------------------
    def _maps(self) -> tuple[MapView, ...]:
        from bpfdbg.commands.maps import element_count, formatted
        from bpfdbg.mapstate import map_entries

        s = self.session
        out = []
        for m in s.maps:
            entries = map_entries(m)
            before = dict(self._previous_maps.get(m.name, ()))
            rows = []
            changed_any = False
            for key, value in entries[:MAX_MAP_ROWS]:
                khex, vhex = key.hex(" "), value.hex(" ")
                changed = bool(self._previous_maps) and before.get(khex) != vhex
                changed_any |= changed
                rows.append(MapEntryRow(khex, vhex, _formatted_entry(s, m, key, value, formatted), changed))
            if self._previous_maps and len(before) != len(entries[:MAX_MAP_ROWS]):
                changed_any = True
            out.append(
                MapView(
                    m.name,
                    m.type.label,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    element_count(m),
                    tuple(rows),
                    changed_any,
                )
            )
        return tuple(out)


def _formatted_entry(session: Session, m: Map, key: bytes, value: bytes, formatted: Any) -> str | None:
    """``{proto=6, dport=80} -> {action=1}`` from BTF, None without it."""
    if m.percpu:
        return None
    try:
        data = formatted(session, m, key, value)
    except Exception:  # noqa: BLE001 - a value BTF cannot describe is shown raw
        return None
    if not data:
        return None
    key_text = _compact(data.get("key")) if "key" in data else None
    value_text = _compact(data.get("value"))
    return f"{key_text} -> {value_text}" if key_text is not None else value_text


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return str(value)


# -- pieces -------------------------------------------------------------------------------------
def empty_view() -> SessionView:
    return SessionView(
        title="(no program)",
        packet_label="",
        status='no program loaded: "load FILE.o"',
        state="idle",
        insns=0,
        code=CodeView("", (), None),
        source=None,
        registers=(),
        stack=StackView((), ()),
        packet=None,
        packets=(),
        maps=(),
        stops=(),
        backends=(),
    )


def _insns(prog: Program) -> list[tuple[int, Any]]:
    return [(pc, insn) for pc, insn in enumerate(prog.insns) if insn is not None]


def _jump_target(insn: Any, pc: int) -> int | None:
    try:
        return insn.jump_target(pc)
    except Exception:  # noqa: BLE001 - an undecodable slot has no target
        return None


def _packet_label(s: Session) -> str:
    if s.program.prog_type == "raw":
        return f"memory {len(s.mem)} B"
    if s.packet_index is not None:
        return f"packet {s.packet_index + 1}/{len(s.packets)}"
    if s.input_packet is not None:
        return f"crafted packet ({len(s.input_packet)} B)"
    return "zero packet (64 B)"


def status_text(s: Session) -> str:
    """``stopped: breakpoint 1, insn 17``, ``exited: XDP_DROP (1) after 58 insns``, ..."""
    stop = s.last_stop
    if s.status == "idle" or stop is None:
        return 'not running: "run" (r) or "start"'
    if s.status == "exited":
        verdict = f"{stop.action} ({stop.retval})" if stop.action else f"r0 = {stop.retval}"
        return f"exited: {verdict} after {stop.insns} insns"
    if s.status == "faulted":
        return f"faulted at insn {stop.pc}: {stop.fault}"
    if s.status == "budget":
        return f"budget spent at insn {stop.pc} after {stop.insns} insns"
    what = {
        "breakpoint": f"breakpoint {stop.number}",
        "watchpoint": f"watchpoint {stop.number}",
        "catchpoint": f"catchpoint {stop.number} ({stop.detail})",
        "started": "started",
        "interrupted": "interrupted",
        "history-start": "start of history",
        "divergence": f"backends disagree ({stop.detail})",
    }.get(stop.reason, "stepped" if not stop.reverse else "stepped back")
    return f"stopped: {what}, insn {stop.pc}"


def _breakpoint_marks(s: Session, program: str) -> dict[int, tuple[str, tuple[int, ...]]]:
    marks: dict[int, tuple[str, tuple[int, ...]]] = {}
    for bp in s.stops.breakpoints():
        state = "conditional" if bp.condition and bp.enabled else "enabled" if bp.enabled else "disabled"
        for site in bp.sites:
            if site.program != program:
                continue
            prev, numbers = marks.get(site.pc, ("", ()))
            # an enabled breakpoint outranks a disabled one at the same instruction
            rank = {"": 0, "disabled": 1, "conditional": 2, "enabled": 3}
            best = state if rank[state] > rank[prev] else prev
            marks[site.pc] = (best, (*numbers, bp.number))
    return marks


def _site_line(s: Session, site: Any, file: str) -> int | None:
    src = s.source_line(site.pc, site.program)
    return src.line if src is not None and src.file == file else None


def _registers(s: Session) -> tuple[RegisterRow, ...]:
    if not s.started:
        return ()
    regs = s.regs
    olds: dict[int, int] = {}
    step = s.last_step
    if step is not None:
        for w in step.regs:
            olds.setdefault(w.reg, w.old)
    rows = []
    for i, value in enumerate(regs[:11]):
        kind = s.pointer_kind(value)
        if kind is None:
            kind = "scalar"
        rows.append(RegisterRow(REG_NAMES[i], value, kind, olds.get(i)))
    return tuple(rows)


def _stack(s: Session, state: Any) -> StackView:
    if state is None or not state.frames:
        return StackView((), ())
    frames = list(reversed(state.frames))
    selected = min(s.selected_frame, len(frames) - 1)
    fp = frames[selected].fp
    try:
        data = s.read(fp - FRAME_SIZE, FRAME_SIZE)
    except Exception:  # noqa: BLE001 - a frame we cannot read shows no slots
        data = b""
    written: set[int] = set()
    step = s.last_step
    if step is not None:
        for w in step.mem:
            for addr in range(w.addr, w.addr + len(w.new)):
                if fp - FRAME_SIZE <= addr < fp:
                    written.add((addr - fp) // 8)
    slots = []
    count = len(data) // 8
    deepest = STACK_SLOTS_MIN
    for i in range(count):
        chunk = data[len(data) - 8 * (i + 1) : len(data) - 8 * i]
        if any(chunk) or -(i + 1) in written:
            deepest = max(deepest, i + 2)
    for i in range(min(deepest, count)):
        off = -8 * (i + 1)
        chunk = data[len(data) - 8 * (i + 1) : len(data) - 8 * i]
        slots.append(StackSlot(off, chunk, -(i + 1) in written))
    return StackView(tuple(slots), _frame_lines(s), selected)


def _frame_lines(s: Session) -> tuple[str, ...]:
    lines = []
    for n, (_depth, func, pc, _entry) in enumerate(s.frames()):
        src = s.source_line(pc, s.current_program)
        where = f" ({Path(src.file).name}:{src.line})" if src is not None else ""
        lines.append(f"#{n} {func} insn {pc}{where}")
    n = len(lines)
    for caller, pc in reversed(s.machine().tail_chain()):
        lines.append(f"#{n} {caller} insn {pc} (tail call)")
        n += 1
    return tuple(lines)


def _packet(s: Session, state: Any) -> PacketView | None:
    if s.program.prog_type == "raw":
        return None
    l2 = pkt.starts_at_l2(s)
    name = f"Packet {s.packet_index + 1}" if s.packet_index is not None else "Packet"
    before = pkt.loaded_packet(s)
    region = state.regions.get("pkt") if state is not None else None
    if region is None:
        return PacketView(f"{name} ({len(before)} B, input)", before, {}, pkt.summary(before, l2=l2))
    data = bytes(region.data)
    if s.status == "exited":
        d = pkt.diff(before, data)
        note = (
            "packet out = packet in"
            if d.before == d.after
            else f"{d.changed} bytes changed or added" + (f"; {d.note}" if d.note else "")
        )
        return PacketView(f"{name} out ({len(data)} B)", data, d.marks, pkt.summary(data, l2=l2), note)
    marks = pkt.marks_in(pkt.step_accesses(s), region.base, len(data))
    step = s.last_step
    legend = f"by insn {step.pc}" if step is not None and marks else None
    was = f", was {len(before)}" if len(before) != len(data) else ""
    next_marks: dict[int, str] = {}
    next_note = None
    insn = s.program_named(s.current_program).insn_at(s.pc) if s.live else None
    if insn is not None:
        next_marks = pkt.marks_in(pkt.insn_accesses(insn, s.regs, region.base), region.base, len(data))
        if next_marks:
            verbs = sorted({"reads" if k == pkt.READ else "writes" for k in next_marks.values()})
            next_note = f"underlined: insn {s.pc} {' and '.join(verbs)} these bytes next"
    return PacketView(
        f"{name} ({len(data)} B{was})",
        data,
        marks,
        pkt.summary(data, l2=l2),
        legend,
        next_marks,
        next_note,
    )


def _packets(s: Session) -> tuple[PacketRow, ...]:
    verdicts = {v.index: v for v in s.verdicts}
    rows = []
    for i, p in enumerate(s.packets):
        v = verdicts.get(i)
        verdict = None
        if v is not None:
            verdict = v.action or ("fault" if v.fault else "budget" if v.budget else f"r0={v.retval}")
        rows.append(PacketRow(i + 1, len(p.data), _summary_cached(p.data), verdict, i == s.packet_index))
    return tuple(rows)


_SUMMARIES: dict[bytes, str] = {}


def _summary_cached(data: bytes) -> str:
    text = _SUMMARIES.get(data)
    if text is None:
        if len(_SUMMARIES) > 100_000:
            _SUMMARIES.clear()
        text = _SUMMARIES[data] = pkt.summary(data)
    return text


def _stops(s: Session) -> tuple[StopRow, ...]:
    rows = []
    for p in s.stops:
        what = p.describe()
        rows.append(StopRow(p.number, p.kind, p.enabled, what, p.hits, p.condition))
    return tuple(rows)


def _backends(s: Session) -> tuple[BackendView, ...]:
    b = s.backend
    if b is None:
        return ()
    if s.lockstep is not None and s.started:
        return _lockstep_views(s)
    if not s.started:
        return (BackendView(b.name, None, "", note="not running"),)
    pc = s.pc
    program = s.current_program
    native = tuple((n.address, n.raw.hex(" "), n.text) for n in b.native(pc))
    native_regs = getattr(b, "native_registers", None)
    regs = tuple((REG_NAMES[i], v) for i, v in enumerate(s.regs[:11]))
    machine_regs = tuple(native_regs()) if callable(native_regs) else ()
    note = f"in {function_at(s.program_named(program), pc)}"
    text = f"{pc}: {insn_text(s, pc, program)}"
    return (BackendView(b.name, pc, text, native, regs, note=note, native_registers=machine_regs),)


def _lockstep_views(s: Session) -> tuple[BackendView, ...]:
    """One view per backend in lockstep, each from that backend's own machine (brought to
    the session's position), with what differs between them now."""
    lock = s.lockstep
    lock.sync()
    fields = frozenset(d.what for d in lock.differences_now())
    out = []
    for name, machine in lock.engine.machines.items():
        pc, _, _, program = machine.position()
        native = tuple((n.address, n.raw.hex(" "), n.text) for n in machine.native(pc))
        regs = tuple((REG_NAMES[i], v) for i, v in enumerate(machine.registers()[:11]))
        native_regs = getattr(machine, "native_registers", None)
        machine_regs = tuple(native_regs()) if callable(native_regs) else ()
        note = "in lockstep" + (f"; diverged at insn {lock.divergence.pc}" if lock.divergence else "")
        text = f"{pc}: {insn_text(s, pc, program)}"
        out.append(BackendView(name, pc, text, native, regs, fields, note, machine_regs))
    return tuple(out)
