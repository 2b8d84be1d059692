"""lpm_trie: longest-prefix match (kernel/bpf/lpm_trie.c semantics, 6.13 and later).

A key is ``u32 prefixlen`` (host order) followed by ``key_size - 4`` data bytes, bits
counted from the most significant bit of the first byte. What the kernel does, and so we:
- lookup: the entry with the longest prefix whose bits all match the key's first
  ``prefixlen`` bits (a stored prefix longer than the key's prefixlen never matches, and
  a key whose prefixlen exceeds the maximum finds nothing);
- update/delete: exact match on (prefixlen, the first prefixlen bits); prefixlen above
  ``8 * (key_size - 4)`` is -EINVAL; a new prefix on a full trie is -ENOSPC (not E2BIG),
  replacing an existing one always works; NOEXIST/EXIST give -EEXIST/-ENOENT;
- the stored key keeps the data bytes of the update that wrote it, bits past the prefix
  included (get_next_key returns them as given);
- get_next_key walks the trie in post-order: more specific prefixes before the shorter
  prefixes that contain them, and a 0 bit before a 1 bit. A missing key restarts the walk.
  That order does not depend on the trie's shape, so we compute it from the prefixes.
Replacing a prefix makes a new Element (the kernel swaps in a new node under RCU).
"""

from __future__ import annotations

import bisect
import errno

from emulator.maps.base import Element, Map, MapCreateError, MapError, MapOpError, Value, access_ok
from emulator.maps.spec import (
    BPF_EXIST,
    BPF_NOEXIST,
    F_ACCESS_MASK,
    F_NO_PREALLOC,
    F_NUMA_NODE,
    F_WRONLY,
    MapSpec,
)

LPM_DATA_SIZE_MAX = 256
LPM_KEY_SIZE_MIN = 4 + 1
LPM_KEY_SIZE_MAX = 4 + LPM_DATA_SIZE_MAX
LPM_CREATE_FLAGS = F_NO_PREALLOC | F_NUMA_NODE | F_ACCESS_MASK
LPM_VAL_SIZE_MAX = (1 << 22) - LPM_DATA_SIZE_MAX - 48  # KMALLOC_MAX_SIZE - data - node header


def _bits(data: bytes, n: int) -> int:
    """The first ``n`` bits of ``data`` as an integer (the prefix, canonical)."""
    return int.from_bytes(data, "big") >> (8 * len(data) - n) if n else 0


class LpmTrieMap(Map):
    """BPF_MAP_TYPE_LPM_TRIE."""

    def __init__(self, spec: MapSpec, ncpus: int = 2) -> None:
        super().__init__(spec, ncpus)
        self.max_prefixlen = 8 * (spec.key_size - 4)
        self._entries: dict[tuple[int, int], Element] = {}  # (prefixlen, prefix bits) -> element
        self._lengths: list[int] = []  # prefix lengths present, ascending
        self._length_count: dict[int, int] = {}
        self._order: list[tuple[int, int]] | None = None  # post-order cache
        self._position: dict[tuple[int, int], int] = {}

    @classmethod
    def validate(cls, spec: MapSpec, ncpus: int) -> None:
        if (
            spec.max_entries == 0
            or not spec.flags & F_NO_PREALLOC
            or spec.flags & ~LPM_CREATE_FLAGS
            or not access_ok(spec.flags)
            or not LPM_KEY_SIZE_MIN <= spec.key_size <= LPM_KEY_SIZE_MAX
            or not 1 <= spec.value_size <= LPM_VAL_SIZE_MAX
        ):
            raise MapCreateError(
                spec,
                -errno.EINVAL,
                "lpm_trie needs BPF_F_NO_PREALLOC, key_size 5..260 (u32 prefixlen + data), "
                "value_size > 0 and max_entries > 0",
            )

    def __len__(self) -> int:
        return len(self._entries)

    def _split(self, key: bytes | None) -> tuple[int, bytes]:
        key = self._check_key(key)
        return int.from_bytes(key[:4], "little"), key[4:]

    def _longest(self, key: bytes) -> Element | None:
        plen, data = self._split(key)
        if plen > self.max_prefixlen:  # the kernel finds nothing for such a key
            return None
        top = bisect.bisect_right(self._lengths, plen)
        for n in reversed(self._lengths[:top]):
            elem = self._entries.get((n, _bits(data, n)))
            if elem is not None:
                return elem
        return None

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        return self._longest(key)

    def _peek(self, key: bytes) -> Element | None:
        return self._longest(key)

    def _add_length(self, n: int) -> None:
        count = self._length_count.get(n, 0)
        if count == 0:
            bisect.insort(self._lengths, n)
        self._length_count[n] = count + 1

    def _drop_length(self, n: int) -> None:
        count = self._length_count[n] - 1
        self._length_count[n] = count
        if count == 0:
            del self._length_count[n]
            del self._lengths[bisect.bisect_left(self._lengths, n)]

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        key = self._check_key(key)
        value = self._check_value(value)
        if flags > BPF_EXIST:
            return -errno.EINVAL
        plen, data = self._split(key)
        if plen > self.max_prefixlen:
            return -errno.EINVAL
        slot = (plen, _bits(data, plen))
        old = self._entries.get(slot)
        if old is not None:
            if flags == BPF_NOEXIST:
                return -errno.EEXIST
        else:
            if flags == BPF_EXIST:
                return -errno.ENOENT
            if len(self._entries) >= self.max_entries:
                return -errno.ENOSPC
            self._add_length(plen)
            self._order = None
        self._entries[slot] = self._fresh(key, value)
        return 0

    def delete(self, key: bytes | None, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(0)
            if err:
                return err
        plen, data = self._split(key)
        if plen > self.max_prefixlen:
            return -errno.EINVAL
        slot = (plen, _bits(data, plen))
        if slot not in self._entries:
            return -errno.ENOENT
        del self._entries[slot]
        self._drop_length(plen)
        self._order = None
        return 0

    def _post_order(self) -> list[tuple[int, int]]:
        """Slots sorted as the trie's post-order walk visits them. Spell each prefix as its
        bits followed by an end mark that sorts above 0 and 1: bits decide first (0 before
        1), and where one prefix ends inside another the longer one comes first."""
        if self._order is None:

            def digits(slot: tuple[int, int]) -> list[int]:
                n, bits = slot
                return [(bits >> (n - 1 - i)) & 1 for i in range(n)] + [2]

            self._order = sorted(self._entries, key=digits)
            self._position = {slot: i for i, slot in enumerate(self._order)}
        return self._order

    def get_next_key(self, key: bytes | None) -> bytes | None:
        if self.spec.flags & F_WRONLY:
            raise MapOpError(f"map {self.name!r} is write-only to user space", errno.EPERM)
        order = self._post_order()
        if not order:
            return None
        pos = -1
        if key is not None:
            plen, data = self._split(key)
            if plen <= self.max_prefixlen:
                slot = (plen, _bits(data, plen))
                pos = self._position.get(slot, -1)
        if pos + 1 >= len(order):
            return None
        return self._entries[order[pos + 1]].key

    def items(self) -> list[tuple[bytes, Value]]:
        return [(self._entries[s].key, self._copy_out(self._entries[s].data)) for s in self._post_order()]

    def user_lookup(self, key: bytes | None, flags: int = 0) -> bytes | int:
        if key is None:
            raise MapError(f"map {self.name!r}: a lookup needs a key")
        return super().user_lookup(key, flags)
