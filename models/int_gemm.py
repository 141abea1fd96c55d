"""Bit-exact integer dot products and GEMM with hardware accumulator semantics.

Products are exact; accumulation follows :class:`~lowbit.models.accumulator.Accumulator`
(k = 0..K-1 in order, wrap or saturate at every step). Two shortcuts keep this fast without
changing a bit of the result: wrapping is modular, so the exact sum wrapped once equals
step-by-step wrapping; and when no partial sum can leave the range, saturating never fires.
Exact sums are taken in float64 BLAS when every partial sum is below 2**53 (exact in float64
whatever the summation order), otherwise in modular uint64 arithmetic.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.accumulator import Accumulator, product_range
from lowbit.models.formats import IntFormat, LevelFormat

_EXACT_F64 = 1 << 53


def _check(x: np.ndarray, fmt: IntFormat | LevelFormat, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    if x.size and not np.all(fmt.valid(x)):
        raise ValueError(f"{what} has values outside {fmt.name} ({fmt.describe_values()})")
    return x


def _max_abs(fmt: IntFormat) -> int:
    return max(abs(fmt.min), abs(fmt.max))


def _cannot_saturate(k: int, a: IntFormat, w: IntFormat, acc: Accumulator) -> bool:
    lo, hi = product_range(a, w)
    return acc.holds(min(0, k * lo), max(0, k * hi))


def _exact_matmul(a: np.ndarray, w: np.ndarray, bound: int) -> np.ndarray:
    """``a @ w`` exactly when ``bound`` (max |partial sum|) < 2**53, else modulo 2**64."""
    if bound < _EXACT_F64:
        return (a.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return (a.astype(np.uint64) @ w.astype(np.uint64)).view(np.int64)


def int_gemm(a: np.ndarray, w: np.ndarray, a_fmt: IntFormat, w_fmt: IntFormat,
             acc: Accumulator) -> np.ndarray:
    """``C[m, n] = acc-sum over k of a[m, k] * w[k, n]``, as the hardware register holds it.

    ``a`` is M×K, ``w`` is K×N, both integer values of their formats (integers, ternary or
    binary). Returns int64 (uint64
    for an unsigned 64-bit accumulator).

    Parameters
    ----------
    a, w
        Integer values, M×K and K×N.
    a_fmt, w_fmt
        Their formats.
    acc
        The accumulator: width, signedness, wrap or saturate at every step.

    Returns
    -------
    numpy.ndarray
        M×N.
    """
    a = _check(a, a_fmt, "activations")
    w = _check(w, w_fmt, "weights")
    if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0]:
        raise ValueError(f"shapes {a.shape} and {w.shape} do not make an M×K by K×N GEMM")
    k = a.shape[1]
    bound = k * _max_abs(a_fmt) * _max_abs(w_fmt)
    if acc.overflow == "wrap" or _cannot_saturate(k, a_fmt, w_fmt, acc):
        return acc.wrap(_exact_matmul(a, w, bound))
    out = np.zeros((a.shape[0], w.shape[1]), dtype=np.int64)
    for i in range(k):
        out = acc.clamp(out + np.outer(a[:, i], w[i, :]))
    return out


def int_dot(a: np.ndarray, w: np.ndarray, a_fmt: IntFormat, w_fmt: IntFormat,
            acc: Accumulator) -> np.ndarray:
    """Row-wise dot products ``sum over k of a[d, k] * w[d, k]`` with accumulator semantics."""
    a = _check(a, a_fmt, "activations")
    w = _check(w, w_fmt, "weights")
    if a.shape != w.shape or a.ndim != 2:
        raise ValueError(f"shapes {a.shape} and {w.shape} must be equal D×K arrays")
    k = a.shape[1]
    if acc.overflow == "wrap" or _cannot_saturate(k, a_fmt, w_fmt, acc):
        bound = k * _max_abs(a_fmt) * _max_abs(w_fmt)
        if bound < _EXACT_F64:
            return acc.wrap(np.einsum("dk,dk->d", a, w))
        return acc.wrap((a.astype(np.uint64) * w.astype(np.uint64)).sum(axis=1).view(np.int64))
    return acc.accumulate(a * w)
