"""The command palette (Ctrl+P): every command of the shared language and every key's
action, fuzzy-searched. Picking a command that needs arguments puts it in the command bar;
picking one that runs as it stands runs it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from bpfdbg.commands.registry import SUBCOMMANDS, all_commands, summary_of
from tui.bindings import KEYS, key_display


def palette_entries() -> list[tuple[str, str, bool]]:
    """(command text, help, runs as it stands) for every command, info/set/show
    subcommand and key; commands whose usage has a required argument are filled in
    rather than run."""
    entries: list[tuple[str, str, bool]] = []
    for cmd in all_commands():
        usage = cmd.usage
        needs_args = any(part[:1].isupper() or part.startswith("<") for part in usage.split()[1:2])
        needs_args = needs_args or cmd.name in SUBCOMMANDS
        entries.append((cmd.name, cmd.summary, not needs_args))
    for prefix, table in SUBCOMMANDS.items():
        for name, sub in sorted(table.items()):
            doc = getattr(getattr(sub, "handler", None), "__doc__", None) or ""
            runs = prefix in ("info", "show")
            entries.append((f"{prefix} {name}", summary_of(doc) if doc else "", runs))
    for key in KEYS:
        if key.command is not None:
            entries.append((key.command, f"key {key_display(key.keys)}: {key.description}", True))
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    return unique


class CommandsProvider(Provider):
    """bpfdbg's commands in Textual's palette."""

    def _entries(self) -> Iterator[tuple[str, str, bool]]:
        yield from palette_entries()

    def _pick(self, text: str, runs: bool) -> None:
        app: Any = self.app
        if runs:
            app.run_command(text)
        else:
            bar = app.query_one("#command")
            bar.value = text + " "
            bar.cursor_position = len(bar.value)
            bar.focus()

    async def discover(self) -> Hits:
        for text, help_text, runs in self._entries():
            yield DiscoveryHit(text, partial(self._pick, text, runs), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, runs in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._pick, text, runs), help=help_text)
