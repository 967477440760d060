"""The BPF ring buffer, ``ringbuf`` (kernel/bpf/ringbuf.c).

One buffer of ``max_entries`` bytes (a power of two, a multiple of the page size) shared by all CPUs.
A record is an 8-byte header, ``struct bpf_ringbuf_hdr { u32 len; u32 pg_off; }``, then its data,
padded to 8 bytes. While reserved, ``len`` has BPF_RINGBUF_BUSY_BIT (1 << 31) set; submit clears it,
discard clears it and sets BPF_RINGBUF_DISCARD_BIT (1 << 30). ``pg_off`` is the header's page offset
from the start of ``struct bpf_ringbuf``, whose data pages follow one page of bookkeeping and the
consumer and producer pages: ``3 + (position % size) // 4096``.

The kernel maps the data pages twice in a row so that a record that wraps around the end is contiguous;
the region here is likewise ``2 * max_entries`` bytes, and every commit copies the record's bytes to
the other copy so both halves agree. ``reserve`` returns the address of a record's data, as
``bpf_ringbuf_reserve`` does.

No consumer runs during a program: ``consumer_pos`` stays where it is (0, or where :meth:`consume` left
it), so a full buffer makes ``reserve`` return NULL and ``output`` -EAGAIN, as in the kernel when user
space does not read. :meth:`records` is what a reader (libbpf's ``ring_buffer__poll``) would get now:
submitted records from the consumer position on, in reservation order, skipping discarded ones and
stopping at the first record still reserved.
"""
from __future__ import annotations

import errno
import struct

from ..program import MapDef
from .base import (
    BPF_F_LOCK,
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_FORCE_WAKEUP,
    BPF_RB_NO_WAKEUP,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
    ENOTSUPP,
    PAGE_SIZE,
    MapInstance,
    round_up,
)

RINGBUF_PGOFF = 1  # pages of struct bpf_ringbuf before consumer_pos
RINGBUF_POS_PAGES = 2  # the consumer and producer pages
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4


class RingbufMap(MapInstance):
    """``ringbuf_map_ops`` and the ``bpf_ringbuf_*`` helpers."""

    STATE = ("consumer_pos", "producer_pos", "pending_pos", "reserved")

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.size = self.max_entries
        self.mask = self.size - 1
        self.ring = self._add_region("data", 2 * self.size)
        self.consumer_pos = self.producer_pos = self.pending_pos = 0
        self.reserved: dict[int, int] = {}  # address of a reserved record's data -> its position

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return 2 * mdef.max_entries

    # --- the double mapping ---------------------------------------------------------------------------------

    def _hdr_len(self, pos: int) -> int:
        return struct.unpack_from("<I", self.ring.data, pos & self.mask)[0]

    def _mirror(self, off: int, length: int) -> None:
        """Make both copies of bytes [off, off + length) of the data area (off < size) agree, taking the
        bytes from whichever copy the program wrote: the header and data up to the end from the first,
        wrapped data from the second."""
        data, size = self.ring.data, self.size
        end = min(off + length, size)
        data[size + off:size + end] = data[off:end]
        if off + length > size:
            wrapped = off + length - size
            data[0:wrapped] = data[size:size + wrapped]
        self.ring.writes += 1

    # --- the helpers ----------------------------------------------------------------------------------------

    def reserve(self, size: int, flags: int = 0) -> int | None:
        """``bpf_ringbuf_reserve``: the address of ``size`` bytes of record data, or None (NULL)."""
        if flags:
            return None
        return self._reserve(size)

    def _reserve(self, size: int) -> int | None:
        """``__bpf_ringbuf_reserve``."""
        if size > RINGBUF_MAX_RECORD_SZ:
            return None
        length = round_up(size + BPF_RINGBUF_HDR_SZ, 8)
        if length > self.size:
            return None
        pend = self.pending_pos
        while pend < self.producer_pos:  # skip records committed since, stopping at one still reserved
            hdr_len = self._hdr_len(pend)
            if hdr_len & BPF_RINGBUF_BUSY_BIT:
                break
            pend += round_up((hdr_len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ, 8)
        self.pending_pos = pend
        new_prod = self.producer_pos + length
        if new_prod - self.consumer_pos > self.mask or new_prod - pend > self.mask:
            return None
        off = self.producer_pos & self.mask
        pg_off = RINGBUF_PGOFF + RINGBUF_POS_PAGES + off // PAGE_SIZE
        self._write(self.ring, off, struct.pack("<II", size | BPF_RINGBUF_BUSY_BIT, pg_off))
        self._mirror(off, BPF_RINGBUF_HDR_SZ)
        addr = self.ring.base + off + BPF_RINGBUF_HDR_SZ
        self.reserved[addr] = self.producer_pos
        self.producer_pos = new_prod
        return addr

    def _commit(self, addr: int, discard: bool) -> int:
        """``bpf_ringbuf_commit``. The verifier only lets a program pass a pointer ``reserve`` returned;
        any other address is refused with -EINVAL (the kernel would misbehave) so the VM can report it."""
        pos = self.reserved.pop(addr, None)
        if pos is None:
            return -errno.EINVAL
        off = pos & self.mask
        hdr_len = self._hdr_len(pos)
        new_len = hdr_len ^ BPF_RINGBUF_BUSY_BIT
        if discard:
            new_len |= BPF_RINGBUF_DISCARD_BIT
        self._mirror(off, round_up((hdr_len & 0x3FFFFFFF) + BPF_RINGBUF_HDR_SZ, 8))
        self._write(self.ring, off, struct.pack("<I", new_len))
        self._mirror(off, 4)
        return 0

    def submit(self, addr: int, flags: int = 0) -> int:
        """``bpf_ringbuf_submit``: the record becomes visible to readers. Wake-up flags change nothing here."""
        return self._commit(addr, discard=False)

    def discard(self, addr: int, flags: int = 0) -> int:
        """``bpf_ringbuf_discard``: readers skip the record."""
        return self._commit(addr, discard=True)

    def output(self, data: bytes, flags: int = 0) -> int:
        """``bpf_ringbuf_output``: reserve, copy and submit in one go; -EAGAIN when there is no room."""
        if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
            return -errno.EINVAL
        addr = self._reserve(len(data))
        if addr is None:
            return -errno.EAGAIN
        self._write(self.ring, addr - self.ring.base, bytes(data))
        return self._commit(addr, discard=False)

    def query(self, flag: int) -> int:
        """``bpf_ringbuf_query``: BPF_RB_AVAIL_DATA, _RING_SIZE, _CONS_POS or _PROD_POS; 0 otherwise."""
        return {BPF_RB_AVAIL_DATA: self.producer_pos - self.consumer_pos, BPF_RB_RING_SIZE: self.size,
                BPF_RB_CONS_POS: self.consumer_pos, BPF_RB_PROD_POS: self.producer_pos}.get(flag, 0)

    # --- the reader -----------------------------------------------------------------------------------------

    def _scan(self) -> tuple[list[bytes], int]:
        """Records a reader would consume now, and the consumer position after them."""
        out, pos = [], self.consumer_pos
        while pos < self.producer_pos:
            hdr_len = self._hdr_len(pos)
            if hdr_len & BPF_RINGBUF_BUSY_BIT:
                break
            size = hdr_len & ~BPF_RINGBUF_DISCARD_BIT
            if not hdr_len & BPF_RINGBUF_DISCARD_BIT:
                off = (pos & self.mask) + BPF_RINGBUF_HDR_SZ
                out.append(bytes(self.ring.data[off:off + size]))
            pos += round_up(size + BPF_RINGBUF_HDR_SZ, 8)
        return out, pos

    def records(self) -> list[bytes]:
        """Submitted records, oldest first, up to the first one still reserved (discarded ones skipped)."""
        return self._scan()[0]

    def consume(self) -> list[bytes]:
        """Read :meth:`records` and advance the consumer position past them, as a reader does."""
        out, self.consumer_pos = self._scan()
        return out

    # --- the syscall: a ring buffer has no elements ---------------------------------------------------------

    def update(self, key: bytes, value: bytes, flags: int = 0, cpu: int | None = None) -> int:
        return -errno.EINVAL if cpu is None and flags & BPF_F_LOCK else -ENOTSUPP

    def delete(self, key: bytes) -> int:
        return -ENOTSUPP

    def read(self, key: bytes) -> bytes | None:
        return None

    def keys(self) -> list[bytes]:
        return []

    def seed(self, key: bytes, value: bytes) -> None:
        raise ValueError(f"map {self.name}: a ringbuf map cannot be seeded (it has no keys; programs "
                         f"write records with bpf_ringbuf_output or bpf_ringbuf_reserve)")

    def entries_json(self) -> dict:
        """``entries`` is empty (a ring buffer has no keys); ``records`` lists the readable records' data in
        hex, oldest first; ``pending`` counts reservations not yet submitted or discarded; ``consumer_pos``
        and ``producer_pos`` are the kernel's positions."""
        return {**self.header_json(), "entries": {}, "records": [r.hex() for r in self.records()],
                "pending": len(self.reserved), "consumer_pos": self.consumer_pos,
                "producer_pos": self.producer_pos}
