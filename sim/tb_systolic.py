"""cocotb testbench of the ``systolic`` core: the GEMM tests of :mod:`lowbit.sim.gemm_bench`
on the tiling of :class:`lowbit.models.systolic.SystolicTiler`, checked bit-exactly against
:func:`lowbit.models.systolic.systolic_golden`. Run it through ``lowbit simulate systolic``.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.olive import OvpFormat
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import ceil_div
from lowbit.sim.gemm_bench import GemmBench, gemm_tests
from lowbit.sim.testbenches import OPERANDS_OPTION


class SystolicBench(GemmBench):
    """Edge shapes include M past the ws buffer's depth and M shorter than the pipeline
    (read-after-write stalls); minifloat operands run the longest exact sums instead of
    overflow runs (the Kulisch register cannot overflow). With group scales (MixPE) every GEMM
    brings random exponents per group, and the settings are group sizes 1, 2, 3, 7 and the
    largest (the run option ``g`` sets gemm_tiled's)."""

    def scaled(self) -> bool:
        return self.config.scale != "none"

    def full(self):
        return {"g": int(self.options.get("g", 1))} if self.scaled() else {}

    def settings(self):
        if not self.scaled():
            return [{}]
        return [{"g": g} for g in sorted({min(g, self.config.g_max)
                                          for g in (1, 2, 3, 7, self.config.g_max)})]

    def given_operands(self, runtime):
        """With group scales, the ``operands`` file may hold the exponent codes ``s`` too (⌈K/g⌉
        × N, e.g. a weight quantizer's pow2 scales over a per-column base)."""
        given = super().given_operands(runtime)
        path = self.options.get(OPERANDS_OPTION)
        if given is not None and self.scaled():
            with np.load(path) as data:
                if "s" in data:
                    given["s"] = self.config.scale_fmt.encode(data["s"])
        return given

    async def corner_values(self):
        """OliVe operands: every pair of codes (so every outlier, victim and normal value, and
        the colliding pair 1000 1000) against the other operand's extremes or pairs, all-zero
        codes, and long runs of ±96 outliers (their victims beside them) that overflow the
        accumulator, turning halfway."""
        c = self.config
        if not c.olive:
            return await super().corner_values()
        codes = np.arange(1 << 4, dtype=np.uint64)
        pairs = np.stack(np.meshgrid(codes, codes, indexing="ij"), axis=-1).reshape(-1)
        fa, fw = c.a, c.w
        a = pairs.reshape(-1, 2) if isinstance(fa, OvpFormat) else fa.encode(fa.extremes()[:, None])
        row = pairs if isinstance(fw, OvpFormat) else fw.encode(fw.extremes())
        k = a.shape[1]
        await self.gemm({}, {"a": a, "w": np.tile(row[None, :], (k, 1))}, what="every code pair")
        await self.gemm({}, {"a": np.zeros((3, 2), np.uint64), "w": np.zeros((2, 4), np.uint64)},
                        what="all zero")
        overflowed, acc = 0, c.accumulator
        k_cap = min(c.k_max, int(self.options.get("max_overflow_k", 4096)))
        for sign in (1, -1):
            a_pair, a_big = self._largest(fa, sign)
            w_pair, w_big = self._largest(fw, 1)
            if a_big * w_big == 0:          # an unsigned operand has no negative extreme
                continue
            k = 2 * (acc.max // abs(a_big * w_big) + 2)   # half the products may be victims
            if k > k_cap:
                continue
            a = np.tile(a_pair, (2, k // 2))
            w = np.tile(w_pair, (k, 2))
            w[k // 2:, 2:] = np.tile(self._largest(fw, -1)[0], (k - k // 2, 1))
            await self.gemm({}, {"a": a, "w": w}, what="long run")
            overflowed += acc.overflows(fa.decode(a).astype(object) @ fw.decode(w).astype(object))
        return {"overflowed": overflowed}

    @staticmethod
    def _largest(fmt, sign: int) -> tuple[np.ndarray, int]:
        """A code pair (1×2) of the largest value of ``sign``, and that value: an OliVe
        outlier ±96 with its victim, or an integer's extreme twice."""
        if isinstance(fmt, OvpFormat):
            code = int(fmt.outlier.encode(np.array([96.0 * sign]), saturate=True)[0])
            pair = np.array([[code, fmt.identifier]], dtype=np.uint64)
            return pair, int(fmt.decode(pair)[0, 0])
        value = fmt.max if sign > 0 else fmt.min
        return fmt.encode(np.full((1, 2), value)), value

    def extra(self, runtime, gen, shape: GemmShape):
        if not self.scaled():
            return {}
        f = self.config.scale_fmt
        groups = (ceil_div(shape.k, runtime.get("g", 1)), shape.n)
        return {"s": f.encode(f.random(gen, groups))}

    def edge_shapes(self) -> list[GemmShape]:
        c = self.config
        depth = c.depth if c.dataflow == "ws" else 4 * c.rows
        extra = [GemmShape(depth + 1, c.cols - 1 or 1, min(c.rows + 3, c.k_max)),
                 GemmShape(2 * depth + 3, 2, 2)]
        return super().edge_shapes() + extra

    def long_runs(self, runtime, cols):
        """Minifloat operands: the longest sums of the largest products, column 0 of ``w.max``,
        the others of the most negative finite weight (0 when ``w`` is an unsigned integer,
        which a minifloat ``a`` may take)."""
        c = self.config
        if c.integer:
            return super().long_runs(runtime, cols)
        k = min(c.k_max, int(self.options.get("max_overflow_k", 4096)))
        other = min(v for v in c.w.extremes() if np.isfinite(v))
        w = np.concatenate([np.full((k, 1), c.w.max), np.full((k, cols - 1), other)], axis=1)
        return [{"a": np.full((2, k), c.a.max), "w": w}]


(gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure, bulk_backpressure,
 paths_agree, reset_mid_run) = gemm_tests(SystolicBench)
