"""``info``, ``set`` and ``show``: prefix commands whose subcommands come from every family
(``info registers`` from the data commands, ``info breakpoints`` from the breakpoint ones)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfdbg.commands.registry import CommandResult, command, dispatch_sub

if TYPE_CHECKING:
    from bpfdbg.session import Session


@command("info", aliases=("i", "inf"), category="status", completes="info")
def cmd_info(session: Session, args: str) -> CommandResult:
    """info SUBCOMMAND [ARGS]

    Show things about the program being debugged: registers, breakpoints, frame, display,
    line, program, source, maps. "info" followed by a subcommand name (or a unique prefix).
    """
    return dispatch_sub("info", session, args)


@command("set", category="data", completes="set")
def cmd_set(session: Session, args: str) -> CommandResult:
    """set SUBCOMMAND ARGS

    Change something: "set var $r1 = 5", "set var *(u32 *)($r10 - 8) = 0", "set budget N",
    "set history-limit BYTES", "set packet HEX|SPEC", "set ctx FIELD VALUE".
    """
    return dispatch_sub("set", session, args)


@command("show", category="status", completes="show")
def cmd_show(session: Session, args: str) -> CommandResult:
    """show SUBCOMMAND

    Show a setting: "show budget", "show history", "show version".
    """
    return dispatch_sub("show", session, args)
