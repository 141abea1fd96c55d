"""The ``blockdot`` generator: MX / NVFP4 block dot products, ``lanes`` element pairs a cycle.

Ports::

    operands  In   stream of {a0..a(L-1), w0..w(L-1), sa, sw}   L element codes per side and
                                                                the block's two scale codes
    result    Out  stream of {sum, exp, special}                one per block (B/L beats)
    clear     In   1    drop the partial block, the pipeline and a pending result

The scales ride on every beat; the unit uses those of a block's last beat. Each lane decodes
its elements (:mod:`lowbit.hw.minifloat`, from the element formats), multiplies exactly and the
lanes are summed in a tree; the block's exact sum is held in a register of
``kulisch_bits(a, w, B)`` bits with sticky inf/NaN flags beside it. At the block's end the sum
is multiplied by both scales' significands and their exponents are added:
``S = sum · 2**exp`` exactly (:mod:`lowbit.models.blockdot`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring

from lowbit.hw.minifloat import Product, Specials, decode, exact_product
from lowbit.hw.reduce import ports, reduction
from lowbit.kinds.blockdot import BlockdotConfig
from lowbit.models.fmac import NAN


def operand_layout(config: BlockdotConfig) -> data.StructLayout:
    lanes = range(config.lanes)
    return data.StructLayout({
        **{f"a{i}": config.a.element.bits for i in lanes},
        **{f"w{i}": config.w.element.bits for i in lanes},
        "sa": config.a.scale.bits, "sw": config.w.scale.bits})


def _signed_bits(lo: int, hi: int) -> int:
    return max(lo.bit_length(), hi.bit_length()) + 1


def result_layout(config: BlockdotConfig) -> data.StructLayout:
    return data.StructLayout({"sum": signed(config.sum_bits),
                              "exp": signed(_signed_bits(*config.exp_range)), "special": 2})


def _tree(values: list, op):
    while len(values) > 1:
        values = [op(a, b) for a, b in zip(values[::2], values[1::2])] + values[len(values) & ~1:]
    return values[0]


class BlockDot(wiring.Component):
    """Block dot-product unit built from a :class:`~lowbit.kinds.blockdot.BlockdotConfig`."""

    def __init__(self, config: BlockdotConfig):
        self.config = config
        super().__init__(ports(operand_layout(config), result_layout(config), None))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        p = self.operands.p
        red = reduction(m, self.operands, self.result, self.clear)
        products = [exact_product(m, decode(m, cfg.a.element, getattr(p, f"a{i}"), f"a{i}"),
                                  decode(m, cfg.w.element, getattr(p, f"w{i}"), f"w{i}"),
                                  f"p{i}")
                    for i in range(cfg.lanes)]
        beat = Signal(signed(cfg.block_sum_bits), name="beat_sum")
        m.d.comb += beat.eq(_tree([x.value for x in products], lambda x, y: x + y))
        nan = _tree([x.nan for x in products], lambda x, y: x | y)
        pos = _tree([x.inf & ~x.neg for x in products], lambda x, y: x | y)
        neg = _tree([x.inf & x.neg for x in products], lambda x, y: x | y)
        flag_bits = Signal(3, name="beat_flags")
        m.d.comb += flag_bits.eq(Cat(nan, pos, neg))
        valid, value, sa, sw = red.valid, beat, p.sa, p.sw
        nan, pos, neg = flag_bits[0], flag_bits[1], flag_bits[2]
        if cfg.mul_reg:
            valid, value, nan, pos, neg, sa, sw = red.stage(m, valid, value, nan, pos, neg, sa, sw)
        # the beat as one "product" whose inf is +inf or -inf; both make NaN via the flags
        beat_product = Product(value, nan | (pos & neg), pos | neg, neg)

        acc = Signal(signed(cfg.block_sum_bits), name="acc")
        flags = Specials("acc")
        total = (acc + beat_product.value)[:cfg.block_sum_bits].as_signed()
        scale_a = decode(m, cfg.a.scale, sa, "sa")
        scale_w = decode(m, cfg.w.scale, sw, "sw")
        exp0 = cfg.a.element.lsb + cfg.w.element.lsb + cfg.a.scale.lsb + cfg.w.scale.lsb
        step, last = red.finish(m, valid, Const(cfg.beats, max(1, cfg.beats.bit_length())),
                                self.clear, self.result)
        after = flags.next(m, beat_product)
        scaled = Signal(signed(cfg.sum_bits), name="scaled")
        m.d.comb += scaled.eq(total * scale_a.sig * scale_w.sig)
        red.accumulate(m, step, last, self.clear, acc, total, self.result.p.sum, scaled)
        with m.If(step & last):
            m.d.sync += self.result.p.exp.eq(scale_a.shift + scale_w.shift + exp0)
        nan_scale = scale_a.nan | scale_w.nan
        flags.update(m, step, last, self.clear, after, self.result.p.special,
                     lambda code: Mux(nan_scale, NAN, code))
        return m
