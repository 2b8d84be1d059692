"""The README's Python API example runs as written (from the repository root)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = []
    for part in text.split("```python\n")[1:]:
        blocks.append(part.split("```", 1)[0])
    return blocks


def test_session_api_example_runs() -> None:
    block = next(b for b in _python_blocks() if "Session.open" in b)
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = out.getvalue()
    assert "{kind = 2, proto = 0, port = 0, addr = 167880896}" in printed
    assert printed.rstrip().endswith("XDP_DROP")
    assert "Stopped(reason='breakpoint'" in printed  # the subscribed events


def test_key_table_is_the_tuis() -> None:
    """The README's key table lists exactly the TUI's bindings, in order, with what each
    sends: a new or changed key without a README row fails here."""
    from tui.bindings import key_table

    text = (ROOT / "README.md").read_text()
    table = text.split("| keys | does | as a command |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = [
        tuple(cell.strip().strip("`") for cell in line.strip("|").split(" | ")) for line in table.splitlines()
    ]
    assert rows == [(k, d, c) for k, d, c in key_table()]


def test_start_command_opens_the_tui_on_the_bundled_sample() -> None:
    """The set-up command is `bpfdbg` alone, and what it opens is there."""
    from tui.launch import SAMPLE, SAMPLES

    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up on a fresh machine", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert setup == "python3 -m pip install -e . && bpfdbg"
    assert all((SAMPLES / name).exists() for name in SAMPLE)
