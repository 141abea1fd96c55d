"""OliVe in the datapath: the pair decoder at an array's edge and the PE's multiplier.

* :func:`decode_pair` turns the two codes of an outlier-victim pair
  (:class:`lowbit.models.olive.OvpFormat`) into two *terms* ``value = m << shift`` on the fly,
  combinationally: a normal code is its INT4 ``m`` with shift 0; the victim is 0; the outlier
  is abfloat's signed significand ``±(2^M + mantissa)`` with shift ``exponent - bias - M``. The
  identifier, the field widths and the bias come from the format objects.
* :class:`OliveMultiplier` multiplies terms (or a term and a plain integer) as OliVe's PE
  does: an INT4-by-operand product, then a left shift by the exponents' sum — no 8-bit
  multiplier for the outliers' range.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Value

from lowbit.hw.mul.shape import Multiplier, stage
from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat
from lowbit.models.olive import OvpFormat, TermFormat


def _term(fmt: OvpFormat, code: Value, outlier, victim) -> Value:
    """One slot's term (the bits of :func:`~lowbit.hw.shapes.shape_of` of the format's
    ``term_format``): victim 0, the outlier's significand and shift, or the normal value."""
    f, terms = fmt.outlier, fmt.term_format
    man = code[:f.man_bits]
    exp = code[f.man_bits:f.man_bits + f.exp_bits]
    sig = man | (1 << f.man_bits)
    m = Mux(victim, 0, Mux(outlier, Mux(code[f.bits - 1], -sig, sig), code.as_signed()))
    shift = Mux(outlier, exp + (-f.bias - f.man_bits), 0)
    return Cat(m.as_unsigned()[:terms.m.bits], shift.as_unsigned()[:terms.shift_bits])


def decode_pair(fmt: OvpFormat, first: Value, second: Value) -> tuple[Value, Value]:
    """The terms of a pair of codes (``first`` = element 2i, ``second`` = 2i+1)."""
    first, second = Value.cast(first).as_unsigned(), Value.cast(second).as_unsigned()
    victim_first = first == fmt.identifier
    victim_second = (second == fmt.identifier) & ~victim_first
    return (_term(fmt, first, victim_second, victim_first),
            _term(fmt, second, victim_first, victim_second))


def decode_lanes(fmt: OvpFormat, lanes) -> list[Value]:
    """Every lane of a beat decoded, lanes (2i, 2i+1) paired."""
    out = []
    for i in range(0, len(lanes), 2):
        out += decode_pair(fmt, lanes[i], lanes[i + 1])
    return out


def _parts(fmt, value: Value) -> tuple[Value, Value]:
    """(m, shift) of an operand: a term's fields, or an integer with shift 0."""
    if isinstance(fmt, TermFormat):
        layout = shape_of(fmt)
        view = layout(value)
        return view.m, view.shift
    return value, 0


class OliveMultiplier(Multiplier):
    """``(m_a × m_w) << (shift_a + shift_w)``: operands are decoded OliVe terms
    (:class:`~lowbit.models.olive.TermFormat`) or plain integers; ``stages`` registers
    after."""

    def __init__(self, a: IntFormat | TermFormat, w: IntFormat | TermFormat, stages: int = 0):
        if not (isinstance(a, TermFormat) or isinstance(w, TermFormat)):
            raise ValueError("an OliVe multiplier takes at least one decoded OliVe operand")
        self.stages = stages
        super().__init__(a, w, stages)

    def elaborate(self, platform) -> Module:
        m = Module()
        ma, sa = _parts(self.a_format, Value.cast(self.a))
        mw, sw = _parts(self.w_format, Value.cast(self.w))
        product = (ma * mw) << (sa + sw)
        for i in range(self.stages):
            product = stage(m, self.en, product, f"product{i}")
        m.d.comb += self.p.eq(product)
        return m
