"""Balanced reduction trees: many values combined in log depth, for short combinational paths
(lane sums, adder trees, the OR of a bus)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable


def balanced(values: Iterable, op: Callable = operator.add):
    """``values`` combined pairwise by ``op``, level by level (an odd one out moves up a level);
    with ``+``, Amaranth widens each sum by one bit, so nothing overflows."""
    values = list(values)
    while len(values) > 1:
        values = [op(a, b) for a, b in zip(values[::2], values[1::2])] + values[len(values) & ~1:]
    return values[0]
