"""Array maps: ``array``, ``percpu_array``, ``prog_array`` and ``perf_event_array`` (kernel/bpf/arraymap.c).

Every index below ``max_entries`` always exists: values are preallocated, zero-initialised and laid out
with a stride of ``round_up(value_size, 8)`` as in ``array_map_alloc``. A per-CPU array has one such
region per CPU; user space reads and writes all CPUs at once, one 8-byte-aligned slot each, CPU 0 first
(``bpf_percpu_array_copy`` / ``bpf_percpu_array_update``), padding included.

The fd arrays store small integers instead of kernel objects: a ``prog_array`` holds program indexes (the
playground's "program fds"), a ``perf_event_array`` holds, per index, the CPU whose perf buffer is attached
there. Like ``libbpf``'s ``perf_buffer__new``, index ``i`` starts attached to CPU ``i``'s buffer for every
``i`` below both ``max_entries`` and the number of CPUs.
"""
from __future__ import annotations

import errno
import struct

from ..program import MapDef
from .base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_CURRENT_CPU,
    BPF_F_INDEX_MASK,
    BPF_F_LOCK,
    BPF_NOEXIST,
    MAX_MAP_MEMORY,
    MapInstance,
    PercpuValues,
    SlotPool,
    round_up,
)


def _index(key: bytes) -> int:
    return struct.unpack("<I", key)[0]


def array_next_key(key: bytes | None, max_entries: int) -> bytes | None:
    """``bpf_array_get_next_key``: indexes in order; a missing or out-of-range key restarts at 0."""
    index = 0xFFFFFFFF if key is None else _index(key)
    if index >= max_entries:
        return struct.pack("<I", 0)
    if index == max_entries - 1:
        return None
    return struct.pack("<I", index + 1)


class ArrayMap(MapInstance):
    """``array_map_ops``: lookup returns the element in place; delete is -EINVAL."""

    percpu = False

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.stride = round_up(self.value_size, 8)
        self.pool = SlotPool(self, self.max_entries, self.stride, self.percpu)

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return mdef.max_entries * round_up(mdef.value_size, 8) * (ncpus if cls.percpu else 1)

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """``array_map_lookup_elem`` / ``percpu_array_map_lookup_elem`` (and ``_lookup_percpu_elem``)."""
        index = _index(self._check_key(key))
        if index >= self.max_entries or not 0 <= cpu < self.ncpus:
            return None
        return self.pool.addr(index, cpu)

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``array_map_update_elem`` (from a program: ``value_size`` bytes into ``cpu``'s copy) or, from user
        space, ``bpf_percpu_array_update`` for per-CPU arrays. The syscall refuses BPF_F_LOCK first."""
        index = _index(self._check_key(key))
        value = self._check_value(value, cpu)
        self._check_cpu(cpu)
        if cpu is None and flags & BPF_F_LOCK:
            return -errno.EINVAL  # map_update_elem(): no bpf_spin_lock in the value
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if flags & BPF_NOEXIST:
            return -errno.EEXIST
        if flags & BPF_F_LOCK:
            return -errno.EINVAL
        if cpu is not None:
            self.pool.put(index, value, cpu)
        elif self.percpu:
            for c in range(self.ncpus):
                self.pool.put(index, value[c * self.stride:(c + 1) * self.stride], c)
        else:
            self.pool.put(index, value)
        return 0

    def delete(self, key: bytes) -> int:
        """``array_map_delete_elem``: elements of an array cannot be deleted."""
        self._check_key(key)
        return -errno.EINVAL

    def get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)

    def keys(self) -> list[bytes]:
        return [struct.pack("<I", i) for i in range(self.max_entries)]

    def read(self, key: bytes) -> bytes | None:
        index = _index(self._check_key(key))
        if index >= self.max_entries:
            return None
        if self.percpu:
            return b"".join(self.pool.get(index, c) for c in range(self.ncpus))
        return self.pool.get(index, 0, self.value_size)


class PercpuArrayMap(PercpuValues, ArrayMap):
    """``percpu_array_map_ops``: one value per CPU; a program sees its own CPU's copy."""

    percpu = True



class FdArrayMap(MapInstance):
    """Common part of ``prog_array_map_ops`` and ``perf_event_array_map_ops`` (``fd_array_map_*``):
    programs cannot look values up; user space stores u32 "fds" with BPF_ANY only."""

    STATE = ("slots",)

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.slots: list[int | None] = [None] * self.max_entries

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """``fd_array_map_lookup_elem``: ERR_PTR(-EOPNOTSUPP); the verifier never lets a program call it."""
        self._check_key(key)
        return None

    def read(self, key: bytes) -> bytes | None:
        index = _index(self._check_key(key))
        if index >= self.max_entries or self.slots[index] is None:
            return None
        return struct.pack("<I", self.slots[index])

    def _valid(self, fd: int) -> int:
        """0 if ``fd`` may be stored, else a negative errno (``map_fd_get_ptr``)."""
        return 0

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``bpf_fd_array_map_update_elem`` (user space only)."""
        index = _index(self._check_key(key))
        if cpu is not None:
            return -errno.EOPNOTSUPP  # no map_update_elem op: the verifier refuses the helper call
        if len(value) != 4:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, user space passes 4")
        if flags != BPF_ANY:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        fd = _index(value)
        err = self._valid(fd)
        if err:
            return err
        self.slots[index] = fd
        return 0

    def delete(self, key: bytes) -> int:
        """``fd_array_map_delete_elem``."""
        index = _index(self._check_key(key))
        if index >= self.max_entries:
            return -errno.E2BIG
        if self.slots[index] is None:
            return -errno.ENOENT
        self.slots[index] = None
        return 0

    def get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(None if key is None else self._check_key(key), self.max_entries)

    def keys(self) -> list[bytes]:
        return [struct.pack("<I", i) for i in range(self.max_entries)]

    def _seed_value(self, value: bytes) -> bytes:
        if len(value) != 4:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, {self.type} values are u32")
        return bytes(value)


class ProgArrayMap(FdArrayMap):
    """``prog_array_map_ops``: program indexes for ``bpf_tail_call``. Set :attr:`prog_count` to have
    updates refuse indexes of programs that do not exist (-EBADF, as for a bad fd)."""

    prog_count: int | None = None

    def _valid(self, fd: int) -> int:
        if self.prog_count is not None and fd >= self.prog_count:
            return -errno.EBADF
        return 0

    def target(self, index: int) -> int | None:
        """The program a tail call through ``index`` jumps to, or None (the call falls through)."""
        if not 0 <= index < self.max_entries:
            return None
        return self.slots[index]

    def entries_json(self) -> dict:
        """Only the occupied slots (an empty slot reads as ENOENT)."""
        return {**self.header_json(), "entries": {struct.pack("<I", i).hex(): struct.pack("<I", p).hex()
                                                  for i, p in enumerate(self.slots) if p is not None}}


class PerfEventArrayMap(FdArrayMap):
    """``perf_event_array_map_ops`` plus the perf buffers a user-space reader would have opened.

    Values are CPU numbers: the perf buffer attached at that index. ``output`` mirrors
    ``bpf_perf_event_output``'s checks (``__bpf_perf_event_output``). Samples are kept per CPU, in order,
    as the bytes the program passed (the kernel pads the raw sample to 8 bytes with zeros; a reader sees
    that padding, which is left out here). Buffers hold at most 64 MiB of samples; past that samples are
    lost (counted in ``lost``) and ``output`` returns -ENOSPC.
    """

    STATE = ("slots", "samples", "lost", "used")

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        for i in range(min(self.max_entries, ncpus)):
            self.slots[i] = i
        self.samples: list[tuple[int, bytes]] = []  # (cpu, data) in output order
        self.lost = 0
        self.used = 0

    def _valid(self, fd: int) -> int:
        return 0 if fd < self.ncpus else -errno.EBADF

    def read(self, key: bytes) -> bytes | None:
        """``fd_array_map_lookup_elem`` from user space: perf_event_array has no sys lookup."""
        self._check_key(key)
        return None

    def output(self, cpu: int, data: bytes, flags: int = BPF_F_CURRENT_CPU) -> int:
        """``bpf_perf_event_output`` from a program running on ``cpu``: 0 or a negative errno."""
        self._check_cpu(cpu)
        if flags & ~BPF_F_INDEX_MASK:
            return -errno.EINVAL
        index = cpu if flags & BPF_F_INDEX_MASK == BPF_F_CURRENT_CPU else flags & BPF_F_INDEX_MASK
        if index >= self.max_entries:
            return -errno.E2BIG
        attached = self.slots[index]
        if attached is None:
            return -errno.ENOENT
        if attached != cpu:
            return -errno.EOPNOTSUPP  # the event lives on another CPU
        if self.used + len(data) > MAX_MAP_MEMORY:
            self.lost += 1
            return -errno.ENOSPC
        self.samples.append((cpu, bytes(data)))
        self.used += len(data)
        return 0

    def records(self, cpu: int | None = None) -> list[bytes]:
        """Samples in output order (only ``cpu``'s buffer when given)."""
        return [d for c, d in self.samples if cpu is None or c == cpu]

    def entries_json(self) -> dict:
        """``entries``: the attached CPU per index; ``records``: ``[{"cpu", "data"}]`` in output order."""
        entries = {struct.pack("<I", i).hex(): struct.pack("<I", c).hex()
                   for i, c in enumerate(self.slots) if c is not None}
        return {**self.header_json(), "entries": entries, "lost": self.lost,
                "records": [{"cpu": c, "data": d.hex()} for c, d in self.samples]}


__all__ = ["ArrayMap", "PercpuArrayMap", "ProgArrayMap", "PerfEventArrayMap", "array_next_key"]
