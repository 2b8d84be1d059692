"""C global variables by name, on a real object: xdp_subprog_globals keeps counters in
``.bss``, config in ``.rodata`` and a verdict and a string in ``.data``, each section one
array map (``xdp_subp.bss``...). ``print``, ``set var``, ``watch`` and ``ptype`` reach them by
the names the C source uses, and what they show is what ``map dump`` shows."""

from __future__ import annotations

import pytest

from bpfdbg.session import Session

from . import err, ok, open_sample


@pytest.fixture
def globs() -> Session:
    """xdp_subprog_globals after one run on its first packet (a TCP flow that passes)."""
    session = open_sample("xdp_subprog_globals", maps=False)
    ok(session, "run")
    return session


def test_print_globals_of_every_section(globs: Session) -> None:
    assert ok(globs, "p pkts_seen") == ["$1 = 1"]  # .bss, counted by the run
    assert ok(globs, "p cfg_sample_every") == ["$2 = 4"]  # const volatile in .rodata
    assert ok(globs, "p blocked_ports") == ["$3 = {23, 135, 445, 3389}"]
    assert ok(globs, "p/x blocked_ports[3]") == ["$4 = 0xd3d"]
    assert ok(globs, "p verdict_on_block") == ["$5 = 1"]  # .data
    assert ok(globs, "p reason") == ['$6 = "none"']
    assert ok(globs, "p last_blocked") == ["$7 = {saddr = 0, dport = 0, proto = 0, pad = 0}"]
    assert ok(globs, "whatis last_blocked.dport") == ["type = __u16"]
    assert ok(globs, "p sizeof(pkts_seen)") == ["$8 = 8"]


def test_globals_are_readable_before_the_run() -> None:
    session = open_sample("xdp_subprog_globals", maps=False)
    assert ok(session, "p pkts_seen + cfg_min_ttl") == ["$1 = 2"]


def test_set_var_on_a_bss_global_writes_its_map(globs: Session) -> None:
    assert ok(globs, "set var pkts_blocked = 5") == []
    assert ok(globs, "p pkts_blocked") == ["$1 = 5"]
    dump = " ".join(ok(globs, "map dump xdp_subp.bss"))
    assert '{"pkts_blocked": 5}' in dump and '{"pkts_seen": 1}' in dump
    ok(globs, "set var last_blocked.dport = 445")
    assert '"dport": 445' in " ".join(ok(globs, "map dump xdp_subp.bss"))


def test_rodata_globals_are_read_only(globs: Session) -> None:
    assert "xdp_subp.rodata is frozen" in err(globs, "set var cfg_min_ttl = 9")
    assert ok(globs, "p cfg_min_ttl") == ["$1 = 2"]


def test_watch_a_global() -> None:
    session = open_sample("xdp_subprog_globals", maps=False)
    ok(session, "start")
    assert ok(session, "watch pkts_seen") == ["Watchpoint 1: pkts_seen"]
    lines = ok(session, "continue")
    assert lines[:4] == ["Watchpoint 1: pkts_seen", "", "Old value = 0", "New value = 1"]


def test_a_misspelt_global_is_suggested(globs: Session) -> None:
    assert "did you mean 'pkts_seen'?" in err(globs, "p pkts_sen")
