"""The one component shape every multiplier has, and the pieces they share.

Ports: ``a`` and ``w`` in the shapes of their :class:`~lowbit.models.formats.IntFormat`,
``en`` (clock enable of every register inside), ``p`` the exact product, ``a.bits + w.bits``
wide and signed when either operand is, which is the shape of Amaranth's ``a * w``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat


def product_shape(a: IntFormat, w: IntFormat) -> Shape:
    """The shape of ``p``: every ``a × w`` product, as Amaranth's ``a * w`` shapes it."""
    bits = a.bits + w.bits
    return signed(bits) if a.signed or w.signed else unsigned(bits)


class MultiplierSignature(wiring.Signature):
    """``a``, ``w``, ``en`` in; ``p`` out. With ``lanes``, ``w`` and ``p`` are arrays of that
    many lanes (products sharing ``a``), and with ``lanes_a`` too, ``a`` is (independent
    products)."""

    def __init__(self, a: IntFormat, w: IntFormat, lanes: int | None = None,
                 lanes_a: bool = False):
        def lane(shape):
            return shape if lanes is None else data.ArrayLayout(shape, lanes)
        super().__init__({"a": In(lane(shape_of(a)) if lanes_a else shape_of(a)),
                          "w": In(lane(shape_of(w))), "en": In(1),
                          "p": Out(lane(product_shape(a, w)))})


class Multiplier(wiring.Component):
    """Base of the multipliers: the formats, the signature, ``latency`` (enabled cycles from
    inputs to product) and the lanes (``None``: one product; ``lanes_a``: ``a`` has lanes too)."""

    def __init__(self, a: IntFormat, w: IntFormat, latency: int, *, lanes: int | None = None,
                 lanes_a: bool = False):
        self.a_format, self.w_format, self.latency = a, w, latency
        self.lanes, self.lanes_a = lanes, lanes_a and lanes is not None
        super().__init__(MultiplierSignature(a, w, lanes, lanes_a))


def stage(m: Module, en: Value, value: Value, name: str) -> Signal:
    """``value`` through one register that loads only while ``en`` is high."""
    reg = Signal(Value.cast(value).shape(), name=name)
    with m.If(en):
        m.d.sync += reg.eq(value)
    return reg


class InferredMultiplier(Multiplier):
    """``a * w`` left to Yosys (DSP inference or its generic LUT mapping), then ``stages``
    output registers."""

    def __init__(self, a: IntFormat, w: IntFormat, stages: int = 0):
        if stages < 0:
            raise ValueError(f"stages={stages}; at least 0")
        self.stages = stages
        super().__init__(a, w, stages)

    def elaborate(self, platform) -> Module:
        m = Module()
        product = self.a * self.w
        for i in range(self.stages):
            product = stage(m, self.en, product, f"product{i}")
        m.d.comb += self.p.eq(product)
        return m

