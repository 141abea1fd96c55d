"""A bank of multipliers in one design, so that one simulator build and one run check them all.

Every multiplier's operands are fields of one input ``pool``; their products are concatenated
on ``p``. Driving all 2^16 values of the pool's low 16 bits (one run) then gives every pair of
8-bit operands to every multiplier whose operand fields lie there, i.e. every 4×4, 8×4 and 8×8
pair, signed or not, exhaustively. :func:`spec` describes the bank for
:mod:`lowbit.sim.tb_multipliers`, which checks every product cycle by cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.mul.shape import Multiplier, product_shape

POOL_BITS = 36


@dataclass(frozen=True)
class Entry:
    """One multiplier and where its operands sit in the pool: ``a_at`` / ``w_at`` give the
    first bit of each lane's operand (one ``a_at`` when the lanes share ``a``)."""

    name: str
    unit: Multiplier
    a_at: tuple[int, ...] = (0,)
    w_at: tuple[int, ...] = (8,)

    @property
    def lanes(self) -> int:
        return len(self.w_at)

    def check(self) -> None:
        a, w = self.unit.a_format, self.unit.w_format
        if len(self.w_at) != (self.unit.lanes or 1) or len(self.a_at) != (
                self.lanes if self.unit.lanes_a else 1):
            raise ValueError(f"{self.name}: operand places do not match the unit's lanes")
        for at, fmt in [(x, a) for x in self.a_at] + [(x, w) for x in self.w_at]:
            if at + fmt.bits > POOL_BITS:
                raise ValueError(f"{self.name}: an operand at bit {at} leaves the pool")


class MultiplierBank(wiring.Component):
    """``pool`` and ``en`` to every entry; ``p`` the products, the first entry's at bit 0."""

    def __init__(self, entries: list[Entry]):
        for e in entries:
            e.check()
        self.entries = entries
        super().__init__({"pool": In(POOL_BITS), "en": In(1), "p": Out(self.p_bits)})

    @property
    def p_bits(self) -> int:
        return sum(e.lanes * product_shape(e.unit.a_format, e.unit.w_format).width
                   for e in self.entries)

    def elaborate(self, platform) -> Module:
        m = Module()
        products = []
        for e in self.entries:
            unit = e.unit
            m.submodules[e.name] = unit
            a, w = unit.a_format.bits, unit.w_format.bits
            m.d.comb += unit.en.eq(self.en)
            if unit.lanes_a:
                m.d.comb += [unit.a[k].eq(self.pool[at:at + a]) for k, at in enumerate(e.a_at)]
            else:
                m.d.comb += unit.a.eq(self.pool[e.a_at[0]:e.a_at[0] + a])
            if unit.lanes is None:
                m.d.comb += unit.w.eq(self.pool[e.w_at[0]:e.w_at[0] + w])
                products.append(unit.p)
            else:
                m.d.comb += [unit.w[k].eq(self.pool[at:at + w]) for k, at in enumerate(e.w_at)]
                products += [unit.p[k] for k in range(e.lanes)]
        m.d.comb += self.p.eq(Cat(*products))
        return m


def spec(bank: MultiplierBank) -> list[dict]:
    """What :mod:`lowbit.sim.tb_multipliers` needs to know of each entry (JSON values)."""
    out, offset = [], 0
    for e in bank.entries:
        a, w = e.unit.a_format, e.unit.w_format
        width = product_shape(a, w).width
        a_at = e.a_at if len(e.a_at) == e.lanes else e.a_at * e.lanes
        out.append({"name": e.name, "latency": e.unit.latency, "a": a.name, "w": w.name,
                    "lanes": [{"a_at": x, "w_at": y, "p_at": offset + k * width}
                              for k, (x, y) in enumerate(zip(a_at, e.w_at))],
                    "p_bits": width})
        offset += e.lanes * width
    return out

