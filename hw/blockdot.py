"""The ``blockdot`` generator: MX / NVFP4 block dot products, ``lanes`` element pairs a cycle,
accumulated across blocks in FP32 as :func:`lowbit.models.qgemm.qgemm` defines it.

Ports::

    operands  In   stream of {a0..a(L-1), w0..w(L-1), sa, sw}   L element codes per side and
                                                                the block's two scale codes
    result    Out  stream of {fp32}                  output "fp32": one per ``blocks`` blocks
                   stream of {sum, exp, special}     output "block": one per block (B/L beats)
    blocks    In   blocks_bits   (fp32) blocks per result; hold it while a result is in flight
    ta, tw    In   32            (fp32, NVFP4) the operands' FP32 tensor scales; hold them too
    clear     In   1    drop the partial block and result, the pipeline and a pending result

Pipeline::

    beats ─► decode, exact products, lane tree ─► [mul_reg] ─► block register (exact) ─┐
      ┌─────────────────────── S = sum·2**exp, special ◄── × sig(sa)·sig(sw) ◄────────┘
      └─► RNE32(S) ─► c = RNE32(c + S) over ``blocks`` blocks ─► [RNE32(c · ta · tw)] ─► result

The scales ride on every beat; the unit uses those of a block's last beat. Each lane decodes
its elements (:mod:`lowbit.hw.minifloat`, from the element formats), multiplies exactly and the
lanes are summed in a tree; the block's exact sum is held in a register of
``kulisch_bits(a, w, B)`` bits with sticky inf/NaN flags beside it. At the block's end the sum
is multiplied by both scales' significands and their exponents are added:
``S = sum · 2**exp`` exactly (:mod:`lowbit.models.blockdot`). With output "block" that is the
result. With "fp32" (:mod:`lowbit.hw.fp32`) ``S`` is rounded once to FP32 in its own pipeline
stage (a special block becomes ±inf or NaN), added to the FP32 accumulator ``c`` (from +0, one
rounding per block, one cycle: the loop), and after the last block of a result ``c`` is the
result — or, with NVFP4's tensor scales, ``RNE32(c · ta · tw)`` in one more stage: the unit
takes ``ta`` and ``tw`` as they are (the QTensors' FP32 tensor scales), forms their exact
48-bit product in a register and rounds the exact triple product once, as qgemm does.
"""

from __future__ import annotations

from operator import or_

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw import fp32
from lowbit.hw.minifloat import Product, Specials, decode, exact_product
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.trees import balanced
from lowbit.kinds.blockdot import BlockdotConfig
from lowbit.models.fmac import FINITE, NAN, NEG_INF, POS_INF
from lowbit.models.minifloat import FP32


def operand_layout(config: BlockdotConfig) -> data.StructLayout:
    lanes = range(config.lanes)
    return data.StructLayout({
        **{f"a{i}": config.a.element.bits for i in lanes},
        **{f"w{i}": config.w.element.bits for i in lanes},
        "sa": config.a.scale.bits, "sw": config.w.scale.bits})


def block_layout(config: BlockdotConfig) -> data.StructLayout:
    """One block's exact scaled sum ``sum · 2**exp`` and its special code."""
    return data.StructLayout({"sum": signed(config.sum_bits), "exp": signed(config.exp_bits),
                              "special": 2})


def result_layout(config: BlockdotConfig) -> data.StructLayout:
    return data.StructLayout({"fp32": FP32.bits}) if config.fp32 else block_layout(config)


class BlockDot(wiring.Component):
    """Block dot-product unit built from a :class:`~lowbit.kinds.blockdot.BlockdotConfig`.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.blockdot.BlockdotConfig`; its formats give the
        payload shapes.
    """

    def __init__(self, config: BlockdotConfig):
        self.config = config
        extra = {"blocks": In(config.blocks_bits)} if config.fp32 else {}
        if config.tensor_scaled:
            extra.update(ta=In(FP32.bits), tw=In(FP32.bits))
        super().__init__(ports(operand_layout(config), result_layout(config), None, **extra))

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
        m.d.comb += beat.eq(balanced(x.value for x in products))
        nan = balanced((x.nan for x in products), or_)
        pos = balanced((x.inf & ~x.neg for x in products), or_)
        neg = balanced((x.inf & x.neg for x in products), or_)
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
        exp0 = cfg.lsb + cfg.a.scale.lsb + cfg.w.scale.lsb   # decode's shifts count from lsb
        beats = Const(cfg.beats, max(1, cfg.beats.bit_length()))
        if cfg.fp32:
            step, last = red.count(m, valid, beats, self.clear, prefix="beat_")
            block = Signal(block_layout(cfg), name="block")
            block_valid, = red.stage(m, step & last)  # the block register's valid bit
        else:
            step, last = red.finish(m, valid, beats, self.clear, self.result)
            block = self.result.p
        after = flags.next(m, beat_product)
        scaled = Signal(signed(cfg.sum_bits), name="scaled")
        m.d.comb += scaled.eq(total * scale_a.sig * scale_w.sig)
        red.accumulate(m, step, last, self.clear, acc, total, block.sum, scaled)
        with m.If(step & last):
            m.d.sync += block.exp.eq(scale_a.shift + scale_w.shift + exp0)
        nan_scale = scale_a.nan | scale_w.nan
        flags.update(m, step, last, self.clear, after, block.special,
                     lambda code: Mux(nan_scale, NAN, code))
        if cfg.fp32:
            self._accumulate_fp32(m, red, block_valid, block)
        return m

    def _accumulate_fp32(self, m: Module, red, block_valid, block) -> None:
        """RNE32 of each block result, their FP32 sum over ``blocks`` blocks, tensor scales."""
        cfg = self.config
        rounded = fp32.round_exact(m, block.sum < 0, abs(block.sum), block.exp, "block_fp32")
        ieee = {FINITE: rounded, POS_INF: Const(fp32.INF, FP32.bits),
                NEG_INF: Const(fp32.INF | fp32.SIGN, FP32.bits), NAN: Const(fp32.QNAN, FP32.bits)}
        s_valid, s = red.stage(m, block_valid, Array(ieee[i] for i in range(4))[block.special])
        c = Signal(FP32.bits, name="c")
        total = fp32.add(m, c, s, "c_next")
        if not cfg.tensor_scaled:
            step, last = red.finish(m, s_valid, self.blocks, self.clear, self.result)
            red.accumulate(m, step, last, self.clear, c, total, self.result.p.fp32)
            return
        step, last = red.count(m, s_valid, self.blocks, self.clear, prefix="block_")
        done = Signal(FP32.bits, name="c_done")
        done_valid, = red.stage(m, step & last)
        red.accumulate(m, step, last, self.clear, c, total, done)
        t = fp32.register(m, fp32.product(fp32.unpack(m, self.ta, "ta"),
                                          fp32.unpack(m, self.tw, "tw")), "t")
        out = fp32.round_value(m, fp32.product(fp32.unpack(m, done, "c_done"), t), "scaled_fp32")
        step, _ = red.finish(m, done_valid, Const(1, 1), self.clear, self.result)
        with m.If(step):
            m.d.sync += self.result.p.fp32.eq(out)
