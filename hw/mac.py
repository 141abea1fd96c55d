"""The ``mac`` generator: one multiplier, one accumulator, stream in and stream out.

Each K consecutive operand beats make one dot product, its accumulator value one result beat:
``acc[0] = 0``, ``acc[k+1] = ovf(acc[k] + a[k]·w[k])`` with ``ovf`` wrapping (two's complement)
or saturating at every step; the accumulator is signed unless both operands are unsigned.

Ports (streams in the manner of :mod:`amaranth.lib.stream`)::

    operands  In   stream of {a, w}     one operand pair per handshake
    result    Out  stream of acc        one dot product per K operand beats
    k         In   k_bits               run-time K; hold it while a dot product is in flight
    clear     In   1                    drop the partial sum, the pipeline and a pending result

Pipeline (``advance`` = result slot free or being taken; the whole pipe stalls together)::

    operands ─► [in_reg] ─► × ─► [mul_reg] ─► acc ─(K-th beat)─► result

The multiplier ``×`` is the config's ``mul`` (:mod:`lowbit.hw.mul`): ``infer`` writes
``a * w``; ``lut`` is a carry-chain array with ``mul_stages`` registers of its own; ``dsp`` puts
``in_reg`` and ``mul_reg`` into the DSP block (MULT18X18D's input and output registers, or
SB_MAC16's input and 8×8 product registers); ``addsub`` has no multiplier at all, it adds,
subtracts or skips ``a`` for ternary/binary weights (:mod:`lowbit.hw.mul.addsub`). Every
register moves with ``advance``.

K = 0 counts as 2**k_bits. While ``clear`` is high no operand is accepted.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring

from lowbit.hw.accumulate import accumulate
from lowbit.hw.mul.addsub import AddSubMultiplier
from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.fabric import FabricMultiplier
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.hw.mul.shape import Multiplier
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.shapes import shape_of
from lowbit.kinds.mac import MacConfig


def operand_layout(config: MacConfig) -> data.StructLayout:
    """Payload of the operand stream: ``a`` in the low bits, ``w`` above it."""
    return data.StructLayout({"a": shape_of(config.a), "w": shape_of(config.w)})


def multiplier(config: MacConfig) -> Multiplier:
    """The multiplier of a ``lut``, ``dsp`` or ``addsub`` config."""
    a, w = config.a, config.w
    if config.mul == "addsub":
        return AddSubMultiplier(a, w)
    if config.mul == "lut":
        return FabricMultiplier(a, w, config.mul_stages, config.family)
    if config.family == "ecp5":
        return Mult18x18d(a, w, reg_inputs=config.in_reg, reg_output=config.mul_reg)
    return SbMac16x8(a, w, reg_inputs=config.in_reg, reg_output=config.mul_reg)


class MAC(wiring.Component):
    """Integer multiply-accumulate unit built from a :class:`~lowbit.kinds.mac.MacConfig`.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.mac.MacConfig`; its formats give the payload shapes.
    """

    def __init__(self, config: MacConfig):
        self.config = config
        super().__init__(ports(operand_layout(config), shape_of(config.accumulator),
                               config.k_bits))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        red = reduction(m, self.operands, self.result, self.clear)
        valid, a, w = red.valid, self.operands.p.a, self.operands.p.w
        if cfg.mul == "infer":
            if cfg.in_reg:
                valid, a, w = red.stage(m, valid, a, w)
            product = a * w
            if cfg.mul_reg:
                valid, product = red.stage(m, valid, product)
        else:
            valid, product = self._instantiated(m, red, valid, a, w)

        acc = Signal(shape_of(cfg.accumulator))
        total = accumulate(acc, product, cfg.accumulator)
        step, last = red.finish(m, valid, self.k, self.clear, self.result)  # K = 0: 2**k_bits
        red.accumulate(m, step, last, self.clear, acc, total, self.result.payload)
        return m

    def _instantiated(self, m: Module, red, valid, a, w):
        """``lut``/``dsp``/``addsub``: the multiplier's own registers move with the pipe, its
        valid bits beside them; a lut's (and addsub's) in_reg/mul_reg stay fabric registers
        around it."""
        cfg = self.config
        fabric_regs = cfg.mul in ("lut", "addsub")
        if fabric_regs and cfg.in_reg:
            valid, a, w = red.stage(m, valid, a, w)
        m.submodules.mul = unit = multiplier(cfg)
        m.d.comb += [unit.a.eq(a), unit.w.eq(w), unit.en.eq(red.advance)]
        for _ in range(unit.latency):
            (valid,) = red.stage(m, valid)
        product = unit.p
        if fabric_regs and cfg.mul_reg:
            valid, product = red.stage(m, valid, product)
        return valid, product
