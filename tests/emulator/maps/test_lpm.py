"""lpm_trie: longest-prefix lookup, exact-match update/delete, post-order iteration."""

from __future__ import annotations

import errno

import pytest

from emulator.maps import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapType

from .helpers import lpm_key, make, walk


def routes() -> Map:
    m = make(MapType.LPM_TRIE, key_size=8, value_size=4, max_entries=16)
    for plen, octets, value in [
        (8, (10, 0, 0, 0), b"/8__"),
        (16, (10, 1, 0, 0), b"/16_"),
        (24, (10, 1, 2, 0), b"/24_"),
        (0, (0, 0, 0, 0), b"dflt"),
        (32, (192, 168, 0, 1), b"host"),
    ]:
        assert m.update(lpm_key(plen, *octets), value) == 0
    return m


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lpm_key(32, 10, 1, 2, 3), b"/24_"),
        (lpm_key(32, 10, 1, 3, 3), b"/16_"),
        (lpm_key(32, 10, 9, 9, 9), b"/8__"),
        (lpm_key(32, 11, 0, 0, 0), b"dflt"),
        (lpm_key(32, 192, 168, 0, 1), b"host"),
        (lpm_key(31, 192, 168, 0, 1), b"dflt"),  # a longer stored prefix never matches
        (lpm_key(16, 10, 1, 2, 3), b"/16_"),
        (lpm_key(15, 10, 1, 2, 3), b"/8__"),
        (lpm_key(33, 10, 1, 2, 3), None),  # prefixlen above the maximum finds nothing
    ],
)
def test_longest_prefix_match(query: bytes, expected: bytes | None) -> None:
    m = routes()
    elem = m.lookup(query)
    assert (elem.data if elem else None) == expected
    assert m.user_lookup(query) == (expected if expected else -errno.ENOENT)


def test_lookup_returns_the_stored_key() -> None:
    m = routes()
    elem = m.lookup(lpm_key(32, 10, 1, 2, 3))
    assert elem is not None and elem.key == lpm_key(24, 10, 1, 2, 0)


UPDATES = [  # on a max_entries=2 trie, in order: (key, flags, expected)
    (lpm_key(8, 10, 0, 0, 0), BPF_EXIST, -errno.ENOENT),
    (lpm_key(8, 10, 0, 0, 0), BPF_ANY, 0),
    (lpm_key(8, 10, 1, 2, 3), BPF_NOEXIST, -errno.EEXIST),  # exact match ignores bits past /8
    (lpm_key(8, 10, 1, 2, 3), BPF_ANY, 0),
    (lpm_key(16, 10, 1, 0, 0), BPF_ANY, 0),
    (lpm_key(24, 10, 1, 1, 0), BPF_ANY, -errno.ENOSPC),  # full: ENOSPC, not E2BIG
    (lpm_key(16, 10, 1, 0, 0), BPF_ANY, 0),  # replacing works when full
    (lpm_key(33, 1, 1, 1, 1), BPF_ANY, -errno.EINVAL),
    (lpm_key(8, 1, 1, 1, 1), 3, -errno.EINVAL),
]


def test_update_sequence() -> None:
    m = make(MapType.LPM_TRIE, key_size=8, value_size=4, max_entries=2)
    for key, flags, expected in UPDATES:
        assert m.update(key, b"vvvv", flags) == expected, key.hex()
    # the stored key keeps the data bytes of its last update, bits past the prefix included
    assert walk(m) == [lpm_key(16, 10, 1, 0, 0), lpm_key(8, 10, 1, 2, 3)]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (lpm_key(33, 0, 0, 0, 0), -errno.EINVAL),
        (lpm_key(9, 10, 0, 0, 0), -errno.ENOENT),
        (lpm_key(24, 10, 1, 2, 99), 0),  # exact on the first 24 bits
    ],
)
def test_delete(key: bytes, expected: int) -> None:
    m = routes()
    assert m.delete(key) == expected


def test_post_order_walk() -> None:
    m = routes()
    assert walk(m) == [
        lpm_key(24, 10, 1, 2, 0),  # more specific first
        lpm_key(16, 10, 1, 0, 0),
        lpm_key(8, 10, 0, 0, 0),
        lpm_key(32, 192, 168, 0, 1),  # 0 bit (10.x) before 1 bit (192.x) at the first difference
        lpm_key(0, 0, 0, 0, 0),  # the root last
    ]
    assert m.get_next_key(lpm_key(12, 10, 0, 0, 0)) == lpm_key(24, 10, 1, 2, 0)  # missing: first
    assert m.get_next_key(lpm_key(0, 0, 0, 0, 0)) is None


def test_replacement_is_a_new_element() -> None:
    m = routes()
    old = m.lookup(lpm_key(8, 10, 0, 0, 0))
    m.update(lpm_key(8, 10, 0, 0, 0), b"new!")
    new = m.lookup(lpm_key(8, 10, 0, 0, 0))
    assert old is not None and new is not None and old is not new and old.data == b"/8__"
