"""``help`` and ``apropos``: built from the registry's docstrings, so help can never drift
from what the commands accept (DESIGN.md "Commands")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bpfdbg.commands.registry import (
    SUBCOMMANDS,
    Command,
    CommandError,
    CommandResult,
    alias_table,
    all_commands,
    command,
    lookup,
    summary_of,
)

if TYPE_CHECKING:
    from bpfdbg.session import Session

# The order gdb users meet things in; categories not listed follow alphabetically.
CATEGORY_ORDER = (
    "running",
    "breakpoints",
    "stack",
    "data",
    "maps",
    "packets",
    "files",
    "status",
    "engines",
    "scripting",
    "support",
    "misc",
)
USER_CATEGORY = "user-defined"


_summary = summary_of


def _user_summary(session: Session, name: str) -> str:
    doc = session.user_docs.get(name, "")
    return doc.splitlines()[0] if doc else "User-defined."


def _categories(session: Session) -> dict[str, list[tuple[str, str]]]:
    """category -> [(name with aliases, summary)], in display order."""
    found: dict[str, list[tuple[str, str]]] = {}
    for cmd in all_commands():
        label = cmd.name + (f" ({', '.join(cmd.aliases)})" if cmd.aliases else "")
        found.setdefault(cmd.category, []).append((label, _summary(cmd.doc)))
    for name in sorted(session.user_commands):
        found.setdefault(USER_CATEGORY, []).append((name, _user_summary(session, name)))
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    ordered = sorted(found, key=lambda c: (c == USER_CATEGORY, order.get(c, len(order)), c))
    return {c: found[c] for c in ordered}


def _listing(rows: list[tuple[str, str]]) -> list[str]:
    width = min(max((len(label) for label, _ in rows), default=0), 28)
    return [f"  {label:<{width}} -- {summary}" for label, summary in rows]


def _overview(session: Session) -> CommandResult:
    lines = ['List of commands ("help COMMAND" for details, "apropos WORD" to search):']
    for category, rows in _categories(session).items():
        lines.append("")
        lines.append(f"{category.capitalize()}:")
        lines.extend(_listing(rows))
    lines.append("")
    lines.append("Any unique prefix of a command name works; an empty line repeats a stepping command.")
    return CommandResult("help", lines=lines)


def _command_help(cmd: Command, session: Session) -> list[str]:
    lines = cmd.doc.splitlines()
    if cmd.aliases:
        lines += ["", "Aliases: " + ", ".join(cmd.aliases)]
    if cmd.name in SUBCOMMANDS and SUBCOMMANDS[cmd.name]:
        lines += ["", f'List of "{cmd.name}" subcommands:']
        rows = []
        for name, sub in sorted(SUBCOMMANDS[cmd.name].items()):
            label = f"{cmd.name} {name}" + (f" ({', '.join(sub.aliases)})" if sub.aliases else "")
            rows.append((label, _summary(sub.doc)))
        lines += _listing(rows)
    elif cmd.subcommands:
        lines += ["", "Subcommands: " + ", ".join(cmd.subcommands)]
    return lines


def _sub_help(prefix: str, word: str) -> list[str] | None:
    table = SUBCOMMANDS.get(prefix, {})
    for name, sub in table.items():
        if word == name or word in sub.aliases:
            return sub.doc.splitlines()
    found = [n for n in table if n.startswith(word)]
    if len(found) == 1:
        return table[found[0]].doc.splitlines()
    if found:
        raise CommandError(f'ambiguous "{prefix}" subcommand "{word}": {", ".join(sorted(found))}')
    return None


@command("help", aliases=("h", "?"), category="support", completes="command")
def cmd_help(session: Session, args: str) -> CommandResult:
    """help [COMMAND | CATEGORY]

    Show help: with no argument, every command by category with a one-line summary;
    "help COMMAND" the command's usage and description (an alias or unique prefix works);
    "help info" the info subcommands; "help info registers" one of them.
    """
    words = args.split()
    if not words:
        return _overview(session)
    word = words[0]
    aliases = alias_table()
    exact = {c.name for c in all_commands()}
    categories = _categories(session)
    if word not in exact and word not in aliases and word not in session.user_commands:
        key = word.lower()
        if key in ("user", USER_CATEGORY) and USER_CATEGORY not in categories:
            return CommandResult("help", lines=['No user-defined commands; "define NAME" makes one.'])
        if key in categories or key == "user":
            cat = USER_CATEGORY if key == "user" else key
            return CommandResult("help", lines=[f"{cat.capitalize()}:", *_listing(categories[cat])])
    found = lookup(word, session.user_commands)
    if isinstance(found, str):
        doc = session.user_docs.get(found)
        lines = doc.splitlines() if doc else ["User-defined."]
        return CommandResult("help", lines=lines)
    if len(words) > 1 and found.name in SUBCOMMANDS:
        sub = _sub_help(found.name, words[1])
        if sub is None:
            names = ", ".join(sorted(SUBCOMMANDS[found.name]))
            raise CommandError(f'no "{found.name} {words[1]}"; subcommands: {names}')
        return CommandResult("help", lines=sub)
    return CommandResult("help", lines=_command_help(found, session))


@command("apropos", category="support")
def cmd_apropos(session: Session, args: str) -> CommandResult:
    """apropos WORD

    Search command names, aliases and help texts for WORD (a regular expression, case
    ignored) and list the matching commands with their summaries.
    """
    text = args.strip()
    if not text:
        raise CommandError("apropos needs a word to search for", "apropos WORD")
    try:
        pattern = re.compile(text, re.I)
    except re.error:
        pattern = re.compile(re.escape(text), re.I)
    rows: list[tuple[str, str]] = []
    for cmd in all_commands():
        haystack = " ".join((cmd.name, *cmd.aliases, cmd.doc))
        if pattern.search(haystack):
            rows.append((cmd.name, _summary(cmd.doc)))
        for name, sub in sorted(SUBCOMMANDS.get(cmd.name, {}).items()):
            if pattern.search(" ".join((cmd.name, name, *sub.aliases, sub.doc))):
                rows.append((f"{cmd.name} {name}", _summary(sub.doc)))
    for name in sorted(session.user_commands):
        if pattern.search(name + " " + session.user_docs.get(name, "")):
            rows.append((name, _user_summary(session, name)))
    if not rows:
        return CommandResult("apropos", lines=[f'No commands match "{text}".'])
    return CommandResult("apropos", lines=_listing(rows))
