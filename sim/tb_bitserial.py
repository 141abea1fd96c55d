"""cocotb testbench of the ``bitserial`` core: the GEMM tests of :mod:`lowbit.sim.gemm_bench` at
the run-time precisions and group sizes, on the tiling of
:class:`lowbit.models.bitserial.BitserialTiler`, checked bit-exactly against
:func:`lowbit.models.bitserial.bitserial_golden`. Random operands are full-width codes, so bits
above a run-time precision (which the core must ignore) are checked too; operands past K are
random codes the core masks. Run it through ``lowbit simulate bitserial``.
"""

from __future__ import annotations

from lowbit.models.bitserial import group_scale, precision_format
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import ceil_div
from lowbit.sim.gemm_bench import GemmBench, gemm_tests


class BitserialBench(GemmBench):
    """Settings: every precision of the serial operand(s) (both-serial: every pair), and with a
    per-group scale the group sizes 1, 2, 3, 9 slices (as the build allows) at full precision."""

    def top(self) -> dict[str, int]:
        return {f"p{op}": self.config.max_bits(op) for op in self.config.serial_operands}

    def grid(self, full: bool) -> list[dict[str, int]]:
        """Precisions: every value of each serial operand; both-serial every pair when
        ``full``, else the diagonal plus the extremes."""
        c = self.config
        ops = c.serial_operands
        if len(ops) == 1:
            return [{f"p{ops[0]}": p} for p in range(1, c.max_bits(ops[0]) + 1)]
        top_a, top_w = c.a.bits, c.w.bits
        if full:
            return [{"pa": x, "pw": y} for x in range(1, top_a + 1) for y in range(1, top_w + 1)]
        pairs = {(min(p, top_a), min(p, top_w)) for p in range(1, max(top_a, top_w) + 1)}
        pairs |= {(1, top_w), (top_a, 1)}
        return [{"pa": x, "pw": y} for x, y in sorted(pairs)]

    def scaled(self) -> bool:
        return self.config.scale != "none"

    def settings(self):
        groups = sorted({min(g, self.config.g_max) for g in (2, 3, 9)}) if self.scaled() else []
        return self.grid(full=True) + [{**self.top(), "g": g} for g in groups]

    def corner_settings(self):
        return self.grid(full=False)

    def full(self):
        return self.top()

    def sides(self, runtime):
        c = self.config
        return {side: precision_format(getattr(c, side), runtime[f"p{side}"])
                if f"p{side}" in runtime else getattr(c, side) for side in ("a", "w")}

    def encode(self, runtime, values):
        return {side: getattr(self.config, side).encode(v) for side, v in values.items()}

    def extra(self, runtime, gen, shape: GemmShape):
        scale = group_scale(self.config)
        if scale is None:
            return {}
        groups = ceil_div(shape.k, runtime.get("g", 1) * self.config.lanes)
        return {"s": scale.random(gen, (groups, shape.n))}

    def operands(self, runtime, gen, shape):
        c = self.config
        codes = {"a": c.a.encode(c.a.random(gen, (shape.m, shape.k))),
                 "w": c.w.encode(c.w.random(gen, (shape.k, shape.n)))}
        return {**codes, **self.extra(runtime, gen, shape)}


(gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure, bulk_backpressure,
 paths_agree) = gemm_tests(BitserialBench)
