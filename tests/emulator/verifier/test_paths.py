"""Path exploration: bounded loops unrolled, bpf-to-bpf calls with their own frames,
spills and fills, helper callbacks, liveness-based pruning, the zero-extension marks."""

from __future__ import annotations

from emulator.verifier.liveness import live_in
from tests.emulator.verifier.helpers import only, regs_at, run


def test_bounded_loop_is_unrolled_with_exact_counters() -> None:
    a = run(
        """
        r0 = 0
        r2 = 0
        loop:
        r0 += r2
        r2 += 1
        if r2 < 5 goto loop
        exit
        """
    )
    assert sorted(x.const for x in regs_at(a, 2, 2)) == [0, 1, 2, 3, 4]  # type: ignore[type-var]
    assert only(a, 5, 0).const == 0 + 1 + 2 + 3 + 4
    assert a.complete


def test_bpf_to_bpf_call_frames_and_spills() -> None:
    a = run(
        """
        r6 = 7
        r1 = r10
        r1 += -8
        r2 = 3
        call fn
        r0 = r6
        exit
        fn:
        r6 = r2
        *(u64 *)(r10 - 16) = r1
        r3 = *(u64 *)(r10 - 16)
        *(u64 *)(r3 + 0) = r6
        r0 = 0
        exit
        """
    )
    entry = 7
    assert [s.entry for s in a.subprogs] == [0, entry]
    callee = a.visits_at(entry)[0]
    assert callee.depth == 1 and callee.subprog == entry
    assert callee.regs[10].frame == 1
    r1 = callee.regs[1]
    assert (r1.kind, r1.frame, r1.off) == ("stack", 0, -8)  # the caller's frame
    assert callee.regs[6].kind == "uninit"  # callee-saved registers are the callee's own
    filled = only(a, entry + 3, 3)
    assert (filled.kind, filled.frame, filled.off) == ("stack", 0, -8)
    assert set(a.visits_at(entry + 3)[0].stack) == {(1, -16)}
    # back in the caller: r6 restored, r0 the callee's, r1-r5 clobbered, callee spills gone
    back = a.visits_at(5)[0]
    assert back.regs[6].const == 7 and back.regs[0].const == 0 and back.regs[1].kind == "uninit"
    assert {k: v.const for k, v in back.stack.items()} == {(0, -8): 3}  # written by the callee
    depths = {s.entry: s.stack_depth for s in a.subprogs}
    assert depths == {0: 8, entry: 16}  # the callee's store through r1 counts in the caller's frame
    assert [s.writes_callee_saved for s in a.subprogs] == [True, True]


def test_recursion_is_cut_at_the_kernels_frame_limit() -> None:
    a = run(
        """
        call fn
        exit
        fn:
        call fn
        r0 = 0
        exit
        """
    )
    assert not a.complete
    assert any("deeper than 8 frames" in m for _pc, m in a.problems)


def test_bpf_loop_callback_is_explored() -> None:
    a = run(
        """
        r1 = 4
        r2 = func[cb]
        r3 = r10
        r3 += -8
        r4 = 0
        call 181
        r0 = 0
        exit
        cb:
        r0 = *(u64 *)(r2 + 0)
        r0 = 0
        exit
        """
    )
    cb = 10
    assert a.complete
    index = only(a, cb, 1)
    assert (index.kind, index.umin, index.umax) == ("scalar", 0, 3)
    ctx = only(a, cb, 2)
    assert (ctx.kind, ctx.frame, ctx.off) == ("stack", 0, -8)
    assert {s.entry: s.stack_depth for s in a.subprogs}[0] == 8
    assert only(a, 7, 0).kind == "scalar"


def test_dead_registers_do_not_keep_paths_apart() -> None:
    # eight independent diamonds, each writing a register that is dead afterwards:
    # 2**8 paths, but a handful of states per join point
    diamonds = "".join(
        f"""
        r3 = *(u8 *)(r2 + {i})
        if r3 > 9 goto +2
        r4 = 1
        goto +1
        r4 = 2
        """
        for i in range(8)
    )
    a = run("r2 = *(u32 *)(r1 + 0)\n" + diamonds + "r0 = 0\nexit")
    assert a.complete
    assert a.visits < 100


def test_liveness() -> None:
    a = run("r2 = 1\nr3 = r2\nr0 = r3\nexit")
    live = live_in(a.program.insns)
    assert live[0] & 0b1111 == 0
    assert live[1] & (1 << 2) and not live[2] & (1 << 2)
    assert live[3] & 1


def test_zero_extension_marks() -> None:
    a = run(
        """
        r2 = *(u32 *)(r1 + 0)
        w3 = 1
        w4 = 2
        w5 = 3
        r6 = *(u32 *)(r2 + 0)
        r3 += 1
        *(u32 *)(r10 - 4) = r4
        if w5 > 1 goto +0
        r0 = r6
        exit
        """
    )
    # w3: read by a 64-bit add; w4: only stored 4 bytes wide; w5: only a 32-bit compare;
    # the narrow loads: r2 becomes a base address, r6 reaches exit through r0
    assert a.zext == {0, 1, 4}
