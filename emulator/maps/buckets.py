"""Hash buckets in the kernel's layout, so iteration order is the kernel's.

The kernel's hash maps (and devmap_hash) keep ``n_buckets = roundup_pow_of_two(
max_entries)`` singly linked lists; a new element goes to the *head* of its bucket, and
BPF_MAP_GET_NEXT_KEY walks bucket 0, 1, 2, ... and each list from the head. A key that is
not in the map restarts the walk from the first element. We keep the same lists (a Python
list per non-empty bucket, head first) plus a dict for O(1) lookup, so get_next_key and
``items()`` come out in the kernel's order whenever our bucket function is the kernel's.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class _Keyed(Protocol):
    key: bytes


E = TypeVar("E", bound=_Keyed)


def roundup_pow_of_two(n: int) -> int:
    return 1 << (max(n, 1) - 1).bit_length()


class Buckets(Generic[E]):
    """Entries (anything with a ``.key``) by key, in kernel bucket order."""

    def __init__(self, max_entries: int, bucket_of: Callable[[bytes], int]) -> None:
        self.n_buckets = roundup_pow_of_two(max_entries)
        self._mask = self.n_buckets - 1
        self._bucket_of = bucket_of
        self._by_key: dict[bytes, E] = {}
        self._lists: dict[int, list[E]] = {}
        self._used: list[int] = []  # sorted indices of non-empty buckets

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: bytes) -> bool:
        return key in self._by_key

    def get(self, key: bytes) -> E | None:
        return self._by_key.get(key)

    def bucket(self, key: bytes) -> int:
        return self._bucket_of(key) & self._mask

    def add_head(self, entry: E) -> None:
        """hlist_add_head: ``entry`` becomes the first of its bucket (replacing nothing)."""
        b = self.bucket(entry.key)
        chain = self._lists.get(b)
        if chain is None:
            self._lists[b] = [entry]
            bisect.insort(self._used, b)
        else:
            chain.insert(0, entry)
        self._by_key[entry.key] = entry

    def remove(self, entry: E) -> None:
        b = self.bucket(entry.key)
        chain = self._lists[b]
        chain.remove(entry)  # identity-equal entries (eq=False) or exact match
        if not chain:
            del self._lists[b]
            del self._used[bisect.bisect_left(self._used, b)]
        if self._by_key.get(entry.key) is entry:
            del self._by_key[entry.key]

    def replace(self, old: E, new: E) -> None:
        """The kernel's RCU replace: the new element at the bucket head, then the old one
        unlinked; so an updated key moves to the front of its bucket."""
        self.remove(old)
        self.add_head(new)

    def next_key(self, key: bytes | None) -> bytes | None:
        start = 0
        if key is not None and key in self._by_key:
            b = self.bucket(key)
            chain = self._lists[b]
            pos = next(i for i, e in enumerate(chain) if e.key == key)
            if pos + 1 < len(chain):
                return chain[pos + 1].key
            start = b + 1
        i = bisect.bisect_left(self._used, start)
        if i == len(self._used):
            return None
        return self._lists[self._used[i]][0].key

    def __iter__(self) -> Iterator[E]:
        for b in self._used:
            yield from self._lists[b]
