"""The gdb-like console (DESIGN.md "Layers"): the only part of bpfdbg that imports
prompt_toolkit, so the rest of the debugger stays usable headless and from the TUI.

``Console`` is the REPL, ``BpfdbgCompleter`` its Tab completion (a plain prompt_toolkit
Completer, testable without a terminal).
"""

from __future__ import annotations

from bpfdbg.console.completer import BpfdbgCompleter
from bpfdbg.console.repl import Console, history_path, run_console

__all__ = ["BpfdbgCompleter", "Console", "history_path", "run_console"]
