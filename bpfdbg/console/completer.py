"""Tab completion for the console: a prompt_toolkit ``Completer`` over ``bpfdbg.completion``.

The completion logic lives in ``bpfdbg.completion`` so the TUI's command bar, which may not
import prompt_toolkit, gets the same answers; this adapter only turns its ``Candidate``s into
``Completion``s. Being a plain Completer, it is tested with ``Document``s and no terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from bpfdbg.completion import complete

if TYPE_CHECKING:
    from bpfdbg.session import Session


class BpfdbgCompleter(Completer):
    """Completes command names, subcommands and each command's arguments."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        for candidate in complete(self.session, document.text_before_cursor):
            yield Completion(
                candidate.text,
                start_position=candidate.start,
                display=candidate.display,
                display_meta=candidate.meta,
            )
