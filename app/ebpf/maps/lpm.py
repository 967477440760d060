"""The longest-prefix-match trie, ``lpm_trie`` (kernel/bpf/lpm_trie.c).

Keys are ``struct bpf_lpm_trie_key_u8``: a host-endian u32 ``prefixlen`` then ``key_size - 4`` bytes of
data compared most significant bit first (an IPv4 address in network order, say). The trie is the
kernel's own binary trie, node for node: real nodes carry a value, intermediate nodes (``IM``) only
split two subtrees, and ``get_next_key`` walks it in the kernel's post order, so user space sees more
specific prefixes before less specific ones and the same key order as the kernel.

Replacing a value installs a new node (with a new value slot) and frees the old one, as
``trie_update_elem`` does; the kernel frees it after an RCU grace period, the playground at once, so a
pointer kept across such an update may show the next value written to that slot. Value slots:
``max_entries + 1`` (one more than can be live, for the node that replaces another).
"""
from __future__ import annotations

import errno
import struct

from ..program import MapDef
from .base import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapInstance, SlotPool, round_up

NONE = -1  # a NULL child pointer


class LpmTrieMap(MapInstance):
    """``trie_map_ops``: lookup returns the value of the longest stored prefix matching the key."""

    STATE = ("root", "n_entries", "plen", "data", "im", "child0", "child1", "slot", "free_nodes", "free_slots")

    def __init__(self, mdef: MapDef, base: int, ncpus: int):
        super().__init__(mdef, base, ncpus)
        self.data_size = self.key_size - 4
        self.max_prefixlen = self.data_size * 8
        self.pool = SlotPool(self, self.max_entries + 1, round_up(self.value_size, 8), percpu=False)
        self.root = NONE
        self.n_entries = 0
        # node i: prefix length, data, intermediate?, children, value slot (NONE for intermediate nodes)
        self.plen: list[int] = []
        self.data: list[bytes] = []
        self.im: list[bool] = []
        self.child0: list[int] = []
        self.child1: list[int] = []
        self.slot: list[int] = []
        self.free_nodes: list[int] = []
        self.free_slots = list(range(self.max_entries, -1, -1))

    @classmethod
    def memory(cls, mdef: MapDef, ncpus: int) -> int:
        return (mdef.max_entries + 1) * round_up(mdef.value_size, 8)

    # --- nodes ----------------------------------------------------------------------------------------------

    def _split(self, key: bytes) -> tuple[int, bytes]:
        key = self._check_key(key)
        return struct.unpack_from("<I", key)[0], key[4:]

    def _new_node(self, plen: int, data: bytes, slot: int) -> int:
        fields = (plen, data, slot == NONE, NONE, NONE, slot)
        if self.free_nodes:
            n = self.free_nodes.pop()
            for name, v in zip(("plen", "data", "im", "child0", "child1", "slot"), fields):
                getattr(self, name)[n] = v
            return n
        for name, v in zip(("plen", "data", "im", "child0", "child1", "slot"), fields):
            getattr(self, name).append(v)
        return len(self.plen) - 1

    def _free_node(self, n: int) -> None:
        if self.slot[n] != NONE:
            self.free_slots.append(self.slot[n])
        self.slot[n] = NONE
        self.free_nodes.append(n)

    def _child(self, n: int, bit: int) -> int:
        return self.child1[n] if bit else self.child0[n]

    def _set_child(self, n: int, bit: int, c: int) -> None:
        (self.child1 if bit else self.child0)[n] = c

    def _match(self, n: int, plen: int, data: bytes) -> int:
        """``longest_prefix_match``: leading bits node ``n`` and the key share, at most both lengths."""
        diff = int.from_bytes(self.data[n], "big") ^ int.from_bytes(data, "big")
        return min(self.max_prefixlen - diff.bit_length(), self.plen[n], plen)

    @staticmethod
    def _bit(data: bytes, index: int) -> int:
        """``extract_bit``: bit ``index`` counting from the most significant bit of ``data[0]``."""
        return data[index // 8] >> (7 - index % 8) & 1

    # A "slot" of the kernel (a pointer to a child pointer) is (parent, bit), parent NONE meaning the root.
    def _get(self, where: tuple[int, int]) -> int:
        parent, bit = where
        return self.root if parent == NONE else self._child(parent, bit)

    def _put(self, where: tuple[int, int], n: int) -> None:
        parent, bit = where
        if parent == NONE:
            self.root = n
        else:
            self._set_child(parent, bit, n)

    # --- operations ------------------------------------------------------------------------------------------

    def _find(self, key: bytes) -> int:
        """``trie_lookup_elem``: the node of the longest matching real prefix, or NONE."""
        plen, data = self._split(key)
        if plen > self.max_prefixlen:
            return NONE
        found, n = NONE, self.root
        while n != NONE:
            matchlen = self._match(n, plen, data)
            if matchlen == self.max_prefixlen:
                return n
            if matchlen < self.plen[n]:
                break
            if not self.im[n]:
                found = n
            n = self._child(n, self._bit(data, self.plen[n]))
        return found

    def lookup(self, key: bytes, cpu: int = 0) -> int | None:
        n = self._find(key)
        return None if n == NONE else self.pool.addr(self.slot[n])

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int | None = None) -> int:
        """``trie_update_elem`` (the 6.13+ version that honours BPF_NOEXIST and BPF_EXIST)."""
        plen, data = self._split(key)
        value = self._check_value(value, cpu)
        if cpu is None and flags & BPF_F_LOCK:
            return -errno.EINVAL
        if flags > BPF_EXIST:
            return -errno.EINVAL
        if plen > self.max_prefixlen:
            return -errno.EINVAL
        slot = self.free_slots.pop()
        self.pool.put(slot, value)
        err = self._insert(plen, data, slot, flags)
        if err:
            self.free_slots.append(slot)
        return err

    def _check_add(self, flags: int) -> int:
        """``trie_check_add_elem``."""
        if flags == BPF_EXIST:
            return -errno.ENOENT
        if self.n_entries == self.max_entries:
            return -errno.ENOSPC
        self.n_entries += 1
        return 0

    def _insert(self, plen: int, data: bytes, slot: int, flags: int) -> int:
        where, n, matchlen = (NONE, 0), self.root, 0
        while n != NONE:
            matchlen = self._match(n, plen, data)
            if self.plen[n] != matchlen or self.plen[n] == plen:
                break
            where = (n, self._bit(data, self.plen[n]))
            n = self._get(where)
        if n == NONE:
            err = self._check_add(flags)
            if not err:
                self._put(where, self._new_node(plen, data, slot))
            return err
        if self.plen[n] == matchlen:  # the same prefix: replace the node
            if not self.im[n]:
                if flags == BPF_NOEXIST:
                    return -errno.EEXIST
            else:
                err = self._check_add(flags)
                if err:
                    return err
            new = self._new_node(plen, data, slot)
            self.child0[new], self.child1[new] = self.child0[n], self.child1[n]
            self._put(where, new)
            self._free_node(n)
            return 0
        err = self._check_add(flags)
        if err:
            return err
        new = self._new_node(plen, data, slot)
        if matchlen == plen:  # the new prefix contains the node's: insert it above
            self._set_child(new, self._bit(self.data[n], matchlen), n)
            self._put(where, new)
            return 0
        im = self._new_node(matchlen, self.data[n], NONE)
        if self._bit(data, matchlen):
            self.child0[im], self.child1[im] = n, new
        else:
            self.child0[im], self.child1[im] = new, n
        self._put(where, im)
        return 0

    def delete(self, key: bytes) -> int:
        """``trie_delete_elem``: exact prefix only."""
        plen, data = self._split(key)
        if plen > self.max_prefixlen:
            return -errno.EINVAL
        trim, trim2, parent = (NONE, 0), (NONE, 0), NONE
        n, matchlen = self.root, 0
        while n != NONE:
            matchlen = self._match(n, plen, data)
            if self.plen[n] != matchlen or self.plen[n] == plen:
                break
            parent, trim2 = n, trim
            trim = (n, self._bit(data, self.plen[n]))
            n = self._get(trim)
        if n == NONE or self.plen[n] != plen or self.plen[n] != matchlen or self.im[n]:
            return -errno.ENOENT
        self.n_entries -= 1
        c0, c1 = self.child0[n], self.child1[n]
        if c0 != NONE and c1 != NONE:  # two children: the node becomes intermediate
            self.free_slots.append(self.slot[n])
            self.slot[n], self.im[n] = NONE, True
            return 0
        if parent != NONE and self.im[parent] and c0 == NONE and c1 == NONE:  # drop the parent too
            sibling = self.child1[parent] if self.child0[parent] == n else self.child0[parent]
            self._put(trim2, sibling)
            self._free_node(parent)
            self._free_node(n)
            return 0
        self._put(trim, c0 if c0 != NONE else c1)
        self._free_node(n)
        return 0

    def get_next_key(self, key: bytes | None) -> bytes | None:
        """``trie_get_next_key``: post order, more specific prefixes first."""
        search_root = self.root
        if search_root == NONE:
            return None
        if key is not None:
            plen, data = self._split(key)
            if plen <= self.max_prefixlen:
                nxt = self._next_after(plen, data)
                if nxt is not False:
                    return nxt
        return self._key(self._leftmost(search_root))

    def _next_after(self, plen: int, data: bytes):
        """The key after an existing one, None at the end, False when the key is not in the trie."""
        stack, n = [], self.root
        while n != NONE:
            stack.append(n)
            matchlen = self._match(n, plen, data)
            if self.plen[n] != matchlen or self.plen[n] == plen:
                break
            n = self._child(n, self._bit(data, self.plen[n]))
        if n == NONE or self.plen[n] != self._match(n, plen, data) or self.im[n]:
            return False
        node = stack[-1]
        while len(stack) > 1:
            parent = stack[-2]
            if self.child0[parent] == node and self.child1[parent] != NONE:
                return self._key(self._leftmost(self.child1[parent]))
            if not self.im[parent]:
                return self._key(parent)
            stack.pop()
            node = parent
        return None

    def _leftmost(self, n: int) -> int:
        """The first real node of the subtree in post order (intermediate nodes have two children)."""
        found = NONE
        while n != NONE:
            if self.im[n]:
                n = self.child0[n]
            else:
                found = n
                n = self.child0[n] if self.child0[n] != NONE else self.child1[n]
        return found

    def _key(self, n: int) -> bytes:
        return struct.pack("<I", self.plen[n]) + self.data[n]

    def keys(self) -> list[bytes]:
        out: list[bytes] = []
        k = self.get_next_key(None)
        while k is not None:
            out.append(k)
            k = self.get_next_key(k)
        return out

    def _seed_hint(self, err: int) -> str:
        if err == -errno.EINVAL:
            return f" (prefixlen is above {self.max_prefixlen})"
        if err == -errno.ENOSPC:
            return f" (the trie already holds max_entries {self.max_entries} prefixes)"
        return ""
