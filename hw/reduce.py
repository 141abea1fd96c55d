"""The control every K-beat reduction unit shares: stream handshakes, the beat counter, the
result slot and ``clear``.

A unit takes one operand beat per handshake and gives one result per K beats (K = 0 counts as
2**k_bits). The whole pipe advances together whenever the result slot is free or being taken;
while ``clear`` is high no beat is accepted and the count, the pending result and (through
``pipe``) the pipeline's valid bits are dropped. The unit itself updates its accumulator on
``step`` and, when ``last`` is also high, writes its result payload and restarts from zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from lowbit.hw.stages import build


@dataclass
class Reduction:
    advance: Value   # the pipe moves this cycle
    valid: Value     # an operand beat enters the pipe this cycle
    pipe: list = field(default_factory=list)  # valid bits of the pipeline stages

    def stage(self, m: Module, valid: Value, *values: Value):
        """One pipeline register stage that moves only when the pipe advances."""
        regs = [Signal(Value.cast(v).shape(), name=f"stage{i}") for i, v in enumerate(values)]
        reg_valid = Signal()
        self.pipe.append(reg_valid)
        with m.If(self.advance):
            m.d.sync += [reg_valid.eq(valid), *(r.eq(v) for r, v in zip(regs, values))]
        return (reg_valid, *regs)

    def count(self, m: Module, valid: Value, k: Value, clear: Value,
              prefix: str = "") -> tuple[Value, Value]:
        """``(step, last)`` of a beat counter: a beat moves on; it is the K-th of its group."""
        count = Signal(len(k), name=f"{prefix}count")
        last = Signal(name=f"{prefix}last")
        step = Signal(name=f"{prefix}step")
        m.d.comb += [last.eq(count == (k - 1)[:len(k)]), step.eq(self.advance & valid)]
        with m.If(step):
            m.d.sync += count.eq(count + 1)
            with m.If(last):
                m.d.sync += count.eq(0)
        with m.If(clear):
            m.d.sync += count.eq(0)
        return step, last

    def chain(self, m: Module, operands, k: Value, clear: Value, chain, segments,
              stages: int, name: str):
        """The operand beats through ``chain``'s segments in ``stages`` pipeline registers
        (the last one after the chain), each beat's ``last`` (K-th of its result) riding
        along, so the accumulator's control comes from a register."""
        _, last = self.count(m, self.valid, k, clear)
        inputs = {"valid": self.valid, "last": last, "a": operands.p.a, "w": operands.p.w}
        return build(m, chain, segments, inputs, max(0, stages - 1), self.advance, name,
                     self.pipe, stages > 0)

    def finish(self, m: Module, valid: Value, k: Value, clear: Value,
               result) -> tuple[Value, Value]:
        """``(step, last)``: a beat reaches the accumulator; it is the K-th of its result.
        Call it after every :meth:`stage`, whose valid bits ``clear`` drops here."""
        step, last = self.count(m, valid, k, clear)
        self.deliver(m, step & last, clear, result)
        return step, last

    def deliver(self, m: Module, done: Value, clear: Value, result) -> None:
        """The result slot: full after ``done`` (its payload written in the same cycle), empty
        once taken. Call it after every stage, whose valid bits ``clear`` drops here (with
        the slot)."""
        with m.If(result.ready):
            m.d.sync += result.valid.eq(0)
        with m.If(done):
            m.d.sync += result.valid.eq(1)
        with m.If(clear):
            m.d.sync += [result.valid.eq(0), *(v.eq(0) for v in self.pipe)]

    @staticmethod
    def accumulate(m: Module, step: Value, last: Value, clear: Value, acc: Signal, total: Value,
                   out: Value, final: Value | None = None) -> None:
        """``acc`` takes ``total`` on a step; on the last step ``out`` takes ``final`` (default
        ``total``) and ``acc`` restarts from zero, as it does on ``clear``."""
        with m.If(step):
            with m.If(last):
                m.d.sync += [out.eq(total if final is None else final), acc.eq(0)]
            with m.Else():
                m.d.sync += acc.eq(total)
        with m.If(clear):
            m.d.sync += acc.eq(0)


def ports(operands, result, k_bits: int | None, **extra) -> dict:
    """The signature members of a reduction unit: ``operands`` and ``result`` streams of the
    given payload shapes, run-time ``k`` (unless the count is fixed), ``clear``, extras."""
    return {"operands": In(stream.Signature(operands)), "result": Out(stream.Signature(result)),
            **({"k": In(k_bits)} if k_bits else {}), "clear": In(1), **extra}


def reduction(m: Module, operands, result, clear: Value) -> Reduction:
    """Handshake of the operand stream against the result slot."""
    advance = Signal(name="advance")
    m.d.comb += [advance.eq(~result.valid | result.ready), operands.ready.eq(advance & ~clear)]
    return Reduction(advance, operands.valid & ~clear)
