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

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.accumulate import accumulate
from lowbit.hw.shapes import shape_of
from lowbit.kinds.mac import MacConfig


def operand_layout(config: MacConfig) -> data.StructLayout:
    """Payload of the operand stream: ``a`` in the low bits, ``w`` above it."""
    return data.StructLayout({"a": shape_of(config.a), "w": shape_of(config.w)})


class MAC(wiring.Component):
    """Integer multiply-accumulate unit built from a :class:`~lowbit.kinds.mac.MacConfig`."""

    def __init__(self, config: MacConfig):
        self.config = config
        super().__init__({
            "operands": In(stream.Signature(operand_layout(config))),
            "result": Out(stream.Signature(shape_of(config.accumulator))),
            "k": In(config.k_bits),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.result.valid | self.result.ready),
            self.operands.ready.eq(advance & ~self.clear),
        ]

        valid, a, w = self.operands.valid & ~self.clear, self.operands.p.a, self.operands.p.w
        pipe_valids = []
        if cfg.in_reg:
            valid, a, w = self._stage(m, advance, pipe_valids, valid, a, w)
        product = a * w
        if cfg.mul_reg:
            valid, product = self._stage(m, advance, pipe_valids, valid, product)

        acc = Signal(shape_of(cfg.accumulator))
        count = Signal(cfg.k_bits)
        last = Signal(cfg.k_bits)
        total = accumulate(acc, product, cfg.accumulator)
        m.d.comb += last.eq(self.k - 1)  # wraps, so K = 0 means 2**k_bits

        with m.If(self.result.ready):
            m.d.sync += self.result.valid.eq(0)
        with m.If(advance & valid):
            with m.If(count == last):
                m.d.sync += [
                    self.result.payload.eq(total),
                    self.result.valid.eq(1),
                    acc.eq(0),
                    count.eq(0),
                ]
            with m.Else():
                m.d.sync += [acc.eq(total), count.eq(count + 1)]

        with m.If(self.clear):
            m.d.sync += [acc.eq(0), count.eq(0), self.result.valid.eq(0)]
            m.d.sync += [v.eq(0) for v in pipe_valids]
        return m

    @staticmethod
    def _stage(m: Module, advance: Signal, pipe_valids: list, valid, *values):
        """One pipeline register stage that moves only when the pipe advances."""
        regs = [Signal(Value.cast(v).shape()) for v in values]
        reg_valid = Signal()
        pipe_valids.append(reg_valid)
        with m.If(advance):
            m.d.sync += [reg_valid.eq(valid), *(r.eq(v) for r, v in zip(regs, values))]
        return (reg_valid, *regs)
