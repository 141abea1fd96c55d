"""How a memory of W-bit words × D rows is cut into ECP5 DP16KD block RAMs, and what the
registered read (:mod:`lowbit.hw.ram`) adds in the fabric.

A DP16KD holds 18 kbit in one of six shapes (data width → words): 1 × 16384, 2 × 8192,
4 × 4096, 9 × 2048, 18 × 1024 (one write port A, one read port B) and 36 × 512 (the
pseudo-dual-port mode: port A writes 36 bits, port B reads them). The 9/18/36 shapes count the
parity bits as data. A memory is a row of *slices* side by side, each holding some of the
word's bits in one shape, with as many blocks stacked along the depth as D needs (cascaded:
the write enable decoded from the high address bits, the read data chosen by them after the
blocks). :func:`dp16kd_tiling` picks the slices that use the fewest blocks, then the fewest
stacked ones (every stack costs a multiplexer after the output register).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lowbit.models.tiling import ceil_div

#: DP16KD data width → words per block
DP16KD_SHAPES = {1: 16384, 2: 8192, 4: 4096, 9: 2048, 18: 1024, 36: 512}
#: the family whose registered block RAM is instantiated (elsewhere: Amaranth's Memory)
INSTANTIATED = "ecp5"


@dataclass(frozen=True)
class Slice:
    """``bits`` bits of every word (from bit ``at``), in blocks of data width ``width``,
    ``stack`` of them along the depth."""

    at: int
    bits: int
    width: int
    stack: int

    @property
    def words(self) -> int:
        """Words per block in this slice's shape."""
        return DP16KD_SHAPES[self.width]

    @property
    def select_bits(self) -> int:
        """Bits of the high address that choose a block of the stack (0: one block)."""
        return (self.stack - 1).bit_length()


@cache
def dp16kd_tiling(width: int, depth: int) -> tuple[Slice, ...]:
    """The slices of a ``width`` × ``depth`` memory, low bits first: fewest blocks, then
    fewest stacked blocks, then fewest slices."""
    if width < 1 or depth < 1:
        raise ValueError(f"a {width} x {depth} memory: width and depth must be at least 1")
    # best[b]: (cost, slice shapes) covering the low b bits
    best: list[tuple[tuple[int, int, int], tuple[int, ...]]] = [((0, 0, 0), ())]
    for b in range(1, width + 1):
        options = []
        for w, words in DP16KD_SHAPES.items():
            stack = ceil_div(depth, words)
            (blocks, stacked, slices), shapes = best[max(0, b - w)]
            cost = (blocks + stack, stacked + (stack - 1), slices + 1)
            options.append((cost, (*shapes, w)))
        best.append(min(options))
    shapes = best[width][1]
    # the first slice is the one that may be wider than the bits it holds
    bits = [width - sum(shapes[1:]), *shapes[1:]]
    starts = [sum(bits[:i]) for i in range(len(bits))]
    return tuple(Slice(at, n, w, ceil_div(depth, DP16KD_SHAPES[w]))
                 for at, n, w in zip(starts, bits, shapes))


def dp16kd_blocks(width: int, depth: int) -> int:
    """DP16KD blocks of a ``width`` × ``depth`` memory."""
    return sum(s.stack for s in dp16kd_tiling(width, depth))


def equal_parts(depth: int) -> int:
    """Registers of the read-during-write comparison at the first read stage: the write
    enable, and one equality per two address bits."""
    return 1 + ceil_div((depth - 1).bit_length(), 2)


def fabric_bits(family: str, width: int, depth: int) -> int:
    """Flip-flops a registered RAM (read latency 2) keeps in the fabric besides the two read
    registers every family has: on ECP5 the transparency bypass (the written word at both read
    stages; the address comparison in parts at the first, the hit flag at the second) and each
    stack's block select, at both stages; elsewhere none (Amaranth's ``Memory`` read port and
    one output register)."""
    if family != INSTANTIATED:
        return 0
    selects = {(s.width, s.select_bits) for s in dp16kd_tiling(width, depth) if s.stack > 1}
    return 2 * width + equal_parts(depth) + 1 + 2 * sum(bits for _, bits in selects)
