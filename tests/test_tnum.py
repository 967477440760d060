"""Tristate numbers are sound: every concrete result of an operation on members is a member of the result."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ebpf.verifier import tnum
from app.ebpf.verifier.tnum import M64, Tnum

words = st.one_of(st.integers(0, M64), st.sampled_from([0, 1, 0xFF, 0xFFFFFFFF, 1 << 63, M64]))


@st.composite
def tnum_and_member(draw):
    value, mask = draw(words), draw(st.one_of(words, st.integers(0, 0xFF), st.just(0)))
    value &= ~mask
    t = Tnum(value, mask)
    member = value | (draw(words) & mask)
    return t, member


BINARY = {
    "add": (tnum.add, lambda x, y: (x + y) & M64),
    "sub": (tnum.sub, lambda x, y: (x - y) & M64),
    "mul": (tnum.mul, lambda x, y: (x * y) & M64),
    "and": (tnum.and_, lambda x, y: x & y),
    "or": (tnum.or_, lambda x, y: x | y),
    "xor": (tnum.xor, lambda x, y: x ^ y),
}


@settings(max_examples=400, deadline=None, derandomize=True)
@given(a=tnum_and_member(), b=tnum_and_member())
def test_binary_operations_are_sound(a, b):
    (ta, x), (tb, y) = a, b
    for name, (abstract, concrete) in BINARY.items():
        assert tnum.contains_value(abstract(ta, tb), concrete(x, y)), name
    assert tnum.contains_value(tnum.union(ta, tb), x) and tnum.contains_value(tnum.union(ta, tb), y)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(a=tnum_and_member(), shift=st.integers(0, 63))
def test_shifts_and_casts_are_sound(a, shift):
    t, x = a
    assert tnum.contains_value(tnum.lshift(t, shift), (x << shift) & M64)
    assert tnum.contains_value(tnum.rshift(t, shift), x >> shift)
    signed = x - (1 << 64) if x >> 63 else x
    assert tnum.contains_value(tnum.arshift(t, shift, 64), (signed >> shift) & M64)
    s32 = (x & 0xFFFFFFFF) - (1 << 32) if x >> 31 & 1 else x & 0xFFFFFFFF
    assert tnum.contains_value(tnum.arshift(tnum.subreg(t), shift % 32, 32), (s32 >> (shift % 32)) & 0xFFFFFFFF)
    for size in (1, 2, 4, 8):
        assert tnum.contains_value(tnum.cast(t, size), x & ((1 << (size * 8)) - 1))
    assert tnum.contains_value(tnum.neg(t), -x & M64)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(lo=words, hi=words, pick=words)
def test_range_contains_its_interval(lo, hi, pick):
    lo, hi = min(lo, hi), max(lo, hi)
    t = tnum.range_(lo, hi)
    assert tnum.contains_value(t, lo) and tnum.contains_value(t, hi)
    assert tnum.contains_value(t, lo + pick % (hi - lo + 1))


def test_known_values_and_printing():
    assert tnum.add(tnum.const(3), tnum.const(4)) == tnum.const(7)
    assert tnum.range_(0, 255) == Tnum(0, 0xFF)
    assert tnum.strn(Tnum(0, 0xFF)) == "(0x0; 0xff)"
    assert tnum.sbin(Tnum(0b100, 0b011), 4) == "01xx"
    assert tnum.contains(Tnum(0, 0xFF), Tnum(0x10, 0x0F)) and not tnum.contains(Tnum(0, 0x0F), Tnum(0, 0xF0))
    assert tnum.with_subreg(tnum.UNKNOWN, tnum.const(5)) == Tnum(5, M64 & ~0xFFFFFFFF)
    assert tnum.mul(Tnum(0, 3), tnum.const(4)) == Tnum(0, 12)
