"""The TUI's garbage-collection policy changes process-wide settings: it must put them
back, and its idle collection must keep the heap's frozen part growing only on purpose."""

from __future__ import annotations

import gc

from tui.gcpolicy import DEFERRED_THRESHOLD2, GcPolicy


def test_start_defers_full_collections_and_stop_restores_the_interpreter() -> None:
    before = gc.get_threshold()
    policy = GcPolicy()
    policy.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], DEFERRED_THRESHOLD2)
        assert gc.get_freeze_count() > 0
        policy.start()  # twice is once
        assert gc.get_threshold()[2] == DEFERRED_THRESHOLD2
        garbage = [[] for _ in range(100)]
        for item in garbage:
            item.append(item)  # cycles: only a collection frees them
        del garbage, item
        policy.idle()
        assert gc.collect() == 0  # the idle collection found the cycles already
    finally:
        policy.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    policy.stop()  # stopping twice is harmless
    assert gc.get_threshold() == before
