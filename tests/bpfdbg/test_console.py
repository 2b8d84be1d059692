"""The console: completion (plain Documents, no terminal), the REPL (prompt_toolkit pipe
input and DummyOutput), ``bpfdbg console`` through ``bpfdbg.cli.main``, and one real run in a
pseudo-terminal."""

from __future__ import annotations

import _thread
import io
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from bpfdbg.cli import main
from bpfdbg.commands import registry
from bpfdbg.commands.registry import CommandResult, command
from bpfdbg.console import BpfdbgCompleter, Console, history_path
from bpfdbg.console.repl import open_history
from bpfdbg.session import Session
from emulator.asm import assemble_bytes

ROOT = Path(__file__).resolve().parents[2]
PROG = ROOT / "sample_progs" / "xdp_firewall.o"
PCAP = ROOT / "sample_progs" / "pcaps" / "xdp_firewall.pcap"


@pytest.fixture
def session() -> Session:
    return Session.open(PROG, pcap=PCAP)


def complete(session: Session, text: str) -> list[str]:
    completer = BpfdbgCompleter(session)
    found = completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True))
    return [c.text for c in found]


def applied(session: Session, text: str) -> list[str]:
    """The whole lines the completions would leave (text with the current word replaced)."""
    completer = BpfdbgCompleter(session)
    out = []
    for c in completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True)):
        out.append(text[: len(text) + c.start_position] + c.text)
    return out


@pytest.fixture
def counter() -> Iterator[list[str]]:
    """A repeatable stand-in command (like stepi) that records its calls."""
    calls: list[str] = []

    @command("zz-tick", category="testing", repeatable=True)
    def tick(session: Session, args: str) -> CommandResult:
        """zz-tick [ARG]

        Count a call (test stand-in).
        """
        calls.append(args)
        return CommandResult("zz-tick", lines=[f"tick {len(calls)}"])

    yield calls
    registry._COMMANDS.pop("zz-tick")


@pytest.fixture
def map_family() -> Iterator[str]:
    """A stand-in for the map command family (its subcommands drive the completion)."""

    @command("zz-map", category="testing", subcommands=("dump", "delete", "diff", "export", "lookup"))
    def zz_map(session: Session, args: str) -> CommandResult:
        """zz-map SUBCOMMAND

        Maps (test stand-in).
        """
        return CommandResult("zz-map")

    yield "zz-map"
    registry._COMMANDS.pop("zz-map")


# -- completion -------------------------------------------------------------------------------------
def test_command_names_and_aliases(session: Session) -> None:
    found = complete(session, "ste")
    assert set(found) == {"step", "stepi"}
    assert "expect" in complete(session, "ex") and "exit" in complete(session, "ex")
    assert complete(session, "") and "help" in complete(session, "")
    assert complete(session, "x/4") == []


def test_command_names_carry_summaries(session: Session) -> None:
    completer = BpfdbgCompleter(session)
    (source,) = [
        c for c in completer.get_completions(Document("sour"), CompleteEvent()) if c.text == "source"
    ]
    assert "Run the commands in FILE" in source.display_meta_text


def test_user_defined_commands_complete(session: Session) -> None:
    for line in ("define zapit", "echo z", "end", "document zapit", "Zap it.", "end"):
        session.execute(line)
    assert complete(session, "zap") == ["zapit"]


def test_info_subcommands(session: Session) -> None:
    expected = {name for name in registry.SUBCOMMANDS["info"] if name.startswith("r")}
    assert expected and set(complete(session, "info r")) == expected
    assert set(complete(session, "i r")) == expected  # through the alias
    assert set(complete(session, "info ")) == set(registry.SUBCOMMANDS["info"])
    assert "user" in complete(session, "show u")


def test_subcommands_and_map_names(session: Session, map_family: str) -> None:
    assert set(complete(session, f"{map_family} d")) == {"dump", "delete", "diff"}
    assert set(complete(session, f"{map_family} dump ")) == {"fw_rules", "fw_counters"}
    assert complete(session, f"{map_family} dump fw_c") == ["fw_counters"]
    assert complete(session, f"{map_family} dump fw_counters ") == []


def test_the_real_map_and_prog_families(session: Session) -> None:
    family = registry.lookup("map")
    assert isinstance(family, registry.Command)
    expected = {verb for verb in family.subcommands if verb.startswith("d")}
    assert expected and set(complete(session, "map d")) == expected
    assert set(complete(session, "map dump ")) == {"fw_rules", "fw_counters"}
    assert complete(session, "prog select xdp") == ["xdp_firewall"]


def test_files_after_source_load_and_map_export(session: Session, map_family: str, tmp_path: Path) -> None:
    (tmp_path / "script.gdb").write_text("")
    (tmp_path / "scratch.json").write_text("")
    base = f"{tmp_path}/sc"
    assert set(applied(session, f"source {base}")) == {
        f"source {tmp_path}/script.gdb",
        f"source {tmp_path}/scratch.json",
    }
    assert f"load pcap {tmp_path}/script.gdb" in applied(session, f"load pcap {base}")
    assert "pcap" in complete(session, "load p")
    assert set(complete(session, "load raw x.bin type ")) >= {"xdp", "tc"}
    exported = applied(session, f"{map_family} export {base}")
    assert f"{map_family} export {tmp_path}/scratch.json" in exported
    assert complete(session, f"{map_family} export {base}.json fw_c") == ["fw_counters"]


def test_locations_for_break_and_friends(session: Session) -> None:
    found = complete(session, "break xdp_f")
    assert "xdp_firewall" in found and "xdp_firewall.c:" in found
    for cmd in ("tbreak", "until", "advance", "b"):
        assert "xdp_firewall.c:" in complete(session, f"{cmd} xdp_")
    lines = complete(session, "break xdp_firewall.c:12")
    assert lines and all(re.fullmatch(r"xdp_firewall\.c:12\d", line) for line in lines)
    assert "xdp_firewall.c:128" in lines
    assert complete(session, "break *1") == []


def test_registers_inside_expressions(session: Session) -> None:
    found = complete(session, "expect $r")
    assert {f"$r{i}" for i in range(11)} <= set(found) and "$retval" in found
    assert set(complete(session, "watch $pk")) == {"$pkt", "$pkt_end", "$pkt_meta"}
    assert "$ctx" in complete(session, "break xdp_firewall.c:128 if $c")
    assert "$pc" in complete(session, "expect $p")
    assert complete(session, "expect 1 + $r1") == ["$r1", "$r10"]
    assert complete(session, "expect fw_c") == ["fw_counters"]  # maps are names in expressions
    assert "$r0" in complete(session, "notacommand $r")  # whatever the command, $ means a register


def test_expect_keywords_actions_and_maps(session: Session) -> None:
    assert set(complete(session, "expect ")) >= {"action", "map", "exit", "fault"}
    assert set(complete(session, "expect action XDP_")) == {
        "XDP_ABORTED",
        "XDP_DROP",
        "XDP_PASS",
        "XDP_TX",
        "XDP_REDIRECT",
    }
    assert complete(session, "expect map fw_r") == ["fw_rules"]
    assert complete(session, "expect $r0 == $r1") == ["$r1", "$r10"]


def test_help_completes_commands_and_subcommands(session: Session) -> None:
    assert "stepi" in complete(session, "help st")
    assert set(complete(session, "help info r")) == {
        name for name in registry.SUBCOMMANDS["info"] if name.startswith("r")
    }


def test_catch_completes_helpers_and_actions(session: Session) -> None:
    assert "bpf_map_lookup_elem" in complete(session, "catch helper bpf_map_l")
    assert "XDP_DROP" in complete(session, "catch exit XDP_D")


def test_nothing_inside_python_blocks_or_after_unknown_words(session: Session) -> None:
    assert complete(session, "frobnicate x") == []
    session.execute("python")
    assert complete(session, "ech") == []
    session.execute("end")
    session.execute("define inner")
    assert "echo" in complete(session, "ech")  # a define body is commands
    session.execute("end")


def test_completion_without_a_program() -> None:
    empty = Session()
    assert "load" in complete(empty, "lo")
    assert complete(empty, "break x") == []
    assert "$r0" in complete(empty, "p $r")


# -- the REPL --------------------------------------------------------------------------------------
def drive(session: Session, keys: str, tmp_path: Path) -> tuple[Console, int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        console = Console(
            session,
            input=pipe,
            output=DummyOutput(),
            history=FileHistory(str(tmp_path / "history")),
            stdout=out,
            stderr=err,
        )
        status = console.run()
    return console, status, out.getvalue(), err.getvalue()


def test_empty_line_repeats_the_last_repeatable_command(
    session: Session, counter: list[str], tmp_path: Path
) -> None:
    _, status, out, _ = drive(session, "zz-tick a\r\r\recho x\r\rquit\r", tmp_path)
    assert status == 0
    assert counter == ["a", "a", "a", "a"]  # echo is not repeatable: the empty line after it repeats zz-tick
    assert out.splitlines()[:4] == ["tick 1", "tick 2", "tick 3", "x"]
    history = (tmp_path / "history").read_text()
    assert "+zz-tick a" in history and "+quit" in history


def test_define_block_at_the_prompt(session: Session, tmp_path: Path) -> None:
    console, status, out, err = drive(session, "define hi\recho hi $arg0\rend\rhi there\rquit\r", tmp_path)
    assert status == 0 and err == ""
    assert 'Type commands for definition of "hi".' in out
    assert out.rstrip().endswith("hi there")
    assert console.message() == "(bpfdbg) "
    session.execute("define again")
    assert console.message() == ">"
    session.execute("end")


def test_errors_go_to_stderr_and_the_console_goes_on(session: Session, tmp_path: Path) -> None:
    _, status, out, err = drive(session, "nosuch\recho still here\rquit 4\r", tmp_path)
    assert err == 'undefined command: "nosuch". Try "help".\n'
    assert "still here" in out and status == 4


def test_ctrl_c_at_the_prompt_clears_the_line_and_ctrl_d_quits(session: Session, tmp_path: Path) -> None:
    _, status, out, err = drive(session, "echo lost\x03echo kept\r\x04", tmp_path)
    assert status == 0 and err == ""
    assert out.splitlines() == ["kept", "quit"]


def test_ctrl_c_interrupts_a_running_command(session: Session) -> None:
    started = threading.Event()

    @command("zz-spin", category="testing")
    def spin(s: Session, args: str) -> CommandResult:
        """zz-spin

        Wait until interrupted (test stand-in for a long run).
        """
        started.set()
        stopped = s.interrupt_event.wait(10)
        return CommandResult("zz-spin", lines=["interrupted" if stopped else "timed out"])

    try:
        console = Console(session, input=None, output=DummyOutput(), history=InMemoryHistory())

        def press_ctrl_c() -> None:
            started.wait(5)
            time.sleep(0.05)
            _thread.interrupt_main()

        threading.Thread(target=press_ctrl_c, daemon=True).start()
        result = console.execute("zz-spin")
        assert result.lines == ["interrupted"]
    finally:
        registry._COMMANDS.pop("zz-spin")


def test_a_real_run_is_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "spin.bin"
    path.write_bytes(assemble_bytes("spin:\nja spin\nexit"))
    session = Session.open(path, raw=True)
    session.execute("set budget 1000000000")
    console = Console(session, output=DummyOutput(), history=InMemoryHistory())

    def press_ctrl_c() -> None:
        time.sleep(0.3)
        _thread.interrupt_main()

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    result = console.execute("run")
    assert session.status == "stopped" and session.last_stop is not None
    assert session.last_stop.reason == "interrupted", result.text
    assert session.execute("stepi").ok  # the run goes on from where it stopped


def test_history_path_and_an_unwritable_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BPFDBG_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
    monkeypatch.delenv("BPFDBG_HISTORY")
    assert history_path() == Path.home() / ".bpfdbg_history"
    blocker = tmp_path / "file"
    blocker.write_text("")
    history, warning = open_history(blocker / "history")
    assert isinstance(history, InMemoryHistory) and warning and "not saved" in warning


# -- bpfdbg console ------------------------------------------------------------------------------
@pytest.fixture
def no_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def test_banner(capsys: pytest.CaptureFixture[str], no_stdin: None) -> None:
    assert main(["console", str(PROG), "--pcap", str(PCAP)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "bpfdbg: xdp_firewall.o: 1 program (xdp_firewall: xdp, 211 insns), "
        "2 maps (fw_rules: hash 8->8, fw_counters: array 4->16)"
    )
    assert out[1].startswith("capture: 24 packets; packet 1 selected (74 bytes")


def test_batch_success_and_no_banner(capsys: pytest.CaptureFixture[str], no_stdin: None) -> None:
    code = main(
        ["console", str(PROG), "--pcap", str(PCAP), "--batch", "-ex", "run", "-ex", "expect $r0 == 2"]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert "bpfdbg:" not in captured.out and "exited: XDP_PASS" in captured.out


def test_batch_failing_expect_exits_1(capsys: pytest.CaptureFixture[str], no_stdin: None) -> None:
    code = main(
        [
            "console",
            str(PROG),
            "--pcap",
            str(PCAP),
            "--batch",
            "-ex",
            "run all",
            "-ex",
            "expect action XDP_PASS",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert re.fullmatch(r"expect failed: packet \d+ ended XDP_DROP\n", err)


def test_x_script_error_reports_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_stdin: None
) -> None:
    script = tmp_path / "check.bpfdbg"
    script.write_text("echo two\nbreak nowhere.c:1\necho skipped\n")
    code = main(["console", str(PROG), "--batch", "-ex", "echo one", "-x", str(script), "-ex", "echo three"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.splitlines() == ["one", "two", "three"]  # -x and -ex in order; -ex goes on
    assert captured.err.startswith(f"{script}:2: ") and captured.err.count("\n") == 1


def test_batch_reads_commands_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("select 3\nrun\nexpect action XDP_PASS\necho done\n"))
    assert main(["console", str(PROG), "--pcap", str(PCAP), "--batch"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "done"
    monkeypatch.setattr(sys, "stdin", io.StringIO("define open\necho x\n"))
    assert main(["console", str(PROG), "--batch"]) == 1
    assert "missing 'end'" in capsys.readouterr().err


def test_piped_stdin_without_batch_runs_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("expect 1 == 2\necho after\n"))
    assert main(["console", str(PROG), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "after\n" and "expect failed" in captured.err


def test_quit_status_and_usage_errors(capsys: pytest.CaptureFixture[str], no_stdin: None) -> None:
    assert main(["console", str(PROG), "--batch", "-ex", "quit 3", "-ex", "echo never"]) == 3
    assert "never" not in capsys.readouterr().out
    assert main(["console", str(ROOT / "nope.o"), "--batch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bpfdbg: cannot read") and err.count("\n") == 1
    assert main(["console", "--maps", "x.json", "--batch"]) == 2
    assert main(["console", str(PROG), "--pcap", str(PROG), "--batch"]) == 2


def test_console_without_a_program(capsys: pytest.CaptureFixture[str], no_stdin: None) -> None:
    assert main(["console", "-ex", "help", "-ex", "quit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bpfdbg 0.1.0: no program loaded") and "List of commands" in out


def test_batch_does_not_import_prompt_toolkit_at_cli_import() -> None:
    import subprocess

    code = "import sys, bpfdbg.cli; print('prompt_toolkit' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


# -- a real terminal -------------------------------------------------------------------------------
def test_console_in_a_pseudo_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals on this platform")
    env = dict(os.environ, BPFDBG_HISTORY=str(tmp_path / "history"), PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "bpfdbg.cli", "console", str(PROG), "--pcap", str(PCAP)],
        cwd=str(ROOT),
        env=env,
        dimensions=(50, 200),
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect_exact("capture: 24 packets")
        child.expect_exact("(bpfdbg)")
        child.sendline("help")
        child.expect_exact("List of commands")
        child.expect_exact("(bpfdbg)")
        child.send("info pack")
        child.expect_exact("pack")
        child.send("\t")  # Tab completes the unique subcommand (the screen may get only "ets")
        child.expect_exact("ets")
        child.send("\r")
        child.expect(r"\*\s+1\s+74 bytes")  # the output of "info packets"
        child.expect_exact("(bpfdbg)")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "+quit" in (tmp_path / "history").read_text()
