"""The offload device in a session: which NIC the ``nic`` backend models (``set
device-profile``, ``set mtu``), what it thinks of the program (``info offload``), and
going straight to where host and device disagree (``divergence``).

An offload engineer's first questions are "will it load on the card, and if not, why?"
and "where does the card do something else?". ``info offload`` answers the first with the
driver's own messages at the stage the real system prints them; ``divergence`` the second,
by running a packet in lockstep and stopping at the first instruction that differs, with
the known behaviour difference that explains it when there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfdbg.commands.common import parse_int, split_args
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of
from emulator.backends.base import backend_names, create

if TYPE_CHECKING:
    from bpfdbg.session import Session

DIVERGENCE_USAGE = "divergence [packet N] [with NAME...]"
OFFLOAD_BACKEND = "nic"


def _profiles() -> list[str]:
    from emulator.backends.nic.profiles import profile_names

    return profile_names()


def _profile_line(session: Session) -> str:
    from emulator.backends.nic.profiles import ProfileError, profile

    try:
        prof = profile(session.device_profile)
    except (KeyError, ProfileError) as err:
        return f"device profile {session.device_profile}: {err}"
    return (
        f"device profile {prof.name}: {prof.max_insns} instructions, {prof.stack_size} B stack, "
        f"packet split {prof.fw_mtu} B; interface MTU {session.mtu}"
    )


@sub_of("set", "device-profile")
def set_device_profile(session: Session, args: str) -> CommandResult:
    """set device-profile NAME|FILE.json

    The offload device the nic backend models: a firmware's instruction store, stack,
    packet split, map limits and helpers ("info offload" shows them; "show device-profile"
    lists the names). The nic backend loads the program afresh.
    """
    from emulator.backends.nic.profiles import ProfileError, profile

    name = args.strip()
    if not name:
        raise CommandError(f"set device-profile needs a name: {', '.join(_profiles())}")
    try:
        profile(name)
    except (KeyError, ProfileError) as err:
        raise CommandError(str(err.args[0] if err.args else err)) from None
    session.set_device(profile=name)
    return CommandResult("set device-profile", lines=[_profile_line(session)], data={"profile": name})


@sub_of("show", "device-profile")
def show_device_profile(session: Session, args: str) -> CommandResult:
    """show device-profile

    The offload device the nic backend models, and the other profiles there are.
    """
    others = [n for n in _profiles() if n != session.device_profile]
    lines = [_profile_line(session)]
    if others:
        lines.append(f"other profiles: {', '.join(others)}")
    return CommandResult("show device-profile", lines=lines, data={"profile": session.device_profile})


@sub_of("set", "mtu")
def set_mtu(session: Session, args: str) -> CommandResult:
    """set mtu N

    The MTU of the interface the program would be offloaded to: the device refuses a program
    that may read past its packet split for this MTU (the driver's attach-time check).
    """
    value = parse_int(args.strip(), "the MTU", "set mtu N")
    if not 68 <= value <= 16383:
        raise CommandError("the MTU must be between 68 and 16383 bytes (the device's length is 14 bits)")
    session.set_device(mtu=value)
    return CommandResult("set mtu", lines=[f"interface MTU: {value}"], data={"mtu": value})


@sub_of("show", "mtu")
def show_mtu(session: Session, args: str) -> CommandResult:
    """show mtu

    The MTU of the interface the program would be offloaded to.
    """
    return CommandResult("show mtu", lines=[f"interface MTU: {session.mtu}"], data={"mtu": session.mtu})


@sub_of("info", "offload")
def info_offload(session: Session, args: str) -> CommandResult:
    """info offload

    Whether the device (the nic backend, with the current device profile) accepts the
    program and, if not, the driver's messages at the stage the real system prints them,
    each with the instruction, its source line and what to change; when it does, how much of
    the instruction store, stack and packet split the program uses.
    """
    from bpfdbg.render.code import insn_text

    if OFFLOAD_BACKEND not in backend_names():
        raise CommandError("this bpfdbg has no nic backend")
    machine: Any = create(OFFLOAD_BACKEND)
    report = machine.load(session.program, session.make_env())
    lines = [_profile_line(session)]
    name = session.program.name
    summary = getattr(machine, "offload_summary", None)
    details: dict[str, Any] = dict(summary()) if callable(summary) and report.ok else {}
    if report.ok:
        lines.append(f"{name}: accepted by the device")
        lines.extend(f"  {line}" for line in details.get("lines", ()))
    else:
        lines.append(f"{name}: refused by the device")
    for d in report.diagnostics:
        where = f"insn {d.pc}: {insn_text(session, d.pc, name)}" if d.pc is not None else ""
        lines.append(f"  {d.severity.value}: {d.message}")
        if where:
            lines.append(f"    at {where}")
        hint = getattr(d, "hint", "")
        if hint:
            lines.append(f"    -> {hint}")
    data = {
        "profile": session.device_profile,
        "accepted": report.ok,
        "messages": [
            {"severity": d.severity.value, "pc": d.pc, "message": d.message, "hint": getattr(d, "hint", "")}
            for d in report.diagnostics
        ],
        **{k: v for k, v in details.items() if k != "lines"},
    }
    return CommandResult("info offload", lines=lines, data=data)


@command("divergence", category="running")
def cmd_divergence(session: Session, args: str) -> CommandResult:
    """divergence [packet N] [with NAME...]

    Go to where the backends disagree: select packet N (default: the current input), turn
    lockstep on (with the backends named, those already in lockstep, or nic) and run it
    from the start; the run stops just after the first instruction they disagree on, with
    each side's values, their native code and the known behaviour difference that explains
    it. "compare all" lists the packets that diverge.
    """
    from bpfdbg.commands.engines import split_with
    from bpfdbg.commands.running import stop_result

    words, others = split_with(split_args(args), "divergence", DIVERGENCE_USAGE)
    if not others:
        if session.lockstep is not None:
            others = list(session.lockstep.names[1:])
        else:
            others = [OFFLOAD_BACKEND if session.backend_name != OFFLOAD_BACKEND else "interp"]
    if words:
        if len(words) != 2 or words[0] != "packet":
            raise CommandError(f"divergence takes packet N, not {' '.join(words)!r}", DIVERGENCE_USAGE)
        number = parse_int(words[1], "the packet number", DIVERGENCE_USAGE)
        if not 1 <= number <= len(session.packets):
            raise CommandError(f"no packet {number}: the capture has packets 1-{len(session.packets)}")
        session.select_packet(number - 1)
    wanted = [n for n in others if n != session.backend_name]
    if session.lockstep is None or list(session.lockstep.names[1:]) != wanted:
        session.set_lockstep(wanted)
    assert session.lockstep is not None
    stop = session.run()
    while True:  # breakpoints on the way do not count here: on to the divergence or the end
        diverged = session.stop_at_divergence()
        if diverged is not None:
            stop, text = diverged
            result = stop_result(session, "divergence", stop, text)
            return result
        if session.status != "stopped":
            break
        stop = session.cont()
    names = " and ".join(session.lockstep.names)
    return stop_result(session, "divergence", stop, [f"no divergence: {names} agree on this input"])
