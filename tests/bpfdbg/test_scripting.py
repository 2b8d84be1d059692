"""Scripting commands: source, define/document, python, expect, echo, quit, help, apropos.

Run through ``Session.execute`` on the bundled firewall sample and its capture, the way a
console user or a ``--batch`` script drives them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfdbg.commands import registry
from bpfdbg.commands.registry import CommandResult, command
from bpfdbg.commands.scripting import block_handler, split_comparison, unescape
from bpfdbg.session import Session
from emulator.asm import assemble_bytes

from .commands import open_sample


@pytest.fixture
def session() -> Session:
    return open_sample("xdp_firewall", maps=False)


def run(session: Session, *lines: str) -> CommandResult:
    result = CommandResult("")
    for line in lines:
        result = session.execute(line)
    return result


# -- source ---------------------------------------------------------------------------------------
def test_source_runs_a_file_and_stops_at_the_first_error(session: Session, tmp_path: Path) -> None:
    script = tmp_path / "checks.bpfdbg"
    script.write_text("# a comment\necho one\nnosuchcommand\necho never\n")
    result = session.execute(f"source {script}")
    assert not result.ok
    assert result.lines == ["one"]
    assert result.error == f'{script}:3: undefined command: "nosuchcommand". Try "help".'


def test_source_of_a_missing_file_is_one_line(session: Session, tmp_path: Path) -> None:
    result = session.execute(f"source {tmp_path / 'nope.gdb'}")
    assert not result.ok and result.error is not None
    assert result.error.startswith("cannot read ") and "\n" not in result.error


def test_source_nests_and_reports_both_places(session: Session, tmp_path: Path) -> None:
    inner = tmp_path / "inner.gdb"
    inner.write_text("echo inner\nexpect 1 == 2\n")
    outer = tmp_path / "outer.gdb"
    outer.write_text(f"echo outer\nsource {inner}\necho not reached\n")
    result = session.execute(f"source {outer}")
    assert result.lines == ["outer", "inner"]
    assert result.expect_failed and not result.ok
    assert result.error == f"{outer}:2: {inner}:2: expect failed: 1 == 2"


def test_source_with_a_define_missing_its_end(session: Session, tmp_path: Path) -> None:
    script = tmp_path / "open.gdb"
    script.write_text("define half\necho x\n")
    result = session.execute(f"source {script}")
    assert not result.ok and "missing 'end'" in (result.error or "")
    assert not session.interpreter.in_block


# -- define / document -------------------------------------------------------------------------------
def test_define_with_arguments_and_redefinition(session: Session) -> None:
    run(session, "define greet", "echo hello $arg0 ($argc)", "end")
    assert session.user_commands["greet"] == ["echo hello $arg0 ($argc)"]
    assert session.execute("greet world").lines == ["hello world (1)"]
    run(session, "define greet", "echo bye", "end")
    assert session.execute("greet").lines == ["bye"]


def test_define_refuses_a_builtin_name_and_a_bad_name(session: Session) -> None:
    result = session.execute("define run")
    assert not result.ok and "built-in" in (result.error or "")
    assert not session.interpreter.in_block
    assert not session.execute("define 9lives").ok
    assert not session.execute("define").ok


def test_define_prints_no_hint_text_but_carries_one_for_the_console(session: Session) -> None:
    result = session.execute("define quiet")
    assert result.lines == [] and "definition of" in result.data["hint"]
    assert session.interpreter.in_block
    session.execute("end")
    assert session.user_commands["quiet"] == []


def test_document_sets_the_help_text(session: Session) -> None:
    run(session, "define hop", "stepi", "end", "document hop", "Step one instruction.", "More text.", "end")
    assert session.user_docs["hop"] == "Step one instruction.\nMore text."
    assert session.execute("help hop").lines == ["Step one instruction.", "More text."]
    assert "hop" in session.execute("help").text
    assert "Step one instruction." in session.execute("apropos instruction").text


def test_document_needs_a_user_command(session: Session) -> None:
    assert "define it first" in (session.execute("document nothing").error or "")
    assert "built-in" in (session.execute("document run").error or "")


def test_show_user_lists_definitions(session: Session) -> None:
    run(session, "define two", "echo a", "echo b", "end")
    assert session.execute("show user two").lines == ['User command "two":', "  echo a", "  echo b"]
    assert not session.execute("show user nobody").ok


def test_a_user_command_stops_at_its_first_failure(session: Session) -> None:
    run(session, "define broken", "echo first", "frobnicate", "echo second", "end")
    result = session.execute("broken")
    assert result.lines == ["first"]
    assert result.error is not None and result.error.startswith("broken: undefined command")


def test_other_families_can_add_block_kinds(session: Session) -> None:
    seen: list[tuple[str, list[str]]] = []

    @block_handler("test-commands")
    def finish(s: Session, name: str, lines: list[str]) -> CommandResult:
        seen.append((name, lines))
        return CommandResult("commands", lines=[f"{len(lines)} lines for {name}"])

    try:
        session.interpreter.begin_block("test-commands", "1")
        session.execute("silent")
        result = session.execute("end")
        assert seen == [("1", ["silent"])] and result.lines == ["1 lines for 1"]
    finally:
        from bpfdbg.commands import scripting

        scripting._BLOCK_HANDLERS.pop("test-commands")


# -- python ------------------------------------------------------------------------------------------
def test_python_one_liner_prints_into_the_result(session: Session) -> None:
    result = session.execute("python print(len(session.packets), s is session)")
    assert result.ok and result.lines == ["24 True"]


def test_python_block_and_a_namespace_that_persists(session: Session) -> None:
    run(session, "python", "def double(x):", "    return 2 * x", "", "total = double(21)", "end")
    assert session.execute("python print(total, double(2))").lines == ["42 4"]


def test_python_block_with_an_if_statement(session: Session) -> None:
    result = run(session, "python", "if True:", "    print('yes')", "end")
    assert result.lines == ["yes"]


def test_python_exception_is_one_line(session: Session) -> None:
    result = session.execute("python 1/0")
    assert not result.ok
    assert result.error == "Python Exception <ZeroDivisionError>: division by zero (line 1)"
    result = session.execute("python def (")
    assert not result.ok and (result.error or "").startswith("Python Exception <SyntaxError>")
    assert "exit()" in (session.execute("python raise SystemExit(3)").error or "")


def test_python_execute_shows_output_and_raises_on_failure(session: Session) -> None:
    assert session.execute('python execute("echo from python")').lines == ["from python"]
    text = session.execute('python print(repr(execute("echo hidden", to_string=True)))')
    assert text.lines == ["'hidden'"]
    result = session.execute('python execute("nosuch")')
    assert not result.ok and "undefined command" in (result.error or "")
    code = 'try:\n    execute("nosuch")\nexcept CommandFailed as err:\n    print("caught", err.result.ok)'
    caught = session.execute(f"python\n{code}\nend")
    assert caught.lines == ["caught False"]


def test_a_failed_expect_inside_python_fails_the_python_command(session: Session) -> None:
    result = session.execute('python execute("expect 1 == 2")')
    assert result.expect_failed and not result.ok
    assert result.error == "expect failed: 1 == 2"


def test_python_interactive_with_an_expression_and_without_a_terminal(session: Session) -> None:
    assert session.execute("pi 6 * 7").lines == ["42"]
    result = session.execute("python-interactive")  # pytest's stdin is not a terminal
    assert not result.ok and "needs a terminal" in (result.error or "")


# -- echo and quit -----------------------------------------------------------------------------------
def test_echo_escapes(session: Session) -> None:
    assert session.execute(r"echo a\tb\nc").lines == ["a\tb", "c"]
    assert session.execute(r"echo done\n").lines == ["done"]
    assert session.execute("echo").lines == []
    assert unescape(r"\ lead \"q\" \x41\101 back\\") == ' lead "q" AA back\\'


@pytest.mark.parametrize("word", ["quit", "q", "exit"])
def test_quit_and_its_aliases(session: Session, word: str) -> None:
    result = session.execute(word)
    assert result.quit and result.ok and result.data == {"status": None}


def test_quit_with_a_status(session: Session) -> None:
    assert session.execute("quit 3").data == {"status": 3}
    result = session.execute("quit soon")
    assert not result.ok and not result.quit


# -- expect --------------------------------------------------------------------------------------------
def test_split_comparison() -> None:
    assert split_comparison("$r0 == 2") == ("$r0", "==", "2")
    assert split_comparison("*(u32 *)($r10 - 8) >= 0x10") == ("*(u32 *)($r10 - 8)", ">=", "0x10")
    assert split_comparison("($r1 << 2) < $r2") == ("($r1 << 2)", "<", "$r2")
    assert split_comparison("$r0 == 1 && $r1 == 2") is None
    assert split_comparison("$r0") is None
    assert split_comparison("m[$r1 > 2] != 0") == ("m[$r1 > 2]", "!=", "0")


def test_expect_expression_holds_silently_and_fails_with_values(session: Session) -> None:
    run(session, "run")
    held = session.execute("expect $r0 == 2")
    assert held.ok and not held.expect_failed and held.lines == []
    failed = session.execute("expect $r0 == 1")
    assert failed.expect_failed and not failed.ok
    assert failed.error == "expect failed: $r0 == 1 ($r0 is 2)"
    both = session.execute("expect $r0 < $r0")
    assert both.error == "expect failed: $r0 < $r0 ($r0 is 2, $r0 is 2)"
    plain = session.execute("expect $r0 - 2")
    assert plain.error == "expect failed: $r0 - 2 (value 0)"


def test_expect_usage_and_evaluation_errors_are_not_expect_failures(session: Session) -> None:
    result = session.execute("expect")
    assert not result.ok and not result.expect_failed and result.usage
    result = session.execute("expect $r0 == 2")  # nothing is running: no registers
    assert not result.ok and not result.expect_failed
    result = session.execute("expect nosuchthing == 1")
    assert not result.ok and not result.expect_failed and "cannot evaluate" in (result.error or "")


def test_expect_action_of_the_current_run(session: Session) -> None:
    run(session, "select 3", "run")
    assert session.execute("expect action XDP_PASS").ok
    assert session.execute("expect verdict pass").ok
    assert session.execute("expect action 2").ok
    assert session.execute("expect action XDP_DROP XDP_PASS").ok
    result = session.execute("expect action XDP_DROP")
    assert result.expect_failed and result.error == "expect failed: packet 3 ended XDP_PASS"


def test_expect_action_over_run_all_reports_the_first_mismatch(session: Session) -> None:
    run(session, "run all")
    verdicts = session.verdicts
    assert len(verdicts) == 24 and session.status == "idle"
    drops = [v for v in verdicts if v.action == "XDP_DROP"]
    passes = [v for v in verdicts if v.action == "XDP_PASS"]
    assert drops and passes
    result = session.execute("expect action XDP_PASS")
    assert result.expect_failed
    assert result.error == f"expect failed: packet {drops[0].index + 1} ended XDP_DROP"
    result = session.execute("expect action XDP_DROP")
    assert result.error == f"expect failed: packet {passes[0].index + 1} ended XDP_PASS"
    assert session.execute("expect action XDP_PASS XDP_DROP").ok
    assert session.execute("expect exit").ok


def test_expect_action_before_anything_ran_or_while_stopped(session: Session) -> None:
    result = session.execute("expect action XDP_PASS")
    assert result.expect_failed and "nothing has run yet" in (result.error or "")
    run(session, "start")
    result = session.execute("expect action XDP_PASS")
    assert result.expect_failed and "stopped at insn 0" in (result.error or "")
    assert not session.execute("expect action").ok


def test_expect_fault_and_exit_on_a_faulting_program(tmp_path: Path) -> None:
    path = tmp_path / "fault.bin"
    path.write_bytes(assemble_bytes("ldxw %r0, [%r1+8]\nexit"))
    session = Session.open(path, raw=True)
    session.set_mem(bytes(4))
    run(session, "run")
    assert session.status == "faulted"
    assert session.execute("expect fault").ok
    assert session.execute("expect fault read of 4 bytes").ok
    assert session.execute("expect fault write").expect_failed
    result = session.execute("expect exit")
    assert result.expect_failed and (result.error or "").startswith("expect failed: the run faulted: read of")
    session.set_mem(bytes(16))
    run(session, "run")
    assert session.execute("expect exit").ok and session.execute("expect exit 0").ok
    assert session.execute("expect fault").expect_failed


def test_expect_map_values(session: Session) -> None:
    run(session, "run all")
    packets = session.evaluate("fw_counters[1].packets")
    from bpfdbg import expr

    count = expr.as_int(packets)
    assert count > 0
    assert session.execute(f"expect map fw_counters[1].packets == {count}").ok
    result = session.execute(f"expect map fw_counters[1].packets == {count + 1}")
    assert result.expect_failed
    assert result.error == (
        f"expect failed: map fw_counters[1].packets == {count + 1} (fw_counters[1].packets is {count})"
    )
    unknown = session.execute("expect map nosuch[0] == 1")
    assert not unknown.ok and not unknown.expect_failed and "no map 'nosuch'" in (unknown.error or "")
    assert "NAME[KEY]" in (session.execute("expect map fw_counters == 1").error or "")


# -- help and apropos --------------------------------------------------------------------------------
def test_help_lists_categories_and_summaries(session: Session) -> None:
    text = session.execute("help").text
    assert "Running:" in text and "Scripting:" in text and "Support:" in text
    assert "  quit (q, exit)" in text
    assert "expect" in text and "apropos" in text


def test_help_of_a_command_an_alias_and_a_prefix(session: Session) -> None:
    lines = session.execute("help quit").lines
    assert lines[0] == "quit [STATUS]" and "Aliases: q, exit" in lines
    assert session.execute("help q").lines == lines
    assert session.execute("help exit").lines == lines
    assert session.execute("h quit").lines == lines
    assert session.execute("? quit").lines == lines
    assert session.execute("help apro").lines[0] == "apropos WORD"


def test_help_of_a_prefix_command_lists_its_subcommands(session: Session) -> None:
    text = session.execute("help show").text
    assert 'List of "show" subcommands:' in text and "show user" in text
    assert session.execute("help show user").lines[0] == "show user [NAME]"
    assert not session.execute("help show nosuch").ok
    info = session.execute("help info").text
    for name in registry.SUBCOMMANDS["info"]:
        assert f"info {name}" in info


def test_help_of_a_category_and_of_unknown_words(session: Session) -> None:
    text = session.execute("help scripting").text
    assert text.startswith("Scripting:") and "source" in text and "run (r)" not in text
    assert "No user-defined commands" in session.execute("help user").text
    result = session.execute("help frobnicate")
    assert not result.ok and "undefined command" in (result.error or "")


def test_apropos_searches_names_and_docs(session: Session) -> None:
    text = session.execute("apropos python").text
    assert "python-interactive" in text and "python " in text
    assert "show user" in session.execute("apropos definition").text
    assert session.execute("apropos zzzqqq").lines == ['No commands match "zzzqqq".']
    assert session.execute("apropos [").ok  # not a valid regex: searched literally
    assert not session.execute("apropos").ok


@pytest.fixture
def stand_in() -> Iterator[str]:
    """A command registered only for this test (help must pick up any family's docstring)."""
    name = "zz-help-probe"

    @command(name, category="testing")
    def probe(session: Session, args: str) -> CommandResult:
        """zz-help-probe

        A probe for the help tests; it wraps its first sentence
        over two lines. The rest is detail.
        """
        return CommandResult(name)

    yield name
    registry._COMMANDS.pop(name)


def test_help_summary_is_the_first_sentence(session: Session, stand_in: str) -> None:
    text = session.execute("help").text
    assert "Testing:" in text
    assert f"{stand_in} -- A probe for the help tests; it wraps its first sentence over two lines.\n" in text
