"""The engine's data movers between its block-RAM buffers and a core's streams.

:class:`InputDMA` streams words ``0 .. count-1`` of an input buffer into a core's input stream;
:class:`ResultWriter` writes a core's result stream into the result buffer until ``count``
beats arrived. Both move words only while ``run`` is high and start again from word 0 when it
drops (end of a run, or a RESET), so a run never sees the previous run's position. Each holds
the buffer's core-side port; the other port belongs to the command executor.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


class InputDMA(wiring.Component):
    """Words ``0 .. count-1`` of a ``depth``-word buffer of ``width``-bit words → ``stream``.

    The buffer's read port (``bram``; one cycle of latency) is enabled only when the word on
    the stream moves on, so a stalled beat keeps its payload. ``done`` once every word was
    taken.
    """

    def __init__(self, depth: int, width: int):
        self.depth, self.width = depth, width
        super().__init__({
            "run": In(1),
            "count": In(range(depth + 1)),
            "done": Out(1),
            # the DMA drives the read port's address and enable
            "bram": In(ReadPort.Signature(addr_width=ceil_log2(depth), shape=width)),
            "stream": Out(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        addr = Signal(range(self.depth + 1))
        valid = Signal()                     # bram.data holds the word at addr - 1
        more = addr < self.count
        take = self.run & (~valid | self.stream.ready)
        with m.If(take):
            m.d.sync += [valid.eq(more), addr.eq(addr + more)]
        with m.If(~self.run):
            m.d.sync += [addr.eq(0), valid.eq(0)]
        m.d.comb += [self.bram.addr.eq(addr), self.bram.en.eq(take),
                     self.stream.valid.eq(valid & self.run), self.done.eq(~more & ~valid)]
        if self.width:
            m.d.comb += self.stream.payload.eq(self.bram.data)
        return m


class ResultWriter(wiring.Component):
    """``stream`` → words ``0 .. count-1`` of a ``depth``-word buffer of ``width``-bit words.

    Ready only while words are still expected, so extra beats stay in the core; ``done`` once
    ``count`` beats were written.
    """

    def __init__(self, depth: int, width: int):
        self.depth = depth
        super().__init__({
            "run": In(1),
            "count": In(range(depth + 1)),
            "done": Out(1),
            # the writer drives the write port
            "bram": In(WritePort.Signature(addr_width=ceil_log2(depth), shape=width)),
            "stream": In(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        addr = Signal(range(self.depth + 1))
        more = addr < self.count
        write = self.stream.valid & self.stream.ready
        m.d.comb += [self.stream.ready.eq(self.run & more), self.done.eq(~more),
                     self.bram.addr.eq(addr), self.bram.data.eq(self.stream.payload),
                     self.bram.en.eq(write)]
        with m.If(write):
            m.d.sync += addr.eq(addr + 1)
        with m.If(~self.run):
            m.d.sync += addr.eq(0)
        return m
