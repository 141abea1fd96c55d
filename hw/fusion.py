"""The ``fusion`` generator: 16 two-bit BitBricks fused at run time into wider multipliers.

Ports::

    operands  In   stream of {a: 32, w: 32}   P lanes of A (a) and W (w) bits per word
    result    Out  stream of signed(acc)       one result per K beats (wrapping or saturating)
    k         In   k_bits                      beats per result (hold while in flight)
    a_prec    In   2                           A: 0 → 8, 1 → 4, 2 (and 3) → 2 bits; w_prec likewise
    a_signed  In   1                           operand lanes are two's complement; w_signed likewise
    clear     In   1                           drop the partial sum, pipeline and pending result

A beat carries ``P = 64 / (A·W)`` lanes in its two 32-bit words, lane ``p`` at bit ``p·A`` of
``a`` and ``p·W`` of ``w``, and contributes ``Σ_p a_p·w_p``:

==================  =====  ========  =============  ========  =====
A×W                 8×8    8×4, 4×8  8×2, 4×4, 2×8  4×2, 2×4  2×2
products per cycle  1      2         4              8         16
==================  =====  ========  =============  ========  =====

For each of the 9 precision pairs a fixed wiring says which digit of each word brick b
multiplies and by how much its product shifts (:func:`brick_wiring`); the run-time mode picks
the wiring. Each brick multiplies two 3-bit values (a digit extended by its sign bit when it is
the top digit of a signed lane, by zero otherwise), so the sum of the shifted brick products is
exactly ``Σ_p a_p·w_p`` (:mod:`lowbit.models.fusion`). That beat sum enters the accumulator
in one step, which wraps or saturates (:func:`lowbit.hw.accumulate.accumulate`) once per beat.

Pipeline: :data:`~lowbit.models.fusion.FUSION_CHAIN` (mode select, bricks by shift and add in
LUTs, shifts, the adder tree in two halves) cut into ``stages`` (:mod:`lowbit.hw.stages`);
the beat counter runs at the operands and each beat's "last" rides along. The run-time mode
inputs are read in the first segment: hold them while a result is in flight.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw.accumulate import accumulate
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.shapes import shape_of
from lowbit.hw.trees import balanced, shift_add_product
from lowbit.kinds.fusion import FusionConfig
from lowbit.models.fusion import (
    BRICKS,
    FUSION_CHAIN,
    PRECISIONS,
    WORD_BITS,
    beat_sum_bits,
    modes,
)

OPERANDS = data.StructLayout({"a": WORD_BITS, "w": WORD_BITS})


def brick_wiring(a_bits: int, w_bits: int, brick: int) -> tuple[int, bool, int, bool, int]:
    """Brick ``brick`` in mode A×W: (a digit, a digit is a lane's top, w digit, w top, shift)."""
    na, nw = a_bits // 2, w_bits // 2
    lane, r = divmod(brick, na * nw)
    i, j = divmod(r, nw)
    return lane * na + i, i == na - 1, lane * nw + j, j == nw - 1, 2 * (i + j)


class Fusion(wiring.Component):
    """Precision-scalable MAC built from a :class:`~lowbit.kinds.fusion.FusionConfig`.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.fusion.FusionConfig`; its formats give the payload shapes.
    """

    def __init__(self, config: FusionConfig):
        self.config = config
        super().__init__(ports(OPERANDS, shape_of(config.accumulator), config.k_bits,
                               a_prec=In(2), w_prec=In(2), a_signed=In(1), w_signed=In(1)))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        red = reduction(m, self.operands, self.result, self.clear)
        beat = red.chain(m, self.operands, self.k, self.clear, FUSION_CHAIN, self._segments(),
                         cfg.stages, "beat")
        step, last = red.advance & beat["valid"], beat["last"]
        acc = Signal(shape_of(cfg.accumulator), name="acc")
        total = accumulate(acc, beat["sum"], cfg.accumulator)   # wraps or saturates per beat
        red.accumulate(m, step, last, self.clear, acc, total, self.result.payload)
        red.deliver(m, step & last, self.clear, self.result)
        return m

    def _segments(self):
        """The segments of :data:`~lowbit.models.fusion.FUSION_CHAIN`: the words ``a``, ``w``
        to the beat's exact sum ``sum``."""
        bricks = range(BRICKS)

        def select(m, v):
            # the mode as the two precision codes side by side (code 3 acting as 2); a
            # product a_code · 3 would be a multiplier, which synthesis puts on a DSP block
            top = len(PRECISIONS) - 1
            mode = Signal(4, name="mode")
            m.d.comb += mode.eq(Cat(*(Mux(p >= top, top, p)[:2] for p in (self.w_prec,
                                                                           self.a_prec))))
            a_digits = [v["a"][2 * d:2 * d + 2] for d in range(WORD_BITS // 2)]
            w_digits = [v["w"][2 * d:2 * d + 2] for d in range(WORD_BITS // 2)]
            out = {"a": None, "w": None}
            for b in bricks:
                x = Signal(signed(3), name=f"brick{b}_a")
                y = Signal(signed(3), name=f"brick{b}_w")
                shift = Signal(range(13), name=f"brick{b}_shift")
                with m.Switch(mode):
                    for ab, wb in modes():
                        da, ta, dw, tw, sh = brick_wiring(ab, wb, b)
                        with m.Case(PRECISIONS.index(ab) << 2 | PRECISIONS.index(wb)):
                            m.d.comb += [x.eq(_extend(a_digits[da], ta & self.a_signed)),
                                         y.eq(_extend(w_digits[dw], tw & self.w_signed)),
                                         shift.eq(sh)]
                out |= {f"x{b}": x, f"y{b}": y, f"shift{b}": shift}
            return out

        def multiply(m, v):
            return {**{f"product{b}": shift_add_product(v[f"x{b}"], v[f"y{b}"]) for b in bricks},
                    **{f"{f}{b}": None for f in "xy" for b in bricks}}

        def shift(m, v):
            return {**{f"term{b}": v[f"product{b}"] << v[f"shift{b}"] for b in bricks},
                    **{f"{f}{b}": None for f in ("product", "shift") for b in bricks}}

        def pairs(m, v):
            return {**{f"part{q}": balanced(v[f"term{b}"] for b in range(4 * q, 4 * q + 4))
                       for q in range(BRICKS // 4)},
                    **{f"term{b}": None for b in bricks}}

        def total(m, v):
            beat = Signal(signed(beat_sum_bits()), name="beat_sum")
            m.d.comb += beat.eq(balanced(v[f"part{q}"] for q in range(BRICKS // 4)))
            return {"sum": beat, **{f"part{q}": None for q in range(BRICKS // 4)}}

        return [("select", select), ("bricks", multiply), ("shift", shift), ("pairs", pairs),
                ("sum", total)]


def _extend(digit, signed_top):
    """A 2-bit digit as 3-bit two's complement: sign-extended when ``signed_top``."""
    return Mux(signed_top & digit[1], digit | 0b100, digit)
