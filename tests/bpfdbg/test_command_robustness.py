"""Any command line, however mangled, ends in a result: a success or one clear error line,
never an exception and never an "internal error" (which would be a bug in a command)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bpfdbg.commands.registry import SUBCOMMANDS, all_commands
from bpfdbg.session import Session

SAMPLES = Path(__file__).resolve().parents[2] / "sample_progs"
# commands that wait for a terminal, read or write files, or end the session
SKIP = {
    "python",
    "py",
    "python-interactive",
    "pi",
    "quit",
    "q",
    "exit",
    "source",
    "define",
    "document",
    "load",
}
HEADS = sorted(
    ({c.name for c in all_commands()} | {a for c in all_commands() for a in c.aliases}) - SKIP
    | {f"{prefix} {name}" for prefix, table in SUBCOMMANDS.items() for name in table}
)
WORDS = [
    "", "1", "0", "-1", "99999", "*0", "*5", "*196", "xdp_firewall.c:162", "162", "+1", "$r1",
    "$r10 - 8", "*(u32 *)($r10 - 8)", "fw_counters[0]", "fw_counters[0].packets", "fw_rules",
    "fw_counters", "key", "0", "value", "hex", "ff", "-j", "/x", "/4xb", "$pkt", "/i", "$pc", "all",
    "XDP_DROP", "if", "$r1 == 0", "helper", "map", "exit", "fault", "tailcall", "$pkt[0:4]", "(", ")",
    '"', "'", 'x"00"', "{1,2}", "once", "display", "1-3", "nosuch", "= 5", "$ctx->ingress_ifindex",
    "&", "%", "pkts_seen", "snapshot", "diff", "export",
]  # fmt: skip
LINES = st.builds(
    lambda head, rest: " ".join([head, *rest]),
    st.sampled_from(HEADS),
    st.lists(st.sampled_from(WORDS), max_size=4),
).filter(lambda line: not line.startswith(("map export", "map import")))


@settings(max_examples=max(settings.default.max_examples // 4, 20), deadline=None)
@given(st.lists(LINES, min_size=1, max_size=12))
def test_any_command_sequence_gives_results_not_exceptions(lines: list[str]) -> None:
    session = Session.open(
        SAMPLES / "xdp_firewall.o",
        pcap=SAMPLES / "pcaps" / "xdp_firewall.pcap",
        maps=SAMPLES / "initial_maps.json",
    )
    for line in lines:
        result = session.execute(line)
        if not result.ok:
            assert result.error, line
            assert "internal error" not in result.error, (line, result.error)
        if session.interpreter.in_block:
            session.interpreter.block = None


def test_a_dot_o_that_is_not_elf_is_named_as_such(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Garbage in a .o file is not decoded as raw instructions: the message says what it
    is not and how to make one."""
    from bpfdbg.session import Session, SessionError

    bad = tmp_path / "prog.o"
    bad.write_bytes(b"garbage\n" * 4)
    try:
        Session.open(bad)
    except SessionError as err:
        assert "is not an ELF object" in err.message and "clang" in err.message
    else:  # pragma: no cover
        raise AssertionError("loaded garbage")
