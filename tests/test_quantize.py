"""Quantizers against slow references that round with exact rationals, group by group."""

import functools
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.errors import UsageError
from lowbit.models.block_formats import BLOCK_FORMATS, MXINT8, NVFP4
from lowbit.models.formats import FormatError, IntFormat, parse_format
from lowbit.models.quantize import QuantSpec, parse_quantizer, quantize

ML = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
      "fp6_e3m2": ml_dtypes.float6_e3m2fn, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
      "fp4_e2m1": ml_dtypes.float4_e2m1fn}
#: emax_elem of the OCP MX spec, written out independently of the format objects
MX_EMAX = {"fp8_e4m3": 8, "fp8_e5m2": 15, "fp6_e3m2": 4, "fp6_e2m3": 2, "fp4_e2m1": 2,
           "int8_f6": 0}


def rne(q: Fraction) -> int:
    return round(q)  # Python rounds Fractions half to even


@functools.cache
def finite_values(name: str) -> list[float]:
    return sorted({float(c) for c in np.arange(256, dtype=np.uint8).view(ML[name])
                   .astype(np.float64) if np.isfinite(c)})


def nearest_float(v: Fraction, name: str) -> float:
    """The nearest value of a minifloat to v, ties to the even code, saturating to ±max."""
    t = ML[name]
    vals = finite_values(name)
    if v >= Fraction(vals[-1]):
        return vals[-1]
    if v <= Fraction(vals[0]):
        return vals[0]
    hi = next(i for i, x in enumerate(vals) if Fraction(x) >= v)
    lo_v, hi_v = vals[hi - 1], vals[hi]
    d_lo, d_hi = v - Fraction(lo_v), Fraction(hi_v) - v
    if d_lo != d_hi:
        return lo_v if d_lo < d_hi else hi_v
    even = [x for x in (lo_v, hi_v) if np.array([x]).astype(t).view(np.uint8)[0] % 2 == 0]
    return even[0]


def groups_of(x, k_axis, group):
    """Yield (index array, values) per group, walking rows of the non-K axis."""
    xt = x if k_axis == 1 else x.T
    for r in range(xt.shape[0]):
        for g in range(xt.shape[1] // group):
            yield (r, g), xt[r, g * group:(g + 1) * group]


def pow2_ceil(num: float, den: float, lo: int, hi: int) -> float:
    e = -300
    while den * 2.0 ** e < num:
        e += 1
    return 2.0 ** min(max(e, lo), hi) if num > 0 else 1.0


def ref_scale(amax, qmax, scale_type):
    if scale_type == "float32":
        s = float(np.float32(amax) / np.float32(qmax))
        return s if s > 0 else 1.0
    return pow2_ceil(float(amax), qmax, *((-128, 127) if scale_type == "pow2" else (-127, 127)))


def check_against_reference(x, spec: QuantSpec, k_axis):
    q = spec.quantize(x, k_axis)
    k = x.shape[k_axis]
    x32 = x.astype(np.float32).astype(np.float64)
    if spec.granularity == "tensor":
        x32 = x32.reshape(1, -1) if k_axis == 1 else x32.reshape(-1, 1)
        k = x32.size
    group = spec.group or k
    got_vals = q.elements()
    got_vals = got_vals.reshape(1, -1) if spec.granularity == "tensor" and k_axis == 1 else \
        got_vals.reshape(-1, 1) if spec.granularity == "tensor" else got_vals
    sc = q.scales
    for (r, g), xs in groups_of(x32, k_axis, group):
        fmt = spec.fmt
        scale = sc[min(r, sc.shape[0] - 1), g] if k_axis == 1 else sc[g, min(r, sc.shape[1] - 1)]
        want_vals = []
        if spec.symmetric:
            want_scale = ref_scale(np.abs(xs).max(), fmt.max, spec.scale)
            for v in xs:
                ratio = Fraction(v) / Fraction(want_scale)
                if isinstance(fmt, IntFormat):
                    want_vals.append(min(max(rne(ratio), fmt.min), fmt.max))
                else:
                    want_vals.append(nearest_float(ratio, fmt.name))
        else:
            lo, hi = min(xs.min(), 0.0), max(xs.max(), 0.0)
            levels = fmt.max - fmt.min
            if spec.scale == "float32":
                want_scale = float((np.float32(hi) - np.float32(lo)) / np.float32(levels)) or 1.0
            else:
                want_scale = ref_scale(hi - lo, levels, spec.scale)
            zp = min(max(rne(fmt.min - Fraction(lo) / Fraction(want_scale)), fmt.min), fmt.max)
            want_vals = [min(max(rne(Fraction(v) / Fraction(want_scale)) + zp, fmt.min), fmt.max)
                         for v in xs]
            zps = q.zero_points
            assert (zps[min(r, zps.shape[0] - 1), g] if k_axis == 1 else
                    zps[g, min(r, zps.shape[1] - 1)]) == zp
        assert scale == want_scale
        row = got_vals[r, g * group:(g + 1) * group] if k_axis == 1 else \
            got_vals[g * group:(g + 1) * group, r]
        np.testing.assert_array_equal(row, want_vals)
    return q


def data(rng, shape, outliers=False):
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-4, 4, (1, shape[1])))
    if outliers:
        x[0, 0] = 40.0
    return x


@pytest.mark.parametrize("k_axis", [0, 1])
@pytest.mark.parametrize("gran", ["tensor", "channel", "group"])
@pytest.mark.parametrize("scale", ["float32", "pow2", "e8m0"])
@pytest.mark.parametrize("fmt", ["int8", "int4", "uint3", "fp8_e4m3", "fp4_e2m1"])
def test_symmetric_matches_reference(fmt, scale, gran, k_axis):
    rng = np.random.default_rng(hash((fmt, scale, gran, k_axis)) % 2**32)
    x = data(rng, (6, 32) if k_axis == 1 else (32, 6), outliers=True)
    spec = QuantSpec(parse_format(fmt), gran, 8 if gran == "group" else None, True, scale)
    q = check_against_reference(x, spec, k_axis)
    if scale != "float32" and fmt.startswith("int"):  # powers of two never clip
        assert np.all(np.abs(x) <= q.fmt.max * q.expand(q.scales))
        assert np.all(np.frexp(q.scales)[0] == 0.5)


@pytest.mark.parametrize("k_axis", [0, 1])
@pytest.mark.parametrize("scale", ["float32", "pow2"])
@pytest.mark.parametrize("fmt", ["uint8", "int4", "uint4"])
def test_asymmetric_matches_reference(fmt, scale, k_axis):
    rng = np.random.default_rng(3)
    x = data(rng, (5, 32) if k_axis == 1 else (32, 5)) + 0.7
    spec = QuantSpec(parse_format(fmt), "group", 16, False, scale)
    q = check_against_reference(x, spec, k_axis)
    err = np.abs(q.dequantize() - x.astype(np.float32))
    assert np.all(err <= q.expand(q.scales) / 2 * (1 + 1e-6))


def mx_reference(x, fmt, k_axis):
    """Per block: shared exponent from the spec, elements by exact nearest-even, saturating."""
    name = fmt.element.name
    vals, scales = np.zeros_like(x, dtype=np.float64), []
    xt = x.astype(np.float32).astype(np.float64)
    for (r, g), xs in groups_of(xt, k_axis, 32):
        amax = np.abs(xs).max() or 2.0 ** -126
        shared = min(max(math.frexp(amax)[1] - 1 - MX_EMAX[name], -127), 127)
        scales.append(2.0 ** shared)
        for i, v in enumerate(xs):
            ratio = Fraction(v) / Fraction(2) ** shared
            e = (min(max(rne(ratio * 64), -128), 127) / 64 if name == "int8_f6"
                 else nearest_float(ratio, name))
            if k_axis == 1:
                vals[r, g * 32 + i] = e
            else:
                vals[g * 32 + i, r] = e
    return vals, scales


@pytest.mark.parametrize("k_axis", [0, 1])
@pytest.mark.parametrize("name", [n for n in BLOCK_FORMATS if n != "nvfp4"])
def test_mx_matches_the_spec(name, k_axis):
    fmt = BLOCK_FORMATS[name]
    rng = np.random.default_rng(len(name) + k_axis)
    x = data(rng, (3, 64) if k_axis == 1 else (64, 3), outliers=True)
    x[(slice(None), slice(32, 64)) if k_axis == 1 else (slice(32, 64), slice(None))][0] = 0.0
    q = fmt.quantize(x, k_axis)
    want, scales = mx_reference(x, fmt, k_axis)
    np.testing.assert_array_equal(q.elements(), want)
    got_scales = q.scales if k_axis == 1 else q.scales.T
    np.testing.assert_array_equal(got_scales.reshape(-1), scales)
    assert q.scale_type == "e8m0" and q.group == 32


def test_mx_zero_block_and_int8_corner():
    x = np.zeros((1, 64))
    x[0, 32:] = np.linspace(-1.999, 1.5, 32)
    q = MXINT8.quantize(x)
    assert q.scales[0, 0] == 2.0 ** -126  # all-zero block: amax = smallest FP32 normal
    assert q.elements()[0, 32] == -2.0  # -1.999 rounds to the two's-complement minimum


def nvfp4_reference(x):
    x32 = x.astype(np.float32)
    ts = float(np.float32(np.abs(x32).max()) / np.float32(np.float32(448) * np.float32(6)))
    vals = np.zeros(x.shape)
    scales = []
    for (r, g), xs in groups_of(x32.astype(np.float64), 1, 16):
        raw = np.float32(np.abs(xs).max()) / np.float32(6) / np.float32(ts)
        s = nearest_float(Fraction(float(raw)), "fp8_e4m3")
        scales.append(s)
        for i, v in enumerate(xs):
            vals[r, g * 16 + i] = nearest_float(Fraction(v) / (Fraction(s) * Fraction(ts)),
                                                "fp4_e2m1") if s else 0.0
    return vals, scales, ts


def test_nvfp4_matches_the_recipe():
    rng = np.random.default_rng(11)
    x = data(rng, (4, 64), outliers=True)
    q = NVFP4.quantize(x)
    want, scales, ts = nvfp4_reference(x)
    assert q.tensor_scale == ts and q.scale_type == "e4m3"
    np.testing.assert_array_equal(q.scales.reshape(-1), scales)
    np.testing.assert_array_equal(q.elements(), want)
    np.testing.assert_allclose(q.dequantize(), x, rtol=0.3, atol=0.1 * np.abs(x).max())


def test_ternary_and_binary_rules():
    x = np.array([[0.1, -0.9, 1.1, -0.05, 0.6, 0.0, -0.3, 0.9]])
    q = QuantSpec(parse_format("ternary")).quantize(x)
    delta = 0.7 * np.abs(x.astype(np.float32).astype(np.float64)).mean()
    np.testing.assert_array_equal(q.elements()[0], np.sign(x[0]) * (np.abs(x[0]) > delta))
    kept = np.abs(x[0])[np.abs(x[0]) > delta]
    assert q.scales[0, 0] == pytest.approx(kept.mean(), rel=1e-6)
    b = QuantSpec(parse_format("binary"), "group", 4).quantize(x)
    np.testing.assert_array_equal(b.elements()[0], np.where(x[0] < 0, -1, 1))
    np.testing.assert_allclose(b.scales[0], [np.abs(x[0, :4]).mean(), np.abs(x[0, 4:]).mean()],
                               rtol=1e-6)
    p = QuantSpec(parse_format("binary"), scale="pow2").quantize(x)
    assert p.scales[0, 0] == 0.5  # mean |x| = 0.49375, nearest power of two


def test_all_zero_tensor():
    q = quantize(np.zeros((2, 8)), "int8:asym")
    assert q.scales[0, 0] == 1.0 and q.zero_points[0, 0] == -128 and not q.dequantize().any()
    q = quantize(np.zeros((2, 8)), "int8")
    assert q.scales[0, 0] == 1.0 and not q.elements().any()


@pytest.mark.parametrize("text,name", [
    ("int4:g128:asym:pow2", "int4:g128:asym:pow2"), ("INT8:channel", "int8:channel"),
    ("fp8_e4m3", "fp8_e4m3:tensor"), ("ternary:g64", "ternary:g64"), ("uint8:sym:e8m0",
                                                                       "uint8:tensor:e8m0")])
def test_parse_quantizer(text, name):
    assert parse_quantizer(text).name == name


def test_parse_quantizer_block_format():
    assert parse_quantizer("mxfp4") is BLOCK_FORMATS["mxfp4"]


@pytest.mark.parametrize("call,message", [
    (lambda: quantize(np.zeros((4, 100)), "int4:g48"),
     "group size 48 does not divide K=100; pad K to 144 (zeros) or choose a group size that "
     "divides 100 (e.g. 25, 20, 10)"),
    (lambda: quantize(np.zeros((4, 40)), "mxfp4"), "group size 32 does not divide K=40"),
    (lambda: quantize(np.array([[1.0, np.nan]]), "int8"), "NaN or infinity"),
    (lambda: quantize(np.zeros((2, 2)), "fp8_e4m3:asym"), "asymmetric (zero-point) quantization "
                                                          "needs an integer format"),
    (lambda: quantize(np.zeros((2, 2)), "mxfp4:g16"), "mxfp4 sets its own block size"),
    (lambda: quantize(np.zeros((2, 2)), "int8:g0"), "group size 0 is not allowed"),
    (lambda: quantize(np.zeros((2, 2)), "int8:blocky"), "quantizer option 'blocky'"),
    (lambda: quantize(np.zeros((2, 2)), "int30"), "use pow2 scales"),
    (lambda: quantize(np.zeros(4), "int8"), "2-D GEMM operands"),
    (lambda: quantize(np.zeros((2, 2)), "int8", k_axis=2), "k_axis=2 is not allowed"),
    (lambda: quantize(np.zeros((2, 2)), "int9x"), "unknown number format 'int9x'"),
])
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises((UsageError, FormatError)) as e:
        call()
    assert message in str(e.value) and len(str(e.value).splitlines()) == 1


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([n for n in BLOCK_FORMATS if n != "nvfp4"]), st.integers(-100, 100),
       st.data())
def test_mx_round_trips_representable_blocks(name, shared, data):
    """A block of element values times 2**shared dequantizes to itself whenever its values are
    representable at the scale the spec's rule picks. (They are not when the rule pushes the
    block maximum past the element maximum, E4M3's 1.875·2**e → 480 > 448, or when MXINT8's -2
    is the maximum and the rule picks the next scale up.)"""
    fmt = BLOCK_FORMATS[name]
    finite = fmt.element.codes()[np.isfinite(fmt.element.decode(fmt.element.codes()))]
    codes = data.draw(st.lists(st.sampled_from(finite.tolist()), min_size=32, max_size=32))
    v = np.ldexp(fmt.element.decode(np.array(codes)), shared).reshape(1, 32)
    q = fmt.quantize(v)
    amax = np.abs(v).max()
    chosen = math.frexp(amax)[1] - 1 - MX_EMAX[fmt.element.name] if amax else -127
    if np.isin(np.ldexp(v, -max(chosen, -127)), fmt.element.values()).all():
        np.testing.assert_array_equal(q.dequantize(), v)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["int8", "int4", "uint6", "int2"]), st.integers(-30, 30), st.data())
def test_pow2_grid_values_round_trip(fmt_name, e, data):
    fmt = parse_format(fmt_name)
    q = data.draw(st.lists(st.integers(max(fmt.min, -fmt.max), fmt.max), min_size=16,
                           max_size=16))
    x = np.ldexp(np.array(q, dtype=float), e).reshape(2, 8)
    for gran in ("tensor", "channel", "g4"):
        back = quantize(x, f"{fmt_name}:{gran}:pow2").dequantize()
        np.testing.assert_array_equal(back, x)
