"""``prog`` (list, select, dump xlated/jited, tracelog) and ``verify``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bpfdbg.commands import programs
from bpfdbg.session import Session

from . import err, ok, open_sample, run_packet


def kernel_reason() -> str | None:
    from emulator.backends.kernel.syscall import available

    return available()


needs_kernel = pytest.mark.skipif(kernel_reason() is not None, reason="bpf() is not permitted here")


@pytest.fixture
def counter() -> Session:
    return open_sample("xdp_percpu_counter", maps=False)


@pytest.fixture
def tail() -> Session:
    return open_sample("xdp_tailcall", maps=False)


def raw_program(tmp_path: Path, hexcode: str, name: str = "bad") -> Path:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(bytes.fromhex(hexcode))
    return path


# -- prog list / show / select ---------------------------------------------------------------------
def test_prog_list_bpftool_header(counter: Session) -> None:
    lines = ok(counter, "prog list")
    assert re.fullmatch(r"\* 0: xdp  name xdp_count  tag [0-9a-f]{16}  gpl", lines[0])
    assert lines[1] == "\txlated 768B  insns 93  map_ids 1,2"
    assert lines[2] == "\tsection xdp  maps ethertype_stats,proto_stats  line_info 41"
    data = counter.execute("prog show -j").data
    assert data[0]["name"] == "xdp_count" and data[0]["selected"] is True
    assert data[0]["map_names"] == ["ethertype_stats", "proto_stats"]
    assert {"id", "type", "name", "tag", "gpl_compatible", "bytes_xlated", "map_ids"} <= set(data[0])
    assert ok(counter, "prog") == lines


def test_prog_list_marks_the_selected_program(tail: Session) -> None:
    lines = ok(tail, "prog list")
    heads = [line for line in lines if not line.startswith("\t")]
    assert heads[0].startswith("* 0: xdp  name handle_ipv4")
    assert heads[4].startswith("  4: xdp  name xdp_dispatch")
    result = tail.execute("prog select xdp_dispatch")
    assert result.ok
    assert result.lines == [
        "program xdp_dispatch selected (xdp, 60 insns); its maps, breakpoints and history start afresh"
    ]
    assert tail.program.name == "xdp_dispatch"
    heads = [line for line in ok(tail, "prog list") if not line.startswith("\t")]
    assert heads[4].startswith("* 4: xdp  name xdp_dispatch") and heads[0].startswith("  0:")


def test_prog_handles(tail: Session) -> None:
    by_id = tail.execute("prog show id 4").data
    assert by_id["name"] == "xdp_dispatch"
    assert tail.execute("prog show name xdp_dispatch").data == by_id
    assert tail.execute("prog show xdp_dispatch").data == by_id
    assert tail.execute(f"prog show tag {by_id['tag']}").data == by_id
    assert "no program with id 9; ids 0-4" in err(tail, "prog show id 9")
    assert err(tail, "prog show nosuch").startswith("no program 'nosuch'; programs: handle_ipv4")
    assert "no program with tag" in err(tail, "prog show tag 0011223344556677")
    assert "needs a program" in err(tail, "prog select")
    assert "program id must be a number" in err(tail, "prog show id x")


def test_prog_errors(counter: Session) -> None:
    assert err(counter, "prog frob").startswith("unknown prog subcommand 'frob'")
    assert "prog dump needs xlated or jited" in err(counter, "prog dump")
    assert "unknown prog dump kind 'q'" in err(counter, "prog dump q")
    assert "visual" in err(counter, "prog dump xlated visual")


@needs_kernel
@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_tag_is_the_kernels(counter: Session) -> None:
    """Load the program into the kernel and read the tag back with bpftool."""
    from emulator.backends.kernel.backend import KernelBackend

    kernel = KernelBackend()
    try:
        assert counter.env is not None
        assert kernel.load(counter.program, counter.env).ok
        shown = subprocess.run(
            ["bpftool", "prog", "show", "name", "xdp_count"], capture_output=True, text=True, check=True
        ).stdout
    finally:
        kernel.close()
    tags = set(re.findall(r"name xdp_count  tag ([0-9a-f]{16})", shown))
    assert programs.prog_tag(counter.program) in tags


# -- prog dump xlated ---------------------------------------------------------------------------------
def test_dump_xlated_bpftool_layout(counter: Session) -> None:
    lines = ok(counter, "prog dump xlated")
    assert lines[:5] == [
        "int xdp_count(struct xdp_md * ctx):",
        "; void *data_end = (void *)(long)ctx->data_end;",
        "   0: (61) r6 = *(u32 *)(r1 + 4)",
        "; void *data = (void *)(long)ctx->data;",
        "   1: (61) r7 = *(u32 *)(r1 + 0)",
    ]
    assert ok(counter, "prog d x") == lines
    assert ok(counter, "prog dump xlated xdp_count") == lines
    assert any(re.fullmatch(r"  \d\d: \(18\) r1 = map\[idx:\d\] <ethertype_stats>", line) for line in lines)
    assert any("call bpf_map_lookup_elem#1" in line for line in lines)


def test_dump_xlated_opcodes_and_linum(counter: Session) -> None:
    lines = ok(counter, "prog dump xlated opcodes linum")
    assert lines[1] == (
        "; void *data_end = (void *)(long)ctx->data_end; "
        "[file:./xdp_percpu_counter.c line_num:84 line_col:38]"
    )
    assert lines[2:4] == ["   0: (61) r6 = *(u32 *)(r1 + 4)", "       61 16 04 00 00 00 00 00"]
    lddw = next(i for i, line in enumerate(lines) if "(18) r1 = map" in line)
    assert re.fullmatch(r"       18 51 00 00 0\d 00 00 00  00 00 00 00 00 00 00 00", lines[lddw + 1])


def test_dump_xlated_json_shape(counter: Session) -> None:
    result = counter.execute("prog dump xlated opcodes linum -j")
    rows = result.data
    assert rows[0] == {
        "pc": 0,
        "proto": "int xdp_count(struct xdp_md * ctx)",
        "src": "void *data_end = (void *)(long)ctx->data_end;",
        "file": "./xdp_percpu_counter.c",
        "line_num": 84,
        "line_col": 38,
        "disasm": "(61) r6 = *(u32 *)(r1 + 4)",
        "opcodes": {
            "code": "0x61",
            "src_reg": "0x1",
            "dst_reg": "0x6",
            "off": ["0x04", "0x00"],
            "imm": ["0x00", "0x00", "0x00", "0x00"],
        },
    }
    lddw = next(row for row in rows if row["disasm"].startswith("(18)"))
    assert len(lddw["opcodes"]["imm"]) == 12  # both halves, as bpftool prints a ld_imm64
    assert json.loads(result.lines[0]) == rows
    plain = counter.execute("prog dump xlated -j").data
    assert "opcodes" not in plain[0] and "line_num" not in plain[0] and plain[0]["src"]


def test_dump_xlated_names_subprograms() -> None:
    s = open_sample("xdp_subprog_globals", maps=False)
    lines = ok(s, "prog dump xlated")
    assert "int parse_ipv4(struct xdp_md * ctx, struct flow * fl):" in lines
    assert "__u32 flow_hash(__u32 saddr, __u32 daddr, __u32 ports):" in lines


def test_dump_xlated_raw_program_has_no_source(tmp_path: Path) -> None:
    s = Session.open(raw_program(tmp_path, "b7000000020000009500000000000000"), raw=True)
    assert ok(s, "prog dump xlated") == ["   0: (b7) r0 = 2", "   1: (95) exit"]


def test_dump_xlated_file(counter: Session, tmp_path: Path) -> None:
    target = tmp_path / "img.bin"
    assert ok(counter, f"prog dump xlated file {target}") == [f"wrote 768 bytes of xdp_count to {target}"]
    assert target.read_bytes() == counter.program.encode()
    assert "cannot be combined" in err(counter, f"prog dump xlated file {target} opcodes")
    assert "'file' needs a file name" in err(counter, "prog dump xlated file")


# -- prog dump jited ---------------------------------------------------------------------------------
def test_dump_jited_uses_the_host_jit_when_the_session_interprets(counter: Session) -> None:
    result = counter.execute("prog dump jited")
    assert result.ok
    assert result.lines[0] == "xdp_count: native code from the host-jit backend (intel syntax)"
    # every eBPF instruction heads its native range, in order, with its text
    heads = [line for line in result.lines if line.startswith("; insn ")]
    pcs = [int(h.split()[2].rstrip(":")) for h in heads]
    assert pcs == sorted(pcs) and pcs[0] == 0
    from bpfdbg.render.code import insn_text

    assert heads[0] == f"; insn 0: {insn_text(counter, 0, 'xdp_count')}"
    assert all(row["address"].startswith("0x") for row in result.data)
    assert {row["pc"] for row in result.data} >= {0, pcs[-1]}


def test_dump_jited_att_syntax_and_opcodes(counter: Session) -> None:
    intel = counter.execute("prog dump jited").data
    att = counter.execute("prog dump jited att opcodes")
    assert att.ok and "(att syntax)" in att.lines[0]
    assert [r["raw"] for r in att.data] == [r["raw"] for r in intel]  # same bytes, other spelling
    assert any("%" in r["text"] for r in att.data) and not any("%" in r["text"] for r in intel)


def test_dump_jited_refuses_a_backend_without_native_code(counter: Session) -> None:
    result = counter.execute("prog dump jited backend interp")
    assert not result.ok
    assert result.error == (
        "no native code to show: the interp backend runs eBPF directly; backends with native code: "
        "host-jit, nic"
    )
    assert result.data == {"backend": "interp", "native_backends": ["host-jit", "nic"]}
    assert "'backend' needs a backend name" in err(counter, "prog dump jited backend")


# -- tracelog through prog ---------------------------------------------------------------------------
def test_prog_tracelog_is_tracelog() -> None:
    s = open_sample("xdp_printk", maps=False)
    run_packet(s, 0)
    assert s.execute("prog tracelog").lines == s.execute("tracelog").lines
    assert s.execute("prog tracelog -j").data == s.execute("tracelog -j").data


# -- verify ----------------------------------------------------------------------------------------
@needs_kernel
def test_verify_accepted_by_the_kernel(counter: Session) -> None:
    result = counter.execute("verify")
    assert result.ok
    assert result.lines[:2] == [
        "verify xdp_count (xdp, 93 insns)",
        "static checks: ok (0 errors, 0 warnings)",
    ]
    assert result.lines[2].startswith("kernel verifier (Linux ")
    assert re.search(
        r"\): accepted; processed \d+ insns \(limit 1000000\) max_states_per_insn ", result.lines[2]
    )
    assert len(result.lines) == 3  # the summary is the whole log of an accepted program
    assert result.data["kernel"]["status"] == "accepted"
    assert result.lines[2].endswith(result.data["kernel"]["stats"])
    assert result.data["ok"] is True


@needs_kernel
def test_verify_tail_call_program_with_its_targets(tail: Session) -> None:
    assert tail.execute("verify xdp_dispatch -j").data["kernel"]["status"] == "accepted"


@needs_kernel
def test_verify_rejected_points_at_the_instruction(tmp_path: Path) -> None:
    # r0 = r2 (never written); exit
    s = Session.open(raw_program(tmp_path, "bf200000000000009500000000000000"), raw=True, prog_type="xdp")
    result = s.execute("verify")
    assert not result.ok
    assert result.error == "bad is rejected by the kernel verifier: R2 !read_ok"
    assert result.lines[2].endswith("): rejected: R2 !read_ok")
    assert result.lines[3:5] == ["  stopped at instruction 0:", "       0: (bf) r0 = r2"]
    assert "    0: (bf) r0 = r2" in result.lines
    kernel = result.data["kernel"]
    assert kernel["status"] == "rejected" and kernel["failing_pc"] == 0
    assert "R2 !read_ok" in kernel["log"]


@needs_kernel
def test_verify_shows_the_source_line_of_the_failing_instruction(
    counter: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = "0: R1=ctx() R10=fp0\n0: (61) r6 = *(u32 *)(r1 +4)\n5: (71) r2 = *(u8 *)(r7 +12)\ninvalid access\n"

    class Rejecting:
        verifier_log = log

        def load(self, prog: object, env: object) -> Any:
            from emulator.backends.base import LoadReport
            from emulator.diagnostics import Diagnostic

            return LoadReport("kernel", False, (Diagnostic(0, "kernel", "rejected"),))

        def close(self) -> None:
            pass

    import emulator.backends.kernel.backend as kernel_backend

    monkeypatch.setattr(kernel_backend, "KernelBackend", Rejecting)
    result = counter.execute("verify")
    assert not result.ok
    at = result.lines.index("  stopped at instruction 5:")
    assert result.lines[at + 1] == "    ; ethertype = bpf_ntohs(eth->h_proto);  (xdp_percpu_counter.c:96)"
    assert result.lines[at + 2] == "       5: (71) r2 = *(u8 *)(r7 + 12)"
    assert result.data["kernel"]["reason"] == "invalid access"


def test_verify_without_bpf(counter: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(programs, "kernel_available", lambda: "bpf() is not permitted here: EPERM")
    result = counter.execute("verify")
    assert result.ok
    assert result.lines[-1] == "kernel verifier: skipped (bpf() is not permitted here: EPERM)"
    assert result.data["kernel"] == {"status": "skipped", "reason": "bpf() is not permitted here: EPERM"}


def test_verify_raw_program_skips_the_kernel(tmp_path: Path) -> None:
    s = Session.open(raw_program(tmp_path, "b7000000020000009500000000000000", "ok"), raw=True)
    result = s.execute("verify")
    assert result.ok
    assert result.lines == [
        "verify ok (raw, 2 insns)",
        "static checks: ok (0 errors, 0 warnings)",
        "kernel verifier: skipped (raw programs have no kernel program type)",
    ]


def test_verify_reports_static_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(programs, "kernel_available", lambda: "not here")
    # call helper 999 (unknown); r0 = 0; exit
    s = Session.open(
        raw_program(tmp_path, "85000000e7030000b7000000000000009500000000000000", "w"),
        raw=True,
        prog_type="xdp",
    )
    result = s.execute("verify -j")
    assert result.ok  # warnings do not reject
    diags = result.data["static"]["diagnostics"]
    assert diags[0]["pc"] == 0 and diags[0]["code"] == "unknown-helper" and diags[0]["severity"] == "warning"


def test_verify_errors(counter: Session) -> None:
    assert err(counter, "verify nosuch").startswith("no program 'nosuch'")
    assert "unexpected 'extra'" in err(counter, "verify xdp_count extra")


def test_failing_pc_and_reason_from_a_log() -> None:
    log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0\n1: (bf) r0 = r2\nR2 !read_ok\nprocessed 2 insns\n"
    assert programs.failing_pc(log) == 1
    assert programs.log_reason(log) == "R2 !read_ok"
    assert programs.failing_pc("nothing") is None
    assert programs.log_reason("") is None


@needs_kernel
def test_dump_jited_beside_the_kernels_image() -> None:
    """The tail-call sample has every kind of difference the output explains: map
    addresses, the return thunk, the inlined tail call; straight-line code agrees."""
    s = open_sample("xdp_tailcall", maps=False)
    result = s.execute("prog dump jited kernel")
    assert result.ok, result.error
    assert "per instruction of the kernel's xlated program" in result.lines[0]
    kinds = {row["difference"] for row in result.data if not row["same"]}
    assert {"map", "exit", "tailcall"} <= kinds
    for row in result.data:
        if row["form"] in ("ALU_REG", "ALU_IMM") and row["kernel"] is not None:
            assert row["same"], row  # straight-line code: the same instructions, the same registers
    assert any(line.startswith("straight-line ALU instructions: ") for line in result.lines)
    assert any("register mapping agrees" in line for line in result.lines)
    assert any("why: return: the kernel returns through its return thunk" in line for line in result.lines)
    again = s.execute("prog dump jited --kernel").data  # the spelling works too
    assert [(r["pc"], r["same"], r["difference"]) for r in again] == [
        (r["pc"], r["same"], r["difference"]) for r in result.data
    ]  # the kernel's addresses differ from one load to the next, the comparison does not
