"""The VM's flat 64-bit address space: named regions at fixed, kernel-like base addresses.

Pointers are plain 64-bit numbers, as in the kernel. Every access is resolved to the one region that holds
all of its bytes; anything else is a fault that names the region and offset (or says that no region is
there). Bases are fixed so that runs are deterministic and addresses look like the ones a kernel prints.
"""
from __future__ import annotations

from dataclasses import dataclass

STACK_SIZE = 512  # MAX_BPF_STACK: bytes per frame
MAX_FRAMES = 8  # MAX_CALL_FRAMES

STACK_BASE = 0xFFFFC90000100000  # vmalloc-area addresses, like a kernel stack; frame i at STACK_BASE + i·0x1000
STACK_STRIDE = 0x1000
CTX_BASE = 0xFFFF888100000000  # direct-map addresses, like a kernel object
PACKET_BASE = 0xFFFF888102000000
MEM_BASE = 0xFFFF888104000000  # the input memory of conformance-style runs (r1 = address, r2 = length)
MAP_BASE = 0xFFFF888200000000
CODE_BASE = 0xFFFFFFFFA0000000  # "text" addresses: ld_func results, helper-visible code pointers


def _bytes(n: int) -> str:
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _where(r: "Region", addr: int) -> str:
    """``stack[0]`` addresses relative to the frame pointer (as programs write them), others to the base."""
    if r.name.startswith("stack["):
        return f"fp{addr - r.end:+d}"
    return f"{r.name}{addr - r.base:+d}"


@dataclass(eq=False)
class Region:
    """A contiguous block of guest memory. ``data`` is mutated in place by stores; ``end`` is kept as a
    plain attribute (not a property) because the VM's generated code reads it on every access."""

    name: str
    base: int
    data: bytearray
    writable: bool = True
    writes: int = 0  # bumped on each store; lets snapshots share the bytes of unchanged regions
    end: int = 0
    hooks: object = None  # a context region: loads and stores go through hooks.load/.store (never cached)
    user: bool = False  # simulated user-space memory (only bpf_probe_read_user* reads it)

    def __post_init__(self) -> None:
        self.end = self.base + len(self.data)

    def replace_data(self, data: bytes | bytearray, base: int | None = None) -> None:
        """Give the region new contents (and optionally a new base), e.g. after a packet is resized."""
        self.data = bytearray(data)
        if base is not None:
            self.base = base
        self.end = self.base + len(self.data)
        self.writes += 1


@dataclass(frozen=True)
class Access:
    """A failed access, before the VM adds the pc: which bytes, and what is (or is not) there."""

    kind: str  # "read" or "write"
    addr: int
    size: int
    region: str | None
    offset: int | None
    message: str


class Memory:
    """The set of regions, with a most-recently-used lookup cache."""

    def __init__(self) -> None:
        self.regions: list[Region] = []
        self.last: list[Region] = [Region("none", 0, bytearray(), writable=False)]  # most recently used
        self.journal: list | None = None  # (addr, old bytes, new bytes) per write() while a step records

    def add(self, region: Region) -> Region:
        for r in self.regions:
            if region.base < r.end and r.base < region.end:
                raise ValueError(f"region {region.name} overlaps {r.name}")
        self.regions.append(region)
        return region

    def remove(self, region: Region) -> None:
        self.regions.remove(region)
        if self.last[0] is region:
            self.last[0] = Region("none", 0, bytearray(), writable=False)

    def find(self, addr: int, size: int) -> Region | None:
        last = self.last[0]
        if last.base <= addr and addr + size <= last.end:
            return last
        for r in self.regions:
            if r.base <= addr and addr + size <= r.end:
                if r.hooks is None:
                    self.last[0] = r
                return r
        return None

    def explain(self, kind: str, addr: int, size: int) -> Access:
        """Why an access of ``size`` bytes at ``addr`` is not allowed."""
        for r in self.regions:
            if r.base <= addr < r.end or r.base < addr + size <= r.end:
                if r.base <= addr and addr + size <= r.end:
                    return Access(kind, addr, size, r.name, addr - r.base,
                                  f"invalid {kind} of {_bytes(size)} at {_where(r, addr)}: {r.name} is read-only")
                return self._out_of_bounds(kind, addr, size, r)
        near = min(self.regions, key=lambda r: min(abs(addr - r.base), abs(addr - r.end)), default=None)
        if near is not None and min(abs(addr - near.base), abs(addr - near.end)) < 0x1000:
            return self._out_of_bounds(kind, addr, size, near)
        return Access(kind, addr, size, None, None, f"invalid {kind} of {_bytes(size)} at 0x{addr:x}: "
                                                    f"no memory there")

    @staticmethod
    def _out_of_bounds(kind: str, addr: int, size: int, r: Region) -> Access:
        if r.name.startswith("stack["):
            extent = f"{r.name} is fp-{len(r.data)}..fp-1"
        else:
            extent = f"{r.name} is {_bytes(len(r.data))}"
        return Access(kind, addr, size, r.name, addr - r.base,
                      f"invalid {kind} of {_bytes(size)} at {_where(r, addr)}: out of bounds ({extent})")

    def read(self, addr: int, size: int) -> bytes | Access:
        r = self.find(addr, size)
        if r is None:
            return self.explain("read", addr, size)
        off = addr - r.base
        return bytes(r.data[off:off + size])

    def write(self, addr: int, data: bytes) -> Access | None:
        size = len(data)
        r = self.find(addr, size)
        if r is None or not r.writable:
            return self.explain("write", addr, size)
        off = addr - r.base
        if self.journal is not None:
            self.journal.append((addr, bytes(r.data[off:off + size]), bytes(data)))
        r.data[off:off + size] = data
        r.writes += 1
        return None

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes | Access:
        """NUL-terminated bytes at ``addr`` (without the NUL), at most ``limit`` long."""
        out = bytearray()
        while len(out) < limit:
            b = self.read(addr + len(out), 1)
            if isinstance(b, Access):
                return b
            if b == b"\0":
                return bytes(out)
            out += b
        return bytes(out)
