"""Carry-chain array multipliers in the fabric, for any integer widths and signedness.

The product of ``x`` (the wider operand) and ``y`` is the sum of the partial products
``y[i]·x·2^i``, the top one subtracted when ``y`` is two's complement (its top bit weighs
``-2^(m-1)``; a signed ``x`` is sign-extended in every row). One carry chain per row adds a
partial product to the running sum from bit ``i`` up; the first chain adds the first two
partial products, so an ``n × m`` product takes ``max(m - 1, 1)`` chains, each as wide as the
exact range of its running sum (no carry-out beyond what the sum can reach).

``cells`` says how a chain is written:

===========  ================================================================================
``generic``  as Amaranth additions (``sum[i:] ± Mux(y[i], x, 0)``); Yosys turns each into one
             ``$alu``, i.e. one carry chain of whatever family it targets, with the AND terms
             in LUTs of their own.
``ecp5``     as ECP5 CCU2C cells, each bit's AND term(s) inside the carry cell's own LUT4:
             a CCU2C half computes ``S = P ^ CIN`` and ``COUT = P ? CIN : G`` with the
             propagate ``P`` = LUT4(A, B, C, D) and the generate ``G`` = the same table at
             C = D = 0. With ``P = X(A, B) ^ Y(C, D)`` and ``Y(0, 0) = 0``, ``G = X``, which
             is the right carry whenever ``P = 0`` (then ``X = Y``). So a bit of
             ``acc + a·w`` (X = acc, Y = a AND w) or of ``a·w0 + a'·w1`` (two ANDs) or of
             ``acc - a·w`` (X = NOT(a AND w), Y = acc) is one LUT4; a subtracting chain's
             carry-in 1 comes from one extra half whose table is 0 at D = 1 and 1 at
             A = B = C = D = 0. A signed 8×4 product is three chains of 5 CCU2C (30 LUT4s).
===========  ================================================================================

``stages`` registers (every one loads only while ``en`` is high) are spread over the chains:
register ``k`` of ``stages`` follows chain ``ceil(k·chains/stages)``, so the last is at the
output and more stages than chains delay the output.
"""

from __future__ import annotations

import math
from typing import Literal

from amaranth.hdl import Cat, Module, Mux, Signal, Value

from lowbit.hw.carry import ONE, ZERO, Bit, and_, chain, signal
from lowbit.hw.mul.shape import Multiplier, stage
from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat
from lowbit.models.packing import range_bits

Cells = Literal["generic", "ecp5"]
CELLS: tuple[Cells, ...] = ("generic", "ecp5")


def chains(a: IntFormat, w: IntFormat) -> int:
    """How many carry chains an ``a × w`` fabric multiplier has."""
    return max(min(a.bits, w.bits) - 1, 1)


def _and(*bits: Value | None) -> Bit:
    """The AND of ``bits``; a ``None`` (a constant-0 bit) makes it 0."""
    if any(b is None for b in bits):
        return ZERO
    if not bits:
        return ONE
    return signal(bits[0]) if len(bits) == 1 else and_(*bits)


class FabricMultiplier(Multiplier):
    """``p = a × w`` as an array of carry chains in the fabric (see the module docstring)."""

    def __init__(self, a: IntFormat, w: IntFormat, stages: int = 0, cells: Cells = "generic"):
        if stages < 0:
            raise ValueError(f"stages={stages}; at least 0")
        if cells not in CELLS:
            raise ValueError(f"cells={cells!r}; one of {', '.join(CELLS)}")
        self.stages, self.cells = stages, cells
        super().__init__(a, w, stages)

    @property
    def chains(self) -> int:
        return chains(self.a_format, self.w_format)

    def elaborate(self, platform) -> Module:
        m = Module()
        swap = self.a_format.bits < self.w_format.bits
        x, y = (self.w, self.a) if swap else (self.a, self.w)
        xf, yf = (self.w_format, self.a_format) if swap else (self.a_format, self.w_format)
        weight = [(-1 if yf.signed and i == yf.bits - 1 else 1) << i for i in range(yf.bits)]
        rows = [[0]] if yf.bits == 1 else [[0, 1]] + [[i] for i in range(2, yf.bits)]
        after = [math.ceil(k * len(rows) / self.stages) for k in range(1, self.stages + 1)]

        total = None
        for r, bits in enumerate(rows):
            lo_v = sum(c for c in weight[:bits[-1] + 1] if c < 0)
            hi_v = sum(c for c in weight[:bits[-1] + 1] if c > 0)
            corners = [u * v for u in (xf.min, xf.max) for v in (lo_v, hi_v)]
            width, signed = range_bits(min(corners), max(corners))
            fmt = IntFormat(width, signed)
            row = self._row_ecp5 if self.cells == "ecp5" else self._row_generic
            total = row(m, r, x, xf, y, bits, weight[bits[-1]] < 0, total, fmt)
            for k in range(after.count(r + 1)):
                total = stage(m, self.en, total, f"sum{r}_{k}")
                x = stage(m, self.en, x, f"x{r}_{k}")
                y = stage(m, self.en, y, f"y{r}_{k}")
        m.d.comb += self.p.eq(total)
        return m

    @staticmethod
    def _row_generic(m, r, x, xf, y, bits, negative, total, fmt) -> Signal:
        """One chain as an Amaranth addition or subtraction."""
        def pp(i):
            return Mux(y[i], x, 0)
        out = Signal(shape_of(fmt), name=f"sum{r}")
        if total is None:
            first = pp(0) if len(bits) == 2 else 0
            top = pp(bits[-1]) << bits[-1]
            m.d.comb += out.eq(first - top if negative else first + top)
        else:
            i = bits[0]
            hi = total[i:].as_signed() if total.shape().signed else total[i:]
            m.d.comb += out.eq(Cat(total[:i], hi - pp(i) if negative else hi + pp(i)))
        return out

    @staticmethod
    def _row_ecp5(m, r, x, xf, y, bits, negative, total, fmt) -> Signal:
        """One chain as CCU2C cells with the AND terms in their LUT4s."""
        def x_bit(k):
            if k < 0:
                return None
            if k < xf.bits:
                return x[k]
            return x[xf.bits - 1] if xf.signed else None

        def sum_bit(j):
            width = len(total)
            if j < width:
                return total[j]
            return total[width - 1] if total.shape().signed else None

        start = 0 if total is None else bits[0]
        terms = []
        for j in range(start, fmt.bits):
            if total is None:
                first = _and(x_bit(j), y[0]) if len(bits) == 2 else ZERO
            else:
                first = _and(sum_bit(j))
            added = _and(x_bit(j - bits[-1]), y[bits[-1]])
            terms.append((first, added.complement() if negative else added))
        sums = chain(m, f"chain{r}", terms, carry_in=negative, cells="ecp5")
        out = Signal(shape_of(fmt), name=f"sum{r}")
        m.d.comb += out.eq(Cat(*([] if total is None else [total[:start]]), sums))
        return out
