"""The in-process bpf_conformance runner: ``bpfdbg conformance DIR``.

Reads the suite's ``.data`` files (reference/conformance.md, part 1), assembles each with
our assembler, runs it on a backend under the suite's conventions (r1 = private copy of
the memory, r2 = its length) and compares r0. The official runner starts a plugin process
per test (``bpfdbg-conformance-plugin``); doing it in-process runs the suite in about a
second instead of half a minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bpfdbg.headless import RunRejected, run_once
from emulator.asm.datafile import DataTest, parse_data_file
from emulator.backends.base import create
from emulator.errors import EmulatorError
from emulator.program import Program
from emulator.state import StopReason


@dataclass(frozen=True)
class CaseResult:
    name: str
    outcome: str  # "pass", "fail", "skip", "rejected" (an offload target refused the program)
    message: str = ""


def _program_of(test: DataTest) -> bytes:
    return test.program()


def run_case(path: Path, backend: str = "interp") -> CaseResult:
    """Run one ``.data`` file; never raises for problems with the test or the program."""
    name = path.stem
    try:
        test = parse_data_file(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        return CaseResult(name, "fail", f"cannot read: {err}")
    except EmulatorError as err:
        return CaseResult(name, "skip", str(err))
    if test.skip is not None:
        return CaseResult(name, "skip", test.skip)
    if test.result is None and test.error is None:
        return CaseResult(name, "skip", "no -- result and no -- error section")
    try:
        code = _program_of(test)
    except EmulatorError as err:
        if test.error is not None:
            return CaseResult(name, "pass", f"rejected as expected: {err}")
        return CaseResult(name, "fail", f"does not assemble: {err}")
    if not code:
        return CaseResult(name, "skip", "test file has no BPF instructions")
    try:
        prog = Program.from_bytes(code, name=name)
        result = run_once(prog, test.mem, backend)
    except (EmulatorError, RunRejected) as err:
        if test.error is not None:
            return CaseResult(name, "pass", f"rejected as expected: {err}")
        if isinstance(err, RunRejected) and refuses_by_design(backend):
            return CaseResult(name, "rejected", str(err))
        return CaseResult(name, "fail", f"rejected: {err}")
    if result.reason is StopReason.FAULT:
        assert result.fault is not None
        if test.error is not None:
            return CaseResult(name, "pass", f"faulted as expected: {result.fault.message}")
        return CaseResult(name, "fail", str(result.fault))
    if result.reason is not StopReason.EXIT:
        return CaseResult(
            name, "fail", f"stopped ({result.reason.value}) after {result.insns} instructions without exiting"
        )
    if test.error is not None:
        return CaseResult(
            name, "fail", f"expected error {test.error!r}, but exited with r0={result.retval:#x}"
        )
    assert result.retval is not None and test.result is not None
    if result.retval == test.result & 0xFFFFFFFFFFFFFFFF:
        return CaseResult(name, "pass")
    return CaseResult(name, "fail", f"r0 is {result.retval:#x}, expected {test.result:#x}")


def refuses_by_design(backend: str) -> bool:
    """Whether the backend models a target that legitimately refuses programs (an offload
    device): its refusals are verdicts to count, not failures of the emulator."""
    return bool(getattr(create(backend).capabilities, "may_refuse", False))


def data_files(directory: Path, include: str | None = None, exclude: str | None = None) -> Iterator[Path]:
    """The ``.data`` files of a directory, sorted by path as the official runner does."""
    for path in sorted(directory.glob("*.data")):
        if include and not re.search(include, path.name):
            continue
        if exclude and re.search(exclude, path.name):
            continue
        yield path


def run_directory(
    directory: Path, backend: str = "interp", include: str | None = None, exclude: str | None = None
) -> list[CaseResult]:
    return [run_case(p, backend) for p in data_files(directory, include, exclude)]


def summary_line(results: list[CaseResult]) -> str:
    passed = sum(r.outcome == "pass" for r in results)
    failed = sum(r.outcome == "fail" for r in results)
    skipped = sum(r.outcome == "skip" for r in results)
    rejected = sum(r.outcome == "rejected" for r in results)
    line = f"{passed} passed, {failed} failed"
    if rejected:
        line += f", {rejected} rejected by the backend's verifier"
    if skipped:
        line += f", {skipped} skipped"
    return line
