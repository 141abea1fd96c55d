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
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw.accumulate import accumulate
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.shapes import shape_of
from lowbit.hw.trees import balanced
from lowbit.kinds.fusion import FusionConfig
from lowbit.models.fusion import BRICKS, PRECISIONS, WORD_BITS, beat_sum_bits, modes

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
        # the index of (A, W) in modes(): A's code · 3 + W's code, code 3 acting as 2
        mode = Signal(range(len(modes())))
        top = len(PRECISIONS) - 1
        a_code, w_code = (Mux(p >= top, top, p) for p in (self.a_prec, self.w_prec))
        m.d.comb += mode.eq(a_code * len(PRECISIONS) + w_code)
        a_digits = [self.operands.p.a[2 * d:2 * d + 2] for d in range(WORD_BITS // 2)]
        w_digits = [self.operands.p.w[2 * d:2 * d + 2] for d in range(WORD_BITS // 2)]

        terms = []
        for b in range(BRICKS):
            x, y = Signal(signed(3), name=f"brick{b}_a"), Signal(signed(3), name=f"brick{b}_w")
            shift = Signal(range(13), name=f"brick{b}_shift")
            with m.Switch(mode):
                for index, (ab, wb) in enumerate(modes()):
                    da, ta, dw, tw, sh = brick_wiring(ab, wb, b)
                    with m.Case(index):
                        m.d.comb += [x.eq(_extend(a_digits[da], ta & self.a_signed)),
                                     y.eq(_extend(w_digits[dw], tw & self.w_signed)),
                                     shift.eq(sh)]
            terms.append((x * y) << shift)
        beat = Signal(signed(beat_sum_bits()), name="beat_sum")
        m.d.comb += beat.eq(balanced(terms))

        valid, value = red.valid, beat
        if cfg.mul_reg:
            valid, value = red.stage(m, valid, value)
        acc = Signal(shape_of(cfg.accumulator), name="acc")
        total = accumulate(acc, value, cfg.accumulator)   # wraps or saturates once per beat
        step, last = red.finish(m, valid, self.k, self.clear, self.result)
        red.accumulate(m, step, last, self.clear, acc, total, self.result.payload)
        return m


def _extend(digit, signed_top):
    """A 2-bit digit as 3-bit two's complement: sign-extended when ``signed_top``."""
    return Mux(signed_top & digit[1], digit | 0b100, digit)
