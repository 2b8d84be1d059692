"""``bpfdbg run`` and ``bpfdbg conformance``: outputs, JSON shape, and one clear line for
every user mistake (never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bpfdbg.cli import main
from emulator.asm import assemble_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_progs" / "raw" / "fletcher16.bin"


def write_prog(tmp_path: Path, text: str) -> str:
    path = tmp_path / "prog.bin"
    path.write_bytes(assemble_bytes(text))
    return str(path)


def fletcher16(data: bytes) -> int:
    s1 = s2 = 0
    for byte in data:
        s1 = (s1 + byte) % 255
        s2 = (s2 + s1) % 255
    return s2 << 8 | s1


def test_sample_program_computes_fletcher16(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SAMPLE), "--raw", "--mem", "01 02 03 04 05"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"r0 = {fletcher16(bytes([1, 2, 3, 4, 5])):#x} ")


def test_sample_program_matches_its_source() -> None:
    source = (ROOT / "sample_progs" / "raw" / "fletcher16.s").read_text()
    assert SAMPLE.read_bytes() == assemble_bytes(source)


def test_json_output_has_the_design_shape(capsys: pytest.CaptureFixture[str]) -> None:
    data = bytes(range(40))
    assert main(["run", str(SAMPLE), "--raw", "--mem", data.hex(), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["backend"] == "interp" and obj["retval"] == fletcher16(data)
    assert obj["fault"] is None and obj["insns"] > 0 and obj["mem_out"] == data.hex()
    assert set(obj) >= {"backend", "retval", "action", "packet_out", "insns", "fault", "maps", "trace"}


def test_fault_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = write_prog(tmp_path, "ldxw %r0, [%r1+8]\nexit")
    assert main(["run", prog, "--raw", "--mem", "00" * 10, "--json"]) == 1
    obj = json.loads(capsys.readouterr().out)
    assert obj["fault"] == {"pc": 0, "message": "read of 4 bytes at mem+8, input memory is 10 bytes"}
    assert obj["retval"] is None


def test_fault_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = write_prog(tmp_path, "mov %r0, 1\nldxw %r0, [%r1+8]\nexit")
    assert main(["run", prog, "--raw", "--mem", "00" * 10]) == 1
    assert "fault at insn 1: read of 4 bytes at mem+8" in capsys.readouterr().out


def test_endless_loop_stops_on_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = write_prog(tmp_path, "ja -1")
    assert main(["run", prog, "--raw", "--budget", "500"]) == 1
    assert "after 500 instructions: instruction budget spent" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "cannot read"),
        (b"\x95\x00\x00\x00\x00\x00\x00\x00\x00", [], "not a multiple of 8"),
        (b"\xff\x00\x00\x00\x00\x00\x00\x00", [], "unknown opcode 0xff"),
        (b"", [], "empty"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(56), [], "ELF object"),
        (b"\x95" + bytes(7), ["--mem", "xyz"], "--mem must be hex"),
        (b"\x95" + bytes(7), ["--backend", "nope"], "unknown backend 'nope'"),
    ],
)
def test_user_errors_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, args: list[str], message: str
) -> None:
    path = tmp_path / "p.bin"
    if content is not None:
        path.write_bytes(content)
    assert main(["run", str(path), "--raw", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bpfdbg: ") and message in err and err.count("\n") == 1


def test_missing_raw_flag_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SAMPLE)]) == 2
    assert "add --raw" in capsys.readouterr().err


def test_conformance_command_on_a_small_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.data").write_text("-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n")
    (tmp_path / "bad.data").write_text("-- asm\nmov %r0, 2\nexit\n-- result\n0x3\n")
    (tmp_path / "odd.data").write_text("-- asm\nexit\n-- frobnicate\n")
    assert main(["conformance", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "FAIL: bad: r0 is 0x2, expected 0x3" in out
    assert any(line.startswith("SKIP: odd") for line in out)
    assert out[-1] == "1 passed, 1 failed, 1 skipped"


def test_entry_point_runs_as_a_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bpfdbg.cli", "run", str(SAMPLE), "--raw", "--mem", "0102030405"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("r0 = 0x230f (8975)")
