"""Scalar bounds: syncing never loses a possible value, and it tightens what it should."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ebpf.verifier import bounds, tnum
from app.ebpf.verifier.bounds import UNBOUNDED, Bounds, check_invariants, s32, s64, sync, u32

U64 = (1 << 64) - 1
values = st.one_of(st.integers(0, U64), st.integers(0, 0x1FF), st.sampled_from(
    [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, U64, U64 - 0xFF]))


@st.composite
def bounds_with_member(draw):
    """Random constraints that all hold for one concrete value."""
    v = draw(values)
    b = UNBOUNDED
    if draw(st.booleans()):
        lo, hi = sorted((v, draw(values)))
        b = replace(b, umin=max(b.umin, min(lo, v)), umax=min(b.umax, max(hi, v)))
    if draw(st.booleans()):
        other = s64(draw(values))
        b = replace(b, smin=min(s64(v), other), smax=max(s64(v), s64(draw(values)), s64(v)))
    if draw(st.booleans()):
        o = s32(draw(values))
        b = replace(b, s32_min=min(s32(v), o), s32_max=max(s32(v), o))
    if draw(st.booleans()):
        o = u32(draw(values))
        b = replace(b, u32_min=min(u32(v), o), u32_max=max(u32(v), o))
    if draw(st.booleans()):
        mask = draw(values)
        b = replace(b, var_off=tnum.Tnum(v & ~mask & U64, mask))
    return b, v


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(bv=bounds_with_member())
def test_sync_keeps_every_possible_value(bv):
    b, v = bv
    assert b.contains(v)
    synced = sync(b)
    assert synced.contains(v), (b, synced)
    assert check_invariants(synced) is None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(v=values)
def test_constants_are_exact(v):
    b = bounds.const(v)
    assert sync(b) == b and check_invariants(b) is None


def test_known_deductions():
    b = sync(replace(UNBOUNDED, umax=0xFF))
    assert (b.smin, b.smax, b.u32_max, b.s32_min, b.var_off) == (0, 0xFF, 0xFF, 0, tnum.Tnum(0, 0xFF))
    b = sync(replace(UNBOUNDED, var_off=tnum.Tnum(0, 0xF0)))
    assert (b.umin, b.umax, b.smax) == (0, 0xF0, 0xF0)
    b = sync(replace(UNBOUNDED, smin=-5, smax=5))
    assert (b.s32_min, b.s32_max) == (-5, 5) and b.umax == U64
    b = sync(replace(UNBOUNDED, umin=10, umax=20))
    assert (b.smin, b.smax, b.u32_min, b.u32_max) == (10, 20, 10, 20)


def test_invariant_check_reports_empty_ranges():
    assert check_invariants(Bounds(umin=5, umax=4)) == "range bounds violation"
    assert check_invariants(replace(bounds.const(3), umax=4)) == "const tnum out of sync with range bounds"


def test_contains_requires_every_view():
    b = sync(replace(UNBOUNDED, s32_min=-1, s32_max=1))
    assert b.contains(0xFFFFFFFF) and b.contains(1) and not b.contains(2)
