"""The ``mac`` generator: one multiplier, one accumulator, stream in and stream out.

Ports (streams in the manner of :mod:`amaranth.lib.stream`)::

    operands  In   stream of {a, w}     one operand pair per handshake
    result    Out  stream of acc        one dot product per K operand beats
    k         In   k_bits               run-time K; hold it while a dot product is in flight
    clear     In   1                    drop the partial sum, the pipeline and a pending result

Pipeline (``advance`` = result slot free or being taken; the whole pipe stalls together)::

    operands ─► [in_reg] ─► × ─► [mul_reg] ─► acc ─(K-th beat)─► result

K = 0 counts as 2**k_bits. While ``clear`` is high no operand is accepted.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring

from lowbit.hw.accumulate import accumulate
from lowbit.hw.reduce import ports, reduction
from lowbit.hw.shapes import shape_of
from lowbit.kinds.mac import MacConfig


def operand_layout(config: MacConfig) -> data.StructLayout:
    """Payload of the operand stream: ``a`` in the low bits, ``w`` above it."""
    return data.StructLayout({"a": shape_of(config.a), "w": shape_of(config.w)})


class MAC(wiring.Component):
    """Integer multiply-accumulate unit built from a :class:`~lowbit.kinds.mac.MacConfig`."""

    def __init__(self, config: MacConfig):
        self.config = config
        super().__init__(ports(operand_layout(config), shape_of(config.accumulator),
                               config.k_bits))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        red = reduction(m, self.operands, self.result, self.clear)
        valid, a, w = red.valid, self.operands.p.a, self.operands.p.w
        if cfg.in_reg:
            valid, a, w = red.stage(m, valid, a, w)
        product = a * w
        if cfg.mul_reg:
            valid, product = red.stage(m, valid, product)

        acc = Signal(shape_of(cfg.accumulator))
        total = accumulate(acc, product, cfg.accumulator)
        step, last = red.finish(m, valid, self.k, self.clear, self.result)  # K = 0: 2**k_bits
        red.accumulate(m, step, last, self.clear, acc, total, self.result.payload)
        return m
