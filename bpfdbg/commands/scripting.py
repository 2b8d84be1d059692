"""Scripting: ``source``, ``define``/``document``, ``python``, ``expect``, ``echo``, ``quit``.

These are gdb's scripting verbs (reference/ux_anchors.md 1.3) plus ``expect``, the one new
verb: an assertion a CI script can make about a run (a register, a verdict, a map value),
so ``bpfdbg console --batch`` exits non-zero when a program stops doing what it should.

Multi-line constructs (``define NAME``, ``document NAME``, ``python`` on its own) only
*begin* a block here; the interpreter collects the lines up to ``end`` and hands them to
:func:`finish_block`. Other command families can add block kinds of their own (a
breakpoint's ``commands N ... end``) with :func:`block_handler`, so the interpreter never
needs to know them.
"""

from __future__ import annotations

import builtins
import code
import contextlib
import io
import re
import sys
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfdbg.commands.common import split_args
from bpfdbg.commands.registry import (
    CommandError,
    CommandResult,
    alias_table,
    all_commands,
    command,
    sub_of,
)

if TYPE_CHECKING:
    from bpfdbg.session import PacketVerdict, Session

BlockHandler = Callable[["Session", str, list[str]], CommandResult]
_BLOCK_HANDLERS: dict[str, BlockHandler] = {}


def block_handler(kind: str) -> Callable[[BlockHandler], BlockHandler]:
    """Register what happens when a ``kind`` block (begun with
    ``session.interpreter.begin_block(kind, name)``) reaches its ``end``."""

    def register(fn: BlockHandler) -> BlockHandler:
        if kind in _BLOCK_HANDLERS:
            raise ValueError(f"block kind {kind!r} registered twice")
        _BLOCK_HANDLERS[kind] = fn
        return fn

    return register


def finish_block(session: Session, kind: str, name: str, lines: list[str]) -> CommandResult:
    """Called by the interpreter with the lines of a block once its ``end`` arrives."""
    handler = _BLOCK_HANDLERS.get(kind)
    if handler is None:
        return CommandResult(kind, ok=False, error=f"internal error: no handler for {kind!r} blocks")
    try:
        return handler(session, name, lines)
    except CommandError as err:
        return CommandResult(kind, ok=False, error=err.message, usage=err.usage)


def _block_hint(what: str) -> dict[str, str]:
    """The console prints ``hint`` when a block begins at the terminal (gdb does the same
    only when the command came from a terminal, so scripts stay quiet)."""
    return {"hint": f'Type {what}.\nEnd with a line saying just "end".'}


# -- source ------------------------------------------------------------------------------------
@command("source", category="scripting", completes="file")
def cmd_source(session: Session, args: str) -> CommandResult:
    """source FILE

    Run the commands in FILE, one per line, as if typed. Stops at the first command that
    fails and reports it as FILE:LINE: message (like gdb). Lines starting with # are comments.
    """
    words = split_args(args)
    if len(words) != 1:
        raise CommandError("source needs exactly one file name", "source FILE")
    path = Path(words[0]).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not a text file of commands") from None
    result = session.interpreter.run_script(text.splitlines(), where=str(words[0]))
    result.command = "source"
    return result


# -- define / document -------------------------------------------------------------------------
_NAME = re.compile(r"[A-Za-z_][\w-]*$")


def _builtin(name: str) -> bool:
    return name in alias_table() or any(c.name == name for c in all_commands())


@command("define", category="scripting")
def cmd_define(session: Session, args: str) -> CommandResult:
    """define NAME

    Define a new command NAME from the lines that follow, up to a line saying "end".
    Inside, $arg0, $arg1, ... are the words given to NAME and $argc their number.
    Defining NAME again replaces it; "document NAME" gives it help text.
    """
    name = args.strip()
    if not name:
        raise CommandError("define needs the name of the new command", "define NAME")
    if not _NAME.match(name):
        raise CommandError(f"{name!r} cannot be a command name: use letters, digits, - and _")
    if _builtin(name):
        raise CommandError(f'"{name}" is a built-in command; choose another name')
    session.interpreter.begin_block("define", name)
    return CommandResult("define", data=_block_hint(f'commands for definition of "{name}"'))


@block_handler("define")
def _finish_define(session: Session, name: str, lines: list[str]) -> CommandResult:
    session.user_commands[name] = [line.strip() for line in lines if line.strip()]
    return CommandResult("define")


@command("document", category="scripting")
def cmd_document(session: Session, args: str) -> CommandResult:
    """document NAME

    Give the user-defined command NAME help text: the lines that follow, up to "end".
    "help NAME" shows it; its first line is the summary "help" lists.
    """
    name = args.strip()
    if not name:
        raise CommandError("document needs the name of a user-defined command", "document NAME")
    if name not in session.user_commands:
        if _builtin(name):
            raise CommandError(
                f'"{name}" is a built-in command; only user-defined commands can be documented'
            )
        raise CommandError(f'undefined command: "{name}"; define it first with "define {name}"')
    session.interpreter.begin_block("document", name)
    return CommandResult("document", data=_block_hint(f'documentation for "{name}"'))


@block_handler("document")
def _finish_document(session: Session, name: str, lines: list[str]) -> CommandResult:
    session.user_docs[name] = "\n".join(line.strip() for line in lines).strip()
    return CommandResult("document")


@sub_of("show", "user")
def show_user(session: Session, args: str) -> CommandResult:
    """show user [NAME]

    Show the definition of user-defined command NAME (or of all of them).
    """
    names = [args.strip()] if args.strip() else sorted(session.user_commands)
    lines: list[str] = []
    for name in names:
        if name not in session.user_commands:
            raise CommandError(f'"{name}" is not a user-defined command')
        lines.append(f'User command "{name}":')
        lines.extend(f"  {line}" for line in session.user_commands[name])
    return CommandResult("show user", lines=lines or ["No user-defined commands."])


# -- python ------------------------------------------------------------------------------------
class CommandFailed(Exception):
    """Raised by ``execute()`` inside Python code when the command fails, so a script stops
    at the first failure (as gdb.execute raises gdb.error)."""

    def __init__(self, result: CommandResult) -> None:
        super().__init__(result.error or "command failed")
        self.result = result


_NAMESPACE_ATTR = "python"


class _Runner:
    """What ``execute()`` inside Python code did: so a failed ``expect`` run from Python
    still fails the ``python`` command (and the batch run)."""

    def __init__(self) -> None:
        self.expect_failed = False


_CURRENT: list[_Runner] = []


def python_namespace(session: Session) -> dict[str, Any]:
    """The globals Python code runs in; one per session and kept between commands, like
    gdb's ``__main__``, so a function defined in one ``python`` block works in the next."""
    # Kept on the session itself (not in a module-level table that would keep every
    # session alive): the namespace refers back to the session, a cycle the GC collects.
    namespace: dict[str, Any] | None = session.command_state.get(_NAMESPACE_ATTR)
    if namespace is None:

        def execute(line: str, to_string: bool = False) -> CommandResult | str:
            """Run a command line. Prints its output (or returns it with to_string=True);
            raises CommandFailed when the command fails."""
            result = session.execute(line)
            if _CURRENT and result.expect_failed:
                _CURRENT[-1].expect_failed = True
            if not result.ok:
                raise CommandFailed(result)
            if to_string:
                return "\n".join(result.lines)
            if result.lines:
                print("\n".join(result.lines))
            return result

        namespace = {
            "__name__": "__bpfdbg__",
            "__builtins__": builtins,
            "session": session,
            "s": session,
            "execute": execute,
            "evaluate": session.evaluate,
            "CommandFailed": CommandFailed,
        }
        session.command_state[_NAMESPACE_ATTR] = namespace
    return namespace


def _python_error(err: BaseException, source_name: str) -> str:
    """One line: the exception and where in the user's code it happened."""
    if isinstance(err, SyntaxError):
        where = f" (line {err.lineno})" if err.lineno else ""
        return f"Python Exception <SyntaxError>: {err.msg}{where}"
    line = ""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename == source_name:
            line = f" (line {frame.lineno})"
            break
    detail = str(err)
    return (
        f"Python Exception <{type(err).__name__}>: {detail}{line}"
        if detail
        else (f"Python Exception <{type(err).__name__}>{line}")
    )


def run_python(session: Session, source: str, mode: str = "exec") -> CommandResult:
    """Run Python code with the session in scope; what it prints becomes the result's lines."""
    name = "<python>"
    namespace = python_namespace(session)
    out = io.StringIO()
    runner = _Runner()
    error: str | None = None
    _CURRENT.append(runner)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                compiled = compile(source, name, mode)
                exec(compiled, namespace)
            except SystemExit:
                error = "Python code called exit(); use the quit command to leave bpfdbg"
            except CommandFailed as err:
                error = str(err) if err.result.expect_failed else f"Python: command failed: {err}"
            except Exception as err:
                error = _python_error(err, name)
    finally:
        _CURRENT.pop()
    lines = out.getvalue().splitlines()
    result = CommandResult("python", lines=lines)
    if error is not None:
        result.ok, result.error = False, error
    if runner.expect_failed:
        result.ok, result.expect_failed = False, True
        result.error = result.error or "an expect run from Python failed"
    return result


@command("python", aliases=("py",), category="scripting")
def cmd_python(session: Session, args: str) -> CommandResult:
    """python [CODE]

    Run Python code with the debugger in scope: "session" (also "s") is the Session,
    execute("CMD") runs a command line and evaluate("EXPR") an expression. With no CODE,
    the lines that follow up to "end" are the code. What the code prints is shown.
    """
    if not args.strip():
        session.interpreter.begin_block("python", "")
        return CommandResult("python", data=_block_hint("Python code"))
    return run_python(session, args.strip())


@block_handler("python")
def _finish_python(session: Session, name: str, lines: list[str]) -> CommandResult:
    return run_python(session, textwrap.dedent("\n".join(lines)))


@command("python-interactive", aliases=("pi",), category="scripting")
def cmd_python_interactive(session: Session, args: str) -> CommandResult:
    """python-interactive [EXPR]

    Start an interactive Python prompt with the session in scope (Ctrl-D returns to bpfdbg).
    With EXPR, evaluate it and print its value, as the Python prompt would.
    """
    if args.strip():
        return run_python(session, args.strip(), mode="single")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            'python-interactive needs a terminal; in scripts use "python CODE" or "python" ... "end"'
        )
    console = code.InteractiveConsole(locals=python_namespace(session))
    console.interact(
        banner='Python with the bpfdbg session in scope: session (s), execute("CMD"), evaluate("EXPR").\n'
        "Ctrl-D returns to bpfdbg.",
        exitmsg="",
    )
    return CommandResult("python-interactive")


# -- echo and quit -----------------------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "e": "\x1b", "\\": "\\", '"': '"', "'": "'", " ": " "}


def unescape(text: str) -> str:
    r"""gdb's echo escapes: ``\n``, ``\t``, ``\\``, ``\"``, ``\ `` (a kept space), ``\xHH``, ``\NNN``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            if ch != "\\":
                out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x" and re.match(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[i + 1 :])
            assert digits is not None
            out.append(chr(int(digits.group(0), 8)))
            i += 1 + len(digits.group(0))
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


@command("echo", category="scripting")
def cmd_echo(session: Session, args: str) -> CommandResult:
    r"""echo TEXT

    Print TEXT. C escapes work: \n for a new line, \t, \\, \" and "\ " for a leading space.
    """
    text = unescape(args)
    if text.endswith("\n"):
        text = text[:-1]
    return CommandResult("echo", lines=text.split("\n") if text else [])


@command("quit", aliases=("q", "exit"), category="support")
def cmd_quit(session: Session, args: str) -> CommandResult:
    """quit [STATUS]

    Leave bpfdbg (Ctrl-D does the same). With STATUS, that is the exit status of a batch run.
    """
    status: int | None = None
    if args.strip():
        try:
            status = int(args.strip(), 0)
        except ValueError:
            raise CommandError(
                f"the exit status must be a number, not {args.strip()!r}", "quit [STATUS]"
            ) from None
    return CommandResult("quit", quit=True, data={"status": status})


# -- expect ------------------------------------------------------------------------------------
_EXPECT_USAGE = (
    "expect EXPR | expect action NAME | expect map NAME[KEY] OP VALUE | expect exit [NAME] | expect fault"
)
_LITERAL = re.compile(r"-?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|\d+)[uUlL]*$|'(\\.|[^'])'$")


def _failed(message: str) -> CommandResult:
    return CommandResult("expect", ok=False, expect_failed=True, error=f"expect failed: {message}")


def split_comparison(text: str) -> tuple[str, str, str] | None:
    """``"$r0 == 2"`` -> ``("$r0", "==", "2")``: the one comparison at the top level of an
    expression (outside brackets, not part of ``<<``, ``>>``, ``->``), or None when there is
    none, several, or a ``&&``/``||`` joins them."""
    depth = 0
    found: list[tuple[int, str]] = []
    i = 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            two = text[i : i + 2]
            if two in ("&&", "||"):
                return None
            if two in ("<<", ">>", "->"):
                i += 2
                continue
            if two in ("==", "!=", "<=", ">="):
                found.append((i, two))
                i += 2
                continue
            if ch in "<>":
                found.append((i, ch))
        i += 1
    if len(found) != 1:
        return None
    pos, op = found[0]
    left, right = text[:pos].strip(), text[pos + len(op) :].strip()
    if not left or not right:
        return None
    return left, op, right


def _show(value: Any) -> str:
    """A value the way ``print`` shows it (the expression module's formatter), with a plain
    fallback so a failed expectation is always reported."""
    try:
        from bpfdbg import expr

        return str(expr.format_value(value, None))
    except Exception:
        return str(value)


def _truth(value: Any) -> bool:
    from bpfdbg import expr

    try:
        return expr.as_int(value) != 0
    except Exception as err:
        raise CommandError(f"expect needs a number or a comparison; got {_show(value)} ({err})") from None


def _evaluate(session: Session, text: str) -> Any:
    """session.evaluate with expression errors turned into one-line command errors."""
    from bpfdbg import expr

    try:
        return session.evaluate(text)
    except expr.EvalError as err:
        raise CommandError(f"cannot evaluate {text!r}: {err}") from None


def _expect_expression(session: Session, text: str, shown: str | None = None) -> CommandResult:
    value = _evaluate(session, text)
    if _truth(value):
        return CommandResult("expect", data={"expect": "held"})
    label = shown or text
    parts = split_comparison(text)
    details: list[str] = []
    if parts is not None:
        for side in (parts[0], parts[2]):
            if _LITERAL.match(side):
                continue
            try:
                details.append(f"{side} is {_show(_evaluate(session, side))}")
            except CommandError:
                pass
    else:
        details.append(f"value {_show(value)}")
    suffix = f" ({', '.join(details)})" if details else ""
    return _failed(f"{label}{suffix}")


def _outcome(action: str | None, retval: int | None, fault: str | None, budget: bool) -> str:
    """How a run ended, in the words of the failure messages."""
    if fault:
        return f"faulted: {fault}"
    if budget:
        return "ran out of instruction budget"
    if action:
        return f"ended {action}"
    if retval is not None:
        return f"ended with r0 = {retval:#x} ({retval})"
    return "did not end"


def _action_matches(want: str, action: str | None, retval: int | None) -> bool:
    """``XDP_DROP`` matches action XDP_DROP; so do ``drop`` and ``1`` (the r0 value)."""
    try:
        number = int(want, 0)
    except ValueError:
        number = None
    if number is not None:
        return retval is not None and (retval & 0xFFFFFFFF) == (number & 0xFFFFFFFF)
    if action is None:
        return False
    upper = want.upper()
    return action.upper() == upper or action.upper().endswith("_" + upper)


def _verdict_text(verdict: PacketVerdict) -> str:
    return _outcome(verdict.action, verdict.retval, verdict.fault, verdict.budget)


Predicate = Callable[[str | None, int | None, str | None, bool], bool]


def _expect_outcome(session: Session, what: str, holds: Predicate) -> CommandResult:
    """Check how the current run ended; when no run is in progress and ``run all``
    results exist, check every packet and report the first that does not match."""
    status = session.status
    stop = session.last_stop
    if status in ("exited", "faulted", "budget") and stop is not None:
        action, retval, fault = stop.action, stop.retval, stop.fault
        budget = status == "budget"
        if status == "faulted" and fault is None:
            fault = stop.detail or "fault"
        if holds(action, retval, fault, budget):
            return CommandResult("expect", data={"expect": "held"})
        who = f"packet {session.packet_index + 1}" if session.packet_index is not None else "the run"
        return _failed(f"{who} {_outcome(action, retval, fault, budget)}")
    if status == "stopped" and stop is not None:
        return _failed(f'expected {what}, but the run is stopped at insn {stop.pc}; "continue" ends it')
    if session.verdicts:
        for verdict in session.verdicts:
            if not holds(verdict.action, verdict.retval, verdict.fault, verdict.budget):
                return _failed(f"packet {verdict.index + 1} {_verdict_text(verdict)}")
        return CommandResult("expect", data={"expect": "held", "packets": len(session.verdicts)})
    return _failed(f'expected {what}, but nothing has run yet; use "run" or "run all" first')


def _expect_action(session: Session, rest: str, keyword: str) -> CommandResult:
    names = rest.split()
    if not names:
        raise CommandError(
            f"expect {keyword} needs an action name like XDP_DROP or an r0 value", _EXPECT_USAGE
        )

    def holds(action: str | None, retval: int | None, fault: str | None, budget: bool) -> bool:
        return not fault and not budget and any(_action_matches(n, action, retval) for n in names)

    return _expect_outcome(session, " or ".join(names), holds)


def _expect_exit(session: Session, rest: str) -> CommandResult:
    if rest.strip():
        return _expect_action(session, rest, "exit")
    return _expect_outcome(session, "an exit", lambda a, r, fault, budget: not fault and not budget)


def _expect_fault(session: Session, rest: str) -> CommandResult:
    text = rest.strip().strip('"')

    def holds(action: str | None, retval: int | None, fault: str | None, budget: bool) -> bool:
        return bool(fault) and text.lower() in (fault or "").lower()

    return _expect_outcome(session, f"a fault{f' ({text})' if text else ''}", holds)


_MAP_REF = re.compile(r"\s*([A-Za-z_][\w.]*)\s*\[")


def _expect_map(session: Session, rest: str) -> CommandResult:
    m = _MAP_REF.match(rest)
    if m is None:
        raise CommandError("expect map needs NAME[KEY], e.g. expect map counters[0] == 3", _EXPECT_USAGE)
    name = m.group(1)
    names = [mp.name for mp in session.maps]
    if name not in names:
        listed = ", ".join(names) or "none"
        raise CommandError(f"no map {name!r}; maps: {listed}")
    return _expect_expression(session, rest.strip(), shown=f"map {rest.strip()}")


@command("expect", category="scripting", completes="expr")
def cmd_expect(session: Session, args: str) -> CommandResult:
    """expect EXPR | expect action NAME... | expect map NAME[KEY] OP VALUE | expect exit | expect fault

    Check something, for scripts and CI: "bpfdbg console --batch" exits with status 1 when
    an expect fails. "expect $r0 == 2" holds when the expression is non-zero.
    "expect action XDP_DROP" (or "expect verdict ...") holds when the current run ended
    with that action; with no finished run, every packet of the last "run all" must.
    "expect map counters[0].packets == 3" checks a map value. "expect exit" holds when
    the run ended without a fault, "expect fault [TEXT]" when it faulted.
    """
    text = args.strip()
    if not text:
        raise CommandError("expect needs something to check", _EXPECT_USAGE)
    word, _, rest = text.partition(" ")
    if word in ("action", "verdict"):
        return _expect_action(session, rest, word)
    if word == "exit":
        return _expect_exit(session, rest)
    if word == "fault":
        return _expect_fault(session, rest)
    if word == "map":
        return _expect_map(session, rest)
    return _expect_expression(session, text)
