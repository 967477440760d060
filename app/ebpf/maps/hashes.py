"""Hash maps: ``hash``, ``percpu_hash``, ``lru_hash``, ``lru_percpu_hash`` (kernel/bpf/hashtab.c).

Elements are preallocated value slots (``prealloc_init``), handed out from a free list; a key maps to the
slot that holds its value, and a lookup returns that slot's address. What the kernel does with those
slots is reproduced because a program can observe it through a pointer it keeps:

* ``hash``: updating an existing key from a program writes a *new* element (the CPU's spare
  ``extra_elems`` one) and the old element becomes the spare, so a pointer taken before the update still
  shows the old value (``alloc_htab_elem``). A deleted element goes back to the free list and the next
  insert reuses it, so a stale pointer then shows the new entry's value.
* ``percpu_hash`` and ``lru_percpu_hash`` update in place (``htab_map_update_elem_in_place``,
  ``__htab_lru_percpu_map_update_elem``).
* ``lru_hash`` takes a fresh element from the LRU for every update, *before* it looks for the key, so
  that update may evict some other key even when it only replaces a value (``htab_lru_map_update_elem``);
  see :mod:`.lru` for which key.

Iteration order (``get_next_key``) is the order in which keys were first inserted; the kernel's order
follows its hash buckets, and the bucket hash has a random seed, so no order can match it in general.
``BPF_F_NO_PREALLOC`` maps behave like preallocated ones here, except that the kernel frees their elements
only after an RCU grace period, so a stale pointer keeps showing the old value there.
"""
from __future__ import annotations

import errno

from ..program import MapDef
from .base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_F_NO_COMMON_LRU,
    BPF_NOEXIST,
    MapInstance,
    PercpuValues,
    SlotPool,
    round_up,
)
from .lru import Lru


def check_flags(exists: bool, flags: int) -> int:
    """``check_flags``: BPF_NOEXIST on an existing key, BPF_EXIST on a missing one."""
    if exists and flags & ~BPF_F_LOCK == BPF_NOEXIST:
        return -errno.EEXIST
    if not exists and flags & ~BPF_F_LOCK == BPF_EXIST:
        return -errno.ENOENT
    return 0


class HashMap(MapInstance):
    """``htab_map_ops``: preallocated elements plus one spare per CPU (``extra_elems``)."""

    percpu = False
    STATE = ("slot_of", "free", "extra")

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.stride = round_up(self.value_size, 8)
        self.nslots = self.slot_count(mdef, ncpus)
        self.pool = SlotPool(self, self.nslots, self.stride, self.percpu)
        self.slot_of: dict[bytes, int] = {}  # key -> element, in insertion order
        self.free = list(range(self.max_entries - 1, -1, -1))  # popped from the end: slot 0 first
        self.extra = [self.max_entries + c for c in range(ncpus)] if self.nslots > self.max_entries else []

    @classmethod
    def slot_count(cls, mdef: MapDef, ncpus: int) -> int:
        return mdef.max_entries + ncpus

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return cls.slot_count(mdef, ncpus) * round_up(mdef.value_size, 8) * (ncpus if cls.percpu else 1)

    # --- lookups -------------------------------------------------------------------------------------------

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """``htab_map_lookup_elem`` (per-CPU maps: ``htab_percpu_map_lookup_elem``, ``cpu``'s copy)."""
        slot = self.slot_of.get(self._check_key(key))
        if slot is None or not 0 <= cpu < self.ncpus:
            return None
        return self.pool.addr(slot, cpu)

    def read(self, key: bytes) -> bytes | None:
        slot = self.slot_of.get(self._check_key(key))
        if slot is None:
            return None
        if self.percpu:
            return b"".join(self.pool.get(slot, c) for c in range(self.ncpus))
        return self.pool.get(slot, 0, self.value_size)

    def get_next_key(self, key: bytes | None) -> bytes | None:
        """``htab_map_get_next_key`` in insertion order: a missing key restarts at the first one."""
        keys = list(self.slot_of)
        if not keys:
            return None
        if key is None or self._check_key(key) not in self.slot_of:
            return keys[0]
        i = keys.index(key) + 1
        return keys[i] if i < len(keys) else None

    def keys(self) -> list[bytes]:
        return list(self.slot_of)

    # --- updates -------------------------------------------------------------------------------------------

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``htab_map_update_elem``: a new element for the key; the old one becomes this CPU's spare."""
        key = self._check_key(key)
        value = self._check_value(value, cpu)
        self._check_cpu(cpu)
        if flags & BPF_F_LOCK or flags > BPF_EXIST:  # no bpf_spin_lock in the value: BPF_F_LOCK is refused too
            return -errno.EINVAL
        old = self.slot_of.get(key)
        err = check_flags(old is not None, flags)
        if err:
            return err
        if old is not None:
            c = cpu or 0
            new, self.extra[c] = self.extra[c], old
        elif self.free:
            new = self.free.pop()
        else:
            return -errno.E2BIG
        self.pool.put(new, value)
        self.slot_of[key] = new
        return 0

    def delete(self, key: bytes) -> int:
        """``htab_map_delete_elem``: the element goes back to the free list."""
        slot = self.slot_of.pop(self._check_key(key), None)
        if slot is None:
            return -errno.ENOENT
        self._release(slot)
        return 0

    def _release(self, slot: int) -> None:
        self.free.append(slot)


class PercpuHashMap(PercpuValues, HashMap):
    """``htab_percpu_map_ops``: one value per CPU, updated in place."""

    percpu = True
    STATE = ("slot_of", "free")

    @classmethod
    def slot_count(cls, mdef: MapDef, ncpus: int) -> int:
        return mdef.max_entries


    def _copy_value(self, slot: int, value: bytes, cpu: int | None, new: bool) -> None:
        """``pcpu_copy_value`` / ``pcpu_init_value``: a program writes its CPU's copy (and a new element's
        other copies are zeroed); user space writes every CPU's 8-byte-aligned slot."""
        if cpu is None:
            for c in range(self.ncpus):
                self.pool.put(slot, value[c * self.stride:(c + 1) * self.stride], c)
            return
        self.pool.put(slot, value, cpu)
        if new:
            for c in range(self.ncpus):
                if c != cpu:
                    self.pool.put(slot, bytes(self.value_size), c)

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``htab_map_update_elem_in_place`` (``htab_map_check_update_flags`` first)."""
        key = self._check_key(key)
        value = self._check_value(value, cpu)
        self._check_cpu(cpu)
        if flags > BPF_EXIST:
            return -errno.EINVAL
        old = self.slot_of.get(key)
        err = check_flags(old is not None, flags)
        if err:
            return err
        if old is not None:
            self._copy_value(old, value, cpu, new=False)
            return 0
        if not self.free:
            return -errno.E2BIG
        slot = self.free.pop()
        self._copy_value(slot, value, cpu, new=True)
        self.slot_of[key] = slot
        return 0


class LruHashMap(HashMap):
    """``htab_lru_map_ops``: never full; a new element evicts per the kernel's LRU lists (:mod:`.lru`).

    User-space operations run on CPU 0. ``lookup`` is a program's lookup and marks the element referenced;
    ``read`` (user space) does not, as in ``htab_lru_map_lookup_elem_sys``.
    """

    STATE = ("slot_of", "key_of")

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        if mdef.flags & BPF_F_NO_COMMON_LRU:  # htab_map_alloc: each CPU's list gets the same share
            entries = round_up(mdef.max_entries, ncpus)
            mdef = MapDef(mdef.name, mdef.type, mdef.key_size, mdef.value_size,
                          entries if entries < 1 << 32 else mdef.max_entries // ncpus * ncpus, mdef.flags)
        super().__init__(mdef, base, ncpus)
        self.free, self.extra = [], []
        self.key_of: dict[int, bytes] = {}  # element -> the key it holds
        self.lru = Lru(self.max_entries, ncpus, bool(self.flags & BPF_F_NO_COMMON_LRU), self._delete_node)

    @classmethod
    def slot_count(cls, mdef: MapDef, ncpus: int) -> int:
        if mdef.flags & BPF_F_NO_COMMON_LRU:
            return round_up(mdef.max_entries, ncpus)
        return mdef.max_entries

    def _delete_node(self, node: int) -> bool:
        """``htab_lru_map_delete_node``: unlink an element the LRU evicts."""
        key = self.key_of.get(node)
        if key is None or self.slot_of.get(key) != node:
            return False
        del self.slot_of[key], self.key_of[node]
        return True

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        addr = super().lookup(key, cpu)
        if addr is not None:
            self.lru.set_ref(self.slot_of[key])
        return addr

    def _link(self, key: bytes, node: int) -> None:
        self.slot_of[key] = node
        self.key_of[node] = key

    def _unlink_node(self, node: int) -> None:
        self.key_of.pop(node, None)
        self.lru.push_free(node)

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``htab_lru_map_update_elem``: pop a free element (maybe evicting), then check the flags."""
        key = self._check_key(key)
        value = self._check_value(value, cpu)
        self._check_cpu(cpu)
        if flags > BPF_EXIST:  # BPF_F_LOCK included
            return -errno.EINVAL
        new = self.lru.pop_free(cpu or 0)
        if new is None:
            return -errno.ENOMEM
        self.pool.put(new, value)
        old = self.slot_of.get(key)
        err = check_flags(old is not None, flags)
        if err:
            self.lru.push_free(new)
            return err
        self._link(key, new)
        if old is not None:
            self.lru.set_ref(new)
            self._unlink_node(old)
        return 0

    def _release(self, slot: int) -> None:
        self._unlink_node(slot)

    def snapshot(self) -> tuple:
        return super().snapshot() + (self.lru.snapshot(),)

    def restore(self, snap: tuple) -> None:
        super().restore(snap[:-1])
        self.lru.restore(snap[-1])


class LruPercpuHashMap(LruHashMap, PercpuHashMap):
    """``htab_lru_percpu_map_ops``: per-CPU values updated in place, elements recycled by the LRU."""

    percpu = True

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``__htab_lru_percpu_map_update_elem``: BPF_EXIST updates never take a new element."""
        key = self._check_key(key)
        value = self._check_value(value, cpu)
        self._check_cpu(cpu)
        if flags > BPF_EXIST:
            return -errno.EINVAL
        new = None
        if flags != BPF_EXIST:
            new = self.lru.pop_free(cpu or 0)
            if new is None:
                return -errno.ENOMEM
        old = self.slot_of.get(key)
        err = check_flags(old is not None, flags)
        if not err and old is not None:
            self.lru.set_ref(old)
            self._copy_value(old, value, cpu, new=False)
        elif not err:
            self._copy_value(new, value, cpu, new=True)
            self._link(key, new)
            new = None
        if new is not None:
            self.lru.push_free(new)
        return err
