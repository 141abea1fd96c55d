"""The accumulator update every integer datapath shares: ``ovf(acc + addend)``.

Matches :class:`lowbit.models.accumulator.Accumulator` bit for bit: ``wrap`` keeps the low
bits (two's complement), ``saturate`` clamps to the register's range at every step.
"""

from __future__ import annotations

from amaranth.hdl import Mux, Value

from lowbit.models.accumulator import Accumulator


def accumulate(acc: Value, addend: Value, spec: Accumulator) -> Value:
    """Next accumulator value; ``addend`` must fit the accumulator (one product does)."""
    total = acc + addend  # one bit wider than either operand, so the sum itself is exact
    if spec.overflow == "saturate":
        total = Mux(total > spec.max, spec.max, Mux(total < spec.min, spec.min, total))
    bits = total.as_unsigned()[:spec.bits]
    return bits.as_signed() if spec.signed else bits
