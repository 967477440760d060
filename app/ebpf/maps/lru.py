"""The kernel's LRU lists for ``lru_hash`` maps, node for node (kernel/bpf/bpf_lru_list.c).

The kernel does not keep an exact least-recently-used order. It keeps, per map, an *active* and an
*inactive* list plus a *free* list, and a "ref" bit per element that a program's lookup sets
(``bpf_lru_node_set_ref``; lookups from user space do not). Each CPU also has a local *free* list
and a local *pending* list (elements handed out on that CPU since its last refill). When a CPU runs
out of free elements it flushes its pending list into the global lists, rotates them (referenced
elements go back to the head of active, unreferenced ones drift to inactive) and takes up to
``target_free`` elements, shrinking (evicting) the tail of the inactive list if the free list cannot
supply them. With ``BPF_F_NO_COMMON_LRU`` every CPU has its own three lists and no local lists.

This module replays that algorithm exactly, with doubly linked lists over element numbers, so with the
same sequence of operations on the same CPUs the same keys are evicted as in the kernel. What the kernel
cannot promise (concurrent CPUs, lock contention making a pop fail) never happens here: the playground runs
one CPU at a time. Functions are named after their kernel counterparts.
"""
from __future__ import annotations

from typing import Callable

# enum bpf_lru_list_type
ACTIVE, INACTIVE, FREE, LOCAL_FREE, LOCAL_PENDING = range(5)

LOCAL_FREE_TARGET = 128
LOCAL_NR_SCANS = LOCAL_FREE_TARGET
PERCPU_FREE_TARGET = 4
PERCPU_NR_SCANS = PERCPU_FREE_TARGET


class Lru:
    """``struct bpf_lru`` for ``nr`` elements on ``ncpus`` CPUs. ``delete_from_htab(node)`` must unlink the
    element from the hash table and return True if it was linked there (``htab_lru_map_delete_node``).

    List heads are numbered after the nodes: for the common LRU, ``nr + 0..2`` are the global active,
    inactive and free lists and ``nr + 3 + 2 * cpu (+1)`` each CPU's local free (pending) list; for the
    per-CPU LRU, ``nr + 3 * cpu + 0..2`` are CPU ``cpu``'s three lists.
    """

    STATE = ("next", "prev", "type", "ref", "cpu", "counts", "nir", "next_steal")

    def __init__(self, nr: int, ncpus: int, percpu: bool, delete_from_htab: Callable[[int], bool]):
        self.nr, self.ncpus, self.percpu = nr, ncpus, percpu
        self.delete_from_htab = delete_from_htab
        nheads = 3 * ncpus if percpu else 3 + 2 * ncpus
        size = nr + nheads
        self.next = list(range(size))  # INIT_LIST_HEAD: every entry points at itself
        self.prev = list(range(size))
        self.type = [FREE] * nr
        self.ref = [0] * nr
        self.cpu = [0] * nr
        nlists = ncpus if percpu else 1
        self.counts = [0] * (2 * nlists)  # per bpf_lru_list: counts[ACTIVE], counts[INACTIVE]
        self.nir = [self._head(i, INACTIVE) for i in range(nlists)]  # next_inactive_rotation
        self.next_steal = list(range(ncpus))
        self.nr_scans = PERCPU_NR_SCANS if percpu else LOCAL_NR_SCANS
        # bpf_common_lru_populate (6.16+): a CPU refills at most half its share of the elements
        self.target_free = min(max(nr // ncpus // 2, 1), LOCAL_FREE_TARGET)
        if percpu:
            self._percpu_populate()
        else:
            for i in range(nr):
                self._list_add(i, self._head(0, FREE))

    # --- include/linux/list.h over numbers -------------------------------------------------------------------

    def _head(self, lst: int, kind: int) -> int:
        return self.nr + 3 * lst + kind

    def _local(self, cpu: int, kind: int) -> int:
        return self.nr + 3 + 2 * cpu + (kind - LOCAL_FREE)

    def _list_add(self, new: int, head: int) -> None:
        nxt = self.next[head]
        self.next[new], self.prev[new] = nxt, head
        self.prev[nxt] = new
        self.next[head] = new

    def _list_del(self, entry: int) -> None:
        p, n = self.prev[entry], self.next[entry]
        self.next[p], self.prev[n] = n, p
        self.next[entry] = self.prev[entry] = entry

    def _list_move(self, entry: int, head: int) -> None:
        self._list_del(entry)
        self._list_add(entry, head)

    def _reverse(self, head: int):
        """``list_for_each_entry_safe_reverse``: tail to head, safe against moving the current node."""
        node = self.prev[head]
        while node != head:
            prev = self.prev[node]
            yield node
            node = prev

    # --- node moves (the list index ``lst`` picks the bpf_lru_list) -----------------------------------------

    def _count(self, lst: int, kind: int, delta: int) -> None:
        if kind < 2:
            self.counts[2 * lst + kind] += delta

    def _move_to_free(self, lst: int, node: int, free_head: int, free_type: int) -> None:
        """``__bpf_lru_node_move_to_free``."""
        if node == self.nir[lst]:
            self.nir[lst] = self.prev[node]
        self._count(lst, self.type[node], -1)
        self.type[node] = free_type
        self._list_move(node, free_head)

    def _move_in(self, lst: int, node: int, tgt: int) -> None:
        """``__bpf_lru_node_move_in``: from a local list into the global one."""
        self._count(lst, tgt, +1)
        self.type[node] = tgt
        self.ref[node] = 0
        self._list_move(node, self._head(lst, tgt))

    def _move(self, lst: int, node: int, tgt: int) -> None:
        """``__bpf_lru_node_move``: between or within the active and inactive lists (or to free)."""
        if self.type[node] != tgt:
            self._count(lst, self.type[node], -1)
            self._count(lst, tgt, +1)
            self.type[node] = tgt
        self.ref[node] = 0
        if node == self.nir[lst]:
            self.nir[lst] = self.prev[node]
        self._list_move(node, self._head(lst, tgt))

    # --- rotation and shrinking ------------------------------------------------------------------------------

    def _rotate_active(self, lst: int) -> None:
        """``__bpf_lru_list_rotate_active``."""
        active = self._head(lst, ACTIVE)
        first = self.next[active]
        for i, node in enumerate(self._reverse(active), 1):
            self._move(lst, node, ACTIVE if self.ref[node] else INACTIVE)
            if i == self.nr_scans or node == first:
                break

    def _rotate_inactive(self, lst: int) -> None:
        """``__bpf_lru_list_rotate_inactive``: referenced nodes go to active, starting where it last stopped."""
        inactive = self._head(lst, INACTIVE)
        if self.next[inactive] == inactive:
            return
        last = self.next[self.nir[lst]]
        if last == inactive:
            last = self.next[last]
        cur, nxt, i = self.nir[lst], inactive, 0
        while i < self.nr_scans:
            if cur == inactive:
                cur = self.prev[cur]
                continue
            nxt = self.prev[cur]
            if self.ref[cur]:
                self._move(lst, cur, ACTIVE)
            if cur == last:
                break
            cur = nxt
            i += 1
        self.nir[lst] = nxt

    def _rotate(self, lst: int) -> None:
        """``__bpf_lru_list_rotate``."""
        if self.counts[2 * lst + INACTIVE] < self.counts[2 * lst + ACTIVE]:
            self._rotate_active(lst)
        self._rotate_inactive(lst)

    def _shrink_inactive(self, lst: int, tgt: int, free_head: int, free_type: int) -> int:
        """``__bpf_lru_list_shrink_inactive``: evict unreferenced nodes from the inactive tail."""
        nshrinked = 0
        for i, node in enumerate(self._reverse(self._head(lst, INACTIVE)), 1):
            if self.ref[node]:
                self._move(lst, node, ACTIVE)
            elif self.delete_from_htab(node):
                self._move_to_free(lst, node, free_head, free_type)
                nshrinked += 1
                if nshrinked == tgt:
                    break
            if i == self.nr_scans:
                break
        return nshrinked

    def _shrink(self, lst: int, tgt: int, free_head: int, free_type: int) -> int:
        """``__bpf_lru_list_shrink``: as above, else force out one node ignoring the ref bit."""
        n = self._shrink_inactive(lst, tgt, free_head, free_type)
        if n:
            return n
        inactive = self._head(lst, INACTIVE)
        force = inactive if self.next[inactive] != inactive else self._head(lst, ACTIVE)
        for node in self._reverse(force):
            if self.delete_from_htab(node):
                self._move_to_free(lst, node, free_head, free_type)
                return 1
        return 0

    # --- the common LRU: global lists plus per-CPU local lists -----------------------------------------------

    def _local_flush(self, cpu: int) -> None:
        """``__local_list_flush``: pending nodes join the global lists, oldest first."""
        for node in self._reverse(self._local(cpu, LOCAL_PENDING)):
            self._move_in(0, node, ACTIVE if self.ref[node] else INACTIVE)

    def _pop_free_to_local(self, cpu: int) -> None:
        """``bpf_lru_list_pop_free_to_local``: refill the CPU's local free list with up to ``target_free``
        nodes, from the global free list first, then by shrinking."""
        self._local_flush(cpu)
        self._rotate(0)
        harvested: list[int] = []
        for node in self._iter(self._head(0, FREE)):
            self._list_del(node)  # a FREE node is neither counted nor the rotation point
            harvested.append(node)
            if len(harvested) == self.target_free:
                break
        if len(harvested) < self.target_free:
            scratch = _Scratch(self)
            self._shrink(0, self.target_free - len(harvested), scratch.head, LOCAL_FREE)
            harvested += scratch.drain()
        local_free = self._local(cpu, LOCAL_FREE)
        for node in reversed(harvested):  # llist_add one by one: the first harvested ends up first
            self.type[node] = LOCAL_FREE
            self._list_add(node, local_free)

    def _iter(self, head: int):
        node = self.next[head]
        while node != head:
            nxt = self.next[node]
            yield node
            node = nxt

    def _local_pop_free(self, cpu: int) -> int | None:
        head = self._local(cpu, LOCAL_FREE)
        node = self.next[head]
        if node == head:
            return None
        self._list_del(node)
        return node

    def _local_pop_pending(self, cpu: int) -> int | None:
        """``__local_list_pop_pending``: steal the oldest pending node, unreferenced ones first."""
        for force in (False, True):
            for node in self._reverse(self._local(cpu, LOCAL_PENDING)):
                if (not self.ref[node] or force) and self.delete_from_htab(node):
                    self._list_del(node)
                    return node
        return None

    def _add_pending(self, cpu: int, node: int) -> None:
        """``__local_list_add_pending``."""
        self.cpu[node] = cpu
        self.type[node] = LOCAL_PENDING
        self.ref[node] = 0
        self._list_add(node, self._local(cpu, LOCAL_PENDING))

    def _common_pop_free(self, cpu: int) -> int | None:
        """``bpf_common_lru_pop_free``."""
        node = self._local_pop_free(cpu)
        if node is None:
            self._pop_free_to_local(cpu)
            node = self._local_pop_free(cpu)
        if node is None:
            first = steal = self.next_steal[cpu]
            while True:
                node = self._local_pop_free(steal)
                if node is None:
                    node = self._local_pop_pending(steal)
                steal = (steal + 1) % self.ncpus
                if node is not None or steal == first:
                    break
            self.next_steal[cpu] = steal
            if node is None:
                return None
        self._add_pending(cpu, node)
        return node

    def _common_push_free(self, node: int) -> None:
        """``bpf_common_lru_push_free``."""
        if self.type[node] == LOCAL_PENDING:
            self.type[node] = LOCAL_FREE
            self.ref[node] = 0
            self._list_del(node)
            self._list_add(node, self._local(self.cpu[node], LOCAL_FREE))
            return
        self._move(0, node, FREE)

    # --- the per-CPU LRU (BPF_F_NO_COMMON_LRU) -----------------------------------------------------------------

    def _percpu_populate(self) -> None:
        """``bpf_percpu_lru_populate``: consecutive runs of ``nr / ncpus`` nodes per CPU."""
        per = self.nr // self.ncpus
        i = 0
        for cpu in range(self.ncpus):
            while i < self.nr:
                self.cpu[i] = cpu
                self._list_add(i, self._head(cpu, FREE))
                i += 1
                if i % per == 0:
                    break
            if i == self.nr:
                break

    def _percpu_pop_free(self, cpu: int) -> int | None:
        """``bpf_percpu_lru_pop_free``."""
        self._rotate(cpu)
        free = self._head(cpu, FREE)
        if self.next[free] == free:
            self._shrink(cpu, PERCPU_FREE_TARGET, free, FREE)
        if self.next[free] == free:
            return None
        node = self.next[free]
        self.ref[node] = 0
        self._move(cpu, node, INACTIVE)
        return node

    # --- the interface hashtab uses --------------------------------------------------------------------------

    def pop_free(self, cpu: int) -> int | None:
        """``bpf_lru_pop_free``: a free element for a new entry on ``cpu``, evicting if needed."""
        return self._percpu_pop_free(cpu) if self.percpu else self._common_pop_free(cpu)

    def push_free(self, node: int) -> None:
        """``bpf_lru_push_free``: an element that no longer holds an entry."""
        if self.percpu:
            self._move(self.cpu[node], node, FREE)
        else:
            self._common_push_free(node)

    def set_ref(self, node: int) -> None:
        """``bpf_lru_node_set_ref``: a program looked the element up."""
        self.ref[node] = 1

    def snapshot(self) -> tuple:
        return tuple(list(getattr(self, name)) for name in self.STATE)

    def restore(self, snap: tuple) -> None:
        for name, value in zip(self.STATE, snap):
            setattr(self, name, list(value))


class _Scratch:
    """A temporary list head (``LIST_HEAD(tmp_free)``), numbered past the real ones while it exists."""

    def __init__(self, lru: Lru):
        self.lru = lru
        self.head = len(lru.next)
        lru.next.append(self.head)
        lru.prev.append(self.head)

    def drain(self) -> list[int]:
        """The nodes moved here, in the order they came (each was added at the head); removes the head."""
        lru, out = self.lru, []
        for node in list(lru._reverse(self.head)):
            lru._list_del(node)
            out.append(node)
        lru.next.pop()
        lru.prev.pop()
        return out
