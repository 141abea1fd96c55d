"""Exact-arithmetic helpers: every path of to_fp32 and exact_matmul against Python integers."""

from fractions import Fraction

import numpy as np
import pytest
from reference import f32

from lowbit.models.exact import exact_matmul, round_odd, to_fp32, two_prod, two_sum


def scales(rng, n, pow2):
    if pow2:
        return np.ldexp(1.0, rng.integers(-140, 100, n))
    return rng.standard_normal(n).astype(np.float32).astype(np.float64) * 2.0 ** 40


def ties(rng, n, bits):
    """Integers d whose scaled value sits on or next to an FP32 rounding tie."""
    top = rng.integers(1 << 23, 1 << 24, n).astype(object)
    shift = bits - 25
    d = [(t << (shift + 1)) + (1 << shift) + int(rng.integers(-1, 2)) for t in top]
    return np.array([x if i % 2 else -x for i, x in enumerate(d)], dtype=object)


def expect(d, lsb, s):
    return np.array([f32(Fraction(int(x)) * Fraction(2) ** lsb * Fraction(float(y)))
                     for x, y in zip(d, s)], dtype=np.float32)


@pytest.mark.parametrize("pow2", [True, False])
@pytest.mark.parametrize("kind", ["float64", "int64-narrow", "int64-wide", "object"])
def test_to_fp32_rounds_once(kind, pow2):
    """Near-ties and random values, every representation of d, power-of-two and FP32 scales."""
    rng = np.random.default_rng(hash((kind, pow2)) % 2**32)
    n = 4000
    bits = {"float64": 50, "int64-narrow": 50, "int64-wide": 62, "object": 90}[kind]
    rand = [int(x) << 40 >> (102 - bits) for x in rng.integers(-(1 << 62), 1 << 62, n // 2)]
    d = np.concatenate([ties(rng, n // 2, bits), np.array(rand, dtype=object)])
    s = scales(rng, n, pow2)
    if kind == "float64":
        arg = d.astype(np.float64)
    elif kind.startswith("int64"):
        arg = d.astype(np.int64)
    else:
        arg = d
    got = to_fp32(arg, -20, s)
    np.testing.assert_array_equal(got.view(np.uint32), expect(d, -20, s).view(np.uint32))


def test_error_free_transformations():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(1000) * 2.0 ** 30
    b = rng.standard_normal(1000) * 2.0 ** -30
    s, e = two_sum(a, b)
    p, f = two_prod(a, b)
    for i in range(1000):
        assert Fraction(s[i]) + Fraction(e[i]) == Fraction(a[i]) + Fraction(b[i])
        assert Fraction(p[i]) + Fraction(f[i]) == Fraction(a[i]) * Fraction(b[i])
    odd = round_odd(s, e)
    inexact = e != 0
    assert np.all(odd.view(np.int64)[inexact] & 1 == 1)


@pytest.mark.parametrize("a_bits,w_bits,k,dtype", [
    (10, 10, 64, np.float64), (32, 18, 32, np.int64), (32, 32, 32, object),
    (40, 40, 300, object)])
def test_exact_matmul_paths(a_bits, w_bits, k, dtype):
    rng = np.random.default_rng(a_bits * w_bits + k)
    a = rng.integers(-(1 << a_bits), 1 << a_bits, (3, k))
    w = rng.integers(-(1 << w_bits), 1 << w_bits, (k, 4))
    a[0, :] = -(1 << a_bits)
    w[:, 0] = -(1 << w_bits)
    got = exact_matmul(a, w, 1 << a_bits, 1 << w_bits)
    want = a.astype(object) @ w.astype(object)
    assert np.array_equal(np.asarray(got).astype(object) if got.dtype != np.float64
                          else got.astype(np.int64).astype(object), want)
    assert got.dtype == dtype
