"""x86-64 encoding primitives in the shapes the Linux BPF JIT uses.

Registers are x86 numbers (rax=0 ... r15=15). ``BPF_TO_X86`` is the JIT's fixed mapping of
eBPF registers: R1-R5 sit in the SysV argument registers so a helper call needs no shuffling,
R6-R9 in callee-saved registers, R10 in rbp. ``AX`` (r10) and ``AUX`` (r11) are the JIT's
scratch registers. Only what the emitter needs is here; every function returns bytes.
"""

from __future__ import annotations

import struct

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = 0, 1, 2, 3, 4, 5, 6, 7
R8, R9, R10, R11, R12, R13, R14, R15 = 8, 9, 10, 11, 12, 13, 14, 15
AX = R10  # BPF_REG_AX: verifier / JIT temporary
AUX = R11  # AUX_REG: JIT-internal temporary

BPF_TO_X86 = (RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP)
NAMES64 = (
    "rax",
    "rcx",
    "rdx",
    "rbx",
    "rsp",
    "rbp",
    "rsi",
    "rdi",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
)

# multi-byte NOPs (Intel's recommended forms), index = length
NOPS = (
    b"",
    b"\x90",
    b"\x66\x90",
    b"\x0f\x1f\x00",
    b"\x0f\x1f\x40\x00",
    b"\x0f\x1f\x44\x00\x00",
    b"\x66\x0f\x1f\x44\x00\x00",
    b"\x0f\x1f\x80\x00\x00\x00\x00",
    b"\x0f\x1f\x84\x00\x00\x00\x00\x00",
)


def nops(n: int) -> bytes:
    out = b""
    while n > 0:
        k = min(n, 8)
        out += NOPS[k]
        n -= k
    return out


def ext(reg: int) -> bool:
    """r8-r15 need a REX bit."""
    return reg >= 8


def is_imm8(v: int) -> bool:
    return -128 <= v <= 127


def rex(w: bool, r: int = 0, b: int = 0, force: bool = False) -> bytes:
    """A REX prefix for reg field ``r`` and r/m field ``b`` (empty when none is needed)."""
    byte = 0x40 | (8 if w else 0) | (4 if ext(r) else 0) | (1 if ext(b) else 0)
    return bytes([byte]) if byte != 0x40 or force else b""


def modrm(mod: int, reg: int, rm: int) -> int:
    return (mod << 6) | ((reg & 7) << 3) | (rm & 7)


def i8(v: int) -> bytes:
    return struct.pack("<b", v)


def i32(v: int) -> bytes:
    return struct.pack("<i", v)


def mem_suffix(reg: int, base: int, off: int) -> bytes:
    """ModRM + displacement for ``[base + off]``: disp8 whenever it fits (even 0), else disp32.
    No SIB is needed because no eBPF register lives in rsp or r12."""
    if is_imm8(off):
        return bytes([modrm(1, reg, base)]) + i8(off)
    return bytes([modrm(2, reg, base)]) + i32(off)


def mov_reg(is64: bool, dst: int, src: int) -> bytes:
    """``mov dst, src``; the 64-bit form is omitted when dst == src, the 32-bit one never
    (it is the zero-extension)."""
    if is64 and dst == src:
        return b""
    return rex(is64, src, dst) + bytes([0x89, modrm(3, src, dst)])


def mov_imm32(sign_propagate: bool, dst: int, imm: int) -> bytes:
    """The JIT's shortest load of a 32-bit immediate (sign-extended when asked)."""
    imm = ((imm & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
    if sign_propagate and imm < 0:
        return rex(True, 0, dst) + bytes([0xC7, modrm(3, 0, dst)]) + i32(imm)
    if imm == 0:
        return rex(False, dst, dst) + bytes([0x31, modrm(3, dst, dst)])
    return rex(False, 0, dst) + bytes([0xB8 + (dst & 7)]) + struct.pack("<I", imm & 0xFFFFFFFF)


def mov_imm64(dst: int, value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    if value <= 0xFFFFFFFF:
        return mov_imm32(False, dst, value)
    if value >= 0xFFFFFFFF80000000:
        return mov_imm32(True, dst, value & 0xFFFFFFFF)
    return rex(True, 0, dst) + bytes([0xB8 + (dst & 7)]) + struct.pack("<Q", value)


def alu_reg(opcode: int, is64: bool, dst: int, src: int) -> bytes:
    """``op dst, src`` for the r/m,reg opcodes (add 01, sub 29, and 21, or 09, xor 31, cmp 39,
    test 85)."""
    return rex(is64, src, dst) + bytes([opcode, modrm(3, src, dst)])


def alu_imm(ext_op: int, short_opcode: int | None, is64: bool, dst: int, imm: int) -> bytes:
    """``op dst, imm``: imm8 form (83 /n) when it fits, the short rax form when dst is rax,
    else 81 /n imm32."""
    prefix = rex(is64, 0, dst)
    if is_imm8(imm):
        return prefix + bytes([0x83, modrm(3, ext_op, dst)]) + i8(imm)
    if dst == RAX and short_opcode is not None:
        return prefix + bytes([short_opcode]) + i32(imm)
    return prefix + bytes([0x81, modrm(3, ext_op, dst)]) + i32(imm)


def push(reg: int) -> bytes:
    return (b"\x41" if ext(reg) else b"") + bytes([0x50 + (reg & 7)])


def pop(reg: int) -> bytes:
    return (b"\x41" if ext(reg) else b"") + bytes([0x58 + (reg & 7)])


def call_rel32(ip: int, target: int) -> bytes:
    """``call target`` placed at absolute address ``ip``."""
    return b"\xe8" + i32(target - (ip + 5))


def jmp_rel32(ip: int, target: int) -> bytes:
    return b"\xe9" + i32(target - (ip + 5))


def vex3(reg: int, rm: int, vvvv: int, w: bool, pp: int, mmmmm: int = 2) -> bytes:
    """A three-byte VEX prefix (BMI2 shlx/shrx/sarx use map 0F38)."""
    b1 = (0 if ext(reg) else 0x80) | 0x40 | (0 if ext(rm) else 0x20) | mmmmm
    b2 = (0x80 if w else 0) | ((~vvvv & 0xF) << 3) | pp
    return bytes([0xC4, b1, b2])
