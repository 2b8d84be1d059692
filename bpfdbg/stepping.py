"""The stepping engine: forward and reverse execution for a Session.

Forward execution hands the backend candidate pcs (breakpoints, catchpoints, temporary
stops) and runs at full speed between them, in chunks that end where the history wants a
checkpoint; the Session-side check (:meth:`Stepper._hit`) decides whether a candidate really
fires (program, condition, ignore count). Watchpoints and source-line stepping need to look
at every instruction, so they single-step and read the write journal.

Reverse execution restores the nearest checkpoint and replays forward (see bpfdbg.history).
Commands that must know the path taken (reverse-nexti, reverse-finish, reverse-step,
reverse-continue) replay the relevant interval once, recording what they need.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bpfdbg.breakpoints import Breakpoint, Catchpoint, Stoppoint, Watchpoint
from bpfdbg.events import OutputEmitted, ProgressMade, RunStarted, StateChanged, Stopped
from bpfdbg.history import Mark
from bpfdbg.locations import Site
from bpfdbg.mapstate import capture_maps
from emulator.env import RunInput
from emulator.isa.fields import CallKind
from emulator.isa.insn import Insn
from emulator.isa.table import Form
from emulator.map_memory import MapMemory
from emulator.state import Guard, StepEvent, StopCondition, StopEvent, StopReason

if TYPE_CHECKING:
    from bpfdbg.session import DebugBackend, PacketVerdict, Session

# helper ids by what they do to a map, for ``catch map NAME OP``
MAP_OPS: dict[str, frozenset[int]] = {
    "lookup": frozenset({1, 195}),
    "update": frozenset({2}),
    "delete": frozenset({3}),
    "push": frozenset({87}),
    "pop": frozenset({88}),
    "peek": frozenset({89}),
}
ANY_MAP_OP = frozenset().union(*MAP_OPS.values())
TAIL_CALL = 12


@dataclass(frozen=True)
class Goal:
    """What ends a forward run besides the program ending."""

    limit: int | None = None  # absolute position (instructions since the start of the run)
    depth: int | None = None  # stop once the call depth is at most this after a call or exit
    sites: frozenset[Site] = frozenset()  # temporary stops (until LOC, advance LOC)
    stops: bool = True  # honour breakpoints, watchpoints and catchpoints


@dataclass(frozen=True, slots=True)
class Point:
    """One position of the run as replay sees it: before the instruction at ``pc``."""

    insns: int
    pc: int
    depth: int
    program: str


# instructions after which a watched value may have changed whatever registers it reads:
# calls (helpers write memory and maps behind the journal's back; frames change), exits,
# and stores (ctx stores go to a handler, not the journal)
_MAY_WRITE_ANYTHING = frozenset({Form.CALL, Form.CALLX, Form.EXIT, Form.ST, Form.STX, Form.ATOMIC})
_REG_WORD = re.compile(r"\$?\br(\d{1,2})\b|\$fp\b")
_EVERY_STEP = re.compile(r"\$(pc|insns|retval)\b")


def watch_deps(text: str) -> frozenset[int] | None:
    """The registers a watch expression reads (so a step that writes none of them, and no
    memory, cannot change its value); None when it must be evaluated after every step."""
    if _EVERY_STEP.search(text):
        return None
    return frozenset(int(m.group(1)) if m.group(1) else 10 for m in _REG_WORD.finditer(text))


def _no_deeper(p: Point, depth: int) -> bool:
    return p.depth <= depth


PROGRESS_EVERY = 0.2  # seconds between ProgressMade events of a long command


class Stepper:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._out_seen = 0
        self._at_mark: int | None = None  # the position whose checkpoint was just restored
        self._counts: tuple[tuple[int, Any, Any], Counter[tuple[str, int]]] | None = None
        # ((position, first mark, mark at or before it), counts): the marks are kept, not
        # their ids, so a new run can never be mistaken for the cached one
        self._progress_at = time.monotonic()

    # -- plumbing ----------------------------------------------------------------------
    @property
    def b(self) -> DebugBackend:
        return self.s.machine()

    def _live(self) -> DebugBackend:
        from bpfdbg.session import NOT_RUNNING, SessionError

        s = self.s
        if s.status == "idle":
            raise SessionError(NOT_RUNNING)
        if s.status == "exited":
            raise SessionError('The program has exited; "run" starts it again, "reverse-stepi" goes back.')
        if s.status == "faulted":
            raise SessionError('The program faulted; "run" starts it again, "reverse-stepi" goes back.')
        if s.status == "budget":
            raise SessionError(
                f'The instruction budget ({s.budget}) is spent; "set budget N" raises it, "run" restarts.'
            )
        return self.s.machine()

    # -- executing through the history's edits ---------------------------------------------
    def _apply_edit(self) -> None:
        """Before executing at the current position: if the user edited the machine at this
        position earlier in the history (and we got here by executing, not by restoring that
        edit), put the edit back, so replaying the timeline passes through it."""
        pos = self.b.position()[1]
        if self._at_mark == pos:
            return
        mark = self.s.history.edit_at(pos)
        if mark is not None:
            self.b.restore(mark.checkpoint)
            self._at_mark = pos

    def _restore(self, mark: Mark) -> None:
        self.b.restore(mark.checkpoint)
        self._at_mark = mark.insns

    def exec_step(self) -> StepEvent:
        self._apply_edit()
        ev = self.b.step()
        self._at_mark = None
        return ev

    def exec_run(self, cond: StopCondition) -> StopEvent:
        """``backend.run`` that stops at the next edit position, so it can be applied."""
        self._apply_edit()
        pos = self.b.position()[1]
        edit = self.s.history.next_edit_after(pos)
        if edit is not None and (cond.max_insns is None or pos + cond.max_insns > edit):
            cond = replace(cond, max_insns=edit - pos)
        end = self.b.run(cond)
        if self.b.position()[1] != pos:
            self._at_mark = None
            self.s.last_step = None  # a fast run keeps no journal: nothing to highlight
        return end

    def run_to(self, target: int) -> None:
        """Execute (no stops) until position ``target``, applying edits on the way."""
        while True:
            pos = self.b.position()[1]
            if pos >= target:
                break
            end = self.exec_run(StopCondition(max_insns=target - pos))
            if end.reason not in (StopReason.STEP, StopReason.BREAKPOINT):
                break
        if self.b.position()[1] == target:
            self._apply_edit()

    def checkpoint(self, edit: bool = False) -> None:
        b = self.b
        cp = b.checkpoint()
        size_of = getattr(b, "checkpoint_bytes", None)
        size = size_of(cp) if size_of is not None else 4096
        self.s.history.record(b.position()[1], cp, size, edit=edit)
        if edit:
            self._at_mark = b.position()[1]

    def _output(self) -> list[str]:
        return list(getattr(self.b, "output", []))

    def _progress(self, what: str, done: int, total: int | None = None) -> None:
        """Tell subscribers a long command is still going, at most every PROGRESS_EVERY s."""
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_EVERY:
            self._progress_at = now
            self.s._publish(ProgressMade(what, done, total))

    def _flush_output(self) -> None:
        out = self._output()
        if len(out) > self._out_seen:
            self.s._publish(OutputEmitted(tuple(out[self._out_seen :])))
        self._out_seen = len(out)

    def _stopped(
        self,
        reason: str,
        number: int | None = None,
        detail: str = "",
        *,
        end: StopEvent | None = None,
        reverse: bool = False,
    ) -> Stopped:
        s = self.s
        if end is None:
            self._apply_edit()
        pc, insns, _, program = self.b.position()
        retval = action = fault = None
        if end is not None and end.reason is StopReason.EXIT:
            s.status = "exited"
            retval = end.retval
            action = s.prog_kind.action_name(retval)
        elif end is not None and end.reason is StopReason.FAULT:
            s.status = "faulted"
            fault = end.fault.message if end.fault else "fault"
        elif end is not None and end.reason is StopReason.BUDGET:
            s.status = "budget"
        else:
            s.status = "stopped"
        if not reverse:
            self._flush_output()
        else:
            self._out_seen = len(self._output())
        s.history.furthest = max(s.history.furthest, insns)
        stop = Stopped(reason, pc, program, insns, number, detail, retval, action, fault, reverse)
        s.last_stop = stop
        s.selected_frame = 0
        s._publish(stop)
        return stop

    # -- starting ----------------------------------------------------------------------------
    def start(self) -> Stopped:
        s = self.s
        b = s.machine()
        s.interrupt_event.clear()
        b.reset(s.run_input())
        s.history.clear()
        s.last_step = None
        s.maps_at_run_start = self.map_contents()
        self._out_seen = 0
        s.status = "stopped"
        self.checkpoint()
        if s.stops.watchpoints():
            self.refresh_watches()
        s._publish(RunStarted(b.position()[3], s.packet_index))
        return self._stopped("started")

    def map_contents(self) -> dict[str, Any]:
        """Every map's entries, in the shape ``map diff`` and ``map snapshot`` use."""
        return dict(capture_maps(self.s.maps))

    # -- forward ------------------------------------------------------------------------------
    def forward(self, goal: Goal) -> Stopped:
        s = self.s
        b = self._live()
        s.interrupt_event.clear()
        watches = s.stops.watchpoints() if goal.stops else []
        pcs, guards = self._candidates(goal)
        start = b.position()[1]
        while True:
            self._apply_edit()
            pc, insns, depth, program = b.position()
            if insns > start:
                hit = self._hit(pc, program, depth, goal)
                if hit is not None:
                    return hit
            if goal.limit is not None and insns >= goal.limit:
                return self._stopped("step")
            if s.interrupt_event.is_set():
                s.interrupt_event.clear()
                return self._stopped("interrupted")
            if s.history.due(insns):
                self.checkpoint()
            if watches:
                ev, stop = self._single(watches)
                if stop is not None:
                    return stop
                if goal.depth is not None and self._left_frame(ev, goal.depth):
                    return self._hit(*self._where(), goal) or self._stopped("step")
                continue
            self._progress("instructions", insns - start)
            n = s.history.next_due(insns)
            if goal.limit is not None:
                n = min(n, goal.limit - insns)
            end = self.exec_run(StopCondition(pcs, guards, n, goal.depth))
            if end.reason in (StopReason.STEP, StopReason.BREAKPOINT):
                continue
            if end.reason is StopReason.DEPTH:
                return self._hit(*self._where(), goal) or self._stopped("step")
            if end.reason is StopReason.INTERRUPTED:
                s.interrupt_event.clear()
                return self._stopped("interrupted")
            return self._ended(end)

    def _where(self) -> tuple[int, str, int]:
        pc, _, depth, program = self.b.position()
        return pc, program, depth

    def _left_frame(self, ev: StepEvent, depth: int) -> bool:
        return self.b.position()[2] <= depth and ev.pc != ev.next_pc

    def _single(self, watches: list[Watchpoint]) -> tuple[StepEvent, Stopped | None]:
        """Execute one instruction, checking watchpoints; the Stopped when one fires or the
        program ends."""
        self._apply_edit()
        pc, _, _, program = self.b.position()
        insn = self.s.program_named(program).insn_at(pc)
        reads = self._reads() if any(w.mode != "watch" for w in watches) else None
        ev = self.exec_step()
        self.s.last_step = ev
        if ev.stop is not None and ev.stop.reason in (StopReason.EXIT, StopReason.FAULT, StopReason.BUDGET):
            return ev, self._ended(ev.stop)
        unsure = insn is None or insn.info is None or insn.info.form in _MAY_WRITE_ANYTHING or bool(ev.mem)
        written = frozenset(w.reg for w in ev.regs)
        for w in watches:
            if not (unsure or w.deps is None or w.deps & written) and not reads:
                continue  # nothing the expression reads changed: its value cannot have
            stop = self._check_watch(w, ev, reads)
            if stop is not None:
                return ev, stop
        return ev, None

    def step_once(self) -> tuple[StepEvent, Stopped | None]:
        """One instruction, for the line-stepping loops: checkpoints and watchpoints kept."""
        s = self.s
        insns = self.b.position()[1]
        if s.history.due(insns):
            self.checkpoint()
        return self._single(s.stops.watchpoints())

    def _ended(self, end: StopEvent) -> Stopped:
        s = self.s
        last = s.last_stop
        caught_here = (
            last is not None
            and last.reason == "catchpoint"
            and last.insns == end.insns
            and "fault" in last.detail
        )
        if end.reason is StopReason.FAULT and not caught_here:  # reported once; going on faults
            for point in s.stops.catchpoints():
                if point.what == "fault" and self._fires(point):
                    message = end.fault.message if end.fault else "fault"
                    self.goto(end.insns)
                    return self._stopped("catchpoint", point.number, f"fault: {message}")
        return self._stopped(
            {StopReason.EXIT: "exited", StopReason.FAULT: "faulted"}.get(end.reason, "budget"), end=end
        )

    # -- what fires --------------------------------------------------------------------------
    def _candidates(self, goal: Goal) -> tuple[frozenset[int], tuple[tuple[int, Guard], ...]]:
        plain: set[int] = {site.pc for site in goal.sites}
        guarded: dict[int, list[Guard]] = {}
        if goal.stops:
            for bp in self.s.stops.breakpoints():
                if not bp.enabled:
                    continue
                guard = None
                if bp.condition and not bp.ignore:
                    from bpfdbg import expr

                    try:
                        found = expr.guard_of(bp.condition)
                    except expr.EvalError:
                        found = None
                    if found is not None:
                        guard = Guard(*found)
                for site in bp.sites:
                    if guard is None:
                        plain.add(site.pc)
                    else:
                        guarded.setdefault(site.pc, []).append(guard)
            for point in self.s.stops.catchpoints():
                for pc, cguard in self._catch_sites(point):
                    if cguard is None:
                        plain.add(pc)
                    else:
                        guarded.setdefault(pc, []).append(cguard)
        pcs = frozenset(plain | set(guarded))
        guards = tuple((pc, g) for pc, gs in sorted(guarded.items()) if pc not in plain for g in gs)
        return pcs, guards

    def _catch_sites(self, point: Catchpoint) -> list[tuple[int, Guard | None]]:
        out: list[tuple[int, Guard | None]] = []
        if point.what == "fault":
            return out
        map_guard = None
        if point.what == "map" and point.map_name is not None and self.s.obj is not None:
            index = self.s.obj.map_index(point.map_name)
            map_guard = Guard(1, "==", MapMemory.map_ptr(index))
        for prog in self.s.programs:
            for pc, insn in enumerate(prog.insns):
                if insn is None or insn.info is None:
                    continue
                if point.what == "exit" and insn.info.form is Form.EXIT:
                    out.append((pc, None))
                hid = self._helper_of(insn)
                if hid is None:
                    continue
                if point.what == "helper" and (not point.helpers or hid in point.helpers):
                    out.append((pc, None))
                elif point.what == "tailcall" and hid == TAIL_CALL:
                    out.append((pc, None))
                elif point.what == "map" and hid in self._map_ops(point):
                    out.append((pc, map_guard))
        return out

    @staticmethod
    def _helper_of(insn: Insn | None) -> int | None:
        info = insn.info if insn is not None else None
        if insn is None or info is None or info.form is not Form.CALL or info.variant != CallKind.HELPER:
            return None
        return insn.imm & 0xFFFFFFFF

    @staticmethod
    def _map_ops(point: Catchpoint) -> frozenset[int]:
        if not point.map_ops:
            return ANY_MAP_OP
        return frozenset().union(*(MAP_OPS[op] for op in point.map_ops))

    def _hit(self, pc: int, program: str, depth: int, goal: Goal) -> Stopped | None:
        self._apply_edit()
        site = Site(program, pc)
        if goal.stops:
            # every point reached here counts the hit (and uses up its ignore count), as in
            # gdb; the lowest-numbered one that fires is the one reported
            reached: list[Stoppoint] = [
                bp for bp in self.s.stops.breakpoints() if bp.enabled and site in bp.sites
            ]
            reached += [
                point
                for point in self.s.stops.catchpoints()
                if point.what != "fault" and self._catch_matches(point, pc, program, depth)
            ]
            first: Stoppoint | None = None
            for point in reached:
                fired = self._fires(point)
                if isinstance(fired, Stopped):
                    return fired
                if fired and first is None:
                    first = point
            if first is not None:
                return self._report(first)
        if site in goal.sites:
            return self._stopped("step")
        return None

    def _fires(self, point: Stoppoint) -> Stopped | bool | None:
        """Apply the condition and ignore count of a point that was reached. True: it fires;
        None: it does not; a Stopped: evaluating its condition failed (gdb stops then)."""
        if point.condition:
            from bpfdbg import expr

            try:
                holds = expr.as_int(self.s.evaluate(point.condition)) != 0
            except expr.EvalError as err:
                return self._stopped(
                    point.kind,
                    point.number,
                    f"Error in testing condition for breakpoint {point.number}: {err}",
                )
            if not holds:
                return None
        point.hits += 1
        if point.ignore > 0:
            point.ignore -= 1
            return None
        return True

    def _report(self, point: Stoppoint) -> Stopped:
        if point.once:  # enable once: disabled again after this stop
            point.once = False
            point.enabled = False
            self.s._publish(StateChanged("breakpoints"))
        if point.temporary:
            self.s.stops.delete(point.number)
            self.s._publish(StateChanged("breakpoints"))
        if isinstance(point, Catchpoint):
            return self._stopped("catchpoint", point.number, self._catch_detail(point))
        assert isinstance(point, Breakpoint)
        return self._stopped("breakpoint", point.number, "temporary" if point.temporary else "")

    def _catch_detail(self, point: Catchpoint) -> str:
        pc, program = self.b.position()[0], self.b.position()[3]
        insn = self.s.program_named(program).insn_at(pc)
        if point.what == "exit":
            r0 = self.b.registers()[0]
            action = self.s.prog_kind.action_name(r0)
            return f"exit with r0 = {r0:#x}" + (f" ({action})" if action else "")
        hid = self._helper_of(insn)
        name = self.s.helper_name(hid) if hid is not None else "?"
        if point.what == "map":
            kind = self.s.pointer_kind(self.b.registers()[1]) or f"{self.b.registers()[1]:#x}"
            return f"map call {name} on {kind}"
        if point.what == "tailcall":
            regs = self.b.registers()
            target = self.s.pointer_kind(regs[2]) or hex(regs[2])
            return f"tail call through {target} index {regs[3] & 0xFFFFFFFF}"
        return f"helper {name}"

    def _catch_matches(self, point: Catchpoint, pc: int, program: str, depth: int) -> bool:
        insn = self.s.program_named(program).insn_at(pc)
        if insn is None or insn.info is None:
            return False
        if point.what == "exit":
            if insn.info.form is not Form.EXIT or depth != 0:
                return False
            if not point.actions:
                return True
            r0 = self.b.registers()[0] & 0xFFFFFFFF
            signed = r0 - (1 << 32) if r0 >= 1 << 31 else r0
            return r0 in point.actions or signed in point.actions
        hid = self._helper_of(insn)
        if hid is None:
            return False
        if point.what == "helper":
            return not point.helpers or hid in point.helpers
        if point.what == "tailcall":
            return hid == TAIL_CALL
        if point.what == "map":
            if hid not in self._map_ops(point):
                return False
            if point.map_name is None:
                return True
            return self.s.pointer_kind(self.b.registers()[1]) == f"map_ptr({point.map_name})"
        return False

    # -- watchpoints ---------------------------------------------------------------------------
    def add_watch(self, text: str, mode: str) -> Watchpoint:
        from bpfdbg import expr
        from bpfdbg.session import SessionError

        self.s.require_started()
        try:
            lvalue = expr.lvalue_of(text, self.s.eval_env())
        except expr.EvalError as err:
            raise SessionError(f"cannot watch {text!r}: {err}") from None
        try:
            old = expr.format_value(self.s.evaluate(text), None)
        except expr.EvalError as err:
            if not isinstance(lvalue, expr.MapLoc):
                raise SessionError(f"cannot watch {text!r}: {err}") from None
            old = f"<{err}>"  # a map key that is not there yet: watched until it appears
        addr = size = None
        if isinstance(lvalue, expr.MemLoc):
            addr, size = lvalue.addr, lvalue.size
        elif mode != "watch":
            raise SessionError(f"{mode} needs memory to watch; {text!r} is not in memory (watch it instead)")
        point = Watchpoint(0, expr=text, mode=mode, old=old, addr=addr, size=size or 0, deps=watch_deps(text))
        self.s.stops.add(point)
        self.s._publish(StateChanged("breakpoints"))
        return point

    def _watch_now(self, w: Watchpoint) -> str:
        from bpfdbg import expr

        try:
            return expr.format_value(self.s.evaluate(w.expr), None)
        except expr.EvalError as err:
            return f"<{err}>"

    def _reads(self) -> list[tuple[int, int]]:
        """Memory the next instruction reads (loads and atomics), for rwatch/awatch."""
        pc, _, _, program = self.b.position()
        insn = self.s.program_named(program).insn_at(pc)
        if insn is None or insn.info is None:
            return []
        regs = self.b.registers()
        form = insn.info.form
        if form in (Form.LDX, Form.LDXSX):
            return [((regs[insn.src] + insn.off) & 0xFFFFFFFFFFFFFFFF, insn.info.size)]
        if form is Form.ATOMIC:
            return [((regs[insn.dst] + insn.off) & 0xFFFFFFFFFFFFFFFF, insn.info.size)]
        return []

    def _check_watch(
        self, w: Watchpoint, ev: StepEvent, reads: list[tuple[int, int]] | None
    ) -> Stopped | None:
        new = self._watch_now(w)
        changed = new != w.old
        read = False
        if w.addr is not None and reads:
            read = any(a < w.addr + w.size and w.addr < a + n for a, n in reads)
        fires = (
            (w.mode == "watch" and changed)
            or (w.mode == "rwatch" and read)
            or (w.mode == "awatch" and (read or changed))
        )
        if not fires:
            w.old = new
            return None
        old, w.old = w.old, new
        decision = self._fires(w)
        if decision is None:
            return None
        if isinstance(decision, Stopped):
            return decision
        if changed:
            detail = f"Old value = {old}\nNew value = {new}"
        else:
            detail = f"Value = {new}"
        return self._stopped("watchpoint", w.number, detail)

    def refresh_watches(self) -> None:
        """After moving in time, watchpoints compare against the value here."""
        for w in self.s.stops.watchpoints():
            w.old = self._watch_now(w)

    # -- forward commands ------------------------------------------------------------------
    def stepi(self, n: int = 1) -> Stopped:
        b = self._live()
        s = self.s
        watches = s.stops.watchpoints()
        for i in range(n):
            if s.history.due(b.position()[1]):
                self.checkpoint()
            ev, stop = self._single(watches)
            if stop is not None:
                return stop
            if i < n - 1:
                pc, program, depth = self._where()
                hit = self._hit(pc, program, depth, Goal())
                if hit is not None:
                    return hit
        pc, program, depth = self._where()
        return self._hit(pc, program, depth, Goal()) or self._stopped("step")

    def _advance_one(self, over_depth: int | None) -> Stopped | None:
        """One instruction; with ``over_depth``, a call it makes is run to its return. Then
        the stop points at the new position are checked exactly once. A Stopped when
        something stops the program there (a breakpoint, the end, a fault)."""
        ev, stop = self.step_once()
        if stop is not None:
            return stop
        if over_depth is not None and self.b.position()[2] > over_depth:
            stop = self.forward(Goal(depth=over_depth))  # checks the return point itself
            return None if stop.reason == "step" else stop
        pc, program, depth = self._where()
        return self._hit(pc, program, depth, Goal())

    def nexti(self, n: int = 1) -> Stopped:
        b = self._live()
        for _ in range(n):
            stop = self._advance_one(b.position()[2])
            if stop is not None:
                return stop
        return self._stopped("step")

    def step_line(self, n: int, over: bool) -> Stopped:
        b = self._live()
        for _ in range(n):
            pc, _, depth, program = b.position()
            table = self.s.lines_of(program)
            if not table:
                return self.nexti() if over else self.stepi()
            start = self._line_key(pc, program, depth)
            while True:
                stop = self._advance_one(depth if over else None)
                if stop is not None:
                    return stop
                pc, _, d, program = b.position()
                key = self._line_key(pc, program, d)
                if key is None:
                    continue
                lines = self.s.lines_of(program)
                if key != start and (lines.is_line_start(pc) or d != depth):
                    break
        return self._stopped("step")

    def _line_key(self, pc: int, program: str, depth: int) -> tuple[str, str, int, int] | None:
        src = self.s.lines_of(program).line_of(pc)
        if src is None:
            return None
        return (program, src.file, src.line, depth)

    def cont(self, ignore: int = 1) -> Stopped:
        self._live()
        last = self.s.last_stop
        if ignore > 1 and last is not None and last.number is not None:
            point = self.s.stops.get(last.number)
            if point is not None:
                point.ignore = ignore - 1
        return self.forward(Goal())

    def run(self) -> Stopped:
        """Start and continue; a breakpoint on the very first instruction stops it there."""
        self.start()
        pc, _, depth, program = self.b.position()
        return self._hit(pc, program, depth, Goal()) or self.forward(Goal())

    def finish(self) -> Stopped:
        from bpfdbg.session import SessionError

        b = self._live()
        depth = b.position()[2] - self.s.selected_frame
        if depth <= 0:
            raise SessionError('"finish" not meaningful in the outermost frame.')
        return self.forward(Goal(depth=depth - 1))

    def until(self, spec: str | None) -> Stopped:
        b = self._live()
        if spec:
            return self.advance(spec)
        pc, _, depth, program = b.position()
        while True:
            stop = self._advance_one(depth)
            if stop is not None:
                return stop
            npc, _, d, nprog = b.position()
            if d < depth or (nprog == program and npc > pc):
                return self._stopped("step")

    def advance(self, spec: str) -> Stopped:
        b = self._live()
        loc = self.s.location(spec)
        depth = b.position()[2]
        return self.forward(Goal(depth=depth - 1 if depth > 0 else None, sites=frozenset(loc.sites)))

    # -- reverse -------------------------------------------------------------------------------
    def _rewindable(self) -> DebugBackend:
        from bpfdbg.session import NOT_RUNNING, SessionError

        if self.s.status == "idle":
            raise SessionError(NOT_RUNNING)
        return self.s.machine()

    def goto(self, target: int) -> None:
        """Put the machine at position ``target`` of this run, exactly; ``last_step`` is
        the instruction that led there (for change highlighting)."""
        s = self.s
        b = s.machine()
        mark = s.history.at_or_before(max(target - 1, 0))
        assert mark is not None, "the history always holds the start of the run"
        self._restore(mark)
        self.run_to(target - 1)
        s.last_step = None
        if target > b.position()[1]:
            s.last_step = self.exec_step()
        self._apply_edit()
        s.status = "stopped" if b.run_status() in ("ready", "stopped") else s.status
        self.refresh_watches()

    def _back_to(self, target: int, reason: str = "step") -> Stopped:
        start = self.s.history.start
        if target <= start:
            self.goto(start)
            return self._stopped("history-start", reverse=True)
        self.goto(target)
        return self._stopped(reason, reverse=True)

    def _ended_here(self) -> bool:
        """A fault or a spent budget leaves the position where it was: the instruction there
        never completed. Going back one step from such an end reaches the live machine at
        that same position, just before the instruction."""
        return self.s.status in ("faulted", "budget")

    def _leave_end(self) -> bool:
        """From a fault or budget end, step back onto the live position. True if it did."""
        if not self._ended_here():
            return False
        self.goto(self.b.position()[1])
        return True

    def reverse_stepi(self, n: int = 1) -> Stopped:
        b = self._rewindable()
        here = b.position()[1]
        start = self.s.history.start
        target = here - n + (1 if self._ended_here() else 0)
        if target < start or (here == start and not self._ended_here()):
            return self._back_to(start)
        self.goto(target)
        return self._stopped("step", reverse=True)

    def _replay_to(self, position: int) -> DebugBackend:
        """Put the machine at ``position`` of this run (no earlier than the history's start)
        from the nearest checkpoint, by replay; the machine."""
        s = self.s
        mark = s.history.at_or_before(max(position, s.history.start))
        assert mark is not None
        self._restore(mark)
        self.run_to(max(position, s.history.start))
        return s.machine()

    def points(self, lo: int, hi: int) -> list[Point]:
        """Positions lo..hi-1 of the run, by replay; the machine is left at ``hi``."""
        b = self._replay_to(lo)
        out: list[Point] = []
        while True:
            self._apply_edit()
            pc, insns, depth, program = b.position()
            if insns >= hi:
                break
            out.append(Point(insns, pc, depth, program))
            ev = self.exec_step()
            if ev.stop is not None and ev.stop.reason in (
                StopReason.EXIT,
                StopReason.FAULT,
                StopReason.BUDGET,
            ):
                break
        return out

    def _search_back(self, here: int, accept: Callable[[list[Point]], int | None]) -> int | None:
        """Walk back over history intervals, latest first, until ``accept(points)`` returns
        a position; ``points`` covers one interval (up to ``here`` for the latest)."""
        s = self.s
        hi = here
        for mark in s.history.marks_before(here):
            found = accept(self.points(mark.insns, hi))
            if found is not None:
                return found
            hi = mark.insns
        return None

    def _last_where(self, here: int, wanted: Callable[[Point], bool]) -> int:
        """The latest position before ``here`` where ``wanted`` holds (else the start)."""

        def accept(pts: list[Point]) -> int | None:
            return next((p.insns for p in reversed(pts) if wanted(p)), None)

        found = self._search_back(here, accept)
        return found if found is not None else self.s.history.start

    def reverse_nexti(self, n: int = 1) -> Stopped:
        b = self._rewindable()
        if self._leave_end():
            n -= 1
        for _ in range(n):
            here, depth = b.position()[1], b.position()[2]
            if here <= self.s.history.start:
                return self._back_to(here)
            self.goto(self._last_where(here, functools.partial(_no_deeper, depth=depth)))
        return self._stopped("step", reverse=True)

    def reverse_finish(self) -> Stopped:
        from bpfdbg.session import SessionError

        b = self._rewindable()
        self._leave_end()
        here, depth = b.position()[1], b.position()[2]
        if depth == 0:
            raise SessionError('"finish" not meaningful in the outermost frame.')
        return self._back_to(self._last_where(here, lambda p: p.depth < depth))

    def reverse_line(self, n: int, over: bool) -> Stopped:
        b = self._rewindable()
        if self._leave_end():
            n -= 1
        for _ in range(n):
            pc, here, depth, program = b.position()
            if not self.s.lines_of(program):
                if over:
                    self.reverse_nexti()
                else:
                    self.reverse_stepi()
                continue
            if here <= self.s.history.start:
                return self._back_to(here)
            self.goto(self._line_start_before(here, depth, over))
        return self._stopped("step", reverse=True)

    def _line_start_before(self, here: int, depth: int, over: bool) -> int:
        """Where the source line executed just before ``here`` began (a line's execution may
        span history intervals, so the scan keeps its state from one to the next)."""
        key: tuple[str, str, int, int] | None = None
        found: int | None = None

        def accept(pts: list[Point]) -> int | None:
            nonlocal key, found
            for p in reversed(pts):
                if over and p.depth > depth:
                    continue
                k = self._line_key(p.pc, p.program, p.depth)
                if k is None:
                    continue
                if key is None:
                    key = k
                elif k != key:
                    return found
                found = p.insns
            return None

        result = self._search_back(here, accept)
        if result is not None:
            return result
        return found if found is not None else self.s.history.start

    def reverse_continue(self) -> Stopped:
        b = self._rewindable()
        s = self.s
        here = b.position()[1] + (1 if self._ended_here() else 0)
        if here <= s.history.start:
            return self._back_to(s.history.start)
        watches = s.stops.watchpoints()
        wanted = watches or s.stops.breakpoints() or s.stops.catchpoints()
        if not wanted:
            return self._back_to(s.history.start)
        hi = here
        for mark in s.history.marks_before(here):
            found = self._last_stop_between(mark.insns, hi, watches)
            if found is not None:
                position, point, detail = found
                self.goto(position)
                return self._stopped(
                    "watchpoint" if isinstance(point, Watchpoint) else point.kind,
                    point.number,
                    detail,
                    reverse=True,
                )
            hi = mark.insns
        return self._back_to(s.history.start)

    def _last_stop_between(
        self, lo: int, hi: int, watches: list[Watchpoint]
    ) -> tuple[int, Stoppoint, str] | None:
        """The last position in [lo, hi) where a breakpoint or catchpoint would stop, or
        where a watched value changes (reported at the instruction that changed it)."""
        s = self.s
        pts = self.points(lo, hi)
        last: tuple[int, Stoppoint, str] | None = None
        mark = s.history.at_or_before(lo)
        assert mark is not None
        self._restore(mark)
        self.run_to(lo)
        values = {w.number: self._watch_now(w) for w in watches}
        for p in pts:
            for bp in s.stops.breakpoints():
                if bp.enabled and Site(p.program, p.pc) in bp.sites and self._condition_holds(bp):
                    if last is None or last[0] != p.insns:  # the lowest number wins at one place
                        last = (p.insns, bp, "")
            for point in s.stops.catchpoints():
                if point.what != "fault" and self._catch_matches(point, p.pc, p.program, p.depth):
                    if self._condition_holds(point) and (last is None or last[0] != p.insns):
                        last = (p.insns, point, self._catch_detail(point))
            self.exec_step()
            for w in watches:
                now = self._watch_now(w)
                if now != values[w.number]:
                    last = (p.insns, w, f"Old value = {now}\nNew value = {values[w.number]}")
                    values[w.number] = now
        return last

    def _condition_holds(self, point: Stoppoint) -> bool:
        if not point.condition:
            return True
        from bpfdbg import expr

        try:
            return expr.as_int(self.s.evaluate(point.condition)) != 0
        except expr.EvalError:
            return True

    # -- execution counts ---------------------------------------------------------------------
    def exec_counts(self) -> Counter[tuple[str, int]]:
        """How often each instruction ran in this run so far, by (program, pc); an
        instruction that faulted counts, since it was reached. The run is replayed from its
        start, then the machine is put back exactly as it was."""
        s = self.s
        b = self.s.machine()
        if s.status == "idle":
            return Counter()
        here = b.position()[1] + (1 if self._ended_here() else 0)
        first = s.history.at_or_before(s.history.start)
        cached = self._counts
        lo = s.history.start
        counts: Counter[tuple[str, int]] = Counter()
        if cached is not None:
            (done, run, mark), known = cached
            # the same run and the same recorded past up to ``done``: count only what follows
            if run is first and done <= here and s.history.at_or_before(done) is mark:
                if done == here:
                    return known
                lo, counts = done, Counter(known)
        saved = b.checkpoint()
        last_step, at_mark = s.last_step, self._at_mark
        try:
            self._count_blocks(lo, here, counts)
        finally:
            b.restore(saved)
            s.last_step, self._at_mark = last_step, at_mark
        self._counts = ((here, first, s.history.at_or_before(here)), counts)
        return counts

    def _leaders(self) -> frozenset[int]:
        """Every pc where a straight run of instructions can begin, in any program: entries,
        functions, jump targets and whatever follows a jump, call or exit. Between two of
        them execution is sequential, so a run that stops only at these tells every
        instruction it executed by counting."""
        out = {0}
        for prog in self.s.programs:
            out.update(prog.symbols)
            for pc, insn in enumerate(prog.insns):
                if insn is None or insn.info is None:
                    continue
                form = insn.info.form
                if form in (
                    Form.JA,
                    Form.JA32,
                    Form.JCOND_REG,
                    Form.JCOND_IMM,
                    Form.CALL,
                    Form.CALLX,
                    Form.EXIT,
                ):
                    out.add(pc + insn.slots)
                    target = insn.jump_target(pc)
                    if target is not None:
                        out.add(target)
                    if form is Form.JA32:
                        out.add(pc + 1 + insn.imm)
                    if form is Form.CALL and insn.info.variant == CallKind.LOCAL:
                        out.add(pc + 1 + insn.imm)
        return frozenset(out)

    def _count_blocks(self, lo: int, hi: int, counts: Counter[tuple[str, int]]) -> None:
        """Add to ``counts`` every instruction executed at positions lo..hi-1, by replay at
        run speed: the machine stops only at block leaders (see _leaders) and each stretch
        between two stops is counted by walking its instructions. The machine is left at
        ``hi`` (or where the run ended before it)."""
        s = self.s
        b = self._replay_to(lo)
        leaders = self._leaders()
        while True:
            self._apply_edit()
            pc, insns, _, program = b.position()
            if insns >= hi:
                return
            end = self.exec_run(StopCondition(leaders, (), hi - insns))
            after = b.position()[1]
            executed = after - insns
            if end.reason in (StopReason.FAULT, StopReason.BUDGET):
                executed += 1  # the instruction that faulted, or where the budget ran out, was reached
            prog = s.program_named(program)
            for _ in range(executed):
                counts[(program, pc)] += 1
                insn = prog.insn_at(pc)
                pc += insn.slots if insn is not None else 1
            if end.reason not in (StopReason.STEP, StopReason.BREAKPOINT):
                return

    # -- whole captures --------------------------------------------------------------------
    def run_all(
        self, limit: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> list[PacketVerdict]:
        """Every packet of the capture, start to end, ignoring breakpoints; maps carry over
        from packet to packet as they would on a real interface."""
        from bpfdbg.session import PacketVerdict, SessionError

        s = self.s
        if not s.packets:
            raise SessionError('no capture is loaded; load one with "load pcap FILE"')
        b = s.machine()
        kind = s.prog_kind
        packets = s.packets[: limit or len(s.packets)]
        verdicts: list[PacketVerdict] = []
        s.interrupt_event.clear()
        for i, pkt in enumerate(packets):
            if s.interrupt_event.is_set():
                s.interrupt_event.clear()
                break
            b.reset(RunInput(packet=pkt.data, ctx=dict(s.ctx_values), budget=s.budget, cpu=s.cpu))
            end = b.run(StopCondition())
            fault = end.fault.message if end.fault else None
            verdicts.append(
                PacketVerdict(
                    pkt.index,
                    len(pkt.data),
                    end.retval,
                    kind.action_name(end.retval) if end.reason is StopReason.EXIT else None,
                    end.insns,
                    fault,
                    end.pc if end.fault else None,
                    end.reason is StopReason.BUDGET,
                )
            )
            if progress is not None:
                progress(i + 1, len(packets))
            self._progress("packets", i + 1, len(packets))
        s.verdicts = verdicts
        s.status = "idle"
        s.history.clear()
        s.last_step = None
        s.last_stop = None
        s._publish(StateChanged("maps"))
        return verdicts
