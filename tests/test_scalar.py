"""Scalar transfer functions are sound: the concrete result of an operation on possible values is a
possible value of the abstract result."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ebpf.verifier import bounds as B
from app.ebpf.verifier import scalar, tnum
from app.ebpf.vm import alu

U64 = (1 << 64) - 1
values = st.one_of(st.integers(0, U64), st.integers(0, 300), st.sampled_from(
    [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, U64]))


@st.composite
def abstract(draw):
    """A scalar known only partly (a range, some known bits), and one value it may hold."""
    v = draw(values)
    kind = draw(st.sampled_from(["const", "urange", "srange", "bits", "unknown"]))
    if kind == "const":
        return B.const(v), v
    if kind == "urange":
        lo, hi = sorted((v, draw(values)))
        return B.sync(replace(B.UNBOUNDED, umin=lo, umax=hi)), v
    if kind == "srange":
        lo, hi = sorted((B.s64(v), B.s64(draw(values))))
        return B.sync(replace(B.UNBOUNDED, smin=lo, smax=hi)), v
    if kind == "bits":
        mask = draw(values)
        return B.sync(replace(B.UNBOUNDED, var_off=tnum.Tnum(v & ~mask & U64, mask))), v
    return B.UNBOUNDED, v


OPS = ["add", "sub", "mul", "and", "or", "xor", "mov", "div", "mod"]


@pytest.mark.parametrize("width", [64, 32])
@pytest.mark.parametrize("op", OPS)
@settings(max_examples=250, deadline=None, derandomize=True)
@given(a=abstract(), b=abstract())
def test_binary_ops_are_sound(op, width, a, b):
    (ab, x), (bb, y) = a, b
    assert ab.contains(x) and bb.contains(y)
    result = scalar.alu(op, width, ab, bb)
    want = alu.alu(op, width, x, y)
    assert result.contains(want), (op, width, ab, bb, x, y, result)
    assert B.check_invariants(result) is None


@pytest.mark.parametrize("width", [64, 32])
@pytest.mark.parametrize("op", ["lsh", "rsh", "arsh"])
@settings(max_examples=250, deadline=None, derandomize=True)
@given(a=abstract(), shift=st.integers(0, 63))
def test_shifts_by_known_amounts_are_sound(op, width, a, shift):
    ab, x = a
    shift %= width
    result = scalar.alu(op, width, ab, B.const(shift))
    assert result.contains(alu.alu(op, width, x, shift))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(a=abstract(), width=st.sampled_from([32, 64]))
def test_neg_is_sound(a, width):
    ab, x = a
    mask = U64 if width == 64 else 0xFFFFFFFF
    assert scalar.neg(width, ab).contains(-(x & mask) & mask)


def test_constants_fold():
    assert scalar.alu("add", 64, B.const(3), B.const(4)) == B.const(7)
    assert scalar.alu("add", 32, B.const(0xFFFFFFFF), B.const(1)) == B.const(0)
    r = scalar.alu("and", 64, B.UNBOUNDED, B.const(0xFF))
    assert (r.umin, r.umax, r.smin, r.smax) == (0, 0xFF, 0, 0xFF)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(op=st.sampled_from(sorted(scalar.CONST_FOLDED)), width=st.sampled_from((32, 64)),
       a=st.one_of(st.sampled_from((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1)),
                   st.integers(0, (1 << 64) - 1)),
       b=st.integers(0, (1 << 64) - 1))
def test_constants_fold_to_what_the_bounds_arithmetic_gives(op, width, a, b):
    """The constant fast path of ``scalar.alu`` equals the full transfer function on two constants."""
    if op in ("lsh", "rsh", "arsh"):
        b %= width
    slow = scalar._alu32(op, B.const(a), B.const(b)) if width == 32 else scalar._alu64(op, B.const(a), B.const(b))
    assert scalar.alu(op, width, B.const(a), B.const(b)) == slow
