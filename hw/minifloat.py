"""Decoding minifloat and integer codes into exact fixed-point terms, and their exact product.

Everything is derived from the format objects of :mod:`lowbit.models`: field widths, bias and
the subnormal rule from :class:`~lowbit.models.minifloat.FloatFormat`, and the inf/NaN codes
listed from the format's own ``is_inf``/``is_nan`` (so a special-value policy is never
restated here). A decoded operand is ``units = sig << shift`` with ``value = units · 2**lsb``,
exactly :meth:`FloatFormat.units`:

* normal: ``sig = 1.m`` (hidden bit set), ``shift = f - 1`` (``f`` with no subnormals);
* subnormal (``f = 0``): ``sig = 0.m``, ``shift = 0``;
* integers: ``sig`` = the value, ``shift = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value, signed

from lowbit.models.fmac import NAN, NEG_INF, POS_INF
from lowbit.models.formats import FixedFormat, IntFormat, NumberFormat
from lowbit.models.kulisch import OperandFormats
from lowbit.models.minifloat import FloatFormat


def _matches(code: Value, codes: np.ndarray) -> Value:
    """1 when ``code`` is one of ``codes`` (the special codes a format lists)."""
    hit = Const(0, 1)
    for c in codes.tolist():
        hit = hit | (code.as_unsigned() == int(c))
    return hit


@dataclass(frozen=True)
class Decoded:
    """An operand as exact fixed point: ``sig`` (signed) ``<< shift``, plus what it is;
    ``mag`` is ``|sig|`` (so ``sig`` is ``±mag`` by ``neg``; 0 for inf and NaN)."""

    sig: Value
    shift: Value
    neg: Value
    zero: Value
    inf: Value
    nan: Value
    mag: Value


def decode(m: Module, fmt: NumberFormat, code: Value, name: str) -> Decoded:
    """Combinational decoder of one ``fmt`` code (signals named after ``name``)."""
    if isinstance(fmt, FixedFormat):  # fixed point: its integer, read at 2**lsb
        fmt = fmt.base
    if isinstance(fmt, IntFormat):
        sig = Signal(signed(fmt.bits + (not fmt.signed)), name=f"{name}_sig")
        m.d.comb += sig.eq(code.as_signed() if fmt.signed else code)
        return Decoded(sig, Const(0, 1), sig < 0, sig == 0, Const(0, 1), Const(0, 1),
                       abs(sig) if fmt.signed else code)
    assert isinstance(fmt, FloatFormat)
    man, exp = code[:fmt.man_bits], code[fmt.man_bits:fmt.man_bits + fmt.exp_bits]
    neg = code[fmt.bits - 1] if fmt.signed else Const(0, 1)
    codes = fmt.codes()
    nan, inf = Signal(name=f"{name}_nan"), Signal(name=f"{name}_inf")
    m.d.comb += [nan.eq(_matches(code, codes[fmt.is_nan(codes)])),
                 inf.eq(_matches(code, codes[fmt.is_inf(codes)]))]
    mag = Signal(fmt.man_bits + 1, name=f"{name}_mag")
    shift = Signal(fmt.exp_bits, name=f"{name}_shift")
    if fmt.subnormals:
        normal = exp != 0
        m.d.comb += [mag.eq(Mux(normal, man | (1 << fmt.man_bits), man)),
                     shift.eq(Mux(normal, exp - 1, 0))]
    else:
        m.d.comb += [mag.eq(man | (1 << fmt.man_bits)), shift.eq(exp)]
    sig = Signal(signed(fmt.man_bits + 2), name=f"{name}_sig")
    special = nan | inf
    m.d.comb += sig.eq(Mux(special, 0, Mux(neg, -mag, mag)))
    zero = Signal(name=f"{name}_zero")
    m.d.comb += zero.eq((mag == 0) & ~special)
    return Decoded(sig, shift, neg, zero, inf, nan, Mux(special, 0, mag))


def decode_set(m: Module, formats: OperandFormats, code: Value, select: Value,
               name: str) -> Decoded:
    """Decoder of a run-time choice among ``formats`` (``select`` indexes them), in the set's
    common unit: each format's shift is raised by its offset to ``2**formats.lsb``."""
    outs = []
    for i, fmt in enumerate(formats.formats):
        d = decode(m, fmt, code[:fmt.bits], f"{name}{i}")
        outs.append(Decoded(d.sig, d.shift + formats.offset(fmt), d.neg, d.zero, d.inf, d.nan,
                            d.mag))
    return _pick_fields(select, outs)


def _pick_fields(select: Value, outs: list):
    """The dataclass of ``outs`` whose index ``select`` names, field by field (muxes)."""
    if len(outs) == 1:
        return outs[0]

    def pick(name: str) -> Value:
        values = [getattr(d, name) for d in outs]
        out = values[-1]
        for i in range(len(values) - 2, -1, -1):
            out = Mux(select == i, values[i], out)
        return out

    return type(outs[0])(*(pick(f.name) for f in fields(outs[0])))


@dataclass(frozen=True)
class Product:
    """An exact product in units of ``2**(lsb_a + lsb_w)`` and its IEEE special case."""

    value: Value
    nan: Value   # a NaN operand, or inf × 0
    inf: Value   # ±inf (when not NaN)
    neg: Value   # the sign of an infinite product


#: a product of significand magnitudes one of which has at most this many bits (every
#: FP8/FP6/FP4 significand, int4) is built in LUTs, by radix-4 digits of the narrower one
FABRIC_MAG_BITS = 4


def fabric_operands(a: Decoded, w: Decoded) -> tuple[Value, Value, Value] | None:
    """For a product of significand magnitudes built in LUTs (:func:`radix4_product`, no DSP
    block): ``(x, 3·x, y)`` with ``y`` the narrower magnitude, when it has at most
    :data:`FABRIC_MAG_BITS` bits; None when both are wider (their signed significands then
    multiply with ``*``). A unit computes these a stage before the product."""
    x, y = sorted((Value.cast(a.mag), Value.cast(w.mag)), key=len, reverse=True)
    if len(y) > FABRIC_MAG_BITS:
        return None
    return x, x + (x << 1), y


def exact_product(m: Module, a: Decoded, w: Decoded, name: str) -> Product:
    """``a × w`` without rounding: ``(sig_a · sig_w) << (shift_a + shift_w)``."""
    return Product((a.sig * w.sig) << (a.shift + w.shift), *product_flags(m, a, w, name))


def product_flags(m: Module, a: Decoded, w: Decoded, name: str) -> tuple[Value, Value, Value]:
    """``(nan, inf, neg)`` of a product, by IEEE 754 (see :class:`Product`)."""
    nan, inf, neg = (Signal(name=f"{name}_{s}") for s in ("nan", "inf", "neg"))
    m.d.comb += [nan.eq(a.nan | w.nan | (a.inf & w.zero) | (w.inf & a.zero)),
                 inf.eq((a.inf | w.inf) & ~nan), neg.eq(a.neg ^ w.neg)]
    return nan, inf, neg


class Specials:
    """Sticky inf/NaN flags beside an exact register, and the ``special`` code they give."""

    def __init__(self, name: str):
        self.nan, self.pos, self.neg = (Signal(name=f"{name}_{s}") for s in ("nan", "pinf", "ninf"))

    def next(self, m: Module, product: Product) -> tuple[Signal, Signal, Signal]:
        """Flag values once ``product`` is added (as signals, so each is built once)."""
        out = tuple(Signal(name=f"{f.name}_next") for f in (self.nan, self.pos, self.neg))
        m.d.comb += [out[0].eq(self.nan | product.nan),
                     out[1].eq(self.pos | (product.inf & ~product.neg)),
                     out[2].eq(self.neg | (product.inf & product.neg))]
        return out

    @staticmethod
    def code(nan, pos, neg):
        return Mux(nan | (pos & neg), NAN, Mux(pos, POS_INF, Mux(neg, NEG_INF, 0)))

    def update(self, m: Module, step, last, clear, after, out, override=None) -> None:
        """As :meth:`lowbit.hw.reduce.Reduction.accumulate` for the flags: ``after`` on a step;
        on the last, ``out`` takes their code (or ``override`` of it) and they clear."""
        flags = (self.nan, self.pos, self.neg)
        with m.If(step):
            with m.If(last):
                code = Signal(2, name=f"{self.nan.name}_code")
                m.d.comb += code.eq(Specials.code(*after))
                m.d.sync += [out.eq(code if override is None else override(code)),
                             *(f.eq(0) for f in flags)]
            with m.Else():
                m.d.sync += [f.eq(v) for f, v in zip(flags, after)]
        with m.If(clear):
            m.d.sync += [f.eq(0) for f in flags]


# ---- L-Mul (lowbit.models.lmul): an adder in place of the significand multiplier ------------

@dataclass(frozen=True)
class Normalised:
    """A nonzero finite operand as ``(1 + frac/2**F)·2**(exp + lsb)`` — ``x = (1+xm)·2**xe`` of
    L-Mul with ``xm = frac/2**F``, ``xe = exp + lsb`` — with F fraction bits chosen by the caller
    and ``lsb`` the format's (or, through :func:`normalise_set`, the set's)."""

    frac: Value
    exp: Value


def normalise(m: Module, fmt: FloatFormat, code: Value, frac_bits: int, name: str) -> Normalised:
    """``xm`` and ``xe - lsb`` of a minifloat code: a normal ``1.m·2**(f-bias)`` as it stands,
    a subnormal ``0.m`` shifted up past its leading one (a small priority encoder)."""
    assert fmt.subnormals and frac_bits >= fmt.man_bits
    bits = fmt.man_bits
    man, exp = code[:bits], code[bits:bits + fmt.exp_bits]
    frac = Signal(bits, name=f"{name}_xm")
    xe = Signal(range(bits + (1 << fmt.exp_bits)), name=f"{name}_xe")
    with m.If(exp != 0):
        m.d.comb += [frac.eq(man), xe.eq(exp - 1 + bits)]
    with m.Else():  # 0.m = 1.(bits below the leading one at p) · 2**(p - bits): the last one wins
        for p in range(bits):
            with m.If(man[p]):
                m.d.comb += [frac.eq(man << (bits - p)), xe.eq(p)]
    return Normalised(frac << (frac_bits - bits), xe)


def normalise_set(m: Module, formats: OperandFormats, code: Value, select: Value, frac_bits: int,
                  name: str) -> Normalised:
    """:func:`normalise` of a run-time choice among ``formats``, exponents in the set's unit."""
    return _pick_fields(select, [
        Normalised(n.frac, n.exp + formats.offset(fmt))
        for i, fmt in enumerate(formats.formats)
        for n in [normalise(m, fmt, code[:fmt.bits], frac_bits, f"{name}{i}")]])


def lmul_significand(m: Module, a: Decoded, w: Decoded, na: Normalised, nw: Normalised,
                     frac_bits: int, offset: Value, name: str) -> Product:
    """The L-Mul product ``±(1 + xm + ym + 2**-l)·2**(xe + ye)`` before its sign and shift (one
    adder): ``value`` is the magnitude ``1 + xm + ym + 2**-l`` in units of ``2**-frac_bits``
    (the sign is ``neg``); signed and shifted
    left by ``na.exp + nw.exp`` it is in units of ``2**(lsb_a + lsb_w - frac_bits)``, and the
    low bits below the config's offset bits are zero (the exactness argument of
    :mod:`lowbit.models.lmul`). ``offset`` is ``2**-l`` in units of ``2**-frac_bits``. Zero,
    inf and NaN operands give 0, with the flags :func:`exact_product` gives."""
    mag = Signal(frac_bits + 2, name=f"{name}_mag")
    nan, inf, neg = product_flags(m, a, w, name)
    dead = a.zero | w.zero | a.inf | a.nan | w.inf | w.nan
    m.d.comb += mag.eq(Mux(dead, 0, (1 << frac_bits) + na.frac + nw.frac + offset))
    return Product(mag, nan, inf, neg)
