"""Every key of the TUI, as data: the app's bindings, the help screen and the README's key
table all come from KEYS.

F10 and F11 step by instruction while the code pane shows the disassembly and by
source line while it shows the source (``v`` toggles), as an IDE's step does in its
disassembly view; ``n``/``s`` are gdb's next/step, ``o``/``i`` its nexti/stepi.

A key either runs a command line of the shared command language (``command``), so what a
key does is exactly what typing that line does, or triggers a UI action (``action``) such
as focusing a pane. Keys marked ``code`` act on the code pane's cursor (breakpoint at the
cursor, run to the cursor) and only work while it is focused. ``id`` names each binding so
a keymap can remap it (Textual's ``App.set_keymap``).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Key:
    keys: str  # Textual key names, comma separated: "f5,c"
    id: str
    description: str  # footer and help text
    command: str | None = None  # a command line of the shared language
    action: str | None = None  # a UI action (app or pane) when no command expresses it
    show: bool = True  # in the footer
    group: str = "run"  # help screen section: run, reverse, breakpoints, frames, panes, app
    code: bool = False  # belongs to the code pane (acts on its cursor)
    means: str = ""  # the command line an action sends, for the help screen and the README

    @property
    def as_command(self) -> str:
        return self.command or self.means


KEYS: tuple[Key, ...] = (
    # running forward: F-keys as in IDEs, single letters as in gdb's SingleKey mode and pudb
    Key("f5,c", "continue", "Continue", command="continue"),
    Key("f10", "next-key", "Next", action="step_key('next')", means="nexti (disassembly) / next (source)"),
    Key("f11", "step-key", "Step", action="step_key('step')", means="stepi (disassembly) / step (source)"),
    Key("n", "next", "Next line", command="next", show=False),
    Key("s", "step", "Step line", command="step", show=False),
    Key("i", "stepi", "Stepi", command="stepi", show=False),
    Key("o", "nexti", "Nexti", command="nexti", show=False),
    Key("shift+f11,f", "finish", "Finish", command="finish"),
    Key("r", "run", "Restart", command="run", show=False),
    Key(
        "ctrl+c",
        "interrupt",
        "Interrupt",
        action="interrupt",
        show=False,
        means="(stops the running command)",
    ),
    # the same backwards: Shift on an F-key, upper case on a letter (gdb SingleKey)
    Key("shift+f5,C", "reverse-continue", "Rev-continue", command="reverse-continue", group="reverse"),
    Key("shift+f10,N", "reverse-next", "Rev-next", command="reverse-next", group="reverse", show=False),
    Key("ctrl+f11,S", "reverse-step", "Rev-step", command="reverse-step", group="reverse", show=False),
    Key("I", "reverse-stepi", "Rev-stepi", command="reverse-stepi", group="reverse", show=False),
    Key("O", "reverse-nexti", "Rev-nexti", command="reverse-nexti", group="reverse", show=False),
    Key(
        "ctrl+shift+f11,F",
        "reverse-finish",
        "Rev-finish",
        command="reverse-finish",
        group="reverse",
        show=False,
    ),
    # the code pane's cursor
    Key(
        "f9,b",
        "toggle-breakpoint",
        "Break",
        action="toggle_breakpoint",
        group="breakpoints",
        code=True,
        means="break *PC / delete N",
    ),
    Key(
        "t",
        "run-to-cursor",
        "Run to cursor",
        action="run_to_cursor",
        group="breakpoints",
        code=True,
        show=False,
        means="advance *PC",
    ),
    Key("H", "cursor-to-pc", "Back to pc", action="cursor_to_pc", group="breakpoints", code=True, show=False),
    Key("v", "toggle-source", "Source/asm", action="toggle_source", group="panes", code=True, show=False),
    # frames
    Key("u", "up", "Up frame", command="up", group="frames", show=False),
    Key("d", "down", "Down frame", command="down", group="frames", show=False),
    # panes and the app
    Key("colon", "command-bar", "Command", action="focus_command", group="panes", show=False),
    Key("x", "split-backends", "Split backends", action="toggle_split", group="panes", show=False),
    Key("question_mark,f1", "help", "Help", action="help", group="app"),
    Key("ctrl+p", "palette", "Commands", action="command_palette", group="app", show=False),
    Key("q", "quit", "Quit", action="quit", group="app"),
)

GROUPS = {
    "run": "Running",
    "reverse": "Reverse execution",
    "breakpoints": "Breakpoints and the code cursor",
    "frames": "Frames",
    "panes": "Panes",
    "app": "App",
}


def key_display(keys: str) -> str:
    """``F5 / c`` for ``f5,c``: how the help screen and the README write a key list."""
    names = {
        "colon": ":",
        "question_mark": "?",
        "ctrl+c": "Ctrl+C",
        "ctrl+p": "Ctrl+P",
        "ctrl+f11": "Ctrl+F11",
        "ctrl+shift+f11": "Ctrl+Shift+F11",
    }
    out = []
    for key in keys.split(","):
        if key in names:
            out.append(names[key])
        elif key.startswith("shift+f"):
            out.append("Shift+" + key[6:].upper())
        elif key.startswith("f") and key[1:].isdigit():
            out.append(key.upper())
        else:
            out.append(key)
    return " / ".join(out)


def app_bindings() -> list[Binding]:
    """The app-wide bindings (everything but the code pane's)."""
    return [_binding(k) for k in KEYS if not k.code]


def code_bindings() -> list[Binding]:
    return [_binding(k) for k in KEYS if k.code]


def _binding(k: Key) -> Binding:
    action = k.action if k.action is not None else f"command({k.command!r})"
    return Binding(k.keys, action, k.description, show=k.show, id=k.id)


def key_table() -> list[tuple[str, str, str]]:
    """(keys, what, command or action) rows for the help screen and the README."""
    return [
        (key_display(k.keys), k.description + (" (code pane)" if k.code else ""), k.as_command) for k in KEYS
    ]


def bound_keys() -> frozenset[str]:
    """Every key some binding of the app or a pane uses (the rest start a command line)."""
    keys = {key for k in KEYS for key in k.keys.split(",")}
    keys |= {"up", "down", "j", "k", "g", "G", "pageup", "pagedown", "home", "end", "enter", "tab", "escape"}
    return frozenset(keys)
