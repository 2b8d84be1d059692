"""gdb's ``enable display``/``disable display``: a disabled auto-display keeps its number
and its place in ``info display`` (Enb n) but is not shown at stops or by ``display``."""

from __future__ import annotations

import pytest

from bpfdbg.render.displays import display_lines
from bpfdbg.session import Session

from . import err, ok, open_sample


@pytest.fixture
def fw() -> Session:
    """xdp_firewall stopped at its first instruction, with three displays."""
    session = open_sample("xdp_firewall")
    ok(session, "start")
    ok(session, "display $r0")
    ok(session, "display/x $r1")
    ok(session, "display/i $pc")
    return session


def enabled(session: Session) -> list[bool]:
    return [d.enabled for d in sorted(session.displays, key=lambda d: d.number)]


def test_disable_display_hides_it_at_stops_and_info_display_says_n(fw: Session) -> None:
    assert ok(fw, "disable display 2") == []
    assert enabled(fw) == [True, False, True]
    assert ok(fw, "info display") == [
        "Auto-display expressions now in effect:",
        "Num Enb Expression",
        "1:   y  $r0",
        "2:   n  /x $r1",
        "3:   y  x/i $pc",
    ]
    shown = ok(fw, "stepi")
    assert not any(line.startswith("2:") for line in shown)
    assert any(line.startswith("1: $r0") for line in shown)
    assert not any(line.startswith("2:") for line in ok(fw, "display"))
    assert not any(line.startswith("2:") for line in display_lines(fw))


def test_enable_display_brings_it_back(fw: Session) -> None:
    ok(fw, "disable display 1 3")
    assert enabled(fw) == [False, True, False]
    assert ok(fw, "enable display 3") == []
    assert enabled(fw) == [False, True, True]
    assert [line[:2] for line in ok(fw, "stepi") if line[:2] in ("1:", "2:", "3:")] == ["2:", "3:"]


def test_without_numbers_all_displays_and_ranges_work(fw: Session) -> None:
    ok(fw, "disable display")
    assert enabled(fw) == [False, False, False]
    assert ok(fw, "display") == []
    ok(fw, "enable display 1-2")
    assert enabled(fw) == [True, True, False]
    ok(fw, "en disp")
    assert enabled(fw) == [True, True, True]


def test_breakpoints_are_untouched(fw: Session) -> None:
    ok(fw, "break *10")
    ok(fw, "disable display 1")
    assert fw.stoppoint(1).enabled
    ok(fw, "disable 1")
    assert not fw.stoppoint(1).enabled
    assert enabled(fw) == [False, True, True]


def test_display_toggle_errors_are_one_line(fw: Session) -> None:
    assert err(fw, "disable display 7") == 'no display number 7; "info display" lists them'
    assert err(fw, "enable display x") == "a display number must be a number, not 'x'"
    assert enabled(fw) == [True, True, True]
