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

    beats ─► decode ─ products ─ signs ─ shifts ─ lanes' tree ─► block register ─┐ [stages]
      ┌──────────────────────────────────────────────────────────────────────────┘
      └─► × sig(sa)·sig(sw), RNE32 ─► c = RNE32(c + S) over ``blocks`` blocks ─► [tensor]
          [fp32_stages]               [min(fp32_stages, B/L) cycles per block]  [fp32_stages]

Each stretch is a chain of :mod:`lowbit.models.blockdot` / :mod:`lowbit.models.pipeline` cut
into as many stages as the config says (:mod:`lowbit.hw.stages`). The scales ride on every
beat; the unit uses those of a block's last beat. Each lane decodes its elements
(:mod:`lowbit.hw.minifloat`, from the element formats) and multiplies exactly (narrow
significands' magnitudes by radix-4 digits in LUTs, then the sign), and the lanes are summed in
a tree; the block's exact
sum is held in a register of ``kulisch_bits(a, w, B)`` bits with sticky inf/NaN flags beside
it. At the block's end the sum is multiplied by both scales' significands (E8M0: nothing) and
their exponents are added: ``S = sum · 2**exp`` exactly (:mod:`lowbit.models.blockdot`). With
output "block" that is the result. With "fp32" (:mod:`lowbit.hw.fp32`) ``S`` is rounded once
to FP32 (a special block becomes ±inf or NaN) and added to the FP32 accumulator ``c`` (from +0,
one rounding per block). The adder is the one loop: ``c → adder → c`` takes ``add_cycles``
cycles, and since a block has ``B/L`` beats, the next block's ``S`` never comes sooner — so
only one addition is ever in flight, and its registers simply move with the pipe. After the
last block of a result ``c`` is the result — or, with NVFP4's tensor scales,
``RNE32(c · ta · tw)``: the unit takes ``ta`` and ``tw`` as they are (the QTensors' FP32
tensor scales), forms their exact 48-bit product in a register and rounds the exact triple
product once, as qgemm does.
"""

from __future__ import annotations

from operator import or_

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw import fp32
from lowbit.hw.minifloat import Product, Specials, decode, fabric_operands, product_flags
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.stages import build
from lowbit.hw.trees import balanced, radix4_product, shift_add_product
from lowbit.kinds.blockdot import BlockdotConfig
from lowbit.models.blockdot import TENSOR_CHAIN, beat_chain, round_chain, unit_significand
from lowbit.models.fmac import NAN, NEG_INF, POS_INF
from lowbit.models.minifloat import FP32
from lowbit.models.pipeline import FP32_ADD


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
        beats = Const(cfg.beats, max(1, cfg.beats.bit_length()))
        _, last = red.count(m, red.valid, beats, self.clear, prefix="beat_")
        codes = {f"{side}{i}": getattr(p, f"{side}{i}") for side in "aw" for i in range(cfg.lanes)}
        beat = build(m, beat_chain(cfg), self._beat_segments(),
                     {"valid": red.valid, "last": last, "sa": p.sa, "sw": p.sw, **codes},
                     max(0, cfg.stages - 1), red.advance, "beat", red.pipe, cfg.stages > 0)
        step, last = red.advance & beat["valid"], beat["last"]
        # the beat as one "product" whose inf is +inf or -inf; both make NaN via the flags
        beat_product = Product(beat["sum"], beat["nan"] | (beat["pos"] & beat["neg"]),
                               beat["pos"] | beat["neg"], beat["neg"])

        acc = Signal(signed(cfg.block_sum_bits), name="acc")
        flags = Specials("acc")
        total = (acc + beat_product.value)[:cfg.block_sum_bits].as_signed()
        scale_a = decode(m, cfg.a.scale, beat["sa"], "sa")
        scale_w = decode(m, cfg.w.scale, beat["sw"], "sw")
        exp = scale_a.shift + scale_w.shift + cfg.lsb + cfg.a.scale.lsb + cfg.w.scale.lsb
        # both scales' significands multiplied (None for E8M0: every scale a power of two)
        unit = unit_significand(cfg.a.scale) and unit_significand(cfg.w.scale)
        scale = None if unit else shift_add_product(scale_a.sig, scale_w.sig)
        after = flags.next(m, beat_product)
        if cfg.fp32:
            block = {"sum": Signal(signed(cfg.block_sum_bits), name="block_sum"),
                     "exp": Signal(signed(cfg.exp_bits), name="block_exp"),
                     "special": Signal(2, name="block_special"),
                     "last": Signal(name="block_last")}
            _, last_block = red.count(m, beat["valid"] & last, self.blocks, self.clear,
                                      prefix="block_")
            block["valid"], = red.stage(m, step & last)  # the block register's valid bit
            red.accumulate(m, step, last, self.clear, acc, total, block["sum"])
            with m.If(step & last):
                m.d.sync += [block["exp"].eq(exp), block["last"].eq(last_block)]
                if scale is not None:   # the product of the scales, for the next stage
                    block["scale"] = Signal.like(scale, name="block_scale")
                    m.d.sync += block["scale"].eq(scale)
            special = block["special"]
        else:
            out = self.result.p
            red.accumulate(m, step, last, self.clear, acc, total, out.sum,
                           total if scale is None else shift_add_product(total, scale))
            with m.If(step & last):
                m.d.sync += out.exp.eq(exp)
            special = out.special
        nan_scale = scale_a.nan | scale_w.nan
        flags.update(m, step, last, self.clear, after, special,
                     lambda code: Mux(nan_scale, NAN, code))
        if cfg.fp32:
            self._accumulate_fp32(m, red, block)
        else:
            red.deliver(m, step & last, self.clear, self.result)
        return m

    def _beat_segments(self):
        """The segments of :func:`~lowbit.models.blockdot.beat_chain`: lanes' codes to the
        beat's exact sum ``sum`` and its inf/NaN flags ``nan``, ``pos``, ``neg``."""
        cfg = self.config
        lanes = range(cfg.lanes)

        negate = True   # whether "sign" negates: the products are magnitudes (set below)

        def decoding(m, v):
            nonlocal negate
            out = {}
            for i in lanes:
                a = decode(m, cfg.a.element, v[f"a{i}"], f"a{i}")
                w = decode(m, cfg.w.element, v[f"w{i}"], f"w{i}")
                nan, inf, neg = product_flags(m, a, w, f"p{i}")
                out |= {f"a{i}": None, f"w{i}": None, f"shift{i}": a.shift + w.shift,
                        f"neg{i}": neg, f"nan{i}": nan, f"pinf{i}": inf & ~neg,
                        f"ninf{i}": inf & neg}
                fabric = fabric_operands(a, w)
                negate = fabric is not None
                out |= (dict(zip((f"x{i}", f"triple{i}", f"y{i}"), fabric)) if negate
                        else {f"sig_a{i}": a.sig, f"sig_w{i}": w.sig})
            return out

        def multiply(m, v):
            out = {}
            for i in lanes:
                names = (f"x{i}", f"triple{i}", f"y{i}") if negate else (f"sig_a{i}", f"sig_w{i}")
                out |= {**dict.fromkeys(names),
                        **{f"{f}{i}": None for f in ("nan", "pinf", "ninf")},
                        f"product{i}": (radix4_product(*(v[n] for n in names)) if negate
                                        else v[names[0]] * v[names[1]])}
            for flag, lane_flag in (("nan", "nan"), ("pos", "pinf"), ("neg", "ninf")):
                out[flag] = balanced((v[f"{lane_flag}{i}"] for i in lanes), or_)
            return out

        def sign(m, v):
            out = {f"neg{i}": None for i in lanes}
            if negate:
                out |= {f"product{i}": Mux(v[f"neg{i}"], -v[f"product{i}"], v[f"product{i}"])
                        for i in lanes}
            return out

        def shift(m, v):
            return {**{f"term{i}": v[f"product{i}"] << v[f"shift{i}"] for i in lanes},
                    **{f"{f}{i}": None for f in ("product", "shift") for i in lanes}}

        def tree(m, v):
            beat = Signal(signed(cfg.block_sum_bits), name="beat_sum")
            m.d.comb += beat.eq(balanced(v[f"term{i}"] for i in lanes))
            return {"sum": beat, **{f"term{i}": None for i in lanes}}

        return [("decode", decoding), ("multiply", multiply), ("sign", sign), ("shift", shift),
                ("tree", tree)]

    def _accumulate_fp32(self, m: Module, red, block: dict) -> None:
        """RNE32 of each block result, their FP32 sum over ``blocks`` blocks, tensor scales."""
        cfg = self.config
        s = build(m, round_chain(cfg), self._round_segments(), block, cfg.fp32_stages - 1,
                  red.advance, "block_fp32", red.pipe, output=True)
        c = Signal(FP32.bits, name="c")
        total = build(m, FP32_ADD, fp32.add_segments("c_next"),
                      {"a": c, "b": s["bits"], "valid": s["valid"], "last": s["last"]},
                      cfg.add_cycles - 1, red.advance, "c_next", red.pipe)
        step, last = red.advance & total["valid"], total["last"]
        if not cfg.tensor_scaled:
            red.accumulate(m, step, last, self.clear, c, total["bits"], self.result.p.fp32)
            red.deliver(m, step & last, self.clear, self.result)
            return
        done = Signal(FP32.bits, name="c_done")
        done_valid, = red.stage(m, total["valid"] & last)
        red.accumulate(m, step, last, self.clear, c, total["bits"], done)
        t = fp32.registered_product(m, fp32.unpack(m, self.ta, "ta"),
                                    fp32.unpack(m, self.tw, "tw"), "t")

        def unpacking(m, v):
            c = fp32.unpack(m, v["c"], "c_done")
            return {**fp32.rounding_values(fp32.product(c, t)), "mag": None, "c_sig": c.sig,
                    "c": None}

        def partial(m, v):
            return {**fp32.partial_products(m, v["c_sig"], t.sig, "scaled_part"),
                    **fp32.prepare_rounding(m, v["exp"], len(v["c_sig"]) + len(t.sig),
                                            "scaled_fp32"), "c_sig": None}

        def add(m, v):
            mag = fp32.sum_partials(v, "scaled_part", FP32.man_bits + 1, len(t.sig))
            return {"mag": mag, **dict.fromkeys(fp32.partial_names(
                "scaled_part", FP32.man_bits + 1, len(t.sig)))}

        out = build(m, TENSOR_CHAIN, [("unpack", unpacking), ("partial", partial), ("sum", add),
                                      *fp32.round_segments("scaled_fp32")],
                    {"valid": done_valid, "c": done}, cfg.fp32_stages - 1, red.advance,
                    "scaled_fp32", red.pipe)
        done_step = red.advance & out["valid"]
        with m.If(done_step):
            m.d.sync += self.result.p.fp32.eq(out["bits"])
        red.deliver(m, done_step, self.clear, self.result)

    def _round_segments(self):
        """The segments of :func:`~lowbit.models.blockdot.round_chain`: a block register's
        ``sum``, ``scale`` (the scales' significands' product; none for E8M0), ``exp`` and
        ``special`` to FP32 ``bits``."""

        def scale(m, v):
            scaled = Signal(signed(self.config.sum_bits), name="block_scaled")
            m.d.comb += scaled.eq(v["sum"] if "scale" not in v
                                  else shift_add_product(v["sum"], v["scale"]))
            return {**fp32.prepare_rounding(m, v["exp"], self.config.sum_bits, "block_fp32"),
                    "scaled": scaled, "sum": None, "scale": None}

        def sign(m, v):
            scaled, special = v["scaled"], v["special"]
            inf = (special == POS_INF) | (special == NEG_INF)
            return {"neg": Mux(inf, special == NEG_INF, scaled < 0), "mag": abs(scaled),
                    "nan": special == NAN, "inf": inf, "scaled": None, "special": None}

        return [("scale", scale), ("abs", sign), *fp32.round_segments("block_fp32")]
