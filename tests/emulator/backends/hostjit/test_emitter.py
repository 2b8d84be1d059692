"""The emitter produces the Linux x86-64 JIT's patterns (reference/host_jit.md A1-A5)."""

from __future__ import annotations

from emulator.asm import assemble
from emulator.backends.hostjit.emitter import JitOptions, JitProgram, jit_program
from emulator.backends.hostjit.listing import disassemble, native_of
from emulator.program import Program

BASE = 0xFFFF_FFFF_A000_0000


def jit(text: str, **options: object) -> JitProgram:
    prog = Program.from_insns(assemble(text))
    return jit_program(
        prog.insns, BASE, lambda kind, value: 0xFFFF_FFFF_8100_0000, options=JitOptions(**options)
    )  # type: ignore[arg-type]


def texts(j: JitProgram, pc: int) -> list[str]:
    return [i.text for i in native_of(j, pc)]


def test_register_mapping_follows_the_kernel() -> None:
    j = jit(
        "\n".join(f"mov %r{d}, %r{s}" for d, s in [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (1, 10)])
        + "\nexit"
    )
    assert [texts(j, pc) for pc in range(6)] == [
        ["mov rax, rdi"],
        ["mov rsi, rdx"],
        ["mov rcx, r8"],
        ["mov rbx, r13"],
        ["mov r14, r15"],
        ["mov rdi, rbp"],
    ]


def test_prologue_pushes_only_the_callee_saved_registers_used() -> None:
    j = jit("mov %r7, 1\nmov %r0, %r7\nexit")
    fn = j.functions[0]
    prologue = [i.text for i in disassemble(fn.code[: fn.prologue_len], fn.base)]
    assert prologue == [
        "nop dword ptr [rax + rax]",
        "nop dword ptr [rax]",
        "push rbp",
        "mov rbp, rsp",
        "sub rsp, 0x200",
        "push r13",
    ]
    assert texts(j, 2) == ["pop r13", "leave", "ret"]


def test_unsigned_div_keeps_rax_and_rdx() -> None:
    j = jit("div %r0, %r8\nexit", div_guards=False)
    assert texts(j, 0) == ["push rdx", "xor edx, edx", "div r14", "pop rdx"]
    guarded = native_of(jit("div %r0, %r8\nexit"), 0)
    assert [i.text for i in guarded][:2] == ["test r14, r14", f"je {guarded[-1].address:#x}"]
    assert guarded[-1].text == "xor eax, eax"  # x / 0 = 0, as the verifier's rewrite makes it


def test_mod_by_an_immediate_uses_r11() -> None:
    j = jit("mod32 %r1, 7\nexit", div_guards=False)
    assert texts(j, 0) == [
        "push rax",
        "push rdx",
        "mov r11, 7",
        "mov eax, edi",
        "xor edx, edx",
        "div r11d",
        "mov edi, edx",
        "pop rdx",
        "pop rax",
    ]


def test_shift_by_register_with_and_without_bmi2() -> None:
    assert texts(jit("rsh %r0, %r9\nexit"), 0) == ["shrx rax, rax, r15"]
    assert texts(jit("rsh %r0, %r9\nexit", bmi2=False), 0) == [
        "push rcx",
        "mov rcx, r15",
        "shr rax, cl",
        "pop rcx",
    ]
    assert texts(jit("lsh %r4, %r1\nexit", bmi2=False), 0) == [
        "mov r11, rcx",
        "push rcx",
        "mov rcx, rdi",
        "shl r11, cl",
        "pop rcx",
        "mov rcx, r11",
    ]


def test_byte_swaps_and_zero_byte_to_le64() -> None:
    j = jit("be16 %r0\nbe32 %r1\nbe64 %r2\nle64 %r3\nle16 %r3\nexit")
    assert texts(j, 0) == ["ror ax, 8", "movzx eax, ax"]
    assert texts(j, 1) == ["bswap edi"]
    assert texts(j, 2) == ["bswap rsi"]
    assert texts(j, 3) == []
    assert texts(j, 4) == ["movzx edx, dx"]


def test_lddw_picks_the_shortest_move() -> None:
    j = jit("lddw %r1, 0x1122334455667788\nlddw %r2, 5\nlddw %r3, -1\nexit")
    assert texts(j, 0) == ["movabs rdi, 0x1122334455667788"]
    assert texts(j, 2) == ["mov esi, 5"]
    assert texts(j, 4) == ["mov rdx, 0xffffffffffffffff"]


def test_memory_access_always_has_a_displacement() -> None:
    j = jit("ldxw %r0, [%r1+0]\nstxb [%r10-1], %r2\nstdw [%r7+1000], -2\nexit")
    assert [i.raw.hex() for i in native_of(j, 0)] == ["8b4700"]
    assert texts(j, 1) == ["mov byte ptr [rbp - 1], sil"]
    assert texts(j, 2) == ["mov qword ptr [r13 + 0x3e8], 0xfffffffffffffffe"]


def test_atomic_fetch_and_is_a_cmpxchg_loop() -> None:
    j = jit("lock fetch and [%r1+8], %r2\nexit")
    assert texts(j, 0) == [
        "mov r10, rax",
        "mov rax, qword ptr [rdi + 8]",
        "mov r11, rax",
        "and r11, rsi",
        "lock cmpxchg qword ptr [rdi + 8], r11",
        "jne 0xffffffffa0000016",
        "mov rsi, rax",
        "mov rax, r10",
    ]
    assert texts(jit("lock fetch add [%r1+8], %r2\nexit"), 0) == ["lock xadd qword ptr [rdi + 8], rsi"]


def test_later_exits_jump_to_the_first_epilogue() -> None:
    j = jit("jeq %r1, 0, +2\nmov %r0, 1\nexit\nmov %r0, 2\nexit")
    fn = j.functions[0]
    assert texts(j, 2) == ["leave", "ret"]
    (jmp,) = native_of(j, 4)
    assert jmp.text == f"jmp {fn.base + fn.ranges[2][0]:#x}"


def test_ja_zero_emits_nothing_and_ranges_tile_the_image() -> None:
    j = jit("ja +0\nmov %r0, 1\nexit")
    fn = j.functions[0]
    assert fn.ranges[0] == (fn.prologue_len, fn.prologue_len)
    edges = sorted(fn.ranges.values())
    assert edges[0][0] == fn.prologue_len and edges[-1][1] == fn.fall_off
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:], strict=False))


def test_jump_sizes_converge_over_passes() -> None:
    body = "\n".join(["mov %r0, 0x12345678"] * 30)  # 5 bytes each: 150 bytes to jump over
    j = jit(f"jeq %r1, 0, +30\n{body}\njeq %r1, 1, +1\nmov %r0, 1\nexit")
    assert [i.raw[:2].hex() for i in native_of(j, 0)][1] == "0f84"  # rel32
    assert native_of(j, 31)[1].raw[0] == 0x74  # rel8
    assert j.passes >= 2


def test_each_function_gets_its_own_image() -> None:
    j = jit("call local f\nexit\nexit\nf:\nmov %r0, 7\nexit")
    assert [fn.entry for fn in j.functions] == [0, 3]
    (call,) = native_of(j, 0)
    assert call.text == f"call {j.functions[1].base:#x}"
