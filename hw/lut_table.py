"""Lookup tables of activation sums: the precompute unit and the lookup, for LUT-based GEMM.

:class:`TablePrecompute` turns a group of ``g`` activations into every {0,1}-weighted sum of
them (``T[b] = Σ b_i·a_i``, 2^g entries), or, symmetrized, every ±1-weighted sum with the top
sign fixed to +1 (``S[b'] = a_{g−1} + Σ_{i<g−1} (2b'_i − 1)·a_i``, 2^{g−1} entries), each entry
one adder from an earlier one. :class:`TableLookup` reads an entry with a g-bit weight-plane
index (symmetrized: ``−S[~b]`` when the top bit is 0). The arithmetic is
:func:`lowbit.models.lut.table` / :func:`lowbit.models.lut.lookup`; entry widths come from
:func:`lowbit.models.lut.entry_range`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat
from lowbit.models.lut import entry_range


def entry_shape(a: IntFormat, g: int, symmetric: bool) -> Shape:
    lo, hi = entry_range(a, g, symmetric)
    return Shape.cast(range(lo, hi + 1))


def table_layout(a: IntFormat, g: int, symmetric: bool) -> data.ArrayLayout:
    return data.ArrayLayout(entry_shape(a, g, symmetric), 1 << (g - symmetric))


class TablePrecompute(wiring.Component):
    """Combinational: ``a`` (g activations) → ``table`` (every entry)."""

    def __init__(self, a: IntFormat, g: int, symmetric: bool):
        self.g, self.symmetric = g, symmetric
        super().__init__({"a": In(data.ArrayLayout(shape_of(a), g)),
                          "table": Out(table_layout(a, g, symmetric))})

    def elaborate(self, platform):
        m = Module()
        g, a = self.g, self.a
        bits = g - self.symmetric
        if self.symmetric:   # all low signs −1, then each set bit i turns −a_i into +a_i
            entries = [a[g - 1] - sum((a[i] for i in range(bits)), 0)]
            step = [a[i] * 2 for i in range(bits)]
        else:
            entries = [0]
            step = [a[i] for i in range(bits)]
        for e in range(1, 1 << bits):
            top = e.bit_length() - 1
            entries.append(entries[e ^ (1 << top)] + step[top])
        m.d.comb += [self.table[e].eq(v) for e, v in enumerate(entries)]
        return m


class TableLookup(wiring.Component):
    """Combinational: ``table`` entry at the g-bit ``index`` → ``value``."""

    def __init__(self, a: IntFormat, g: int, symmetric: bool):
        self.g, self.symmetric = g, symmetric
        super().__init__({"table": In(table_layout(a, g, symmetric)), "index": In(g),
                          "value": Out(entry_shape(a, g, symmetric))})

    def elaborate(self, platform):
        m = Module()
        if not self.symmetric:
            m.d.comb += self.value.eq(self.table[self.index])
            return m
        top = self.index[self.g - 1]
        if self.g == 1:     # one entry, a_0: the index bit only chooses its sign
            entry = self.table[0]
        else:
            low = self.index[:self.g - 1]
            entry = self.table[Mux(top, low, ~low)]
        m.d.comb += self.value.eq(Mux(top, entry, -entry))
        return m
