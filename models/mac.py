"""Golden and performance models of the ``mac`` core kind.

The MAC takes operand beats ``(a[i], w[i])``; every K consecutive beats form one dot product
whose accumulator value (after the overflow rule at each step) is one result beat.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.int_gemm import int_dot
from lowbit.models.tiling import DotPerf, DotTiler


def mac_golden(config, a: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Results of a MAC fed ``a``, ``w`` (1-D, equal length, a multiple of ``k``), run-time K.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.mac.MacConfig` (formats, accumulator).
    a, w
        Operand values in stream order.
    k
        The run-time K: beats per dot product.

    Returns
    -------
    numpy.ndarray
        One accumulator value per K beats (int64).
    """
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    if a.shape != w.shape or a.ndim != 1 or a.size % k:
        raise ValueError(f"operand streams of {a.size} and {w.size} beats do not make groups "
                         f"of K={k}")
    return int_dot(a.reshape(-1, k), w.reshape(-1, k), config.a, config.w, config.accumulator)


class MacTiler(DotTiler):
    """``mac``: each result is K consecutive ``{a, w}`` beats (:mod:`lowbit.hw.mac`)."""

    def codes(self, gen, side, shape):
        fmt = getattr(self.config, side)
        return fmt.encode(fmt.random(gen, shape))

    def dots(self, params, a, w):
        c = self.config
        return c.accumulator.encode(mac_golden(c, c.a.decode(a).reshape(-1),
                                               c.w.decode(w).reshape(-1), params["k"]))


class MacPerf(DotPerf):
    """One MAC per cycle; a GEMM is M·N dot products of length K fed back to back, plus the
    pipeline's latency (the config's: 1 + in_reg + mul_reg + mul_stages)."""

    def __init__(self, config):
        self.config = config
        self.tiler = MacTiler(config)

    @property
    def peak_macs_per_cycle(self) -> float:
        return 1.0

    @property
    def storage_bits(self) -> int:
        c = self.config
        operand_bits = c.a.bits + c.w.bits
        regs = c.acc * 2 + c.k_bits  # accumulator, result register, beat counter
        regs += operand_bits * c.in_reg + operand_bits * c.mul_reg
        # a carry-chain stage holds the running sum and the operand bits still to come
        regs += (operand_bits + c.a.bits + c.w.bits) * c.mul_stages
        return regs
