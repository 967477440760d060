"""Transfer functions of scalar ALU operations on ``Bounds`` (``adjust_scalar_min_max_vals`` and the
``scalar_min_max_*`` / ``scalar32_min_max_*`` functions of ``kernel/bpf/verifier.c``).

Each operation updates the tnum and the ranges the way the kernel does, then ``bounds.sync`` runs
(``reg_bounds_sync``). 32-bit operations compute on the low halves and zero-extend the result
(``zext_32_to_64``). Overflowing ranges become unbounded, as in the kernel.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..vm.alu import alu as concrete_alu
from . import bounds as B
from . import tnum as T
from .bounds import S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, Bounds, s32, s64


def _unbounded64(b: Bounds) -> Bounds:
    return replace(b, smin=S64_MIN, smax=S64_MAX, umin=0, umax=U64_MAX)


def _unbounded32(b: Bounds) -> Bounds:
    return replace(b, s32_min=S32_MIN, s32_max=S32_MAX, u32_min=0, u32_max=U32_MAX)


def _add64(a: Bounds, b: Bounds) -> Bounds:
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        smin, smax = S64_MIN, S64_MAX
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umin > U64_MAX or umax > U64_MAX:
        umin, umax = 0, U64_MAX
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _add32(a: Bounds, b: Bounds) -> Bounds:
    smin, smax = a.s32_min + b.s32_min, a.s32_max + b.s32_max
    if not (S32_MIN <= smin <= S32_MAX and S32_MIN <= smax <= S32_MAX):
        smin, smax = S32_MIN, S32_MAX
    umin, umax = a.u32_min + b.u32_min, a.u32_max + b.u32_max
    if umin > U32_MAX or umax > U32_MAX:
        umin, umax = 0, U32_MAX
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def _sub64(a: Bounds, b: Bounds) -> Bounds:
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        smin, smax = S64_MIN, S64_MAX
    if a.umin < b.umax:
        umin, umax = 0, U64_MAX
    else:
        umin, umax = a.umin - b.umax, a.umax - b.umin
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _sub32(a: Bounds, b: Bounds) -> Bounds:
    smin, smax = a.s32_min - b.s32_max, a.s32_max - b.s32_min
    if not (S32_MIN <= smin <= S32_MAX and S32_MIN <= smax <= S32_MAX):
        smin, smax = S32_MIN, S32_MAX
    if a.u32_min < b.u32_max:
        umin, umax = 0, U32_MAX
    else:
        umin, umax = a.u32_min - b.u32_max, a.u32_max - b.u32_min
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def _mul64(a: Bounds, b: Bounds) -> Bounds:
    """``scalar_min_max_mul``: unsigned product if it fits, signed from the four corner products."""
    umax = a.umax * b.umax
    umin, umax = (a.umin * b.umin, umax) if umax <= U64_MAX else (0, U64_MAX)
    corners = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax]
    if all(S64_MIN <= c <= S64_MAX for c in corners):
        smin, smax = min(corners), max(corners)
    else:
        smin, smax = S64_MIN, S64_MAX
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _mul32(a: Bounds, b: Bounds) -> Bounds:
    umax = a.u32_max * b.u32_max
    umin, umax = (a.u32_min * b.u32_min, umax) if umax <= U32_MAX else (0, U32_MAX)
    corners = [a.s32_min * b.s32_min, a.s32_min * b.s32_max, a.s32_max * b.s32_min, a.s32_max * b.s32_max]
    if all(S32_MIN <= c <= S32_MAX for c in corners):
        smin, smax = min(corners), max(corners)
    else:
        smin, smax = S32_MIN, S32_MAX
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def _and64(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    """``scalar_min_max_and``: at most the smaller umax; signed bounds only when both are non-negative."""
    umin, umax = var.value, min(a.umax, b.umax)
    if a.smin < 0 or b.smin < 0:
        smin, smax = S64_MIN, S64_MAX
    else:
        smin, smax = s64(umin), s64(umax)
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _and32(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    v = T.subreg(var)
    umin, umax = v.value, min(a.u32_max, b.u32_max)
    if a.s32_min < 0 or b.s32_min < 0:
        smin, smax = S32_MIN, S32_MAX
    else:
        smin, smax = s32(umin), s32(umax)
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def _or64(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    umin, umax = max(a.umin, b.umin), var.value | var.mask
    if a.smin < 0 or b.smin < 0:
        smin, smax = S64_MIN, S64_MAX
    else:
        smin, smax = s64(umin), s64(umax)
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _or32(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    v = T.subreg(var)
    umin, umax = max(a.u32_min, b.u32_min), v.value | v.mask
    if a.s32_min < 0 or b.s32_min < 0:
        smin, smax = S32_MIN, S32_MAX
    else:
        smin, smax = s32(umin), s32(umax)
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def _xor64(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    umin, umax = var.value, var.value | var.mask
    if a.smin >= 0 and b.smin >= 0:
        smin, smax = s64(umin), s64(umax)
    else:
        smin, smax = S64_MIN, S64_MAX
    return replace(a, smin=smin, smax=smax, umin=umin, umax=umax)


def _xor32(a: Bounds, b: Bounds, var: T.Tnum) -> Bounds:
    v = T.subreg(var)
    umin, umax = v.value, v.value | v.mask
    if a.s32_min >= 0 and b.s32_min >= 0:
        smin, smax = s32(umin), s32(umax)
    else:
        smin, smax = S32_MIN, S32_MAX
    return replace(a, s32_min=smin, s32_max=smax, u32_min=umin, u32_max=umax)


def alu(op: str, width: int, dst: Bounds, src: Bounds) -> Bounds:
    """``dst op= src`` for scalars, as ``adjust_scalar_min_max_vals`` computes it (width 32 or 64).

    Shift amounts must already be known to be below ``width`` (the caller refuses or gives up
    otherwise, as the kernel does); ``div``/``mod`` and the signed variants give unknown results.

    Two constants give the constant the instruction computes, which is what the bounds arithmetic ends
    with too (a test compares the two), without its cost: loops that count are mostly constants, and
    rarely meet the same pair twice, so this is worked out before the cache of the general case."""
    if op in CONST_FOLDED and dst.is_const() and src.is_const() \
            and (op not in ("lsh", "rsh", "arsh") or src.var_off.value < width):
        return B.const(concrete_alu(op, width, dst.var_off.value, src.var_off.value))  # the VM's own
    return _alu_bounds(op, width, dst, src)


@lru_cache(maxsize=1 << 16)
def _alu_bounds(op: str, width: int, dst: Bounds, src: Bounds) -> Bounds:
    """``alu`` past its constant folding (pure, so results are cached: loops meet the same bounds again)."""
    if width == 32:
        return _alu32(op, dst, src)
    return _alu64(op, dst, src)


CONST_FOLDED = frozenset({"mov", "add", "sub", "mul", "and", "or", "xor", "lsh", "rsh", "arsh"})


def _alu64(op: str, a: Bounds, b: Bounds) -> Bounds:
    if op == "mov":
        return b
    if op in ("div", "sdiv", "mod", "smod"):
        return B.UNBOUNDED
    if op == "add":
        r = _add64(_add32(a, b), b)
        r = replace(r, var_off=T.add(a.var_off, b.var_off))
    elif op == "sub":
        r = _sub64(_sub32(a, b), b)
        r = replace(r, var_off=T.sub(a.var_off, b.var_off))
    elif op == "mul":
        var = T.mul(a.var_off, b.var_off)
        r = replace(_mul64(_mul32(a, b), b), var_off=var)
    elif op in ("and", "or", "xor"):
        var = {"and": T.and_, "or": T.or_, "xor": T.xor}[op](a.var_off, b.var_off)
        f32 = {"and": _and32, "or": _or32, "xor": _xor32}[op]
        f64 = {"and": _and64, "or": _or64, "xor": _xor64}[op]
        r = replace(f64(f32(a, b, var), b, var), var_off=var)
        if T.is_const(var):
            return B.const(var.value)
    elif op in ("lsh", "rsh", "arsh"):
        return _shift64(op, a, b.umin)
    else:
        raise ValueError(op)
    return B.sync(r)


def _alu32(op: str, a: Bounds, b: Bounds) -> Bounds:
    """The 32-bit subregister result, zero-extended to 64 bits (``zext_32_to_64``). Division and modulo are
    not: ``is_safe_to_compute_dst_reg_range`` refuses them, and ``adjust_scalar_min_max_vals`` returns an unknown
    scalar before it zero-extends (the value is zero-extended when it runs; the verifier does not know it)."""
    a32 = _subreg_bounds(a)
    b32 = _subreg_bounds(b)
    if op == "mov":
        r = b32
    elif op in ("div", "sdiv", "mod", "smod"):
        return B.UNBOUNDED
    elif op in ("lsh", "rsh", "arsh"):
        r = _shift32(op, a32, b.u32_min)
    else:
        r = _alu64(op, a32, b32)
    return _zext(r)


def _subreg_bounds(b: Bounds) -> Bounds:
    """The low 32 bits of ``b`` as a value of its own (what a 32-bit operation sees)."""
    return B.sync(Bounds(T.subreg(b.var_off), smin=0, smax=U32_MAX, umin=0, umax=U32_MAX,
                         s32_min=b.s32_min, s32_max=b.s32_max, u32_min=b.u32_min, u32_max=b.u32_max))


def _zext(b: Bounds) -> Bounds:
    """``zext_32_to_64``: the 32-bit result in the low half, upper half zero."""
    var = T.subreg(b.var_off)
    return B.sync(Bounds(var, smin=0, smax=U32_MAX, umin=b.u32_min, umax=b.u32_max, s32_min=b.s32_min,
                         s32_max=b.s32_max, u32_min=b.u32_min, u32_max=b.u32_max))


def _shift64(op: str, a: Bounds, shift: int) -> Bounds:
    if op == "lsh":
        var = T.lshift(a.var_off, shift)
        if a.umax > (U64_MAX >> shift):
            r = replace(B.UNBOUNDED, var_off=var)
        else:
            r = Bounds(var, umin=a.umin << shift, umax=a.umax << shift)
        return B.sync(r)
    if op == "rsh":
        var = T.rshift(a.var_off, shift)
        return B.sync(Bounds(var, umin=a.umin >> shift, umax=a.umax >> shift))
    var = T.arshift(a.var_off, shift, 64)
    return B.sync(Bounds(var, smin=a.smin >> shift, smax=a.smax >> shift))


def _shift32(op: str, a: Bounds, shift: int) -> Bounds:
    v = T.subreg(a.var_off)
    if op == "lsh":
        var = T.subreg(T.lshift(v, shift))
        if a.u32_max > (U32_MAX >> shift):
            umin, umax = 0, U32_MAX
        else:
            umin, umax = a.u32_min << shift, a.u32_max << shift
        return B.sync(Bounds(var, smin=0, smax=U32_MAX, umin=0, umax=U32_MAX, u32_min=umin, u32_max=umax))
    if op == "rsh":
        var = T.rshift(v, shift)
        return B.sync(Bounds(var, smin=0, smax=U32_MAX, umin=0, umax=U32_MAX, u32_min=a.u32_min >> shift,
                             u32_max=a.u32_max >> shift))
    var = T.arshift(v, shift, 32)
    return B.sync(Bounds(var, smin=0, smax=U32_MAX, umin=0, umax=U32_MAX, s32_min=a.s32_min >> shift,
                         s32_max=a.s32_max >> shift))


def add_const(a: Bounds, delta: int, zext: bool) -> Bounds:
    """``a + delta`` as ``sync_linked_regs`` computes a linked register from the known one (64-bit add of the
    delta, then zero-extension of the low half for a link made by alu32)."""
    c = B.const(delta & U64_MAX)
    r = replace(_add64(_add32(a, c), c), var_off=T.add(a.var_off, c.var_off))
    return _zext(r) if zext else B.sync(r)


def neg(width: int, a: Bounds) -> Bounds:
    """``dst = -dst``: the kernel computes 0 - dst."""
    return alu("sub", width, B.const(0), a)
