"""Breakpoints, watchpoints and catchpoints: break, tbreak, condition, ignore, enable,
disable, delete, info breakpoints, watch, rwatch, awatch, catch; and, as in gdb, the
``enable display``/``disable display``/``delete display`` forms that act on auto-displays."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bpfdbg.breakpoints import Catchpoint, Stoppoint
from bpfdbg.commands.common import parse_int, parse_numbers
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of, subcommand
from bpfdbg.events import StateChanged
from bpfdbg.stepping import MAP_OPS

if TYPE_CHECKING:
    from bpfdbg.session import Session

_IF = re.compile(r"(?:^|\s)if(?=[\s(])")


def _split_condition(args: str) -> tuple[str, str | None]:
    """``*17 if $r1 == 2`` -> (``*17``, ``$r1 == 2``)."""
    m = _IF.search(args)
    if m is None:
        return args.strip(), None
    return args[: m.start()].strip(), args[m.end() :].strip()


def _break(session: Session, args: str, temporary: bool, name: str) -> CommandResult:
    spec, condition = _split_condition(args)
    if not spec:
        if not session.started:
            raise CommandError(f"{name} needs a location: *INSN, LINE, FILE:LINE, FUNCTION, PROG:INSN or +N",
                               f"{name} LOCATION [if EXPR]")  # fmt: skip
        spec = f"*{session.pc}"
    point = session.break_at(spec, condition, temporary)
    label = "Temporary breakpoint" if temporary else "Breakpoint"
    cond = f" if {condition}" if condition else ""
    return CommandResult(
        name, lines=[f"{label} {point.number} at {point.where}{cond}"], data={"number": point.number}
    )


@command("break", aliases=("b", "br", "bre", "brea"), category="breakpoints", completes="location")
def cmd_break(session: Session, args: str) -> CommandResult:
    """break [LOCATION] [if EXPR]

    Stop before the instruction at LOCATION: *INSN (instruction), LINE or FILE:LINE (source,
    when the object has line info), FUNCTION (a bpf-to-bpf function or program), PROG:INSN
    (an instruction of another program, e.g. a tail-call target), +N/-N (relative to the
    current instruction). Without LOCATION: the current instruction. "if EXPR" makes it
    conditional ($r1 == 0x3500 is evaluated inside the interpreter at full speed).
    """
    return _break(session, args, False, "break")


@command("tbreak", category="breakpoints", completes="location")
def cmd_tbreak(session: Session, args: str) -> CommandResult:
    """tbreak LOCATION [if EXPR]

    A breakpoint that is deleted when it first stops the program.
    """
    return _break(session, args, True, "tbreak")


@command("condition", category="breakpoints")
def cmd_condition(session: Session, args: str) -> CommandResult:
    """condition N [EXPR]

    Make breakpoint N stop only when EXPR is non-zero; without EXPR, unconditional again.
    """
    words = args.strip().split(None, 1)
    if not words:
        raise CommandError("condition needs a breakpoint number", "condition N [EXPR]")
    point = session.stoppoint(parse_int(words[0], "the breakpoint number", "condition N [EXPR]"))
    if len(words) == 1:
        point.condition = None
        line = f"Breakpoint {point.number} now unconditional."
    else:
        session.check_condition(words[1])
        point.condition = words[1]
        line = f"Breakpoint {point.number} stops only if {words[1]}."
    session._publish(StateChanged("breakpoints"))
    return CommandResult("condition", lines=[line])


@command("ignore", category="breakpoints")
def cmd_ignore(session: Session, args: str) -> CommandResult:
    """ignore N COUNT

    Let breakpoint N pass COUNT times before it stops the program.
    """
    words = args.split()
    if len(words) != 2:
        raise CommandError("ignore needs a breakpoint number and a count", "ignore N COUNT")
    point = session.stoppoint(parse_int(words[0], "the breakpoint number", "ignore N COUNT"))
    count = parse_int(words[1], "the count", "ignore N COUNT")
    if count < 0:
        raise CommandError("the count cannot be negative", "ignore N COUNT")
    point.ignore = count
    session._publish(StateChanged("breakpoints"))
    if count == 0:
        return CommandResult("ignore", lines=[f"Will stop next time breakpoint {point.number} is reached."])
    if count == 1:
        return CommandResult("ignore", lines=[f"Will ignore next crossing of breakpoint {point.number}."])
    return CommandResult(
        "ignore", lines=[f"Will ignore next {count} crossings of breakpoint {point.number}."]
    )


def _points(session: Session, args: str, usage: str) -> list[Stoppoint]:
    numbers = parse_numbers(args, usage)
    if not numbers:
        return list(session.stops)
    return [session.stoppoint(n) for n in numbers]


_DISPLAY_WORDS = ("disp", "displ", "displa", "display")  # gdb takes a prefix of "display"


def _display_args(args: str) -> str | None:
    """What follows ``display`` in ``enable display 1 3``; None when it is not that form."""
    words = args.split(None, 1)
    if not words or words[0] not in _DISPLAY_WORDS:
        return None
    return words[1] if len(words) > 1 else ""


def _toggle_displays(session: Session, args: str, enabled: bool, name: str) -> CommandResult:
    """gdb's ``enable display``/``disable display``: a disabled display stays numbered and
    listed (``info display`` shows n) but is not shown at stops, so a noisy expression can
    be silenced for a while without retyping it. All displays without numbers."""
    usage = f"{name} display [N...]"
    numbers: list[int] = []
    for word in args.replace(",", " ").split():
        lo, dash, hi = word.partition("-")
        if dash and lo:
            start, end = parse_int(lo, "a display number", usage), parse_int(hi, "a display number", usage)
            numbers.extend(range(start, end + 1))
        else:
            numbers.append(parse_int(word, "a display number", usage))
    known = {d.number for d in session.displays}
    missing = [n for n in numbers if n not in known]
    if missing:
        raise CommandError(f'no display number {missing[0]}; "info display" lists them')
    chosen = set(numbers) if numbers else known
    for display in session.displays:
        if display.number in chosen:
            display.enabled = enabled
    return CommandResult(f"{name} display", data=sorted(chosen))


@command("enable", aliases=("en",), category="breakpoints", subcommands=("once", "display"))
def cmd_enable(session: Session, args: str) -> CommandResult:
    """enable [once] [N...] | enable display [N...]

    Enable breakpoints N (all without numbers); "once": disable again after the next stop.
    "enable display N..." shows auto-displays N again at each stop (all without numbers).
    """
    rest = _display_args(args)
    if rest is not None:
        return _toggle_displays(session, rest, True, "enable")
    once = args.split()[:1] == ["once"]
    if once:
        args = args.split(None, 1)[1] if len(args.split()) > 1 else ""
    points = _points(session, args, "enable [once] [N...]")
    for point in points:
        point.enabled = True
        point.once = once
    session._publish(StateChanged("breakpoints"))
    return CommandResult("enable", data=[p.number for p in points])


@command("disable", aliases=("dis", "disa"), category="breakpoints", subcommands=("display",))
def cmd_disable(session: Session, args: str) -> CommandResult:
    """disable [N...] | disable display [N...]

    Disable breakpoints N (all without numbers); they stay listed and can be enabled again.
    "disable display N..." stops showing auto-displays N at each stop but keeps them listed
    (all without numbers); "enable display N..." brings them back.
    """
    rest = _display_args(args)
    if rest is not None:
        return _toggle_displays(session, rest, False, "disable")
    points = _points(session, args, "disable [N...]")
    for point in points:
        point.enabled = False
    session._publish(StateChanged("breakpoints"))
    return CommandResult("disable", data=[p.number for p in points])


@command("delete", aliases=("d",), category="breakpoints")
def cmd_delete(session: Session, args: str) -> CommandResult:
    """delete [N...]

    Delete breakpoints, watchpoints and catchpoints N (ranges like 2-4 too); all without numbers.
    """
    if args.strip().startswith("display"):
        from bpfdbg.commands.registry import lookup

        found = lookup("undisplay")
        assert not isinstance(found, str)
        return found.handler(session, args.strip()[len("display") :])
    points = _points(session, args, "delete [N...]")
    for point in points:
        session.stops.delete(point.number)
    session._publish(StateChanged("breakpoints"))
    return CommandResult("delete", data=[p.number for p in points])


@command("clear", category="breakpoints", completes="location")
def cmd_clear(session: Session, args: str) -> CommandResult:
    """clear LOCATION

    Delete the breakpoints at LOCATION.
    """
    if not args.strip():
        raise CommandError("clear needs a location", "clear LOCATION")
    sites = set(session.location(args.strip()).sites)
    gone = [bp for bp in session.stops.breakpoints() if sites & set(bp.sites)]
    if not gone:
        raise CommandError(f"No breakpoint at {args.strip()}.")
    for bp in gone:
        session.stops.delete(bp.number)
    session._publish(StateChanged("breakpoints"))
    numbers = " ".join(str(bp.number) for bp in gone)
    return CommandResult("clear", lines=[f"Deleted breakpoint{'s' if len(gone) > 1 else ''} {numbers}"])


@sub_of("info", "breakpoints", aliases=("b", "break", "watchpoints", "br"))
def info_breakpoints(session: Session, args: str) -> CommandResult:
    """info breakpoints

    Every breakpoint, watchpoint and catchpoint with its state, condition and hit count.
    """
    points = list(session.stops)
    if not points:
        return CommandResult("info breakpoints", lines=["No breakpoints or watchpoints."], data=[])
    lines = ["Num     Type            Disp Enb What"]
    data = []
    for p in points:
        disp = "del " if p.temporary else "dis " if p.once else "keep"
        lines.append(f"{p.number:<7} {p.kind:<15} {disp} {'y' if p.enabled else 'n'}   {p.describe()}")
        if p.condition:
            lines.append(f"\tstop only if {p.condition}")
        if p.hits:
            lines.append(f"\tbreakpoint already hit {p.hits} time{'s' if p.hits != 1 else ''}")
        if p.ignore:
            lines.append(f"\twill ignore next {p.ignore} crossings of breakpoint")
        data.append(
            {
                "number": p.number,
                "type": p.kind,
                "enabled": p.enabled,
                "what": p.describe(),
                "condition": p.condition,
                "hits": p.hits,
                "ignore": p.ignore,
                "temporary": p.temporary,
            }
        )
    return CommandResult("info breakpoints", lines=lines, data=data)


def _watch(session: Session, args: str, mode: str) -> CommandResult:
    text, condition = _split_condition(args)
    if not text:
        raise CommandError(f"{mode} needs an expression", f"{mode} EXPR | {mode} map NAME[KEY]")
    if mode == "watch" and text.startswith("map "):
        text = text[4:].strip()
        if "[" not in text:
            raise CommandError("watch map needs a key: watch map NAME[KEY]", "watch map NAME[KEY]")
    if condition:
        session.check_condition(condition)  # before adding anything: a bad condition adds nothing
    point = session.watch(text, mode)
    point.condition = condition
    label = {"watch": "Watchpoint", "rwatch": "Read watchpoint", "awatch": "Access watchpoint"}[mode]
    return CommandResult(mode, lines=[f"{label} {point.number}: {text}"], data={"number": point.number})


@command("watch", category="breakpoints", completes="expr")
def cmd_watch(session: Session, args: str) -> CommandResult:
    """watch EXPR [if COND] | watch map NAME[KEY]

    Stop when the value of EXPR changes (a register, memory like *(u32 *)($r10 - 8), or a
    map value like counters[0].bytes), showing the old and new values. Execution then goes
    instruction by instruction, as gdb's software watchpoints do.
    """
    return _watch(session, args, "watch")


@command("rwatch", category="breakpoints", completes="expr")
def cmd_rwatch(session: Session, args: str) -> CommandResult:
    """rwatch EXPR

    Stop after an instruction reads the memory of EXPR (a load or an atomic).
    """
    return _watch(session, args, "rwatch")


@command("awatch", category="breakpoints", completes="expr")
def cmd_awatch(session: Session, args: str) -> CommandResult:
    """awatch EXPR

    Stop after an instruction reads the memory of EXPR or its value changes.
    """
    return _watch(session, args, "awatch")


CATCH_KINDS = ("helper", "map", "tailcall", "exit", "fault")


@command("catch", category="breakpoints", subcommands=CATCH_KINDS)
def cmd_catch(session: Session, args: str) -> CommandResult:
    """catch helper [NAME...] | map [NAME] [OP...] | tailcall | exit [ACTION...] | fault

    eBPF events as stops. helper: before a call to any (or the named) helpers. map: before a
    map helper call on map NAME (any map without a name). tailcall: before bpf_tail_call.
    exit: before the program's final exit (only with the given actions: XDP_DROP, 2, ...).
    fault: before an instruction that would fault, with the machine still live.
    Map OPs: lookup, update, delete, push, pop, peek.
    """
    usage = cmd_catch.__doc__.strip().splitlines()[0] if cmd_catch.__doc__ else "catch KIND"
    words = args.split()
    if not words:
        raise CommandError("catch needs an event: " + ", ".join(CATCH_KINDS), usage)
    what = subcommand(words[0], CATCH_KINDS, "catch event")
    rest = words[1:]
    point = Catchpoint(0, what=what)
    if what == "helper":
        ids = session.helper_ids()
        helpers = []
        for name in rest:
            hid = ids.get(name) if not name.isdigit() else int(name)
            if hid is None:
                near = [n for n in ids if name in n][:5]
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                raise CommandError(f"unknown helper {name!r}{hint}", usage)
            helpers.append(hid)
        point.helpers = frozenset(helpers)
        point.helper_names = tuple(session.helper_name(h) for h in helpers)
    elif what == "map":
        ops = [w for w in rest if w in MAP_OPS]
        names = [w for w in rest if w not in MAP_OPS]
        if len(names) > 1:
            raise CommandError(f"catch map takes one map name, got {' '.join(names)}", usage)
        if names:
            known = [m.name for m in session.maps]
            if names[0] not in known:
                raise CommandError(f"no map {names[0]!r}; maps: {', '.join(known) or 'none'}", usage)
            point.map_name = names[0]
        point.map_ops = tuple(ops)
    elif what == "exit":
        actions: set[int] = set()
        reverse = {v: k for k, v in session.prog_kind.actions.items()}
        for word in rest:
            if word.upper() in reverse:
                actions.add(reverse[word.upper()])
            else:
                try:
                    actions.add(int(word, 0))
                except ValueError:
                    choices = ", ".join(reverse) or "numbers"
                    raise CommandError(f"unknown action {word!r}; use {choices}", usage) from None
        point.actions = frozenset(actions)
        point.action_names = tuple(rest)
    elif rest:
        raise CommandError(f"catch {what} takes no arguments", usage)
    session.catch(point)
    return CommandResult("catch", lines=[f"Catchpoint {point.number} ({point.describe()})"],
                         data={"number": point.number})  # fmt: skip
