"""bpfdbg.cmdhistory: the TUI's reader and writer of the console's history file, checked
against prompt_toolkit's own FileHistory in both directions so the two front ends really do
share one file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prompt_toolkit.history import FileHistory

from bpfdbg.cmdhistory import append_history, history_path, load_history
from bpfdbg.console import repl

ENTRIES = [
    "break xdp_firewall.c:128",
    "define hook-stop\ninfo registers\nx/4xb $pkt\nend",  # a multi-line entry
    "print $r0 == 2",
    'echo naïve ünïcode "quoted" + plus',
    "+leading plus",  # looks like a continuation line once prefixed, must stay one entry
    "trailing space ",
]
_TIMESTAMP = re.compile(r"^# .*$", re.MULTILINE)


def test_history_path_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BPFDBG_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
    monkeypatch.setenv("BPFDBG_HISTORY", "~/elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / "elsewhere"
    monkeypatch.delenv("BPFDBG_HISTORY")
    assert history_path() == Path.home() / ".bpfdbg_history"
    assert repl.history_path is history_path  # the console takes its path from here


def test_ours_written_prompt_toolkit_reads(tmp_path: Path) -> None:
    path = tmp_path / "history"
    for entry in ENTRIES:
        assert append_history(path, entry) is None
    assert list(FileHistory(str(path)).load_history_strings()) == ENTRIES[::-1]  # newest first there


def test_prompt_toolkit_written_ours_reads(tmp_path: Path) -> None:
    path = tmp_path / "history"
    theirs = FileHistory(str(path))
    for entry in ENTRIES:
        theirs.store_string(entry)
    assert load_history(path) == ENTRIES  # oldest first here


def test_the_bytes_are_prompt_toolkits_bar_the_clock(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for entry in ENTRIES:
        append_history(ours, entry)
        FileHistory(str(theirs)).store_string(entry)
    text = ours.read_text(encoding="utf-8")
    assert text.startswith("\n# ") and "\n+define hook-stop\n+info registers\n+x/4xb $pkt\n+end\n" in text
    assert re.fullmatch(r"# \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", _TIMESTAMP.findall(text)[0])
    assert _TIMESTAMP.sub("# T", text) == _TIMESTAMP.sub("# T", theirs.read_text(encoding="utf-8"))


def test_interleaved_writers_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "history"
    FileHistory(str(path)).store_string("stepi")
    append_history(path, "define x\necho 1\nend")
    FileHistory(str(path)).store_string("continue")
    append_history(path, "info maps")
    expected = ["stepi", "define x\necho 1\nend", "continue", "info maps"]
    assert load_history(path) == expected
    assert list(FileHistory(str(path)).load_history_strings()) == expected[::-1]


def test_the_console_opens_a_file_we_wrote(tmp_path: Path) -> None:
    path = tmp_path / "history"
    append_history(path, "frame 1")
    history, warning = repl.open_history(path)
    assert warning is None and list(history.load_history_strings()) == ["frame 1"]


def test_an_unwritable_path_is_a_warning_not_an_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "history"  # a directory that is a file: cannot be created
    warning = append_history(path, "stepi")
    assert warning is not None and "not saved" in warning and str(path) in warning
    assert load_history(path) == []
    assert blocker.read_text() == ""


def test_missing_file_empty_entries_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history"
    assert load_history(path) == []
    assert append_history(path, "") is None and not path.exists()  # blank lines leave no trace
    assert append_history(path, "next") is None and load_history(path) == ["next"]  # parent created
    with open(path, "ab") as f:
        f.write(b"\n# 2026-01-01 00:00:00\n+echo \xff\n")
    assert load_history(path) == ["next", "echo \ufffd"]
    assert load_history(path) == list(FileHistory(str(path)).load_history_strings())[::-1]
