"""The eBPF conformance suite on every backend, through both paths (in-process runner and
the plugin protocol). Skipped when ../shared/conformance is not present."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bpfdbg import conformance_plugin
from bpfdbg.conformance import data_files, refuses_by_design, run_case, summary_line
from emulator.asm.datafile import parse_data_file
from emulator.backends.base import stepping_backend_names
from tests.conftest import ASSEMBLED_JSON, CONFORMANCE_DIR, needs_shared

pytestmark = needs_shared

CASES = sorted(CONFORMANCE_DIR.glob("*.data")) if CONFORMANCE_DIR.is_dir() else []


def test_suite_is_complete() -> None:
    assert len(CASES) == 313


HOST_BACKENDS = [n for n in stepping_backend_names() if not refuses_by_design(n)]
DEVICE_BACKENDS = [n for n in stepping_backend_names() if refuses_by_design(n)]
# How an offload device's refusal reads: the driver's verifier-hook or dmesg line, the kernel
# core's, or bpfdbg's own where the real system says nothing (nfp_offload.md §4).
REFUSAL = re.compile(r"insn \d+: error: (\[nfp\] |NFP net bpf: |bpfdbg: )")


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_in_process_runner_passes_everything(backend: str) -> None:
    results = [run_case(p, backend) for p in data_files(CONFORMANCE_DIR)]
    failures = [f"{r.name}: {r.message}" for r in results if r.outcome != "pass"]
    assert failures == []
    assert summary_line(results) == "313 passed, 0 failed"


@pytest.mark.parametrize("backend", DEVICE_BACKENDS)
def test_an_offload_device_passes_or_refuses_with_the_drivers_reason(backend: str) -> None:
    """Every test either passes on the device or is refused at load with the offload's own
    message naming the instruction; none runs to a wrong result."""
    results = [run_case(p, backend) for p in data_files(CONFORMANCE_DIR)]
    assert [f"{r.name}: {r.message}" for r in results if r.outcome not in ("pass", "rejected")] == []
    rejected = [r for r in results if r.outcome == "rejected"]
    assert rejected and all(REFUSAL.match(r.message) for r in rejected), [r.message for r in rejected][:3]
    passed = sum(r.outcome == "pass" for r in results)
    assert (
        summary_line(results)
        == f"{passed} passed, 0 failed, {len(rejected)} rejected by the backend's verifier"
    )
    # what the NFP cannot do at all is refused whatever the ranges: MOD, to-LE swaps, bswap
    by_name = {r.name: r for r in results}
    for name in ("mod", "le16", "swap16", "lock_xchg"):
        if name in by_name:
            assert by_name[name].outcome == "rejected", name


def test_our_assembler_matches_the_official_assembly() -> None:
    expected = {t["name"]: t for t in json.loads(ASSEMBLED_JSON.read_text())}
    for path in CASES:
        test = parse_data_file(path.read_text())
        assert test.program().hex() == expected[path.stem]["program"], path.stem
        assert test.mem.hex() == expected[path.stem]["mem"], path.stem


def _runner_argv(mem: bytes, options: list[str]) -> list[str]:
    """argv exactly as the official runner builds it (conformance.md part 2)."""
    argv = ["".join(f"{b:02x}  " for b in mem)] if mem else []
    return argv + options


def _runner_stdin(code: bytes) -> str:
    return "".join(f"{b:02x}  " for b in code) + "\n"


def _stoull16(text: str) -> int:
    """std::stoull(s, nullptr, 16) as the runner applies it."""
    text = text.removesuffix("\n").lstrip()
    if text[:2].lower() == "0x":
        text = text[2:]
    digits = ""
    for ch in text:
        if ch in "0123456789abcdefABCDEF":
            digits += ch
        else:
            break
    return int(digits, 16)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_plugin_protocol_passes_everything(backend: str) -> None:
    """Every test through the plugin's main(), with argv and stdin as the runner sends them."""
    failures = []
    for path in CASES:
        test = parse_data_file(path.read_text())
        out, err = io.StringIO(), io.StringIO()
        status = conformance_plugin.main(
            _runner_argv(test.mem, ["--backend", backend]),
            io.StringIO(_runner_stdin(test.program())),
            out,
            err,
        )
        if status != 0 or _stoull16(out.getvalue()) != test.expected_r0:
            failures.append(f"{path.stem}: status {status} out {out.getvalue()!r} err {err.getvalue()!r}")
    assert failures == []


@pytest.mark.parametrize("backend", DEVICE_BACKENDS)
def test_plugin_protocol_on_an_offload_device(backend: str) -> None:
    """Through the plugin, a device either gives the expected r0 or refuses the program with
    the offload's message on stderr and a non-zero status (the runner counts it failed)."""
    wrong = []
    for path in CASES:
        test = parse_data_file(path.read_text())
        out, err = io.StringIO(), io.StringIO()
        status = conformance_plugin.main(
            _runner_argv(test.mem, ["--backend", backend]),
            io.StringIO(_runner_stdin(test.program())),
            out,
            err,
        )
        if status == 0 and _stoull16(out.getvalue()) == test.expected_r0:
            continue
        if status != 0 and re.search(r"(\[nfp\] |NFP net bpf: |bpfdbg: )", err.getvalue()):
            continue
        wrong.append(f"{path.stem}: status {status} out {out.getvalue()!r} err {err.getvalue()!r}")
    assert wrong == []


@pytest.mark.parametrize("name", ["mem-len", "call_local", "callx", "lddw", "div64-by-zero-reg"])
def test_plugin_as_a_process(name: str) -> None:
    """A few tests through a real process, as the official runner starts it."""
    test = parse_data_file((CONFORMANCE_DIR / f"{name}.data").read_text())
    proc = subprocess.run(
        [sys.executable, "-m", "bpfdbg.conformance_plugin", *_runner_argv(test.mem, [])],
        input=_runner_stdin(test.program()),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert _stoull16(proc.stdout) == test.expected_r0


def test_plugin_reports_faults_on_stderr_with_nonzero_status() -> None:
    code = bytes.fromhex("61100000000000009500000000000000")  # ldxw r0, [r1+0] with r1 = NULL
    out, err = io.StringIO(), io.StringIO()
    status = conformance_plugin.main([], io.StringIO(_runner_stdin(code)), out, err)
    assert status == 1 and out.getvalue() == ""
    assert "NULL pointer" in err.getvalue()


def test_plugin_rejects_bad_program_text() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert conformance_plugin.main([], io.StringIO("zz  \n"), out, err) == 2
    assert "bad program" in err.getvalue()
