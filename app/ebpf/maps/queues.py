"""Keyless maps: ``queue``, ``stack`` (kernel/bpf/queue_stack_maps.c) and ``bloom_filter``
(kernel/bpf/bloom_filter.c).

A queue or stack is a ring of ``max_entries + 1`` values of ``value_size`` bytes (no alignment) with a
``head`` and a ``tail`` index, exactly ``struct bpf_queue_stack``: ``push`` writes at head, a queue pops
at tail (FIFO), a stack pops below head (LIFO). ``push`` with BPF_EXIST on a full map drops the *oldest*
value (the one at tail) in both kinds. Programs never hold pointers into these maps: values are copied in
and out, and on -ENOENT the kernel zeroes the program's buffer (the helper's job here).

A bloom filter is a bitmap of ``nr_bits`` bits (``bloom_map_alloc``) in which a value sets one bit per
hash function: ``jhash``/``jhash2`` of the value with seed ``hash_seed + i``. The kernel seeds with a
random number unless the map has BPF_F_ZERO_SEED; the playground always uses seed 0, so its false
positives are reproducible and are the kernel's own for a BPF_F_ZERO_SEED map. The number of hash
functions is the low 4 bits of ``map_extra`` (``MapDef.map_extra`` when present), 5 by default.
"""
from __future__ import annotations

import errno

from ..program import MapDef
from .base import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapInstance
from .jhash import jhash, jhash2


class QueueMap(MapInstance):
    """``queue_map_ops``: FIFO."""

    STATE = ("head", "tail")
    lifo = False

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.size = self.max_entries + 1
        self.ring = self._add_region("values", self.size * self.value_size, writable=False)
        self.head = self.tail = 0

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return (mdef.max_entries + 1) * mdef.value_size

    def _is_full(self) -> bool:
        return (self.head + 1) % self.size == self.tail

    def _at(self, index: int) -> bytes:
        off = index * self.value_size
        return bytes(self.ring.data[off:off + self.value_size])

    def push(self, value: bytes, flags: int = BPF_ANY) -> int:
        """``queue_stack_map_push_elem``: BPF_EXIST makes room by dropping the oldest value."""
        if len(value) != self.value_size:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, value_size is {self.value_size}")
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            return -errno.EINVAL
        if self._is_full():
            if not flags & BPF_EXIST:
                return -errno.E2BIG
            self.tail = (self.tail + 1) % self.size
        self._write(self.ring, self.head * self.value_size, bytes(value))
        self.head = (self.head + 1) % self.size
        return 0

    def _top(self) -> int:
        """Index of the value ``pop`` returns next (the map is not empty)."""
        return (self.head - 1) % self.size if self.lifo else self.tail

    def peek(self, value: bytes | None = None) -> bytes | int:
        """``queue_map_peek_elem`` / ``stack_map_peek_elem``: the next value, or -ENOENT."""
        if self.head == self.tail:
            return -errno.ENOENT
        return self._at(self._top())

    def pop(self) -> bytes | int:
        """``queue_map_pop_elem`` / ``stack_map_pop_elem``: remove and return the next value, or -ENOENT."""
        if self.head == self.tail:
            return -errno.ENOENT
        index = self._top()
        if self.lifo:
            self.head = index
        else:
            self.tail = (self.tail + 1) % self.size
        return self._at(index)

    def values(self) -> list[bytes]:
        """Every value, in the order ``pop`` would return them."""
        n = (self.head - self.tail) % self.size
        if self.lifo:
            return [self._at((self.head - 1 - i) % self.size) for i in range(n)]
        return [self._at((self.tail + i) % self.size) for i in range(n)]

    # --- the syscall's view: update = push, lookup = peek ---------------------------------------------------

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """From user space ``BPF_MAP_UPDATE_ELEM`` pushes; a program must use ``bpf_map_push_elem``
        (``queue_stack_map_update_elem`` is -EINVAL)."""
        self._check_key(key)
        if cpu is not None or flags & BPF_F_LOCK:
            return -errno.EINVAL
        return self.push(value, flags)

    def read(self, key: bytes) -> bytes | None:
        self._check_key(key)
        top = self.peek()
        return None if isinstance(top, int) else top

    def delete(self, key: bytes) -> int:
        self._check_key(key)
        return -errno.EINVAL

    def keys(self) -> list[bytes]:
        return []

    def entries_json(self) -> dict:
        """``entries`` is empty (no keys); ``values`` lists the values in pop order."""
        return {**self.header_json(), "entries": {}, "values": [v.hex() for v in self.values()]}


class StackMap(QueueMap):
    """``stack_map_ops``: LIFO."""

    lifo = True


class BloomFilterMap(MapInstance):
    """``bloom_filter_map_ops``: push adds a value, peek answers "maybe" (0) or "no" (-ENOENT)."""

    STATE = ()

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.nr_hash_funcs, nbits = self.geometry(mdef)
        self.bitset_mask = nbits - 1
        self.hash_seed = 0
        self.bits = self._add_region("bits", self.bitset_bytes(nbits), writable=False)

    @staticmethod
    def geometry(mdef: MapDef) -> tuple[int, int]:
        """``bloom_map_alloc``: (number of hash functions, bits in the bitmap)."""
        nr_hash_funcs = (getattr(mdef, "map_extra", 0) & 0xF) or 5
        nr_bits = mdef.max_entries * nr_hash_funcs
        nr_bits = nr_bits // 5 * 7  # n * k / ln(2), with 7 / 5 for 1 / ln(2)
        if nr_bits >= 1 << 32 or mdef.max_entries * nr_hash_funcs >= 1 << 32 or nr_bits > 1 << 31:
            return nr_hash_funcs, 1 << 32
        nr_bits = 64 if nr_bits <= 64 else 1 << (nr_bits - 1).bit_length()
        return nr_hash_funcs, nr_bits

    @staticmethod
    def bitset_bytes(nbits: int) -> int:
        return (nbits + 63) // 64 * 8

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return cls.bitset_bytes(cls.geometry(mdef)[1])

    def _hash(self, value: bytes, index: int) -> int:
        """``hash``: jhash2 for values whose size is a multiple of 4, jhash otherwise."""
        seed = (self.hash_seed + index) & 0xFFFFFFFF
        h = jhash2(value, seed) if len(value) % 4 == 0 else jhash(value, seed)
        return h & self.bitset_mask

    def _check(self, value: bytes) -> bytes:
        if len(value) != self.value_size:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, value_size is {self.value_size}")
        return bytes(value)

    def push(self, value: bytes, flags: int = BPF_ANY) -> int:
        """``bloom_map_push_elem``: set the value's bits; only BPF_ANY is allowed."""
        value = self._check(value)
        if flags != BPF_ANY:
            return -errno.EINVAL
        data = self.bits.data
        for i in range(self.nr_hash_funcs):
            h = self._hash(value, i)
            data[h >> 3] |= 1 << (h & 7)
        self.bits.writes += 1
        return 0

    def peek(self, value: bytes | None = None) -> int:
        """``bloom_map_peek_elem``: 0 if every bit of ``value`` is set (maybe present), else -ENOENT."""
        value = self._check(value or b"")
        data = self.bits.data
        for i in range(self.nr_hash_funcs):
            h = self._hash(value, i)
            if not data[h >> 3] >> (h & 7) & 1:
                return -errno.ENOENT
        return 0

    def pop(self) -> int:
        return -errno.EOPNOTSUPP

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """User space pushes through ``BPF_MAP_UPDATE_ELEM``; ``bloom_map_update_elem`` is -EINVAL."""
        self._check_key(key)
        if cpu is not None or flags & BPF_F_LOCK:
            return -errno.EINVAL
        return self.push(value, flags)

    def delete(self, key: bytes) -> int:
        self._check_key(key)
        return -errno.EOPNOTSUPP

    def keys(self) -> list[bytes]:
        return []

    def entries_json(self) -> dict:
        """``entries`` is empty (a bloom filter keeps no values); ``bitset`` is the bitmap in hex,
        ``bits_set`` the number of bits set."""
        data = bytes(self.bits.data)
        return {**self.header_json(), "entries": {}, "hash_funcs": self.nr_hash_funcs,
                "bits_set": sum(bin(b).count("1") for b in data), "bitset": data.hex()}
