"""parse_data_file follows the runner's rules (reference/conformance.md, part 1)."""

from __future__ import annotations

import pytest

from emulator.asm.datafile import DataFileError, DataTest, parse_data_file
from emulator.errors import AsmError


def test_basic_sections_and_comments() -> None:
    test = parse_data_file(
        "# header comment\n"
        "-- asm\n"
        "mov %r0, 1 # trailing comment\n"
        "\n"
        "exit\n"
        "-- mem\n"
        "00 c0 9F\n"
        "ff\n"
        "-- result\n"
        "0x10\n"
    )
    assert test.asm is not None and "comment" not in test.asm
    assert test.mem == bytes([0x00, 0xC0, 0x9F, 0xFF])
    assert test.result == 16 and test.error is None and test.skip is None
    assert test.program() == bytes.fromhex("b7000000010000009500000000000000")


def test_raw_overrides_asm() -> None:
    test = parse_data_file("-- asm\nexit\n-- raw\n0x00000001000000b7\n149\n-- result\n0x1\n")
    assert test.raw == bytes.fromhex("b700000001000000") + bytes.fromhex("9500000000000000")
    assert test.program() == test.raw


def test_last_result_line_counts_and_decimal() -> None:
    test = parse_data_file("-- asm\nexit\n-- result\n0x5\n7\n")
    assert test.result == 7


def test_error_section_last_line() -> None:
    test = parse_data_file("-- asm\nexit\n-- error\nfirst\nInvalid instruction\n")
    assert test.error == "Invalid instruction"
    assert test.result is None and test.expected_r0 == 0 and test.skip is None


def test_error_pattern_header_is_error_section() -> None:
    test = parse_data_file("-- asm\nexit\n-- error pattern\nbad.*\n")
    assert test.error == "bad.*"


def test_ignored_sections() -> None:
    text = "-- c\nint main() { return 0; }\n-- asm\nexit\n-- no register offset\nx\n-- result\n0x0\n"
    test = parse_data_file(text)
    assert test.asm is not None and test.asm.split() == ["exit"]
    assert test.result == 0 and test.skip is None


def test_header_keyword_by_substring_in_order() -> None:
    # "asm" is tested before "result": this header selects the asm section.
    test = parse_data_file("-- result of asm\nexit\n-- result\n0x2\n")
    assert test.asm == "\nexit\n"


def test_unknown_section_skips_file() -> None:
    test = parse_data_file("-- asm\nexit\n-- no jit\n-- result\n0x0\n")
    assert test.skip is not None and "no jit" in test.skip


def test_no_result_or_error_skips() -> None:
    assert parse_data_file("-- asm\nexit\n").skip == "no result or error in test file"


def test_empty_program_skips() -> None:
    test = parse_data_file("-- asm\n# nothing\n-- result\n0x0\n")
    assert test.skip == "no instructions in test file"
    test = parse_data_file("-- asm\nonly_a_label:\n-- result\n0x0\n")
    assert test.skip == "no instructions in test file"


def test_crlf_and_hash_in_header_line() -> None:
    test = parse_data_file("-- asm # the program\r\nexit\r\n-- result\r\n0x3\r\n")
    assert test.result == 3 and test.program() == bytes.fromhex("9500000000000000")


def test_lines_before_first_header_ignored() -> None:
    test = parse_data_file("mov %r0, 1\n-- asm\nexit\n-- result\n0\n")
    assert test.program() == bytes.fromhex("9500000000000000")


def test_bad_values_raise_clear_errors() -> None:
    with pytest.raises(DataFileError, match="not a hex byte"):
        parse_data_file("-- asm\nexit\n-- mem\nzz\n-- result\n0\n")
    with pytest.raises(DataFileError, match="not a number"):
        parse_data_file("-- asm\nexit\n-- result\nlots\n")


def test_asm_errors_name_the_line_of_the_file() -> None:
    test = parse_data_file("# c\n-- asm\nmov %r0, 1\n\n# note\nfrob %r1\n-- result\n0\n")
    with pytest.raises(AsmError) as info:
        test.program()
    assert info.value.line == 6 and "unknown mnemonic 'frob'" in str(info.value)


def test_datatest_is_a_plain_value() -> None:
    test = DataTest(asm=None, raw=b"\x95" + bytes(7), mem=b"", result=0, error=None)
    assert test.program() == b"\x95" + bytes(7) and test.skip is None
