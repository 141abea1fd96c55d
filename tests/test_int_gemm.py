"""The integer golden model against a slow, obviously-correct Python reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_dot, int_gemm


def reference_dot(a_row, w_col, acc: Accumulator) -> int:
    """acc[k+1] = ovf(acc[k] + a[k]*w[k]) with Python integers."""
    total = 0
    for x, y in zip(a_row, w_col):
        total += int(x) * int(y)
        if acc.overflow == "saturate":
            total = min(max(total, acc.min), acc.max)
        else:
            total &= (1 << acc.bits) - 1
            if acc.signed and total >= 1 << (acc.bits - 1):
                total -= 1 << acc.bits
    return total


def reference_gemm(a, w, acc):
    return np.array([[reference_dot(a[m], w[:, n], acc) for n in range(w.shape[1])]
                     for m in range(a.shape[0])], dtype=object)


formats = st.builds(IntFormat, st.integers(1, 16), st.booleans())


@settings(max_examples=150, deadline=None)
@given(formats, formats, st.integers(1, 12), st.integers(1, 40),
       st.sampled_from(["wrap", "saturate"]), st.integers(0, 2**32 - 1))
def test_gemm_matches_reference(fa, fw, extra_bits, k, overflow, seed):
    bits = min(fa.bits + fw.bits + extra_bits - 6, 64)
    bits = max(bits, fa.bits + fw.bits)
    acc = Accumulator.for_operands(fa, fw, min(bits, 63), overflow)
    rng = np.random.default_rng(seed)
    a = fa.random(rng, (3, k))
    w = fw.random(rng, (k, 4))
    got = int_gemm(a, w, fa, fw, acc)
    np.testing.assert_array_equal(got, reference_gemm(a, w, acc).astype(np.int64))
    d = int_dot(a[:, :], w[:, :3].T, fa, fw, acc)
    np.testing.assert_array_equal(d, [reference_dot(a[i], w[:, i], acc) for i in range(3)])


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_extremes_overflow(overflow):
    fa, fw = IntFormat(8), IntFormat(8)
    acc = Accumulator(16, True, overflow)
    a = np.full((2, 300), -128)
    w = np.stack([np.full(300, -128), np.full(300, 127)], axis=1)
    got = int_gemm(a, w, fa, fw, acc)
    np.testing.assert_array_equal(got, reference_gemm(a, w, acc).astype(np.int64))
    if overflow == "saturate":
        assert got.tolist() == [[32767, -32768], [32767, -32768]]


def test_saturation_order_matters_and_is_stepwise():
    """+max, +max, -max: stepwise saturation gives max - p, not the exact sum."""
    fa, fw = IntFormat(8), IntFormat(1, signed=False)
    acc = Accumulator(9, True, "saturate")  # range -256..255
    a = np.array([[127, 127, 127, -128]])
    w = np.array([[1], [1], [1], [1]])
    assert int_gemm(a, w, fa, fw, acc)[0, 0] == 255 - 128


def test_64_bit_wrap_is_modular():
    fa = fw = IntFormat(32)
    acc = Accumulator(64, True, "wrap")
    a = np.full((1, 5), fa.min)
    w = np.full((5, 1), fw.min)
    assert int_gemm(a, w, fa, fw, acc)[0, 0] == reference_dot(a[0], w[:, 0], acc)


def test_values_outside_the_format_are_rejected():
    with pytest.raises(ValueError, match="outside int4"):
        int_gemm(np.array([[9]]), np.array([[1]]), IntFormat(4), IntFormat(4), Accumulator(16))


def test_accumulator_limits():
    with pytest.raises(Exception, match="1..63 bits for a unsigned"):
        Accumulator(64, signed=False)
    assert Accumulator(64).decode(np.array([2**64 - 1], dtype=np.uint64))[0] == -1
