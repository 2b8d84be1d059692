"""The ``bpfdbg`` TUI in a real terminal: started under tmux on the bundled sample, driven
with ``tmux send-keys``, read with ``tmux capture-pane``. Each wait polls the screen until
the expected text appears, within a deadline.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpfdbg.cmdhistory import load_history
from tests.tui.sessions import ROOT

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
EXITED = "bpfdbg exited with status"


@dataclass
class Terminal:
    socket: str
    name: str

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        proc = subprocess.run(
            [TMUX, "-S", self.socket, *args], capture_output=True, text=True, timeout=20, check=True
        )
        return proc.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Poll the screen until ``text`` shows; fail with the last screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout:g} s; the screen:\n{screen}")
            time.sleep(0.1)

    def status_line(self) -> str:
        return self.screen().splitlines()[0]


@pytest.fixture
def terminal() -> Iterator[tuple[Terminal, Path]]:
    """A tmux server of our own (its socket in a fresh directory) running ``bpfdbg`` in a
    140x45 window; the history goes to a file of the test's. The window's shell reports the
    exit status when bpfdbg ends, then waits so the screen can still be read."""
    assert TMUX is not None
    home = Path(tempfile.mkdtemp(prefix="bpfdbg-tmux-"))
    history = home / "history"
    term = Terminal(str(home / "tmux.sock"), "bpfdbg")
    bpfdbg = shutil.which("bpfdbg")
    launch = shlex.quote(bpfdbg) if bpfdbg else f"{shlex.quote(sys.executable)} -m tui.launch"
    script = f'{launch}; echo "{EXITED} $?"; exec sleep 120'
    env = {**os.environ, "BPFDBG_HISTORY": str(history), "TERM": "xterm-256color"}
    for inherited in ("NO_COLOR", "COLUMNS", "LINES"):  # pytest-xdist workers have COLUMNS=80, LINES=24,
        env.pop(inherited, None)  # which Textual would take over the terminal's own size
    subprocess.run(
        [TMUX, "-S", term.socket, "-f", "/dev/null", "new-session", "-d", "-x", "140", "-y", "45"]
        + ["-s", term.name, "-c", str(ROOT), "sh", "-c", script],
        env=env,
        check=True,
        timeout=20,
    )
    server = int(term.tmux("display-message", "-p", "-t", term.name, "#{pid}"))
    try:
        yield term, history
    finally:
        subprocess.run([TMUX, "-S", term.socket, "kill-server"], capture_output=True, timeout=20)
        try:
            os.kill(server, signal.SIGTERM)  # the server this fixture started, should it linger
        except ProcessLookupError:
            pass
        shutil.rmtree(home, ignore_errors=True)


def test_bpfdbg_in_a_real_terminal(terminal: tuple[Terminal, Path]) -> None:
    term, history = terminal
    term.wait_for('not running: "run" (r) or "start"', timeout=30)
    assert term.status_line().startswith(" xdp_lb.o:xdp_lb (xdp)  packet 1/20")
    for pane in ("Code xdp_lb", "Registers", "Stack", "Packets", "Output", "F5/c continue"):
        term.wait_for(pane)
    term.keys("i")
    term.wait_for("stopped: started, insn 0")
    term.keys("i")  # one key at a time: a key pressed while a command runs is refused
    term.wait_for("stopped: stepped, insn 1")
    term.keys("i")
    term.wait_for("stopped: stepped, insn 2")
    term.wait_for("=>    2: r3 = 0")  # the status line and the panes may be drawn apart
    # the command bar: ":" focuses it, Enter runs the line, Escape goes back to the code
    term.keys(":")
    term.wait_for("(bpfdbg) command")
    term.keys("break *18", literal=True)
    term.wait_for("break *18")
    term.keys("Enter")
    term.wait_for("Breakpoint 1 at insn 18")
    term.keys("Escape")  # then wait: Escape and a key at once read as Alt+key
    term.wait_for("f9 Break")  # the footer of the code pane
    term.keys("c")
    term.wait_for("stopped: breakpoint 1, insn 18")
    term.wait_for("=>   18: r3 = *(u8 *)(r6 + 12)")
    term.keys("F10")  # nexti in the disassembly
    term.wait_for("stopped: stepped, insn 19")
    term.keys("q")
    term.wait_for(f"{EXITED} 0")
    assert {"start", "break *18", "continue", "nexti"} <= set(load_history(history))
