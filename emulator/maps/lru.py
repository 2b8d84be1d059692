"""lru_hash and lru_percpu_hash, with the kernel's LRU lists (kernel/bpf/bpf_lru_list.c).

Which element an LRU map evicts is observable (it is the key that vanishes), so we model
the kernel's lists rather than a textbook LRU. The model, as the kernel has it on 6.18:

- Every element sits on one list. Common LRU (the default): a global *active* and
  *inactive* list plus, per CPU, a *pending* list of elements that CPU created since it
  last took free nodes, and a per-CPU stock of free nodes. ``BPF_F_NO_COMMON_LRU``: each
  CPU has its own active/inactive lists and free stock, sized max_entries / ncpus.
- A lookup *from a program* sets the element's reference bit; user-space lookups do not.
- An update always takes a node first (possibly evicting), then checks the flags: so on a
  full map even an update that fails with -EEXIST, or one that replaces an existing key,
  can evict another key, and the key being updated can evict itself (then BPF_EXIST gets
  -ENOENT). lru_percpu_hash skips the allocation for BPF_EXIST and updates existing keys
  in place.
- Common LRU allocation on CPU c: take a node from c's free stock; if empty, move c's
  pending list into the global lists (referenced -> active, else inactive), rotate the
  lists (active tail -> inactive unless referenced; referenced inactive -> active), take
  up to ``target_free = clamp(max_entries / ncpus / 2, 1, 128)`` free nodes, and when the
  global free list runs short evict from the inactive tail (skipping referenced nodes,
  scanning at most 128), or failing that force-evict the oldest inactive (else active)
  node. If still nothing, steal a free node or evict the oldest unreferenced pending
  element of any CPU, round-robin from that CPU's ``next_steal``.
- Percpu LRU allocation: rotate that CPU's lists, evict up to 4 nodes when its free stock
  is empty, and put the new node at the head of its inactive list.

User-space operations (``cpu=None``) run on ``user_cpu`` (0 unless set): the kernel runs a
bpf() call on whatever CPU the caller is on, so a faithful comparison pins the caller.
Free nodes are interchangeable, so free lists are counts; the ``next_inactive_rotation``
cursor and every ordering decision are kept as in the kernel.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable, Iterator

from emulator.maps.base import Element
from emulator.maps.hashtab import HashEntry, HashMap, PercpuHashMap, _HashBase, check_flags
from emulator.maps.spec import BPF_EXIST, BPF_F_LOCK, F_NO_COMMON_LRU, MapSpec

ACTIVE, INACTIVE, FREE, LOCAL_FREE, LOCAL_PENDING = range(5)
LOCAL_FREE_TARGET = 128
LOCAL_NR_SCANS = LOCAL_FREE_TARGET
PERCPU_FREE_TARGET = 4
PERCPU_NR_SCANS = PERCPU_FREE_TARGET


class Node:
    """A list node: the sentinel of a list, or one live element's place in the lists."""

    __slots__ = ("prev", "next", "type", "ref", "cpu", "entry")

    def __init__(self, type_: int = FREE, cpu: int = 0, entry: HashEntry | None = None) -> None:
        self.prev: Node = self
        self.next: Node = self
        self.type = type_
        self.ref = 0
        self.cpu = cpu
        self.entry = entry

    def unlink(self) -> None:
        self.prev.next = self.next
        self.next.prev = self.prev
        self.prev = self.next = self

    def add_after(self, head: Node) -> None:
        """list_add: insert right after ``head`` (at the head of that list)."""
        self.prev, self.next = head, head.next
        head.next.prev = self
        head.next = self

    def move_after(self, head: Node) -> None:
        self.unlink()
        self.add_after(head)


def _reverse_safe(head: Node) -> Iterator[Node]:
    """list_for_each_entry_safe_reverse: tail to head; the current node may be moved."""
    node = head.prev
    while node is not head:
        prev = node.prev
        yield node
        node = prev


class LruList:
    """One set of active/inactive lists with its free stock and rotation cursor."""

    def __init__(self, nr_free: int) -> None:
        self.heads = [Node(), Node()]  # ACTIVE, INACTIVE sentinels
        self.counts = [0, 0]
        self.free = nr_free
        self.next_inactive_rotation: Node = self.heads[INACTIVE]


class LocalList:
    """A CPU's share of a common LRU: free stock and pending list."""

    def __init__(self, cpu: int) -> None:
        self.free = 0
        self.pending = Node()
        self.next_steal = cpu


class Lru:
    """The LRU lists of one map. ``evict(node)`` removes that node's element from the hash
    table and says whether it did (the kernel's del_from_htab callback)."""

    def __init__(self, nr_elems: int, ncpus: int, percpu_lru: bool, evict: Callable[[Node], bool]) -> None:
        self.ncpus = ncpus
        self.percpu_lru = percpu_lru
        self.evict = evict
        if percpu_lru:
            self.nr_scans = PERCPU_NR_SCANS
            self.lists = [LruList(nr_elems // ncpus) for _ in range(ncpus)]
        else:
            self.nr_scans = LOCAL_NR_SCANS
            self.lists = [LruList(nr_elems)]
            self.local = [LocalList(cpu) for cpu in range(ncpus)]
            self.target_free = min(max((nr_elems // ncpus) // 2, 1), LOCAL_FREE_TARGET)

    # -- moves inside one LruList -------------------------------------------------------
    def _move(self, lst: LruList, node: Node, tgt: int) -> None:
        """__bpf_lru_node_move: between/within active and inactive, or to the free stock."""
        if node.type != tgt:
            if node.type < FREE:
                lst.counts[node.type] -= 1
            if tgt < FREE:
                lst.counts[tgt] += 1
            node.type = tgt
        node.ref = 0
        if node is lst.next_inactive_rotation:
            lst.next_inactive_rotation = node.prev
        if tgt == FREE:
            node.unlink()
            lst.free += 1
        else:
            node.move_after(lst.heads[tgt])

    def _take(self, lst: LruList, node: Node) -> None:
        """__bpf_lru_node_move_to_free, minus the destination: the caller counts the node
        into whichever free stock it fills."""
        if node is lst.next_inactive_rotation:
            lst.next_inactive_rotation = node.prev
        if node.type < FREE:
            lst.counts[node.type] -= 1
        node.type = FREE
        node.unlink()

    def _rotate_active(self, lst: LruList) -> None:
        head = lst.heads[ACTIVE]
        first = head.next
        i = 0
        for node in _reverse_safe(head):
            self._move(lst, node, ACTIVE if node.ref else INACTIVE)
            i += 1
            if i == self.nr_scans or node is first:
                break

    def _rotate_inactive(self, lst: LruList) -> None:
        head = lst.heads[INACTIVE]
        if head.next is head:
            return
        last = lst.next_inactive_rotation.next
        if last is head:
            last = last.next
        cur = lst.next_inactive_rotation
        nxt = head
        i = 0
        while i < self.nr_scans:
            if cur is head:
                cur = cur.prev
                continue
            nxt = cur.prev
            if cur.ref:
                self._move(lst, cur, ACTIVE)
            if cur is last:
                break
            cur = nxt
            i += 1
        lst.next_inactive_rotation = nxt

    def _rotate(self, lst: LruList) -> None:
        if lst.counts[INACTIVE] < lst.counts[ACTIVE]:
            self._rotate_active(lst)
        self._rotate_inactive(lst)

    def _shrink_inactive(self, lst: LruList, want: int) -> int:
        got = 0
        i = 0
        for node in _reverse_safe(lst.heads[INACTIVE]):
            if node.ref:
                self._move(lst, node, ACTIVE)
            elif self.evict(node):
                self._take(lst, node)
                got += 1
                if got == want:
                    break
            i += 1
            if i == self.nr_scans:
                break
        return got

    def _shrink(self, lst: LruList, want: int) -> int:
        """Evict up to ``want`` unreferenced inactive nodes; failing any, force one out of
        the inactive list (or the active list when that is empty), reference bit or not."""
        got = self._shrink_inactive(lst, want)
        if got:
            return got
        inactive = lst.heads[INACTIVE]
        victims = inactive if inactive.next is not inactive else lst.heads[ACTIVE]
        for node in _reverse_safe(victims):
            if self.evict(node):
                self._take(lst, node)
                return 1
        return 0

    # -- allocation -------------------------------------------------------------------------
    def pop_free(self, cpu: int, entry: HashEntry) -> Node | None:
        """A node for a new element created on ``cpu`` (evicting if need be), or None."""
        if self.percpu_lru:
            return self._percpu_pop(cpu, entry)
        return self._common_pop(cpu, entry)

    def _percpu_pop(self, cpu: int, entry: HashEntry) -> Node | None:
        lst = self.lists[cpu]
        self._rotate(lst)
        if lst.free == 0:
            lst.free += self._shrink(lst, PERCPU_FREE_TARGET)
        if lst.free == 0:
            return None
        lst.free -= 1
        node = Node(FREE, cpu, entry)
        self._move(lst, node, INACTIVE)
        return node

    def _flush(self, loc: LocalList) -> None:
        lst = self.lists[0]
        for node in _reverse_safe(loc.pending):
            tgt = ACTIVE if node.ref else INACTIVE
            lst.counts[tgt] += 1
            node.type = tgt
            node.ref = 0
            node.move_after(lst.heads[tgt])

    def _pop_free_to_local(self, loc: LocalList) -> None:
        lst = self.lists[0]
        self._flush(loc)
        self._rotate(lst)
        got = min(lst.free, self.target_free)
        lst.free -= got
        loc.free += got
        if got < self.target_free:
            loc.free += self._shrink(lst, self.target_free - got)

    def _pop_pending(self, loc: LocalList) -> bool:
        """Evict the oldest pending element of a CPU, unreferenced ones first."""
        for force in (False, True):
            for node in _reverse_safe(loc.pending):
                if (force or not node.ref) and self.evict(node):
                    node.unlink()
                    return True
        return False

    def _add_pending(self, loc: LocalList, cpu: int, entry: HashEntry) -> Node:
        node = Node(LOCAL_PENDING, cpu, entry)
        node.add_after(loc.pending)
        return node

    def _common_pop(self, cpu: int, entry: HashEntry) -> Node | None:
        loc = self.local[cpu]
        if loc.free == 0:
            self._pop_free_to_local(loc)
        if loc.free:
            loc.free -= 1
            return self._add_pending(loc, cpu, entry)
        first = steal = loc.next_steal
        got = False
        while True:
            victim = self.local[steal]
            if victim.free:
                victim.free -= 1
                got = True
            else:
                got = self._pop_pending(victim)
            steal = (steal + 1) % self.ncpus
            if got or steal == first:
                break
        loc.next_steal = steal
        return self._add_pending(loc, cpu, entry) if got else None

    def push_free(self, node: Node) -> None:
        """A node whose element left the map (deleted, replaced, or a failed update)."""
        if self.percpu_lru:
            self._move(self.lists[node.cpu], node, FREE)
        elif node.type == LOCAL_PENDING:
            node.unlink()
            node.type = LOCAL_FREE
            node.ref = 0
            self.local[node.cpu].free += 1
        else:
            self._move(self.lists[0], node, FREE)


class _LruMixin(_HashBase):
    """What both LRU hash maps add to their hash map: the lists and the eviction hook."""

    _lru: Lru

    def _make_lru(self, spec: MapSpec) -> None:
        self._lru = Lru(self.max_entries, self.ncpus, bool(spec.flags & F_NO_COMMON_LRU), self._evict)

    def _evict(self, node: Node) -> bool:
        """del_from_htab: the evicted element leaves the hash table (its Element stays
        readable to whoever holds it)."""
        entry = node.entry
        if entry is None or self._table.get(entry.key) is not entry:
            return False
        self._table.remove(entry)
        self._forget(entry)
        return True

    def _node_of(self, entry: HashEntry) -> Node:
        node = entry.node
        assert isinstance(node, Node)
        return node

    def _cpu(self, cpu: int | None) -> int:
        return self.user_cpu if cpu is None else cpu


def _percpu_lru_entries(max_entries: int, ncpus: int) -> int:
    """With per-CPU lists the kernel rounds max_entries to a multiple of the CPU count (up,
    or down when rounding up would overflow u32)."""
    up = -(-max_entries // ncpus) * ncpus
    return up if up <= 0xFFFFFFFF else max_entries // ncpus * ncpus


class LruHashMap(_LruMixin, HashMap):
    """BPF_MAP_TYPE_LRU_HASH."""

    def __init__(self, spec: MapSpec, ncpus: int = 2, *, rng: random.Random | None = None) -> None:
        super().__init__(spec, ncpus, rng=rng)
        if spec.flags & F_NO_COMMON_LRU:
            self.max_entries = _percpu_lru_entries(spec.max_entries, ncpus)
        self._make_lru(spec)

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        entry = self._table.get(self._check_key(key))
        if entry is None:
            return None
        self._node_of(entry).ref = 1
        return entry.elems[0]

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        key = self._check_key(key)
        value = self._check_value(value)
        if flags > BPF_EXIST:  # no BPF_F_LOCK for LRU maps
            return -errno.EINVAL
        new = HashEntry(key, [self._fresh(key, value)])
        node = self._lru.pop_free(self._cpu(cpu), new)
        if node is None:
            return -errno.ENOMEM
        new.node = node
        old = self._table.get(key)
        err = check_flags(old, flags)
        if err:
            self._lru.push_free(node)
            return err
        self._table.add_head(new)
        if old is not None:
            node.ref = 1
            self._table.remove(old)
            self._forget(old)
            self._lru.push_free(self._node_of(old))
        return 0

    def _unlink(self, entry: HashEntry) -> None:
        super()._unlink(entry)
        self._lru.push_free(self._node_of(entry))


class LruPercpuHashMap(_LruMixin, PercpuHashMap):
    """BPF_MAP_TYPE_LRU_PERCPU_HASH."""

    def __init__(self, spec: MapSpec, ncpus: int = 2, *, rng: random.Random | None = None) -> None:
        super().__init__(spec, ncpus, rng=rng)
        if spec.flags & F_NO_COMMON_LRU:
            self.max_entries = _percpu_lru_entries(spec.max_entries, ncpus)
        self._make_lru(spec)

    def lookup(self, key: bytes, cpu: int = 0) -> Element | None:
        entry = self._table.get(self._check_key(key))
        if entry is None or not 0 <= cpu < self.ncpus:
            return None
        self._node_of(entry).ref = 1
        return entry.elems[cpu]

    def update(self, key: bytes | None, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        if cpu is None:
            err = self._user_write_check(flags)
            if err:
                return err
        key = self._check_key(key)
        values, one = self._values(value, cpu)
        if flags > BPF_EXIST or (cpu is None and flags & BPF_F_LOCK):
            return -errno.EINVAL
        node = None
        new = self._new_entry(key, values, one, cpu)
        if flags != BPF_EXIST:
            node = self._lru.pop_free(self._cpu(cpu), new)
            if node is None:
                return -errno.ENOMEM
            new.node = node
        old = self._table.get(key)
        err = check_flags(old, flags)
        if err == 0 and old is None:
            self._table.add_head(new)
            return 0
        if old is not None and err == 0:  # an existing key: marked referenced, updated in place
            self._node_of(old).ref = 1
            self._write(old, values, one, cpu)
        self._forget(new)
        if node is not None:
            self._lru.push_free(node)
        return err

    def _unlink(self, entry: HashEntry) -> None:
        super()._unlink(entry)
        self._lru.push_free(self._node_of(entry))
