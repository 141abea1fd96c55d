"""Delay lines that turn a vector beat into a diagonal wavefront and back.

A systolic array takes lane ``i`` of a beat ``i`` cycles late (skew) and gives lane ``j`` of a
result ``C-1-j`` cycles late (de-skew) so that a user streams plain rows in and out. Both are a
:class:`Skew` with different per-lane delays; :func:`delayed` is the one-lane building block,
also used for control tokens that must stay in step with the data. Every register moves only
while ``en`` is high, so a stalled array stays consistent.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


def delay_line(m: Module, value, cycles: int, en: Value, name: str = "dly") -> list:
    """``value`` and the ``cycles`` registers of a shift register that moves while ``en``."""
    line = [value]
    for i in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_{i}")
        with m.If(en):
            m.d.sync += reg.eq(line[-1])
        line.append(reg)
    return line


def delayed(m: Module, value, cycles: int, en: Value, name: str = "dly"):
    """``value`` seen ``cycles`` enabled cycles later (a shift register; 0 cycles is a wire)."""
    return delay_line(m, value, cycles, en, name)[-1]


class Skew(wiring.Component):
    """Lane ``i`` of ``i`` (an array of ``len(delays)`` elements of ``shape``) leaves ``o``
    ``delays[i]`` enabled cycles later; ``ahead`` shows each lane one register earlier, what
    ``o`` will show on the next enabled cycle (a lane without delay: ``i`` itself)."""

    def __init__(self, shape, delays: Sequence[int]):
        self.shape, self.delays = shape, tuple(delays)
        layout = data.ArrayLayout(shape, len(self.delays))
        super().__init__({"en": In(1), "i": In(layout), "o": Out(layout),
                          "ahead": Out(layout)})

    @classmethod
    def rising(cls, shape, lanes: int) -> Skew:
        """Lane ``i`` delayed ``i`` cycles: a plain beat becomes a diagonal wavefront."""
        return cls(shape, range(lanes))

    @classmethod
    def falling(cls, shape, lanes: int) -> Skew:
        """Lane ``j`` delayed ``lanes-1-j`` cycles: a diagonal wavefront becomes a plain beat."""
        return cls(shape, range(lanes - 1, -1, -1))

    @property
    def register_bits(self) -> int:
        return sum(self.delays) * data.ArrayLayout(self.shape, 1).size

    def elaborate(self, platform):
        m = Module()
        for lane, cycles in enumerate(self.delays):
            line = delay_line(m, self.i[lane], cycles, self.en, f"lane{lane}")
            m.d.comb += [self.o[lane].eq(line[-1]), self.ahead[lane].eq(line[max(cycles - 1, 0)])]
        return m
