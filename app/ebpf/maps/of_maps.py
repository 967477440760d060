"""Maps of maps (``kernel/bpf/map_in_map.c``, ``arraymap.c``, ``hashtab.c``): array_of_maps and
hash_of_maps hold other maps; a program's lookup returns the inner map (a map pointer it can pass to the
map helpers), or NULL.

In the playground a map's "fd" is its index in ``Program.maps``: user space (seeds) stores indexes, and an
inner map must match the template named by ``MapDef.inner`` as ``bpf_map_meta_equal`` requires (type,
key and value sizes, flags, and max_entries unless the template has BPF_F_INNER_MAP). Programs cannot
update these maps (the kernel's verifier refuses it), and maps of maps cannot nest.
"""
from __future__ import annotations

import errno
import struct

from .arrays import FdArrayMap
from .base import BPF_ANY, BPF_F_INNER_MAP, MapInstance
from .hashes import HashMap

M = (1 << 64) - 1


class _Inner:
    """What both kinds share: the template, the other maps of the program, and the kernel's checks."""

    maps: list[MapInstance]  # every map of the program, set by the VM once all exist
    template: MapInstance | None

    def bind(self, maps: list[MapInstance], template: MapInstance | None) -> None:
        self.maps = maps
        self.template = template

    def _compatible(self, index: int) -> int:
        """0 if map ``index`` may be stored, else the kernel's errno (``bpf_map_fd_get_ptr``)."""
        maps = getattr(self, "maps", [])
        if not 0 <= index < len(maps):
            return -errno.EBADF
        inner, tpl = maps[index], self.template
        if isinstance(inner, _Inner):
            return -errno.EINVAL  # maps of maps do not nest
        if tpl is None:
            return 0
        same = (inner.type, inner.key_size, inner.value_size, inner.flags & ~BPF_F_INNER_MAP) == \
            (tpl.type, tpl.key_size, tpl.value_size, tpl.flags & ~BPF_F_INNER_MAP)
        if not same or (not tpl.flags & BPF_F_INNER_MAP and inner.max_entries != tpl.max_entries):
            return -errno.EINVAL
        return 0

    def _object(self, index: int) -> int | None:
        maps = getattr(self, "maps", [])
        return maps[index].object_addr if 0 <= index < len(maps) else None


class ArrayOfMapsMap(_Inner, FdArrayMap):
    """``array_of_maps_map_ops``: u32 index -> inner map."""

    template = None

    def _valid(self, fd: int) -> int:
        return self._compatible(fd)

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """``array_of_map_lookup_elem``: the inner map's address, or NULL for an empty slot."""
        index = struct.unpack("<I", self._check_key(key))[0]
        if index >= self.max_entries or self.slots[index] is None:
            return None
        return self._object(self.slots[index])


class HashOfMapsMap(_Inner, HashMap):
    """``htab_of_maps_map_ops``: key -> inner map."""

    template = None

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        if cpu is not None:
            return -errno.EOPNOTSUPP  # the verifier refuses bpf_map_update_elem on a map of maps
        if len(value) != 4:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, user space passes a u32 map index")
        err = self._compatible(struct.unpack("<I", value)[0])
        return err or super().update(key, value, flags, cpu)

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        """``htab_of_map_lookup_elem``: the inner map's address, or NULL."""
        addr = super().lookup(key, cpu)
        if addr is None:
            return None
        region, off = self._locate(addr)
        return self._object(struct.unpack_from("<I", region.data, off)[0])

    def read(self, key: bytes) -> bytes | None:
        addr = HashMap.lookup(self, key, 0)
        if addr is None:
            return None
        region, off = self._locate(addr)
        return bytes(region.data[off:off + 4])
