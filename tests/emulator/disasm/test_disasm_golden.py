"""Golden lines: bytes -> text in both dialects, covering every Form (and back to bytes)."""

from __future__ import annotations

import pytest

from emulator.asm import assemble_bytes
from emulator.disasm import (
    TableResolver,
    disassemble,
    disassemble_bytes,
    format_insn,
    render_listing,
)
from emulator.isa.insn import decode_program
from emulator.isa.table import Form

# (program bytes in hex, expected LLVM text); the LLVM dialect as llvm-objdump/bpftool print it.
LLVM_GOLDEN: list[tuple[str, str]] = [
    # ALU_REG / ALU_IMM
    ("0f10000000000000", "r0 += r1"),
    ("0400000001000000", "w0 += 1"),
    ("0c10000000000000", "w0 += w1"),
    ("1f21000000000000", "r1 -= r2"),
    ("2700000007000000", "r0 *= 7"),
    ("3f21010000000000", "r1 s/= r2"),
    ("9f21010000000000", "r1 s%= r2"),
    ("3701000003000000", "r1 /= 3"),
    ("9401000003000000", "w1 %= 3"),
    ("4701000010000000", "r1 |= 0x10"),
    ("57010000ff000000", "r1 &= 0xff"),
    ("6701000020000000", "r1 <<= 0x20"),
    ("7c21000000000000", "w1 >>= w2"),
    ("c700000003000000", "r0 s>>= 3"),
    ("a70100000a000000", "r1 ^= 0xa"),
    ("b700000001000000", "r0 = 1"),
    ("b7000000ffffffff", "r0 = -1"),
    ("b7000000f6ffffff", "r0 = -0xa"),
    ("b400000000000080", "w0 = -0x80000000"),
    ("bf10000000000000", "r0 = r1"),
    ("bc10000000000000", "w0 = w1"),
    ("070a0000f8ffffff", "r10 += -8"),
    # NEG
    ("8700000000000000", "r0 = -r0"),
    ("8400000000000000", "w0 = -w0"),
    # MOVSX
    ("bf10080000000000", "r0 = (s8)r1"),
    ("bc10100000000000", "w0 = (s16)w1"),
    ("bf10200000000000", "r0 = (s32)r1"),
    # END
    ("dc00000010000000", "r0 = be16 r0"),
    ("d400000020000000", "r0 = le32 r0"),
    ("d700000040000000", "r0 = bswap64 r0"),
    # JA / JA32
    ("0500030000000000", "goto +3"),
    ("0500feff00000000", "goto -2"),
    ("0600000003000000", "gotol +3"),
    # JCOND_IMM / JCOND_REG, 64- and 32-bit
    ("2501030010000000", "if r1 > 0x10 goto +3"),
    ("1501010005000000", "if r1 == 5 goto +1"),
    ("ce21feff00000000", "if w1 s< w2 goto -2"),
    ("4d21010000000000", "if r1 & r2 goto +1"),
    ("1601010005000000", "if w1 == 5 goto +1"),
    ("5d21000000000000", "if r1 != r2 goto +0"),
    ("7501020000000000", "if r1 s>= 0 goto +2"),
    ("a5010100ffffffff", "if r1 < -1 goto +1"),
    ("bd21010000000000", "if r1 <= r2 goto +1"),
    ("6601010007000000", "if w1 s> 7 goto +1"),
    ("3e21010000000000", "if w1 >= w2 goto +1"),
    ("dd21010000000000", "if r1 s<= r2 goto +1"),
    # CALL / CALLX / EXIT
    ("8500000001000000", "call 1"),
    ("8510000003000000", "call pc+3"),
    ("85100000fdffffff", "call pc-3"),
    ("85200000d2040000", "call kfunc#1234"),
    ("8d02000000000000", "callx r2"),
    ("9500000000000000", "exit"),
    # LDDW and its pseudo forms
    ("18000000341200000000000000000000", "r0 = 0x1234 ll"),
    ("18000000ffffffff00000000ffffffff", "r0 = 0xffffffffffffffff ll"),
    ("18000000050000000000000000000000", "r0 = 5 ll"),
    ("18110000050000000000000000000000", "r1 = map[fd:5]"),
    ("18210000050000000000000008000000", "r1 = map[fd:5][0]+8"),
    ("18510000000000000000000000000000", "r1 = map[idx:0]"),
    ("18610000000000000000000008000000", "r1 = map[idx:0][0]+8"),
    ("18310000d20400000000000000000000", "r1 = btf_id[1234]"),
    ("18310000d20400000000000003000000", "r1 = btf_id[1234][fd:3]"),
    ("18410000030000000000000000000000", "r1 = func[pc+3]"),
    # LD_ABS / LD_IND
    ("300000000c000000", "r0 = *(u8 *)skb[12]"),
    ("480100000c000000", ".insn 0x48, 0x01, 0x0000, 0x0000000c  ; ldindh: unused field dst must be 0, is 1"),
    ("481000000c000000", "r0 = *(u16 *)skb[r1 + 12]"),
    ("40100000fcffffff", "r0 = *(u32 *)skb[r1 - 4]"),
    # LDX / LDXSX / ST / STX
    ("6110000000000000", "r0 = *(u32 *)(r1 + 0)"),
    ("7910040000000000", "r0 = *(u64 *)(r1 + 4)"),
    ("9110020000000000", "r0 = *(s8 *)(r1 + 2)"),
    ("8910feff00000000", "r0 = *(s16 *)(r1 - 2)"),
    ("620af8ff05000000", "*(u32 *)(r10 - 8) = 5"),
    ("720a0000ff000000", "*(u8 *)(r10 + 0) = 0xff"),
    ("7b1af8ff00000000", "*(u64 *)(r10 - 8) = r1"),
    ("6b1a000000000000", "*(u16 *)(r10 + 0) = r1"),
    # ATOMIC
    ("db1af8ff00000000", "lock *(u64 *)(r10 - 8) += r1"),
    ("c31af8ff40000000", "lock *(u32 *)(r10 - 8) |= w1"),
    ("db1af8ff50000000", "lock *(u64 *)(r10 - 8) &= r1"),
    ("c31af8ffa0000000", "lock *(u32 *)(r10 - 8) ^= w1"),
    ("db1af8ff01000000", "r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)"),
    ("c31af8ff41000000", "w1 = atomic_fetch_or((u32 *)(r10 - 8), w1)"),
    ("db1af8ff51000000", "r1 = atomic_fetch_and((u64 *)(r10 - 8), r1)"),
    ("c31af8ffa1000000", "w1 = atomic_fetch_xor((u32 *)(r10 - 8), w1)"),
    ("db1af8ffe1000000", "r1 = xchg_64(r10 - 8, r1)"),
    ("c31af8ffe1000000", "w1 = xchg32_32(r10 - 8, w1)"),
    ("db1af8fff1000000", "r0 = cmpxchg_64(r10 - 8, r0, r1)"),
    ("c31af8fff1000000", "w0 = cmpxchg32_32(r10 - 8, w0, w1)"),
    # Encodings no mnemonic expresses
    ("ff12000000000000", ".insn 0xff, 0x12, 0x0000, 0x00000000  ; unknown opcode 0xff"),
    ("0f10000005000000", ".insn 0x0f, 0x10, 0x0000, 0x00000005  ; add: unused field imm must be 0, is 5"),
    (
        "bfb0000000000000",
        ".insn 0xbf, 0xb0, 0x0000, 0x00000000  ; mov: src register r11 does not exist (r0-r10)",
    ),
    (
        "3f21020000000000",
        ".insn 0x3f, 0x21, 0x0002, 0x00000000  ; "
        "opcode 0x3f has no form with off=2 (off selects the operation)",
    ),
    (
        "18710000000000000000000000000000",
        ".insn 0x18, 0x71, 0x0000, 0x00000000, 0x00000000  ; "
        "opcode 0x18 has no form with src=7 (src selects the operation)",
    ),
    (
        "18110000050000000000000007000000",
        ".insn 0x18, 0x11, 0x0000, 0x00000005, 0x00000007  ; lddw map_fd: second-slot imm must be 0, is 7",
    ),
]

CONFORMANCE_GOLDEN: list[tuple[str, str]] = [
    ("6110040000000000", "ldxw %r0, [%r1+4]"),
    ("7910000000000000", "ldxdw %r0, [%r1]"),
    ("0400000001000000", "add32 %r0, 1"),
    ("b7000000ffffffff", "mov %r0, -1"),
    ("b700000064000000", "mov %r0, 0x64"),
    ("b700000000000080", "mov %r0, 0x80000000"),
    ("1501030010000000", "jeq %r1, 0x10, +3"),
    ("1e21feff00000000", "jeq32 %r1, %r2, -2"),
    ("c31af8ff01000000", "lock fetch add32 [%r10-8], %r1"),
    ("db1af8fff1000000", "lock cmpxchg [%r10-8], %r1"),
    ("8510000003000000", "call local +3"),
    ("8500000005000000", "call 5"),
    ("85200000d2040000", "call kfunc 1234"),
    ("8d02000000000000", "call %r2"),
    ("9500000000000000", "exit"),
    ("0500030000000000", "ja +3"),
    ("0600000003000000", "ja32 +3"),
    ("3f21010000000000", "sdiv %r1, %r2"),
    ("bf10080000000000", "movsx864 %r0, %r1"),
    ("bc10100000000000", "movsx1632 %r0, %r1"),
    ("d700000010000000", "bswap16 %r0"),
    ("dc00000040000000", "be64 %r0"),
    ("8700000000000000", "neg %r0"),
    ("620af8ff05000000", "stw [%r10-8], 5"),
    ("7b1af8ff00000000", "stxdw [%r10-8], %r1"),
    ("9110020000000000", "ldxsb %r0, [%r1+2]"),
    ("18000000887766550000000044332211", "lddw %r0, 0x1122334455667788"),
    ("18110000050000000000000000000000", "lddw %r1, map[fd:5]"),
    ("18610000000000000000000008000000", "lddw %r1, map[idx:0][0]+8"),
    ("18410000fdffffff0000000000000000", "lddw %r1, func[-3]"),
    ("300000000c000000", "ldabsb 0xc"),
    ("481000000c000000", "ldindh %r1, 0xc"),
    ("b70b000001000000", "mov %r11, 1"),
    ("ff12000000000000", ".insn 0xff, 0x12, 0x0000, 0x00000000  # unknown opcode 0xff"),
]


@pytest.mark.parametrize(("hexdata", "text"), LLVM_GOLDEN)
def test_llvm_golden(hexdata: str, text: str) -> None:
    data = bytes.fromhex(hexdata)
    [line] = disassemble_bytes(data)
    assert line.text == text
    assert line.raw == data
    assert assemble_bytes(text, dialect="llvm") == data
    assert assemble_bytes(text) == data


@pytest.mark.parametrize(("hexdata", "text"), CONFORMANCE_GOLDEN)
def test_conformance_golden(hexdata: str, text: str) -> None:
    data = bytes.fromhex(hexdata)
    [line] = disassemble_bytes(data, dialect="conformance")
    assert line.text == text
    assert assemble_bytes(text, dialect="conformance") == data
    assert assemble_bytes(text) == data


def test_golden_covers_every_form() -> None:
    seen = set()
    for hexdata, _ in LLVM_GOLDEN:
        insn = decode_program(bytes.fromhex(hexdata)).insns[0]
        if insn is not None and insn.info is not None:
            seen.add(insn.info.form)
    assert seen == set(Form)


def test_raw_prefix() -> None:
    [insn] = decode_program(bytes.fromhex("b700000001000000")).insns
    assert insn is not None
    assert format_insn(insn, raw=True) == "b7 00 00 00 01 00 00 00  r0 = 1"
    lddw = decode_program(bytes.fromhex("18000000341200000000000000000000")).insns[0]
    assert lddw is not None
    assert format_insn(lddw, raw=True) == ("18 00 00 00 34 12 00 00 00 00 00 00 00 00 00 00  r0 = 0x1234 ll")
    # The byte column is skipped when assembling, so a raw listing reads back too.
    assert assemble_bytes("b7 00 00 00 01 00 00 00  r0 = 1") == bytes.fromhex("b700000001000000")


RESOLVER = TableResolver(
    helpers={1: "bpf_map_lookup_elem"},
    maps={("fd", 5): "counters", ("idx", 0): "stats"},
    subprogs={6: "helper_fn"},
    labels={4: "LBB0_2", 6: "helper_fn"},
)


@pytest.mark.parametrize(
    ("hexdata", "pc", "llvm_text", "conf_text"),
    [
        ("8500000001000000", 0, "call bpf_map_lookup_elem#1", "call 1  # bpf_map_lookup_elem"),
        ("8510000003000000", 2, "call pc+3 <helper_fn>", "call local +3  # helper_fn"),
        ("0500030000000000", 0, "goto +3 <LBB0_2>", "ja +3  # LBB0_2"),
        ("2501020010000000", 1, "if r1 > 0x10 goto +2 <LBB0_2>", "jgt %r1, 0x10, +2  # LBB0_2"),
        (
            "18110000050000000000000000000000",
            0,
            "r1 = map[fd:5] <counters>",
            "lddw %r1, map[fd:5]  # counters",
        ),
        (
            "18610000000000000000000008000000",
            0,
            "r1 = map[idx:0][0]+8 <stats>",
            "lddw %r1, map[idx:0][0]+8  # stats",
        ),
        (
            "18410000040000000000000000000000",
            1,
            "r1 = func[pc+4] <helper_fn>",
            "lddw %r1, func[+4]  # helper_fn",
        ),
    ],
)
def test_resolver_names(hexdata: str, pc: int, llvm_text: str, conf_text: str) -> None:
    data = bytes.fromhex(hexdata)
    insn = decode_program(data).insns[0]
    assert insn is not None
    assert format_insn(insn, pc, resolver=RESOLVER) == llvm_text
    assert format_insn(insn, pc, dialect="conformance", resolver=RESOLVER) == conf_text
    # Names are annotations: the text still assembles to the same bytes without symbols.
    assert assemble_bytes(llvm_text) == data
    assert assemble_bytes(conf_text) == data


def test_listing_with_labels_round_trips() -> None:
    program = bytes.fromhex(
        "b700000000000000"  # 0 r0 = 0
        "1501020000000000"  # 1 if r1 == 0 goto +2  -> 4
        "8510000002000000"  # 2 call pc+2           -> 5
        "0500000000000000"  # 3 goto +0
        "9500000000000000"  # 4 exit
        "b700000001000000"  # 5 r0 = 1
        "9500000000000000"  # 6 exit
    )
    resolver = TableResolver(labels={4: "out", 5: "sub"}, subprogs={5: "sub"})
    for dialect in ("llvm", "conformance"):
        decoded = decode_program(program).insns
        lines = disassemble(decoded, dialect=dialect, resolver=resolver)  # type: ignore[arg-type]
        assert [line.label for line in lines] == [None, None, None, None, "out", "sub", None]
        text = render_listing(lines)
        assert "out:" in text and "sub:" in text
        assert assemble_bytes(text) == program
