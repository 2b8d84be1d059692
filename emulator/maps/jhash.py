"""Bob Jenkins' lookup3 hash as the kernel's ``jhash``/``jhash2`` compute it.

Why we need it: a hash map's iteration order (BPF_MAP_GET_NEXT_KEY, what ``bpftool map
dump`` shows) is its bucket order, and the bucket of a key is ``jhash(key, seed) &
(n_buckets - 1)``. With the map's seed known (BPF_F_ZERO_SEED makes it 0) we reproduce the
kernel's order exactly; the differential tests check that. ``jhash2`` over u32 words and
``jhash`` over bytes agree on little-endian machines, so one function serves both.
"""

from __future__ import annotations

_M = 0xFFFFFFFF
_INIT = 0xDEADBEEF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & _M) ^ _rol(c, 4)
    c = (c + b) & _M
    b = ((b - a) & _M) ^ _rol(a, 6)
    a = (a + c) & _M
    c = ((c - b) & _M) ^ _rol(b, 8)
    b = (b + a) & _M
    a = ((a - c) & _M) ^ _rol(c, 16)
    c = (c + b) & _M
    b = ((b - a) & _M) ^ _rol(a, 19)
    a = (a + c) & _M
    c = ((c - b) & _M) ^ _rol(b, 4)
    b = (b + a) & _M
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c = ((c ^ b) - _rol(b, 14)) & _M
    a = ((a ^ c) - _rol(c, 11)) & _M
    b = ((b ^ a) - _rol(a, 25)) & _M
    c = ((c ^ b) - _rol(b, 16)) & _M
    a = ((a ^ c) - _rol(c, 4)) & _M
    b = ((b ^ a) - _rol(a, 14)) & _M
    c = ((c ^ b) - _rol(b, 24)) & _M
    return c


def jhash(key: bytes, seed: int = 0) -> int:
    """The 32-bit hash of ``key`` with ``seed`` (the map's ``hashrnd``)."""
    n = len(key)
    a = b = c = (_INIT + n + seed) & _M
    pos = 0
    while n > 12:
        a = (a + int.from_bytes(key[pos : pos + 4], "little")) & _M
        b = (b + int.from_bytes(key[pos + 4 : pos + 8], "little")) & _M
        c = (c + int.from_bytes(key[pos + 8 : pos + 12], "little")) & _M
        a, b, c = _mix(a, b, c)
        n -= 12
        pos += 12
    if n == 0:
        return c
    tail = key[pos:].ljust(12, b"\0")  # the last 1..12 bytes, zero padded
    a = (a + int.from_bytes(tail[0:4], "little")) & _M
    b = (b + int.from_bytes(tail[4:8], "little")) & _M
    c = (c + int.from_bytes(tail[8:12], "little")) & _M
    return _final(a, b, c)
