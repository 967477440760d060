"""The scalar value domain: a tnum plus signed and unsigned, 64- and 32-bit bounds, kept consistent with
each other as the kernel's ``reg_bounds_sync`` does (``kernel/bpf/verifier.c``).

A ``Bounds`` is immutable; ``sync`` returns the tightened copy. The steps keep the kernel's names:
``update_reg_bounds`` learns bounds from the known bits, ``reg_deduce_bounds`` moves knowledge between the
signed/unsigned and 32/64-bit views, ``reg_bound_offset`` learns bits from the bounds. ``check_invariants``
is ``reg_bounds_sanity_check``: every range non-empty and consistent with the tnum.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from . import tnum
from .tnum import Tnum

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1


def s64(v: int) -> int:
    v &= U64_MAX
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= U32_MAX
    return v - (1 << 32) if v >> 31 else v


def u64(v: int) -> int:
    return v & U64_MAX


def u32(v: int) -> int:
    return v & U32_MAX


@dataclass(frozen=True, slots=True)
class Bounds:
    var_off: Tnum = tnum.UNKNOWN
    smin: int = S64_MIN
    smax: int = S64_MAX
    umin: int = 0
    umax: int = U64_MAX
    s32_min: int = S32_MIN
    s32_max: int = S32_MAX
    u32_min: int = 0
    u32_max: int = U32_MAX

    def is_const(self) -> bool:
        return self.var_off.mask == 0  # tnum_is_const

    def contains(self, v: int) -> bool:
        """Is the 64-bit value ``v`` a possible value?"""
        v = u64(v)
        return (tnum.contains_value(self.var_off, v) and self.umin <= v <= self.umax
                and self.smin <= s64(v) <= self.smax and self.u32_min <= u32(v) <= self.u32_max
                and self.s32_min <= s32(v) <= self.s32_max)


UNBOUNDED = Bounds()


def const(v: int) -> Bounds:
    """Exactly ``v`` in every view (``__mark_reg_known``); the views are worked out inline, as loops that
    count make one of these per instruction."""
    v &= U64_MAX
    sv = v - (1 << 64) if v >> 63 else v
    lo = v & U32_MAX
    slo = lo - (1 << 32) if lo >> 31 else lo
    return Bounds(Tnum(v, 0), sv, sv, v, v, slo, slo, lo, lo)


def update_reg32_bounds(b: Bounds) -> Bounds:
    """``__update_reg32_bounds``: bounds implied by the low 32 known bits."""
    v, m = b.var_off.value & U32_MAX, b.var_off.mask & U32_MAX
    return Bounds(b.var_off, b.smin, b.smax, b.umin, b.umax,
                  max(b.s32_min, s32(v | (m & 0x80000000))), min(b.s32_max, s32(v | (m & 0x7FFFFFFF))),
                  max(b.u32_min, v), min(b.u32_max, v | m))


def update_reg64_bounds(b: Bounds) -> Bounds:
    v, m = b.var_off.value, b.var_off.mask
    return Bounds(b.var_off, max(b.smin, s64(v | (m & (1 << 63)))), min(b.smax, s64(v | (m & S64_MAX))),
                  max(b.umin, v), min(b.umax, v | m), b.s32_min, b.s32_max, b.u32_min, b.u32_max)


def update_reg_bounds(b: Bounds) -> Bounds:
    return update_reg64_bounds(update_reg32_bounds(b))


def reg32_deduce_bounds(b: Bounds) -> Bounds:
    """``__reg32_deduce_bounds``: 32-bit bounds from the 64-bit ones, and signed from unsigned."""
    u32_min, u32_max, s32_min, s32_max = b.u32_min, b.u32_max, b.s32_min, b.s32_max
    if b.umin >> 32 == b.umax >> 32:
        u32_min = max(u32_min, u32(b.umin))
        u32_max = min(u32_max, u32(b.umax))
        if s32(b.umin) <= s32(b.umax):
            s32_min = max(s32_min, s32(b.umin))
            s32_max = min(s32_max, s32(b.umax))
    if b.smin >> 32 == b.smax >> 32:
        if u32(b.smin) <= u32(b.smax):
            u32_min = max(u32_min, u32(b.smin))
            u32_max = min(u32_max, u32(b.smax))
        if s32(b.smin) <= s32(b.smax):
            s32_min = max(s32_min, s32(b.smin))
            s32_max = min(s32_max, s32(b.smax))
    if u32((b.umin >> 32) + 1) == u32(b.umax >> 32) and s32(b.umin) < 0 <= s32(b.umax):
        s32_min = max(s32_min, s32(b.umin))
        s32_max = min(s32_max, s32(b.umax))
    if u32((u64(b.smin) >> 32) + 1) == u32(u64(b.smax) >> 32) and s32(b.smin) < 0 <= s32(b.smax):
        s32_min = max(s32_min, s32(b.smin))
        s32_max = min(s32_max, s32(b.smax))
    if s32(u32_min) <= s32(u32_max):
        s32_min = max(s32_min, s32(u32_min))
        s32_max = min(s32_max, s32(u32_max))
    if u32(s32_min) <= u32(s32_max):
        u32_min = max(u32(s32_min), u32_min)
        u32_max = min(u32(s32_max), u32_max)
    return Bounds(b.var_off, b.smin, b.smax, b.umin, b.umax, s32_min, s32_max, u32_min, u32_max)


def reg64_deduce_bounds(b: Bounds) -> Bounds:
    """``__reg64_deduce_bounds``: signed from unsigned and back, also across the sign boundary."""
    smin, smax, umin, umax = b.smin, b.smax, b.umin, b.umax
    if s64(umin) <= s64(umax):
        smin = max(smin, s64(umin))
        smax = min(smax, s64(umax))
    if u64(smin) <= u64(smax):
        umin = max(u64(smin), umin)
        umax = min(u64(smax), umax)
    elif umax < u64(smin):
        smin = s64(umin)
        umax = min(umax, u64(smax))
    elif u64(smax) < umin:
        smax = s64(umax)
        umin = max(umin, u64(smin))
    return Bounds(b.var_off, smin, smax, umin, umax, b.s32_min, b.s32_max, b.u32_min, b.u32_max)


def reg_deduce_mixed_bounds(b: Bounds) -> Bounds:
    """``__reg_deduce_mixed_bounds``: 64-bit bounds from the 32-bit ones and the upper 32 bits."""
    umin = max(b.umin, (b.umin & ~U32_MAX) | b.u32_min)
    umax = min(b.umax, (b.umax & ~U32_MAX) | b.u32_max)
    smin = max(b.smin, s64((u64(b.smin) & ~U32_MAX) | b.u32_min))
    smax = min(b.smax, s64((u64(b.smax) & ~U32_MAX) | b.u32_max))
    var_off = b.var_off
    if b.s32_min >= 0 and smin >= S32_MIN and smax <= S32_MAX:
        smin, smax, umin, umax = b.s32_min, b.s32_max, b.s32_min, b.s32_max
        var_off = tnum.intersect(var_off, tnum.range_(u64(smin), u64(smax)))
    return Bounds(var_off, smin, smax, umin, umax, b.s32_min, b.s32_max, b.u32_min, b.u32_max)


def reg_deduce_bounds(b: Bounds) -> Bounds:
    return reg_deduce_mixed_bounds(reg64_deduce_bounds(reg32_deduce_bounds(b)))


def reg_bound_offset(b: Bounds) -> Bounds:
    """``__reg_bound_offset``: known bits from the unsigned ranges."""
    var64 = tnum.intersect(b.var_off, tnum.range_(b.umin, b.umax))
    var32 = tnum.intersect(tnum.subreg(var64), tnum.range_(b.u32_min, b.u32_max))
    return Bounds(tnum.or_(tnum.clear_subreg(var64), var32), b.smin, b.smax, b.umin, b.umax, b.s32_min,
                  b.s32_max, b.u32_min, b.u32_max)


@lru_cache(maxsize=1 << 16)
def sync(b: Bounds) -> Bounds:
    """``reg_bounds_sync`` (pure, so results are cached: loops meet the same bounds again and again)."""
    b = update_reg_bounds(b)
    b = reg_deduce_bounds(b)
    b = reg_deduce_bounds(b)
    b = reg_deduce_bounds(b)
    b = reg_bound_offset(b)
    return update_reg_bounds(b)


def check_invariants(b: Bounds) -> str | None:
    """``reg_bounds_sanity_check``: why the state is impossible, or None when it is consistent."""
    if b.umin > b.umax or b.smin > b.smax or b.u32_min > b.u32_max or b.s32_min > b.s32_max:
        return "range bounds violation"
    if tnum.is_const(b.var_off):
        v = b.var_off.value
        if not (b.umin == v == b.umax and b.smin == s64(v) == b.smax):
            return "const tnum out of sync with range bounds"
    if tnum.is_const(tnum.subreg(b.var_off)):
        v = tnum.subreg(b.var_off).value
        if not (b.u32_min == v == b.u32_max and b.s32_min == s32(v) == b.s32_max):
            return "const subreg tnum out of sync with range bounds"
    return None


def from_urange(lo: int, hi: int) -> Bounds:
    """A scalar known only to be in ``[lo, hi]`` (unsigned), synced."""
    return sync(replace(UNBOUNDED, umin=lo, umax=hi))


def from_srange(lo: int, hi: int) -> Bounds:
    return sync(replace(UNBOUNDED, smin=lo, smax=hi))
