"""Tristate numbers, as in ``kernel/bpf/tnum.c``.

A ``Tnum(value, mask)`` describes the 64-bit numbers whose bits equal ``value`` wherever ``mask`` is 0
(known bits) and are unknown wherever ``mask`` is 1. ``value & mask`` is always 0. Every operation returns
a tnum that contains every concrete result of the operation applied to members of its inputs (it may
contain more: the operations over-approximate, exactly as the kernel's do, bit for bit).
"""
from __future__ import annotations

from dataclasses import dataclass

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class Tnum:
    """Invariant (kept by every function here): ``value & mask == 0``, both within 64 bits."""

    value: int
    mask: int

    def __str__(self) -> str:
        return strn(self)


def _t(value: int, mask: int) -> Tnum:
    return Tnum(value & M64, mask & M64)


UNKNOWN = Tnum(0, M64)


def const(value: int) -> Tnum:
    """``tnum_const``: exactly ``value``."""
    return Tnum(value & M64, 0)


def is_const(a: Tnum) -> bool:
    return a.mask == 0


def is_unknown(a: Tnum) -> bool:
    return a.mask == M64


def range_(lo: int, hi: int) -> Tnum:
    """``tnum_range``: the smallest tnum with the common high bits of ``lo`` and ``hi`` known."""
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return _t(lo & ~delta, delta)


def lshift(a: Tnum, shift: int) -> Tnum:
    return _t(a.value << shift, a.mask << shift)


def rshift(a: Tnum, shift: int) -> Tnum:
    return _t(a.value >> shift, a.mask >> shift)


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def arshift(a: Tnum, shift: int, bitness: int) -> Tnum:
    """``tnum_arshift``: arithmetic shift in a 32- or 64-bit register (the sign of value and mask fill)."""
    if bitness == 32:
        return _t((_signed(a.value & M32, 32) >> shift) & M32, (_signed(a.mask & M32, 32) >> shift) & M32)
    return _t(_signed(a.value, 64) >> shift, _signed(a.mask, 64) >> shift)


def add(a: Tnum, b: Tnum) -> Tnum:
    sm = a.mask + b.mask
    sv = a.value + b.value
    sigma = sm + sv
    chi = (sigma ^ sv) & M64
    mu = chi | a.mask | b.mask
    return _t(sv & ~mu, mu)


def sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & M64
    alpha = (dv + a.mask) & M64
    beta = (dv - b.mask) & M64
    chi = alpha ^ beta
    mu = chi | a.mask | b.mask
    return _t(dv & ~mu, mu)


def neg(a: Tnum) -> Tnum:
    return sub(const(0), a)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    v = a.value & b.value
    return _t(v, alpha & beta & ~v)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask | b.mask
    return _t(v, mu & ~v)


def xor(a: Tnum, b: Tnum) -> Tnum:
    v = a.value ^ b.value
    mu = a.mask | b.mask
    return _t(v & ~mu, mu)


def mul(a: Tnum, b: Tnum) -> Tnum:
    """``tnum_mul``: long multiplication, adding ``b`` (shifted) for each certain or uncertain bit of ``a``."""
    acc_v = (a.value * b.value) & M64
    acc_m = Tnum(0, 0)
    while a.value or a.mask:
        if a.value & 1:
            acc_m = add(acc_m, Tnum(0, b.mask))
        elif a.mask & 1:
            acc_m = add(acc_m, Tnum(0, b.value | b.mask))
        a = rshift(a, 1)
        b = lshift(b, 1)
    return add(Tnum(acc_v, 0), acc_m)


def intersect(a: Tnum, b: Tnum) -> Tnum:
    """``tnum_intersect``: what both say (assumes they describe a common value)."""
    v = a.value | b.value
    mu = a.mask & b.mask
    return _t(v & ~mu, mu)


def union(a: Tnum, b: Tnum) -> Tnum:
    """``tnum_union``: every value either may have."""
    v = a.value & b.value
    mu = (a.value ^ b.value) | a.mask | b.mask
    return _t(v & ~mu, mu)


def cast(a: Tnum, size: int) -> Tnum:
    """``tnum_cast``: the low ``size`` bytes."""
    keep = (1 << (size * 8)) - 1
    return Tnum(a.value & keep, a.mask & keep)


def is_aligned(a: Tnum, size: int) -> bool:
    if not size:
        return True
    return not ((a.value | a.mask) & (size - 1))


def contains(a: Tnum, b: Tnum) -> bool:
    """``tnum_in``: is every member of ``b`` a member of ``a``?"""
    if b.mask & ~a.mask:
        return False
    return a.value == b.value & ~a.mask


def contains_value(a: Tnum, v: int) -> bool:
    return (v & M64) & ~a.mask == a.value


def subreg(a: Tnum) -> Tnum:
    return cast(a, 4)


def clear_subreg(a: Tnum) -> Tnum:
    return lshift(rshift(a, 32), 32)


def with_subreg(reg: Tnum, sub: Tnum) -> Tnum:
    return or_(clear_subreg(reg), subreg(sub))


def const_subreg(a: Tnum, value: int) -> Tnum:
    return with_subreg(a, const(value))


def umin(a: Tnum) -> int:
    return a.value


def umax(a: Tnum) -> int:
    return a.value | a.mask


def strn(a: Tnum) -> str:
    """``tnum_strn``: ``(0x0; 0xff)``, the kernel's notation for value and mask."""
    return f"({_hex(a.value)}; {_hex(a.mask)})"


def _hex(v: int) -> str:
    return "0x0" if v == 0 else f"{v:#x}"


def sbin(a: Tnum, bits: int = 64) -> str:
    """``tnum_sbin``: one character a bit, most significant first: ``0``, ``1`` or ``x``."""
    out = []
    for i in range(bits - 1, -1, -1):
        if a.mask >> i & 1:
            out.append("x")
        else:
            out.append("1" if a.value >> i & 1 else "0")
    return "".join(out)
