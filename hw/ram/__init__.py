"""Block RAMs with a registered read, one component shape for every family (:mod:`.shape`).

=================  ==========================================================================
:mod:`.shape`      the ports (one write port; one read port with an address stage and an
                   output stage, each with its enable), latency, transparency
:mod:`.generic`    Amaranth's ``Memory`` and an output register in the fabric (any family;
                   Yosys picks the block RAM, LUT RAM or flip-flops)
:mod:`.ecp5`       DP16KD instances with their output register, tiled over width and depth,
                   the read-during-write bypass in the fabric
=================  ==========================================================================
"""

from __future__ import annotations

from lowbit.hw.ram.ecp5 import Dp16kdRam
from lowbit.hw.ram.generic import MemoryRam
from lowbit.hw.ram.shape import BlockRam
from lowbit.models.blockram import INSTANTIATED


def block_ram(family: str, shape, depth: int, latency: int = 2) -> BlockRam:
    """The memory of ``family`` with read latency ``latency``: ECP5's DP16KDs with their output
    register at latency 2, else ``Memory`` (+ a register at latency 2)."""
    if family == INSTANTIATED and latency == 2:
        return Dp16kdRam(shape, depth)
    return MemoryRam(shape, depth, latency)
