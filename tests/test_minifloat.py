"""Minifloats against ml_dtypes (exhaustive decode, >1M encodes each) and their own definition."""

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.models.formats import FormatError
from lowbit.models.minifloat import (
    BF16,
    E8M0,
    FLOAT_FORMATS,
    FP4_E2M1,
    FP6_E2M3,
    FP6_E3M2,
    FP8_E3M4,
    FP8_E4M3,
    FP8_E4M3FNUZ,
    FP8_E5M2,
    FP8_E5M2FNUZ,
    FP16,
    FP32,
    FloatFormat,
)

#: the references cast out-of-range values and NaNs through ml_dtypes/numpy on purpose
pytestmark = [pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")]

#: every format ml_dtypes (or numpy) also has, with its type there
REFERENCE = {
    FP8_E4M3: ml_dtypes.float8_e4m3fn, FP8_E5M2: ml_dtypes.float8_e5m2,
    FP6_E3M2: ml_dtypes.float6_e3m2fn, FP6_E2M3: ml_dtypes.float6_e2m3fn,
    FP4_E2M1: ml_dtypes.float4_e2m1fn, E8M0: ml_dtypes.float8_e8m0fnu,
    FP8_E4M3FNUZ: ml_dtypes.float8_e4m3fnuz, FP8_E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
    FP8_E3M4: ml_dtypes.float8_e3m4, FP16: np.float16, BF16: ml_dtypes.bfloat16,
}
ids = [f.name for f in REFERENCE]


def _storage(fmt: FloatFormat):
    return np.uint8 if fmt.bits <= 8 else np.uint16


def reference_decode(fmt, codes):
    return codes.astype(_storage(fmt)).view(REFERENCE[fmt]).astype(np.float64)


def reference_encode(fmt, x32):
    return x32.astype(REFERENCE[fmt]).view(_storage(fmt)).astype(np.uint64)


def test_reference_names_exist():
    """The ml_dtypes names used here are those of the installed version."""
    for name in ("float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn",
                 "float4_e2m1fn", "float8_e8m0fnu"):
        assert hasattr(ml_dtypes, name)


@pytest.mark.parametrize("fmt", REFERENCE, ids=ids)
def test_exhaustive_decode(fmt):
    codes = fmt.codes()
    ref, got = reference_decode(fmt, codes), fmt.decode(codes)
    assert np.array_equal(got, ref, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(ref))  # ±0 and the sign of NaN
    np.testing.assert_array_equal(fmt.is_nan(codes), np.isnan(ref))
    np.testing.assert_array_equal(fmt.is_inf(codes), np.isinf(ref))


def edge_cases(fmt: FloatFormat) -> np.ndarray:
    """Ties between neighbours, a float32 step either side, the subnormal and overflow
    boundaries, zeros, infinities and NaN, with both signs."""
    v = fmt.values()
    v = v[np.isfinite(v)]
    mids = (v[:-1] + v[1:]) / 2  # exact in float64, and in float32 for these formats
    top = fmt.max + (fmt.max - v[-2]) / 2  # the tie just above max
    base = np.concatenate([v, mids, [top, 2 * fmt.max, fmt.min_subnormal / 2,
                                     fmt.min_subnormal / 4, fmt.min_normal, np.inf, np.nan]])
    base = base.astype(np.float32)
    near = np.concatenate([base, np.nextafter(base, np.float32(np.inf)),
                           np.nextafter(base, np.float32(-np.inf)), [0.0]]).astype(np.float32)
    return np.concatenate([near, -near])


def encode_inputs(fmt: FloatFormat, rng) -> np.ndarray:
    bits = rng.integers(0, 1 << 32, 600_000, dtype=np.uint64).astype(np.uint32)
    spread = np.exp2(rng.uniform(math.log2(fmt.min_subnormal) - 2, math.log2(fmt.max) + 1,
                                 300_000)) * rng.choice([-1, 1], 300_000)
    normal = rng.standard_normal(150_000) * fmt.max / 3
    return np.concatenate([bits.view(np.float32), spread.astype(np.float32),
                           normal.astype(np.float32), edge_cases(fmt)])


@pytest.mark.parametrize("fmt", REFERENCE, ids=ids)
def test_encode_agrees_with_ml_dtypes(fmt):
    """Over a million float32 inputs per format encode to the same bits as ml_dtypes.

    ml_dtypes saturates formats without inf/NaN, so those are compared with saturate=True; it
    turns NaN into garbage for them, where this model raises (tested below). Its E8M0 rounds
    float32 subnormals in (2**-127, 2**-126) up to 2**-126 (not to nearest); those are checked
    separately.
    """
    rng = np.random.default_rng(fmt.bits * 1000 + fmt.man_bits)
    x = encode_inputs(fmt, rng)
    if not fmt.has_nan:
        x = x[~np.isnan(x)]
    if fmt is E8M0:
        x = x[~((x > 2.0**-127) & (x < 2.0**-126))]
    assert x.size >= 1_000_000
    got = fmt.encode(x, saturate=not fmt.has_nan)
    ref = reference_encode(fmt, x)
    if fmt is FP16:  # numpy keeps NaN payloads; this model writes one quiet NaN
        keep = ~np.isnan(x)
        got, ref = got[keep], ref[keep]
    bad = np.flatnonzero(got != ref)
    assert bad.size == 0, [(float(x[i]), hex(got[i]), hex(ref[i])) for i in bad[:5]]


def test_e8m0_rounds_float32_subnormals_to_nearest():
    x = np.array([2.0**-127 * 1.01, 2.0**-127 * 1.49, 2.0**-127 * 1.5, 2.0**-127 * 1.9],
                 dtype=np.float32)
    np.testing.assert_array_equal(E8M0.encode(x), [0, 0, 1, 1])


@pytest.mark.parametrize("fmt", [FP32, FP16], ids=["fp32", "fp16"])
def test_encode_from_float64_is_one_rounding(fmt):
    """From float64 the encode rounds once; numpy's float64→float32/float16 casts are correctly
    rounded, so they must agree, including on constructed near-ties."""
    rng = np.random.default_rng(7)
    target = np.float32 if fmt is FP32 else np.float16
    x = rng.standard_normal(300_000) * np.exp2(rng.integers(-30, 30, 300_000))
    v = x[:100_000].astype(target)
    mids = (v.astype(np.float64) + np.nextafter(v, target(np.inf)).astype(np.float64)) / 2
    x = np.concatenate([x, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)])
    with np.errstate(over="ignore"):
        ref = x.astype(target).view(np.uint32 if fmt is FP32 else np.uint16)
    np.testing.assert_array_equal(fmt.encode(x), ref.astype(np.uint64))


def test_float64_input_is_rounded_once():
    """1 + 2**-4 + 2**-40 lies just above the E4M3 tie 1.0625: the nearest value is 1.125.
    Going through float32 first (as some ml_dtypes builds do) rounds it onto the tie and then
    to even, 1.0; the encoder rounds the float64 once."""
    x = np.array([1 + 2**-4 + 2**-40])
    assert FP8_E4M3.decode(FP8_E4M3.encode(x))[0] == 1.125
    assert float(x.astype(np.float32).astype(ml_dtypes.float8_e4m3fn)[0]) == 1.0


@pytest.mark.parametrize("fmt,maximum,smallest", [
    (FP8_E4M3, 448, 2**-9), (FP8_E5M2, 57344, 2**-16), (FP6_E3M2, 28, 2**-4),
    (FP6_E2M3, 7.5, 2**-3), (FP4_E2M1, 6, 0.5), (E8M0, 2.0**127, 2.0**-127)])
def test_named_ranges(fmt, maximum, smallest):
    assert fmt.max == maximum and fmt.min_subnormal == smallest
    assert fmt.bits == {"fp8": 8, "fp6": 6, "fp4": 4, "e8m0": 8}[fmt.name.split("_")[0]]


def test_value_sets():
    np.testing.assert_array_equal(FP4_E2M1.values(), [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1,
                                                      1.5, 2, 3, 4, 6])
    assert FP8_E4M3.values().size == 253  # 256 codes, two NaNs, ±0 once
    assert FP8_E5M2.values().size == 256 - 6 - 2 - 1  # six NaNs, ±inf
    assert E8M0.values().size == 255 and E8M0.values()[0] == 2.0**-127


@pytest.mark.parametrize("fmt", list(FLOAT_FORMATS.values())[:9], ids=list(FLOAT_FORMATS)[:9])
def test_bit_level_definition_recomposes_every_code(fmt):
    """fields() and exact() are the definition hardware builds from: check them on every code."""
    codes = fmt.codes()
    sign, f, m = fmt.fields(codes)
    recomposed = (sign << (fmt.bits - 1) if fmt.signed else 0) | (f << fmt.man_bits) | m
    np.testing.assert_array_equal(recomposed, codes.astype(np.int64))
    fin = fmt.is_finite(codes)
    s, sig, exp = fmt.exact(codes[fin])
    value = np.array([(-1) ** int(a) * int(b) * 2.0 ** int(c) for a, b, c in zip(s, sig, exp)])
    np.testing.assert_array_equal(value, fmt.decode(codes[fin]))
    assert np.all(sig < 1 << (fmt.man_bits + 1))
    if fmt.max_units < 1 << 63:
        np.testing.assert_array_equal(np.ldexp(fmt.units(codes[fin]).astype(float), fmt.lsb),
                                      fmt.decode(codes[fin]))
        assert np.abs(fmt.units(codes[fin])).max() == fmt.max_units
    else:
        with pytest.raises(FormatError, match="beyond the 63"):
            fmt.units(codes)


def test_overflow_and_nan_policies():
    big = np.array([500.0, -1e6, np.inf])
    assert FP8_E4M3.is_nan(FP8_E4M3.encode(big)).all()  # no inf: overflow is NaN
    np.testing.assert_array_equal(FP8_E4M3.decode(FP8_E4M3.encode(big, saturate=True)),
                                  [448, -448, 448])
    np.testing.assert_array_equal(FP8_E5M2.decode(FP8_E5M2.encode(big)), [512, -np.inf, np.inf])
    np.testing.assert_array_equal(FP8_E5M2.decode(FP8_E5M2.encode(np.array([1e6, np.inf]),
                                                                  saturate=True)),
                                  [57344, 57344])  # OFP8's saturation: inf to max too
    for fmt in (FP8_E5M2, FP8_E4M3, FP4_E2M1):
        np.testing.assert_array_equal(
            fmt.decode(fmt.encode(np.array([np.inf, -np.inf]), saturate=True)),
            [fmt.max, -fmt.max])
    with pytest.raises(FormatError, match="value 7 overflows fp4_e2m1 .max 6.*saturate=True"):
        FP4_E2M1.encode(np.array([1.0, 7.0]))
    with pytest.raises(FormatError, match="NaN cannot be encoded in fp6_e3m2, which has no NaN"):
        FP6_E3M2.encode(np.array([np.nan]), saturate=True)
    assert FP8_E4M3FNUZ.encode(np.array([-0.0]))[0] == 0  # no negative zero
    assert E8M0.is_nan(E8M0.encode(np.array([0.0, -1.0]))).all()  # no zero, no sign


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(REFERENCE)), st.data())
def test_round_trip_every_finite_code(fmt, data):
    codes = fmt.codes()
    code = data.draw(st.sampled_from(codes[fmt.is_finite(codes)].tolist()))
    assert fmt.encode(fmt.decode(np.array([code])))[0] == code


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([FP8_E4M3, FP8_E5M2, FP6_E3M2, FP6_E2M3, FP4_E2M1, FP8_E3M4]),
       st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_encode_is_nearest_ties_to_even(fmt, x):
    """Property: within range, the encoded value is a nearest value; on a tie, the even code."""
    if abs(x) > fmt.max:
        return
    code = int(fmt.encode(np.array([x]))[0])
    got = fmt.decode(np.array([code]))[0]
    v = fmt.values()
    best = np.abs(v - x).min()
    assert abs(got - x) == best
    if (np.abs(v - x) == best).sum() == 2:
        assert code & 1 == 0
