"""Small argument parsers shared by the command families."""

from __future__ import annotations

import shlex

from bpfdbg.commands.registry import CommandError


def parse_int(text: str, what: str, usage: str | None = None) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise CommandError(f"{what} must be a number, not {text!r}", usage) from None


def parse_count(args: str, usage: str, default: int = 1) -> int:
    """An optional positive repeat count (``stepi 5``)."""
    text = args.strip()
    if not text:
        return default
    value = parse_int(text, "the count", usage)
    if value < 1:
        raise CommandError(f"the count must be at least 1, not {value}", usage)
    return value


def split_args(args: str) -> list[str]:
    """Shell-like words (quotes group, for file names with spaces)."""
    try:
        return shlex.split(args)
    except ValueError as err:
        raise CommandError(f"cannot parse the arguments: {err}") from None


def parse_numbers(args: str, usage: str) -> list[int]:
    """Breakpoint numbers, with gdb's ranges (``delete 1 3-5``)."""
    out: list[int] = []
    for word in args.split():
        if "-" in word.strip("-"):
            lo, _, hi = word.partition("-")
            a, b = parse_int(lo, "a breakpoint number", usage), parse_int(hi, "a breakpoint number", usage)
            out.extend(range(a, b + 1))
        else:
            out.append(parse_int(word, "a breakpoint number", usage))
    return out


def hex_bytes(data: bytes) -> str:
    """``06 00 00 50`` (bpftool's plain key/value form)."""
    return " ".join(f"{b:02x}" for b in data)
