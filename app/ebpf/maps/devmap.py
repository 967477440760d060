"""``devmap`` (``kernel/bpf/devmap.c``): network devices an XDP program redirects to with
``bpf_redirect_map``. Values are an ifindex (value_size 4), or an ifindex and a program fd (8).

The playground has no network devices; any ifindex > 0 is accepted as one (the kernel refuses an ifindex
that no device has with -ENODEV), and a redirect through the map is reported as output of the run.
"""
from __future__ import annotations

import errno
import struct

from .arrays import FdArrayMap
from .base import BPF_ANY


class DevMap(FdArrayMap):
    """``dev_map_ops``: u32 index -> device."""

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``dev_map_update_elem`` (user space only); the value's first u32 is the ifindex."""
        index = struct.unpack("<I", self._check_key(key))[0]
        if cpu is not None:
            return -errno.EOPNOTSUPP
        if len(value) != self.value_size:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, value_size is {self.value_size}")
        if flags > 2:
            return -errno.EINVAL
        if index >= self.max_entries:
            return -errno.E2BIG
        if flags == 1:  # BPF_NOEXIST: every slot of a devmap exists
            return -errno.EEXIST
        ifindex = struct.unpack_from("<I", value)[0]
        if ifindex == 0:
            return -errno.EINVAL
        self.slots[index] = ifindex
        return 0

    def read(self, key: bytes) -> bytes | None:
        index = struct.unpack("<I", self._check_key(key))[0]
        if index >= self.max_entries or self.slots[index] is None:
            return None
        return struct.pack("<I", self.slots[index]) + bytes(self.value_size - 4)

    def target(self, index: int) -> int | None:
        """The ifindex a redirect through slot ``index`` goes to, or None."""
        return self.slots[index] if 0 <= index < self.max_entries else None

    def _seed_value(self, value: bytes) -> bytes:
        if len(value) == 4 and self.value_size == 8:
            return bytes(value) + bytes(4)
        return bytes(value)
