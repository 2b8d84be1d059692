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
