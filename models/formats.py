"""Number formats: the single source of truth for how a value is stored in bits.

The golden models encode and decode with these objects; the generators in ``lowbit.hw`` derive
their port shapes, decoders and multipliers from the same objects. A format is never described
twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError


class FormatError(UsageError):
    """A value or a name that a format cannot represent."""


class IntRange:
    """``min``/``max`` of a two's-complement (``signed``) or unsigned integer of ``bits`` bits."""

    bits: int
    signed: bool

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


@dataclass(frozen=True)
class IntFormat(IntRange):
    """An integer of ``bits`` bits, two's complement when ``signed``.

    Codes are the raw bit patterns as unsigned integers (what sits on a wire); values are the
    integers they stand for.
    """

    bits: int
    signed: bool = True

    MAX_BITS = 32

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= self.MAX_BITS:
            raise FormatError(
                f"integer width {self.bits} is not allowed; widths are 1..{self.MAX_BITS} bits"
            )

    @property
    def name(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    def __str__(self) -> str:
        return self.name

    def codes(self) -> np.ndarray:
        """Every bit pattern, in increasing code order."""
        return np.arange(1 << self.bits, dtype=np.uint64)

    def values(self) -> np.ndarray:
        """Every representable value, in increasing order."""
        return np.arange(self.min, self.max + 1, dtype=np.int64)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Integer values to bit patterns; a value out of range is an error, not a wrap."""
        v = np.asarray(values)
        if v.size and not np.issubdtype(v.dtype, np.integer):
            if not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
                raise FormatError(f"{self.name} encodes integers only; got non-integer values")
            v = v.astype(np.int64)
        v = v.astype(np.int64)
        if v.size and (v.min() < self.min or v.max() > self.max):
            bad = v[(v < self.min) | (v > self.max)].flat[0]
            raise FormatError(
                f"value {int(bad)} does not fit {self.name}; allowed {self.min}..{self.max}"
            )
        return (v & ((1 << self.bits) - 1)).astype(np.uint64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Bit patterns to integer values (sign-extended when signed)."""
        c = np.asarray(codes).astype(np.int64) & ((1 << self.bits) - 1)
        if self.signed:
            c = np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
        return c

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Uniformly random values over the whole range."""
        return rng.integers(self.min, self.max, size=shape, endpoint=True, dtype=np.int64)


_INT_NAME = re.compile(r"(u?)int(\d+)")


def parse_format(name: str) -> IntFormat:
    """A format from its name, e.g. ``int8`` or ``uint5``."""
    m = _INT_NAME.fullmatch(str(name).strip().lower())
    if not m:
        raise FormatError(
            f"unknown number format {name!r}; allowed: int1..int{IntFormat.MAX_BITS}, "
            f"uint1..uint{IntFormat.MAX_BITS}"
        )
    return IntFormat(int(m.group(2)), signed=not m.group(1))
