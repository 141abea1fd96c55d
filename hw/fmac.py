"""The ``fmac`` generator: minifloat/integer products accumulated exactly (Kulisch register).

Ports (streams in the manner of :mod:`amaranth.lib.stream`)::

    operands  In   stream of {a, w}          codes of the operand formats (low bits of each field)
    result    Out  stream of {acc, special}  one dot product per K operand beats
    k         In   k_bits                    run-time K; hold it while a dot product is in flight
    clear     In   1                         drop the partial sum, the pipeline and a pending result
    a_sel     In   (only with several a formats)  run-time pick of the a format; w_sel likewise

Pipeline::

    operands ─► decode a, w ─► (sig_a·sig_w) << (shift_a + shift_w) ─► [mul_reg] ─► register
                   └─ inf / NaN / zero ─► product special ───────────────────────► sticky flags

With ``mul = "lmul"`` the multiplier is L-Mul's adder (:mod:`lowbit.models.lmul`): each operand
normalised to ``(1 + xm)·2**xe``, then ``(1 + xm + ym + 2**-l) << (xe + ye)``.

``acc`` is the sum in units of ``2**result_lsb`` (see :class:`~lowbit.kinds.fmac.FmacConfig`);
``special`` is 0 finite, 1 +inf, 2 -inf, 3 NaN (:mod:`lowbit.models.fmac`).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw.minifloat import (
    Specials,
    decode_set,
    exact_product,
    lmul_product,
    normalise_set,
)
from lowbit.hw.reduce import ports, reduction
from lowbit.kinds.fmac import FmacConfig
from lowbit.models.lmul import pair_offset


def operand_layout(config: FmacConfig) -> data.StructLayout:
    """Payload of the operand stream: ``a`` in the low bits, ``w`` above it."""
    return data.StructLayout({"a": config.a_set.code_bits, "w": config.w_set.code_bits})


def result_layout(config: FmacConfig) -> data.StructLayout:
    return data.StructLayout({"acc": signed(config.acc_bits), "special": 2})


def _offset(config: FmacConfig, frac_bits: int, a_sel: Value, w_sel: Value) -> Value:
    """L-Mul's ``2**-l`` in units of ``2**-frac_bits`` for the run-time format pair."""
    out = None
    for i, fa in enumerate(config.a_set.formats):
        for j, fw in enumerate(config.w_set.formats):
            value = Const(1 << (frac_bits - pair_offset(fa, fw)), frac_bits + 1)
            out = value if out is None else Mux((a_sel == i) & (w_sel == j), value, out)
    return out


class FMAC(wiring.Component):
    """Exact multiply-accumulate built from a :class:`~lowbit.kinds.fmac.FmacConfig`.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.fmac.FmacConfig`; its formats give the payload shapes.
    """

    def __init__(self, config: FmacConfig):
        self.config = config
        super().__init__(ports(operand_layout(config), result_layout(config), config.k_bits,
                               **{f"{side}_sel": In(fmts.select_bits)
                                  for side, fmts in (("a", config.a_set), ("w", config.w_set))
                                  if fmts.select_bits}))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        red = reduction(m, self.operands, self.result, self.clear)
        sides = [(getattr(self.operands.p, side), Value.cast(getattr(self, f"{side}_sel", 0)),
                  fmts, side) for side, fmts in (("a", cfg.a_set), ("w", cfg.w_set))]
        a, w = (decode_set(m, fmts, code, sel, side) for code, sel, fmts, side in sides)
        if cfg.mul == "lmul":
            frac = max(f.man_bits for s in (cfg.a_set, cfg.w_set) for f in s.formats)
            na, nw = (normalise_set(m, fmts, code, sel, frac, side)
                      for code, sel, fmts, side in sides)
            prod = lmul_product(m, a, w, na, nw, frac, _offset(cfg, frac, sides[0][1],
                                                               sides[1][1]),
                                frac - cfg.lmul_offset_bits, "product")
        else:
            prod = exact_product(m, a, w, "product")
        term = Signal(signed(cfg.product_bits), name="product_value")
        m.d.comb += term.eq(prod.value)
        valid, value, nan, inf, neg = red.valid, term, prod.nan, prod.inf, prod.neg
        if cfg.mul_reg:
            valid, value, nan, inf, neg = red.stage(m, valid, value, nan, inf, neg)
        prod = type(prod)(value, nan, inf, neg)

        acc = Signal(signed(cfg.acc_bits), name="acc")
        flags = Specials("acc")
        total = (acc + (prod.value >> cfg.drop))[:cfg.acc_bits].as_signed()
        after = flags.next(m, prod)
        step, last = red.finish(m, valid, self.k, self.clear, self.result)
        red.accumulate(m, step, last, self.clear, acc, total, self.result.p.acc)
        flags.update(m, step, last, self.clear, after, self.result.p.special)
        return m
