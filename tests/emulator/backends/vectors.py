"""Table-driven instruction vectors: (id, program, memory, expected r0).

Independent of ../shared: these pin the edges RFC 9669 and the kernel care about (division
by zero, INT_MIN, masked shifts, sign extension of imm, zero extension of every 32-bit
result, byte swaps, atomics) one instruction group at a time. Programs are in the
bpf_conformance dialect; ``lddw`` sets up 64-bit register values.
"""

from __future__ import annotations

from dataclasses import dataclass

M64 = 0xFFFFFFFFFFFFFFFF
INT64_MIN = 0x8000000000000000


@dataclass(frozen=True)
class V:
    id: str
    asm: str
    expect: int
    mem: bytes = b""


ALU64 = [
    V("add-wraps", "lddw %r0, 0xffffffffffffffff\nadd %r0, 1\nexit", 0),
    V("sub-imm-sign-extends", "mov %r0, 0\nsub %r0, -1\nexit", 1),
    V("mul-wraps", "lddw %r0, 0x100000001\nmov %r1, %r0\nmul %r0, %r1\nexit", 0x200000001),
    V("div-by-zero-reg", "mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", 0),
    V("div-by-zero-imm", "mov %r0, 7\ndiv %r0, 0\nexit", 0),
    V("div-imm-is-unsigned-64", "mov %r0, 5\ndiv %r0, -1\nexit", 0),
    V("mod-by-zero-keeps-dst", "lddw %r0, 0x123456789\nmov %r1, 0\nmod %r0, %r1\nexit", 0x123456789),
    V("mod-by-zero-imm", "lddw %r0, 0x123456789\nmod %r0, 0\nexit", 0x123456789),
    V("sdiv-int-min-by-minus-one", "lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit", INT64_MIN),
    V("smod-int-min-by-minus-one", "lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit", 0),
    V("sdiv-truncates-toward-zero", "mov %r0, -7\nsdiv %r0, 2\nexit", (-3) & M64),
    V("smod-sign-of-dividend", "mov %r0, -7\nsmod %r0, 2\nexit", (-1) & M64),
    V("smod-by-zero-keeps-dst", "mov %r0, -7\nmov %r1, 0\nsmod %r0, %r1\nexit", (-7) & M64),
    V("sdiv-by-zero", "mov %r0, -7\nmov %r1, 0\nsdiv %r0, %r1\nexit", 0),
    V("lsh-count-masked", "mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit", 2),
    V("rsh-count-masked", "lddw %r0, 0x8000000000000000\nmov %r1, 127\nrsh %r0, %r1\nexit", 1),
    V("arsh-fills-sign", "lddw %r0, 0x8000000000000000\narsh %r0, 63\nexit", M64),
    V("neg-int-min", "lddw %r0, 0x8000000000000000\nneg %r0\nexit", INT64_MIN),
    V("movsx8", "mov %r1, 0x80\nmovsx864 %r0, %r1\nexit", 0xFFFFFFFFFFFFFF80),
    V("movsx16", "mov %r1, 0x7fff\nmovsx1664 %r0, %r1\nexit", 0x7FFF),
    V("movsx32", "mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit", 0xFFFFFFFF80000000),
    V("mov-imm-sign-extends", "mov %r0, -2\nexit", 0xFFFFFFFFFFFFFFFE),
    V("xor-or-and", "mov %r0, 0xf0\nor %r0, 0x0f\nand %r0, 0x3c\nxor %r0, 0x01\nexit", 0x3D),
]

ALU32 = [
    V("add32-zero-extends", "lddw %r0, 0xdeadbeef00000001\nadd32 %r0, 0\nexit", 1),
    V("add32-wraps", "mov32 %r0, -1\nadd32 %r0, 1\nexit", 0),
    V("mov32-reg-clears-high", "lddw %r1, 0xffffffffffffffff\nmov32 %r0, %r1\nexit", 0xFFFFFFFF),
    V("div32-by-zero", "lddw %r0, 0x100000007\nmov %r1, 0\ndiv32 %r0, %r1\nexit", 0),
    V("div32-uses-low-src", "mov %r0, 8\nlddw %r1, 0x100000002\ndiv32 %r0, %r1\nexit", 4),
    V("mod32-by-zero-clears-high", "lddw %r0, 0x100000005\nlddw %r1, 0x100000000\nmod32 %r0, %r1\nexit", 5),
    V("mod32-by-zero-imm", "lddw %r0, 0x100000005\nmod32 %r0, 0\nexit", 5),
    V("sdiv32-int-min", "mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit", 0x80000000),
    V("smod32-int-min", "mov32 %r0, 0x80000000\nsmod32 %r0, -1\nexit", 0),
    V("smod32-by-zero", "lddw %r0, 0x1fffffff9\nmov %r1, 0\nsmod32 %r0, %r1\nexit", 0xFFFFFFF9),
    V("lsh32-count-masked", "mov32 %r0, 1\nlsh32 %r0, 33\nexit", 2),
    V("rsh32-ignores-high-bits", "lddw %r0, 0xffffffff00000010\nrsh32 %r0, 4\nexit", 1),
    V("arsh32", "mov32 %r0, 0x80000000\narsh32 %r0, 31\nexit", 0xFFFFFFFF),
    V("neg32", "mov %r0, 1\nneg32 %r0\nexit", 0xFFFFFFFF),
    V("movsx8-32", "mov %r1, 0x80\nmovsx832 %r0, %r1\nexit", 0xFFFFFF80),
    V("movsx16-32", "mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit", 0xFFFF8000),
    V("mul32", "mov32 %r0, 0x10000\nmul32 %r0, 0x10000\nexit", 0),
]

ENDIAN = [
    V(f"{op}", f"lddw %r0, 0x1122334455667788\n{op} %r0\nexit", value)
    for op, value in [
        ("le16", 0x7788),
        ("le32", 0x55667788),
        ("le64", 0x1122334455667788),
        ("be16", 0x8877),
        ("be32", 0x88776655),
        ("be64", 0x8877665544332211),
        ("bswap16", 0x8877),
        ("bswap32", 0x88776655),
        ("bswap64", 0x8877665544332211),
    ]
]

JMP = [
    V("jgt-unsigned", "mov %r0, 0\nmov %r1, -1\njgt %r1, 1, +1\nexit\nmov %r0, 1\nexit", 1),
    V("jsgt-signed", "mov %r0, 0\nmov %r1, -1\njsgt %r1, 1, +1\nexit\nmov %r0, 1\nexit", 0),
    V("jslt-reg", "mov %r0, 0\nmov %r1, -2\nmov %r2, -1\njslt %r1, %r2, +1\nexit\nmov %r0, 1\nexit", 1),
    V("jset", "mov %r0, 0\nmov %r1, 6\njset %r1, 4, +1\nexit\nmov %r0, 1\nexit", 1),
    V("jeq-imm-sign-extends", "mov %r0, 0\nmov %r1, -1\njeq %r1, -1, +1\nexit\nmov %r0, 1\nexit", 1),
    V(
        "jeq32-low-bits-only",
        "mov %r0, 0\nlddw %r1, 0x100000000\njeq32 %r1, 0, +1\nexit\nmov %r0, 1\nexit",
        1,
    ),
    V("jsgt32", "mov %r0, 0\nmov32 %r1, 0x80000000\njsgt32 %r1, 0, +1\nexit\nmov %r0, 1\nexit", 0),
    V(
        "jle32-reg",
        "mov %r0, 0\nmov %r1, 5\nlddw %r2, 0x100000005\njle32 %r1, %r2, +1\nexit\nmov %r0, 1\nexit",
        1,
    ),
    V("ja32-gotol", "mov %r0, 1\nja32 +1\nmov %r0, 2\nexit", 1),
    V("backward-loop", "mov %r0, 0\nmov %r1, 10\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, -3\nexit", 55),
]

LDST = [
    V("stdw-imm-sign-extends", "stdw [%r10-8], -1\nldxdw %r0, [%r10-8]\nexit", M64),
    V("stw-then-ldxh", "stw [%r10-8], 0x11223344\nldxh %r0, [%r10-6]\nexit", 0x1122),
    V("stxb-truncates", "mov %r1, 0x1ff\nstxb [%r10-1], %r1\nldxb %r0, [%r10-1]\nexit", 0xFF),
    V("ldxsb", "stb [%r10-1], 0x80\nldxsb %r0, [%r10-1]\nexit", 0xFFFFFFFFFFFFFF80),
    V("ldxsh", "sth [%r10-2], 0x8001\nldxsh %r0, [%r10-2]\nexit", 0xFFFFFFFFFFFF8001),
    V("ldxsw", "stw [%r10-4], -2\nldxsw %r0, [%r10-4]\nexit", 0xFFFFFFFFFFFFFFFE),
    V("ldxw-from-mem", "ldxw %r0, [%r1+2]\nexit", 0x06050403, bytes(range(1, 9))),
    V("stx-into-mem", "mov %r2, 0x55\nstxb [%r1+0], %r2\nldxb %r0, [%r1+0]\nexit", 0x55, b"\x00"),
]

ATOMIC = [
    V("add64", "stdw [%r10-8], 5\nmov %r1, 3\nlock add [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", 8),
    V("fetch-add64", "stdw [%r10-8], 5\nmov %r1, 3\nlock fetch add [%r10-8], %r1\nmov %r0, %r1\nexit", 5),
    V(
        "fetch-or32-zero-extends",
        "stw [%r10-4], -1\nlddw %r1, 0xff00000000\nlock fetch or32 [%r10-4], %r1\nmov %r0, %r1\nexit",
        0xFFFFFFFF,
    ),
    V(
        "and32-keeps-neighbours",
        "stdw [%r10-8], -1\nmov %r1, 0\nlock and32 [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit",
        0xFFFFFFFF00000000,
    ),
    V("xor64", "stdw [%r10-8], 6\nmov %r1, 3\nlock xor [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", 5),
    V(
        "xchg64",
        "stdw [%r10-8], 9\nmov %r1, 4\nlock xchg [%r10-8], %r1\nldxdw %r0, [%r10-8]\nadd %r0, %r1\nexit",
        13,
    ),
    V(
        "cmpxchg64-match",
        "stdw [%r10-8], 9\nmov %r0, 9\nmov %r1, 4\nlock cmpxchg [%r10-8], %r1\nldxdw %r2, [%r10-8]\nlsh %r0, 8\nor %r0, %r2\nexit",
        0x904,
    ),
    V(
        "cmpxchg64-miss",
        "stdw [%r10-8], 9\nmov %r0, 8\nmov %r1, 4\nlock cmpxchg [%r10-8], %r1\nldxdw %r2, [%r10-8]\nlsh %r0, 8\nor %r0, %r2\nexit",
        0x909,
    ),
    V(
        "cmpxchg32-compares-low-r0",
        "stw [%r10-4], 9\nlddw %r0, 0x500000009\nmov %r1, 4\nlock cmpxchg32 [%r10-4], %r1\nldxw %r2, [%r10-4]\nlsh %r0, 8\nor %r0, %r2\nexit",
        0x904,
    ),
]

CALLS = [
    V(
        "local-call-preserves-r6-r9",
        "mov %r6, 6\nmov %r9, 9\ncall local sub\nadd %r0, %r6\nadd %r0, %r9\nexit\n"
        "sub:\nmov %r6, 0\nmov %r9, 0\nmov %r0, 100\nexit",
        115,
    ),
    V(
        "callee-has-own-frame",
        "stdw [%r10-8], 1\ncall local sub\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n"
        "sub:\nstdw [%r10-8], 40\nldxdw %r0, [%r10-8]\nexit",
        41,
    ),
    V(
        "caller-frame-reachable-through-pointer",
        "stdw [%r10-8], 1\nmov %r1, %r10\nsub %r1, 8\ncall local sub\nldxdw %r0, [%r10-8]\nexit\n"
        "sub:\nstdw [%r1+0], 77\nexit",
        77,
    ),
    V("helper-5-returns-r1", "mov %r1, 42\ncall 5\nexit", 42),
    V("callx-helper", "mov %r1, 7\nmov %r2, 5\ncall %r2\nexit", 7),
]
