"""Balanced reduction trees: many values combined in log depth, for short combinational paths
(lane sums, adder trees, the OR of a bus, the partial products of a narrow multiplier)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable

from amaranth.hdl import Mux, Value


def balanced(values: Iterable, op: Callable = operator.add):
    """``values`` combined pairwise by ``op``, level by level (an odd one out moves up a level);
    with ``+``, Amaranth widens each sum by one bit, so nothing overflows."""
    values = list(values)
    while len(values) > 1:
        values = [op(a, b) for a, b in zip(values[::2], values[1::2])] + values[len(values) & ~1:]
    return values[0]


def shift_add_product(a, b) -> Value:
    """``a × b`` as the balanced sum of ``a`` shifted by each bit of ``b`` that is set (the top
    bit of a signed ``b`` weighs ``-2**(n-1)``), so no ``$mul`` cell exists: Yosys maps every
    ``$mul`` of at least 2×2 bits onto a DSP block, on ECP5 in its unregistered mode (about
    14 ns from register to register), where a narrow product built from LUTs and carry chains
    takes a few logic levels and no DSP."""
    a, b = Value.cast(a), Value.cast(b)
    top = len(b) - 1
    terms = [Mux(b[i], a << i, 0) for i in range(top)]
    terms.append(Mux(b[top], -(a << top) if b.shape().signed else a << top, 0))
    return balanced(terms)


def radix4_product(x: Value, x3: Value, y: Value) -> Value:
    """``x × y`` (unsigned) from ``x`` and its triple ``x3 = 3·x``: each 2-bit digit of ``y``
    picks 0, ``x``, ``2·x`` or ``x3``, and the picks at their digits' places are summed — half
    the terms of :func:`shift_add_product`, each a four-way choice (one logic level) when
    ``x3`` comes from an earlier pipeline stage."""
    x, x3, y = Value.cast(x), Value.cast(x3), Value.cast(y)
    terms = []
    for place in range(0, len(y), 2):
        low = Mux(y[place], x, 0)
        pick = Mux(y[place + 1], Mux(y[place], x3, x << 1), low) if place + 1 < len(y) else low
        terms.append(pick << place)
    return balanced(terms)
