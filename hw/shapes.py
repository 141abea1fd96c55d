"""Amaranth shapes derived from the format objects of :mod:`lowbit.models` (never restated)."""

from __future__ import annotations

from amaranth.hdl import Shape, signed, unsigned

from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat


def shape_of(fmt: IntFormat | Accumulator) -> Shape:
    """The Amaranth shape that holds values of ``fmt`` (a format or an accumulator)."""
    return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)
