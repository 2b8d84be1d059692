"""The kernel verifier decides what is a program: random XDP and TC programs of ALU and
jump instructions, stack memory, direct packet access and map operations (lookup, update,
delete on an ARRAY and a HASH map with random initial contents) are loaded into the real
kernel; the ones it accepts run on ``interp`` and on the kernel (BPF_PROG_TEST_RUN) with
the same random packet, and must give the same return value, the same packet out and the
same map contents (hash-map entries compared as sets: the kernel seeds its hash at random).

The generator aims at verifiable programs: it tracks which registers hold initialised
scalars (helper calls clobber r1-r5, pointer scratch registers stop being scalars, a
register written on one path of a branch only is not a scalar after the join), bounds-
checks packet accesses and null-checks lookups. A few snippets are deliberately wrong
(packet access past the checked bound, map value access past its end, a lookup result
used without a null check, a misaligned stack access): the verifier must reject those,
and such examples count as "rejected".

The retval is compared on its low 32 bits: BPF_PROG_TEST_RUN reports a u32.
At the end of the module a line "N programs generated, V accepted by the verifier,
A agreed" goes to the real stdout (visible with -s). Skipped only where the kernel refuses
bpf().
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.asm import assemble
from emulator.backends.base import create
from emulator.backends.kernel.syscall import available
from emulator.env import Environment, RunInput
from emulator.maps.spec import MapSpec, MapType
from emulator.program import Program
from emulator.state import StopCondition, StopReason

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

# Register roles: r7 = packet data, r8 = packet end (never written after the prologue);
# r6 and r9 are callee-saved scalars; r0-r5 are scalars until a call or a scratch use.
WORK = (0, 1, 2, 3, 4, 5, 6, 9)
SCRATCH = (0, 1, 2, 3, 4, 5)
STACK = 64  # r10-64 .. r10-1: random stack loads and stores
KEY_OFF = -72  # 8 bytes of map key
VALUE_OFF = -96  # 16 bytes of map value
ZEROED = 128  # the prologue zeroes r10-128 .. r10-1
VALUE_SIZE = 16
MAPS = (
    MapSpec("arr", MapType.ARRAY, 4, VALUE_SIZE, 4),
    MapSpec("hash", MapType.HASH, 8, VALUE_SIZE, 8),
)
HASH_KEYS = 16  # hash keys the programs use: 0 .. 15 (at most 8 fit)
MAX_PACKET = 96

STATS: Counter[str] = Counter()
REJECTIONS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    STATS.clear()
    REJECTIONS.clear()
    yield
    generated, accepted, agreed = STATS["generated"], STATS["accepted"], STATS["agreed"]
    out = sys.__stdout__
    if out is not None:
        out.write(
            f"\n[kernel random programs] {generated} programs generated, {accepted} accepted by the "
            f"verifier, {agreed} agreed (xdp {STATS['xdp']}, tc {STATS['tc']}; packet changed in "
            f"{STATS['packet changed']}, maps changed in {STATS['maps changed']}; rejected: "
            f"{', '.join(f'{k}: {v}' for k, v in REJECTIONS.most_common(6)) or 'none'})\n"
        )
        out.flush()
    assert agreed == accepted, f"{accepted - agreed} accepted programs disagreed"


_ALU = ("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "s>>", "s/", "s%")
_JMP = ("==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&")
_SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
_IMMS = st.sampled_from([0, 1, -1, 2, 7, 8, 15, 31, 63, 255, 0x7FFFFFFF, -(2**31)]) | st.integers(
    -(2**31), 2**31 - 1
)


@dataclass
class Gen:
    """One program under construction."""

    draw: st.DrawFn
    kind: str
    lines: list[str] = field(default_factory=list)
    scalars: set[int] = field(default_factory=lambda: set(WORK))
    labels: int = 0
    bad: list[str] = field(default_factory=list)

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def label(self) -> str:
        self.labels += 1
        return f"L{self.labels}"

    def wrong(self, what: str) -> bool:
        """Rarely true: make this snippet one the verifier must reject."""
        if self.draw(st.integers(0, 59)) == 59:
            self.bad.append(what)
            return True
        return False

    def scalar(self) -> int:
        return self.draw(st.sampled_from(sorted(self.scalars)))

    def dst(self) -> int:
        """A register to write a scalar to (any work register: writing initialises it)."""
        return self.draw(st.sampled_from(WORK))

    def scratch(self, avoid: tuple[int, ...] = ()) -> int:
        """A caller-saved register to hold a pointer for a moment; it stops being a scalar."""
        free = [r for r in SCRATCH if r not in self.scalars and r not in avoid]
        pool = free or [r for r in SCRATCH if r not in avoid]
        reg = self.draw(st.sampled_from(pool))
        self.scalars.discard(reg)
        return reg

    # -- snippets ------------------------------------------------------------------------

    def alu(self) -> None:
        wide = self.draw(st.booleans())
        p = "r" if wide else "w"
        width = 64 if wide else 32
        choice = self.draw(st.integers(0, 9))
        if choice == 0:  # mov
            dst = self.dst()
            src = self.draw(st.sampled_from(sorted(self.scalars)) if self.draw(st.booleans()) else st.none())
            rhs = f"{p}{src}" if src is not None else str(self.draw(_IMMS))
            self.emit(f"{p}{dst} = {rhs}")
            self.scalars.add(dst)
            return
        if choice == 1:  # neg, byte swaps, sign-extending moves
            src = self.scalar()
            dst = self.draw(st.sampled_from([src, self.dst()]))
            form = self.draw(st.sampled_from(["neg", "end", "movsx"]))
            if form == "neg" or (form == "end" and dst != src):
                self.emit(f"{p}{dst} = {p}{src}")
                if form == "neg":
                    self.emit(f"{p}{dst} = -{p}{dst}")
                src = dst
            if form == "end":
                op = self.draw(st.sampled_from(["be", "le", "bswap"]))
                self.emit(f"r{dst} = {op}{self.draw(st.sampled_from([16, 32, 64]))} r{dst}")
            elif form == "movsx":
                bits = self.draw(st.sampled_from([8, 16] + ([32] if wide else [])))
                self.emit(f"{p}{dst} = (s{bits}){p}{src}")
            self.scalars.add(dst)
            return
        dst = self.scalar()
        op = self.draw(st.sampled_from(_ALU))
        if self.draw(st.booleans()):
            rhs = f"{p}{self.scalar()}"
        else:
            imm = self.draw(_IMMS)
            if op in ("<<", ">>", "s>>"):
                imm %= width  # the verifier rejects constant shifts >= the width
            if op in ("/", "%", "s/", "s%") and imm == 0:
                imm = 3  # and constant division by zero
            rhs = str(imm)
        self.emit(f"{p}{dst} {op}= {rhs}")

    def stack(self) -> None:
        size = self.draw(st.sampled_from(sorted(_SIZES)))
        off = -size * self.draw(st.integers(1, STACK // size))
        if size > 1 and self.wrong("misaligned stack access"):
            off += 1
        if self.draw(st.booleans()):
            signed = size < 8 and self.draw(st.integers(0, 3)) == 0
            dst = self.dst()
            self.emit(f"r{dst} = *({'s' if signed else 'u'}{size * 8} *)(r10 {off})")
            self.scalars.add(dst)
        elif self.draw(st.booleans()):
            self.emit(f"*({_SIZES[size]} *)(r10 {off}) = r{self.scalar()}")
        else:
            self.emit(f"*({_SIZES[size]} *)(r10 {off}) = {self.draw(_IMMS)}")

    def packet(self) -> None:
        """A bounds-checked packet load or store at a fixed or a variable offset."""
        size = self.draw(st.sampled_from(sorted(_SIZES)))
        short = self.draw(st.integers(1, size)) if self.wrong("packet access past the checked bound") else 0
        skip = self.label()
        variable = self.draw(st.integers(0, 3)) == 0
        if variable:
            index = self.scalar()
            ptr = self.scratch()
            end = self.scratch(avoid=(ptr,))
            self.emit(f"r{ptr} = r{index}", f"r{ptr} &= {self.draw(st.sampled_from([7, 15, 31, 63]))}")
            self.emit(f"r{ptr} += r7")
            base = f"r{ptr}"
            off = self.draw(st.integers(0, 32))
            self.emit(f"r{end} = r{ptr}", f"r{end} += {off + size - short}", f"if r{end} > r8 goto {skip}")
        else:
            end = self.scratch()
            base = "r7"
            off = self.draw(st.integers(0, 40) | st.integers(0, MAX_PACKET + 8 - size))
            self.emit(f"r{end} = r7", f"r{end} += {off + size - short}", f"if r{end} > r8 goto {skip}")
        before = set(self.scalars)
        for _ in range(self.draw(st.integers(1, 2))):
            if self.draw(st.booleans()):
                signed = size < 8 and self.draw(st.integers(0, 3)) == 0
                dst = self.draw(st.sampled_from([r for r in WORK if f"r{r}" != base]))
                self.emit(f"r{dst} = *({'s' if signed else 'u'}{size * 8} *)({base} + {off})")
                self.scalars.add(dst)
            elif self.draw(st.booleans()):
                self.emit(f"*({_SIZES[size]} *)({base} + {off}) = r{self.scalar()}")
            else:
                self.emit(f"*({_SIZES[size]} *)({base} + {off}) = {self.draw(_IMMS)}")
        self.emit(f"{skip}:")
        self.scalars &= before

    def branch(self, depth: int) -> None:
        """if COND goto END; <snippets>; END:"""
        wide = self.draw(st.booleans())
        p = "r" if wide else "w"
        op = self.draw(st.sampled_from(_JMP))
        rhs = f"{p}{self.scalar()}" if self.draw(st.booleans()) else str(self.draw(_IMMS))
        end = self.label()
        self.emit(f"if {p}{self.scalar()} {op} {rhs} goto {end}")
        before = set(self.scalars)
        self.snippets(depth + 1, self.draw(st.integers(1, 3)))
        self.emit(f"{end}:")
        self.scalars &= before

    def key(self, index: int) -> None:
        """The key at r10+KEY_OFF from a scalar, mostly within the map's range."""
        reg = self.scratch()
        src = self.scalar() if self.scalars else reg
        if src == reg and reg not in self.scalars:
            self.emit(f"r{reg} = {self.draw(st.integers(0, 20))}")
        else:
            self.emit(f"r{reg} = r{src}")
        if self.draw(st.integers(0, 7)):
            self.emit(f"r{reg} &= {7 if index == 0 else HASH_KEYS - 1}")
        self.emit(f"*({'u32' if index == 0 else 'u64'} *)(r10 {KEY_OFF}) = r{reg}")

    def map_op(self) -> None:
        index = self.draw(st.integers(0, 1))
        op = self.draw(st.sampled_from(["lookup", "lookup", "update", "update", "delete"]))
        self.key(index)
        if op == "update":
            for off in (0, 8):  # the value: two scalars, or whatever the stack holds
                if self.draw(st.integers(0, 3)):
                    self.emit(f"*(u64 *)(r10 {VALUE_OFF + off}) = r{self.scalar()}")
            self.emit("r3 = r10", f"r3 += {VALUE_OFF}", f"r4 = {self.draw(st.sampled_from([0, 0, 1, 2]))}")
        self.emit(f"r1 = map[idx:{index}]", "r2 = r10", f"r2 += {KEY_OFF}")
        self.emit(f"call {dict(lookup=1, update=2, delete=3)[op]}")
        self.scalars -= {0, 1, 2, 3, 4, 5}
        if op != "lookup":
            if self.draw(st.integers(0, 3)):
                self.scalars.add(0)  # the error code
            return
        miss = self.label()
        if not self.wrong("lookup result used without a null check"):
            self.emit(f"if r0 == 0 goto {miss}")
        before = set(self.scalars)
        for _ in range(self.draw(st.integers(1, 3))):
            self.value_access()
        self.emit(f"{miss}:")
        self.scalars &= before

    def value_access(self) -> None:
        """A load, store or atomic add through the lookup's value pointer in r0."""
        kind = self.draw(st.sampled_from(["load", "load", "store", "store", "atomic"]))
        if kind == "atomic":
            size = self.draw(st.sampled_from([4, 8]))
            off = size * self.draw(st.integers(0, VALUE_SIZE // size - 1))
            src = self.scalar() if self.scalars else None
            if src is None:
                src = self.draw(st.sampled_from([1, 2, 3, 4, 5]))
                self.emit(f"r{src} = {self.draw(_IMMS)}")
                self.scalars.add(src)
            reg = f"r{src}" if size == 8 else f"w{src}"
            self.emit(f"lock *({_SIZES[size]} *)(r0 + {off}) += {reg}")
            return
        size = self.draw(st.sampled_from(sorted(_SIZES)))
        off = self.draw(st.integers(0, VALUE_SIZE - size))
        if self.wrong("map value access past its end"):
            off = VALUE_SIZE - size + self.draw(st.integers(1, size))
        if kind == "load":
            dst = self.draw(st.sampled_from([1, 2, 3, 4, 5, 6, 9]))
            self.emit(f"r{dst} = *({_SIZES[size]} *)(r0 + {off})")
            self.scalars.add(dst)
        elif bool(self.scalars) and self.draw(st.booleans()):
            self.emit(f"*({_SIZES[size]} *)(r0 + {off}) = r{self.scalar()}")
        else:
            self.emit(f"*({_SIZES[size]} *)(r0 + {off}) = {self.draw(_IMMS)}")

    def snippets(self, depth: int, count: int) -> None:
        for _ in range(count):
            if not self.scalars:
                self.emit("r6 = 0")
                self.scalars.add(6)
            kinds = ["alu", "alu", "alu", "stack", "packet", "packet", "map", "map"]
            if depth < 2:
                kinds.append("branch")
            kind = self.draw(st.sampled_from(kinds))
            if kind == "alu":
                self.alu()
            elif kind == "stack":
                self.stack()
            elif kind == "packet":
                self.packet()
            elif kind == "map":
                self.map_op()
            else:
                self.branch(depth)


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    bad: tuple[str, ...]
    packet: bytes
    entries: tuple[tuple[str, bytes, bytes], ...]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["xdp", "tc"]))
    gen = Gen(draw, kind)
    data, end = (0, 4) if kind == "xdp" else (76, 80)
    gen.emit(f"r7 = *(u32 *)(r1 + {data})", f"r8 = *(u32 *)(r1 + {end})")
    gen.emit(*(f"*(u64 *)(r10 {-8 * i}) = 0" for i in range(1, ZEROED // 8 + 1)))
    for reg in WORK:
        value = draw(st.sampled_from([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1])
                     | st.integers(0, (1 << 64) - 1))  # fmt: skip
        gen.emit(f"r{reg} = {value:#x} ll")
    gen.snippets(0, draw(st.integers(1, 10)))
    if 0 not in gen.scalars or draw(st.booleans()):
        gen.emit(f"r0 = r{gen.scalar()}")
    gen.emit("exit")
    length = draw(st.integers(14, MAX_PACKET))
    packet = draw(st.binary(min_size=length, max_size=length))
    entries: list[tuple[str, bytes, bytes]] = []
    for i in range(MAPS[0].max_entries):
        if draw(st.booleans()):
            entries.append(("arr", i.to_bytes(4, "little"), draw(st.binary(min_size=16, max_size=16))))
    keys = draw(st.lists(st.integers(0, HASH_KEYS - 1), max_size=MAPS[1].max_entries, unique=True))
    for k in keys:
        entries.append(("hash", k.to_bytes(8, "little"), draw(st.binary(min_size=16, max_size=16))))
    return Case(kind, "\n".join(gen.lines), tuple(gen.bad), packet, tuple(entries))


def _maps(dump):  # type: ignore[no-untyped-def]
    return {name: sorted(json.dumps(e, sort_keys=True) for e in dump[name]) for name in ("arr", "hash")}


def _initial_maps(entries: tuple[tuple[str, bytes, bytes], ...]) -> dict[str, list[dict[str, str]]]:
    arr = {i.to_bytes(4, "little"): bytes(VALUE_SIZE) for i in range(MAPS[0].max_entries)}
    hashed: dict[bytes, bytes] = {}
    for name, key, value in entries:
        (arr if name == "arr" else hashed)[key] = value
    return {
        n: [{"key": k.hex(), "value": v.hex()} for k, v in d.items()]
        for n, d in (("arr", arr), ("hash", hashed))
    }


def _reason(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    if len(lines) >= 2 and lines[-1].startswith("processed"):
        return lines[-2]
    return lines[-1] if lines else "?"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_random_program_matches_the_kernel(case: Case) -> None:
    STATS["generated"] += 1
    prog = Program.from_insns(assemble(case.text), name="random", prog_type=case.kind)
    env = Environment(maps=MAPS, map_entries=case.entries)
    kernel = create("kernel")
    try:
        report = kernel.load(prog, env)
        if not report.ok:
            log = getattr(kernel, "verifier_log", "")
            if not log:  # not the verifier: bpf() itself failed
                pytest.fail(f"kernel load failed: {report.diagnostics}")
            reason = _reason(log)
            REJECTIONS[re.sub(r"\br\d+|\bR\d+|-?\d+", "N", reason)[:60]] += 1
            assert case.bad, f"the verifier rejected a program meant to be valid: {reason}\n{case.text}"
            return
        STATS["accepted"] += 1
        STATS[case.kind] += 1
        ours = create("interp")
        assert ours.load(prog, env).ok
        results = []
        for machine in (ours, kernel):
            machine.reset(RunInput(packet=case.packet))
            event = machine.run(StopCondition())
            results.append((event, machine.state()))
    finally:
        close = getattr(kernel, "close", None)
        if close is not None:
            close()
    (ev_a, st_a), (ev_b, st_b) = results
    where = f"{case.kind} program:\n{case.text}\npacket {case.packet.hex()}\nmaps {case.entries}"
    assert ev_b.reason is StopReason.EXIT, f"kernel: {ev_b}\n{where}"
    assert ev_a.reason is StopReason.EXIT, f"interp: {ev_a}\n{where}"
    assert (ev_a.retval or 0) & 0xFFFFFFFF == ev_b.retval, (
        f"retval {ev_a.retval:#x} != {ev_b.retval:#x}\n{where}"
    )
    assert st_a.regions["pkt"].data == st_b.regions["pkt"].data, f"packet out\n{where}"
    assert _maps(st_a.maps) == _maps(st_b.maps), f"maps\n{where}"
    STATS["agreed"] += 1
    STATS["packet changed"] += st_b.regions["pkt"].data != case.packet
    STATS["maps changed"] += _maps(st_b.maps) != _maps(_initial_maps(case.entries))
