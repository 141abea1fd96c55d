"""What integer arithmetic costs in an FPGA's fabric, counted in LUT4s from the structure
Lowbit's generators build — the figures the device bound (:mod:`lowbit.boards.bounds`) divides
the free LUTs by.

The fabric multiplier (:mod:`lowbit.hw.mul.fabric`) is an array of carry chains, one per
partial-product row after the first two rows merge; a row of ``width`` bits costs ``width``
LUT4s with iCE40's SB_CARRY and ``⌈width/2⌉`` CCU2C cells (two LUT4s each) on ECP5, where the
partial-product AND sits inside the CCU2C's LUTs. An accumulator adds ``acc`` bits the same
way. Registers ride in the flip-flops beside the LUTs and cost none.
"""

from __future__ import annotations

from lowbit.models.accumulator import product_range
from lowbit.models.formats import IntFormat
from lowbit.models.packing import range_bits


def multiplier_rows(a: IntFormat, w: IntFormat) -> list[tuple[int, bool]]:
    """(bits, subtracting) of each carry chain of an ``a × w`` array multiplier: the wider
    operand is the multiplicand, the narrower gives the rows (rows 0 and 1 share the first
    chain); a chain starts at its row's lowest bit (the bits below pass through) and ends at
    the running sum's top; the top row of a two's-complement multiplier is subtracted."""
    x, y = (a, w) if a.bits >= w.bits else (w, a)
    weights = [(-1 if y.signed and i == y.bits - 1 else 1) << i for i in range(y.bits)]
    rows = [[0]] if y.bits == 1 else [[0, 1]] + [[i] for i in range(2, y.bits)]
    chains = []
    for r, bits in enumerate(rows):
        lo = sum(c for c in weights[:bits[-1] + 1] if c < 0)
        hi = sum(c for c in weights[:bits[-1] + 1] if c > 0)
        corners = [u * v for u in (x.min, x.max) for v in (lo, hi)]
        top = range_bits(min(corners), max(corners))[0]
        chains.append((top - (0 if r == 0 else bits[0]), weights[bits[-1]] < 0))
    return chains


def chain_luts(bits: int, family: str, subtract: bool = False) -> int:
    """LUT4s of one ``bits``-wide carry-chain adder of an accumulator or a multiplier row:
    ECP5 CCU2C cells (two LUT4s, two bits; a subtraction's carry-in takes a half); elsewhere
    a LUT4 per bit beside the carry logic."""
    if family == "ecp5":
        return 2 * -(-(bits + subtract) // 2)
    return bits


def multiplier_luts(a: IntFormat, w: IntFormat, family: str) -> int:
    """LUT4s of the carry-chain multiplier of ``a × w`` on ``family``: on ECP5 the AND terms
    sit in the carry cells' LUTs; elsewhere each bit takes one more LUT4 for its AND."""
    per_bit = 1 if family == "ecp5" else 2
    return sum(chain_luts(b, family, neg) if family == "ecp5" else per_bit * b
               for b, neg in multiplier_rows(a, w))


def mac_luts(a: IntFormat, w: IntFormat, acc_bits: int, family: str) -> int:
    """LUT4s of one fabric multiply-accumulate: the multiplier and the accumulator's adder."""
    return multiplier_luts(a, w, family) + chain_luts(acc_bits, family)


def product_bits(a: IntFormat, w: IntFormat) -> int:
    """Bits of one ``a × w`` product as two's complement (or unsigned when it cannot be
    negative)."""
    return range_bits(*product_range(a, w))[0]
