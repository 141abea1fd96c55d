"""Tables of activation sums for LUT-based GEMM: the fill unit and the lookup address.

A table of a group of ``g`` activations holds ``T[b] = Σ b_i·a_i`` (2^g entries) or,
symmetrized, ``S[b'] = a_{g−1} + Σ_{i<g−1} (2b'_i − 1)·a_i`` (2^{g−1} entries). It lives in a
small RAM beside every column that reads it, so the fill writes it one entry per cycle, in the
Gray-code order of :func:`lowbit.models.lut.fill_order`: each entry is the one before plus or
minus one activation (doubled when symmetrized), so a table costs one adder however many
entries it has. A symmetrized lookup reads ``S[low]`` when the index's top bit is 1 and
``−S[~low]`` when it is 0 (:func:`read_address`). Entry widths come from
:func:`lowbit.models.lut.entry_range`; the arithmetic is :func:`lowbit.models.lut.table`'s.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw import carry
from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat
from lowbit.models.lut import entry_range, fill_order


def entry_shape(a: IntFormat, g: int, symmetric: bool) -> Shape:
    lo, hi = entry_range(a, g, symmetric)
    return Shape.cast(range(lo, hi + 1))


class TableFill(wiring.Component):
    """One table's fill: ``load`` takes a group ``a`` (g activations; lane i only where bit i
    of ``keep`` is set, else 0) and sets ``data`` to the first entry; each ``step`` after it
    moves ``data`` to the next entry in fill order, adding ``±a_i`` (``±2a_i`` symmetrized) in
    one carry chain. ``k`` (driven by the caller, shared by every table) is the step count
    since the load; ``addr`` is where ``data`` belongs in the table. At ``k = all_ones`` the
    entry is ``Σ a_i`` (the all-ones index of either table kind)."""

    def __init__(self, a: IntFormat, g: int, symmetric: bool, cells: carry.Cells = "generic"):
        self.a_format, self.g, self.symmetric, self.cells = a, g, symmetric, cells
        self.order = fill_order(g, symmetric)
        self.all_ones = [address for address, _, _ in self.order].index(len(self.order) - 1)
        super().__init__({"a": In(data.ArrayLayout(shape_of(a), g)), "keep": In(g),
                          "load": In(1), "step": In(1), "k": In(range(len(self.order))),
                          "addr": Out(range(len(self.order))),
                          "data": Out(entry_shape(a, g, symmetric))})

    def elaborate(self, platform):
        m = Module()
        g = self.g
        act = [Signal(shape_of(self.a_format), name=f"act{i}") for i in range(g)]
        masked = [Mux(self.keep[i], self.a[i], 0) for i in range(g)]
        if self.symmetric:   # every low sign −1 first: a_{g−1} − Σ_{i<g−1} a_i
            first = masked[g - 1] - sum((masked[i] for i in range(g - 1)), 0)
        else:
            first = 0
        index = Signal(range(g))          # the activation this step adds, and its sign
        minus = Signal()
        with m.Switch(self.k):
            for k, (address, i, sign) in enumerate(self.order):
                with m.Case(k):
                    m.d.comb += [self.addr.eq(address), index.eq(i), minus.eq(sign < 0)]
        chosen = Array(act)[index]
        if self.symmetric:
            chosen = chosen << 1
        # data + (chosen XOR minus) + minus: ±chosen in the entry's width (entries fit it)
        pairs = [(carry.signal(self.data[b]), _flipped(chosen, b, minus))
                 for b in range(len(self.data))]
        step = carry.chain(m, "step", pairs, carry_in=minus, cells=self.cells)
        with m.If(self.step):
            m.d.sync += self.data.eq(step)
        for i, reg in enumerate(act):     # lanes past K load 0: the register's own reset
            with m.If(self.load & ~self.keep[i]):
                m.d.sync += reg.eq(0)
            with m.Elif(self.load):
                m.d.sync += reg.eq(self.a[i])
        with m.If(self.load):
            m.d.sync += self.data.eq(first)
        return m


def _flipped(v: Value, b: int, flip: Value) -> carry.Bit:
    """Bit ``b`` of ``v`` (sign-extended) XOR ``flip``, as a summand bit."""
    if b < len(v):
        return carry.xor(v[b], flip)
    if v.shape().signed:
        return carry.xor(v[len(v) - 1], flip)
    return carry.signal(flip)


def read_address(index: Value, g: int, symmetric: bool) -> Value:
    """The table address a g-bit weight-plane index reads: the index itself, or symmetrized
    its low bits, complemented when the top bit is 0 (the entry is then negated)."""
    if not symmetric:
        return index
    if g == 1:
        return Cat()
    low = index[:g - 1]
    return Mux(index[g - 1], low, ~low)


def looked_up(entry: Value, top: Value | None) -> Value:
    """The looked-up value of a read ``entry``: negated when a symmetrized index's top bit
    ``top`` was 0 (``None``: a full table, the entry itself)."""
    return entry if top is None else Mux(top, entry, -entry)
