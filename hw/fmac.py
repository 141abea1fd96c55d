"""The ``fmac`` generator: minifloat/integer products accumulated exactly (Kulisch register).

Ports (streams in the manner of :mod:`amaranth.lib.stream`)::

    operands  In   stream of {a, w}          codes of the operand formats (low bits of each field)
    result    Out  stream of {acc, special}  one dot product per K operand beats
    k         In   k_bits                    run-time K; hold it while a dot product is in flight
    clear     In   1                         drop the partial sum, the pipeline and a pending result
    a_sel     In   (only with several a formats)  run-time pick of the a format; w_sel likewise

Pipeline (:data:`~lowbit.models.fmac.FMAC_CHAIN` cut into ``stages``, :mod:`lowbit.hw.stages`)::

    operands ─► decode a, w ─► |sig_a|·|sig_w| ─► ± ─► << (shift_a + shift_w) ─► register
                   └─ inf / NaN / zero ─► product special ────────────────────► sticky flags

The beat counter runs at the operands, and whether a beat is its result's K-th rides along
with it, so the register's control comes straight from a pipeline register. Narrow significands
(FP8/FP6/FP4) multiply their magnitudes in LUTs by radix-4 digits (the multiples found in the
decode stage; no DSP block on the path) and the product is signed after; wider ones
(integers) multiply signed with ``*``.

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
    Decoded,
    Normalised,
    Product,
    Specials,
    decode_set,
    fabric_operands,
    lmul_significand,
    normalise_set,
    product_flags,
)
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.stages import flat, unflat
from lowbit.hw.trees import radix4_product
from lowbit.kinds.fmac import FmacConfig
from lowbit.models.fmac import FMAC_CHAIN
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
        prod = red.chain(m, self.operands, self.k, self.clear, FMAC_CHAIN, self._segments(),
                         cfg.stages, "product")
        step, last = red.advance & prod["valid"], prod["last"]
        product = Product(prod["term"], prod["nan"], prod["inf"], prod["neg"])

        acc = Signal(signed(cfg.acc_bits), name="acc")
        flags = Specials("acc")
        total = (acc + product.value)[:cfg.acc_bits].as_signed()
        after = flags.next(m, product)
        red.accumulate(m, step, last, self.clear, acc, total, self.result.p.acc)
        flags.update(m, step, last, self.clear, after, self.result.p.special)
        red.deliver(m, step & last, self.clear, self.result)
        return m

    def _segments(self):
        """The segments of :data:`~lowbit.models.fmac.FMAC_CHAIN`: codes ``a``, ``w`` to the
        product ``term`` in the register's units and its flags ``nan``, ``inf``, ``neg``."""
        cfg = self.config
        sets = {"a": cfg.a_set, "w": cfg.w_set}
        sel = {side: Value.cast(getattr(self, f"{side}_sel", 0)) for side in sets}
        lmul = cfg.mul == "lmul"
        frac = max(f.man_bits for s in sets.values() for f in s.formats) if lmul else 0

        negate = True   # whether "sign" negates: the product is a magnitude (set below)

        def decoding(m, v):
            nonlocal negate
            out = {"a": None, "w": None}
            decoded = {side: decode_set(m, fmts, v[side], sel[side], side)
                       for side, fmts in sets.items()}
            for side, fmts in sets.items():
                out |= flat(side, decoded[side])
                if lmul:
                    out |= flat(f"n{side}", normalise_set(m, fmts, v[side], sel[side], frac,
                                                          side))
            if lmul:
                out["offset"] = _offset(cfg, frac, sel["a"], sel["w"])
            elif (fabric := fabric_operands(decoded["a"], decoded["w"])) is not None:
                out |= dict(zip(("x", "x3", "y"), fabric))
            else:
                negate = False
            return out

        def multiply(m, v):
            (a, drop_a), (w, drop_w) = (unflat(Decoded, side, v) for side in sets)
            out = {**drop_a, **drop_w}
            if lmul:
                (na, drop_na), (nw, drop_nw) = (unflat(Normalised, f"n{side}", v)
                                                for side in sets)
                prod = lmul_significand(m, a, w, na, nw, frac, v["offset"], "product")
                out |= {**drop_na, **drop_nw, "offset": None, "shift": na.exp + nw.exp}
            else:
                value = radix4_product(v["x"], v["x3"], v["y"]) if negate else a.sig * w.sig
                prod = Product(value, *product_flags(m, a, w, "product"))
                out |= {"shift": a.shift + w.shift, "x": None, "x3": None, "y": None}
            return {**out, "value": prod.value, "nan": prod.nan, "inf": prod.inf,
                    "neg": prod.neg}

        def sign(m, v):
            value = v["value"]
            return {"value": Mux(v["neg"], -value, value) if negate else value}

        def shift(m, v):
            # L-Mul's low bits are zero (see lmul_significand); a narrower register drops more
            low = (frac - cfg.lmul_offset_bits) + cfg.drop
            term = Signal(signed(max(1, cfg.product_bits - cfg.drop)), name="product_term")
            m.d.comb += term.eq((v["value"] << v["shift"]) >> low)
            return {"term": term, "value": None, "shift": None}

        return [("decode", decoding), ("multiply", multiply), ("sign", sign), ("shift", shift)]
