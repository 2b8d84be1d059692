"""``bpfdbg triage``: the command line around bpfdbg.triage (formats, -o, progress on stderr,
exit status 0/1/2, one-line messages for bad input), and the ``bpfdbg`` launcher forwarding
the subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfdbg.capture import read_capture
from bpfdbg.cli import main
from tests.bpfdbg.test_triage import LB, LB_PCAP, MAPS, test_backends  # noqa: F401  (fixture)

BASE = ["triage", str(LB), "--pcap", str(LB_PCAP), "--maps", str(MAPS)]
PACKETS = len(read_capture(LB_PCAP))


def test_agreeing_backends_exit_0_with_the_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--backends", "interp,host-jit"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(
        "triage: xdp_lb.o:xdp_lb, capture xdp_lb.pcap (20 packets), backends interp vs host-jit"
    )
    assert f"agreement: {PACKETS} of {PACKETS} packets (100.0%)" in out
    assert err == ""  # stderr is not a terminal here: no progress bar


def test_divergences_exit_1_and_json_lists_every_packet(
    capsys: pytest.CaptureFixture[str],
    test_backends: None,  # noqa: F811
) -> None:
    assert main([*BASE, "--backends", "interp,skew", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["backends"] == ["interp", "skew"]
    assert len(data["packets"]) == PACKETS
    assert data["agreement"]["agreed"] < PACKETS and data["classes"]
    assert data["exit_status"] == 1


def test_markdown_to_a_file_with_progress_on_stderr(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    test_backends: None,  # noqa: F811
) -> None:
    out_file = tmp_path / "report.md"
    assert (
        main([*BASE, "--backends", "interp,skew", "--format", "markdown", "-o", str(out_file), "--progress"])
        == 1
    )
    out, err = capsys.readouterr()
    assert out == ""  # the report went to the file
    assert out_file.read_text().startswith("# Offload triage: xdp_lb.o:xdp_lb")
    assert f"{PACKETS}/{PACKETS} packets" in err and err.endswith("\n")


def test_no_progress_keeps_stderr_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--backends", "interp,host-jit", "--no-progress", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["exit_status"] == 0 and err == ""


def test_a_refusal_exits_1_with_the_reasons(
    capsys: pytest.CaptureFixture[str],
    test_backends: None,  # noqa: F811
) -> None:
    assert main([*BASE, "--backends", "interp,refuses"]) == 1
    out = capsys.readouterr().out
    assert "refuses refused the program" in out and "unsupported function id: 51" in out
    assert "agreement" not in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backends", "interp,nosuch"], "unknown backend 'nosuch'"),
        (["--backends", "interp"], "at least two backends"),
        (["--backends", "interp,host-jit", "--jobs", "0"], "--jobs must be at least 1"),
        (["--backends", "interp,host-jit", "--profile", "no-such-device"], "profile"),
        (["--backends", "interp,host-jit", "--prog", "nosuch"], "nosuch"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bpfdbg: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_files_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    not_pcap = tmp_path / "x.pcap"
    not_pcap.write_text("hello")
    not_elf = tmp_path / "x.o"
    not_elf.write_text("hello")
    cases = [
        (["triage", str(LB), "--pcap", str(tmp_path / "missing.pcap")], "cannot read"),
        (["triage", str(LB), "--pcap", str(not_pcap)], "not a pcap"),
        (["triage", str(not_elf), "--pcap", str(LB_PCAP)], "not an ELF object"),
        (["triage", str(tmp_path / "missing.o"), "--pcap", str(LB_PCAP)], "cannot read"),
    ]
    for argv, message in cases:
        assert main([*argv, "--backends", "interp,host-jit"]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("bpfdbg: ") and message in err, err


def test_missing_pcap_is_an_argparse_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["triage", str(LB)])
    assert exit_info.value.code == 2
    assert "--pcap" in capsys.readouterr().err


def test_the_launcher_forwards_triage(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.launch import main as launch

    assert launch([*BASE, "--backends", "interp,host-jit"]) == 0
    assert "agreement: " in capsys.readouterr().out
