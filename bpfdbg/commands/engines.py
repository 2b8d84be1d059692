"""Execution backends in a session: ``engine`` (which one you debug on), ``lockstep`` (others
following it, compared after every instruction) and ``compare`` (a whole packet or capture
through lockstep, reported as agreement or the first divergence).

Backends are the DESIGN's engines: ``interp`` is the reference; ``host-jit`` runs the x86-64
code the Linux JIT would emit; ``nic`` models an NFP offload (it may refuse the program, with
the driver's reasons); the kernel oracle cannot step, so it is listed but can take part in
neither.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from bpfdbg.commands.common import parse_int, split_args
from bpfdbg.commands.registry import CommandError, CommandResult, command
from bpfdbg.lockstep import LoadMismatch, Lockstep, divergence_lines
from bpfdbg.mapstate import capture_maps
from bpfdbg.offload_explain import explain_in_session
from bpfdbg.render.code import insn_text
from emulator.backends.base import backend_names, create

if TYPE_CHECKING:
    from bpfdbg.session import Session

ENGINE_USAGE = "engine [list | select NAME]"
LOCKSTEP_USAGE = "lockstep [on [NAME...] | off]"
COMPARE_USAGE = "compare [packet N | all] [with NAME...]"


def _stepping(name: str) -> bool:
    return bool(create(name).capabilities.can_step)


@command("engine", category="running", subcommands=("list", "select"))
def cmd_engine(session: Session, args: str) -> CommandResult:
    """engine [list | select NAME]

    The execution backends: "engine list" shows each with what it is and which one the
    session debugs on (*) and which follow it in lockstep; "engine select NAME" debugs on
    NAME instead (the program is loaded on it afresh, so the current run ends; breakpoints
    and displays stay).
    """
    words = split_args(args)
    if not words or words[0] == "list":
        following = set(session.lockstep.names[1:]) if session.lockstep is not None else set()
        lines, rows = [], []
        for name in backend_names():
            machine = create(name)
            steps = machine.capabilities.can_step
            native = machine.capabilities.has_native_view
            what = {
                "interp": "reference interpreter",
                "host-jit": "x86-64 code as the Linux JIT emits it, run under Unicorn",
                "kernel": "the real kernel (BPF_PROG_TEST_RUN): end state only, cannot step",
                "nic": f"NFP-style SmartNIC offload ({session.device_profile}): offload verifier, "
                "microcode, simulator",
            }.get(name, "")
            mark = "*" if name == session.backend_name else "+" if name in following else " "
            role = "debugging" if mark == "*" else "in lockstep" if mark == "+" else ""
            lines.append(f"{mark} {name:<10} {what}" + (f"  [{role}]" if role else ""))
            rows.append({"name": name, "stepping": steps, "native": native, "role": role or None})
        return CommandResult("engine", lines=lines, data=rows)
    if words[0] == "select" and len(words) == 2:
        session.select_engine(words[1])
        return CommandResult(
            "engine", lines=[f"debugging on {words[1]} (the run starts afresh)"], data={"engine": words[1]}
        )
    raise CommandError(f"engine takes list or select NAME, not {args!r}", ENGINE_USAGE)


@command("lockstep", category="running", subcommands=("on", "off"))
def cmd_lockstep(session: Session, args: str) -> CommandResult:
    """lockstep [on [NAME...] | off]

    With lockstep on, the other stepping backends (or the ones named) follow the one you
    debug on: after every command they are brought to the same instruction and compared
    after each instruction on the way (registers, memory written, output, maps after
    calls, everything at the end). The first instruction they disagree on stops the
    program just after it, with each side's values and native code. Without arguments:
    whether it is on.
    """
    words = split_args(args)
    if not words:
        if session.lockstep is None:
            return CommandResult("lockstep", lines=["lockstep is off"], data={"on": False})
        names = ", ".join(session.lockstep.names)
        return CommandResult("lockstep", lines=[f"lockstep is on: {names}"], data={"on": True})
    if words[0] == "off" and len(words) == 1:
        session.lockstep = None
        return CommandResult("lockstep", lines=["lockstep is off"], data={"on": False})
    if words[0] != "on":
        raise CommandError(f"lockstep takes on or off, not {words[0]!r}", LOCKSTEP_USAGE)
    others = words[1:] or [n for n in backend_names() if n != session.backend_name and _stepping(n)]
    for name in others:
        if name not in backend_names():
            raise CommandError(f"unknown backend {name!r}; available: {', '.join(backend_names())}")
        if not _stepping(name):
            raise CommandError(f"the {name} backend cannot step, so it cannot run in lockstep")
    if not [n for n in others if n != session.backend_name]:
        raise CommandError(f"lockstep needs another backend besides {session.backend_name}", LOCKSTEP_USAGE)
    session.set_lockstep(others)
    assert session.lockstep is not None
    lines = [f"lockstep is on: {', '.join(session.lockstep.names)}"]
    if session.started:
        diverged = session.stop_at_divergence()
        if diverged is not None:
            lines.extend(diverged[1])
        else:
            lines.append(f"they agree up to here ({session.insns} instructions)")
    return CommandResult("lockstep", lines=lines, data={"on": True, "backends": list(session.lockstep.names)})


@command("compare", category="running")
def cmd_compare(session: Session, args: str) -> CommandResult:
    """compare [packet N | all] [with NAME...]

    Run the input (the current packet, packet N of the capture, or every packet) on this
    session's backend and the others (those in lockstep, or the ones named after "with",
    or every other stepping backend) in lockstep, from the start to the end, and report
    agreement or, for each packet that diverged, the first divergence. Maps start as they
    are now and carry over from packet to packet, as on an interface. The session's own
    run is not touched.
    """
    words, others = split_with(split_args(args), "compare", COMPARE_USAGE)
    if not others:
        if session.lockstep is not None:
            others = list(session.lockstep.names[1:])
        else:
            others = [n for n in backend_names() if n != session.backend_name and _stepping(n)]
    for name in others:
        if name not in backend_names() or not _stepping(name):
            raise CommandError(f"{name!r} is not a stepping backend; see engine list")
    indexes = _packets(session, words)
    names = [session.backend_name, *[n for n in others if n != session.backend_name]]
    try:
        engine = Lockstep(session.program, session.make_env, names)
    except LoadMismatch as err:
        raise CommandError(f"cannot run in lockstep: {err}") from None
    engine.load_maps(capture_maps(session.maps))  # maps start as the session's are now
    results: list[dict[str, Any]] = []
    lines: list[str] = []
    saved = session.packet_index, session.input_packet
    try:
        for index in indexes:
            if index is not None:
                session.packet_index, session.input_packet = index, session.packets[index].data
            engine.reset(session.run_input())
            outcome = engine.run(session.budget)
            end = outcome.ends.get(names[0])
            verdict = (
                session.prog_kind.action_name(end.retval)
                if end is not None and end.retval is not None
                else None
            )
            label = f"packet {index + 1}" if index is not None else "input"
            row: dict[str, Any] = {"packet": None if index is None else index + 1, "agreed": outcome.agreed,
                                   "insns": outcome.insns, "verdict": verdict}  # fmt: skip
            if outcome.divergence is not None:
                row["divergence"] = outcome.divergence.to_json()
                text = divergence_lines(outcome.divergence, lambda p, prog: insn_text(session, p, prog))
                why = explain_in_session(session, outcome.divergence, names)
                row["explanation"] = why[0].split(": ", 1)[-1] if why else None
                lines.append(f"{label}: " + text[0])
                lines.extend(text[1:] + why)
            elif len(indexes) == 1:
                lines.append(f"{label}: {' and '.join(names)} agree on all {outcome.insns} instructions"
                             + (f" ({verdict})" if verdict else ""))  # fmt: skip
            results.append(row)
    finally:
        session.packet_index, session.input_packet = saved
    if len(indexes) > 1:
        agreed = sum(1 for r in results if r["agreed"])
        classes = Counter(
            (
                r["divergence"]["pc"],
                tuple(d["what"] for d in r["divergence"]["differences"]),
                r.get("explanation"),
            )
            for r in results
            if not r["agreed"]
        )
        rate = 100 * agreed / len(results)
        head = f"{len(results)} packets: {' and '.join(names)} agree on {agreed} ({rate:.1f}%)"
        summary = [head]
        for (pc, what, known_as), count in classes.most_common():
            first = next(r["packet"] for r in results if not r["agreed"] and r["divergence"]["pc"] == pc)
            known = f" ({known_as})" if known_as else ""
            summary.append(f"  {count} diverge at insn {pc}: {', '.join(what)}{known}; "
                           f'first in packet {first} ("divergence packet {first}" goes there)')  # fmt: skip
        lines = summary + lines
    return CommandResult("compare", lines=lines, data={"backends": names, "packets": results})


def split_with(words: list[str], command: str, usage: str) -> tuple[list[str], list[str]]:
    """``... with NAME...``: (the words before "with", the backend names after it)."""
    if "with" not in words:
        return words, []
    i = words.index("with")
    if not words[i + 1 :]:
        raise CommandError(f"{command} ... with needs backend names", usage)
    return words[:i], words[i + 1 :]


def _packets(session: Session, words: list[str]) -> list[int | None]:
    if not words:
        return [session.packet_index]
    if words == ["all"]:
        if not session.packets:
            raise CommandError('no capture is loaded; load one with "load pcap FILE"')
        return list(range(len(session.packets)))
    if len(words) == 2 and words[0] == "packet":
        number = parse_int(words[1], "the packet number", COMPARE_USAGE)
        if not 1 <= number <= len(session.packets):
            raise CommandError(f"no packet {number}: the capture has packets 1-{len(session.packets)}")
        return [number - 1]
    raise CommandError(f"compare takes packet N or all, not {' '.join(words)!r}", COMPARE_USAGE)
