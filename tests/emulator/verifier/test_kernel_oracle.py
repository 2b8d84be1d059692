"""The kernel verifier as the oracle: its log (level 2 + stats) prints the register state at
every branch target (``from 8 to 22: R1=0 R2=pkt(r=14) ...``) and the stack depth of
every function. Every register the kernel shows there must be one the analysis also has at
that pc: the same kind and pointer offset, and a scalar range that holds the kernel's.
Needs bpf() (skipped where it is refused)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.asm import assemble
from emulator.backends.kernel.syscall import Bpf, BpfError, VerifierError, available
from emulator.elf import encode_btf, func_info, load_object
from emulator.env import Environment
from emulator.program import Program
from emulator.verifier import Analysis, RegState, analyse

pytestmark = pytest.mark.skipif(available() is not None, reason="bpf() is not permitted here")

SAMPLES = Path(__file__).resolve().parents[3] / "sample_progs"
M64 = (1 << 64) - 1
KERNEL_TYPES = {"xdp": "xdp", "tc": "sched_cls", "socket": "socket_filter"}
KINDS = {
    "scalar": "scalar",
    "pkt": "packet",
    "pkt_end": "packet_end",
    "pkt_meta": "packet_meta",
    "ctx": "ctx",
    "map_value": "map_value",
    "map_value_or_null": "map_value_or_null",
    "map_ptr": "map_ptr",
    "ringbuf_mem": "other",
    "ringbuf_mem_or_null": "other_or_null",
}
BRANCH = re.compile(r"^from (\d+) to (\d+): (.*)$")
REG = re.compile(r"R(\d+)(?:_[rwD]+)?=(\S+?)(?=\s+R\d|\s+fp|\s*$)")
STACK_DEPTH = re.compile(r"^stack depth ([\d+]+)$", re.M)
LIVE = re.compile(r"^\s+(\d+): ([.0-9]{10}) \(", re.M)


def kernel_liveness(log: str) -> dict[int, set[int]]:
    """pc -> registers live before it, from the log's "Live regs before insn" table."""
    return {int(pc): {r for r, c in enumerate(marks) if c != "."} for pc, marks in LIVE.findall(log)}


def kernel_log(path: Path, name: str) -> tuple[str, Analysis]:
    obj = load_object(path)
    program = obj.program(name)
    env = Environment.for_object(obj)
    with Bpf() as bpf:
        try:
            fds = [
                bpf.map_create(spec, inner_map_fd=bpf.map_create(spec.inner) if spec.inner else 0)
                for spec in obj.maps
            ]
        except BpfError as err:
            pytest.skip(f"the kernel cannot create the maps of {name} here: {err}")
        btf_fd, records = 0, None
        if obj.btf is not None and len(program.symbols) > 1:  # callbacks need BTF func_info
            records = func_info(obj.btf, program)  # type: ignore[arg-type]
            btf_fd = bpf.btf_load(encode_btf(obj.btf))  # type: ignore[arg-type]
        try:
            bpf.prog_load(
                program.encode(),
                KERNEL_TYPES[program.prog_type],
                log_level=6,
                fd_array=fds or None,
                btf_fd=btf_fd,
                func_info=records,
            )
        except VerifierError as err:
            pytest.skip(f"the kernel refuses {name} here: {err.log.splitlines()[-1:]}")
        log = bpf.last_log
    return log, analyse(program, env)


def parse_value(text: str) -> tuple[str, int, int, int]:
    """(kind, offset, umin, umax) of one register in the kernel's notation."""
    if re.fullmatch(r"-?(0x[0-9a-f]+|\d+)", text):
        v = int(text, 0) & M64
        return "scalar", 0, v, v
    if text.startswith("fp"):
        return "stack", int(re.sub(r"^fp(\[\d+\])?", "", text) or 0), 0, 0
    m = re.fullmatch(r"([a-z_]+)\((.*)\)", text)
    assert m is not None, text
    kind = KINDS.get(m.group(1), m.group(1))
    fields: dict[str, int] = {}
    body = m.group(2)
    var_off = re.search(r"var_off=\((0x[0-9a-f]+); (0x[0-9a-f]+)\)", body)
    body = re.sub(r"var_off=\([^)]*\)", "", body)
    for item in filter(None, body.split(",")):
        *names, value = item.split("=")
        if re.fullmatch(r"-?(0x[0-9a-f]+|\d+)", value):
            for n in names:
                fields[n] = int(value, 0) & M64
    umin = fields.get("umin", 0)
    umax = fields.get("umax", M64)
    if var_off is not None:
        umin = max(umin, int(var_off.group(1), 16))
        umax = min(umax, int(var_off.group(1), 16) | int(var_off.group(2), 16))
    return kind, fields.get("off", 0), umin, umax


# xdp_loop_parser is left out: its level-2 log (63k instructions) overflows the log buffer,
# and the kernel's printed stack depth includes the 24 bytes its bpf_loop inlining adds
# after verification.
CASES = [
    ("xdp_firewall.o", "xdp_firewall"),
    ("tc_classifier.o", "tc_classify"),
    ("tc_p4_shaped.o", "tc_ingress"),
    ("socket_filter.o", "socket_dns_tcpctl"),
    ("xdp_lb.o", "xdp_lb"),
    ("xdp_lb_offload.o", "xdp_lb_offload"),
    ("xdp_subprog_globals.o", "xdp_port_blocker"),
    ("xdp_percpu_counter.o", "xdp_count"),
    ("xdp_frags.o", "xdp_jumbo"),
    ("xdp_l2_bridge.o", "xdp_bridge"),
    ("xdp_map_in_map.o", "xdp_tenant_acl"),
    ("xdp_printk.o", "xdp_printk"),
    ("xdp_ringbuf.o", "xdp_conn_events"),
    ("xdp_tailcall.o", "xdp_dispatch"),
    ("xdp_tailcall.o", "handle_tcp"),
]


@pytest.mark.parametrize(("file", "name"), CASES, ids=[c[1] for c in CASES])
def test_branch_target_states_agree_with_the_kernel(file: str, name: str) -> None:
    log, analysis = kernel_log(SAMPLES / file, name)
    live = kernel_liveness(log)
    checked = 0
    for line in log.splitlines():
        m = BRANCH.match(line)
        if m is None:
            continue
        target = int(m.group(2))
        state = m.group(3)
        if state.strip() == "safe":
            continue  # pruned: the kernel prints no state
        frame = re.match(r"frame(\d+): ", state)
        depth = int(frame.group(1)) if frame else 0
        visits = [v for v in analysis.visits_at(target) if v.depth == depth]
        assert visits, f"the kernel reaches {target}, the analysis does not"
        for reg, value in REG.findall(state):
            r = int(reg)
            if r not in live.get(target, set(range(11))):
                continue  # a dead register: paths may be merged regardless of its value
            kind, off, umin, umax = parse_value(value)
            mine = [v.regs[r] for v in visits if v.regs[r].kind == kind]
            assert mine, (
                f"pc {target} R{r}: kernel {value}, analysis {[v.regs[r].describe() for v in visits]}"
            )
            if kind == "scalar":
                lo, hi = min(x.umin for x in mine), max(x.umax for x in mine)
                assert lo <= umin and umax <= hi, f"pc {target} R{r}: kernel {value}, analysis [{lo}, {hi}]"
            elif kind in ("packet", "stack", "map_value"):
                offs = {x.off for x in mine}
                assert off in offs, f"pc {target} R{r}: kernel {value}, analysis offsets {offs}"
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(("file", "name"), CASES, ids=[c[1] for c in CASES])
def test_stack_depth_is_the_kernels(file: str, name: str) -> None:
    log, analysis = kernel_log(SAMPLES / file, name)
    m = STACK_DEPTH.search(log)
    assert m is not None, log[-500:]
    kernel = [int(d) for d in m.group(1).split("+")]
    reached = [
        s.stack_depth
        for s in analysis.subprogs
        if s.entry in {v.subprog for vs in analysis.visits_by_pc.values() for v in vs}
    ]
    assert reached == kernel


AFTER = re.compile(r"^(\d+): \(([0-9a-f]{2})\) [^;]*;\s*(.*)$")
OPERANDS = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 16
if r4 > r3 goto out
r6 = *(u8 *)(r2 + 0)
r7 = *(u32 *)(r2 + 4)
r8 = *(u16 *)(r2 + 8)
r8 <<= 4
r9 = *(u64 *)(r2 + 8)
r5 = r6
r5 += -100
"""


def _alu_cases() -> list[str]:
    cases = []
    binary = ["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "s>>="]
    for op in binary:
        for w in ("r", "w"):
            for dst in (6, 7, 9, 5):
                for src in ("r6", "r8", "r9", "3", "-7", "40"):
                    if op in ("<<=", ">>=", "s>>=") and (src in ("r9", "-7") or (w == "w" and src == "40")):
                        continue
                    operand = w + src[1:] if src.startswith("r") else src
                    cases.append(f"{w}0 = {w}{dst}\n{w}0 {op} {operand}")
    unary = ["r0 = -r0", "w0 = -w0", "r0 = be16 r0", "r0 = be32 r0", "r0 = le16 r0", "r0 = bswap32 r0"]
    unary += ["r0 = (s8)r0", "r0 = (s32)r0", "w0 = (s16)w0", "w0 = w0"]
    for u in unary:
        for dst in (6, 7, 8, 9, 5):
            cases.append(f"r0 = r{dst}\n{u}")
    return cases


def test_alu_results_are_the_kernels_exactly() -> None:
    """Every ALU operation on a handful of operand ranges: the analysis's result range is
    the one the kernel logs after the instruction (including where the kernel gives up:
    division, modulo and variable shifts make an unknown 64-bit scalar)."""
    body = "\n".join(case + "\n*(u64 *)(r10 - 8) = r0" for case in _alu_cases())
    text = OPERANDS + body + "\nr0 = 2\nexit\nout:\nr0 = 1\nexit\n"
    program = Program.from_insns(assemble(text), prog_type="xdp")
    analysis = analyse(program, Environment())
    with Bpf() as bpf:
        try:
            bpf.prog_load(program.encode(), "xdp", log_level=2)
        except VerifierError as err:
            pytest.skip(f"the kernel refuses the operand program: {err.log[-300:]}")
        log = bpf.last_log
    compared = 0
    for line in log.splitlines():
        m = AFTER.match(line)
        if m is None:
            continue
        pc = int(m.group(1))
        insn = program.insns[pc]
        assert insn is not None and insn.info is not None
        if insn.dst != 0 or insn.info.group.value not in ("alu64", "alu32", "load") or pc < 20:
            continue
        for reg, value in REG.findall(m.group(3)):
            if reg != "0":
                continue
            _kind, _off, umin, umax = parse_value(value)
            mine = only_state(analysis, pc + insn.slots, 0)
            assert (mine.umin, mine.umax) == (umin, umax), (
                f"pc {pc}: kernel {value}, analysis {mine.describe()}"
            )
            compared += 1
    assert compared > 300


def only_state(analysis: Analysis, pc: int, r: int) -> RegState:
    states = {v.regs[r] for v in analysis.visits_at(pc)}
    assert len(states) == 1, states
    return states.pop()


@pytest.mark.parametrize(("file", "name"), CASES, ids=[c[1] for c in CASES])
def test_reached_instructions_are_the_kernels(file: str, name: str) -> None:
    """Dead code: the analysis reaches exactly the instructions the kernel's log shows."""
    log, analysis = kernel_log(SAMPLES / file, name)
    kernel = {int(pc) for pc in re.findall(r"^(\d+): \(", log, re.M)}
    assert kernel, log[-300:]
    assert set(analysis.visits_by_pc) == kernel
