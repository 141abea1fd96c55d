"""IEEE 754 binary32 arithmetic for datapaths that end in FP32: one correctly rounded
conversion of an exact value, and an adder and a multiplier built on it — each a chain of
segments (:mod:`lowbit.hw.stages`) that a unit cuts into as many pipeline stages as it has
cycles for (:data:`lowbit.models.pipeline.FP32_ROUND`, :data:`~lowbit.models.pipeline.FP32_ADD`).

Why one rounder: every FP32 result a lowbit unit gives is the round-to-nearest-even (RNE32) of
something exact — a block's scaled sum ``±mag · 2**exp``, the sum of two FP32 numbers, the
product of FP32 numbers. :func:`round_segments` is that one rounding, subnormal results and
overflow to ±inf included, exactly as numpy's float64 → float32 conversion does it; the adder
and the multiplier only bring their operands to ``±mag · 2**exp`` first. The widths and limits
come from :data:`lowbit.models.minifloat.FP32` (mantissa and exponent fields, smallest step).

* **Rounding** (segments ``lead``, ``amount``, ``shift``, ``round``). With ``top`` the position
  of ``mag``'s leading one, the result's step is ``2**q`` with ``q = max(exp + top - man_bits,
  lsb)`` (``lsb`` = -149, the subnormal step), i.e. ``drop = q - exp`` bits of ``mag`` go
  (``-drop`` come in, for a small ``mag``). ``mag`` is shifted to that step (``kept``,
  < 2**(man_bits + 1)) and rounded up when the guard bit (the highest dropped) is set and the
  bits below it (sticky) or ``kept``'s last bit are. The encoding is then one addition,
  ``((q - lsb) << man_bits) + kept + up``, which also handles a carry out of the significand
  and the subnormal-to-normal step; at or beyond the inf code it is ±inf. A caller that knows
  ``drop`` is small says so (``max_right``), and the shifter spans only that.
* **Adding** (segments ``order``, ``align``, ``add``, then the rounder): the
  larger magnitude keeps its significand, three bits below it are opened, and the smaller one
  is aligned to it with every bit shifted out ORed into the lowest (sticky). That is the exact
  sum rounded to odd two places below FP32's last bit once a bit is shifted out at all, which
  leaves RNE32 unchanged; so the sum has 28 bits and the rounder drops at most 4 of them.
  Exact cancellation gives +0, ``-0 + -0`` gives -0, ``inf - inf`` and NaN operands give the
  canonical quiet NaN.
* **Multiplying** (:func:`product`): significands multiply exactly and exponents add, so a
  product of several FP32 values is rounded once; NaN for a NaN factor or inf × 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import or_

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed

from lowbit.hw.stages import Segment, Values, build
from lowbit.hw.trees import balanced
from lowbit.models.minifloat import FP32
from lowbit.models.pipeline import FP32_ADD, FP32_ROUND

MAN = FP32.man_bits
MAG = FP32.bits - 1                   # bits of a magnitude: exponent and mantissa fields
EXP_ONES = (1 << FP32.exp_bits) - 1
INF = EXP_ONES << MAN                 # +inf; -inf has the sign bit too
QNAN = FP32.nan_code                  # the one quiet NaN the unit gives
SIGN = 1 << MAG
_GUARD = 3                            # bits the adder opens below the larger significand
_SUM_BITS = MAN + 2 + _GUARD          # the adder's exact-to-odd sum
_SUM_DROP = max(_SUM_BITS - 1 - MAN, _GUARD)   # the most bits the adder's rounder drops
_APART_BITS = (MAN + 1 + _GUARD).bit_length()   # an alignment that shifts everything out
#: offsets k of the sums ``e + k`` the rounder forms: the code and the code plus one (a
#: hidden bit); and of the comparisons ``e + k >= 0`` it makes: ``e >= 1`` and ``e`` (or ``e +
#: 1``) at the inf code
_E_OFFSETS = (0, 1)
_THRESHOLDS = (-1, -(EXP_ONES - 1), -EXP_ONES)


def _offset_name(k: int) -> str:
    return f"{'p' if k >= 0 else 'm'}{abs(k)}"


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
    man, e = bits[:MAN], bits[MAN:MAG]
    normal = e != 0
    sig, exp = Signal(MAN + 1, name=f"{name}_sig"), Signal(signed(FP32.exp_bits + 2),
                                                            name=f"{name}_exp")
    special = e == EXP_ONES
    m.d.comb += [sig.eq(Mux(special, 0, Mux(normal, man | (1 << MAN), man))),
                 exp.eq(Mux(normal, e - 1, 0) + FP32.lsb)]
    return Unpacked(bits[MAG], sig, exp, (sig == 0) & ~special, special & (man == 0),
                    special & (man != 0))


def product(a: Unpacked, b: Unpacked) -> Unpacked:
    """The exact product (``sig`` widens to both widths)."""
    nan = a.nan | b.nan | (a.inf & b.zero) | (b.inf & a.zero)
    return Unpacked(a.neg ^ b.neg, a.sig * b.sig, a.exp + b.exp, a.zero | b.zero,
                    a.inf | b.inf, nan)


#: the widest unsigned factor that is one DSP block on either family: iCE40's SB_MAC16 takes
#: 16 × 16 bits (Yosys splits anything wider into several), ECP5's MULT18X18D 18 × 18 signed
PIECE_BITS = 16


def _pieces(name: str, a_bits: int, b_bits: int) -> list[tuple[str, int, int]]:
    """The partial products of two factors: name, where the ``PIECE_BITS``-bit piece of each
    starts."""
    starts = [(i, j) for i in range(0, a_bits, PIECE_BITS) for j in range(0, b_bits, PIECE_BITS)]
    return [(f"{name}{k}", i, j) for k, (i, j) in enumerate(starts)]


def partial_products(m: Module, a: Value, b: Value, name: str) -> Values:
    """The unsigned ``a · b`` as the products of pieces of at most ``PIECE_BITS`` bits of each,
    named ``{name}0``, ``{name}1``, ...: each is one DSP block with no adder behind it, so a
    register after them ends the path at the block (Yosys builds a wider ``*`` from several
    unregistered blocks and a carry-chain sum of their outputs, ~15 ns on ECP5);
    :func:`sum_partials` adds them."""
    a, b = Value.cast(a), Value.cast(b)
    return {key: _wire(m, a[i:i + PIECE_BITS] * b[j:j + PIECE_BITS], key)
            for key, i, j in _pieces(name, len(a), len(b))}


def partial_names(name: str, a_bits: int, b_bits: int) -> list[str]:
    """The names :func:`partial_products` gives (for a segment to drop them once summed)."""
    return [key for key, _, _ in _pieces(name, a_bits, b_bits)]


def sum_partials(values: Values, name: str, a_bits: int, b_bits: int) -> Value:
    """``a · b`` from :func:`partial_products` of an ``a_bits``- and a ``b_bits``-bit factor
    (a balanced tree of additions), ``a_bits + b_bits`` bits wide."""
    return balanced(values[key] << (i + j)
                    for key, i, j in _pieces(name, a_bits, b_bits))[:a_bits + b_bits]


def registered_product(m: Module, a: Unpacked, b: Unpacked, name: str) -> Unpacked:
    """The exact product of two values held steady (e.g. tensor scales), three clocks later:
    the factors registered, their partial products (and the product's sign, exponent and
    flags) registered, their sum registered."""
    a, b = register(m, a, f"{name}_a"), register(m, b, f"{name}_b")
    exact = product(a, b)
    parts = {k: _register(m, v, f"{k}_r") for k, v in
             partial_products(m, a.sig, b.sig, f"{name}_part").items()}
    rest = {f.name: _register(m, getattr(exact, f.name), f"{name}_{f.name}_r")
            for f in fields(Unpacked) if f.name != "sig"}
    sig = sum_partials(parts, f"{name}_part", len(a.sig), len(b.sig))
    return register(m, Unpacked(sig=sig, **rest), name)


def _register(m: Module, value: Value, name: str) -> Signal:
    """``value`` one clock later."""
    out = Signal(Value.cast(value).shape(), name=name)
    m.d.sync += out.eq(value)
    return out


def register(m: Module, value: Unpacked, name: str) -> Unpacked:
    """``value`` one clock later (for run-time inputs held steady, e.g. tensor scales)."""
    regs = {}
    for f in fields(Unpacked):
        v = Value.cast(getattr(value, f.name))
        regs[f.name] = Signal(v.shape(), name=f"{name}_{f.name}")
        m.d.sync += regs[f.name].eq(v)
    return Unpacked(**regs)


def rounding_values(value: Unpacked) -> Values:
    """An :class:`Unpacked` value as the names the rounder reads (inf and NaN included)."""
    return {"neg": value.neg, "mag": value.sig, "exp": value.exp, "nan": value.nan,
            "inf": value.inf}


def _wire(m: Module, value, name: str, shape=None) -> Signal:
    """``value`` on a named signal (of ``value``'s shape unless given)."""
    value = Value.cast(value)
    out = Signal(value.shape() if shape is None else shape, name=name)
    m.d.comb += out.eq(value)
    return out


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

    top = Signal(_top_bits(len(mag)), name=f"{name}_top")
    m.d.comb += top.eq(Cat(*tree([mag[i] for i in range(len(mag))])[1]))
    return top


def _top_bits(width: int) -> int:
    """Bits of the leading one's position in a ``width``-bit magnitude."""
    return Shape.cast(range(max(2, width))).width


def prepare_rounding(m: Module, value: Value, width: int, name: str, offset: int = 0,
                     max_right: int | None = None) -> Values:
    """What the rounder of a ``width``-bit magnitude (:func:`round_segments`) needs of the
    exponent ``exp = value + offset`` alone, in place of ``exp``: each a comparison of
    ``value`` with a constant or one addition to it, side by side. A unit that knows the
    exponent stages before the magnitude finds these there (the adder, beside its magnitude
    comparison), else the ``lead`` segment does, beside the leading-one tree."""
    value = Value.cast(value)
    most = width + 1 if max_right is None else max_right     # the largest right shift
    tops = _top_bits(width)
    lsb = FP32.lsb - offset          # the subnormal step, in units of value
    # the range's drop: floor = lsb - exp, a right shift when positive (clamped), else left
    floor = _wire(m, lsb - value, f"{name}_floor")
    out = {"exp": None,
           "floor_right": _wire(m, Mux(value >= lsb, 0, Mux(value < lsb - most, most, floor)),
                                f"{name}_floor_right", range(most + 1)),
           "floor_left": _wire(m, Mux(value > lsb, value - lsb, 0), f"{name}_floor_left",
                               range(MAN + 1))}
    # base + k = exp - lsb - man_bits + k; e + k >= 0 means top >= -(base + k): true outright,
    # false outright (past any top), or a comparison of top with its low bits
    for k in _E_OFFSETS:
        out[f"base_{_offset_name(k)}"] = _wire(m, value + (k - lsb - MAN),
                                               f"{name}_base_{_offset_name(k)}")
    for k in _THRESHOLDS:
        key, zero = _offset_name(k), lsb + MAN - k      # -(base + k) = zero - value
        out |= {f"sure_{key}": value >= zero, f"never_{key}": value <= zero - (1 << tops),
                f"need_{key}": _wire(m, zero - value, f"{name}_need_{key}")[:tops]}
    return out


def round_segments(name: str, max_right: int | None = None) -> list[tuple[str, Segment]]:
    """The segments of :data:`FP32_ROUND`: RNE32 of ``±mag · 2**exp`` (values ``neg``, ``mag``
    unsigned, ``exp`` signed; with ``nan`` and ``inf`` also, those win: the quiet NaN, ±inf
    by ``neg``) into ``bits``. ``max_right``: the most bits the rounding can drop (the
    caller's guarantee); by default every bit of ``mag`` may go.

    Short paths: whatever follows from ``exp`` alone (the subnormal range's drop ``floor =
    lsb - exp``, ``base = exp - lsb - man_bits``, the thresholds below) is found beside the
    leading-one tree; then ``e = top + base`` is the exponent code when the precision decides
    the step (``e > 0``, ``drop = top - man_bits``; else the range does, ``drop = floor``, code
    0), and the comparisons of ``e`` with 1 and with the inf code are comparisons of the few
    bits of ``top`` with thresholds found before. A left shift (``drop < 0``) drops nothing, so
    it needs no rounding and takes its own way past the rounding adder."""
    def lead(m: Module, v: Values) -> Values:
        mag = Value.cast(v["mag"])
        ready = {} if "exp" not in v else prepare_rounding(m, v["exp"], len(mag), name,
                                                           max_right=max_right)
        return {**ready, "top": _msb(m, mag, name),
                "zero": _wire(m, mag == 0, f"{name}_zero")}

    def amount(m: Module, v: Values) -> Values:
        top, width = v["top"], len(Value.cast(v["mag"]))
        e = {k: _wire(m, top + v[f"base_{_offset_name(k)}"], f"{name}_e_{_offset_name(k)}")
             for k in _E_OFFSETS}
        ge = {k: v[f"sure_{key}"] | (~v[f"never_{key}"] & (top >= v[f"need_{key}"]))
              for k in _THRESHOLDS for key in [_offset_name(k)]}            # e + k >= 0
        precise = _wire(m, ge[-1], f"{name}_precise")   # e >= 1: the precision decides
        at_least = {t: precise & ge[-t] for t in (EXP_ONES - 1, EXP_ONES)}
        # the precision's drop is top - man_bits: a right shift only if mag is that wide
        by_precision = Mux(top > MAN, top - MAN, 0) if width - 1 > MAN else 0
        bits = len(e[0])
        return {"right": _wire(m, Mux(precise, by_precision, v["floor_right"]), f"{name}_right",
                               v["floor_right"].shape()),
                "left": _wire(m, Mux(precise, Mux(top < MAN, MAN - top, 0), v["floor_left"]),
                              f"{name}_left", range(MAN + 1)),
                "ecode": _wire(m, Mux(precise, e[0], 0), f"{name}_ecode", bits),
                "ecode1": _wire(m, Mux(precise, e[1], 1), f"{name}_ecode1", bits),
                # ecode, ecode + 1 are inf codes already
                "over": at_least[EXP_ONES], "over1": at_least[EXP_ONES - 1],
                "top": None, "floor_right": None, "floor_left": None,
                **{f"base_{_offset_name(k)}": None for k in _E_OFFSETS},
                **{f"{f}_{_offset_name(k)}": None for k in _THRESHOLDS
                   for f in ("sure", "never", "need")}}

    def shift(m: Module, v: Values) -> Values:
        mag, right, left = Value.cast(v["mag"]), v["right"], v["left"]
        wide = Signal(max(len(mag) + 1, MAN + 2), name=f"{name}_wide")  # guard bit below
        m.d.comb += wide.eq(Cat(Const(0, 1), mag) >> right)
        kept = _wire(m, wide[1:MAN + 2], f"{name}_kept")
        most = len(mag) + 1 if max_right is None else max_right     # the largest ``right``
        below = min(len(mag), most - 1)                             # bits under the guard
        sticky = balanced((mag[i] & (right > i + 1) for i in range(below)), or_) \
            if below > 0 else Const(0, 1)
        return {"kept": kept, "up": _wire(m, wide[0] & (sticky | kept[0]), f"{name}_up"),
                "grown": _wire(m, mag << left, f"{name}_grown", MAN + 1),
                "grow": left != 0, "mag": None, "right": None, "left": None}

    def round_(m: Module, v: Values) -> Values:
        def code(kept, up):
            """The code of a kept significand rounded up by ``up``, and whether it must be
            clamped to inf: kept's hidden bit counts one in the exponent field, so the upper
            part is ecode or ecode + 1; below the inf code, rounding up carries into it at
            most up to the inf code itself (an all-ones fraction at exponent 254)."""
            hidden = kept[MAN]
            upper = Mux(hidden, v["ecode1"], v["ecode"])
            code = Cat(kept[:MAN], upper)
            return code if up is None else code + up, Mux(hidden, v["over1"], v["over"])

        rounded, over = code(v["kept"], v["up"])
        grown, grown_over = code(v["grown"], None)
        result = _wire(m, Mux(v["grow"], grown, rounded), f"{name}_code", MAG + 1)
        neg = v["neg"]
        bits = Cat(Mux(v["zero"], 0, Mux(Mux(v["grow"], grown_over, over), INF, result[:MAG])),
                   neg)
        if "nan" in v:
            bits = Mux(v["nan"], QNAN, Mux(v["inf"], Cat(Const(INF, MAG), neg), bits))
        return {"bits": _wire(m, bits, name, FP32.bits), **dict.fromkeys(
            ("ecode", "ecode1", "over", "over1", "kept", "up", "grown", "grow", "zero", "neg",
             "nan", "inf"))}

    return [("lead", lead), ("amount", amount), ("shift", shift), ("round", round_)]


def _clamp(distance: Value) -> Value:
    """An exponent difference (``>= 0`` where it is used) as the adder's alignment, saturated
    to :data:`_APART_BITS` bits: every shift beyond the significand and the guard bits leaves
    only the sticky bit, so saturating is one logic level where clamping exactly at 27 would
    be a comparison."""
    distance = Value.cast(distance)
    top = (1 << _APART_BITS) - 1
    return Mux(distance[_APART_BITS:len(distance) - 1] != 0, top, distance[:_APART_BITS])


def add_segments(name: str) -> list[tuple[str, Segment]]:
    """The segments of :data:`FP32_ADD`: RNE32(``a`` + ``b``) of two FP32 bit patterns (values
    ``a``, ``b``) into ``bits``. The exponent differences both ways are found beside the
    magnitude comparison, which then only picks."""

    def order(m: Module, v: Values) -> Values:
        a, b = Value.cast(v["a"]), Value.cast(v["b"])
        ua, ub = unpack(m, a, f"{name}_a"), unpack(m, b, f"{name}_b")
        swap = _wire(m, a[:MAG] < b[:MAG], f"{name}_swap")   # magnitudes order as integers
        normal = [x[MAN:MAG] != 0 for x in (a, b)]
        ea, eb = (Mux(n, x[MAN:MAG], 1) for n, x in zip(normal, (a, b)))
        sig_a, sig_b = (Cat(x[:MAN], n) for n, x in zip(normal, (a, b)))
        nan = ua.nan | ub.nan | (ua.inf & ub.inf & (ua.neg ^ ub.neg))
        # the rounder's exponent terms for either operand being the larger, then picked: the
        # sum's last bit is 2**(larger exponent field + lsb - 1 - guard)
        ready_a, ready_b = (prepare_rounding(m, e, _SUM_BITS, f"{name}_{x}",
                                             FP32.lsb - 1 - _GUARD, _SUM_DROP)
                            for e, x in ((ea, "a"), (eb, "b")))
        ready = {k: None if ready_a[k] is None else Mux(swap, ready_b[k], ready_a[k])
                 for k in ready_a}
        # no NaN: an inf operand is the larger one, so the result is ±inf by its sign
        return {**ready, "big_sig": _wire(m, Mux(swap, sig_b, sig_a), f"{name}_big_sig"),
                "small_sig": _wire(m, Mux(swap, sig_a, sig_b), f"{name}_small_sig"),
                # each way's exponent difference, clamped (the picked one is >= 0)
                "apart": _wire(m, Mux(swap, _clamp(eb - ea), _clamp(ea - eb)), f"{name}_apart",
                               _APART_BITS),
                "big_neg": Mux(swap, b[MAG], a[MAG]), "sub": ua.neg ^ ub.neg,
                "nan": _wire(m, nan, f"{name}_nan"), "inf": ua.inf | ub.inf,
                "a": None, "b": None}

    def align(m: Module, v: Values) -> Values:
        small = _wire(m, v["small_sig"] << _GUARD, f"{name}_small3")
        apart = v["apart"]
        aligned = _wire(m, small >> apart, f"{name}_aligned")
        sticky = balanced((small[i] & (apart > i) for i in range(len(small))), or_)
        return {"addend": _wire(m, aligned | sticky, f"{name}_addend"), "small_sig": None,
                "apart": None}

    def add(m: Module, v: Values) -> Values:
        big, x, sub = v["big_sig"] << _GUARD, v["addend"], v["sub"]
        # big ± x as one adder: x's bits flipped and a carry in to subtract (mod 2**28)
        flipped = Cat(x, Const(0, _SUM_BITS - len(x))) ^ sub.replicate(_SUM_BITS)
        total = _wire(m, big + flipped + sub, f"{name}_total", _SUM_BITS)
        cancel = sub & (big == x)       # exact cancellation: +0
        return {"mag": total, "neg": ~cancel & v["big_neg"], "big_sig": None, "addend": None,
                "sub": None, "big_neg": None}

    return [("order", order), ("align", align), ("add", add), *round_segments(name, _SUM_DROP)]


def round_exact(m: Module, neg: Value, mag: Value, exp: Value, name: str) -> Value:
    """RNE32 of ``±mag · 2**exp`` (``mag`` unsigned, ``exp`` signed), one combinational
    stage: FP32 bits, ±0 for 0."""
    return build(m, FP32_ROUND, round_segments(name), {"neg": neg, "mag": mag, "exp": exp},
                 0, Const(1, 1), name)["bits"]


def round_value(m: Module, value: Unpacked, name: str) -> Value:
    """RNE32 of an :class:`Unpacked` value (one combinational stage): ±inf and the quiet NaN
    as they are."""
    return build(m, FP32_ROUND, round_segments(name), rounding_values(value), 0, Const(1, 1),
                 name)["bits"]


def add(m: Module, a_bits: Value, b_bits: Value, name: str) -> Value:
    """RNE32(a + b) of two FP32 bit patterns (one combinational stage)."""
    return build(m, FP32_ADD, add_segments(name), {"a": a_bits, "b": b_bits}, 0, Const(1, 1),
                 name)["bits"]
