"""The add/subtract/skip "multiplier" of ternary and binary weights: no multiplier at all.

A weight whose every value is -1, 0 or +1 (``ternary`` as in BitNet b1.58 and the MatMul-free
LM, ``binary`` as in BiBERT, ``int1``, ``uint1``) multiplies an activation by selecting it,
its negation or zero: ``p = a`` for the codes of +1, ``-a`` for the codes of -1, ``0`` for every
other code (ternary's zero and its unused code ``10``). Which codes are which comes from the
weight format (:func:`lowbit.models.formats.sign_codes`), never restated here. ``stages``
registers follow the selection, as for :class:`~lowbit.hw.mul.shape.InferredMultiplier`.
"""

from __future__ import annotations

from operator import or_

from amaranth.hdl import Const, Module, Mux

from lowbit.hw.mul.shape import Multiplier, stage
from lowbit.hw.trees import balanced
from lowbit.models.formats import IntFormat, NumberFormat, sign_codes


def _matches(code, codes: tuple[int, ...]):
    return balanced([code == c for c in codes], or_) if codes else Const(0)


class AddSubMultiplier(Multiplier):
    """``a × w`` for a weight of values -1, 0, +1: a negation and a select, then ``stages``
    registers."""

    def __init__(self, a: IntFormat, w: NumberFormat, stages: int = 0):
        signs = sign_codes(w)
        if signs is None:
            raise ValueError(f"{w} has values other than -1, 0 and +1; an add/subtract PE takes "
                             "ternary, binary, int1 or uint1 weights")
        if stages < 0:
            raise ValueError(f"stages={stages}; at least 0")
        self.plus, self.minus = signs
        self.stages = stages
        super().__init__(a, w, stages)

    def elaborate(self, platform) -> Module:
        m = Module()
        code = self.w.as_unsigned()
        a = self.a
        product = Mux(_matches(code, self.minus), -a, Mux(_matches(code, self.plus), a, 0))
        for i in range(self.stages):
            product = stage(m, self.en, product, f"product{i}")
        m.d.comb += self.p.eq(product)
        return m
