"""The helper table of the bpf_conformance convention (as ubpf's test harness registers it).

Only helper 5 is used by the suite (``call_unwind_fail``, ``callx``): it returns its first
argument. These are *not* kernel helpers; kernel program types use the kernel table.
"""

from __future__ import annotations

from emulator.helpers.registry import HelperContext, HelperSpec, HelperTable, helper_table


def _unwind(ctx: HelperContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return r1


CONFORMANCE_HELPERS: HelperTable = helper_table(
    "conformance", [HelperSpec(5, "unwind", ("u64 value",), _unwind, ret="u64")]
)
