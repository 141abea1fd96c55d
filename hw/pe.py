"""Processing elements of systolic arrays: one multiplier and one adder each, all state local.

Both PEs pass their west input east and their north input south through a register, so an
array is built by wiring neighbours together; every register moves only while ``en`` is high
(the whole array stalls as one). The product is exact and the sum follows
:func:`lowbit.hw.accumulate.accumulate`, the same rule as the golden models. With ``mul_reg``
the product is registered first, which shortens the critical path and adds one cycle to every
PE's add, uniformly, so the array's timing only shifts by one cycle. The multiplier is
:func:`multiply`: integer operands multiply as they are, minifloat operands through the decoders of
:mod:`lowbit.hw.minifloat` (the accumulator then is wide enough never to overflow).

* :class:`WeightStationaryPE` holds a weight (plus a shadow weight being loaded for the next
  tile), multiplies the activation passing east and adds the product to the partial sum
  passing south. ``swap`` travels with the first activation of a tile and moves the shadow
  weight into use exactly when that tile's wavefront reaches the PE.
* :class:`OutputStationaryPE` multiplies the activation passing east with the weight passing
  south and accumulates locally. ``last`` marks the K-th beat: the next cycle the PE shows its
  finished sum on ``result`` with ``done`` high (zero otherwise, so a column can OR its PEs'
  results onto one bus) and starts the next tile from zero.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.accumulate import accumulate
from lowbit.hw.minifloat import decode, exact_product
from lowbit.hw.shapes import shape_of
from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat, NumberFormat


def multiply(m: Module, a_fmt: NumberFormat, w_fmt: NumberFormat, a, w):
    """The PE's exact product of two operand codes: ``a × w`` for integers; for minifloats the
    decoded fixed-point product of :mod:`lowbit.hw.minifloat` in units of
    ``2**(lsb_a + lsb_w)``, inf and NaN counting as 0 (the golden model's ``acc``)."""
    if isinstance(a_fmt, IntFormat) and isinstance(w_fmt, IntFormat):
        return a * w
    return exact_product(m, decode(m, a_fmt, a, "a"), decode(m, w_fmt, w, "w"), "p").value


def ws_west_layout(a: IntFormat) -> data.StructLayout:
    """What enters a weight-stationary PE from the west: activation and tile-start flag."""
    return data.StructLayout({"a": shape_of(a), "swap": 1})


def os_west_layout(a: IntFormat) -> data.StructLayout:
    """What enters an output-stationary PE from the west: activation, beat valid, last beat of K."""
    return data.StructLayout({"a": shape_of(a), "valid": 1, "last": 1})


class _PE(wiring.Component):
    """A PE's ports: ``west`` → ``east`` and ``north`` → ``south`` (registered), ``en``, extras."""

    def __init__(self, a: IntFormat, w: IntFormat, acc: Accumulator, mul_reg: bool,
                 west: data.StructLayout, north, ports: dict):
        self.a_fmt, self.w_fmt, self.acc_spec, self.mul_reg = a, w, acc, mul_reg
        super().__init__({"en": In(1), "west": In(west), "east": Out(west),
                          "north": In(north), "south": Out(north), **ports})

    def product(self, m: Module, a, w, *flags):
        """``a × w`` and ``flags``, registered once when ``mul_reg`` (all stay in step)."""
        product = multiply(m, self.a_fmt, self.w_fmt, a, w)
        if not self.mul_reg:
            return (product, *flags)
        regs = [Signal.like(product, name="product"),
                *(Signal(1, name=f"flag{i}") for i in range(len(flags)))]
        with m.If(self.en):
            m.d.sync += [r.eq(v) for r, v in zip(regs, (product, *flags))]
        return tuple(regs)


class WeightStationaryPE(_PE):
    """``south = ovf(north + west.a × weight)``; the weight stays, activations and sums flow."""

    def __init__(self, a: IntFormat, w: IntFormat, acc: Accumulator, mul_reg: bool = False):
        super().__init__(a, w, acc, mul_reg, ws_west_layout(a), shape_of(acc),
                         {"load": In(1), "load_w": In(shape_of(w))})

    def elaborate(self, platform):
        m = Module()
        active = Signal(shape_of(self.w_fmt))
        shadow = Signal(shape_of(self.w_fmt))
        weight = Mux(self.west.swap, shadow, active)
        (product,) = self.product(m, self.west.a, weight)
        with m.If(self.en):
            m.d.sync += [self.east.eq(self.west),
                         self.south.eq(accumulate(self.north, product, self.acc_spec))]
            with m.If(self.west.swap):
                m.d.sync += active.eq(shadow)
            with m.If(self.load):
                m.d.sync += shadow.eq(self.load_w)
        return m


class OutputStationaryPE(_PE):
    """``acc = ovf(acc + west.a × north)`` over K beats; both operands flow, the sum stays."""

    def __init__(self, a: IntFormat, w: IntFormat, acc: Accumulator, mul_reg: bool = False):
        super().__init__(a, w, acc, mul_reg, os_west_layout(a), shape_of(w),
                         {"result": Out(shape_of(acc)), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        acc = Signal(shape_of(self.acc_spec))
        product, valid, last = self.product(m, self.west.a, self.north, self.west.valid,
                                            self.west.last)
        base = Mux(self.done, 0, acc)  # a finished sum is shown for one cycle, then dropped
        with m.If(self.en):
            m.d.sync += [self.east.eq(self.west), self.south.eq(self.north),
                         self.done.eq(valid & last)]
            with m.If(valid):
                m.d.sync += acc.eq(accumulate(base, product, self.acc_spec))
            with m.Elif(self.done):
                m.d.sync += acc.eq(0)
        m.d.comb += self.result.eq(Mux(self.done, acc, 0))
        return m
