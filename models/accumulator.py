"""Accumulator semantics shared by every integer datapath: width, signedness, overflow rule.

The stated order is the hardware's: ``acc[0] = 0`` and ``acc[k+1] = ovf(acc[k] + p[k])`` for
k = 0..K-1, where ``ovf`` either wraps to ``bits`` bits (two's complement when signed) or
saturates to the accumulator's range at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import IntFormat, IntRange

Overflow = Literal["wrap", "saturate"]
OVERFLOW_MODES: tuple[str, ...] = ("wrap", "saturate")
MAX_ACC_BITS = 64


@dataclass(frozen=True)
class Accumulator(IntRange):
    """An accumulator register of ``bits`` bits with an overflow rule."""

    bits: int
    signed: bool = True
    overflow: Overflow = "wrap"

    def __post_init__(self) -> None:
        top = MAX_ACC_BITS if self.signed else MAX_ACC_BITS - 1
        if not 1 <= self.bits <= top:
            raise UsageError(
                f"accumulator width {self.bits} is not allowed; 1..{top} bits for a "
                f"{'signed' if self.signed else 'unsigned'} accumulator (values are held in int64)"
            )
        if self.overflow not in OVERFLOW_MODES:
            raise UsageError(
                f"overflow mode {self.overflow!r} is not allowed; "
                f"one of {', '.join(OVERFLOW_MODES)}"
            )

    @classmethod
    def for_operands(cls, a: IntFormat, w: IntFormat, bits: int, overflow: Overflow) -> Accumulator:
        """The accumulator of an ``a`` × ``w`` datapath: signed unless both operands are
        unsigned."""
        return cls(bits, a.signed or w.signed, overflow)

    def wrap(self, x: np.ndarray) -> np.ndarray:
        """Reduce exact (or modulo 2**64) integers, or raw codes, to the register's value."""
        u = np.asarray(x)
        u = u.astype(np.uint64) if u.dtype == np.uint64 else u.astype(np.int64).view(np.uint64)
        if self.bits < 64:
            u = u & np.uint64((1 << self.bits) - 1)
        s = u.view(np.int64)
        if self.signed and self.bits < 64:
            s = np.where(s >= (1 << (self.bits - 1)), s - (1 << self.bits), s)
        return s

    decode = wrap

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Register values to the bit patterns on the wire."""
        u = self.wrap(values).view(np.uint64)
        return u & np.uint64((1 << self.bits) - 1) if self.bits < 64 else u

    def clamp(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.min, self.max)

    def accumulate(self, terms: np.ndarray) -> np.ndarray:
        """Row-wise ``acc[k+1] = ovf(acc[k] + terms[:, k])`` from ``acc[0] = 0``: the register
        after each row's terms (exact int64 integers) have entered in order."""
        terms = np.asarray(terms, dtype=np.int64)
        if self.overflow == "wrap":  # modular, so one wrap of the (mod 2**64) sum is exact
            return self.wrap(terms.sum(axis=1))
        out = np.zeros(terms.shape[0], dtype=np.int64)
        for k in range(terms.shape[1]):
            out = self.clamp(out + terms[:, k])
        return out

    def overflows(self, exact: np.ndarray) -> int:
        """How many exact sums (integers of any size) lie outside the register's range: the
        results the overflow rule decided."""
        x = np.asarray(exact, dtype=object)
        return int(((x < self.min) | (x > self.max)).sum())

    def holds(self, lo: int, hi: int) -> bool:
        """Whether every integer in ``lo..hi`` fits without overflow."""
        return self.min <= lo and hi <= self.max


def product_bits(a: IntFormat, w: IntFormat) -> int:
    """Bits that hold every ``a × w`` product in the accumulator's signedness.

    Two's-complement × two's-complement needs a.bits + w.bits (the most negative squared is
    the one value that needs the top bit); any mix of signedness also fits in a.bits + w.bits.
    """
    return a.bits + w.bits


def product_range(a: IntFormat, w: IntFormat) -> tuple[int, int]:
    corners = [x * y for x in (a.min, a.max) for y in (w.min, w.max)]
    return min(corners), max(corners)
