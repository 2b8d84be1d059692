"""Assembler errors: the 1-based line, the offending text and what was expected."""

from __future__ import annotations

import pytest

from emulator.asm import assemble, assemble_bytes
from emulator.errors import AsmError


def _error(text: str, **kwargs: str) -> AsmError:
    with pytest.raises(AsmError) as info:
        assemble(text, **kwargs)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # bad registers
        ("r0 = 1\nr11 = 1", 2, "expected a register r0-r10, got 'r11'"),
        ("mov %r16, 1", 1, "expected a register %r0-%r10, got '%r16'"),
        ("mov %r0, r1", 1, "expected a register %r0-%r10 or an immediate, got 'r1'"),
        ("r0 = *(u32 *)(x1 + 0)", 1, "cannot read the right-hand side '*(u32 *)(x1 + 0)'"),
        ("r0 <> 1", 1, "expected an LLVM-dialect instruction such as 'r0 = 1'"),
        ("w0 += r1", 1, "expected a w register like the destination, got 'r1'"),
        # immediates and offsets out of range
        (
            "mov %r0, 0x100000000",
            1,
            "immediate 0x100000000 is out of range: expected a signed "
            "decimal in [-2147483648, 2147483647] or hex up to 0xffffffff",
        ),
        ("r0 = 2147483648", 1, "immediate 2147483648 is out of range"),
        ("mov %r0, -2147483649", 1, "immediate -2147483649 is out of range"),
        ("ldxw %r0, [%r1+40000]", 1, "memory offset +40000 is out of range"),
        ("r0 = *(u32 *)(r1 - 32769)", 1, "memory offset -32769 is out of range"),
        ("ja +32768", 1, "16-bit jump offset +32768 is out of range"),
        ("lddw %r0, 0x10000000000000000", 1, "64-bit value 0x10000000000000000 is out of range"),
        ("mov %r0, 12abc", 1, "expected immediate, got '12abc'"),
        # unknown mnemonics and shapes
        ("exit\n\n# comment\nfrob %r0, 1", 4, "unknown mnemonic 'frob'"),
        ("ldxw %r0", 1, "ldxw expects 2 operands (dst, [src+off]), got 1"),
        ("neg %r0, %r1", 1, "neg expects 1 operand (dst), got 2"),
        ("ldxw %r0, %r1", 1, "expected a memory operand like [%r1+4] or [%r10-8], got '%r1'"),
        ("exit 1", 1, "exit takes no operands"),
        ("r0 = *(u128 *)(r1 + 0)", 1, "load width must be one of 8, 16, 32, 64 bits, got 128"),
        ("r0 = (s32)r1\nw0 = (s32)w1", 2, "a sign-extending move into w registers takes (s8) or"),
        ("r0 = -r1", 1, "negation works in place"),
        ("r1 = cmpxchg_64(r10 - 8, r0, r1)", 1, "cmpxchg compares with and returns into r0"),
        ("r1 = atomic_fetch_add((u64 *)(r10 - 8), r2)", 1, "returns into its source register"),
        ("r1 = xchg32_64(r10 - 8, r1)", 1, "write xchg_64(...) for 64 bits and xchg32_32(...)"),
        ("r1 = map[counters]", 1, "unknown map 'counters'"),
        (".insn 0x95, 0, 0", 1, ".insn expects 4 operands"),
        (".insn 0x100, 0, 0, 0", 1, ".insn opcode 0x100 does not fit in a byte"),
        (".insn 0x95, 0, 0, 0, 0", 1, "opcode must be 0x18"),
        ("call", 1, "expected a call target"),
        ("call nothing", 1, "unknown label or helper 'nothing'"),
        ("call pc+x", 1, "expected a call target"),
        # labels
        ("ja nowhere\nexit", 1, "unknown label 'nowhere' (known labels: exit)"),
        ("L1:\nexit\nL1:\nexit", 3, "duplicate label 'L1' (first defined on line 1)"),
        ("if r1 > 0 goto missing", 1, "unknown label 'missing'"),
        ("call local nowhere\nexit", 1, "unknown label 'nowhere'"),
    ],
)
def test_error_messages(text: str, line: int, message: str) -> None:
    error = _error(text)
    assert error.line == line
    assert message in str(error), str(error)
    assert str(error).startswith(f"line {line}: ")
    assert error.text == text.splitlines()[line - 1]


def test_dialect_mismatch_hints() -> None:
    assert "looks like conformance syntax" in str(_error("mov %r0, 1", dialect="llvm"))
    assert "looks like LLVM syntax" in str(_error("r0 = 1", dialect="conformance"))


def test_label_too_far_for_16_bit_offset() -> None:
    text = "ja far\n" + "mov %r0, 0\n" * 40000 + "far:\nexit\n"
    error = _error(text)
    assert error.line == 1 and "does not fit the 16-bit off field" in str(error)
    # ja32 has a 32-bit target field and reaches it.
    assert len(assemble_bytes(text.replace("ja far", "ja32 far", 1))) == 8 * 40002


def test_lone_lddw_slot_only_as_bytes() -> None:
    text = ".insn 0x18, 0x00, 0x0000, 0x00000001"
    assert assemble_bytes(text) == bytes.fromhex("1800000001000000")
    error = _error(text)
    assert "lone lddw slot" in str(error)


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        assemble("exit", dialect="gas")  # type: ignore[arg-type]
