"""Our JIT of each sample beside the running kernel's JIT image (BPF_OBJ_GET_INFO_BY_FD):
the same function images, the same register mapping, and for straight-line ALU instructions
the same native instruction count (and shape, up to immediates) per eBPF instruction.
Skipped where bpf() is not permitted.

Differences that remain, by design (see emitter.DEVIATIONS): map pointers (the kernel
embeds kernel addresses, we the map's number), the prologue (stack size, tail-call counter
slots), the return (`ret` vs the kernel's return thunk), and tail calls (a trampoline call
vs the kernel's inlined prog-array jump), around which a few instructions stay unaligned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfdbg.capture import read_map_entries
from emulator.backends.base import create
from emulator.backends.hostjit.kernel_compare import KernelComparison, compare_with_kernel
from emulator.backends.kernel.syscall import available
from emulator.elf import load_object
from emulator.env import Environment
from emulator.prog_info import jited_info

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

SAMPLES = Path(__file__).resolve().parents[4] / "sample_progs"
EXPECTED = json.loads((SAMPLES / "expected_kernel.json").read_text())
CASES = [(obj, prog) for obj, progs in sorted(EXPECTED.items()) for prog in sorted(progs)]


def _compare(obj_name: str, prog_name: str) -> KernelComparison:
    obj = load_object(SAMPLES / obj_name)
    env = Environment.for_object(obj, map_entries=read_map_entries(SAMPLES / "initial_maps.json", obj_name))
    kernel = create("kernel")
    report = kernel.load(obj.program(prog_name), env)
    assert report.ok, report.diagnostics
    try:
        return compare_with_kernel(jited_info(kernel._fd))  # type: ignore[attr-defined]
    finally:
        kernel.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("obj_name", "prog_name"), CASES, ids=[f"{o}:{p}" for o, p in CASES])
def test_images_agree_with_the_kernel(obj_name: str, prog_name: str) -> None:
    result = _compare(obj_name, prog_name)
    assert result.functions and not result.notes, result.notes
    assert result.register_mapping_agrees()
    alu = result.straight_line()
    aligned = [c for c in alu if c.kernel is not None]
    assert len(aligned) >= 0.9 * len(alu)
    wrong = [(c.pc, c.ours, c.kernel) for c in aligned if not (c.same_count and c.same_shape)]
    assert not wrong
    for fn in result.functions:
        assert fn.kernel_prologue[:4] == fn.our_prologue[:4]  # nop5, nop3/xor, push rbp, mov rbp, rsp
