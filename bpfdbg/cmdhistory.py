"""The command history file, shared by the console and the TUI's command bar.

The console keeps its history with prompt_toolkit's ``FileHistory``; the TUI may not import
prompt_toolkit (pyproject.toml's import-linter contracts), so this module reads and writes the
same file in the same format, and a command typed in one front end comes back with the arrow
keys in the other. The format (prompt_toolkit/history.py, ``FileHistory``): each entry is a
blank line, a ``# <timestamp>`` line, then the entry's lines each prefixed with "+"; a reader
joins the "+" lines of a run and any other line ends the run.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

__all__ = ["HISTORY_ENV", "append_history", "history_path", "load_history"]

HISTORY_ENV = "BPFDBG_HISTORY"


def history_path() -> Path:
    """Where the command history lives: ``$BPFDBG_HISTORY`` or ``~/.bpfdbg_history``."""
    configured = os.environ.get(HISTORY_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".bpfdbg_history"


def load_history(path: Path) -> list[str]:
    """The entries of a history file, oldest first (the order to append to and walk back
    through; ``FileHistory.load_history_strings`` gives the reverse).

    A missing or unreadable file is an empty history: the history is a convenience and must
    never keep a front end from starting. Bytes that are not UTF-8 become U+FFFD, as in
    prompt_toolkit, so one bad byte does not lose the whole file.
    """
    entries: list[str] = []
    run: list[str] = []
    try:
        with open(path, "rb") as f:
            # Split on b"\n" only, as prompt_toolkit does: a "\r" inside an entry stays in it.
            for raw in f:
                text = raw.decode("utf-8", errors="replace")
                if text.startswith("+"):
                    run.append(text[1:])
                    continue
                if run:
                    entries.append("".join(run).removesuffix("\n"))
                run = []
    except OSError:
        return []
    if run:
        entries.append("".join(run).removesuffix("\n"))
    return entries


def append_history(path: Path, line: str) -> str | None:
    """Add one entry (several lines for a multi-line one) to the end of the history file.

    Returns a warning to show instead of raising when the file cannot be written, so a read-only
    home directory costs the history and nothing else. An empty entry is not stored, the same
    rule prompt_toolkit's prompt follows, so pressing Enter on a blank line leaves no trace. The
    entry goes out in one write to an append-mode file, so the console and the TUI appending to
    the same file at once do not interleave their lines.
    """
    if not line:
        return None
    record = f"\n# {datetime.datetime.now()}\n" + "".join(f"+{part}\n" for part in line.split("\n"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            f.write(record.encode("utf-8"))
    except OSError as err:
        return f"warning: history is not saved: cannot write {path}: {err.strerror or err}"
    return None
