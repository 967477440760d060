"""Reads through a map pointer: ``check_ptr_to_map_access`` and the BTF walk it makes (``btf_struct_access``,
``btf_struct_walk`` in ``kernel/bpf/btf.c``), over the struct layouts of ``map_btf_types``.

A root program may read the kernel's struct behind a map (``struct bpf_htab`` for a hash map, whose first
member is the ``struct bpf_map`` with ``max_entries`` and the rest), never write it. The access is checked
against the struct's BTF: an integer member (or part of an integer array, or several whole bitfields) reads
as an unknown scalar; a pointer member must be read whole and gives a pointer to the struct it names
(``PTR_TO_BTF_ID``), or, pointing to anything else, read-only untrusted memory; a hole, a partial pointer, or a read past
a member or the struct is refused with the walk's message.
"""
from __future__ import annotations

from .map_btf_types import MAP_STRUCTS, TYPES


class BtfAccessError(Exception):
    """The kernel's message (and errno) for an access the BTF walk refuses."""

    def __init__(self, message: str, errno: str = "EACCES"):
        super().__init__(message)
        self.message, self.errno = message, errno


def map_struct(map_type: str) -> str:
    """The struct the kernel checks a read through a map of ``map_type`` against (``map->ops->map_btf_id``)."""
    return MAP_STRUCTS[map_type]


def struct_access(struct: str, off: int, size: int) -> tuple[str, str]:
    """``btf_struct_access`` of ``size`` bytes at ``off`` (>= 0) in ``struct``: what the loaded register is,
    ("scalar", ""), ("ptr", the struct it points to) or ("mem", "") for a pointer to something else
    (``WALK_PTR_UNTRUSTED``). Raises :class:`BtfAccessError`."""
    key, untrusted = struct, False
    while True:  # btf_struct_walk's "again": one struct or union deeper each time
        name, kind, tsize, members = TYPES[key]
        if kind == "union" and len(members) != 1:
            untrusted = True  # walking unions yields untrusted pointers (and lifts the member-end check)
        if off + size > tsize:
            nested = _flexible_tail(members, off)
            if nested is None:
                raise BtfAccessError(f"access beyond struct {name} at off {off} size {size}")
            if nested == "":
                return "scalar", ""
            key, off = nested, (off - members[-1][1] // 8) % TYPES[nested][2]
            continue
        found = _member(name, members, off, size, untrusted)
        if found[0] != "struct":
            return found
        key, off = found[1], found[2]


def _member(name: str, members: tuple, off: int, size: int, untrusted: bool) -> tuple:
    """``btf_struct_walk``'s member loop: what the access reads (as :func:`struct_access` returns it), or
    ("struct", key, off inside it) to walk a nested struct or union."""
    for mname, bit_off, bits, mkind, msize, ref, nelems in members:
        moff = bit_off // 8
        if off + size <= moff:
            break  # the member is already past the access
        if bits:
            if off <= moff and (bit_off + bits + 7) // 8 <= off + size:
                return "scalar", ""  # whole bitfields read together
            continue  # a partial bitfield access: look further, and fail to find a field
        if off < moff:
            break  # in a hole
        mtrue_end = moff + msize
        if off >= mtrue_end:
            continue
        if nelems is not None:  # an array: the element the access starts in
            if moff == mtrue_end:
                continue
            msize //= nelems
            moff += (off - moff) // msize * msize
        if mkind == "struct":
            return "struct", ref, off - moff
        if mkind == "ptr":
            if msize != size or off != moff:
                raise BtfAccessError(f"cannot access ptr member {mname} with moff {moff} in struct {name} "
                                     f"with off {off} size {size}")
            return ("ptr", ref) if ref else ("mem", "")
        if off + size > mtrue_end and not untrusted:
            raise BtfAccessError(f"access beyond the end of member {mname} (mend:{mtrue_end}) in struct "
                                 f"{name} with off {off} size {size}")
        return "scalar", ""
    raise BtfAccessError(f"struct {name} doesn't have field at offset {off}", "EINVAL")


def _flexible_tail(members: tuple, off: int) -> str | None:
    """An access past the struct's size is allowed into a last member that is a flexible array (``[]``) of
    integers ("") or structs or unions (that type's key); None when it is not."""
    if not members:
        return None
    _, bit_off, _, mkind, _, ref, nelems = members[-1]
    if nelems != 0 or off < bit_off // 8:
        return None
    if mkind == "int":
        return ""
    return ref if mkind == "struct" else None
