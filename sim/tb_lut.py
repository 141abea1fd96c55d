"""cocotb testbench of the ``lut`` core: the GEMM tests of :mod:`lowbit.sim.gemm_bench` at every
run-time weight precision and mode, on the tiling of :class:`lowbit.models.lut.LutTiler`,
checked bit-exactly against :func:`lowbit.models.lut.lut_golden`. Padding lanes (activations
past K, weights past K or N) carry random codes, so the core's masking is checked too. Run it
through ``lowbit simulate lut``.
"""

from __future__ import annotations

from lowbit.models.lut import WEIGHT_MODES, WeightCode
from lowbit.models.perf import GemmShape
from lowbit.sim.gemm_bench import GemmBench, gemm_tests


class LutBench(GemmBench):
    """Settings: every weight precision 1..w_bits in every mode (signed, unsigned, offset).
    Shapes: the skeleton's edges of one column block and K group, plus N around whole tiles of
    ``blocks`` column blocks (full tiles, a shorter last tile, one block short of a tile)."""

    def default_shape(self) -> GemmShape:
        c = self.config
        return GemmShape(5, 2 * c.blocks * c.cols + c.cols + 1, min(4 * c.group + 3, c.k_max))

    def edge_shapes(self) -> list[GemmShape]:
        c = self.config
        span, k = c.blocks * c.cols, c.group
        shapes = [(2, span, k), (3, span + 1, 2 * k + 1), (2, 2 * span - c.cols + 1, 1)]
        return super().edge_shapes() + [GemmShape(m, n, min(kk, c.k_max)) for m, n, kk in shapes]

    def settings(self):
        return [{"wbits": bits, "mode": mode} for bits in range(1, self.config.w_bits + 1)
                for mode in WEIGHT_MODES]

    def full(self):
        return {"wbits": self.config.w_bits, "mode": "signed"}

    def sides(self, runtime):
        return {"a": self.config.a, "w": WeightCode(runtime["wbits"], runtime["mode"]).values}

    def encode(self, runtime, values):
        code = WeightCode(runtime["wbits"], runtime["mode"])
        return {"a": self.config.a.encode(values["a"]), "w": code.encode(values["w"])}


(gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure, bulk_backpressure,
 paths_agree, reset_mid_run) = gemm_tests(LutBench)
