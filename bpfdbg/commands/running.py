"""Execution control: run, start, stepping both ways, continue, finish, until, advance,
kill, run all, and choosing the input (load, select, set packet, set ctx)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from bpfdbg.commands.common import parse_count, parse_int, split_args
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of
from bpfdbg.events import Stopped
from bpfdbg.render.stops import render_stop

if TYPE_CHECKING:
    from bpfdbg.session import PacketVerdict, Session


def stop_result(session: Session, name: str, stop: Stopped, prefix: list[str] | None = None) -> CommandResult:
    """A stepping command's result: the stop in gdb's words, then the displays."""
    lines = list(prefix or [])
    if session.lockstep is not None:
        diverged = session.stop_at_divergence()
        if diverged is not None:
            stop, divergence_text = diverged
            lines.extend(divergence_text)
    lines.extend(render_stop(session, stop))
    if session.displays and session.status == "stopped":
        from bpfdbg.render.displays import display_lines

        lines.extend(display_lines(session))
    return CommandResult(name, lines=lines, data=_stop_data(stop))


def _stop_data(stop: Stopped) -> dict[str, object]:
    return {
        "reason": stop.reason,
        "pc": stop.pc,
        "program": stop.program,
        "insns": stop.insns,
        "number": stop.number,
        "retval": stop.retval,
        "action": stop.action,
        "fault": stop.fault,
        "reverse": stop.reverse,
    }


# -- starting ----------------------------------------------------------------------------
@command("run", aliases=("r",), category="running")
def cmd_run(session: Session, args: str) -> CommandResult:
    """run [all [N]]

    Start the program from its first instruction on the current input (packet, ctx or
    memory) and run until a breakpoint, a watchpoint, a catchpoint, the end or a fault.
    Maps keep their contents from earlier runs, as in the kernel ("map reset" clears them).
    "run all" runs every packet of the capture (or the first N) to the end, ignoring
    breakpoints, and prints a verdict table.
    """
    words = args.split()
    if words and words[0] == "all":
        limit = parse_int(words[1], "the packet count") if len(words) > 1 else None
        return _run_all(session, limit)
    if words:
        raise CommandError(f"run takes no arguments here (got {args!r})", "run [all [N]]")
    prefix = ["Restarting from the first instruction."] if session.live else []
    return stop_result(session, "run", session.run(), prefix)


@command("start", category="running")
def cmd_start(session: Session, args: str) -> CommandResult:
    """start

    Start the program and stop at its first instruction (before it runs anything).
    """
    return stop_result(session, "start", session.start())


def _run_all(session: Session, limit: int | None) -> CommandResult:
    verdicts = session.run_all(limit)
    return CommandResult("run", lines=verdict_lines(session, verdicts), data=[v.__dict__ for v in verdicts])


def verdict_lines(session: Session, verdicts: list[PacketVerdict]) -> list[str]:
    counts = Counter(
        v.action or ("fault" if v.fault else "budget" if v.budget else f"r0={v.retval}") for v in verdicts
    )
    total = len(session.packets)
    head = f"{len(verdicts)} packets" + (f" of {total}" if len(verdicts) < total else "")
    summary = ", ".join(f"{name} {n}" for name, n in counts.most_common())
    lines = [f"{head}: {summary}"]
    for v in verdicts:
        if v.fault:
            src = session.source_line(v.fault_pc or 0)
            at = f"insn {v.fault_pc}" + (f" ({Path(src.file).name}:{src.line})" if src else "")
            lines.append(f"  packet {v.index + 1}: fault at {at}: {v.fault}")
        elif v.budget:
            lines.append(f"  packet {v.index + 1}: instruction budget spent after {v.insns} instructions")
    lines.append('"select N" picks a packet to debug; "info packets" lists every verdict')
    return lines


# -- forward -----------------------------------------------------------------------------
@command("stepi", aliases=("si",), category="running", repeatable=True)
def cmd_stepi(session: Session, args: str) -> CommandResult:
    """stepi [N]

    Execute N instructions (default 1), entering bpf-to-bpf calls. A helper call is one
    instruction.
    """
    return stop_result(session, "stepi", session.stepi(parse_count(args, "stepi [N]")))


@command("nexti", aliases=("ni",), category="running", repeatable=True)
def cmd_nexti(session: Session, args: str) -> CommandResult:
    """nexti [N]

    Execute N instructions (default 1), running bpf-to-bpf calls (and bpf_loop callbacks)
    to their return as one step.
    """
    return stop_result(session, "nexti", session.nexti(parse_count(args, "nexti [N]")))


@command("step", aliases=("s",), category="running", repeatable=True)
def cmd_step(session: Session, args: str) -> CommandResult:
    """step [N]

    Run to the start of the next source line (N times), entering called functions. Without
    line info it steps one instruction.
    """
    return stop_result(session, "step", session.step(parse_count(args, "step [N]")))


@command("next", aliases=("n",), category="running", repeatable=True)
def cmd_next(session: Session, args: str) -> CommandResult:
    """next [N]

    Run to the start of the next source line (N times), running called functions to their
    return. Without line info it is nexti.
    """
    return stop_result(session, "next", session.next(parse_count(args, "next [N]")))


@command("continue", aliases=("c", "fg", "cont"), category="running", repeatable=True)
def cmd_continue(session: Session, args: str) -> CommandResult:
    """continue [N]

    Resume until the next breakpoint, watchpoint, catchpoint, the end or a fault. With N,
    ignore the breakpoint stopped at N-1 more times.
    """
    return stop_result(session, "continue", session.cont(parse_count(args, "continue [N]")))


@command("finish", aliases=("fin",), category="running", repeatable=True)
def cmd_finish(session: Session, args: str) -> CommandResult:
    """finish

    Run until the selected bpf-to-bpf function returns; shows the value it returned (r0).
    """
    frames = session.frames()
    index = min(session.selected_frame, len(frames) - 1)
    func = frames[index][1] if frames else "?"
    stop = session.finish()
    extra: list[str] = []
    result = stop_result(session, "finish", stop, [f"Run till exit from #{index} {func} ()"])
    if stop.reason == "step" and session.live:
        r0 = session.regs[0]
        extra.append(f"Value returned is r0 = {r0:#x} ({r0})")
    result.lines.extend(extra)
    return result


@command("until", aliases=("u",), category="running", repeatable=True, completes="location")
def cmd_until(session: Session, args: str) -> CommandResult:
    """until [LOCATION]

    Without an argument: like nexti, but never stops at an earlier instruction of this
    frame, so it runs a backward jump's loop to its end. With LOCATION: run until it is
    reached or the current function returns.
    """
    return stop_result(session, "until", session.until(args.strip() or None))


@command("advance", category="running", completes="location")
def cmd_advance(session: Session, args: str) -> CommandResult:
    """advance LOCATION

    Run until LOCATION (*INSN, LINE, FILE:LINE, FUNCTION, PROG:INSN, +N) is reached,
    stopping earlier at breakpoints or when the current function returns.
    """
    if not args.strip():
        raise CommandError("advance needs a location", "advance LOCATION")
    return stop_result(session, "advance", session.advance(args.strip()))


@command("kill", aliases=("k", "reset"), category="running")
def cmd_kill(session: Session, args: str) -> CommandResult:
    """kill

    Abandon the current run (breakpoints, maps and the input stay). "run" or "start"
    begins a new one.
    """
    if not session.started:
        raise CommandError("The program is not being run.")
    session.kill()
    return CommandResult("kill", lines=[f"[{session.program.name}] killed"])


# -- reverse -----------------------------------------------------------------------------
@command("reverse-stepi", aliases=("rsi",), category="running", repeatable=True)
def cmd_reverse_stepi(session: Session, args: str) -> CommandResult:
    """reverse-stepi [N]

    Go back N instructions (default 1): registers, stack, packet, maps and output are as
    they were before those instructions ran.
    """
    return stop_result(
        session, "reverse-stepi", session.reverse_stepi(parse_count(args, "reverse-stepi [N]"))
    )


@command("reverse-nexti", aliases=("rni",), category="running", repeatable=True)
def cmd_reverse_nexti(session: Session, args: str) -> CommandResult:
    """reverse-nexti [N]

    Go back N instructions, treating a whole bpf-to-bpf call as one instruction.
    """
    return stop_result(
        session, "reverse-nexti", session.reverse_nexti(parse_count(args, "reverse-nexti [N]"))
    )


@command("reverse-step", aliases=("rs",), category="running", repeatable=True)
def cmd_reverse_step(session: Session, args: str) -> CommandResult:
    """reverse-step [N]

    Go back to the start of the previous source line (N times), entering calls.
    """
    return stop_result(session, "reverse-step", session.reverse_step(parse_count(args, "reverse-step [N]")))


@command("reverse-next", aliases=("rn",), category="running", repeatable=True)
def cmd_reverse_next(session: Session, args: str) -> CommandResult:
    """reverse-next [N]

    Go back to the start of the previous source line (N times), over calls.
    """
    return stop_result(session, "reverse-next", session.reverse_next(parse_count(args, "reverse-next [N]")))


@command("reverse-continue", aliases=("rc",), category="running", repeatable=True)
def cmd_reverse_continue(session: Session, args: str) -> CommandResult:
    """reverse-continue

    Run backwards to the previous breakpoint, catchpoint or watched change, or to the
    start of the run.
    """
    return stop_result(session, "reverse-continue", session.reverse_continue())


@command("reverse-finish", category="running", repeatable=True)
def cmd_reverse_finish(session: Session, args: str) -> CommandResult:
    """reverse-finish

    Go back to the call instruction that entered the current function.
    """
    return stop_result(session, "reverse-finish", session.reverse_finish())


@sub_of("info", "record")
def info_record(session: Session, args: str) -> CommandResult:
    """info record

    The execution history kept for reverse stepping: checkpoints, memory, interval.
    """
    stats = session.history.stats()
    lines = [
        "Recording: always on (checkpoints and deterministic replay).",
        f"Checkpoints: {stats.checkpoints}, every {stats.interval} instructions; "
        f"{stats.bytes} bytes of {session.history.limit_bytes} allowed.",
        f"Recorded: {stats.furthest} instructions ({stats.bytes_per_step:.1f} bytes per instruction).",
    ]
    return CommandResult(
        "info record", lines=lines, data=stats.__dict__ if hasattr(stats, "__dict__") else None
    )


# -- input ---------------------------------------------------------------------------------
@command("select", category="running")
def cmd_select(session: Session, args: str) -> CommandResult:
    """select N

    Make packet N of the capture (counting from 1) the input of the next run.
    """
    if not args.strip():
        raise CommandError("select needs a packet number (from 1)", "select N")
    number = parse_int(args.strip(), "the packet number", "select N")
    pkt = session.select_packet(number - 1)
    return CommandResult("select", lines=[f"packet {number} selected ({len(pkt.data)} bytes)"])


@command("load", aliases=("file",), category="files", completes="file")
def cmd_load(session: Session, args: str) -> CommandResult:
    """load FILE.o [prog NAME] | load raw FILE [type xdp|tc|socket|raw] | load pcap FILE | load maps FILE.json

    Load an object (selecting a program), raw instruction slots, a capture whose packets
    become the input, or map entries to install (the JSON that "map export" and --maps use).
    """
    words = split_args(args)
    usage = "load FILE.o [prog NAME] | load raw FILE [type T] | load pcap FILE | load maps FILE.json"
    if not words:
        raise CommandError("load needs a file", usage)
    if words[0] == "pcap" and len(words) == 2:
        packets = session.load_capture(words[1])
        return CommandResult("load", lines=[f"capture: {len(packets)} packets; packet 1 selected"])
    if words[0] == "maps" and len(words) == 2:
        session.load(session.path or "", prog=session.program.name, maps=words[1])
        return CommandResult(
            "load", lines=[f"map entries from {words[1]} installed ({len(session.map_entries)})"]
        )
    if words[0] == "raw" and len(words) in (2, 4):
        kind = words[3] if len(words) == 4 and words[2] == "type" else None
        session.load(words[1], raw=True, prog_type=kind)
        return CommandResult("load", lines=[_loaded_line(session)])
    prog = None
    if len(words) == 3 and words[1] == "prog":
        prog = words[2]
    elif len(words) != 1:
        raise CommandError(f"cannot parse {args!r}", usage)
    session.load(words[0], prog=prog)
    return CommandResult("load", lines=[_loaded_line(session)])


def _loaded_line(session: Session) -> str:
    prog = session.program
    ninsns = sum(1 for i in prog.insns if i is not None)
    return f"{Path(session.path or '').name}: program {prog.name} ({prog.prog_type}, {ninsns} insns) selected"


@sub_of("set", "budget")
def set_budget(session: Session, args: str) -> CommandResult:
    """set budget N

    The most instructions one run may execute before it stops (the endless-loop guard).
    """
    value = parse_int(args.strip(), "the budget", "set budget N")
    if value < 1:
        raise CommandError("the budget must be at least 1 instruction")
    session.budget = value
    if session.backend is not None and session.started:
        session.backend._budget = value  # type: ignore[attr-defined]  # the run in progress too
    return CommandResult("set budget", lines=[f"instruction budget: {value}"])


@sub_of("show", "budget")
def show_budget(session: Session, args: str) -> CommandResult:
    """show budget

    The instruction budget of a run.
    """
    return CommandResult("show budget", lines=[f"instruction budget: {session.budget}"], data=session.budget)


@sub_of("set", "history-limit")
def set_history_limit(session: Session, args: str) -> CommandResult:
    """set history-limit BYTES

    The memory reverse execution may use for checkpoints (older ones are thinned out).
    """
    value = parse_int(args.strip(), "the limit", "set history-limit BYTES")
    session.history.limit_bytes = max(value, 1)
    return CommandResult("set history-limit", lines=[f"history limit: {value} bytes"])


@sub_of("set", "packet")
def set_packet(session: Session, args: str) -> CommandResult:
    """set packet HEX | set packet SPEC

    Use a crafted frame as the input: hex bytes, or built like
    "eth/ipv4(dst=10.0.0.1)/tcp(dport=80)" (layers eth vlan ipv4 ipv6 udp tcp icmp icmp6 payload).
    """
    from bpfdbg.capture import CaptureError, parse_hex_packet
    from bpfdbg.packets import LAYERS, PacketSpecError, build_packet

    text = args.strip()
    if not text:
        raise CommandError("set packet needs hex bytes or a packet spec", "set packet HEX|SPEC")
    try:
        if any(ch in text for ch in "/(") or text in LAYERS:
            data = build_packet(text)
        else:
            data = parse_hex_packet(text)
    except (CaptureError, PacketSpecError) as err:
        raise CommandError(str(err)) from None
    session.set_packet(data)
    return CommandResult("set packet", lines=[f"input packet: {len(data)} bytes"])


@sub_of("set", "ctx")
def set_ctx(session: Session, args: str) -> CommandResult:
    """set ctx FIELD VALUE

    A context field for the next run (ingress_ifindex, rx_queue_index, mark, ...).
    """
    words = args.split()
    if len(words) != 2:
        raise CommandError("set ctx needs a field and a value", "set ctx FIELD VALUE")
    session.ctx_values[words[0]] = parse_int(words[1], "the value")
    return CommandResult(
        "set ctx", lines=[f"ctx.{words[0]} = {session.ctx_values[words[0]]} for the next run"]
    )


@sub_of("set", "mem")
def set_mem(session: Session, args: str) -> CommandResult:
    """set mem HEX

    The input memory of a raw program (r1 points at a copy, r2 is its length).
    """
    from bpfdbg.capture import CaptureError, parse_hex_packet

    try:
        data = parse_hex_packet(args) if args.strip() else b""
    except CaptureError as err:
        raise CommandError(str(err)) from None
    session.set_mem(data)
    return CommandResult("set mem", lines=[f"input memory: {len(data)} bytes"])


@sub_of("info", "packets")
def info_packets(session: Session, args: str) -> CommandResult:
    """info packets

    The capture's packets with their lengths, and their verdicts after "run all".
    """
    if not session.packets:
        raise CommandError('no capture is loaded; load one with "load pcap FILE"')
    from bpfdbg.render.packet import summary

    verdicts = {v.index: v for v in session.verdicts}
    lines = []
    for pkt in session.packets:
        mark = "*" if pkt.index == session.packet_index else " "
        v = verdicts.get(pkt.index)
        verdict = ""
        if v is not None:
            verdict = v.action or (f"fault at insn {v.fault_pc}" if v.fault else "budget spent")
        what = summary(pkt.data)
        lines.append(f"{mark} {pkt.index + 1:>5}  {len(pkt.data):>5} bytes  {verdict:<14} {what}".rstrip())
    return CommandResult("info packets", lines=lines)


@sub_of("info", "program")
def info_program(session: Session, args: str) -> CommandResult:
    """info program

    The state of the run: where it is stopped and why.
    """
    if not session.started:
        return CommandResult("info program", lines=["The program being debugged is not being run."])
    stop = session.last_stop
    pc, insns = session.pc, session.insns
    why = f"It stopped: {stop.reason}" + (f" {stop.number}" if stop and stop.number else "") if stop else ""
    where = f"{session.status} at insn {pc} after {insns} instructions."
    return CommandResult("info program", lines=[f"{session.current_program}: {where} {why}".rstrip()])


@sub_of("show", "history")
def show_history(session: Session, args: str) -> CommandResult:
    """show history

    How reverse execution records: checkpoint interval and memory limit ("info record" for
    what this run holds).
    """
    h = session.history
    return CommandResult(
        "show history",
        lines=[
            f"checkpoint every {h.interval} instructions (base {h.base_interval}); "
            f"memory limit {h.limit_bytes} bytes (set history-limit BYTES)"
        ],
    )


@sub_of("show", "version")
def show_version(session: Session, args: str) -> CommandResult:
    """show version

    The bpfdbg version and the backend in use.
    """
    from bpfdbg import __version__

    return CommandResult("show version", lines=[f"bpfdbg {__version__} (backend {session.backend_name})"])


@sub_of("info", "counts")
def info_counts(session: Session, args: str) -> CommandResult:
    """info counts [N]

    The N instructions (default 10) this run executed most often so far, with their source
    lines: where a packet spends its instructions. "disassemble /c" shows every count.
    """
    from bpfdbg.render.code import insn_text

    if not session.started:
        raise CommandError('The program is not being run. Use "start" or "run".')
    limit = parse_int(args.strip(), "the number of instructions", "info counts [N]") if args.strip() else 10
    counts = session.stepper.exec_counts()
    total = sum(counts.values())
    lines = [f"{total} instructions executed, {len(counts)} distinct"]
    rows = []
    for (program, pc), hits in counts.most_common(max(limit, 0)):
        src = session.source_line(pc, program)
        where = f"  {Path(src.file).name}:{src.line}" if src is not None else ""
        prefix = f"{program}:" if program != session.program.name else ""
        lines.append(f"{hits:>8}  {prefix}{pc:<5} {insn_text(session, pc, program)}{where}")
        rows.append({"program": program, "pc": pc, "count": hits})
    return CommandResult("info counts", lines=lines, data={"total": total, "top": rows})
