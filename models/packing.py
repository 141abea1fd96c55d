"""Several products that share an operand, computed by one wide multiplier.

``count`` products ``a·w[k]`` come out of one product ``P = a·W`` with the weights packed as
``W = Σ w[k]·2^(shift·k)`` (as Xilinx's WP486/WP521 pack INT8/INT4 weights into one DSP
multiplier). Since ``P = Σ p[k]·2^(shift·k)``, each product sits in a field of ``P``; the
fields overlap only through the negative lower products, which borrow from the fields above.
Three ways of getting the products back, cheapest first:

==========  ===================================================================================
``none``    every product is ≥ 0: field ``k`` is ``P[shift·k : shift·k + bits]``.
``sign``    two's-complement fields of ``bits = width(product range)`` bits (``shift ≥ bits``):
            ``p[0] = sext(P[0 : bits])`` and ``p[k] = sext((P >> shift·k) + P[shift·k - 1])``:
            the lower part's sign bit undoes its borrow (WP486's correction). It needs every
            lower part ``Σ_{j<k} p[j]·2^(shift·j)`` to fit ``shift·k`` bits, which
            :class:`Packing` checks.
``offset``  the densest: any ``shift`` with ``2^shift`` ≥ the number of product values.
            ``Q = P - lo·Σ_k 2^(shift·k)`` (``lo`` the least product) is a plain concatenation
            of fields ``q[k] = p[k] - lo`` in ``0 .. 2^shift - 1``, so
            ``p[k] = Q[shift·k : shift·k + shift] + lo``: one constant addition before the
            fields and one constant per field after.
==========  ===================================================================================

Which packings fit a multiplier is a question of its port widths (:class:`MultiplierPorts`,
each port signed or unsigned as the operands need, like MULT18X18D's ``SIGNEDA``/``SIGNEDB``):
:func:`packings` lists, for every count that fits, the cheapest way. On the ECP5 18×18 block:
int8 × two int4 (``sign``, shift 12) but not three (they need 2·11 + 4 = 26 bits of W);
int4 × two int4 (``sign``, shift 8; three need 19 bits of W even at ``offset``'s shift 7);
int8 × two int2 but not three (``offset`` shift 9 gives W 20 bits); int4 × four int2
(``offset``, shift 5; ``sign`` fits three); uint2 × five uint2 (``none``, shift 4).

Everything here is numpy on int64 and works for products of up to 62 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lowbit.models.accumulator import product_range
from lowbit.models.formats import IntFormat

Correction = Literal["none", "sign", "offset"]
#: the ways of recovering the products, cheapest first
CORRECTIONS: tuple[Correction, ...] = ("none", "sign", "offset")


class PackingError(ValueError):
    """A packing whose fields cannot be recovered exactly, or that does not fit a multiplier."""


def range_bits(lo: int, hi: int) -> tuple[int, bool]:
    """``(bits, signed)`` of the narrowest integer holding ``lo..hi``: two's complement when
    ``lo < 0``, else unsigned (at least one bit)."""
    if lo < 0:
        bits = 1
        while not (-(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1))):
            bits += 1
        return bits, True
    return max(int(hi).bit_length(), 1), False


@dataclass(frozen=True)
class MultiplierPorts:
    """The operand widths of a multiplier whose ports are each set signed or unsigned, and the
    product bits it gives (e.g. ECP5 MULT18X18D: 18, 18, 36)."""

    a_bits: int
    w_bits: int
    p_bits: int


#: the ECP5 sysDSP 18×18 multiplier (MULT18X18D)
MULT18X18 = MultiplierPorts(18, 18, 36)
#: the iCE40 SB_MAC16 in 16×16 mode
MAC16_16X16 = MultiplierPorts(16, 16, 32)
#: one of the two products of the iCE40 SB_MAC16 in 8×8 mode
MAC16_8X8 = MultiplierPorts(8, 8, 16)
#: one of a Gowin DSP block's two 9×9 multipliers (MULT9X9), and the 18×18 they make
GOWIN_9X9, GOWIN_18X18 = MultiplierPorts(9, 9, 18), MultiplierPorts(18, 18, 36)


@dataclass(frozen=True)
class Packing:
    """``count`` products ``a·w[k]`` in fields ``shift`` bits apart of one product ``a·W``.

    Construction checks that ``correction`` recovers every product exactly at this ``shift``.
    """

    a: IntFormat
    w: IntFormat
    count: int
    shift: int
    correction: Correction

    def __post_init__(self) -> None:
        if self.count < 1 or self.shift < 1:
            raise PackingError(f"count={self.count}, shift={self.shift}: both must be ≥ 1")
        if self.correction not in CORRECTIONS:
            raise PackingError(f"correction {self.correction!r}; one of {', '.join(CORRECTIONS)}")
        if self.count > 1 and self.shift < min_shift(self.a, self.w, self.correction):
            raise PackingError(
                f"{self.a}×{self.w} products need shift ≥ "
                f"{min_shift(self.a, self.w, self.correction)} with correction "
                f"{self.correction!r}; got {self.shift}")
        if self.correction == "none" and self.lo < 0:
            raise PackingError(f"{self.a}×{self.w} products can be negative; correction "
                               "'none' needs non-negative products")
        if self.correction == "sign" and self.lo >= 0:
            raise PackingError(f"{self.a}×{self.w} products are never negative; correction "
                               "'sign' is for two's-complement fields (use 'none')")
        if self.correction == "sign" and not self._lower_parts_fit():
            raise PackingError(f"with shift {self.shift} a negative lower part of "
                               f"{self.count} {self.a}×{self.w} products leaves its field")

    @property
    def lo(self) -> int:
        """The least product."""
        return product_range(self.a, self.w)[0]

    @property
    def hi(self) -> int:
        """The greatest product."""
        return product_range(self.a, self.w)[1]

    @property
    def field_bits(self) -> int:
        """Bits of one recovered product (two's complement when products can be negative)."""
        return range_bits(self.lo, self.hi)[0]

    @property
    def top_bits(self) -> int:
        """The bits of ``P`` (or of ``Q`` with ``offset``) that the fields occupy."""
        top = self.shift if self.correction == "offset" else self.field_bits
        return self.shift * (self.count - 1) + top

    @property
    def offset(self) -> int:
        """``-lo·Σ_k 2^(shift·k)``: what ``offset`` adds to ``P`` (0 for the other ways)."""
        if self.correction != "offset":
            return 0
        return -self.lo * sum(1 << (self.shift * k) for k in range(self.count))

    @property
    def w_range(self) -> tuple[int, int]:
        """The least and greatest packed operand ``W``."""
        scale = sum(1 << (self.shift * k) for k in range(self.count))
        return self.w.min * scale, self.w.max * scale

    def fits(self, ports: MultiplierPorts) -> bool:
        """Whether ``a`` and ``W`` fit the ports and the fields fit the product."""
        return (range_bits(self.a.min, self.a.max)[0] <= ports.a_bits
                and range_bits(*self.w_range)[0] <= ports.w_bits
                and self.top_bits <= ports.p_bits)

    def pack(self, w: np.ndarray) -> np.ndarray:
        """``W = Σ w[..., k]·2^(shift·k)`` of weights ``w`` whose last axis has ``count`` lanes."""
        w = np.asarray(w, dtype=np.int64)
        if w.shape[-1:] != (self.count,):
            raise PackingError(f"weights of shape {w.shape}; the last axis must hold "
                               f"{self.count} lanes")
        shifts = np.arange(self.count, dtype=np.int64) * self.shift
        return np.sum(w << shifts, axis=-1)

    def unpack(self, p: np.ndarray) -> np.ndarray:
        """The ``count`` products (last axis) in wide products ``p = a·W``, by ``correction``."""
        p = np.asarray(p, dtype=np.int64) + self.offset
        fields = []
        for k in range(self.count):
            part = p >> (self.shift * k)
            if self.correction == "sign" and k:
                part = part + ((p >> (self.shift * k - 1)) & 1)
            bits = self.shift if self.correction == "offset" else self.field_bits
            fields.append(_field(part, bits, signed=self.correction == "sign") + (
                self.lo if self.correction == "offset" else 0))
        return np.stack(fields, axis=-1)

    def _lower_parts_fit(self) -> bool:
        """``sign``: every ``Σ_{j<k} p[j]·2^(shift·j)`` is within ``±2^(shift·k - 1)``."""
        for k in range(1, self.count):
            scale = sum(1 << (self.shift * j) for j in range(k))
            half = 1 << (self.shift * k - 1)
            if self.lo * scale < -half or self.hi * scale >= half:
                return False
        return True


def _field(x: np.ndarray, bits: int, *, signed: bool) -> np.ndarray:
    """The low ``bits`` of ``x``, read as two's complement when ``signed``."""
    low = x & ((1 << bits) - 1)
    if signed:
        low = np.where(low >= (1 << (bits - 1)), low - (1 << bits), low)
    return low


def min_shift(a: IntFormat, w: IntFormat, correction: Correction) -> int:
    """The least field distance at which ``correction`` can recover ``a×w`` products (before
    :class:`Packing`'s check of the lower parts for ``sign``)."""
    lo, hi = product_range(a, w)
    if correction == "offset":
        return max((hi - lo).bit_length(), 1)
    return range_bits(lo, hi)[0]


def cheapest(a: IntFormat, w: IntFormat, count: int, ports: MultiplierPorts) -> Packing | None:
    """The cheapest exact packing of ``count`` products that fits ``ports``, or None."""
    for correction in CORRECTIONS:
        try:
            packing = Packing(a, w, count, min_shift(a, w, correction), correction)
        except PackingError:
            continue
        if packing.fits(ports):
            return packing
    return None


def packings(a: IntFormat, w: IntFormat, ports: MultiplierPorts) -> list[Packing]:
    """For every count from 2 up that fits ``ports``, its cheapest packing (most first)."""
    found = []
    count = 2
    while (p := cheapest(a, w, count, ports)) is not None:
        found.append(p)
        count += 1
    return found[::-1]
