"""Processing elements of systolic arrays: one activation times ``lanes`` weights, added into
``lanes`` sums; all state local.

Both PEs pass their west input east and their north input south through a register, so an
array is built by wiring neighbours together; every register moves only while ``en`` is high
(the whole array stalls as one). A PE covers ``lanes`` adjacent output columns that share its
activation — one multiplier with several products when the columns share a DSP block
(:mod:`lowbit.hw.mul`). Products are exact and each sum follows
:func:`lowbit.hw.accumulate.accumulate`, the same rule as the golden models.

The product reaches the adder ``latency`` enabled cycles after the operands (the multiplier's
registers, plus ``mul_reg``'s): the same for every PE of an array, so the array's timing only
shifts by that many cycles. Integer operands go through the PE's multiplier component;
minifloat operands through the decoders of :mod:`lowbit.hw.minifloat` (the accumulator then is
wide enough never to overflow).

* :class:`WeightStationaryPE` holds its weights (plus shadow weights being loaded for the next
  tile), multiplies the activation passing east and adds the products to the partial sums
  passing south. ``swap`` travels with the first activation of a tile and marks where the
  shadow weights come into use: exactly when that tile's wavefront reaches the PE. The PE
  moves them one beat ahead, on ``swap_next`` (the swap it will see on its next enabled cycle),
  so its multiplier takes its weights straight from a register (no multiplexer between the
  shadow and the weights in use sits in front of a DSP block's input). Without ``ahead`` (the
  array's first PE, whose next swap is still the input handshake) it picks them by ``swap``.
* :class:`OutputStationaryPE` multiplies the activation passing east with the weights passing
  south and accumulates locally. ``last`` marks the K-th beat: the next cycle the PE shows its
  finished sums on ``result`` with ``done`` high (zero otherwise, so a column can OR its PEs'
  results onto one bus) and starts the next tile from zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.accumulate import accumulate
from lowbit.hw.minifloat import decode, exact_product
from lowbit.hw.mul.lanes import connect
from lowbit.hw.mul.shape import Multiplier
from lowbit.hw.shapes import shape_of
from lowbit.hw.skew import delayed
from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat, NumberFormat


@dataclass(frozen=True)
class PESpec:
    """What a PE is built from: operand formats, its sums, how many columns it covers, its
    multiplier (``None``: minifloat operands, decoded and multiplied exactly) with the
    multiplier's latency, and ``mul_reg``."""

    a: NumberFormat
    w: NumberFormat
    acc: Accumulator
    lanes: int
    multiplier: Callable[[], Multiplier] | None
    mul_latency: int
    mul_reg: bool

    @property
    def latency(self) -> int:
        """Enabled cycles from the operands to the products at the adders."""
        return self.mul_latency + self.mul_reg

    def lanes_of(self, shape) -> data.ArrayLayout:
        return data.ArrayLayout(shape, self.lanes)


def ws_west_layout(a: NumberFormat) -> data.StructLayout:
    """What enters a weight-stationary PE from the west: activation and tile-start flag."""
    return data.StructLayout({"a": shape_of(a), "swap": 1})


def os_west_layout(a: NumberFormat) -> data.StructLayout:
    """What enters an output-stationary PE from the west: activation, beat valid, last beat of K."""
    return data.StructLayout({"a": shape_of(a), "valid": 1, "last": 1})


def multiply(m: Module, a_fmt: NumberFormat, w_fmt: NumberFormat, a, w, name: str = ""):
    """The exact product of two operand codes as a PE's adder takes it: ``a × w`` for
    integers; for minifloats the decoded fixed-point product in units of
    ``2**(lsb_a + lsb_w)``, inf and NaN counting as 0 (the golden model's ``acc``)."""
    if isinstance(a_fmt, IntFormat) and isinstance(w_fmt, IntFormat):
        return a * w
    return exact_product(m, decode(m, a_fmt, a, f"a{name}"), decode(m, w_fmt, w, f"w{name}"),
                         f"p{name}").value


class _PE(wiring.Component):
    """A PE's ports: ``west`` → ``east`` and ``north`` → ``south`` (registered), ``en``, extras."""

    def __init__(self, spec: PESpec, west: data.StructLayout, north, ports: dict):
        self.spec = spec
        super().__init__({"en": In(1), "west": In(west), "east": Out(west),
                          "north": In(north), "south": Out(north), **ports})

    def products(self, m: Module, a: Value, weights: list[Value], *flags: Value):
        """``a × w`` for each weight lane, and ``flags``, all ``latency`` cycles later."""
        spec = self.spec
        if spec.multiplier is None:
            products = [multiply(m, spec.a, spec.w, a, w, str(k)) for k, w in enumerate(weights)]
            delay = 0
        else:
            m.submodules.mul = mul = spec.multiplier()
            assert mul.latency == spec.mul_latency, "every PE of an array has one latency"
            products, delay = connect(m, mul, a, weights, self.en), mul.latency
        flags = [delayed(m, f, delay, self.en, f"flag{i}") for i, f in enumerate(flags)]
        if spec.mul_reg:
            products = [delayed(m, p, 1, self.en, f"product{k}") for k, p in enumerate(products)]
            flags = [delayed(m, f, 1, self.en, f"flag{i}_r") for i, f in enumerate(flags)]
        return products, flags


class WeightStationaryPE(_PE):
    """``south[k] = ovf(north[k] + west.a × weight[k])``; the weights stay, activations and
    sums flow."""

    def __init__(self, spec: PESpec, ahead: bool = True):
        self.ahead = ahead
        super().__init__(spec, ws_west_layout(spec.a), spec.lanes_of(shape_of(spec.acc)),
                         {"load": In(1), "load_w": In(spec.lanes_of(shape_of(spec.w))),
                          **({"swap_next": In(1)} if ahead else {})})

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        active = Signal(spec.lanes_of(shape_of(spec.w)))
        shadow = Signal(spec.lanes_of(shape_of(spec.w)))
        if self.ahead:
            weights = [active[k] for k in range(spec.lanes)]
        else:
            weights = [Mux(self.west.swap, shadow[k], active[k]) for k in range(spec.lanes)]
        products, _ = self.products(m, self.west.a, weights)
        with m.If(self.en):
            m.d.sync += [self.east.eq(self.west),
                         *(self.south[k].eq(accumulate(self.north[k], p, spec.acc))
                           for k, p in enumerate(products))]
            if self.ahead:
                with m.If(self.swap_next):      # in use from the next beat: the shadow as loaded
                    m.d.sync += active.eq(Mux(self.load, self.load_w, shadow))
            else:
                with m.If(self.west.swap):
                    m.d.sync += active.eq(shadow)
            with m.If(self.load):
                m.d.sync += shadow.eq(self.load_w)
        return m


class OutputStationaryPE(_PE):
    """``acc[k] = ovf(acc[k] + west.a × north[k])`` over K beats; both operands flow, the sums
    stay."""

    def __init__(self, spec: PESpec):
        acc = spec.lanes_of(shape_of(spec.acc))
        super().__init__(spec, os_west_layout(spec.a), spec.lanes_of(shape_of(spec.w)),
                         {"result": Out(acc), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        acc = Signal(spec.lanes_of(shape_of(spec.acc)))
        products, (valid, last) = self.products(
            m, self.west.a, [self.north[k] for k in range(spec.lanes)], self.west.valid,
            self.west.last)
        with m.If(self.en):
            m.d.sync += [self.east.eq(self.west), self.south.eq(self.north),
                         self.done.eq(valid & last)]
            for k, p in enumerate(products):
                base = Mux(self.done, 0, acc[k])  # a finished sum is shown for a cycle, dropped
                with m.If(valid):
                    m.d.sync += acc[k].eq(accumulate(base, p, spec.acc))
                with m.Elif(self.done):
                    m.d.sync += acc[k].eq(0)
        m.d.comb += self.result.eq(Mux(self.done, acc, 0))
        return m
