"""Dyadic requantization (as in HAWQ-V3): an integer accumulator back to a narrow integer with
an integer multiplier and a shift, no floating point in the datapath.

``y = clip(round_shift(acc · b, c) + z_out, min, max)`` where ``b / 2**c`` approximates the
real multiplier ``m = s_a · s_w / s_out``. ``round_shift(x, c)`` divides by ``2**c`` (c ≥ 1)
with a stated rounding:

* ``half_up``: ``floor((x + 2**(c-1)) / 2**c)``: add half, arithmetic shift right (the
  cheapest hardware; ties go toward +inf).
* ``half_even``: ties to even.
* ``half_away``: ties away from zero (gemmlowp's ``RoundingDivideByPOT``).

``c = 0`` is the identity and ``c < 0`` a left shift (exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import IntFormat

ROUNDINGS: tuple[str, ...] = ("half_up", "half_even", "half_away")
#: the largest right shift the model takes (int64 arithmetic)
MAX_SHIFT = 62


@dataclass(frozen=True, eq=False)
class Dyadic:
    """Multipliers ``b`` (non-negative integers below ``2**(bits-1)``) and shifts ``c``, scalars
    or arrays broadcasting over the accumulator (e.g. one per output channel)."""

    multiplier: np.ndarray
    shift: np.ndarray
    bits: int

    @classmethod
    def fit(cls, m, bits: int = 32) -> Dyadic:
        """The ``b / 2**c`` nearest to each ``m ≥ 0`` with ``b`` of ``bits - 1`` bits: ``b`` in
        ``[2**(bits-2), 2**(bits-1))`` where the shift allows (relative error ≤ 2**(1-bits))."""
        if not 2 <= bits <= 32:
            raise UsageError(f"multiplier width {bits} is not allowed; 2..32 bits")
        m = np.asarray(m, dtype=np.float64)
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise UsageError("requantization multipliers must be finite and non-negative")
        e = np.frexp(m)[1].astype(np.int64) - 1
        c = np.minimum(bits - 2 - e, MAX_SHIFT)
        b = np.rint(np.ldexp(m, c.astype(np.int32))).astype(np.int64)
        carry = b >= 1 << (bits - 1)
        b, c = np.where(carry, b >> 1, b), np.where(carry, c - 1, c)
        c = np.where(b == 0, 0, c)
        return cls(b, c, bits)

    @property
    def value(self) -> np.ndarray:
        """The multipliers' exact values ``b / 2**c`` (float64)."""
        return np.ldexp(self.multiplier.astype(np.float64), (-self.shift).astype(np.int32))


def round_shift(x: np.ndarray, c: np.ndarray, rounding: str = "half_up") -> np.ndarray:
    """``x / 2**c`` rounded as stated (int64 in and out; c may be an array)."""
    if rounding not in ROUNDINGS:
        raise UsageError(f"rounding {rounding!r} is not allowed; one of {', '.join(ROUNDINGS)}")
    x = np.asarray(x, dtype=np.int64)
    c = np.broadcast_to(np.asarray(c, dtype=np.int64), np.broadcast_shapes(x.shape, np.shape(c)))
    x = np.broadcast_to(x, c.shape)
    right = np.maximum(c, 1)
    half = np.int64(1) << (right - 1)
    if rounding == "half_up":
        q = (x + half) >> right
    elif rounding == "half_even":
        q = x >> right
        r = x - (q << right)
        q = q + ((r > half) | ((r == half) & (q & 1 == 1)))
    else:
        q = (np.abs(x) + half) >> right
        q = np.where(x < 0, -q, q)
    return np.where(c > 0, q, x << np.maximum(-c, 0))


def requantize(acc: np.ndarray, dyadic: Dyadic, out: IntFormat, zero_point=0,
               rounding: str = "half_up") -> np.ndarray:
    """Accumulator values to values of ``out``: ``clip(round_shift(acc·b, c) + z, min, max)``.

    Parameters
    ----------
    acc
        Accumulator values.
    dyadic
        ``b`` and ``c`` with ``b / 2**c`` the real multiplier.
    out
        The integer format of the results.
    zero_point
        ``z``.
    rounding
        ``half_up``, ``half_even`` or ``half_away``.

    Returns
    -------
    numpy.ndarray
        Values of ``out``.
    """
    acc = np.asarray(acc, dtype=np.int64)
    b, c = dyadic.multiplier, dyadic.shift
    bound = (int(np.abs(acc).max(initial=0)) * int(np.max(b, initial=0))
             << max(0, -int(np.min(c, initial=0))))
    if bound + (1 << MAX_SHIFT) >= 1 << 63:
        raise UsageError(f"|acc|·b reaches {bound.bit_length()} bits; the requantizer model "
                         "takes products below 2**62 (use a narrower multiplier)")
    y = round_shift(acc * b, c, rounding) + np.asarray(zero_point, dtype=np.int64)
    return np.clip(y, out.min, out.max)
