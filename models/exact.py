"""Exact arithmetic for the golden models, fast where a bound proves it.

* float64 BLAS is exact on integers while every partial sum stays below 2**53, in any
  summation order; :func:`exact_matmul` splits wider operands into limbs that stay below it.
* :func:`to_fp32` rounds an exact product ``d · 2**lsb · scale`` to FP32 once. The float64
  product is almost always enough: rounding it to 53 bits can land on an FP32 rounding tie but
  never cross one, so only entries sitting exactly on a tie (or in FP32's subnormal range) are
  redone with the exact error of the product (Dekker's TwoProduct) and rounded to odd at 53
  bits, which a later round-to-nearest-even to FP32 turns into the correctly rounded result.
  Integers beyond float64 go through TwoSum or, at worst, Python integers.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_F64 = 1 << 53
_SPLIT = float((1 << 27) + 1)  # Veltkamp's splitter for float64


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s = fl(a + b)`` and the exact error ``a + b - s`` (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p = fl(a · b)`` and the exact error ``a · b - p`` (Dekker; exact without underflow)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def round_odd(s: np.ndarray, err: np.ndarray) -> np.ndarray:
    """The value ``s + err`` (``s`` its float64 rounding) rounded to odd at 53 bits."""
    even = (s.view(np.int64) & 1) == 0
    bump = np.nextafter(s, np.where(err > 0, np.inf, -np.inf))
    return np.where((err != 0) & even & np.isfinite(s), bump, s)


def is_pow2(x: np.ndarray) -> bool:
    """Whether every value is ±2**e, zero or non-finite (so scaling by it is exact)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.abs(np.frexp(x)[0])
    return bool(np.all((m == 0.5) | (m == 0) | ~np.isfinite(x)))


def significand_bound(x: np.ndarray) -> int:
    """The largest odd integer significand among ``x`` (1 for powers of two)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x) & (x != 0)]
    if not x.size:
        return 1
    m = (np.abs(np.frexp(x)[0]) * EXACT_F64).astype(np.int64)
    return int((m // (m & -m)).max())


def _limbs(x: np.ndarray, width: int, bound: int) -> list[tuple[np.ndarray, int]]:
    """Signed integers as ``Σ limb_i · 2**(width·i)``: low limbs in [0, 2**width), the top one
    signed; each with a bound on its magnitude."""
    n = max(1, -(-(bound.bit_length() + 1) // width))
    mask = (1 << width) - 1
    out = [((x >> (width * i)) & mask, mask) for i in range(n - 1)]
    return out + [(x >> (width * (n - 1)), (bound >> (width * (n - 1))) + 1)]


def exact_matmul(a: np.ndarray, w: np.ndarray, a_bound: int, w_bound: int) -> np.ndarray:
    """``a @ w`` exactly for integer-valued ``a`` (M×K) and ``w`` (K×N), int64 or float64 below
    2**53, with ``|a| ≤ a_bound`` and ``|w| ≤ w_bound``.

    Returns float64 (integer values) when every partial sum is below 2**53, else int64 when the
    result fits, else an object array of Python integers.
    """
    k = a.shape[1]
    if k * a_bound * w_bound < EXACT_F64:
        return a.astype(np.float64, copy=False) @ w.astype(np.float64, copy=False)
    a, w = a.astype(np.int64), w.astype(np.int64)
    width = (52 - k.bit_length()) // 2
    terms, term_bound = [], 0
    for i, (x, xb) in enumerate(_limbs(a, width, a_bound)):
        for j, (y, yb) in enumerate(_limbs(w, width, w_bound)):
            terms.append((i + j, x.astype(np.float64) @ y.astype(np.float64)))
            term_bound += (k * xb * yb) << (width * (i + j))
    if term_bound < 1 << 63:
        return sum(p.astype(np.int64) << (width * s) for s, p in terms)
    return sum(p.astype(np.int64).astype(object) * (1 << (width * s)) for s, p in terms)


def _fp32_python(d, lsb: int, scale: float) -> float:
    """RNE32(d · 2**lsb · scale) for one Python integer ``d`` (via round-to-odd at 53 bits)."""
    if not math.isfinite(scale):
        return float(d) * scale
    num, den = scale.as_integer_ratio()
    n = int(d) * num
    e = lsb - (den.bit_length() - 1)
    sign, n = (-1.0 if n < 0 else 1.0), abs(n)
    extra = n.bit_length() - 53
    if extra > 0:
        sticky = int(n & ((1 << extra) - 1) != 0)
        n = (n >> extra) | sticky
        e += extra
    return sign * math.ldexp(n, e)


_fp32_python_ufunc = np.frompyfunc(_fp32_python, 3, 1)


def _fp32_ambiguous(p: np.ndarray) -> np.ndarray:
    """Where rounding float64 ``p`` to FP32 may differ from rounding the exact value it came
    from: ``p`` on an FP32 rounding tie (the 29 bits below FP32's last are ``100…0``), or in
    FP32's subnormal range, where ties sit elsewhere."""
    tie = (p.view(np.int64) & _BELOW_FP32) == _FP32_TIE  # NaN payloads may match: harmless
    return tie | ((np.abs(p) < _FP32_MIN_NORMAL) & (p != 0))


_BELOW_FP32 = (1 << 29) - 1
_FP32_TIE = 1 << 28
_FP32_MIN_NORMAL = 2.0 ** -126


@np.errstate(over="ignore")  # overflow to ±inf is RNE32's defined result, not an accident
def to_fp32(d: np.ndarray, lsb: int, scale: np.ndarray) -> np.ndarray:
    """``RNE32(d · 2**lsb · scale)``, rounded once.

    ``d`` holds exact integers (float64 below 2**53, int64, or Python integers); ``scale``
    exact float64 values broadcastable to ``d``. The float64 product can round, but a rounding
    to 53 bits never crosses an FP32 tie, only lands on one: those entries (rare) are redone
    with the exact error of the product, rounded to odd.
    """
    scale = np.asarray(scale, dtype=np.float64)
    if d.dtype == np.int64:
        if d.size == 0 or max(-int(d.min()), int(d.max())) < EXACT_F64:
            d = d.astype(np.float64)
        elif is_pow2(scale):
            hi = np.ldexp(((d >> 26) << 26).astype(np.float64), lsb) * scale
            lo = np.ldexp((d & ((1 << 26) - 1)).astype(np.float64), lsb) * scale
            return round_odd(*two_sum(hi, lo)).astype(np.float32)
        else:
            d = d.astype(object)
    if d.dtype == object:
        out = _fp32_python_ufunc(d, lsb, np.broadcast_to(scale, d.shape))
        return np.asarray(out, dtype=np.float64).astype(np.float32)
    x = np.ldexp(d, lsb) if lsb else d
    p = x * scale
    fix = _fp32_ambiguous(p)
    if fix.any():
        xs, ss = np.broadcast_to(x, p.shape)[fix], np.broadcast_to(scale, p.shape)[fix]
        p[fix] = round_odd(*two_prod(xs, ss))
    return p.astype(np.float32)
