"""The kernel verifier's log is kept when it accepts a program, not only when it rejects
one: at log level 1 an accepted program's log is the one ``processed N insns (limit
1000000) ...`` summary that ``verify`` shows. Needs bpf() (skipped where it is refused)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.asm import assemble
from emulator.backends.kernel.backend import KernelBackend
from emulator.backends.kernel.syscall import Bpf, VerifierError, available
from emulator.env import Environment
from emulator.program import Program

pytestmark = pytest.mark.skipif(available() is not None, reason="bpf() is not permitted here")

STATS = re.compile(r"^processed (\d+) insns \(limit \d+\) max_states_per_insn \d+ total_states \d+")
SAMPLES = Path(__file__).resolve().parents[3] / "sample_progs"


def test_prog_load_keeps_the_summary_of_an_accepted_program() -> None:
    with Bpf() as bpf:
        bpf.prog_load(bytes.fromhex("b7000000020000009500000000000000"), "xdp")
        match = STATS.match(bpf.last_log)
        assert match is not None, bpf.last_log
        assert match.group(1) == "2"


def test_a_rejection_clears_the_previous_summary() -> None:
    with Bpf() as bpf:
        bpf.prog_load(bytes.fromhex("b7000000020000009500000000000000"), "xdp")
        with pytest.raises(VerifierError) as info:
            bpf.prog_load(bytes.fromhex("bf200000000000009500000000000000"), "xdp")  # r0 = r2
        assert "R2 !read_ok" in info.value.log
        assert bpf.last_log == ""


def test_kernel_backend_keeps_verifier_log_on_success() -> None:
    kernel = KernelBackend()
    try:
        report = kernel.load(Program.from_insns(assemble("r0 = 2\nexit"), prog_type="xdp"), Environment())
        assert report.ok, report.diagnostics
        assert STATS.match(kernel.verifier_log), kernel.verifier_log
    finally:
        kernel.close()


def test_the_log_is_the_programs_own_not_its_tail_call_targets() -> None:
    """Loading xdp_dispatch also loads the programs its prog_array names, after it: the
    summary kept must still be xdp_dispatch's (it is smaller than each target's)."""
    path = SAMPLES / "xdp_tailcall.o"
    if not path.exists():
        pytest.skip("sample_progs/xdp_tailcall.o is not built")
    from bpfdbg.session import Session

    session = Session.open(path)
    assert session.env is not None
    logs = {}
    for name in ("xdp_dispatch", "handle_ipv4"):
        kernel = KernelBackend()
        try:
            assert kernel.load(session.program_named(name), session.env).ok
            logs[name] = kernel.verifier_log
        finally:
            kernel.close()
    dispatch, target = (STATS.match(logs[n]) for n in ("xdp_dispatch", "handle_ipv4"))
    assert dispatch is not None and target is not None
    assert int(dispatch.group(1)) < int(target.group(1))
