"""The block RAM of every family but ECP5: Amaranth's ``Memory`` with a transparent read port,
then (latency 2) one output register in the fabric.

Yosys maps the memory to the family's block RAM (iCE40 SB_RAM40_4K, which has no output
register; ECP5 DP16KD without its output register) or to LUT RAM / flip-flops when small,
and adds the read-during-write bypass itself.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib.memory import Memory

from lowbit.hw.ram.shape import BlockRam


class MemoryRam(BlockRam):
    """``Memory`` + a register: the behaviour of :mod:`lowbit.hw.ram.shape` on any family."""

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.shape, depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))
        m.d.comb += [wr.addr.eq(self.w_addr), wr.data.eq(self.w_data), wr.en.eq(self.w_en),
                     rd.addr.eq(self.r_addr), rd.en.eq(self.r_en)]
        if self.latency == 1:
            m.d.comb += self.r_data.eq(rd.data)
        else:
            with m.If(self.r_out_en):
                m.d.sync += self.r_data.eq(rd.data)
        return m
