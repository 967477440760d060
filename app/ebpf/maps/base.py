"""What every map instance shares: uapi constants, the address layout, the common interface.

A map instance owns a 1 TiB window of the VM's address space starting at ``base``:

* ``base`` .. ``base + 4 KiB``: the map "object", a read-only region of zeros whose address is the
  ``CONST_PTR_TO_MAP`` a program holds (``ld_imm64`` with ``BPF_PSEUDO_MAP_FD``);
* ``base + n * 256 MiB`` (n = 1, 2, ...): the regions that hold values (one per CPU for per-CPU maps),
  each at most 64 MiB, so an access that runs off one region never lands in the next.

Keys live in Python dictionaries; values live in ``Region.data`` so that a program can read and write
them through the pointer a lookup returns, as it does in the kernel. Every write the instance makes
itself goes through :meth:`MapInstance._write`, which bumps ``Region.writes`` (the VM uses that
counter to share the bytes of unchanged regions between checkpoints).

Errors are returned as the kernel returns them, negative errno values (``-errno.EEXIST``); only a
caller's mistake (a key of the wrong size, say) raises, as a ValueError.
"""
from __future__ import annotations

import errno as _errno
from typing import ClassVar

from ..program import MapDef
from ..vm.memory import Region

# --- include/uapi/linux/bpf.h --------------------------------------------------------------------------

BPF_ANY = 0  # create a new element or update an existing one
BPF_NOEXIST = 1  # create a new element only if it did not exist
BPF_EXIST = 2  # update an existing element
BPF_F_LOCK = 4  # spin-locked update (needs a bpf_spin_lock in the value's BTF; never available here)

# map_flags of BPF_MAP_CREATE
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_STACK_BUILD_ID = 1 << 5
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_CLONE = 1 << 9
BPF_F_MMAPABLE = 1 << 10
BPF_F_PRESERVE_ELEMS = 1 << 11
BPF_F_INNER_MAP = 1 << 12
BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG

# ring buffer flags and bpf_ringbuf_query() selectors
BPF_RB_NO_WAKEUP = 1 << 0
BPF_RB_FORCE_WAKEUP = 1 << 1
BPF_RB_AVAIL_DATA = 0
BPF_RB_RING_SIZE = 1
BPF_RB_CONS_POS = 2
BPF_RB_PROD_POS = 3
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8

BPF_F_CURRENT_CPU = 0xFFFFFFFF  # perf_event_output: the current CPU's slot
BPF_F_INDEX_MASK = 0xFFFFFFFF

ENOTSUPP = 524  # kernel-internal "operation not supported" (not in the errno module)

# --- kernel sizes this module mirrors --------------------------------------------------------------------

PAGE_SIZE = 4096
KMALLOC_MAX_SIZE = 1 << 22  # x86-64: 1 << (PAGE_SHIFT + MAX_PAGE_ORDER)
PCPU_MIN_UNIT_SIZE = 32 << 10  # largest per-CPU allocation (percpu value sizes are bounded by it)

# --- the playground's own limits --------------------------------------------------------------------------

OBJECT_SIZE = 4096  # the read-only map object at ``base``
REGION_STRIDE = 1 << 28  # value regions start at base + n * 256 MiB
WINDOW_SIZE = 1 << 40  # each map owns 1 TiB of address space
MAX_MAP_MEMORY = 64 << 20  # all of one map's regions together
MAX_NCPUS = 64


def round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def errname(err: int) -> str:
    """``-17`` or ``17`` -> ``"EEXIST"`` (ENOTSUPP, the kernel-only 524, included)."""
    err = abs(err)
    return "ENOTSUPP" if err == ENOTSUPP else _errno.errorcode.get(err, str(err))


class MapError(ValueError):
    """A map the playground cannot create: ``errno`` is the kernel's errno name for it (``"EINVAL"``), or
    ``"ENOMEM"`` for the playground's memory limit."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errno = message.split(":", 1)[0]


class MapInstance:
    """One live map: its regions, and the kernel's operations on it.

    ``lookup``/``update``/``delete``/``push``/``pop``/``peek`` are what a program's helpers do and what
    ``bpf(2)`` does for user space; the ``cpu`` argument says which it is (an int: a program running on
    that CPU; None: the syscall). Operations a map type does not have return the kernel's errno for
    them. Subclasses mirror one kernel ``bpf_map_ops`` table each and name it in their docstring.
    """

    #: Python-side state that :meth:`snapshot` copies (flat containers of immutable values).
    STATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        self.mdef = mdef
        self.name = mdef.name
        self.type = mdef.type
        self.key_size = mdef.key_size
        self.value_size = mdef.value_size
        self.max_entries = mdef.max_entries
        self.flags = mdef.flags
        self.ncpus = ncpus
        self.base = base
        self.object_addr = base
        self._regions: list[Region] = [Region(f"{mdef.name}.map", base, bytearray(OBJECT_SIZE), writable=False)]

    # --- layout ----------------------------------------------------------------------------------------

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        """Bytes of value storage an instance of ``mdef`` needs (the map object not counted)."""
        return 0

    def _add_region(self, suffix: str, size: int, writable: bool | None = None) -> Region:
        """A new value region; programs may store into it unless the map has BPF_F_RDONLY_PROG (the
        verifier refuses such stores, so the VM faulting on one points at a verifier bug)."""
        if writable is None:
            writable = not self.flags & BPF_F_RDONLY_PROG
        r = Region(f"{self.name}.{suffix}", self.base + len(self._regions) * REGION_STRIDE, bytearray(size),
                   writable=writable)
        self._regions.append(r)
        return r

    def regions(self) -> list[Region]:
        """The map object first, then the value regions; the same Region objects for the instance's life."""
        return list(self._regions)

    @staticmethod
    def _write(region: Region, off: int, data: bytes) -> None:
        region.data[off:off + len(data)] = data
        region.writes += 1

    # --- argument checks (a caller's mistake raises) ----------------------------------------------------------

    def _check_key(self, key: bytes) -> bytes:
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key is {len(key)} bytes, key_size is {self.key_size}")
        return bytes(key)

    def user_value_size(self) -> int:
        """Bytes of one value as ``bpf(2)`` passes it (per-CPU maps: one 8-byte-aligned slot per CPU)."""
        return self.value_size

    def _check_value(self, value: bytes, cpu: int | None) -> bytes:
        want = self.value_size if cpu is not None else self.user_value_size()
        if len(value) != want:
            who = "a program" if cpu is not None else "user space"
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, {who} passes {want}")
        return bytes(value)

    def _check_cpu(self, cpu: int | None) -> None:
        if cpu is not None and not 0 <= cpu < self.ncpus:
            raise ValueError(f"map {self.name}: cpu {cpu} is not one of the {self.ncpus} CPUs")

    # --- operations (the defaults are what the kernel answers for a map without them) ----------------------

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """Address of the value stored under ``key`` (per-CPU maps: ``cpu``'s copy), or None."""
        return None

    def read(self, key: bytes) -> bytes | None:
        """The value as ``BPF_MAP_LOOKUP_ELEM`` copies it to user space, or None (ENOENT)."""
        addr = self.lookup(key, 0)
        if addr is None:
            return None
        region, off = self._locate(addr)
        return bytes(region.data[off:off + self.value_size])

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """Store ``value`` under ``key``: 0 or a negative errno."""
        return -_errno.EINVAL

    def delete(self, key: bytes) -> int:
        return -_errno.EINVAL

    def get_next_key(self, key: bytes | None) -> bytes | None:
        """The key after ``key`` in iteration order (the first one for None or a missing key), or None."""
        return None

    def keys(self) -> list[bytes]:
        """All keys in :meth:`get_next_key` order."""
        out: list[bytes] = []
        k = self.get_next_key(None)
        while k is not None and len(out) <= self.max_entries:
            out.append(k)
            k = self.get_next_key(k)
        return out

    def push(self, value: bytes, flags: int = BPF_ANY) -> int:
        return -_errno.EINVAL

    def pop(self) -> bytes | int:
        return -_errno.EINVAL

    def peek(self, value: bytes | None = None) -> bytes | int:
        return -_errno.EINVAL

    def _locate(self, addr: int) -> tuple[Region, int]:
        for r in self._regions:
            if r.base <= addr < r.end:
                return r, addr - r.base
        raise ValueError(f"map {self.name}: 0x{addr:x} is not in this map")

    # --- inputs and results --------------------------------------------------------------------------------

    def seed(self, key: bytes, value: bytes) -> None:
        """Set an entry before a run, as user space would with ``BPF_MAP_UPDATE_ELEM`` (BPF_ANY).

        ``value`` is one value, or for per-CPU maps either one value (copied to every CPU) or the
        user-space layout (one 8-byte-aligned slot per CPU). Raises ValueError naming the problem.
        """
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key is {len(key)} bytes, {self.type} map {self.name} has "
                             f"key_size {self.key_size}")
        value = self._seed_value(value)
        err = self.update(key, value, BPF_ANY, None)
        if err:
            raise ValueError(f"map {self.name}: cannot seed key {key.hex() or '(none)'}: {errname(err)}"
                             f"{self._seed_hint(err)}")

    def _seed_value(self, value: bytes) -> bytes:
        if len(value) != self.user_value_size():
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, {self.type} map {self.name} has "
                             f"value_size {self.value_size}")
        return bytes(value)

    def _seed_hint(self, err: int) -> str:
        return {-_errno.E2BIG: f" (the map is full or the index is >= max_entries {self.max_entries})"}.get(err, "")

    def header_json(self) -> dict:
        return {"name": self.name, "type": self.type, "key_size": self.key_size, "value_size": self.value_size,
                "max_entries": self.max_entries}

    def entries_json(self) -> dict:
        """``{"name", "type", "key_size", "value_size", "max_entries", "entries": {KEYHEX: VALUEHEX}}``."""
        entries = {}
        for k in self.keys():
            v = self.read(k)
            if v is not None:
                entries[k.hex()] = self._value_json(v)
        return {**self.header_json(), "entries": entries}

    def _value_json(self, v: bytes):
        return v.hex()

    # --- checkpoints ---------------------------------------------------------------------------------------

    def snapshot(self) -> tuple:
        """Python-side state (the VM snapshots ``Region.data`` itself)."""
        return tuple(_clone(getattr(self, name)) for name in self.STATE)

    def restore(self, snap: tuple) -> None:
        """Go back to ``snap``; Region objects are kept (their contents are restored by the VM)."""
        for name, value in zip(self.STATE, snap):
            setattr(self, name, _clone(value))


def _clone(x):
    """A copy of one level of a flat container (its items are immutable)."""
    if isinstance(x, dict):
        return dict(x)
    if isinstance(x, list):
        return list(x)
    if isinstance(x, bytearray):
        return bytearray(x)
    return x


class PercpuValues:
    """What per-CPU maps share: user space sees one ``stride``-byte slot per CPU, CPU 0 first."""

    stride: int
    ncpus: int
    value_size: int

    def user_value_size(self) -> int:
        return self.stride * self.ncpus

    def _seed_value(self, value: bytes) -> bytes:
        if len(value) == self.value_size:  # one value for every CPU
            return (bytes(value) + bytes(self.stride - self.value_size)) * self.ncpus
        return super()._seed_value(value)  # type: ignore[misc]

    def _value_json(self, v: bytes):
        return [v[c * self.stride:c * self.stride + self.value_size].hex() for c in range(self.ncpus)]


class SlotPool:
    """Value slots of ``stride`` bytes in one region per CPU, with a LIFO free list (the kernel's
    ``pcpu_freelist`` seen from one CPU: the element freed last is reused first)."""

    def __init__(self, owner: MapInstance, nslots: int, stride: int, percpu: bool):
        self.stride = stride
        self.nslots = nslots
        if percpu:
            self.regions = [owner._add_region(f"values[cpu{c}]", nslots * stride) for c in range(owner.ncpus)]
        else:
            self.regions = [owner._add_region("values", nslots * stride)]

    def addr(self, slot: int, cpu: int = 0) -> int:
        r = self.regions[cpu if len(self.regions) > 1 else 0]
        return r.base + slot * self.stride

    def get(self, slot: int, cpu: int = 0, size: int | None = None) -> bytes:
        r = self.regions[cpu if len(self.regions) > 1 else 0]
        off = slot * self.stride
        return bytes(r.data[off:off + (self.stride if size is None else size)])

    def put(self, slot: int, data: bytes, cpu: int = 0) -> None:
        MapInstance._write(self.regions[cpu if len(self.regions) > 1 else 0], slot * self.stride, data)

    def zero(self, slot: int) -> None:
        for r in self.regions:
            MapInstance._write(r, slot * self.stride, bytes(self.stride))
