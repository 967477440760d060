"""Packet helpers of the networking hooks (``net/core/filter.c``): reading and writing packet bytes,
checksums, redirects, and moving the packet's start and end.

Offsets are relative to ``data`` as the program sees it (after the Ethernet header for socket filters and
cgroup_skb). Helpers that move packet data change the buffer in ``vm.packet``; the verifier is what makes
programs re-derive their packet pointers afterwards.
"""
from __future__ import annotations

from ..vm.machine import Machine
from ..vm.packet import SKB_SHARED_INFO, XDP_FRAME_HEADER
from .errno import EACCES, EFAULT, EINVAL, neg

M64 = (1 << 64) - 1
ETH_HLEN = 14
BPF_F_RECOMPUTE_CSUM = 1 << 0
BPF_F_INVALIDATE_HASH = 1 << 1
BPF_F_HDR_FIELD_MASK = 0xF
BPF_F_PSEUDO_HDR = 1 << 4
BPF_F_MARK_MANGLED_0 = 1 << 5
BPF_F_MARK_ENFORCE = 1 << 6
BPF_F_INGRESS = 1 << 0
TC_ACT_SHOT, TC_ACT_REDIRECT = 2, 7
XDP_ABORTED, XDP_REDIRECT = 0, 4


def _packet_range(vm: Machine, off: int, length: int) -> tuple[int, int] | None:
    """Buffer offsets of ``length`` bytes at ``off`` from data, or None when they are not all in the packet."""
    off = off & 0xFFFFFFFF
    if off >= 0x80000000 or length > 0xFFFF:
        return None
    packet = vm.packet
    if packet is None or off + length > len(packet):
        return None
    start = packet.data_off + off
    return start, start + length


def skb_load_bytes(vm, skb, off, to, length, *_):
    """``bpf_skb_load_bytes``: copy packet bytes out; on failure the destination is zeroed (-EFAULT)."""
    rng = _packet_range(vm, off, length)
    if rng is None:
        vm.write(to, bytes(length))
        return neg(EFAULT)
    vm.write(to, bytes(vm.packet.region.data[rng[0]:rng[1]]))
    return 0


def skb_store_bytes(vm, skb, off, frm, length, flags):
    """``bpf_skb_store_bytes``: write bytes into the packet."""
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return neg(EINVAL)
    rng = _packet_range(vm, off, length)
    if rng is None:
        return neg(EFAULT)
    data = vm.read(frm, length)
    vm.packet.region.data[rng[0]:rng[1]] = data
    vm.packet.region.writes += 1
    return 0


def _fold(csum: int) -> int:
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    return csum


def _replace(check: int, old: int, new: int, size: int) -> int:
    """RFC 1624 incremental update of a 16-bit checksum field: HC' = ~(~HC + ~m + m')."""
    total = (~check & 0xFFFF)
    for shift in range(0, size * 8, 16):
        total += (~(old >> shift) & 0xFFFF) + ((new >> shift) & 0xFFFF)
    return ~_fold(total) & 0xFFFF


def _csum_field(vm: Machine, off: int) -> tuple[int, int] | None:
    rng = _packet_range(vm, off, 2)
    if rng is None:
        return None
    return rng[0], int.from_bytes(vm.packet.region.data[rng[0]:rng[1]], "big")


def _csum_replace(vm: Machine, off: int, frm: int, to: int, size: int, mangled_0: bool) -> int:
    if size not in (0, 2, 4):
        return neg(EINVAL)
    field = _csum_field(vm, off)
    if field is None:
        return neg(EFAULT)
    pos, check = field
    if mangled_0 and check == 0:
        return 0  # a UDP checksum of 0 means "none": leave it (BPF_F_MARK_MANGLED_0)
    if size == 0:  # frm/to are a 32-bit checksum difference (from bpf_csum_diff)
        total = (~check & 0xFFFF) + _fold(to & 0xFFFFFFFF) + (~_fold(frm & 0xFFFFFFFF) & 0xFFFF)
        new = ~_fold(total) & 0xFFFF
    else:
        # the kernel passes the values as they are stored in the packet (network order)
        mask = (1 << (size * 8)) - 1
        old_be = int.from_bytes((frm & mask).to_bytes(size, "little"), "big")
        new_be = int.from_bytes((to & mask).to_bytes(size, "little"), "big")
        new = _replace(check, old_be, new_be, size)
    if mangled_0 and new == 0:
        new = 0xFFFF  # CSUM_MANGLED_0
    vm.packet.region.data[pos:pos + 2] = new.to_bytes(2, "big")
    vm.packet.region.writes += 1
    return 0


def l3_csum_replace(vm, skb, off, frm, to, flags):
    """``bpf_l3_csum_replace``: fix an IP header checksum for a changed 2- or 4-byte field."""
    if flags & ~BPF_F_HDR_FIELD_MASK:
        return neg(EINVAL)
    return _csum_replace(vm, off, frm, to, flags & BPF_F_HDR_FIELD_MASK, False)


def l4_csum_replace(vm, skb, off, frm, to, flags):
    """``bpf_l4_csum_replace``: fix a TCP/UDP checksum (``BPF_F_PSEUDO_HDR`` marks pseudo-header fields,
    which only matters for the kernel's CHECKSUM_COMPLETE bookkeeping)."""
    if flags & ~(BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK):
        return neg(EINVAL)
    return _csum_replace(vm, off, frm, to, flags & BPF_F_HDR_FIELD_MASK, bool(flags & BPF_F_MARK_MANGLED_0))


def _csum_partial(data: bytes, seed: int) -> int:
    """32-bit one's-complement sum of little-endian 32-bit words (then a trailing 16-bit word and byte)
    plus ``seed`` (``csum_partial``)."""
    total = seed & 0xFFFFFFFF
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        total += int.from_bytes(data[i:i + 4], "little")
    if len(data) & 2:
        total += int.from_bytes(data[whole:whole + 2], "little")
        whole += 2
    if len(data) & 1:
        total += data[whole]
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _from32to16(x: int) -> int:
    x = (x & 0xFFFF) + (x >> 16)
    return (x & 0xFFFF) + (x >> 16)


def _csum_sub(a: int, b: int) -> int:
    res = a + (~b & 0xFFFFFFFF)
    return (res & 0xFFFFFFFF) + (res >> 32)


def csum_diff(vm, frm, from_size, to, to_size, seed):
    """``bpf_csum_diff``: the checksum of ``to`` minus that of ``from`` (plus ``seed``), folded to 16 bits."""
    old = vm.read(frm, from_size) if from_size else b""
    new = vm.read(to, to_size) if to_size else b""
    seed &= 0xFFFFFFFF
    if from_size and to_size:
        return _from32to16(_csum_sub(_csum_partial(new, seed), _csum_partial(old, 0)))
    if to_size:
        return _from32to16(_csum_partial(new, seed))
    if from_size:
        return _from32to16(~_csum_partial(old, ~seed & 0xFFFFFFFF) & 0xFFFFFFFF)
    return seed


def redirect(vm, ifindex, flags, *_):
    """``bpf_redirect``: remember the target; the program then returns the redirect verdict."""
    is_xdp = vm.ctx is not None and vm.ctx.name.startswith("ctx (xdp_md")
    if flags & ~(0 if is_xdp else BPF_F_INGRESS):
        return XDP_ABORTED if is_xdp else TC_ACT_SHOT
    where = " (ingress)" if flags & BPF_F_INGRESS else ""
    vm.emit("redirect", f"redirect to ifindex {ifindex & 0xFFFFFFFF}{where}")
    return XDP_REDIRECT if is_xdp else TC_ACT_REDIRECT


def clone_redirect(vm, skb, ifindex, flags, *_):
    """``bpf_clone_redirect``: a copy of the packet goes out of another device now."""
    if flags & ~BPF_F_INGRESS:
        return neg(EINVAL)
    where = " (ingress)" if flags & BPF_F_INGRESS else ""
    vm.emit("clone_redirect", f"clone to ifindex {ifindex & 0xFFFFFFFF}{where}", vm.packet.data())
    return 0


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def xdp_adjust_head(vm, xdp, delta, *_):
    """``bpf_xdp_adjust_head``: move ``data`` by delta (negative grows the packet at the front)."""
    p = vm.packet
    delta = _signed32(delta)
    metalen = p.data_off - p.meta_off
    new = p.data_off + delta
    if new < XDP_FRAME_HEADER + metalen or new > p.end_off - ETH_HLEN:
        return neg(EINVAL)
    if metalen:
        buf = p.region.data
        buf[p.meta_off + delta:p.meta_off + delta + metalen] = bytes(buf[p.meta_off:p.data_off])
    p.meta_off += delta
    p.data_off = new
    p.region.writes += 1
    return 0


def xdp_adjust_meta(vm, xdp, delta, *_):
    """``bpf_xdp_adjust_meta``: move ``data_meta``; the metadata is at most 32 bytes, 4-byte multiples."""
    p = vm.packet
    meta = p.meta_off + _signed32(delta)
    if meta < XDP_FRAME_HEADER or meta > p.data_off:
        return neg(EINVAL)
    metalen = p.data_off - meta
    if metalen & 3 or metalen > 255:  # xdp_metalen_invalid: 4-byte multiples that fit skb_shared_info.meta_len
        return neg(EACCES)
    p.meta_off = meta
    return 0


def xdp_adjust_tail(vm, xdp, delta, *_):
    """``bpf_xdp_adjust_tail``: move ``data_end``; grown bytes are zeroed."""
    p = vm.packet
    delta = _signed32(delta)
    end = p.end_off + delta
    if end > p.hard_end_off or end < p.data_off + ETH_HLEN:
        return neg(EINVAL)
    if delta > 0:
        p.region.data[p.end_off:end] = bytes(delta)
    p.end_off = end
    p.region.writes += 1
    return 0


def _grow_buffer(vm: Machine, extra: int) -> None:
    p = vm.packet
    if p.hard_end_off - p.end_off >= extra:
        return
    p.region.replace_data(bytes(p.region.data) + bytes(extra + SKB_SHARED_INFO))
    p.hard_end_off = len(p.region.data) - SKB_SHARED_INFO


def skb_change_tail(vm, skb, new_len, flags, *_):
    """``bpf_skb_change_tail``: resize the packet to ``new_len`` (new bytes are zero)."""
    new_len &= 0xFFFFFFFF
    if flags or new_len < ETH_HLEN or new_len > 0xFFFF:
        return neg(EINVAL)
    p = vm.packet
    length = len(p)
    if new_len > length:
        _grow_buffer(vm, new_len - length)
        p.region.data[p.end_off:p.data_off + new_len] = bytes(new_len - length)
    p.end_off = p.data_off + new_len
    _set_len(vm)
    p.region.writes += 1
    return 0


def skb_change_head(vm, skb, head_room, flags, *_):
    """``bpf_skb_change_head``: add ``head_room`` zero bytes in front of the packet (L2 programs only)."""
    head_room &= 0xFFFFFFFF
    if flags or head_room > 0xFFFF:
        return neg(EINVAL)
    p = vm.packet
    if head_room > p.data_off:
        body = bytes(p.region.data[p.data_off:p.end_off])
        pad = head_room + 64
        p.region.replace_data(bytes(pad) + body + bytes(SKB_SHARED_INFO), base=p.region.base - (pad - p.data_off))
        p.meta_off = p.data_off = pad
        p.end_off = pad + len(body)
        p.hard_end_off = p.end_off
    p.data_off -= head_room
    p.meta_off = p.data_off
    p.region.data[p.data_off:p.data_off + head_room] = bytes(head_room)
    _set_len(vm)
    p.region.writes += 1
    return 0


def _ctx_get(vm: Machine, offset: int) -> int:
    return int.from_bytes(vm.ctx.data[offset:offset + 4], "little")


def _ctx_set(vm: Machine, offset: int, value: int) -> None:
    """Update a ``__sk_buff`` field the kernel derives from the skb (len, protocol, vlan_*)."""
    vm.ctx.data[offset:offset + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    vm.ctx.writes += 1


SKB_LEN, SKB_PROTOCOL, SKB_VLAN_PRESENT, SKB_VLAN_TCI, SKB_VLAN_PROTO = 0, 16, 20, 24, 28
ETH_P_8021Q, ETH_P_8021AD = 0x8100, 0x88A8


def _be16(value: int) -> int:
    """A host-order 16-bit value as a little-endian machine reads a __be16 field."""
    return int.from_bytes((value & 0xFFFF).to_bytes(2, "big"), "little")


def skb_vlan_push(vm, skb, proto, tci, *_):
    """``bpf_skb_vlan_push``: the new tag goes into the skb's (hardware-offload) tag; a tag already there
    is first written into the packet after the MAC addresses (``skb_vlan_push``)."""
    proto = int.from_bytes((proto & 0xFFFF).to_bytes(2, "little"), "big")  # the argument is a __be16
    if proto not in (ETH_P_8021Q, ETH_P_8021AD):
        proto = ETH_P_8021Q
    if _ctx_get(vm, SKB_VLAN_PRESENT):
        old_proto = int.from_bytes(_ctx_get(vm, SKB_VLAN_PROTO).to_bytes(2, "little"), "big")
        _insert_tag(vm, old_proto, _ctx_get(vm, SKB_VLAN_TCI))
        _ctx_set(vm, SKB_PROTOCOL, _be16(old_proto))
    _ctx_set(vm, SKB_VLAN_PRESENT, 1)
    _ctx_set(vm, SKB_VLAN_TCI, tci & 0xFFFF)
    _ctx_set(vm, SKB_VLAN_PROTO, _be16(proto))
    return 0


def _insert_tag(vm: Machine, proto: int, tci: int) -> None:
    p = vm.packet
    head = bytes(p.region.data[p.data_off:p.data_off + 12])
    skb_change_head(vm, None, 4, 0)
    p.region.data[p.data_off:p.data_off + 16] = head + proto.to_bytes(2, "big") + tci.to_bytes(2, "big")


def _pop_tag(vm: Machine) -> int | None:
    """Remove the VLAN header after the MAC addresses; returns its TCI (None if there is none)."""
    p = vm.packet
    ethertype = int.from_bytes(p.region.data[p.data_off + 12:p.data_off + 14], "big")
    if ethertype not in (ETH_P_8021Q, ETH_P_8021AD) or len(p) < ETH_HLEN + 4:
        return None
    tci = int.from_bytes(p.region.data[p.data_off + 14:p.data_off + 16], "big")
    head = bytes(p.region.data[p.data_off:p.data_off + 12])
    p.data_off += 4
    p.meta_off = p.data_off
    p.region.data[p.data_off:p.data_off + 12] = head
    p.region.writes += 1
    inner = int.from_bytes(p.region.data[p.data_off + 12:p.data_off + 14], "big")
    _ctx_set(vm, SKB_PROTOCOL, _be16(inner))
    _set_len(vm)
    return tci


def skb_vlan_pop(vm, skb, *_):
    """``bpf_skb_vlan_pop``: drop the offloaded tag, or the outer tag in the packet; a further tag in the
    packet then moves into the offloaded tag (``skb_vlan_pop``)."""
    if _ctx_get(vm, SKB_VLAN_PRESENT):
        for off in (SKB_VLAN_PRESENT, SKB_VLAN_TCI, SKB_VLAN_PROTO):
            _ctx_set(vm, off, 0)
    elif _pop_tag(vm) is None:
        return 0
    p = vm.packet
    proto = int.from_bytes(p.region.data[p.data_off + 12:p.data_off + 14], "big")
    tci = _pop_tag(vm)
    if tci is not None:
        _ctx_set(vm, SKB_VLAN_PRESENT, 1)
        _ctx_set(vm, SKB_VLAN_TCI, tci)
        _ctx_set(vm, SKB_VLAN_PROTO, _be16(proto))
    return 0


def _set_len(vm: Machine) -> None:
    """Keep ``__sk_buff.len`` (offset 0 of the context) equal to the packet length."""
    if vm.ctx is not None and vm.ctx.name.startswith("ctx (__sk_buff"):
        vm.ctx.data[0:4] = len(vm.packet).to_bytes(4, "little")



BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4


def redirect_map(vm, map_addr, key, flags, *_):
    """``bpf_redirect_map`` (XDP): XDP_REDIRECT when the slot holds a device, else the fallback action in
    the low two bits of ``flags``."""
    m = vm.map_at(map_addr)
    if flags & ~(3 | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS):
        return XDP_ABORTED
    target = m.target(key & 0xFFFFFFFF) if hasattr(m, "target") else None
    if target is None:
        return flags & 3
    vm.emit("redirect", f"redirect through {m.mdef.name}[{key & 0xFFFFFFFF}] to ifindex {target}")
    return XDP_REDIRECT


def get_socket_cookie(vm, ctx, *_):
    """``bpf_get_socket_cookie``: the cookie of the packet's (or the address hook's) socket, the same for every
    call in a run. A test run's socket is new each time, so the kernel's cookie changes from run to run; ours
    is ``env.socket_cookie``."""
    return vm.env.socket_cookie


def get_socket_uid(vm, skb, *_):
    """``bpf_get_socket_uid``: the uid owning the packet's socket: ``env.socket_uid`` (a test run's socket
    belongs to uid 0, as ours does by default)."""
    return vm.env.socket_uid & 0xFFFFFFFF
