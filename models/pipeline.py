"""Where a unit's pipeline registers go: a combinational chain cut into stages.

A datapath is a chain of named segments (decode, multiply, shift, ... or the steps of an FP32
addition), each with a rough delay in logic levels. A unit built with ``n`` registers inside a
chain puts them after the segments :meth:`Chain.cuts` picks: the partition into ``n + 1``
stages whose slowest stage is the fastest. The generator (:mod:`lowbit.hw.stages`) places the
registers there and the config counts them in its ``latency``, so the cycle count the
performance model gives and the registers the hardware has come from this one description.

The FP32 chains are shared by every unit that ends in FP32 (:mod:`lowbit.hw.fp32`):
:data:`FP32_ROUND` rounds an exact value ``±mag · 2**exp`` to binary32 and :data:`FP32_ADD`
adds two binary32 numbers (its own four segments, then the rounder's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations


@dataclass(frozen=True)
class Chain:
    """Segments in order, each with a rough delay (logic levels)."""

    segments: tuple[tuple[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.segments)

    @property
    def most(self) -> int:
        """The most registers the chain can take inside: one after every segment but the
        last."""
        return len(self.segments) - 1

    def __add__(self, other: Chain) -> Chain:
        return Chain(self.segments + other.segments)

    def cuts(self, registers: int) -> frozenset[str]:
        """The segments followed by a register when ``registers`` (0..:attr:`most`) go
        inside: the partition whose slowest stage is fastest (the most even on a tie)."""
        if not 0 <= registers <= self.most:
            raise ValueError(f"{registers} registers in a chain of {len(self.segments)} "
                             f"segments: 0..{self.most}")
        return frozenset(self.names[i] for i in _best(tuple(w for _, w in self.segments),
                                                       registers))

    def stages(self, registers: int) -> list[tuple[str, ...]]:
        """The segment names of each stage with ``registers`` inside (for documentation and
        tests)."""
        cuts, out, stage = self.cuts(registers), [], []
        for name in self.names:
            stage.append(name)
            if name in cuts:
                out.append(tuple(stage))
                stage = []
        return [*out, tuple(stage)]


@cache
def _best(weights: tuple[float, ...], registers: int) -> tuple[int, ...]:
    """Indices of the segments followed by a register: every way of placing them is tried
    (chains are short); the slowest stage is minimised, then the stages are evened out (the
    sum of their squares), then the earliest placement wins."""
    def cost(cut: tuple[int, ...]) -> tuple[float, float]:
        bounds = [-1, *cut, len(weights) - 1]
        stages = [sum(weights[a + 1:b + 1]) for a, b in zip(bounds, bounds[1:])]
        return max(stages), sum(x * x for x in stages)

    return min(combinations(range(len(weights) - 1), registers), key=cost)


#: RNE32 of an exact value: its leading one; the step and the shifts (the larger of the
#: precision's and the subnormal range's drop); the shift with guard and sticky bits; the
#: code ``((q - lsb) << 23) + kept + up``, clamped to inf, with inf/NaN put in
FP32_ROUND = Chain((("lead", 4.0), ("amount", 3.0), ("shift", 4.0), ("round", 4.0)))

#: binary32 addition: order the operands by magnitude (and beside it find inf/NaN, the exponent
#: difference and what the rounder needs of the larger exponent); the smaller significand
#: aligned with a sticky bit; the add or subtract; then :data:`FP32_ROUND` of the exact-to-odd
#: sum
FP32_ADD = Chain((("order", 5.0), ("align", 4.0), ("add", 3.0))) + FP32_ROUND
