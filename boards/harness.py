"""The out-of-context harness: every port of the core driven and taken by a flip-flop.

Out of context, a core's ports must neither become pins (nextpnr-ice40 and nextpnr-himbaechel-
gowin have no ``--out-of-context`` and give each top-level port an IO, more than a small package
has; Gowin's even needs each on a named pin, see :mod:`lowbit.boards.gowin`) nor go
untimed (nextpnr-ecp5's ``--out-of-context`` does not time paths from a top-level input, and
for a core whose run-time parameters feed its control logic that is where the critical path
is: a MAC's K→last-beat→accumulator path measured 99 MHz with the harness against 216 MHz
without). So on every family the core sits in this harness: one port shifts a chain of
flip-flops that drives every input bit, and every output bit is XORed into a second chain that
ends on one port. Paths into and out of the core are timed as from and to the registers that
would drive and take them in a system; a harness stage is one flip-flop (inputs) or one
flip-flop and a 2-input LUT (outputs), never a critical path of its own. On every family the
harness is the same three ports: ``clk``, ``din``, ``dout``. The core is kept as
its own module (``keep_hierarchy``), so the report counts its cells alone.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockDomain, ClockSignal, Elaboratable, Module, Signal

from lowbit.hw.interface import CoreInterface, port_bits


class Harness(Elaboratable):
    """``clk``, ``din`` and ``dout`` around the core; everything else stays inside."""

    def __init__(self, core: CoreInterface):
        self.core = core
        self.clk = Signal()
        self.din = Signal()
        self.dout = Signal()

    def ports(self) -> list[Signal]:
        return [self.clk, self.din, self.dout]

    def elaborate(self, platform) -> Module:
        m = Module()
        m.domains.sync = ClockDomain(reset_less=True)
        m.d.comb += ClockSignal().eq(self.clk)

        ins = [p for p in self.core.ports if p.input]
        outs = [p for p in self.core.ports if not p.input]
        # The core's reset comes from the chain too, so no input is a constant.
        shift = Signal(port_bits(ins) + 1)
        m.d.sync += shift.eq(Cat(self.din, shift[:-1]))
        collected = Signal(max(port_bits(outs), 1))
        fold = Signal.like(collected)
        m.d.sync += fold.eq(Cat(shift[-1], fold[:-1]) ^ collected)
        m.d.comb += self.dout.eq(fold[-1])

        connections, offset = {}, 0
        for p in ins:
            connections[p.name] = shift[offset:offset + p.width]
            offset += p.width
        rst = shift[offset]                 # the chain's last bit, past every input
        outputs, offset = {}, 0
        for p in outs:
            outputs[p.name] = collected[offset:offset + p.width]
            offset += p.width
        m.submodules.core = self.core.instance({**connections, **outputs}, rst=rst)
        return m
