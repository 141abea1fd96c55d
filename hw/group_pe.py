"""The output-stationary PE with MixPE's group dequantization (Zhang et al., "MixPE:
Quantization and Hardware Co-design for Efficient LLM Inference", 2024).

MixPE applies a weight group's scale *after* the group's integer dot product instead of to
every weight: the PE sums the group's products exactly (``group`` register, ``group_bits``
wide), and when the group's last product is in, the finished sum moves to a ``pending``
register together with the group's power-of-two exponent; the next cycle it is shifted left by
the exponent and added into the output's accumulator under the overflow rule (shift-and-add,
no multiplier), while the next group already sums. The exponent travels south with the
weights (one per column); ``glast`` travels east with the activation. The finished output
shows on ``result`` with ``done`` one cycle after the tile's last group is added, so the PE
answers two cycles after its last beat (the plain PE: one).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import Out

from lowbit.hw.accumulate import accumulate
from lowbit.hw.pe import _PE, PESpec
from lowbit.hw.shapes import shape_of
from lowbit.models.formats import NumberFormat


def group_west_layout(a: NumberFormat) -> data.StructLayout:
    """Activation, beat valid, last beat of K, last beat of a group."""
    return data.StructLayout({"a": shape_of(a), "valid": 1, "last": 1, "glast": 1})


def group_north_layout(w: NumberFormat, shift_bits: int) -> data.StructLayout:
    """A weight and its group's exponent."""
    return data.StructLayout({"w": shape_of(w), "e": unsigned(shift_bits)})


class GroupScaledOutputStationaryPE(_PE):
    """``acc = ovf(acc + (Σ_group a × w) << e)`` group by group over K beats."""

    def __init__(self, spec: PESpec, shift_bits: int, group_bits: int):
        if spec.lanes != 1:
            raise ValueError("a group-scaled PE covers one column")
        self.group_bits, self.shift_bits = group_bits, shift_bits
        super().__init__(spec, group_west_layout(spec.a), group_north_layout(spec.w, shift_bits),
                         {"result": Out(spec.lanes_of(shape_of(spec.acc))), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        (p,), (valid, last, glast, e) = self.products(
            m, self.west.a, [self.north.w], self.west.valid, self.west.last, self.west.glast,
            self.north.e)
        group = Signal(signed(self.group_bits))
        pending = Signal(signed(self.group_bits))
        pending_e = Signal(unsigned(self.shift_bits))
        pending_v, pending_last = Signal(), Signal()
        acc = Signal(shape_of(spec.acc))
        with m.If(self.en):
            m.d.sync += [self.east.eq(self.west), self.south.eq(self.north),
                         pending_v.eq(valid & glast), pending_last.eq(valid & last),
                         self.done.eq(pending_v & pending_last)]
            with m.If(valid):
                total = group + p
                with m.If(glast):
                    m.d.sync += [pending.eq(total), pending_e.eq(e), group.eq(0)]
                with m.Else():
                    m.d.sync += group.eq(total)
            base = Mux(self.done, 0, acc)   # a finished output is shown for a cycle, dropped
            with m.If(pending_v):
                m.d.sync += acc.eq(accumulate(base, pending << pending_e, spec.acc))
            with m.Elif(self.done):
                m.d.sync += acc.eq(0)
        m.d.comb += self.result[0].eq(Mux(self.done, acc, 0))
        return m
