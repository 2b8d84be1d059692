"""bpfdbg: the debugger (Session, breakpoints, history, lockstep, commands, console, CLI).

It drives the machines of :mod:`emulator` and never imports a UI toolkit other than
prompt_toolkit in :mod:`bpfdbg.console`.
"""

__version__ = "0.1.0"
