"""How a stop reads in the console: gdb's lines, with eBPF words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfdbg.events import Stopped
from bpfdbg.render.code import insn_text, location_text, source_text
from bpfdbg.render.preview import preview

if TYPE_CHECKING:
    from bpfdbg.session import Session

REG_NAMES = tuple(f"r{i}" for i in range(11))


def register_line(session: Session, reg: int, value: int, old: int | None = None) -> str:
    """``r2   0x0000000200000000  8589934592   pkt`` with ``(was 0x0)`` when it changed."""
    kind = session.pointer_kind(value)
    if kind is None:
        signed = value - (1 << 64) if value >= 1 << 63 else value
        kind = "scalar" if signed == value else f"scalar ({signed})"
    was = f"  (was {old:#x})" if old is not None else ""
    return f"{REG_NAMES[reg]:<4} {value:#018x}  {value:<20} {kind}{was}".rstrip()


def changed_registers(session: Session) -> list[str]:
    step = session.last_step
    if step is None:
        return []
    return [register_line(session, w.reg, w.new, w.old) for w in step.regs if w.reg != 10]


def where_lines(session: Session, pc: int, program: str, *, with_source: bool = True) -> list[str]:
    out = []
    src = session.source_line(pc, program)
    if with_source and src is not None:
        out.append(source_text(src))
    suffix, below = preview(session, pc, program) if session.live and pc == session.pc else ("", None)
    out.append(f"=> {pc}: {insn_text(session, pc, program)}{suffix}")
    if below is not None:
        out.append(f"   {below}")
    return out


def render_stop(session: Session, stop: Stopped, *, show_changes: bool = True) -> list[str]:
    """The lines a console prints for one stop."""
    where = location_text(session, stop.pc, stop.program)
    prog = f"[{stop.program}]"
    reason = stop.reason
    if reason == "exited":
        action = f"{stop.action} ({stop.retval})" if stop.action else f"r0 = {stop.retval:#x} ({stop.retval})"
        return [f"{prog} exited: {action} after {stop.insns} instructions", *packet_out_summary(session)]
    if reason == "faulted":
        src = session.source_line(stop.pc, stop.program)
        at = f"insn {stop.pc}" + (f" ({src.file.rsplit('/', 1)[-1]}:{src.line})" if src else "")
        rip_of = getattr(session.machine(), "fault_rip", None)
        rip = rip_of() if callable(rip_of) else None
        if rip is not None:  # a backend running native code: where in it the fault came
            at += f", native rip {rip:#x}"
        return [
            f"{prog} fault at {at}: {stop.fault}",
            f"the program was stopped after {stop.insns} instructions; "
            '"reverse-stepi" goes back before the fault, "catch fault" stops there next time',
        ]
    if reason == "budget":
        return [
            f"{prog} instruction budget ({session.budget}) spent at insn {stop.pc} after {stop.insns} "
            'instructions: an endless loop? "set budget N" raises it',
            *where_lines(session, stop.pc, stop.program),
        ]
    lines: list[str] = []
    with_source = True
    if reason == "breakpoint":
        temp = "Temporary breakpoint" if stop.detail == "temporary" else "Breakpoint"
        lines.append(f"{temp} {stop.number}, {where}")
    elif reason == "catchpoint":
        lines.append(f"Catchpoint {stop.number} ({stop.detail}), {where}")
    elif reason == "watchpoint":
        point = session.stops.get(stop.number or 0)
        label = {"watch": "Watchpoint", "rwatch": "Read watchpoint", "awatch": "Access watchpoint"}
        name = label.get(getattr(point, "mode", "watch"), "Watchpoint")
        lines.append(f"{name} {stop.number}: {getattr(point, 'expr', '')}")
        lines.append("")
        lines.extend(stop.detail.splitlines())
        lines.append(where)
    elif reason == "interrupted":
        lines.append(f"Program interrupted, {where}")
    elif reason == "history-start":
        lines.append("No more reverse-execution history.")
        lines.append(where)
    elif reason == "started":
        lines.append(f"Starting {stop.program} on {input_description(session)}")
        lines.append(where)
    elif reason == "step":
        src = session.source_line(stop.pc, stop.program)
        step = session.last_step
        if step is not None and src is not None:
            before = session.source_line(step.pc, stop.program)
            with_source = before is None or (before.line, before.file) != (src.line, src.file)
    lines.extend(where_lines(session, stop.pc, stop.program, with_source=with_source))
    if show_changes and reason in ("step", "watchpoint") and not stop.reverse:
        lines.extend(changed_registers(session))
    return lines


def input_description(session: Session) -> str:
    if session.program.prog_type == "raw":
        return f"{len(session.mem)} bytes of memory"
    if session.packet_index is not None:
        data = session.input_packet or b""
        return f"packet {session.packet_index + 1} ({len(data)} bytes)"
    frame = session.input_packet
    return f"a {len(frame)}-byte packet" if frame is not None else "a 64-byte zero packet"


def packet_out_summary(session: Session) -> list[str]:
    """After an exit: whether the program changed the packet, and where."""
    if session.program.prog_type == "raw" or not session.started:
        return []
    state = session.state()
    out = session.prog_kind.packet_out(state.regions)
    before = session.run_input().packet or b""
    if out is None:
        return []
    if session.program.prog_type == "socket":
        # BPF_PROG_TEST_RUN hands a socket filter's frame back from the network header on
        # (its MAC header zeroed), and a socket filter cannot change the frame anyway
        out, before = out[14:], before[14:]
    if out == before:
        return ["packet out = packet in (no bytes changed)"]
    if len(out) != len(before):
        return [f'packet out: {len(out)} bytes (was {len(before)}); "packet" shows it']
    changed = [i for i, (a, b) in enumerate(zip(out, before, strict=True)) if a != b]
    spans = _spans(changed)
    return [f'packet out: {len(changed)} bytes changed at {spans}; "packet" shows the difference']


def _spans(offsets: list[int]) -> str:
    parts = []
    start = prev = None
    for off in offsets + [None]:  # type: ignore[list-item]
        if start is None:
            start = prev = off
        elif off is not None and prev is not None and off == prev + 1:
            prev = off
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = off
    return ", ".join(parts[:6]) + (" ..." if len(parts) > 6 else "")
