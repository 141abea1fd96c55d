"""Amaranth shapes derived from the format objects of :mod:`lowbit.models` (never restated)."""

from __future__ import annotations

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat
from lowbit.models.olive import TermFormat


def shape_of(fmt: IntFormat | Accumulator | TermFormat) -> Shape | data.StructLayout:
    """The Amaranth shape that holds values of ``fmt`` (a format or an accumulator; a decoded
    OliVe operand: its significand ``m`` and ``shift``)."""
    if isinstance(fmt, TermFormat):
        return data.StructLayout({"m": shape_of(fmt.m), "shift": unsigned(fmt.shift_bits)})
    return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)
