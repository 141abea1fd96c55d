"""Dyadic requantization against exact rational arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.errors import UsageError
from lowbit.models.formats import IntFormat
from lowbit.models.requant import Dyadic, requantize, round_shift


def reference_round(x: int, c: int, mode: str) -> int:
    if c <= 0:
        return x << -c
    q = Fraction(x, 1 << c)
    floor = q.numerator // q.denominator
    frac = q - floor
    if frac != Fraction(1, 2):
        return round(q) if frac != 0 else floor
    return {"half_up": floor + 1, "half_even": floor + (floor & 1),
            "half_away": floor + 1 if x > 0 else floor}[mode]


@settings(max_examples=400, deadline=None)
@given(st.integers(-(1 << 40), 1 << 40), st.integers(-3, 40),
       st.sampled_from(["half_up", "half_even", "half_away"]))
def test_round_shift(x, c, mode):
    assert int(round_shift(np.array([x]), c, mode)[0]) == reference_round(x, c, mode)


def test_ties():
    x = np.array([5, -5, 6, -6, 7, -7])  # /2: 2.5, -2.5, 3, -3, 3.5, -3.5
    np.testing.assert_array_equal(round_shift(x, 1, "half_up"), [3, -2, 3, -3, 4, -3])
    np.testing.assert_array_equal(round_shift(x, 1, "half_even"), [2, -2, 3, -3, 4, -4])
    np.testing.assert_array_equal(round_shift(x, 1, "half_away"), [3, -3, 3, -3, 4, -4])


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-12, 1e4), st.integers(8, 32))
def test_fit_is_nearest_and_precise(m, bits):
    d = Dyadic.fit(m, bits)
    b, c = int(d.multiplier), int(d.shift)
    assert 0 < b < 1 << (bits - 1)
    exact = Fraction(m) * Fraction(2) ** c
    assert abs(exact - b) <= Fraction(1, 2)  # b is m·2**c rounded
    if c < 62:
        error = abs(Fraction(b, 1) / Fraction(2) ** c - Fraction(m))
        assert error <= Fraction(m) / (1 << (bits - 2))


def test_requantize_per_channel_against_reference():
    rng = np.random.default_rng(4)
    acc = rng.integers(-(1 << 24), 1 << 24, (5, 3))
    m = np.array([[3.1e-4, 0.017, 2.5e-6]])
    d = Dyadic.fit(m, 31)
    out = IntFormat(8)
    for mode in ("half_up", "half_even", "half_away"):
        got = requantize(acc, d, out, zero_point=np.array([[3, -2, 0]]), rounding=mode)
        for (i, j), x in np.ndenumerate(acc):
            y = reference_round(int(x) * int(d.multiplier[0, j]), int(d.shift[0, j]), mode)
            y += [3, -2, 0][j]
            assert got[i, j] == min(max(y, -128), 127)
    np.testing.assert_allclose(d.value, m, rtol=2.0 ** -29)


def test_bad_input():
    with pytest.raises(UsageError, match="rounding 'up' is not allowed"):
        round_shift(np.array([1]), 1, "up")
    with pytest.raises(UsageError, match="finite and non-negative"):
        Dyadic.fit(-1.0)
    with pytest.raises(UsageError, match="below 2\\*\\*62"):
        requantize(np.array([1 << 40]), Dyadic.fit(0.5, 32), IntFormat(8))
