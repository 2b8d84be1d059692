"""Map helpers: lookup, update, delete, queue/stack, per-CPU lookup, ring buffer, perf output.

The map argument is a map pointer (``r1 = map[counters]``); keys and values are read from
the program's memory with the map's sizes. Lookups hand out pointers into the value's own
buffer, so a program's writes through the pointer land in the map, as in the kernel.
"""

from __future__ import annotations

from emulator.helpers.redirect import RedirectTarget
from emulator.helpers.registry import HelperContext, HelperFaultError, HelperImpl
from emulator.maps import Map, MapType
from emulator.memory import MemoryFaultError

EINVAL = 22
EFAULT = 14
E2BIG = 7
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_F_INDEX_MASK = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _map(ctx: HelperContext, helper: str, ptr: int) -> tuple[int, Map]:
    found = ctx.map_at(ptr)
    if found is None:
        raise HelperFaultError(f"{helper}: r1 = {ptr:#x} ({ctx.space.describe(ptr)}) is not a map pointer")
    return found


def _read(ctx: HelperContext, helper: str, what: str, addr: int, size: int) -> bytes:
    try:
        return ctx.space.read(addr, size)
    except MemoryFaultError as err:
        raise HelperFaultError(f"{helper}: {what}: {err.message}") from None


def _err(value: int) -> int:
    return value & _M64


def map_lookup_elem(ctx: HelperContext, map_ptr: int, key_ptr: int, *_: int) -> int:
    index, m = _map(ctx, "bpf_map_lookup_elem", map_ptr)
    if m.type in (
        MapType.QUEUE,
        MapType.STACK,
        MapType.RINGBUF,
        MapType.PERF_EVENT_ARRAY,
        MapType.PROG_ARRAY,
    ):
        raise HelperFaultError(
            f"bpf_map_lookup_elem: {m.type.label} map {m.name} has no lookup "
            "for programs (the verifier rejects this call)"
        )
    key = _read(ctx, "bpf_map_lookup_elem", "key", key_ptr, m.key_size)
    elem = m.lookup(key, ctx.cpu)
    if elem is None:
        return 0
    if m.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        inner = elem.ref
        return ctx.inner_map_ptr(inner) if inner is not None else 0
    return ctx.value_ptr(index, elem)


def map_lookup_percpu_elem(ctx: HelperContext, map_ptr: int, key_ptr: int, cpu: int, *_: int) -> int:
    index, m = _map(ctx, "bpf_map_lookup_percpu_elem", map_ptr)
    if not m.percpu:
        raise HelperFaultError(f"bpf_map_lookup_percpu_elem: map {m.name} is not a per-CPU map")
    key = _read(ctx, "bpf_map_lookup_percpu_elem", "key", key_ptr, m.key_size)
    cpu &= 0xFFFFFFFF
    if cpu >= m.ncpus:
        return 0
    elem = m.lookup(key, cpu)
    return 0 if elem is None else ctx.value_ptr(index, elem)


def map_update_elem(
    ctx: HelperContext, map_ptr: int, key_ptr: int, value_ptr: int, flags: int, _: int
) -> int:
    _index, m = _map(ctx, "bpf_map_update_elem", map_ptr)
    if m.type in (MapType.QUEUE, MapType.STACK):
        return map_push_elem(ctx, map_ptr, value_ptr, flags, 0, 0)
    key = _read(ctx, "bpf_map_update_elem", "key", key_ptr, m.key_size)
    value = _read(ctx, "bpf_map_update_elem", "value", value_ptr, m.value_size)
    return _err(m.update(key, value, flags, cpu=ctx.cpu))


def map_delete_elem(ctx: HelperContext, map_ptr: int, key_ptr: int, *_: int) -> int:
    _index, m = _map(ctx, "bpf_map_delete_elem", map_ptr)
    key = _read(ctx, "bpf_map_delete_elem", "key", key_ptr, m.key_size)
    return _err(m.delete(key, cpu=ctx.cpu))


def map_push_elem(ctx: HelperContext, map_ptr: int, value_ptr: int, flags: int, *_: int) -> int:
    _index, m = _map(ctx, "bpf_map_push_elem", map_ptr)
    if m.type not in (MapType.QUEUE, MapType.STACK):
        raise HelperFaultError(f"bpf_map_push_elem: map {m.name} is a {m.type.label}, not a queue or stack")
    value = _read(ctx, "bpf_map_push_elem", "value", value_ptr, m.value_size)
    return _err(m.push(value, flags))  # type: ignore[attr-defined]


def _pop_or_peek(ctx: HelperContext, helper: str, map_ptr: int, value_ptr: int, pop: bool) -> int:
    _index, m = _map(ctx, helper, map_ptr)
    if m.type not in (MapType.QUEUE, MapType.STACK):
        raise HelperFaultError(f"{helper}: map {m.name} is a {m.type.label}, not a queue or stack")
    got = m.pop() if pop else m.peek()  # type: ignore[attr-defined]
    if isinstance(got, int):
        return _err(got)
    try:
        ctx.space.write(value_ptr, got)
    except MemoryFaultError as err:
        raise HelperFaultError(f"{helper}: value: {err.message}") from None
    return 0


def map_pop_elem(ctx: HelperContext, map_ptr: int, value_ptr: int, *_: int) -> int:
    return _pop_or_peek(ctx, "bpf_map_pop_elem", map_ptr, value_ptr, pop=True)


def map_peek_elem(ctx: HelperContext, map_ptr: int, value_ptr: int, *_: int) -> int:
    return _pop_or_peek(ctx, "bpf_map_peek_elem", map_ptr, value_ptr, pop=False)


def _ringbuf(ctx: HelperContext, helper: str, map_ptr: int) -> tuple[int, Map]:
    index, m = _map(ctx, helper, map_ptr)
    if m.type is not MapType.RINGBUF:
        raise HelperFaultError(f"{helper}: map {m.name} is a {m.type.label}, not a ringbuf")
    return index, m


def ringbuf_output(ctx: HelperContext, map_ptr: int, data: int, size: int, flags: int, _: int) -> int:
    _index, m = _ringbuf(ctx, "bpf_ringbuf_output", map_ptr)
    payload = _read(ctx, "bpf_ringbuf_output", "data", data, size)
    return _err(m.output(payload, flags))  # type: ignore[attr-defined]


def ringbuf_reserve(ctx: HelperContext, map_ptr: int, size: int, flags: int, *_: int) -> int:
    index, m = _ringbuf(ctx, "bpf_ringbuf_reserve", map_ptr)
    elem = m.reserve(size, flags)  # type: ignore[attr-defined]
    if elem is None:
        return 0
    ptr = ctx.value_ptr(index, elem)
    ctx.reservations[ptr] = (m, elem)
    return ptr


def _commit(ctx: HelperContext, helper: str, ptr: int, flags: int, submit: bool) -> int:
    held = ctx.reservations.pop(ptr, None)
    if held is None:
        raise HelperFaultError(
            f"{helper}: {ptr:#x} ({ctx.space.describe(ptr)}) is not a pointer returned "
            "by bpf_ringbuf_reserve, or it was already submitted or discarded"
        )
    m, elem = held
    if submit:
        m.submit(elem, flags)  # type: ignore[attr-defined]
    else:
        m.discard(elem, flags)  # type: ignore[attr-defined]
    return 0


def ringbuf_submit(ctx: HelperContext, ptr: int, flags: int, *_: int) -> int:
    return _commit(ctx, "bpf_ringbuf_submit", ptr, flags, submit=True)


def ringbuf_discard(ctx: HelperContext, ptr: int, flags: int, *_: int) -> int:
    return _commit(ctx, "bpf_ringbuf_discard", ptr, flags, submit=False)


def ringbuf_query(ctx: HelperContext, map_ptr: int, flags: int, *_: int) -> int:
    _index, m = _ringbuf(ctx, "bpf_ringbuf_query", map_ptr)
    return _err(m.query(flags))  # type: ignore[attr-defined]


def perf_event_output(ctx: HelperContext, _ctx: int, map_ptr: int, flags: int, data: int, size: int) -> int:
    _index, m = _map(ctx, "bpf_perf_event_output", map_ptr)
    if m.type is not MapType.PERF_EVENT_ARRAY:
        raise HelperFaultError(
            f"bpf_perf_event_output: map {m.name} is a {m.type.label}, not a perf_event_array"
        )
    payload = _read(ctx, "bpf_perf_event_output", "data", data, size)
    ctxlen = (flags >> 32) & 0xFFFFF  # BPF_F_CTXLEN_MASK: append that many packet bytes
    if ctxlen:
        packet = ctx.packet.packet() if ctx.packet is not None else b""
        if ctxlen > len(packet):
            return _err(-EFAULT)
        payload += packet[:ctxlen]
    return _err(m.output(payload, flags, ctx.cpu))  # type: ignore[attr-defined]


BPF_F_ACTION_MASK = 0x3  # XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX: the fallback verdict
BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4
XDP_ABORTED, XDP_REDIRECT = 0, 4
_REDIRECT_MAPS = (MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP)


def redirect_map(ctx: HelperContext, map_ptr: int, key: int, flags: int, *_: int) -> int:
    """bpf_redirect_map(map, key, flags): XDP_REDIRECT through a devmap/cpumap/xskmap slot;
    an empty slot returns the fallback verdict in the low two bits of ``flags``; flags the
    map type does not know give XDP_ABORTED (as __bpf_xdp_redirect_map)."""
    if ctx.prog_type != "xdp":
        raise HelperFaultError(
            f"program of this type cannot use helper bpf_redirect_map#51 ({ctx.prog_type})"
        )
    _index, m = _map(ctx, "bpf_redirect_map", map_ptr)
    if m.type not in _REDIRECT_MAPS:
        raise HelperFaultError(
            f"bpf_redirect_map: map {m.name} is a {m.type.label}, not a devmap, cpumap or xskmap"
        )
    flags &= _M64
    allowed = BPF_F_ACTION_MASK
    if m.type in (MapType.DEVMAP, MapType.DEVMAP_HASH):
        allowed |= BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS
    if flags & ~allowed:
        return XDP_ABORTED
    if flags & BPF_F_BROADCAST:
        ctx.run_state["redirect"] = RedirectTarget("bpf_redirect_map", 0, flags)
        return XDP_REDIRECT
    target = m.target(key & 0xFFFFFFFF)  # type: ignore[attr-defined]
    if target is None:
        return flags & BPF_F_ACTION_MASK
    ctx.run_state["redirect"] = RedirectTarget("bpf_redirect_map", target, 0)
    return XDP_REDIRECT


def _lock_word(ctx: HelperContext, helper: str, addr: int) -> int:
    region = ctx.space.find(addr)
    if region is None or region.kind != "map_value" or addr + 4 > region.end:
        raise HelperFaultError(
            f"{helper}: {ctx.space.describe(addr)} is not a struct bpf_spin_lock inside a map value"
        )
    return addr


def spin_lock(ctx: HelperContext, lock: int, *_: int) -> int:
    """bpf_spin_lock: one CPU runs at a time here, so taking a lock never waits; taking one
    this run already holds would deadlock in the kernel (the verifier forbids it)."""
    held = ctx.run_state.setdefault("spin_locks", set())
    assert isinstance(held, set)
    if held:
        raise HelperFaultError("bpf_spin_lock: a spin lock is already held (only one at a time)")
    held.add(_lock_word(ctx, "bpf_spin_lock", lock))
    return 0


def spin_unlock(ctx: HelperContext, lock: int, *_: int) -> int:
    held = ctx.run_state.setdefault("spin_locks", set())
    assert isinstance(held, set)
    if _lock_word(ctx, "bpf_spin_unlock", lock) not in held:
        raise HelperFaultError("bpf_spin_unlock: this lock is not held")
    held.discard(lock)
    return 0


MAP_HELPERS: dict[str, HelperImpl] = {
    "bpf_spin_lock": spin_lock,
    "bpf_spin_unlock": spin_unlock,
    "bpf_redirect_map": redirect_map,
    "bpf_map_lookup_elem": map_lookup_elem,
    "bpf_map_update_elem": map_update_elem,
    "bpf_map_delete_elem": map_delete_elem,
    "bpf_map_push_elem": map_push_elem,
    "bpf_map_pop_elem": map_pop_elem,
    "bpf_map_peek_elem": map_peek_elem,
    "bpf_map_lookup_percpu_elem": map_lookup_percpu_elem,
    "bpf_ringbuf_output": ringbuf_output,
    "bpf_ringbuf_reserve": ringbuf_reserve,
    "bpf_ringbuf_submit": ringbuf_submit,
    "bpf_ringbuf_discard": ringbuf_discard,
    "bpf_ringbuf_query": ringbuf_query,
    "bpf_perf_event_output": perf_event_output,
}
