"""The exception hierarchy of the emulator.

Only problems with *inputs given to us* (bytes that do not decode, text that does not
assemble, files that do not load) are exceptions. Things a running program does wrong are
faults: data carried by a StopEvent (see :mod:`emulator.state`).
"""

from __future__ import annotations

from collections.abc import Sequence

from emulator.diagnostics import Diagnostic


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose."""


class DecodeError(EmulatorError):
    """Bytes that are not a valid eBPF program; carries every diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        more = len(self.diagnostics) - 1
        text = str(first) if first else "invalid program"
        if more > 0:
            text += f" (and {more} more)"
        super().__init__(text)


class AsmError(EmulatorError):
    """Assembler input that cannot be assembled; names the line."""

    def __init__(self, message: str, line: int | None = None, text: str = "") -> None:
        self.reason = message
        self.line = line
        self.text = text
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}" + (f": {text.strip()!r}" if text.strip() else ""))


class ElfLoadError(EmulatorError):
    """An object file that cannot be loaded; the message names the file and the problem
    and says what to do about it."""
