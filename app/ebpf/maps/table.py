"""THE map-type table: one :class:`MapType` per map type the playground runs.

Each entry has the kernel's name (``enum bpf_map_type`` without ``BPF_MAP_TYPE_``) and number, a one-line
doc for the UI and lessons, the class that implements it, and ``check_create``: the refusal
``BPF_MAP_CREATE`` would give for given sizes and flags, as ``"ERRNO: reason"``, in the order the kernel
checks (``map_create`` in kernel/bpf/syscall.c, then the type's ``map_alloc_check`` and ``map_alloc``).
Refusals that depend on memory the kernel could not allocate are not modelled; the playground's own
64 MiB limit (:func:`app.ebpf.maps.create_map`) stands in for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .arrays import ArrayMap, PercpuArrayMap, PerfEventArrayMap, ProgArrayMap
from .base import (
    BPF_F_ACCESS_MASK,
    BPF_F_INNER_MAP,
    BPF_F_MMAPABLE,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE,
    BPF_F_PRESERVE_ELEMS,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_F_WRONLY_PROG,
    BPF_F_ZERO_SEED,
    KMALLOC_MAX_SIZE,
    PAGE_SIZE,
    PCPU_MIN_UNIT_SIZE,
    MapInstance,
    round_up,
)
from .hashes import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from .lpm import LpmTrieMap
from .devmap import DevMap
from .of_maps import ArrayOfMapsMap, HashOfMapsMap
from .queues import BloomFilterMap, QueueMap, StackMap
from .ringbuf import RingbufMap

Check = Callable[[str, int, int, int, int], "str | None"]

INT_MAX = (1 << 31) - 1
HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem) on x86-64
LPM_NODE_SIZE = 24  # sizeof(struct lpm_trie_node) since 6.13 (child[2], prefixlen, flags)
RINGBUF_MAX_DATA_SZ = ((1 << 24) - 2 - 1) * PAGE_SIZE

ARRAY_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP
HTAB_CREATE_FLAG_MASK = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED
LPM_CREATE_FLAG_MASK = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK
QUEUE_STACK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK
BLOOM_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK
RINGBUF_CREATE_FLAG_MASK = BPF_F_NUMA_NODE


def _access_ok(flags: int) -> bool:
    """``bpf_map_flags_access_ok``: a program cannot be both read-only and write-only."""
    return flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG


def _unknown(flags: int, mask: int) -> str:
    return f"flags 0x{flags & ~mask:x} are not valid for this map type"


def check_syscall(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``map_create``: checks made for every type before the type's own."""
    if flags & BPF_F_RDONLY and flags & BPF_F_WRONLY:
        return "EINVAL: BPF_F_RDONLY and BPF_F_WRONLY exclude each other"
    return None


def check_array(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``array_map_alloc_check``."""
    percpu = kind == "percpu_array"
    if n == 0:
        return "EINVAL: max_entries is 0"
    if ks != 4:
        return f"EINVAL: array maps have key_size 4 (a u32 index), not {ks}"
    if vs == 0:
        return "EINVAL: value_size is 0"
    if flags & ~ARRAY_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, ARRAY_CREATE_FLAG_MASK)
    if not _access_ok(flags):
        return "EINVAL: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other"
    if percpu and flags & BPF_F_NUMA_NODE:
        return "EINVAL: per-CPU maps cannot be placed on a NUMA node"
    if kind != "array" and flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP):
        return "EINVAL: only array maps take BPF_F_MMAPABLE and BPF_F_INNER_MAP"
    if kind != "perf_event_array" and flags & BPF_F_PRESERVE_ELEMS:
        return "EINVAL: only perf_event_array maps take BPF_F_PRESERVE_ELEMS"
    if vs > INT_MAX:
        return f"E2BIG: value_size {vs} is above INT_MAX"
    if percpu and round_up(vs, 8) > PCPU_MIN_UNIT_SIZE:
        return f"E2BIG: per-CPU values are at most {PCPU_MIN_UNIT_SIZE} bytes"
    return None


def check_fd_array(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``fd_array_map_alloc_check``: values are u32 fds."""
    if vs != 4:
        return f"EINVAL: {kind} values are u32 fds (value_size 4), not {vs}"
    if flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG):
        return f"EINVAL: {kind} maps take neither BPF_F_RDONLY_PROG nor BPF_F_WRONLY_PROG"
    return check_array(kind, ks, vs, n, flags)


def check_devmap(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``dev_map_alloc_check``: u32 keys; values are an ifindex, or an ifindex and a program fd."""
    if n == 0 or ks != 4 or vs not in (4, 8):
        return "EINVAL: devmap needs key_size 4, value_size 4 or 8 and max_entries > 0"
    if flags & ~(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY):
        return "EINVAL: " + _unknown(flags, BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)
    return None


def check_map_of_maps_hash(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``htab_of_map_alloc``: a hash whose values are u32 map fds."""
    if vs != 4:
        return f"EINVAL: {kind} values are u32 fds (value_size 4), not {vs}"
    return check_hash(kind, ks, vs, n, flags)


def check_hash(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``htab_map_alloc_check`` and the size checks of ``htab_map_alloc``."""
    percpu = kind in ("percpu_hash", "lru_percpu_hash")
    lru = kind in ("lru_hash", "lru_percpu_hash")
    if flags & ~HTAB_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, HTAB_CREATE_FLAG_MASK)
    if not _access_ok(flags):
        return "EINVAL: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other"
    if not lru and flags & BPF_F_NO_COMMON_LRU:
        return "EINVAL: BPF_F_NO_COMMON_LRU is for LRU maps"
    if lru and flags & BPF_F_NO_PREALLOC:
        return "ENOTSUPP: LRU maps are always preallocated (no BPF_F_NO_PREALLOC)"
    if flags & BPF_F_NUMA_NODE and (percpu or flags & BPF_F_NO_COMMON_LRU):
        return "EINVAL: per-CPU maps cannot be placed on a NUMA node"
    if n == 0 or ks == 0 or vs == 0:
        what = "max_entries" if n == 0 else "key_size" if ks == 0 else "value_size"
        return f"EINVAL: {what} is 0"
    if ks + vs >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE:
        return f"E2BIG: key_size + value_size must stay below {KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE}"
    if percpu and round_up(vs, 8) > PCPU_MIN_UNIT_SIZE:
        return f"E2BIG: per-CPU values are at most {PCPU_MIN_UNIT_SIZE} bytes"
    if n > 1 << 31:
        return "E2BIG: max_entries is above 2^31"
    return None


def check_lpm(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``trie_alloc``."""
    if n == 0:
        return "EINVAL: max_entries is 0"
    if not flags & BPF_F_NO_PREALLOC:
        return "EINVAL: lpm_trie maps must be created with BPF_F_NO_PREALLOC"
    if flags & ~LPM_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, LPM_CREATE_FLAG_MASK)
    if not _access_ok(flags):
        return "EINVAL: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other"
    if not 5 <= ks <= 260:
        return f"EINVAL: lpm_trie keys are a u32 prefixlen and 1 to 256 bytes of data (key_size 5..260), not {ks}"
    if not 1 <= vs <= KMALLOC_MAX_SIZE - 256 - LPM_NODE_SIZE:
        return f"EINVAL: value_size must be 1..{KMALLOC_MAX_SIZE - 256 - LPM_NODE_SIZE}"
    return None


def check_queue(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``queue_stack_map_alloc_check``."""
    if n == 0:
        return "EINVAL: max_entries is 0"
    if ks != 0:
        return f"EINVAL: {kind} maps have key_size 0, not {ks}"
    if vs == 0:
        return "EINVAL: value_size is 0"
    if flags & ~QUEUE_STACK_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, QUEUE_STACK_CREATE_FLAG_MASK)
    if not _access_ok(flags):
        return "EINVAL: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other"
    if vs > KMALLOC_MAX_SIZE:
        return f"E2BIG: value_size is above {KMALLOC_MAX_SIZE}"
    return None


def check_bloom(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``bloom_map_alloc_check`` then ``bloom_map_alloc``."""
    if vs > KMALLOC_MAX_SIZE:
        return f"E2BIG: value_size is above {KMALLOC_MAX_SIZE}"
    if ks != 0:
        return f"EINVAL: bloom_filter maps have key_size 0, not {ks}"
    if vs == 0:
        return "EINVAL: value_size is 0"
    if n == 0:
        return "EINVAL: max_entries is 0"
    if flags & ~BLOOM_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, BLOOM_CREATE_FLAG_MASK)
    if not _access_ok(flags):
        return "EINVAL: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other"
    return None


def check_ringbuf(kind: str, ks: int, vs: int, n: int, flags: int) -> str | None:
    """``ringbuf_map_alloc``."""
    if flags & ~RINGBUF_CREATE_FLAG_MASK:
        return "EINVAL: " + _unknown(flags, RINGBUF_CREATE_FLAG_MASK)
    if ks or vs:
        return "EINVAL: ringbuf maps have key_size 0 and value_size 0"
    if n == 0 or n & (n - 1) or n % PAGE_SIZE:
        return f"EINVAL: a ringbuf's max_entries is its size in bytes: a power of 2 and a multiple of {PAGE_SIZE}"
    if n > RINGBUF_MAX_DATA_SZ:
        return "E2BIG: ringbuf is larger than the record header's page offset can address"
    return None


@dataclass(frozen=True)
class MapType:
    """One map type: kernel name and number, a one-line doc, the kernel source it follows, the creation
    rules and the implementing class."""

    name: str
    kernel_id: int
    doc: str
    source: str
    checker: Check = field(repr=False, compare=False)
    impl: type[MapInstance] = field(repr=False, compare=False)

    @property
    def percpu(self) -> bool:
        return self.name in ("percpu_array", "percpu_hash", "lru_percpu_hash")

    def check_create(self, key_size: int, value_size: int, max_entries: int, flags: int) -> str | None:
        """The kernel's refusal of ``BPF_MAP_CREATE`` with these attributes (``"EINVAL: ..."``), or None."""
        for check in (check_syscall, self.checker):
            err = check(self.name, key_size, value_size, max_entries, flags)
            if err:
                return err
        return None


def _t(name: str, kernel_id: int, source: str, checker: Check, impl: type[MapInstance], doc: str) -> MapType:
    return MapType(name, kernel_id, doc, "kernel/bpf/" + source, checker, impl)


MAP_TYPES: dict[str, MapType] = {t.name: t for t in (
    _t("hash", 1, "hashtab.c", check_hash, HashMap,
       "Key/value hash table; new keys fail with -E2BIG once max_entries are in use."),
    _t("array", 2, "arraymap.c", check_array, ArrayMap,
       "Fixed array of max_entries zero-initialised values indexed by a u32; entries cannot be deleted."),
    _t("prog_array", 3, "arraymap.c", check_fd_array, ProgArrayMap,
       "Table of programs (by index here) that bpf_tail_call jumps to."),
    _t("perf_event_array", 4, "arraymap.c", check_fd_array, PerfEventArrayMap,
       "Per-CPU perf buffers that bpf_perf_event_output appends samples to."),
    _t("percpu_hash", 5, "hashtab.c", check_hash, PercpuHashMap,
       "Hash table with one value per CPU; a program sees its own CPU's copy."),
    _t("percpu_array", 6, "arraymap.c", check_array, PercpuArrayMap,
       "Array with one value per CPU per index; a program sees its own CPU's copy."),
    _t("lru_hash", 9, "hashtab.c", check_hash, LruHashMap,
       "Hash table that evicts an old entry (by the kernel's approximate LRU) instead of filling up."),
    _t("lru_percpu_hash", 10, "hashtab.c", check_hash, LruPercpuHashMap,
       "LRU hash table with one value per CPU."),
    _t("lpm_trie", 11, "lpm_trie.c", check_lpm, LpmTrieMap,
       "Longest-prefix-match trie: a lookup returns the value of the most specific stored prefix."),
    _t("array_of_maps", 12, "map_in_map.c", check_fd_array, ArrayOfMapsMap,
       "Array of other maps (MapDef.inner names the template); a lookup gives a map to use with helpers."),
    _t("hash_of_maps", 13, "map_in_map.c", check_map_of_maps_hash, HashOfMapsMap,
       "Hash table of other maps (MapDef.inner names the template)."),
    _t("devmap", 14, "devmap.c", check_devmap, DevMap,
       "Network devices (by ifindex) that bpf_redirect_map sends XDP frames to."),
    _t("queue", 22, "queue_stack_maps.c", check_queue, QueueMap,
       "FIFO of values without keys: bpf_map_push_elem, bpf_map_pop_elem, bpf_map_peek_elem."),
    _t("stack", 23, "queue_stack_maps.c", check_queue, StackMap,
       "LIFO of values without keys: bpf_map_push_elem, bpf_map_pop_elem, bpf_map_peek_elem."),
    _t("ringbuf", 27, "ringbuf.c", check_ringbuf, RingbufMap,
       "Ring buffer of variable-size records shared by all CPUs (bpf_ringbuf_output/reserve/submit)."),
    _t("bloom_filter", 30, "bloom_filter.c", check_bloom, BloomFilterMap,
       "Bloom filter: push adds a value, peek says 'maybe present' or 'definitely absent'."),
)}
"""Map types by kernel name (``array``, ``lru_hash``, ...)."""

MAP_TYPE_IDS: dict[int, MapType] = {t.kernel_id: t for t in MAP_TYPES.values()}
