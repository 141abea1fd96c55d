"""The one component shape of the block RAMs: one write port, one read port.

Ports (``shape`` is the word's shape: a width or an Amaranth layout)::

    w_addr    In   range(depth)   write address
    w_data    In   shape          word to write
    w_en      In   1              write ``w_data`` at ``w_addr`` at this rising edge
    r_addr    In   range(depth)   read address
    r_en      In   1              read ``r_addr`` at this rising edge (the address stage)
    r_out_en  In   1              move the word read into ``r_data`` (the output stage)
    r_data    Out  shape          the word read

With read latency 2 the word ``r_data`` shows was read at an edge with ``r_en`` high and moved
to the output at a later edge with ``r_out_en`` high: two enabled cycles, each stage holding
while its enable is low (an array's stall holds both). A read sees the memory *after* the write
of its own edge: when ``w_en`` is high and ``w_addr`` = ``r_addr``, it gives ``w_data``
(transparent); a write at a later edge does not change a word already read. With read latency
1 there is no output stage (``r_data`` follows the address stage; ``r_out_en`` is not used).
Addresses are below ``depth``. The memory's content is unknown until written, and ``r_data``
until a read has reached it; a reset changes neither the content nor a word already read
(it may clear ``r_data``).
"""

from __future__ import annotations

from amaranth.hdl import Shape, ShapeCastable
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class RamSignature(wiring.Signature):
    """The ports above for words of ``shape`` and ``depth`` addresses."""

    def __init__(self, shape: ShapeCastable | Shape | int, depth: int):
        super().__init__({"w_addr": In(range(depth)), "w_data": In(shape), "w_en": In(1),
                          "r_addr": In(range(depth)), "r_en": In(1), "r_out_en": In(1),
                          "r_data": Out(shape)})


class BlockRam(wiring.Component):
    """Base of the block RAMs: the word ``shape``, ``depth`` and ``latency`` (enabled cycles
    from a read address to its word on ``r_data``: 1 or 2)."""

    def __init__(self, shape, depth: int, latency: int):
        if depth < 1:
            raise ValueError(f"depth={depth}; at least 1")
        if latency not in (1, 2):
            raise ValueError(f"latency={latency}; 1 (address stage) or 2 (and output stage)")
        self.shape, self.depth, self.latency = shape, depth, latency
        super().__init__(RamSignature(shape, depth))
