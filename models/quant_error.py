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

import numpy as np

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

#: what ``lowbit quant-error`` reports by default: the common integer, FP8, MX and NVFP4 choices
DEFAULT_QUANTIZERS: tuple[str, ...] = (
    "int8:tensor", "int8:channel", "int8:g128", "int4:tensor", "int4:channel", "int4:g128",
    "int4:g32", "int4:g32:asym", "int4:g32:e8m0", "fp8_e4m3:tensor", "fp8_e4m3:channel",
    "fp8_e5m2:channel", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3",
    "mxfp4", "nvfp4", "ternary:channel", "binary:channel")


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
    specs = [parse_quantizer(q) for q in quantizers]
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
