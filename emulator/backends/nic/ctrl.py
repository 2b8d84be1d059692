"""Host access to the device's maps: control messages, and the driver's read cache.

Offloaded maps live in NIC memory. Every bpf(2) map operation from the host becomes a
control message to the firmware and back (reference/nfp_offload.md sections 5.1, 5.2, 6.4).
Firmware with ABI 3 and CMSG_MULTI_ENT (profile ``multi_ent``) answers the dump messages
(GETFIRST, GETNEXT) with up to four entries, keys and values, and the driver keeps that
reply for ``cache_time_ns`` (250 us) to answer later LOOKUP and GETNEXT messages about those
keys without asking the device. Host UPDATE and DELETE drop the cache; writes by the
datapath (the program's map helpers and atomic adds) do not, so a host read within the
window after a dump can return a value older than the device's.

Time is the device model's clock (:class:`DeviceClock`): microcode cycles plus a round trip
per control message, so that what is stale is deterministic.

:class:`HostMaps` is the host's view of the device tables for the debugger's ``map``
commands and lockstep's dumps: the same Map API as the MapSet it wraps, with every host
operation on an offloaded map sent through the channel. Perf event arrays stay on the host
(the offload-neutral map) and are handed through unchanged.
"""

from __future__ import annotations

import copy
import errno
from dataclasses import dataclass, field

from emulator.maps import Element, Map, MapSet, Value
from emulator.maps.spec import MapType

CACHE_ENTRIES = 4
"""Entries per dump reply with CMSG_MULTI_ENT (the driver asks for min(4, what fits the
control channel's MTU); 64-byte entries always fit four) [code: cmsg.c]."""
CMSG_ROUND_TRIP_NS = 20_000
"""One control message to the firmware and its reply [assumption: no public measurement;
tens of microseconds is the order of a PCIe round trip through the control vNIC]."""
CYCLE_NS = 1.25
"""One microcode instruction at the NFP-4000's 800 MHz ME clock [doc]."""
EVENT_MAX_BYTES = 1500
"""Largest perf event (data + packet sample) one firmware-to-host message carries; larger
events are dropped without telling the program [assumption: the control vNIC's MTU]."""

OFFLOADED = (MapType.HASH, MapType.ARRAY)


@dataclass
class DeviceClock:
    """Nanoseconds since the device model started: microcode cycles plus control messages."""

    cycles: int = 0
    message_ns: int = 0

    @property
    def now_ns(self) -> int:
        return int(self.cycles * CYCLE_NS) + self.message_ns


@dataclass
class _Reply:
    """A cached dump reply: (key, value) pairs in the device's iteration order."""

    entries: list[tuple[bytes, bytes]]
    expires_ns: int


@dataclass
class ChannelStats:
    messages: int = 0
    cache_hits: int = 0
    events_sent: int = 0
    events_dropped: int = 0
    drop_reasons: list[str] = field(default_factory=list)


class ControlChannel:
    """Control messages for the device tables in ``maps`` (the datapath's own MapSet)."""

    def __init__(self, maps: MapSet, multi_ent: bool, cache_time_ns: int, clock: DeviceClock) -> None:
        self.maps = maps
        self.multi_ent = multi_ent
        self.cache_time_ns = cache_time_ns
        self.clock = clock
        self.stats = ChannelStats()
        self._cache: dict[int, _Reply] = {}

    # -- the messages ---------------------------------------------------------------------
    def _send(self) -> None:
        self.stats.messages += 1
        self.clock.message_ns += CMSG_ROUND_TRIP_NS

    def _cached(self, index: int) -> _Reply | None:
        reply = self._cache.get(index)
        if reply is None:
            return None
        if reply.expires_ns < self.clock.now_ns:
            del self._cache[index]
            return None
        return reply

    def lookup(self, index: int, key: bytes) -> bytes | int:
        """MAP_LOOKUP: the value, or a negative errno."""
        reply = self._cached(index)
        if reply is not None:
            for k, v in reply.entries:
                if k == key:
                    self.stats.cache_hits += 1
                    return v
        self._send()
        return self.maps[index].user_lookup(key)

    def update(self, index: int, key: bytes, value: bytes, flags: int) -> int:
        """MAP_UPDATE: 0 or a negative errno; drops the cache."""
        if flags >> 32:
            return -errno.EOPNOTSUPP  # the message has 32 bits of flags [code]
        self._cache.pop(index, None)
        self._send()
        return self.maps[index].update(key, value, flags)

    def delete(self, index: int, key: bytes) -> int:
        """MAP_DELETE: 0 or a negative errno; drops the cache. Arrays: -EINVAL without a
        message (the driver answers itself)."""
        m = self.maps[index]
        self._cache.pop(index, None)
        if m.type is MapType.ARRAY:
            return -errno.EINVAL
        self._send()
        return m.delete(key)

    def get_next(self, index: int, key: bytes | None) -> bytes | None:
        """MAP_GETFIRST (``key`` None) or MAP_GETNEXT: the next key, None after the last."""
        if key is not None:
            reply = self._cached(index)
            if reply is not None:
                keys = [k for k, _ in reply.entries]
                if key in keys[:-1]:
                    self.stats.cache_hits += 1
                    return keys[keys.index(key) + 1]
        self._send()
        m = self.maps[index]
        first = m.get_next_key(key)
        if first is None:
            return None
        if self.multi_ent:
            entries: list[tuple[bytes, bytes]] = []
            k: bytes | None = first
            while k is not None and len(entries) < CACHE_ENTRIES:
                value = m.user_lookup(k)
                entries.append((k, value if isinstance(value, bytes) else b""))
                k = m.get_next_key(k)
            self._cache[index] = _Reply(entries, self.clock.now_ns + self.cache_time_ns)
        return first

    # -- firmware to host ------------------------------------------------------------------
    def event_output(self, m: Map, data: bytes, flags: int, cpu: int) -> None:
        """A perf event sent by the firmware's perf_event_output: delivered to the host's
        perf event array when it fits a message and the array takes it, otherwise dropped.
        The program never learns which (the helper has already returned 0)."""
        if len(data) > EVENT_MAX_BYTES:
            self._drop(f"{len(data)}-byte event does not fit a control message")
            return
        err = m.output(data, flags, cpu)  # type: ignore[attr-defined]
        if err:
            self._drop(f"perf event array {m.name} refused the event ({errno.errorcode.get(-err, err)})")
            return
        self.stats.events_sent += 1

    def event_output_failed(self, why: str) -> None:
        """The firmware could not even build the event (no such array, a bad sample size)."""
        self._drop(why)

    def _drop(self, why: str) -> None:
        self.stats.events_dropped += 1
        self.stats.drop_reasons.append(why)

    # -- checkpoints -----------------------------------------------------------------------
    def save(self) -> tuple[dict[int, _Reply], ChannelStats]:
        return (copy.deepcopy(self._cache), copy.deepcopy(self.stats))

    def load(self, saved: tuple[dict[int, _Reply], ChannelStats], maps: MapSet) -> None:
        cache, stats = saved
        self.maps = maps
        self._cache = copy.deepcopy(cache)
        self.stats = copy.deepcopy(stats)


class HostMap(Map):
    """One offloaded map as the host sees it: bpf(2) operations become control messages.
    Program-side operations (``lookup``, ``elements``) go to the device table directly."""

    def __init__(self, device: Map, index: int, channel: ControlChannel) -> None:  # noqa: D107
        # no Map.__init__: every attribute is the device map's
        self._device = device
        self._index = index
        self._channel = channel

    def __getattr__(self, name: str) -> object:
        return getattr(self.__dict__["_device"], name)

    # the Map attributes, read and written on the device map
    @property  # type: ignore[override]
    def spec(self):  # type: ignore[no-untyped-def]
        return self._device.spec

    @property  # type: ignore[override]
    def map_id(self) -> int:
        return self._device.map_id

    @map_id.setter
    def map_id(self, value: int) -> None:
        self._device.map_id = value

    @property  # type: ignore[override]
    def frozen(self) -> bool:
        return self._device.frozen

    @frozen.setter
    def frozen(self, value: bool) -> None:
        self._device.frozen = value

    @property  # type: ignore[override]
    def max_entries(self) -> int:
        return self._device.max_entries

    @max_entries.setter
    def max_entries(self, value: int) -> None:
        self._device.max_entries = value

    @property  # type: ignore[override]
    def ncpus(self) -> int:
        return self._device.ncpus

    @ncpus.setter
    def ncpus(self, value: int) -> None:
        self._device.ncpus = value

    @property
    def device(self) -> Map:
        return self._device

    def __repr__(self) -> str:
        return f"<host view of {self._device!r}>"

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        return self._device.lookup(key, cpu)

    def elements(self, cpu: int = 0) -> list[Element]:
        return self._device.elements(cpu)

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if key is None or flags:
            return self._device.user_lookup(key, flags)
        return self._channel.lookup(self._index, self._device._check_key(key))

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is not None or key is None:
            return self._device.update(key, value, flags, cpu)
        key = self._device._check_key(key)
        return self._channel.update(self._index, key, self._device._check_value(value), flags)

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is not None or key is None:
            return self._device.delete(key, cpu)
        return self._channel.delete(self._index, self._device._check_key(key))

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if key is not None:
            key = self._device._check_key(key)
        return self._channel.get_next(self._index, key)

    def items(self) -> list[tuple[bytes, Value]]:
        """A dump as bpftool does it: GETFIRST/GETNEXT for the keys, LOOKUP for each value."""
        out: list[tuple[bytes, Value]] = []
        key = self.get_next_key(None)
        seen: set[bytes] = set()
        while key is not None and key not in seen:
            seen.add(key)
            value = self.user_lookup(key)
            if isinstance(value, bytes):
                out.append((key, value))
            key = self.get_next_key(key)
        return out

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes | int:
        return self._device.lookup_and_delete(key, flags)

    def freeze(self) -> None:
        self._device.freeze()


class HostMaps(MapSet):
    """The host's view of a device MapSet (what ``map_set()`` of the nic backend returns):
    the same access and dump as MapSet, offloaded maps answering through the channel."""

    def __init__(self, device: MapSet, channel: ControlChannel) -> None:  # noqa: D107
        # no MapSet.__init__: the maps exist already, on the device
        self.device = device
        self.channel = channel
        self.specs = device.specs
        self.ncpus = device.ncpus
        self.rng = device.rng
        self.maps = [HostMap(m, i, channel) if m.type in OFFLOADED else m for i, m in enumerate(device.maps)]

    def by_id(self, map_id: int) -> Map | None:
        for m in self.maps:
            if m.map_id == map_id:
                return m
        return None

    def register(self, m: Map) -> int:
        return self.device.register(m)

    def new_inner(self, outer: int | str | Map) -> Map:
        return self.device.new_inner(outer.device if isinstance(outer, HostMap) else outer)
