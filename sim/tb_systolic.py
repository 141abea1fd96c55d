"""cocotb testbench of the ``systolic`` core: the GEMM tests of :mod:`lowbit.sim.gemm_bench`
on the tiling of :class:`lowbit.models.systolic.SystolicTiler`, checked bit-exactly against
:func:`lowbit.models.systolic.systolic_golden`. Run it through ``lowbit simulate systolic``.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.perf import GemmShape
from lowbit.sim.gemm_bench import GemmBench, gemm_tests


class SystolicBench(GemmBench):
    """Edge shapes include M past the ws buffer's depth and M shorter than the pipeline
    (read-after-write stalls); minifloat operands run the longest exact sums instead of
    overflow runs (the Kulisch register cannot overflow)."""

    def edge_shapes(self) -> list[GemmShape]:
        c = self.config
        depth = c.depth if c.dataflow == "ws" else 4 * c.rows
        extra = [GemmShape(depth + 1, c.cols - 1 or 1, min(c.rows + 3, c.k_max)),
                 GemmShape(2 * depth + 3, 2, 2)]
        return super().edge_shapes() + extra

    def long_runs(self, runtime, cols):
        c = self.config
        if c.integer:
            return super().long_runs(runtime, cols)
        k = min(c.k_max, int(self.options.get("max_overflow_k", 4096)))
        w = np.concatenate([np.full((k, 1), c.w.max), np.full((k, cols - 1), -c.w.max)], axis=1)
        return [{"a": np.full((2, k), c.a.max), "w": w}]


(gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure, bulk_backpressure,
 paths_agree) = gemm_tests(SystolicBench)
