"""cocotb testbench of the ``bitserial`` core: the GEMM tests of :mod:`lowbit.sim.gemm_bench` at
the run-time precisions and group sizes, on the tiling of
:class:`lowbit.models.bitserial.BitserialTiler`, checked bit-exactly against
:func:`lowbit.models.bitserial.bitserial_golden`. Random operands are full-width codes, so bits
above a run-time precision (which the core must ignore) are checked too; operands past K are
random codes the core masks. BitMoD weights (``w = bitmod3/bitmod4``) run every code under every
data type, with random types per group, and (the run option ``operands``) an ``.npz`` of
activation values ``a``, weight codes ``w``, type ids ``t`` and scale codes ``s``. Run it
through ``lowbit simulate bitserial``.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.bitmod import TYPE_NAMES
from lowbit.models.bitserial import group_scale, precision_format
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import ceil_div
from lowbit.sim import bench
from lowbit.sim.gemm_bench import GemmBench, gemm_tests
from lowbit.sim.testbenches import OPERANDS_OPTION


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
        if c.bitmod:   # BitMoD weights always use every mantissa bit
            return [self.top()]
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
        """The widest setting; the run option ``g`` sets gemm_tiled's group size (slices)."""
        if self.scaled() and "g" in self.options:
            return {**self.top(), "g": int(self.options["g"])}
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
        groups = (ceil_div(shape.k, runtime.get("g", 1) * self.config.lanes), shape.n)
        out = {"s": scale.random(gen, groups)}
        if self.config.bitmod:
            out["t"] = self.config.w.random(gen, groups)[1]
        return out

    def operands(self, runtime, gen, shape):
        c = self.config
        w = c.w.random(gen, (shape.k, shape.n))[0] if c.bitmod else \
            c.w.encode(c.w.random(gen, (shape.k, shape.n)))
        codes = {"a": c.a.encode(c.a.random(gen, (shape.m, shape.k))), "w": w}
        return {**codes, **self.extra(runtime, gen, shape)}

    def given_operands(self, runtime):
        """BitMoD: the ``operands`` file holds activation values ``a`` and the quantizer's
        weight codes ``w``, type ids ``t`` and scale codes ``s`` (per group of g·lanes)."""
        path = self.options.get(OPERANDS_OPTION)
        if path is None or not self.config.bitmod:
            return super().given_operands(runtime)
        with np.load(path) as data:
            return {"a": self.config.a.encode(data["a"]),
                    **{name: np.asarray(data[name], dtype=np.uint64) for name in "wts"}}

    async def corner_values(self):
        """BitMoD: every code under every data type against every extreme activation (and
        the largest scale), all-zero codes, and long runs of the largest products (±16 under
        the ea types, the largest scale) that overflow the accumulator, turning halfway."""
        if not self.config.bitmod:
            return await super().corner_values()
        c, fmt = self.config, self.config.w
        gen = bench.rng(self.options, 3)
        runtime = self.top()
        codes = 1 << fmt.bits
        a = c.a.extremes()[:, None]
        w = np.tile(np.arange(codes, dtype=np.uint64), len(TYPE_NAMES))[None, :]
        t = np.repeat(np.arange(len(TYPE_NAMES), dtype=np.uint64), codes)[None, :]
        s_max = np.full(t.shape, c.scale_fmt.encode(c.scale_fmt.max), dtype=np.uint64)
        for s in (s_max, self.extra(runtime, gen, GemmShape(1, w.shape[1], 1))["s"]):
            await self.gemm(runtime, {"a": c.a.encode(a), "w": w, "t": t, "s": s},
                            what="every code and type")
        zeros = {"a": c.a.encode(np.zeros((2, 3), np.int64)), "w": np.zeros((3, 4), np.uint64)}
        await self.gemm(runtime, {**zeros, **self.extra(runtime, gen, GemmShape(2, 4, 3))},
                        what="all zero")
        overflowed = 0
        peak = fmt.max_units * max(abs(c.scale_fmt.min), c.scale_fmt.max)
        for x, type_id in ((c.a.min, 2), (c.a.max, 3), (c.a.min, 3)):
            if x == 0:
                continue
            half = c.accumulator.max // (abs(x) * peak) + 2
            k = 2 * half * c.lanes
            if k > min(c.k_max, int(self.options.get("max_overflow_k", 4096))):
                continue
            groups = ceil_div(k, c.lanes)
            t = np.full((groups, 3), type_id, dtype=np.uint64)
            t[groups // 2:, 1:] = type_id ^ 1       # the special value's other sign
            ops = {"a": c.a.encode(np.full((2, k), x)),
                   "w": np.full((k, 3), fmt.special_code, dtype=np.uint64), "t": t,
                   "s": np.full((groups, 3), c.scale_fmt.encode(c.scale_fmt.max), np.uint64)}
            got, _ = await self.gemm(runtime, ops, what="long run")
            exact = x * fmt.specials[type_id] * c.scale_fmt.max * k
            overflowed += int(not c.accumulator.holds(min(exact, 0), max(exact, 0)))
        return {"overflowed": overflowed}


(gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure, bulk_backpressure,
 paths_agree, reset_mid_run) = gemm_tests(BitserialBench)
