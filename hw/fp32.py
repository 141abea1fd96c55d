"""IEEE 754 binary32 arithmetic for datapaths that end in FP32: one correctly rounded
conversion of an exact value, and an adder and a multiplier built on it.

Why one rounder: every FP32 result a lowbit unit gives is the round-to-nearest-even (RNE32) of
something exact — a block's scaled sum ``±mag · 2**exp``, the sum of two FP32 numbers, the
product of FP32 numbers. :func:`round_exact` is that one rounding, subnormal results and
overflow to ±inf included, exactly as numpy's float64 → float32 conversion does it; the adder
and the multiplier only bring their operands to ``±mag · 2**exp`` first. The widths and limits
come from :data:`lowbit.models.minifloat.FP32` (mantissa and exponent fields, smallest step).

* **Rounding** (:func:`round_exact`). With ``top`` the position of ``mag``'s leading one, the
  result's step is ``2**q`` with ``q = max(exp + top - man_bits, lsb)`` (``lsb`` = -149, the
  subnormal step). ``mag`` is shifted to that step (``kept``, < 2**(man_bits + 1)) and rounded
  up when the dropped bits exceed half a step, or equal it and ``kept`` is odd. The encoding
  is then one addition, ``((q - lsb) << man_bits) + kept``, which also handles a carry out of
  the significand and the subnormal-to-normal step; at or beyond the inf code it is ±inf.
* **Adding** (:func:`add`): the larger magnitude keeps its significand, three bits below it are
  opened, and the smaller one is aligned to it with every bit shifted out ORed into the lowest
  (sticky). That is the exact sum rounded to odd two places below FP32's last bit once a bit is
  shifted out at all, which leaves RNE32 unchanged; exact cancellation gives +0, ``-0 + -0``
  gives -0, ``inf - inf`` and NaN operands give the canonical quiet NaN.
* **Multiplying** (:func:`product`): significands multiply exactly and exponents add, so a
  product of several FP32 values is rounded once (:func:`round_value`); NaN for a NaN factor
  or inf × 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

from lowbit.models.minifloat import FP32

MAN = FP32.man_bits
EXP_ONES = (1 << FP32.exp_bits) - 1
INF = EXP_ONES << MAN                 # +inf; -inf has the sign bit too
QNAN = FP32.nan_code                  # the one quiet NaN the unit gives
SIGN = 1 << (FP32.bits - 1)
_GUARD = 3                            # bits the adder opens below the larger significand


@dataclass(frozen=True)
class Unpacked:
    """A floating-point value as exact fields: ``±sig · 2**exp`` unless inf or NaN."""

    neg: Value
    sig: Value    # unsigned magnitude (FP32: the hidden bit included)
    exp: Value    # signed exponent of ``sig``'s last bit
    zero: Value
    inf: Value
    nan: Value


def unpack(m: Module, bits: Value, name: str) -> Unpacked:
    """The fields of an FP32 bit pattern."""
    man, e = bits[:MAN], bits[MAN:MAN + FP32.exp_bits]
    normal = e != 0
    sig, exp = Signal(MAN + 1, name=f"{name}_sig"), Signal(signed(FP32.exp_bits + 2),
                                                            name=f"{name}_exp")
    special = e == EXP_ONES
    m.d.comb += [sig.eq(Mux(special, 0, Mux(normal, man | (1 << MAN), man))),
                 exp.eq(Mux(normal, e - 1, 0) + FP32.lsb)]
    return Unpacked(bits[FP32.bits - 1], sig, exp, (sig == 0) & ~special, special & (man == 0),
                    special & (man != 0))


def product(a: Unpacked, b: Unpacked) -> Unpacked:
    """The exact product (``sig`` widens to both widths)."""
    nan = a.nan | b.nan | (a.inf & b.zero) | (b.inf & a.zero)
    return Unpacked(a.neg ^ b.neg, a.sig * b.sig, a.exp + b.exp, a.zero | b.zero,
                    a.inf | b.inf, nan)


def register(m: Module, value: Unpacked, name: str) -> Unpacked:
    """``value`` one clock later (for run-time inputs held steady, e.g. tensor scales)."""
    regs = {}
    for f in fields(Unpacked):
        v = Value.cast(getattr(value, f.name))
        regs[f.name] = Signal(v.shape(), name=f"{name}_{f.name}")
        m.d.sync += regs[f.name].eq(v)
    return Unpacked(**regs)


def _msb(m: Module, mag: Value, name: str) -> Signal:
    """Position of the leading one of ``mag`` (0 when ``mag`` is 0), as a tree of log2 depth:
    each level picks the upper half's position when the upper half has a one."""
    def tree(bits: list) -> tuple[Value, list]:
        if len(bits) == 1:
            return bits[0], []
        half = 1 << ((len(bits) - 1).bit_length() - 1)
        hi_any, hi_pos = tree(bits[half:])
        lo_any, lo_pos = tree(bits[:half])
        hi_pos += [Const(0, 1)] * (len(lo_pos) - len(hi_pos))
        return hi_any | lo_any, [Mux(hi_any, h, lo) for h, lo in zip(hi_pos, lo_pos)] + [hi_any]

    top = Signal(range(max(2, len(mag))), name=f"{name}_top")
    m.d.comb += top.eq(Cat(*tree([mag[i] for i in range(len(mag))])[1]))
    return top


def round_exact(m: Module, neg: Value, mag: Value, exp: Value, name: str) -> Signal:
    """RNE32 of ``±mag · 2**exp`` (``mag`` unsigned, ``exp`` signed): FP32 bits, ±0 for 0."""
    mag, exp = Value.cast(mag), Value.cast(exp)
    width = len(mag)
    top = _msb(m, mag, name)
    # bits of mag below the result's step: the larger of the precision and the subnormal limit
    drop = Signal(signed(max(len(exp), width.bit_length()) + 3), name=f"{name}_drop")
    by_precision, by_range = top - MAN, FP32.lsb - exp
    m.d.comb += drop.eq(Mux(by_precision > by_range, by_precision, by_range))
    right = Signal(range(width + 2), name=f"{name}_right")
    left = Signal(range(MAN + 1), name=f"{name}_left")
    m.d.comb += [right.eq(Mux(drop <= 0, 0, Mux(drop > width + 1, width + 1, drop))),
                 left.eq(Mux(drop < 0, -drop, 0))]
    shifted = Signal(width, name=f"{name}_shifted")
    m.d.comb += shifted.eq(mag >> right)
    rest = Signal(width, name=f"{name}_rest")
    m.d.comb += rest.eq(mag - (shifted << right))
    half = (Const(1, 1) << right) >> 1
    kept = Signal(MAN + 1, name=f"{name}_kept")
    m.d.comb += kept.eq(Mux(drop < 0, mag << left, shifted))
    up = (right != 0) & ((rest > half) | ((rest == half) & kept[0]))
    code = Signal(len(exp) + width.bit_length() + MAN + 4, name=f"{name}_code")
    m.d.comb += code.eq(((exp + drop - FP32.lsb).as_unsigned() << MAN) + kept + up)
    out = Signal(FP32.bits, name=name)
    magnitude = Mux(mag == 0, 0, Mux(code >= INF, INF, code[:FP32.bits - 1]))
    m.d.comb += out.eq(Cat(magnitude, neg))
    return out


def round_value(m: Module, value: Unpacked, name: str) -> Value:
    """RNE32 of an :class:`Unpacked` value: ±inf and the quiet NaN as they are."""
    finite = round_exact(m, value.neg, value.sig, value.exp, name)
    return Mux(value.nan, QNAN, Mux(value.inf, Cat(Const(INF, FP32.bits - 1), value.neg), finite))


def add(m: Module, a_bits: Value, b_bits: Value, name: str) -> Value:
    """RNE32(a + b) of two FP32 bit patterns (one combinational stage)."""
    a, b = unpack(m, a_bits, f"{name}_a"), unpack(m, b_bits, f"{name}_b")
    swap = a_bits[:FP32.bits - 1] < b_bits[:FP32.bits - 1]   # magnitudes order as integers

    def pick(first: Unpacked, second: Unpacked, field: str) -> Value:
        return Mux(swap, getattr(second, field), getattr(first, field))

    big_sig, big_exp, big_neg = (pick(a, b, f) for f in ("sig", "exp", "neg"))
    small_sig, small_exp = pick(b, a, "sig"), pick(b, a, "exp")
    apart = Signal(range(MAN + _GUARD + 1), name=f"{name}_apart")
    distance = big_exp - small_exp
    m.d.comb += apart.eq(Mux(distance > MAN + _GUARD, MAN + _GUARD, distance))
    small = Signal(MAN + 1 + _GUARD, name=f"{name}_small")
    m.d.comb += small.eq(small_sig << _GUARD)
    aligned = Signal(MAN + 1 + _GUARD, name=f"{name}_aligned")
    m.d.comb += aligned.eq(small >> apart)
    sticky = (aligned << apart)[:len(small)] != small
    total = Signal(MAN + 2 + _GUARD, name=f"{name}_total")
    big = big_sig << _GUARD
    m.d.comb += total.eq(Mux(a.neg ^ b.neg, big - (aligned | sticky), big + (aligned | sticky)))
    neg = Mux(total == 0, a.neg & b.neg, big_neg)
    finite = round_exact(m, neg, total, big_exp - _GUARD, name)
    nan = a.nan | b.nan | (a.inf & b.inf & (a.neg ^ b.neg))
    return Mux(nan, QNAN, Mux(a.inf, a_bits, Mux(b.inf, b_bits, finite)))
