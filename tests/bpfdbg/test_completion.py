"""bpfdbg.completion, the toolkit-free completion behind the console and the TUI command bar:
the candidates on the sample programs, Tab in a single-line input (``common_completion``), the
inline suggestion (``suggest``), and that the console's prompt_toolkit adapter adds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from bpfdbg.commands import registry
from bpfdbg.completion import Candidate, common_completion, complete, suggest
from bpfdbg.console import BpfdbgCompleter
from bpfdbg.session import Session

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_progs"


def open_sample(name: str) -> Session:
    return Session.open(SAMPLES / f"{name}.o", pcap=SAMPLES / "pcaps" / f"{name}.pcap")


@pytest.fixture
def session() -> Session:
    return open_sample("xdp_firewall")


def texts(session: Session, line: str) -> list[str]:
    return [c.text for c in complete(session, line)]


def applied(session: Session, line: str) -> list[str]:
    """The whole lines the candidates would leave, checked by hand from ``start`` and ``text``
    rather than through ``Candidate.apply``, so a wrong ``start`` cannot hide behind it."""
    return [line[: len(line) + c.start] + c.text for c in complete(session, line)]


# -- the candidates -----------------------------------------------------------------------------
def test_command_names_replace_the_typed_word_and_carry_summaries(session: Session) -> None:
    found = complete(session, "ste")
    assert [c.text for c in found] == ["step", "stepi"]
    assert all(c.start == -3 for c in found)
    step = registry.lookup("step")
    assert isinstance(step, registry.Command) and step.summary
    assert found[0].meta == step.summary and found[0].display == "step"
    assert "help" in texts(session, "") and all(c.start == 0 for c in complete(session, ""))


def test_aliases_complete_after_their_commands(session: Session) -> None:
    found = {c.text: c.meta for c in complete(session, "b")}
    assert found["break"] != "alias of break"  # the command itself, with its summary
    assert found["br"] == "alias of break" and found["bt"] == "alias of backtrace"
    assert list(found).index("break") < list(found).index("br")
    assert texts(session, "x/4") == []  # a format suffix is not a command prefix


def test_info_set_and_show_subcommands(session: Session) -> None:
    info = registry.SUBCOMMANDS["info"]
    assert set(texts(session, "info ")) == set(info)
    assert set(texts(session, "info r")) == {"record", "registers"} and "registers" in info
    assert texts(session, "i r") == texts(session, "info r")  # through the alias
    assert texts(session, "info reg") == ["registers"]
    assert set(texts(session, "set ")) == set(registry.SUBCOMMANDS["set"])
    assert "var" in texts(session, "set v")
    assert texts(session, "show ve") == ["version"]
    assert {c.meta for c in complete(session, "show ")} == {"show subcommand"}
    # an info subcommand's own argument kind: registers without the "$"
    assert texts(session, "info registers r1") == ["r1", "r10"]


@pytest.mark.parametrize(
    ("sample", "maps"),
    [
        ("xdp_firewall", ["fw_rules", "fw_counters"]),
        ("xdp_tailcall", ["jmp_table", "dispatch_stats"]),
        ("tc_classifier", ["class_stats"]),
    ],
)
def test_map_names_after_map_dump(sample: str, maps: list[str]) -> None:
    session = open_sample(sample)
    assert texts(session, "map dump ") == maps
    first = maps[0]
    assert applied(session, f"map dump {first[:3]}") == [
        f"map dump {m}" for m in maps if m.startswith(first[:3])
    ]
    assert texts(session, f"map dump {first} ") == []  # one map per dump


def test_registers_after_print(session: Session) -> None:
    found = complete(session, "print $r")
    names = [c.text for c in found]
    assert names[:11] == [f"$r{i}" for i in range(11)] and "$retval" in names
    assert all(c.start == -2 and c.meta == "register / variable" for c in found)
    assert texts(session, "print $r1") == ["$r1", "$r10"]
    assert applied(session, "print 1 + $r1") == ["print 1 + $r1", "print 1 + $r10"]
    session.execute("set var $seen = 3")
    assert "$seen" in texts(session, "print $s")


def test_locations_after_break(session: Session) -> None:
    assert texts(session, "break ") == ["xdp_firewall", "xdp_firewall.c:"]
    assert [c.meta for c in complete(session, "break ")] == ["function", "source file"]
    lines = applied(session, "break xdp_firewall.c:12")
    assert "break xdp_firewall.c:128" in lines
    assert all(line.startswith("break xdp_firewall.c:12") for line in lines)
    assert texts(session, "break *1") == []
    assert "$ctx" in texts(session, "break xdp_firewall.c:128 if $c")  # the condition is an expression


def test_functions_of_a_program_with_subprograms() -> None:
    session = open_sample("xdp_subprog_globals")
    found = texts(session, "break ")
    assert found[0] == "xdp_port_blocker" and {"classify", "parse_ipv4"} <= set(found)
    assert "xdp_port_blocker:classify" in texts(session, "break xdp_port_blocker:")
    assert texts(session, "break pars") == ["parse_ipv4"]


def test_files_after_source(session: Session, tmp_path: Path) -> None:
    (tmp_path / "script.gdb").write_text("")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "other").write_text("")
    found = complete(session, f"source {tmp_path}/scr")
    assert [c.display for c in found] == ["script.gdb", "scripts/"]
    assert [c.apply(f"source {tmp_path}/scr") for c in found] == [
        f"source {tmp_path}/script.gdb",
        f"source {tmp_path}/scripts/",
    ]
    assert texts(session, f"source {tmp_path}/nowhere/x") == []  # a missing directory is quiet


def test_paths_relative_to_the_working_directory_and_from_home(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "run.gdb").write_text("")
    monkeypatch.chdir(tmp_path)
    assert applied(session, "source no") == ["source notes/"]
    assert applied(session, "source notes/r") == ["source notes/run.gdb"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert applied(session, "source ~/notes/") == ["source ~/notes/run.gdb"]  # "~" stays as typed


def test_nothing_in_python_blocks() -> None:
    session = Session()
    assert "echo" in texts(session, "ech")
    session.execute("python")
    assert texts(session, "ech") == []
    session.execute("end")


def test_candidate_defaults_and_apply() -> None:
    cand = Candidate("stepi", -3)
    assert cand.display == "stepi" and cand.meta == ""
    assert cand.apply("ste") == "stepi" and Candidate("i", 0).apply("step") == "stepi"
    with pytest.raises(AttributeError):
        cand.text = "x"  # type: ignore[misc]


# -- Tab in a single-line input, and the inline suggestion ------------------------------------------
def test_common_completion(session: Session, tmp_path: Path) -> None:
    assert common_completion(session, "ste") == "step"  # step and stepi share "step"
    assert common_completion(session, "info reg") == "info registers"
    assert common_completion(session, "map dump fw_c") == "map dump fw_counters"
    assert common_completion(session, "map dump fw_") == "map dump fw_"  # fw_rules / fw_counters: ambiguous
    assert common_completion(session, "print $r1") == "print $r1"
    assert common_completion(session, "frobnicate x") is None
    assert common_completion(session, "map dump fw_counters ") is None
    (tmp_path / "deep" / "inner").mkdir(parents=True)
    (tmp_path / "deep" / "inner" / "commands.gdb").write_text("")
    line = f"source {tmp_path}/de"
    line = common_completion(session, line) or ""
    assert line == f"source {tmp_path}/deep/"  # a directory ends in "/" so the next Tab goes on
    line = common_completion(session, line) or ""
    line = common_completion(session, line) or ""
    assert line == f"source {tmp_path}/deep/inner/commands.gdb"


def test_suggest(session: Session) -> None:
    assert suggest(session, "ste") == "step"
    assert suggest(session, "map dump fw_c") == "map dump fw_counters"
    assert suggest(session, "break xdp_firewall.c:12") == "break xdp_firewall.c:128"
    assert suggest(session, "print $r") == "print $r0"
    assert suggest(session, "step") is None  # already a command: no greyed "i"
    assert suggest(session, "") is None and suggest(session, "  ") is None
    assert suggest(session, "frobnicate x") is None


# -- the console adapter and the import boundary ----------------------------------------------------
@pytest.mark.parametrize("line", ["ste", "b", "info r", "map dump ", "print $r", "break xdp_firewall.c:1"])
def test_the_console_completer_is_the_same_candidates(session: Session, line: str) -> None:
    adapter = BpfdbgCompleter(session)
    got = [
        (c.text, c.start_position, c.display_text, c.display_meta_text)
        for c in adapter.get_completions(Document(line, len(line)), CompleteEvent(completion_requested=True))
    ]
    want = [(c.text, c.start, c.display, c.meta) for c in complete(session, line)]
    assert got and got == want


def test_completion_and_history_load_without_prompt_toolkit() -> None:
    code = "import sys, bpfdbg.completion, bpfdbg.cmdhistory; sys.exit('prompt_toolkit' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT).returncode == 0
