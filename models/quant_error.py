"""Quantization error by format and granularity: the table a user reads before choosing a datapath.

Each quantizer (:func:`lowbit.models.quantize.parse_quantizer` syntax, or a block format)
quantizes an M×K activation-like matrix along K; the error is the signal-to-quantization-noise
ratio ``SQNR = 10·log10(Σx² / Σ(x - dequantize(quantize(x)))²)`` in dB, on three data sets:

* ``gaussian``: i.i.d. N(0, 1);
* ``student-t``: i.i.d. Student-t with 3 degrees of freedom (heavy tails);
* ``outliers``: N(0, 1) with ``OUTLIER_FRACTION`` of the K channels (columns) scaled by
  ``OUTLIER_GAIN``, as the activations of large language models have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

from lowbit.models.bitmod import parse_bitmod
from lowbit.models.formats import parse_format
from lowbit.models.lmul import lmul_products, pair_offset
from lowbit.models.minifloat import FloatFormat
from lowbit.models.olive import parse_olive
from lowbit.models.qgemm import exact_dots
from lowbit.models.quantize import parse_quantizer

OUTLIER_FRACTION = 1 / 128
OUTLIER_GAIN = 50.0
STUDENT_T_DOF = 3


def gaussian(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_normal(shape)


def student_t(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_t(STUDENT_T_DOF, shape)


def outlier_channels(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    x = rng.standard_normal(shape)
    count = max(1, round(shape[1] * OUTLIER_FRACTION))
    x[:, rng.choice(shape[1], count, replace=False)] *= OUTLIER_GAIN
    return x


DATASETS: dict[str, Callable[[np.random.Generator, tuple[int, int]], np.ndarray]] = {
    "gaussian": gaussian, "student-t": student_t, "outliers": outlier_channels}

#: what ``lowbit quant-error`` reports by default: the common integer, FP8, MX and NVFP4
#: choices, and the research formats (BitMoD, OliVe) beside the plain types they extend
DEFAULT_QUANTIZERS: tuple[str, ...] = (
    "int8:tensor", "int8:channel", "int8:g128", "int4:tensor", "int4:channel", "int4:g128",
    "int4:g32", "int4:g32:asym", "int4:g32:e8m0", "fp8_e4m3:tensor", "fp8_e4m3:channel",
    "fp8_e5m2:channel", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3",
    "mxfp4", "nvfp4", "fp4_e2m1:g128", "bitmod4:g128", "int3:g128", "bitmod3:g128",
    "fp4_e2m1:tensor", "fp4_e2m1:channel", "olive4:tensor", "olive4:channel",
    "ternary:channel", "binary:channel")


def error_quantizer(text: str):
    """A quantizer of the report: the research formats (``bitmod3``/``bitmod4``,
    :mod:`lowbit.models.bitmod`; ``olive4``, :mod:`lowbit.models.olive`), else
    :func:`~lowbit.models.quantize.parse_quantizer`'s."""
    return parse_bitmod(text) or parse_olive(text) or parse_quantizer(text)


def sqnr_db(x: np.ndarray, approx: np.ndarray) -> float:
    """``10·log10(Σx² / Σ(x - approx)²)``; inf when the approximation is exact."""
    noise = float(np.sum((x - approx) ** 2))
    signal = float(np.sum(x ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


@dataclass(frozen=True)
class ErrorRow:
    """One quantizer: its name, storage per element and SQNR (dB) per data set."""

    quantizer: str
    bits_per_element: float
    sqnr: dict[str, float]


def quant_error(quantizers: Iterable[str], shape: tuple[int, int] = (256, 1024), seed: int = 0,
                progress: Callable[[str], None] = lambda text: None) -> list[ErrorRow]:
    """SQNR of every quantizer on every data set (the same matrices for all quantizers)."""
    specs = [error_quantizer(q) for q in quantizers]
    rng = np.random.default_rng(seed)
    data = {name: make(rng, shape).astype(np.float32) for name, make in DATASETS.items()}
    rows = []
    for spec in specs:
        progress(f"quantizing with {spec.name}")
        results, bits = {}, 0.0
        for name, x in data.items():
            q = spec.quantize(x, k_axis=1)
            results[name] = sqnr_db(x.astype(np.float64), q.dequantize())
            bits = q.bits_per_element
        rows.append(ErrorRow(spec.name, bits, results))
    return rows


# ---- the error of an approximate multiplier (L-Mul) against the exact product ---------------

#: the minifloats ``lowbit quant-error --mul lmul`` compares by default
DEFAULT_MUL_FORMATS: tuple[str, ...] = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3",
                                        "fp4_e2m1")


@dataclass(frozen=True)
class MulErrorRow:
    """L-Mul of one format pair against the exact product, beside rounding the exact product
    to the ``m`` mantissa bits L-Mul works at (what an m-bit float multiplier gives).

    ``mean``/``max`` are relative errors ``|p - exact| / |exact|`` over every finite, nonzero
    code pair, ``lmul_bias`` the mean of ``(p - exact) / exact`` (negative: magnitudes come out
    too small); ``dot`` is the normwise relative error ``‖d - d_exact‖ / ‖d_exact‖`` of dot
    products of Gaussian data quantized per tensor to the two formats."""

    a: str
    w: str
    m: int
    l_m: int
    pairs: int
    lmul_mean: float
    lmul_max: float
    lmul_bias: float
    round_mean: float
    round_max: float
    lmul_dot: float
    round_dot: float


def round_to_bits(values: np.ndarray, man_bits: int) -> np.ndarray:
    """Round to nearest even with ``man_bits`` mantissa bits and an unbounded exponent (a
    float64-range minifloat), so only the significand's precision is compared."""
    wide = FloatFormat(f"e10m{man_bits}", 10, man_bits, 511)
    return wide.decode(wide.encode(values))


def _relative(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Relative errors ``(approx - exact) / exact``: negative where the magnitude is too small."""
    return (approx - exact) / exact


def _lmul_values(fa, fw, l_m: int, ca: np.ndarray, cw: np.ndarray) -> np.ndarray:
    """L-Mul products of code pairs as float64 values."""
    unit = 2.0 ** (fa.lsb + fw.lsb - l_m)
    return np.array(lmul_products(fa, ca, fw, cw, -l_m).tolist(), float) * unit


def mul_error(formats: Iterable[str] = DEFAULT_MUL_FORMATS, shape: tuple[int, int] = (256, 1024),
              seed: int = 0, progress: Callable[[str], None] = lambda text: None
              ) -> list[MulErrorRow]:
    """One row per unordered pair of ``formats`` (each with itself included)."""
    fmts = [parse_format(f) for f in formats]
    rng = np.random.default_rng(seed)
    x, y = gaussian(rng, shape), gaussian(rng, shape)
    rows = []
    for i, fa in enumerate(fmts):
        for fw in fmts[i:]:
            progress(f"L-Mul {fa.name} × {fw.name}")
            m, l_m = max(fa.man_bits, fw.man_bits), pair_offset(fa, fw)
            lmul = partial(_lmul_values, fa, fw, l_m)
            ca, cw = (g.reshape(-1) for g in np.meshgrid(fa.codes(), fw.codes(), indexing="ij"))
            with np.errstate(invalid="ignore"):  # inf × 0: not a live pair
                exact = fa.decode(ca) * fw.decode(cw)
            live = np.isfinite(exact) & (exact != 0)
            ca, cw, exact = ca[live], cw[live], exact[live]
            err = _relative(lmul(ca, cw), exact)
            rounded = _relative(round_to_bits(exact, m), exact)

            qa = parse_quantizer(f"{fa.name}:tensor").quantize(x, k_axis=1).codes
            qw = parse_quantizer(f"{fw.name}:tensor").quantize(y, k_axis=1).codes
            sums, _ = exact_dots(fa, qa, fw, qw)
            dots = np.array(sums.tolist(), float) * 2.0 ** (fa.lsb + fw.lsb)
            products = fa.decode(qa) * fw.decode(qw)
            lmul_dots = lmul(qa.reshape(-1), qw.reshape(-1)).reshape(shape).sum(axis=1)
            round_dots = round_to_bits(products, m).sum(axis=1)
            norm = np.linalg.norm(dots)
            rows.append(MulErrorRow(
                fa.name, fw.name, m, l_m, int(live.sum()), float(np.abs(err).mean()),
                float(np.abs(err).max()), float(err.mean()), float(np.abs(rounded).mean()),
                float(np.abs(rounded).max()),
                float(np.linalg.norm(lmul_dots - dots) / norm),
                float(np.linalg.norm(round_dots - dots) / norm)))
    return rows
