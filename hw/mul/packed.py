"""``count`` products sharing ``a`` from one wide multiplier, by a
:class:`~lowbit.models.packing.Packing`.

``W = Σ w[k]·2^(shift·k)`` is summed in the fabric (for stationary weights it could be formed
once, outside), ``P = a·W`` comes from a core multiplier of the :mod:`lowbit.hw.mul.shape`
kind, and the products are read back from ``P`` as the packing says: plain fields, fields plus
the sign bit below them (``sign``), or fields of ``P + offset`` plus the least product
(``offset``). The read-back is combinational after the core, so the latency is the core's.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Module, Signal

from lowbit.hw.mul.shape import Multiplier
from lowbit.hw.shapes import shape_of
from lowbit.models.formats import IntFormat
from lowbit.models.packing import Packing, range_bits

#: makes the wide multiplier for (a, W): e.g. ``lambda a, w: Mult18x18d(a, w, reg_inputs=True)``
Core = Callable[[IntFormat, IntFormat], Multiplier]


class PackedMultiplier(Multiplier):
    """``p[k] = a × w[k]`` for ``k < packing.count`` from one ``core`` multiplier."""

    def __init__(self, packing: Packing, core: Core):
        self.packing = packing
        self.w_packed = IntFormat(*range_bits(*packing.w_range))
        self.core = core(packing.a, self.w_packed)
        super().__init__(packing.a, packing.w, self.core.latency, lanes=packing.count)

    def elaborate(self, platform) -> Module:
        m = Module()
        pk = self.packing
        m.submodules.core = core = self.core
        packed = Signal(shape_of(self.w_packed), name="w_packed")
        m.d.comb += [packed.eq(sum(self.w[k] << (pk.shift * k) for k in range(pk.count))),
                     core.a.eq(self.a), core.w.eq(packed), core.en.eq(self.en)]
        wide = Signal(pk.top_bits, name="p_fields")
        m.d.comb += wide.eq(core.p + pk.offset)      # P mod 2^top_bits (+ offset)
        for k in range(pk.count):
            lane = Signal(pk.field_bits, name=f"field{k}")
            low = pk.shift * k
            if pk.correction == "offset":
                m.d.comb += lane.eq(wide[low:low + pk.shift] + pk.lo)
            elif pk.correction == "sign" and k:
                m.d.comb += lane.eq(wide[low:low + pk.field_bits] + wide[low - 1])
            else:
                m.d.comb += lane.eq(wide[low:low + pk.field_bits])
            m.d.comb += self.p[k].eq(lane.as_signed() if pk.lo < 0 else lane)
        return m
