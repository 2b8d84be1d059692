"""Golden-file tests: whole console sessions on the sample programs, script in, transcript
out. Regenerate after an intended change with ``python3 -m tests.golden.transcript
--update`` and review the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bpfdbg.commands.interpreter import split_command
from bpfdbg.commands.registry import SUBCOMMANDS, all_commands, lookup
from tests.golden.transcript import scripts, transcript


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_transcript(script: Path) -> None:
    expected = script.with_suffix(".out").read_text()
    got = transcript(script)
    if got != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "expected", "got", n=2)
        )
        pytest.fail(f"{script.name}: transcript differs\n{diff}")


def _used() -> tuple[set[str], set[str]]:
    commands: set[str] = set()
    subs: set[str] = set()
    for script in scripts():
        for line in script.read_text().splitlines():
            word, rest = split_command(line.strip())
            if not word or word == "#":
                continue
            try:
                found = lookup(word)
            except Exception:
                continue
            if isinstance(found, str):
                continue
            commands.add(found.name)
            if found.name in SUBCOMMANDS and rest:
                subs.add(f"{found.name} {rest.split()[0]}")
    return commands, subs


def test_every_command_appears_in_a_transcript() -> None:
    commands, _ = _used()
    missing = sorted({c.name for c in all_commands()} - commands)
    assert not missing, f"commands without a golden transcript: {missing}"


def test_every_info_set_show_subcommand_appears() -> None:
    _, used = _used()
    wanted = set()
    for prefix, table in SUBCOMMANDS.items():
        for name, sub in table.items():
            forms = {name, *sub.aliases}
            if not any(f"{prefix} {form}" in used for form in forms) and not any(
                u.startswith(f"{prefix} ") and name.startswith(u.split()[1]) for u in used
            ):
                wanted.add(f"{prefix} {name}")
    assert not wanted, f"subcommands without a golden transcript: {sorted(wanted)}"
