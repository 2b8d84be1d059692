"""What a program wrote for user space: ``tracelog`` (bpf_printk) and ``event_pipe`` (ring
buffer and perf event records), plus the small output conventions the bpftool-shaped
families (maps, programs, output) share: the ``-j``/``-p`` flags, bpftool's hex layout and
its first-match keyword prefixes.

The machine keeps all of it: ``backend.output`` holds the current run's trace lines (the
helper already writes them as ``bpf_trace_printk: <message>``, the part of a trace_pipe line
after the timestamp), ring buffers keep their submitted, unconsumed records
(``RingBufMap.records()``) and perf event arrays every record a program output
(``PerfEventArrayMap.records()``). Records live in the maps, so they accumulate over runs
until something consumes them, as in the kernel when no reader is attached.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bpfdbg.commands.common import split_args
from bpfdbg.commands.registry import CommandError, CommandResult, command, subcommand
from emulator.maps import Map
from emulator.maps.perf import PerfEventArrayMap
from emulator.maps.ringbuf import RingBufMap

if TYPE_CHECKING:
    from bpfdbg.session import Session

# -- shared conventions ------------------------------------------------------------------
JSON_FLAGS = ("-j", "--json")
PRETTY_FLAGS = ("-p", "--pretty")


def take_json_flags(words: Sequence[str]) -> tuple[list[str], str | None]:
    """Remove bpftool's global ``-j/--json`` and ``-p/--pretty`` from anywhere in the line
    (bpftool users put them first, gdb users last). Returns the other words and the JSON
    style: None (plain text), "json" (one compact line, like ``bpftool -j``) or "pretty"."""
    rest: list[str] = []
    style: str | None = None
    for word in words:
        if word in PRETTY_FLAGS:
            style = "pretty"
        elif word in JSON_FLAGS:
            style = style or "json"
        else:
            rest.append(word)
    return rest, style


def json_text(data: Any, style: str) -> list[str]:
    """``data`` as bpftool prints it: compact (``-j``) or indented (``-p``)."""
    if style == "pretty":
        return json.dumps(data, indent=4).splitlines()
    return [json.dumps(data, separators=(",", ":"))]


def finish(name: str, data: Any, lines: list[str], style: str | None) -> CommandResult:
    """The result of a bpftool-shaped command: ``data`` always structured; ``lines`` the
    plain text, or the JSON text when ``-j``/``-p`` was given."""
    return CommandResult(name, lines=json_text(data, style) if style else lines, data=data)


def first_match(word: str, bpftool_words: Sequence[str], extra_words: Sequence[str], what: str) -> str:
    """A keyword by bpftool's rule where bpftool has the keyword: exact name, else the
    first word in bpftool's table order that ``word`` prefixes (so ``map d`` is ``dump`` and
    ``prog d x`` is ``dump xlated``, as bpftool users type them). Our own keywords have no
    muscle memory to keep, so they need an exact name or a unique prefix."""
    if word in bpftool_words or word in extra_words:
        return word
    for candidate in bpftool_words:
        if word and candidate.startswith(word):
            return candidate
    return subcommand(word, [*bpftool_words, *extra_words], what)


def hexlist(data: bytes) -> list[str]:
    """bpftool -j's byte arrays: ``["0x06", "0x00"]``."""
    return [f"0x{b:02x}" for b in data]


def fprint_hex(data: bytes) -> list[str]:
    """bpftool's fprint_hex: bytes separated by a space, two spaces after every 8th byte and
    a new line after every 16th. Returns the lines (one empty line for no bytes)."""
    lines: list[str] = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        lines.append(f"{left}  {right}" if right else left)
    return lines or [""]


def plural(count: int, word: str) -> str:
    """``1 element``, ``2 elements``, ``3 entries`` (bpftool says "Found 1 element")."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


# -- tracelog -------------------------------------------------------------------------------
TRACE_TASK = "<...>-1"
TRACE_FLAGS = "d.s11"
TRACE_PREFIX = "bpf_trace_printk: "


def trace_pipe_line(message_line: str, cpu: int, clock_ns: int) -> str:
    """One trace_pipe line. The helper gives ``bpf_trace_printk: msg``; the kernel prefixes
    task-pid, [cpu], the irq/preempt flags and a timestamp. The emulator has no task and
    stamps nothing per line, so the prefix is fixed apart from the CPU of the run and the
    clock of the machine at the start of the run (Environment.clock_ns): enough for tools
    that parse trace_pipe, and deterministic."""
    seconds, nanos = divmod(clock_ns, 1_000_000_000)
    return f"{TRACE_TASK} [{cpu:03d}] {TRACE_FLAGS} {seconds}.{nanos // 1000:06d}: {message_line}"


def trace_messages(session: Session) -> list[str]:
    """The current run's trace lines as the backend recorded them (``bpf_trace_printk: ...``)."""
    backend = session.machine()
    return list(getattr(backend, "output", []))


@command("tracelog", category="data")
def cmd_tracelog(session: Session, args: str) -> CommandResult:
    """tracelog [-j]

    Show what bpf_printk (bpf_trace_printk/bpf_trace_vprintk) wrote during the current run,
    in trace_pipe's format, like "bpftool prog tracelog":
      <...>-1 [000] d.s11 1.000000: bpf_trace_printk: frame len=71
    The task and flags are fixed (the emulator has no task); the CPU is the run's and the
    timestamp the machine's clock at the start of the run. Each run starts a new log.
    With -j: {"lines": [trace_pipe lines], "messages": [the printk text alone]}.
    """
    words, style = take_json_flags(split_args(args))
    if words:
        raise CommandError(f"tracelog takes no arguments (got {' '.join(words)!r})", "tracelog [-j]")
    raw = trace_messages(session)
    env = session.env
    clock = env.clock_ns if env is not None else 0
    lines = [trace_pipe_line(line, session.cpu, clock) for line in raw]
    messages = [line.removeprefix(TRACE_PREFIX) for line in raw]
    data = {"lines": lines, "messages": messages}
    if not raw:
        text = (
            "no bpf_printk output yet: the program has not run (use run)"
            if not session.started
            else "no bpf_printk output in this run"
        )
        return finish("tracelog", data, [text], style)
    return finish("tracelog", data, lines, style)


# -- event_pipe -------------------------------------------------------------------------
def event_maps(session: Session) -> list[Map]:
    """The maps a program sends records through: ring buffers and perf event arrays."""
    return [m for m in session.maps if isinstance(m, RingBufMap | PerfEventArrayMap)]


def records_of(m: Map) -> list[dict[str, Any]]:
    """One map's pending records as JSON-able dicts (index, size, bytes as hex; perf
    records also say which slot/CPU they went to)."""
    if isinstance(m, RingBufMap):
        return [{"index": i, "size": len(r), "data": r.hex()} for i, r in enumerate(m.records())]
    if isinstance(m, PerfEventArrayMap):
        return [
            {"index": i, "cpu": slot, "size": len(r), "data": r.hex()}
            for i, (slot, r) in enumerate(m.records())
        ]
    raise CommandError(
        f"map {m.name} is a {m.type.label}, not a ringbuf or perf_event_array: it has no event records"
    )


def event_lines(m: Map, records: Iterable[dict[str, Any]]) -> list[str]:
    """``ringbuf events: 2 records`` then each record's bytes in bpftool's hex layout."""
    rows = list(records)
    lines = [f"{m.type.label} {m.name}: {plural(len(rows), 'record')}"]
    for row in rows:
        where = f", cpu {row['cpu']}" if "cpu" in row else ""
        lines.append(f"record {row['index']} ({plural(row['size'], 'byte')}{where}):")
        lines.extend(f"  {line}" for line in fprint_hex(bytes.fromhex(row["data"])))
    return lines


def consume(m: Map) -> int:
    """Read the records the way a user-space reader would: they leave the map (a ring
    buffer frees its space, so later reservations succeed again). Returns how many."""
    if isinstance(m, RingBufMap):
        return len(m.consume())
    if isinstance(m, PerfEventArrayMap):
        count = len(m.records())
        m.clear()
        return count
    return 0


def event_pipe(session: Session, words: list[str], style: str | None, name: str) -> CommandResult:
    """``event_pipe [MAP] [consume]``: shared by the command and ``map event_pipe``."""
    usage = "event_pipe [MAP] [consume] [-j]"
    drain = False
    if words and words[-1] == "consume":
        drain = True
        words = words[:-1]
    if len(words) > 1:
        raise CommandError(f"event_pipe takes one map name, got {' '.join(words)!r}", usage)
    if words:
        try:
            maps = [session.maps[words[0]]]
        except KeyError as err:
            raise CommandError(str(err.args[0]), usage) from None
    else:
        maps = event_maps(session)
        if not maps:
            names = ", ".join(m.name for m in session.maps) or "none"
            raise CommandError(
                f"the program has no ringbuf or perf_event_array map (maps: {names}); "
                "bpf_printk output is in tracelog"
            )
    data: dict[str, Any] = {}
    lines: list[str] = []
    for m in maps:
        records = records_of(m)
        entry: dict[str, Any] = {"type": m.type.label, "records": records}
        if isinstance(m, RingBufMap):
            entry["pending_bytes"] = m.producer_pos - m.consumer_pos
        data[m.name] = entry
        lines.extend(event_lines(m, records))
    if drain:
        consumed = sum(consume(m) for m in maps)
        session.edited("maps")
        lines.append(f"consumed {plural(consumed, 'record')}")
        data = {"maps": data, "consumed": consumed}
    else:
        data = {"maps": data}
    return finish(name, data, lines, style)


@command("event_pipe", category="data", completes="map")
def cmd_event_pipe(session: Session, args: str) -> CommandResult:
    """event_pipe [MAP] [consume] [-j]

    List the records a program sent to user space through ring buffers (bpf_ringbuf_output,
    bpf_ringbuf_reserve + submit) and perf event arrays (bpf_perf_event_output), with their
    bytes; without MAP, every such map of the program. Records stay in the map until read,
    across runs (nothing reads them during a run, as with BPF_PROG_TEST_RUN): "consume"
    reads them like a user-space reader, which frees ring buffer space.
    """
    words, style = take_json_flags(split_args(args))
    return event_pipe(session, words, style, "event_pipe")
