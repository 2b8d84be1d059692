"""Host access to the device maps (emulator.backends.nic.ctrl): the driver's read cache
with CMSG_MULTI_ENT (reference nfp_offload.md §5.2), what invalidates it and what does not,
the array short-cuts, and perf events sent from the firmware (§5.5)."""

from __future__ import annotations

import errno

from emulator.backends.nic.ctrl import (
    CACHE_ENTRIES,
    EVENT_MAX_BYTES,
    ControlChannel,
    DeviceClock,
    HostMap,
    HostMaps,
)
from emulator.maps import MapSet, MapSpec, MapType

CACHE_NS = 250_000


def key(i: int) -> bytes:
    return i.to_bytes(4, "little")


def value(i: int) -> bytes:
    return i.to_bytes(8, "little")


def setup(multi_ent: bool = True, entries: int = 6) -> tuple[MapSet, ControlChannel, HostMaps]:
    maps = MapSet(
        (
            MapSpec("flows", MapType.HASH, 4, 8, 16),
            MapSpec("stats", MapType.ARRAY, 4, 8, 4),
            MapSpec("events", MapType.PERF_EVENT_ARRAY, 4, 4, 2),
        )
    )
    for i in range(entries):
        assert maps[0].update(key(i), value(i), 0) == 0
    channel = ControlChannel(maps, multi_ent, CACHE_NS, DeviceClock())
    return maps, channel, HostMaps(maps, channel)


def datapath_write(maps: MapSet, i: int, v: int) -> None:
    elem = maps[0].lookup(key(i))
    assert elem is not None
    elem.data[:] = value(v)


def test_host_view_dump_equals_the_device_tables() -> None:
    maps, _, host = setup()
    assert host.dump() == maps.dump()
    assert isinstance(host["flows"], HostMap) and host["events"] is maps["events"]


def test_a_lookup_after_a_dump_is_served_from_the_cache_and_can_be_stale() -> None:
    maps, channel, host = setup()
    flows = host["flows"]
    first = flows.get_next_key(None)  # GETFIRST: fetches CACHE_ENTRIES entries
    assert first is not None
    datapath_write(maps, int.from_bytes(first, "little"), 99)  # the datapath does not invalidate
    sent = channel.stats.messages
    assert flows.user_lookup(first) == value(int.from_bytes(first, "little"))  # stale
    assert channel.stats.messages == sent and channel.stats.cache_hits == 1
    channel.clock.message_ns += CACHE_NS + 1  # the reply expires
    assert flows.user_lookup(first) == value(99)
    assert channel.stats.messages == sent + 1


def test_host_writes_invalidate_the_cache() -> None:
    maps, channel, host = setup()
    flows = host["flows"]
    first = flows.get_next_key(None)
    assert first is not None
    datapath_write(maps, int.from_bytes(first, "little"), 99)
    assert flows.update(key(100), value(100), 0) == 0
    assert flows.user_lookup(first) == value(99)


def test_getnext_walks_the_cached_reply_then_asks_the_device() -> None:
    _, channel, host = setup(entries=CACHE_ENTRIES + 2)
    flows = host["flows"]
    keys = [flows.get_next_key(None)]
    while keys[-1] is not None:
        keys.append(flows.get_next_key(keys[-1]))
    assert len(keys) == CACHE_ENTRIES + 3  # every key, then None
    # GETFIRST, GETNEXT past the first reply, GETNEXT past the second (None)
    assert channel.stats.messages == 3


def test_without_multi_ent_every_operation_is_a_message() -> None:
    maps, channel, host = setup(multi_ent=False)
    flows = host["flows"]
    first = flows.get_next_key(None)
    assert first is not None
    datapath_write(maps, int.from_bytes(first, "little"), 99)
    assert flows.user_lookup(first) == value(99)
    assert channel.stats.cache_hits == 0 and channel.stats.messages == 2


def test_array_delete_is_refused_by_the_driver_and_flags_above_32_bits_by_the_message() -> None:
    _, channel, host = setup()
    sent = channel.stats.messages
    assert host["stats"].delete(key(0)) == -errno.EINVAL
    assert channel.stats.messages == sent
    assert host["flows"].update(key(1), value(1), 1 << 32) == -errno.EOPNOTSUPP


def test_perf_events_that_do_not_fit_a_message_are_dropped_silently() -> None:
    maps, channel, _ = setup()
    events = maps["events"]
    channel.event_output(events, b"x" * 16, 0xFFFFFFFF, 0)
    channel.event_output(events, b"y" * (EVENT_MAX_BYTES + 1), 0xFFFFFFFF, 0)
    channel.event_output(events, b"z", 5, 0)  # index 5 >= max_entries: the array refuses
    assert events.outputs == [(0, b"x" * 16)]  # type: ignore[attr-defined]
    assert (channel.stats.events_sent, channel.stats.events_dropped) == (1, 2)
