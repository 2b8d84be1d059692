"""Reader for bpf_conformance ``.data`` test files (reference/conformance.md, part 1).

The rules are those of the suite's runner, not of its README: ``#`` starts a comment
anywhere, any remaining line containing ``--`` is a section header picked by substring
(``asm``, ``result``, ``mem``, ``raw``, ``no register offset``, `` c``, ``error``, in that
order), an unknown header makes the runner skip the whole file, ``raw`` wins over ``asm``,
and for ``result`` and ``error`` the last non-empty line counts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from emulator.asm.assembler import assemble_bytes
from emulator.errors import AsmError, EmulatorError

# (substring, section) in the order the runner tests them; None = ignored section.
_HEADERS: tuple[tuple[str, str | None], ...] = (
    ("asm", "asm"),
    ("result", "result"),
    ("mem", "mem"),
    ("raw", "raw"),
    ("no register offset", None),
    (" c", None),
    ("error", "error"),
)


class DataFileError(EmulatorError):
    """A ``.data`` file whose contents cannot be read (bad hex, bad result number)."""


@dataclass(frozen=True, slots=True)
class DataTest:
    """One conformance test.

    ``asm`` keeps the file's line numbering (lines outside the section are blank, comments
    are removed), so assembler errors point into the file. ``result`` is the expected r0
    as an unsigned 64-bit value (None without a result section; the runner then compares
    against 0). ``skip`` is the runner's reason for
    skipping the file (unknown section, neither result nor error, no instructions), or None.
    """

    asm: str | None
    raw: bytes | None
    mem: bytes
    result: int | None
    error: str | None
    skip: str | None = None

    def program(self) -> bytes:
        """Program bytes: the raw section if present, otherwise the assembled asm section.

        Raises AsmError when the asm does not assemble.
        """
        if self.raw is not None:
            return self.raw
        if self.asm is None:
            return b""
        return assemble_bytes(self.asm, dialect="conformance")

    @property
    def expected_r0(self) -> int:
        """The value the runner compares r0 with (0 when there is no result section)."""
        return 0 if self.result is None else self.result


def _clean(line: str) -> str:
    line = line.removesuffix("\r")
    cut = line.find("#")
    return line if cut < 0 else line[:cut]


def _section(header: str) -> tuple[bool, str | None]:
    """(known, section name) of a header line."""
    for needle, section in _HEADERS:
        if needle in header:
            return True, section
    return False, None


def parse_data_file(text: str) -> DataTest:
    """Parse the text of a ``.data`` file. Raises DataFileError for unreadable values."""
    sections: dict[str, list[str]] = {}
    asm_lines: dict[int, str] = {}  # file line number -> asm text, to keep error line numbers
    current: str | None = None
    for lineno, raw_line in enumerate(text.split("\n"), start=1):
        line = _clean(raw_line)
        if not line.strip():
            continue
        if "--" in line:
            known, current = _section(line)
            if not known:
                return DataTest(None, None, b"", None, None, skip=f"unknown section header {line.strip()!r}")
            if current is not None:
                sections.setdefault(current, [])
            continue
        if current is not None:
            sections[current].append(line)
        if current == "asm":
            asm_lines[lineno] = line
    asm = _numbered_text(asm_lines) if "asm" in sections else None
    raw = _raw(sections["raw"]) if sections.get("raw") else None
    mem = _mem(sections.get("mem", []))
    result = _result(sections["result"][-1]) if sections.get("result") else None
    error = sections["error"][-1].strip() if sections.get("error") else None
    skip = None
    if result is None and error is None:
        skip = "no result or error in test file"
    elif raw is None and not _has_instructions(asm):
        skip = "no instructions in test file"
    return DataTest(asm, raw, mem, result, error, skip)


def load_data_file(path: str | Path) -> DataTest:
    """Read and parse a ``.data`` file."""
    return parse_data_file(Path(path).read_text(encoding="utf-8", errors="replace"))


def _has_instructions(asm: str | None) -> bool:
    """False when the asm assembles to nothing (only labels); True also when it does not
    assemble at all, so that :meth:`DataTest.program` reports the error."""
    if not (asm or "").strip():
        return False
    try:
        return bool(assemble_bytes(asm or "", dialect="conformance"))
    except AsmError:
        return True


def _numbered_text(lines: dict[int, str]) -> str:
    """The asm lines at their file line numbers (other lines blank), so that an AsmError
    names the line of the .data file."""
    if not lines:
        return ""
    return "".join(lines.get(n, "") + "\n" for n in range(1, max(lines) + 1))


def _raw(lines: list[str]) -> bytes:
    out = bytearray()
    for token in " ".join(lines).split():
        try:
            value = int(token, 16) if token.startswith("0x") else int(token, 10)
        except ValueError:
            raise DataFileError(f"raw section: {token!r} is not a number") from None
        if not 0 <= value < 1 << 64:
            raise DataFileError(f"raw section: {token} does not fit in 64 bits")
        out += struct.pack("<Q", value)
    return bytes(out)


def _mem(lines: list[str]) -> bytes:
    out = bytearray()
    for token in " ".join(lines).split():
        try:
            out.append(int(token, 16) & 0xFF)
        except ValueError:
            raise DataFileError(f"mem section: {token!r} is not a hex byte") from None
    return bytes(out)


def _result(line: str) -> int:
    text = line.strip()
    try:
        if "0x" in text:
            value = int(text.split()[0], 16)
        else:
            value = int(text.split()[0], 10)
    except ValueError:
        raise DataFileError(f"result {text!r} is not a number") from None
    if not 0 <= value < 1 << 64:
        raise DataFileError(f"result {text} does not fit in 64 bits")
    return value
