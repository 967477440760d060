"""BPF maps with the kernel's semantics: the map-type table and live map instances.

Use::

    from app.ebpf.maps import MAP_TYPES, create_map
    m = create_map(MapDef("counts", "array", 4, 8, 16), MAP_BASE, ncpus=2)
    for region in m.regions():              # values live in Region.data
        machine.mem.add(region)
    addr = m.lookup(struct.pack("<I", 3), cpu=0)   # what bpf_map_lookup_elem returns (None: NULL)
    m.update(key, value, BPF_ANY, cpu=0)    # a program's bpf_map_update_elem: 0 or -errno
    m.update(key, value, BPF_ANY)           # user space (bpf(2)); per-CPU values: one 8-byte slot per CPU

Modules, one idea each: :mod:`.table` (the map-type table and the creation rules), :mod:`.base` (uapi
constants, address layout, the common interface), :mod:`.arrays`, :mod:`.hashes` with :mod:`.lru`,
:mod:`.lpm`, :mod:`.queues` (queue, stack, bloom filter, with :mod:`.jhash`) and :mod:`.ringbuf`.

Where the playground differs from the kernel (each module says more):

* One CPU runs at a time and nothing runs concurrently; ``ncpus`` is a parameter. User-space operations
  (``cpu=None``) act as if issued on CPU 0 where a CPU matters (LRU lists, spare hash elements).
* Hash maps iterate in insertion order (the kernel's order depends on a random hash seed).
* Bloom filters hash with seed 0, as the kernel does for a BPF_F_ZERO_SEED map.
* Elements the kernel frees after an RCU grace period (no-prealloc hashes, LPM nodes) are reused at once.
* ``array_of_maps`` and ``hash_of_maps`` are not available: MapDef cannot name an inner map.
* The JSON shape of keyless maps: ``queue``/``stack`` add ``values`` (pop order), ``ringbuf`` adds
  ``records``, ``pending``, ``consumer_pos``, ``producer_pos``, ``bloom_filter`` adds ``bitset``,
  ``bits_set``, ``hash_funcs``, ``perf_event_array`` adds ``records`` (``[{"cpu", "data"}]``) and ``lost``;
  their ``entries`` is ``{}``.
"""
from __future__ import annotations

from ..program import MapDef
from .arrays import ArrayMap, PercpuArrayMap, PerfEventArrayMap, ProgArrayMap
from .base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_CURRENT_CPU,
    BPF_F_LOCK,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_F_ZERO_SEED,
    BPF_NOEXIST,
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
    ENOTSUPP,
    MAX_MAP_MEMORY,
    MAX_NCPUS,
    OBJECT_SIZE,
    WINDOW_SIZE,
    MapError,
    MapInstance,
    errname,
)
from .hashes import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from .lpm import LpmTrieMap
from .queues import BloomFilterMap, QueueMap, StackMap
from .ringbuf import RingbufMap
from .table import MAP_TYPE_IDS, MAP_TYPES, MapType


def check_map(mdef: MapDef, ncpus: int) -> str | None:
    """Why ``mdef`` cannot be created (``"EINVAL: ..."``, or ``"ENOMEM: ..."`` past the playground's
    64 MiB per map), or None."""
    mtype = MAP_TYPES.get(mdef.type)
    if mtype is None:
        return f"EINVAL: unknown map type {mdef.type!r}; known: {', '.join(MAP_TYPES)}"
    err = mtype.check_create(mdef.key_size, mdef.value_size, mdef.max_entries, mdef.flags)
    if err:
        return err
    need = map_memory(mdef, ncpus)
    if need > MAX_MAP_MEMORY:
        return (f"ENOMEM: map {mdef.name} would need {need} bytes, more than the playground's "
                f"{MAX_MAP_MEMORY >> 20} MiB per map")
    return None


def map_memory(mdef: MapDef, ncpus: int) -> int:
    """Bytes of value memory a map of ``mdef`` takes (all CPUs' copies), for budgets across maps."""
    mtype = MAP_TYPES.get(mdef.type)
    return 0 if mtype is None else mtype.impl.memory(mdef, ncpus)


def create_map(mdef: MapDef, base: int, ncpus: int) -> MapInstance:
    """A live map for ``mdef`` whose regions lie in ``[base, base + 1 TiB)``; ``object_addr == base``.

    Raises :class:`MapError` (a ValueError whose ``errno`` is the kernel's errno name) when the kernel would
    refuse the map or it needs more than 64 MiB; ValueError for ``ncpus`` outside 1..64.
    """
    if not 1 <= ncpus <= MAX_NCPUS:
        raise ValueError(f"ncpus must be 1..{MAX_NCPUS}, not {ncpus}")
    err = check_map(mdef, ncpus)
    if err:
        raise MapError(f"{err.split(':', 1)[0]}: map {mdef.name} ({mdef.type}):{err.split(':', 1)[1]}")
    return MAP_TYPES[mdef.type].impl(mdef, base, ncpus)


__all__ = [
    "MAP_TYPES", "MAP_TYPE_IDS", "MapType", "MapInstance", "MapError", "create_map", "check_map", "map_memory",
    "errname", "ArrayMap", "PercpuArrayMap", "ProgArrayMap", "PerfEventArrayMap", "HashMap", "PercpuHashMap",
    "LruHashMap", "LruPercpuHashMap", "LpmTrieMap", "QueueMap", "StackMap", "BloomFilterMap", "RingbufMap",
    "BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "BPF_F_LOCK", "BPF_F_NO_PREALLOC", "BPF_F_NO_COMMON_LRU",
    "BPF_F_ZERO_SEED", "BPF_F_CURRENT_CPU", "BPF_RB_AVAIL_DATA", "BPF_RB_RING_SIZE", "BPF_RB_CONS_POS",
    "BPF_RB_PROD_POS", "BPF_RINGBUF_BUSY_BIT", "BPF_RINGBUF_DISCARD_BIT", "BPF_RINGBUF_HDR_SZ", "ENOTSUPP",
    "MAX_MAP_MEMORY", "OBJECT_SIZE", "WINDOW_SIZE",
]
