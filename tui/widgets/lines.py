"""LinesView: a scrolling, focusable list of pre-rendered lines with a cursor.

Every pane but the command bar is one of these (or holds some): the presenters turn the
SessionView into Rich Text lines and a target per line; this widget only draws the lines
that are visible (Textual's line API, so a 10,000-line listing costs what the screen
shows), keeps a cursor, follows a focus line (the current instruction), and posts
``Activated`` when a line is clicked or Enter is pressed, carrying that line's target.
The screen turns the target into a command line: widgets post intents, never act.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.presenters import Lines

CURSOR_STYLE = Style(underline=True, bold=True)


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Give a scrolling pane a new content size. Textual's ``virtual_size`` reactive asks
    for a layout pass of the whole screen, which costs more than drawing the panes that
    changed; when neither scrollbar appears or disappears, only the scrollbars need the
    news (Textual's own no-layout path in ``Widget._size_updated``), so take that path."""
    old = view.virtual_size
    if size == old:
        return
    region = view.scrollable_content_region
    bars_change = (size.height > region.height) != (old.height > region.height) or (
        size.width > region.width
    ) != (old.width > region.width)
    if not view.is_mounted:
        view.virtual_size = size
        return
    view.set_reactive(ScrollView.virtual_size, size)
    if region.area == 0:
        return  # not on screen (an inactive tab): sized by resize_on_show when it appears
    if bars_change:
        view.set_reactive(ScrollView.virtual_size, old)
        view.virtual_size = size  # a scrollbar comes or goes: that takes a layout pass
        return
    view._scroll_update(size)
    view.refresh()


StripCache = dict[int, tuple[Text, Style, Strip]]


def strip_of(view: ScrollView, cache: StripCache, text: Text, style: Style) -> Strip:
    """One line drawn, from the cache when this very Text was drawn in this style before
    (keyed by identity, the Text kept alive with it): presenters reuse the Text of a line
    that did not change, so a step draws only the lines that did. A new theme is a new
    style, so everything is drawn again."""
    cached = cache.get(id(text))
    if cached is not None and cached[0] is text and cached[1] == style:
        return cached[2]
    segments = [s for s in text.render(view.app.console) if s.text != "\n"]
    strip = Strip(segments, text.cell_len).apply_style(style)
    cache[id(text)] = (text, style, strip)
    return strip


def resize_on_show(view: ScrollView) -> None:
    """A pane that filled while hidden gets its scrollbars when it is shown."""
    size = view.virtual_size
    view.set_reactive(ScrollView.virtual_size, Size(0, 0))
    view.virtual_size = size


class TextLinesView(ScrollView):
    """Rich Text lines drawn lazily through Textual's line API, each line rendered once
    (see strip_of). Subclasses say which lines (``texts``) and may mark one (``decorate``)."""

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._strips: StripCache = {}
        self._style = Style()

    def texts(self) -> Sequence[Text]:
        raise NotImplementedError

    def decorate(self, index: int, strip: Strip, width: int) -> Strip:
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # once per pass, not once per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        style = self._style
        texts = self.texts()
        if index >= len(texts):
            return Strip.blank(width, style)
        strip = self.decorate(index, strip_of(self, self._strips, texts[index], style), width + scroll_x)
        return strip.crop_extend(scroll_x, scroll_x + width, style)


class LinesView(TextLinesView, can_focus=True):
    DEFAULT_CSS = """
    LinesView { height: 1fr; overflow: auto auto; scrollbar-size: 1 1; }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home,g", "cursor_to(0)", "Top", show=False),
        Binding("end,G", "cursor_to(-1)", "Bottom", show=False),
        Binding("enter", "activate", "Select", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    @dataclass
    class Activated(Message):
        """A line was clicked or Enter was pressed on it."""

        view: LinesView
        index: int
        target: object | None
        click: bool = False

        @property
        def control(self) -> LinesView:
            return self.view

    def __init__(self, *, follow: bool = True, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.content = Lines(())
        self.follow = follow  # keep the focus line (the current instruction) in view
        # Rendered lines by the identity of their Text (kept alive with it): presenters
        # reuse Text objects for lines that did not change, so a step re-renders only the
        # lines that did.
        self._width = 0

    # -- content ------------------------------------------------------------------------------
    def show(self, content: Lines, *, keep_cursor: bool = False) -> None:
        """Replace the lines. The cursor moves to the focus line unless ``keep_cursor`` (or
        the content has none), and the view scrolls to keep it visible when following."""
        old = self.content.lines
        new = content.lines
        if len(old) != len(new):
            self.refresh()
        else:
            # only the lines that changed are drawn again (a step moves a marker and a count
            # in a listing of hundreds): the presenters reuse unchanged Text objects
            for i, (before, after) in enumerate(zip(old, new, strict=True)):
                if before is not after and before != after:
                    self.refresh_line(i)
        if len(self._strips) > 4 * len(new) + 64:
            self._strips.clear()
        self.content = content
        width = max((t.cell_len for t in content.lines), default=0)
        if len(content.lines) == self.virtual_size.height:
            # the same number of lines (registers, a listing with a moved marker): keep the
            # widest width seen, so that a value getting shorter costs no layout pass
            width = max(width, self.virtual_size.width)
        set_virtual_size(self, Size(width, len(content.lines)))
        if content.focus is not None and not keep_cursor:
            self.cursor = content.focus
            if self.follow:
                self._reveal(content.focus, center=True)
        else:
            cursor = min(self.cursor, max(len(content.lines) - 1, 0))
            if cursor != self.cursor:
                self.cursor = cursor

    @property
    def target(self) -> object | None:
        targets = self.content.targets
        return targets[self.cursor] if 0 <= self.cursor < len(targets) else None

    def move_to_target(self, target: object) -> bool:
        line = self.content.cursor_of.get(target)
        if line is None:
            return False
        self.cursor = line
        self._reveal(line, center=True)
        return True

    def text(self) -> str:
        """All lines as plain text (what tests and the screen-capture read)."""
        return "\n".join(t.plain for t in self.content.lines)

    # -- drawing --------------------------------------------------------------------------------
    def texts(self) -> Sequence[Text]:
        return self.content.lines

    def decorate(self, index: int, strip: Strip, width: int) -> Strip:
        """The cursor line, underlined across the pane, while the pane has the focus."""
        if index != self.cursor or not self.has_focus:
            return strip
        strip = strip.extend_cell_length(max(width, strip.cell_length))
        return Strip([Segment(s.text, (s.style or Style()) + CURSOR_STYLE, s.control) for s in strip])

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)

    def on_show(self) -> None:
        resize_on_show(self)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _reveal(self, line: int, *, center: bool = False) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top = self.scroll_offset.y
        if height <= 0:
            return
        if center and not top <= line < top + height:
            self.scroll_to(y=max(line - height // 2, 0), animate=False, immediate=True)
        elif line < top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False, immediate=True)

    # -- actions ---------------------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        count = len(self.content.lines)
        if count:
            self.cursor = max(0, min(count - 1, self.cursor + delta))
            self._reveal(self.cursor)

    def action_cursor_to(self, line: int) -> None:
        count = len(self.content.lines)
        if count:
            self.cursor = line % count
            self._reveal(self.cursor)

    def action_activate(self) -> None:
        self.post_message(self.Activated(self, self.cursor, self.target))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)  # event.y counts the border; lines start inside it
        if offset is None:  # a click on the border
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self.content.lines):
            self.cursor = index
            self.post_message(self.Activated(self, index, self.target, click=True))


def plain(lines: Lines) -> str:
    return "\n".join(t.plain for t in lines.lines)


def text_lines(*texts: str | Text) -> Lines:
    return Lines(tuple(Text(t) if isinstance(t, str) else t for t in texts))


class LogView(TextLinesView, can_focus=True):
    """An append-only log of Rich Text lines, drawn lazily like LinesView: appending costs
    the new lines, never a layout pass, and the view follows the end unless the user
    scrolled away from it."""

    DEFAULT_CSS = "LogView { height: 1fr; overflow: auto auto; scrollbar-size: 1 1; }"

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self.max_lines = max_lines
        self.follow_end = True  # False while the user has scrolled up to read

    def append(self, texts: list[Text]) -> None:
        if not texts:
            return
        self.lines.extend(texts)
        if len(self.lines) > self.max_lines:
            del self.lines[: len(self.lines) - self.max_lines]
            self._strips.clear()
        width = max(self.virtual_size.width, max(t.cell_len for t in texts))
        set_virtual_size(self, Size(width, len(self.lines)))
        if self.follow_end:
            # after the refresh: a new virtual size may wait for a layout pass, and scrolling
            # before it would stop at the old end
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow_end = False

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.call_after_refresh(self._at_end)

    def _at_end(self) -> None:
        self.follow_end = self.scroll_offset.y >= self.max_scroll_y - 1

    def on_show(self) -> None:
        resize_on_show(self)
        self.scroll_end(animate=False, immediate=True)

    def texts(self) -> Sequence[Text]:
        return self.lines
