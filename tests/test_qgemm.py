"""The quantized-GEMM golden model against the slow reference, bit for bit, in every mode."""

from fractions import Fraction

import numpy as np
import pytest
from reference import qgemm as reference_qgemm

from lowbit.errors import UsageError
from lowbit.models.accumulator import Accumulator
from lowbit.models.block_formats import BLOCK_FORMATS
from lowbit.models.formats import parse_format
from lowbit.models.minifloat import FP8_E4M3, FP8_E5M2
from lowbit.models.qgemm import GemmResult, qgemm
from lowbit.models.qtensor import QTensor
from lowbit.models.quantize import quantize


def assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str = "out") -> None:
    """FP32 results compared as bit patterns (NaNs by position only)."""
    g, w = got.astype(np.float32), want.astype(np.float32)
    nan = np.isnan(g) & np.isnan(w)
    bad = np.argwhere((g.view(np.uint32) != w.view(np.uint32)) & ~nan)
    assert bad.size == 0, f"{what} differs at {bad[:3].tolist()}: {g[tuple(bad[0])]!r} vs " \
                          f"{w[tuple(bad[0])]!r}"


def check(a: QTensor, w: QTensor, acc=None, block=None) -> GemmResult:
    result = qgemm(a, w, acc=acc, block=block)
    want, sums = reference_qgemm(a, w, acc=acc, block=block)
    assert_bits_equal(result.out, want)
    for index in np.ndindex(sums.shape):
        if sums[index] != 0:
            assert Fraction(int(result.acc[index])) * Fraction(2) ** result.lsb == sums[index]
    fast = qgemm(a, w, acc=acc, block=block, keep_acc=False)
    assert fast.acc is None
    assert_bits_equal(fast.out, result.out, "out without kept accumulators")
    return result


def operands(rng, qa, qw, m=3, k=64, n=4, spread=4):
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-spread, spread, (m, k)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-spread, spread, (k, n)))
    return quantize(x, qa, 1), quantize(y, qw, 0)


INTEGER_CASES = [("int8", "int4"), ("int8:channel", "int4:g16"),
                 ("uint8:asym", "int8:channel:asym"),
                 ("int4:g32:asym:pow2", "uint4:g16:asym"), ("ternary:g32", "int8:channel"),
                 ("binary", "int3:g8:e8m0"), ("uint2", "binary:g16")]


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("bits", [32, 13, 9])
@pytest.mark.parametrize("qa,qw", INTEGER_CASES)
def test_integer_gemm_with_accumulator(qa, qw, bits, overflow):
    rng = np.random.default_rng(bits + len(qa) * 7 + len(qw))
    a, w = operands(rng, qa, qw)
    acc = Accumulator(bits, True, overflow)
    result = check(a, w, acc=acc)
    assert result.acc.dtype == np.int64 and result.lsb == 0
    assert np.all((result.acc >= acc.min) & (result.acc <= acc.max))


def test_narrow_accumulator_really_overflows():
    """The 9-bit cases above are only meaningful if they overflow: make sure one does."""
    rng = np.random.default_rng(0)
    a, w = operands(rng, "int8", "int8")
    wide = qgemm(a, w, acc=Accumulator(32)).acc
    for mode in ("wrap", "saturate"):
        narrow = qgemm(a, w, acc=Accumulator(9, True, mode)).acc
        assert np.any(narrow != wide)


@pytest.mark.parametrize("qa,qw", INTEGER_CASES)
def test_integer_gemm_exact(qa, qw):
    rng = np.random.default_rng(len(qa) * 3 + len(qw))
    check(*operands(rng, qa, qw))


FLOAT_PAIRS = [("fp8_e4m3", "fp8_e4m3"), ("fp8_e5m2", "fp8_e5m2"), ("fp8_e5m2", "fp8_e4m3"),
               ("fp6_e3m2", "fp4_e2m1"), ("fp4_e2m1", "fp6_e2m3"), ("fp8_e4m3", "int4"),
               ("int8", "fp8_e5m2")]


@pytest.mark.parametrize("fa,fw", FLOAT_PAIRS)
@pytest.mark.parametrize("block", [None, 16, 1])
def test_minifloat_gemm_unscaled(fa, fw, block):
    """Plain minifloat GEMMs: every value of the format, exact sums, one rounding per block."""
    rng = np.random.default_rng(len(fa) + len(fw) + (block or 0))
    fa, fw = parse_format(fa), parse_format(fw)
    a = QTensor.of_values(fa.random(rng, (3, 64)), fa, 1)
    w = QTensor.of_values(fw.random(rng, (64, 4)), fw, 0)
    check(a, w, block=block)


MX_PAIRS = [("mxfp4", "mxfp8_e4m3"), ("mxfp8_e5m2", "mxfp8_e5m2"), ("mxfp8_e5m2", "mxfp8_e4m3"),
            ("mxint8", "mxfp6_e2m3"), ("mxfp6_e3m2", "mxfp4"), ("mxint8", "mxint8"),
            ("nvfp4", "nvfp4"), ("nvfp4", "mxfp4"), ("mxfp8_e4m3", "int4:g32"),
            ("fp8_e4m3:channel", "int4:g32:asym"), ("int8:channel:asym", "fp8_e5m2"),
            ("fp8_e5m2", "fp8_e5m2:channel"), ("fp4_e2m1:g16:e8m0", "nvfp4")]


@pytest.mark.parametrize("qa,qw", MX_PAIRS)
def test_block_scaled_and_mixed_gemm(qa, qw):
    rng = np.random.default_rng(len(qa) * 11 + len(qw))
    a, w = operands(rng, qa, qw, spread=12)
    check(a, w)


def test_every_mx_pair_agrees_fast_and_kept():
    """All MX/NVFP4 pairs at a larger K: the kept-accumulator and the pre-scaled paths agree."""
    rng = np.random.default_rng(5)
    for na, fa in BLOCK_FORMATS.items():
        for nw, fw in BLOCK_FORMATS.items():
            a, w = operands(rng, fa, fw, m=5, k=96, n=6, spread=20)
            r, fast = qgemm(a, w), qgemm(a, w, keep_acc=False)
            assert_bits_equal(fast.out, r.out, f"{na}×{nw}")


def test_non_finite_elements_follow_ieee():
    e5 = FP8_E5M2
    a = np.array([[1.0, np.inf, 2.0, 0.0], [1.0, 2.0, 3.0, 4.0], [np.nan, 1.0, 1.0, 1.0]])
    w = np.array([[1.0, 0.0], [1.0, 0.0], [-np.inf, 1.0], [2.0, 1.0]])
    A, W = QTensor.of_values(a, e5, 1), QTensor.of_values(w, e5, 0)
    r = check(A, W)
    assert np.isnan(r.out[0, 0]) and np.isnan(r.out[0, 1])  # inf - inf; inf · 0
    assert r.out[1, 0] == -np.inf and r.out[1, 1] == 7 and np.isnan(r.out[2]).all()
    e4 = QTensor.of_values(np.array([[np.nan, 1.0]]), FP8_E4M3, 1)
    assert np.isnan(qgemm(e4, QTensor.of_values(np.ones((2, 1)), FP8_E4M3, 0)).out[0, 0])


def test_nan_scale_makes_the_block_nan_even_with_inf_elements():
    """OCP MX: a NaN scale makes every value of its block NaN, an inf element included."""
    a = QTensor(FP8_E5M2, FP8_E5M2.encode(np.array([[np.inf, 1.0], [1.0, 1.0]])), 1, 2,
                np.array([[np.nan], [1.0]]), "e8m0")
    w = QTensor.of_values(np.ones((2, 1)), FP8_E5M2, 0)
    out = check(a, w).out
    assert np.isnan(out[0, 0]) and out[1, 0] == 2.0


def test_fp32_overflow_to_inf():
    x = np.full((1, 32), 3e37)
    a, w = quantize(x, "mxfp8_e4m3", 1), quantize(x.T, "mxfp8_e4m3", 0)
    r = check(a, w)
    assert r.out[0, 0] == np.inf


def test_stated_rounding_order_is_not_a_float64_matmul():
    """1 + 2**-24 + 2**-24: blocks of one round each step to 1.0 (ties to even); one exact block
    holds 1 + 2**-23. A float64 matmul cast to FP32 gets the second, so a model that just used
    BLAS would fail the block-of-one case, and the reference catches it."""
    e5 = FP8_E5M2
    a = QTensor.of_values(np.array([[1.0, 2.0**-12, 2.0**-12]]), e5, 1)
    w = QTensor.of_values(np.array([[1.0], [2.0**-12], [2.0**-12]]), e5, 0)
    naive = (a.elements() @ w.elements()).astype(np.float32)
    per_step = check(a, w, block=1).out
    whole = check(a, w).out
    assert per_step[0, 0] == 1.0 and whole[0, 0] == naive[0, 0] == 1 + 2.0**-23
    with pytest.raises(AssertionError):
        assert_bits_equal(naive, per_step)


def test_the_checker_catches_a_one_bit_error():
    rng = np.random.default_rng(1)
    a, w = operands(rng, "mxfp4", "mxfp8_e4m3")
    out = qgemm(a, w).out.copy()
    want, _ = reference_qgemm(a, w)
    assert_bits_equal(out, want)
    out.view(np.uint32)[1, 2] ^= 1
    with pytest.raises(AssertionError, match=r"differs at \[\[1, 2\]\]"):
        assert_bits_equal(out, want)


def test_wide_block_sums_are_exact():
    """E5M2 × E5M2 block sums need up to 69 bits: they come back as Python integers, exact."""
    big = FP8_E5M2.max
    tiny = FP8_E5M2.min_subnormal
    a = QTensor.of_values(np.array([[big] * 16 + [tiny] * 16]), FP8_E5M2, 1)
    w = QTensor.of_values(np.array([[big]] * 16 + [[tiny]] * 16), FP8_E5M2, 0)
    r = check(a, w)
    assert r.acc.dtype == object
    assert int(r.acc[0, 0, 0]) == 16 * int(big / tiny) ** 2 + 16


@pytest.mark.parametrize("call,message", [
    (lambda a, w: qgemm(w, a), "qgemm takes activations with k_axis=1"),
    (lambda a, w: qgemm(a, QTensor.of_values(np.ones((8, 2)), parse_format("int4"), 0)),
     "do not make an M×K by K×N GEMM"),
    (lambda a, w: qgemm(a, w, block=5), "block 5 must divide 16"),
    (lambda a, w: qgemm(quantize(np.ones((2, 32)), "mxfp4"), w, acc=Accumulator(16)),
     "an integer accumulator needs integer operands"),
])
def test_bad_calls(call, message):
    rng = np.random.default_rng(0)
    a, w = operands(rng, "int8:g16", "int4", m=2, k=32, n=2)
    with pytest.raises(UsageError, match=message):
        call(a, w)


@pytest.mark.parametrize("qa,qw,acc", [("int8:channel:asym", "int4:g16", Accumulator(12)),
                                      ("nvfp4", "mxfp8_e5m2", None),
                                      ("mxfp4", "mxfp8_e4m3", None)])
def test_parallel_row_slabs_match_the_reference(monkeypatch, qa, qw, acc):
    """Large GEMMs split rows over threads; force that on a small one and check it."""
    import lowbit.models.qgemm as module

    monkeypatch.setattr(module, "_PARALLEL_MACS", 0)
    monkeypatch.setattr(module.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    rng = np.random.default_rng(9)
    check(*operands(rng, qa, qw, m=7, k=64, n=3), acc=acc)
