"""The kernel is the reference: hypothesis-generated sequences of user-space map operations
(update with every flag, delete, lookup, get_next_key, lookup_and_delete; push/pop/peek for
queues and stacks) run on a real kernel map through bpf(2) and on ours; every return code,
every returned value and the final contents must agree.

What is compared and why it can be compared exactly:
- Iteration order: hash maps are created with BPF_F_ZERO_SEED in most examples, and then
  get_next_key must return the same key at every step (our jhash buckets are the
  kernel's). Without the flag the kernel's seed is random, so only "a key / no key" and
  the final contents as a set are compared.
- LRU maps: which key gets evicted depends on the CPU a syscall runs on (per-CPU free and
  pending lists), so this process pins itself to one CPU at a time and tells the model
  (``user_cpu``); LRU sequences also switch CPUs and look keys up *from a program*
  (BPF_PROG_TEST_RUN of a tiny XDP program), which sets the reference bits that steer
  eviction. With that the surviving keys must be identical, not merely as many.
Skipped only where the kernel refuses bpf().
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.backends.kernel.syscall import Bpf, BpfError, available, possible_cpus, xdp_md
from emulator.maps import Map, MapCreateError, MapOpError, MapSpec, MapType, create_map
from emulator.maps.base import round8
from emulator.maps.spec import F_NO_COMMON_LRU, F_NO_PREALLOC, F_ZERO_SEED

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

NCPUS = possible_cpus()
CPUS = sorted(c for c in os.sched_getaffinity(0) if c < NCPUS)
EXAMPLES = max(20, settings().max_examples // 4)  # "ci": 50 sequences per map family
SEQUENCES: dict[str, list[int]] = {}  # family -> [sequences run, sequences that agreed]

T = MapType
Result = bytes | int | str | None


@pytest.fixture(scope="module")
def bpf() -> Iterator[Bpf]:
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {CPUS[0]})
    try:
        with Bpf() as handle:
            yield handle
    finally:
        os.sched_setaffinity(0, saved)


def kernel(call: Callable[[], object]) -> Result:
    try:
        got = call()
    except BpfError as err:
        return -(err.errno or 0)
    return 0 if got is None else got  # type: ignore[return-value]


def model(call: Callable[[], object]) -> Result:
    try:
        got = call()
    except MapOpError as err:
        return -err.errno
    return 0 if got is None else got  # type: ignore[return-value]


@dataclass
class Pair:
    """One kernel map and our map, driven together."""

    bpf: Bpf
    spec: MapSpec
    ours: Map
    fd: int
    log: list[str] = field(default_factory=list)
    progs: dict[bytes, int] = field(default_factory=dict)

    @property
    def user_value_size(self) -> int:
        return round8(self.spec.value_size) * NCPUS if self.ours.percpu else self.spec.value_size

    def same(self, what: str, k: Result, m: Result) -> None:
        self.log.append(f"{what} -> kernel {k!r}, ours {m!r}")
        assert k == m, "\n".join(self.log)

    def update(self, key: bytes | None, value: bytes, flags: int) -> None:
        self.same(
            f"update {key!r} flags {flags}",
            kernel(lambda: self.bpf.map_update(self.fd, key, value, flags)),
            model(lambda: self.ours.update(key, value, flags)),  # type: ignore[arg-type]
        )

    def delete(self, key: bytes | None) -> None:
        self.same(
            f"delete {key!r}",
            kernel(lambda: self.bpf.map_delete(self.fd, key)),
            model(lambda: self.ours.delete(key)),  # type: ignore[arg-type]
        )

    def lookup(self, key: bytes | None, flags: int = 0) -> None:
        self.same(
            f"lookup {key!r} flags {flags}",
            kernel(lambda: self.bpf.map_lookup(self.fd, key, self.user_value_size, flags)),
            model(lambda: self.ours.user_lookup(key, flags)),
        )

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> None:
        self.same(
            f"lookup_and_delete {key!r} flags {flags}",
            kernel(lambda: self.bpf.map_lookup_and_delete(self.fd, key, self.user_value_size, flags)),
            model(lambda: self.ours.lookup_and_delete(key, flags)),
        )

    def next_key(self, key: bytes | None, exact: bool) -> None:
        k = kernel(lambda: self.bpf.map_get_next_key(self.fd, key, self.spec.key_size) or "end")
        m = model(lambda: self.ours.get_next_key(key) or "end")
        if not exact:
            # A random hash seed: what follows a key is the seed's business; only whether
            # the map has a first key (and the errors) can be compared.
            if key is not None:
                return
            k, m = (
                (k if k in ("end", 0) or isinstance(k, int) else "a key"),
                (m if m in ("end", 0) or isinstance(m, int) else "a key"),
            )
        self.same(f"get_next_key {key!r}", k, m)

    def contents(self, ordered: bool) -> None:
        got_k = self.bpf.map_items(self.fd, self.spec.key_size, self.user_value_size)
        got_m = []
        key = self.ours.get_next_key(None)
        while key is not None:
            value = self.ours.user_lookup(key)
            assert isinstance(value, bytes)
            got_m.append((key, value))
            key = self.ours.get_next_key(key)
        if not ordered:
            got_k, got_m = sorted(got_k), sorted(got_m)
        self.same("contents", got_k, got_m)  # type: ignore[arg-type]

    def program_lookup(self, key: bytes, cpu: int) -> None:
        """bpf_map_lookup_elem from an XDP program on ``cpu``: returns 1 if found, else 2."""
        fd = self.progs.get(key)
        if fd is None:
            fd = self.progs[key] = self.bpf.prog_load(_lookup_prog(self.fd, key), "xdp")
        found = self.bpf.test_run(fd, bytes(64), xdp_md(64)).retval == 1
        self.same(f"program lookup {key!r} on cpu {cpu}", found, self.ours.lookup(key, cpu) is not None)

    def close(self) -> None:
        for fd in self.progs.values():
            self.bpf.close_fd(fd)
        self.bpf.close_fd(self.fd)


def _shape(result: Result) -> Result:
    """An errno or "end" as is; any key as "a key"."""
    return result if isinstance(result, int) or result == "end" else "a key"


def _ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def _lookup_prog(map_fd: int, key: bytes) -> bytes:
    """*(u32 *)(r10 - 4) = key; r0 = bpf_map_lookup_elem(map, r10 - 4); return r0 ? 1 : 2."""
    return b"".join(
        [
            _ins(0x62, 10, 0, -4, int.from_bytes(key, "little", signed=True)),
            _ins(0xBF, 2, 10),
            _ins(0x07, 2, 0, 0, -4),
            _ins(0x18, 1, 1, 0, map_fd),
            _ins(0x00),
            _ins(0x85, 0, 0, 0, 1),
            _ins(0x15, 0, 0, 2, 0),
            _ins(0xB7, 0, 0, 0, 1),
            _ins(0x95),
            _ins(0xB7, 0, 0, 0, 2),
            _ins(0x95),
        ]
    )


def open_pair(bpf: Bpf, spec: MapSpec) -> Pair:
    ours = create_map(spec, NCPUS)
    ours.user_cpu = CPUS[0]
    return Pair(bpf, spec, ours, bpf.map_create(spec))


def run_family(family: str, bpf: Bpf, spec: MapSpec, body: Callable[[Pair], None]) -> None:
    stats = SEQUENCES.setdefault(family, [0, 0])
    stats[0] += 1
    os.sched_setaffinity(0, {CPUS[0]})
    pair = open_pair(bpf, spec)
    try:
        body(pair)
    finally:
        pair.close()
        os.sched_setaffinity(0, {CPUS[0]})
    stats[1] += 1


FLAGS = st.sampled_from([0, 0, 0, 1, 2, 1 | 2, 4])  # ANY NOEXIST EXIST, unknown, BPF_F_LOCK


# -- arrays ---------------------------------------------------------------------------------
@st.composite
def array_case(draw: st.DrawFn) -> tuple[MapSpec, list[tuple]]:
    kind = draw(st.sampled_from([T.ARRAY, T.PERCPU_ARRAY]))
    vs = draw(st.integers(1, 12))
    n = draw(st.integers(1, 6))
    index = st.integers(0, n + 1).map(lambda i: struct.pack("<I", i))
    width = round8(vs) * NCPUS if kind == T.PERCPU_ARRAY else vs
    op = st.one_of(
        st.tuples(st.just("update"), index, st.binary(min_size=width, max_size=width), FLAGS),
        st.tuples(st.just("delete"), index),
        st.tuples(st.just("lookup"), index, st.sampled_from([0, 0, 4, 8])),
        st.tuples(st.just("next"), st.one_of(st.none(), index)),
        st.tuples(st.just("take"), index),
    )
    return MapSpec("arr", kind, 4, vs, n), draw(st.lists(op, max_size=25))


def apply(pair: Pair, ops: list[tuple], exact_order: bool = True) -> None:
    for op in ops:
        if op[0] == "update":
            pair.update(op[1], op[2], op[3])
        elif op[0] == "delete":
            pair.delete(op[1])
        elif op[0] == "lookup":
            pair.lookup(op[1], op[2])
        elif op[0] == "next":
            pair.next_key(op[1], exact_order)
        elif op[0] == "take":
            pair.lookup_and_delete(op[1])
        elif op[0] == "plookup":
            pair.program_lookup(op[1], pair.ours.user_cpu)
        elif op[0] == "cpu":
            cpu = CPUS[op[1] % len(CPUS)]
            os.sched_setaffinity(0, {cpu})
            pair.ours.user_cpu = cpu


def sequence(ops: list[tuple], exact_order: bool, ordered: bool) -> Callable[[Pair], None]:
    """Apply ``ops`` to both maps, then compare their contents."""

    def body(pair: Pair) -> None:
        apply(pair, ops, exact_order)
        pair.contents(ordered)

    return body


_SLOW = dict(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(**_SLOW)  # type: ignore[arg-type]
@given(case=array_case())
def test_arrays_agree_with_the_kernel(bpf: Bpf, case: tuple[MapSpec, list[tuple]]) -> None:
    spec, ops = case
    run_family(spec.type.label, bpf, spec, sequence(ops, True, True))


# -- hash maps --------------------------------------------------------------------------------
@st.composite
def hash_case(draw: st.DrawFn, kinds: list[MapType]) -> tuple[MapSpec, list[tuple], bool]:
    kind = draw(st.sampled_from(kinds))
    lru = kind in (T.LRU_HASH, T.LRU_PERCPU_HASH)
    ks = draw(st.sampled_from([4, 4, 1, 3, 8, 13]))
    vs = draw(st.integers(1, 12))
    n = draw(st.integers(1, 8))
    zero_seed = draw(st.booleans()) if not lru else True
    zero_seed = zero_seed or draw(st.integers(0, 3)) > 0
    flags = F_ZERO_SEED if zero_seed else 0
    if lru:
        flags |= draw(st.sampled_from([0, 0, F_NO_COMMON_LRU]))
    elif draw(st.booleans()):
        flags |= F_NO_PREALLOC
    space = [bytes([i]) * ks for i in range(draw(st.integers(1, 2 * n + 2)))]
    key = st.sampled_from(space)
    percpu = kind in (T.PERCPU_HASH, T.LRU_PERCPU_HASH)
    width = round8(vs) * NCPUS if percpu else vs
    choices = [
        st.tuples(st.just("update"), key, st.binary(min_size=width, max_size=width), FLAGS),
        st.tuples(st.just("update"), key, st.binary(min_size=width, max_size=width), st.just(0)),
        st.tuples(st.just("delete"), key),
        st.tuples(st.just("lookup"), key, st.sampled_from([0, 0, 4])),
        st.tuples(st.just("next"), st.one_of(st.none(), key)),
        st.tuples(st.just("take"), key),
    ]
    if lru and ks == 4:
        choices += [st.tuples(st.just("plookup"), key), st.tuples(st.just("cpu"), st.integers(0, 3))]
    ops = draw(st.lists(st.one_of(*choices), max_size=40))
    return MapSpec("h", kind, ks, vs, n, flags=flags), ops, zero_seed


@settings(**_SLOW)  # type: ignore[arg-type]
@given(case=hash_case([T.HASH, T.PERCPU_HASH]))
def test_hash_maps_agree_with_the_kernel(bpf: Bpf, case: tuple[MapSpec, list[tuple], bool]) -> None:
    spec, ops, ordered = case
    run_family(spec.type.label, bpf, spec, sequence(ops, ordered, ordered))


@settings(**_SLOW)  # type: ignore[arg-type]
@given(case=hash_case([T.LRU_HASH, T.LRU_PERCPU_HASH]))
def test_lru_maps_evict_what_the_kernel_evicts(bpf: Bpf, case: tuple[MapSpec, list[tuple], bool]) -> None:
    spec, ops, ordered = case
    run_family(spec.type.label, bpf, spec, sequence(ops, ordered, ordered))


# -- lpm_trie ---------------------------------------------------------------------------------
@st.composite
def lpm_case(draw: st.DrawFn) -> tuple[MapSpec, list[tuple]]:
    data_size = draw(st.sampled_from([1, 2, 4]))
    bits = 8 * data_size
    n = draw(st.integers(1, 10))
    # few distinct data patterns, so prefixes nest and collide
    patterns = draw(st.lists(st.binary(min_size=data_size, max_size=data_size), min_size=1, max_size=4))
    key = st.tuples(st.integers(0, bits + 2), st.sampled_from(patterns)).map(
        lambda t: struct.pack("<I", t[0]) + t[1]
    )
    value = st.binary(min_size=4, max_size=4)
    op = st.one_of(
        st.tuples(st.just("update"), key, value, st.sampled_from([0, 0, 1, 2, 3])),
        st.tuples(st.just("delete"), key),
        st.tuples(st.just("lookup"), key, st.just(0)),
        st.tuples(st.just("next"), st.one_of(st.none(), key)),
    )
    spec = MapSpec("lpm", T.LPM_TRIE, 4 + data_size, 4, n, flags=F_NO_PREALLOC)
    return spec, draw(st.lists(op, max_size=40))


@settings(**_SLOW)  # type: ignore[arg-type]
@given(case=lpm_case())
def test_lpm_trie_agrees_with_the_kernel(bpf: Bpf, case: tuple[MapSpec, list[tuple]]) -> None:
    spec, ops = case
    run_family("lpm_trie", bpf, spec, sequence(ops, True, True))


# -- queue and stack --------------------------------------------------------------------------
@st.composite
def queue_case(draw: st.DrawFn) -> tuple[MapSpec, list[tuple]]:
    kind = draw(st.sampled_from([T.QUEUE, T.STACK]))
    vs = draw(st.integers(1, 8))
    n = draw(st.integers(1, 5))
    op = st.one_of(
        st.tuples(
            st.just("update"),
            st.none(),
            st.binary(min_size=vs, max_size=vs),
            st.sampled_from([0, 0, 1, 2, 3, 4]),
        ),
        st.tuples(st.just("lookup"), st.none(), st.sampled_from([0, 0, 4])),
        st.tuples(st.just("take"), st.none()),
        st.tuples(st.just("delete"), st.none()),
        st.tuples(st.just("next"), st.none()),
    )
    return MapSpec("q", kind, 0, vs, n), draw(st.lists(op, max_size=30))


@settings(**_SLOW)  # type: ignore[arg-type]
@given(case=queue_case())
def test_queue_and_stack_agree_with_the_kernel(bpf: Bpf, case: tuple[MapSpec, list[tuple]]) -> None:
    spec, ops = case

    def body(p: Pair) -> None:
        apply(p, ops)
        p.lookup_and_delete(None, 4)
        for _ in range(spec.max_entries + 1):  # drain: the remaining order must agree
            p.lookup_and_delete(None)

    run_family(spec.type.label, bpf, spec, body)


# -- map creation ---------------------------------------------------------------------------
CREATE_TYPES = [
    T.ARRAY,
    T.PERCPU_ARRAY,
    T.HASH,
    T.PERCPU_HASH,
    T.LRU_HASH,
    T.LPM_TRIE,
    T.QUEUE,
    T.STACK,
    T.RINGBUF,
    T.PROG_ARRAY,
    T.DEVMAP,
    T.DEVMAP_HASH,
    T.CPUMAP,
    T.XSKMAP,
    T.PERF_EVENT_ARRAY,
]


@settings(**_SLOW)  # type: ignore[arg-type]
@given(
    kind=st.sampled_from(CREATE_TYPES),
    ks=st.sampled_from([0, 1, 4, 8, 260, 261]),
    vs=st.sampled_from([0, 1, 4, 8, 12, 32769]),
    n=st.sampled_from([0, 1, 4, 300, 4096, 12288]),
    flags=st.sampled_from([0, 1, 2, 4, 8, 16, 24, 64, 128, 384, 1024, 2048, 4096]),
)
def test_create_checks_agree_with_the_kernel(
    bpf: Bpf, kind: MapType, ks: int, vs: int, n: int, flags: int
) -> None:
    spec = MapSpec("c", kind, ks, vs, n, flags=flags)
    k = kernel(lambda: bpf.map_create(spec))
    if isinstance(k, int) and k > 0:
        bpf.close_fd(k)
        k = 0
    try:
        create_map(spec, NCPUS)
        m: Result = 0
    except MapCreateError as err:
        m = -err.errno
    assert k == m, f"{spec!r}: kernel {k!r}, ours {m!r}"


def test_report_sequences() -> None:
    """Not a check: how many sequences of each family ran and agreed (shown with -s)."""
    for family, (ran, agreed) in sorted(SEQUENCES.items()):
        print(f"{family}: {agreed}/{ran} sequences agreed")
