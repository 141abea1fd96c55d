"""cocotb testbench of the ``lut`` core: tiled GEMMs at every run-time weight precision and mode,
checked bit-exactly against :func:`lowbit.models.lut.lut_golden`, cycles against
:class:`lowbit.models.lut.LutPerf`.

Beats are computed with numpy before a run (:func:`lowbit.models.lut.gemm_beats`); padding
lanes (activations past K, weights past K or N) are filled with random codes, so the core's
masking is checked too. Run it through ``lowbit simulate lut``.
"""

from __future__ import annotations

import cocotb
import numpy as np

from lowbit.hw.payload import pack_lanes, unpack_lanes
from lowbit.hw.lut_core import stream_layouts
from lowbit.models.lut import WEIGHT_MODES, LutPerf, WeightCode, gemm_beats, lut_golden, plan
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import ceil_div
from lowbit.sim import bench


async def gemm(dut, config, a: np.ndarray, w: np.ndarray, code: WeightCode, *,
               rng=None, idle: float = 0.0, stall: float = 0.0,
               what: str = "") -> tuple[np.ndarray, int]:
    """Stream ``a`` (M×K) @ ``w`` (K×N weight values) through the core; (result, cycles)."""
    (M, K), (_, N) = a.shape, w.shape
    G, C = config.group, config.cols
    layouts = stream_layouts(config)
    q, blocks = ceil_div(K, G), ceil_div(N, C)
    junk = np.random.default_rng([M, N, K])       # padding the core must ignore
    a_codes = config.a.encode(config.a.random(junk, (M, q * G)))
    w_codes = junk.integers(0, 1 << code.bits, (q * G, blocks * C)).astype(np.uint64)
    a_codes[:, :K] = config.a.encode(a)
    w_codes[:K, :N] = code.encode(w)
    a_lanes, w_lanes = gemm_beats(config, a_codes, w_codes, code.bits, blocks)
    dut.k.value = K
    dut.wbits.value = code.bits
    dut.wmode.value = WEIGHT_MODES.index(code.mode)
    sources = [bench.Source(dut, "a", pack_lanes(layouts["a"], a_lanes), rng=rng, idle=idle),
               bench.Source(dut, "w", pack_lanes(layouts["w"], w_lanes), rng=rng, idle=idle)]
    sink = bench.Sink(dut, "result", len(plan(config, GemmShape(M, N, K))), rng=rng, stall=stall)
    cycles = await bench.transfer(dut.clk, sources, [sink])
    rows = config.accumulator.decode(unpack_lanes(layouts["result"], sink.values))
    got = rows.reshape(M, blocks * C)[:, :N]
    label = f"GEMM {GemmShape(M, N, K)} w{code.bits} {code.mode} {what}".strip()
    bench.assert_equal(got, lut_golden(config, a, w, code.bits, code.mode), label)
    return got, cycles


async def _setup(dut):
    config, options = bench.context()
    dut.k.value, dut.wbits.value, dut.wmode.value = 1, config.w_bits, 0
    for port in ("a__valid", "w__valid", "result__ready"):
        getattr(dut, port).value = 0
    await bench.start(dut)
    return config, options


async def _checked_gemm(dut, config, shape: GemmShape, code: WeightCode, gen, test: str):
    """A random GEMM at full rate; cycles must equal the performance model."""
    a = config.a.random(gen, (shape.m, shape.k))
    w = code.random(gen, (shape.k, shape.n))
    _, cycles = await gemm(dut, config, a, w, code)
    perf = LutPerf(config, code.bits)
    model = perf.gemm_cycles(shape)
    bench.record(test=test, gemm=str(shape), wbits=code.bits, mode=code.mode, cycles=cycles,
                 model_cycles=model, macs=shape.macs, utilization=perf.utilization(shape, cycles))
    assert cycles == model, f"GEMM {shape} w{code.bits}: measured {cycles} cycles, model {model}"


def default_gemm(config) -> tuple[int, int, int]:
    return 9, 2 * config.cols + 1, 8 * config.group + 3


@cocotb.test()
async def gemm_tiled(dut):
    """The requested GEMM (``--gemm``) at the largest weight precision, signed weights."""
    config, options = await _setup(dut)
    shape = GemmShape(*options.get("gemm", default_gemm(config)))
    await _checked_gemm(dut, config, shape, WeightCode(config.w_bits, "signed"),
                        bench.rng(options, 1), "gemm_tiled")


@cocotb.test()
async def gemm_modes(dut):
    """Every run-time weight precision 1..w_bits in every mode, one build."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 2)
    G, C = config.group, config.cols
    shape = GemmShape(3, C + 1, min(3 * G + 1, config.k_max))
    for bits in range(1, config.w_bits + 1):
        for mode in WEIGHT_MODES:
            await _checked_gemm(dut, config, shape, WeightCode(bits, mode), gen, "gemm_modes")


def edge_shapes(config) -> list[GemmShape]:
    """Shapes around every edge of the tiling: 1s, K below/at/above one beat, partial column
    blocks, and the longest K the register holds when it is short."""
    G, C = config.group, config.cols
    shapes = [(1, 1, 1), (1, C, G), (2, C + 1, max(G - 1, 1)), (3, 2 * C, G + 1),
              (2, 1, 2 * G), (4, C - 1 or 1, 3 * G - 1)]
    if config.k_max <= 1000:
        shapes.append((2, C + 1, config.k_max))
    return [GemmShape(m, n, min(k, config.k_max)) for m, n, k in shapes]


@cocotb.test()
async def gemm_shapes(dut):
    """Many shapes through run-time K on one build; bit-exact and cycle-exact each."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 3)
    for shape in edge_shapes(config):
        await _checked_gemm(dut, config, shape, WeightCode(config.w_bits, "signed"), gen,
                            "gemm_shapes")


def _overflows(config, a: np.ndarray, w: np.ndarray) -> int:
    exact = a.astype(object) @ w.astype(object)
    acc = config.accumulator
    return int(((exact < acc.min) | (exact > acc.max)).sum())


@cocotb.test()
async def corner_values(dut):
    """Extreme activations against all-ones / all-zero weight planes and extreme weights, in
    every mode and precision; long runs of the largest products that wrap the accumulator."""
    config, options = await _setup(dut)
    fa, C = config.a, config.cols
    k = min(2 * config.group + 1, config.k_max)
    rows = np.array([[fa.min] * k, [fa.max] * k, [0] * k,
                     [fa.min if i % 2 else fa.max for i in range(k)]], dtype=np.int64)
    overflowed = 0
    for bits in range(1, config.w_bits + 1):
        for mode in WEIGHT_MODES:
            code = WeightCode(bits, mode)
            ones = code.decode(np.uint64((1 << bits) - 1))       # every plane all ones
            zero = code.decode(np.uint64(0))                      # every plane all zero
            vals = code.values
            cols = [ones, zero, vals.min, vals.max]
            w = np.array([[cols[c % 4]] * k for c in range(C + 1)], dtype=np.int64).T
            await gemm(dut, config, rows, w, code, what="extremes")
    # wrap-around: K equal largest products (column 0), the other columns turning to the
    # negated weight halfway; skipped where the accumulator cannot wrap within k_cap
    code, vals = WeightCode(config.w_bits, "signed"), WeightCode(config.w_bits, "signed").values
    k_cap = min(config.k_max, int(options.get("max_overflow_k", 4096)))
    for x, y in ((fa.min, vals.min), (fa.max, vals.max), (fa.min, vals.max)):
        if x * y == 0:
            continue
        long_k = 2 * (config.accumulator.max // abs(x * y) + 2)
        if long_k > k_cap:
            continue
        a = np.full((2, long_k), x, dtype=np.int64)
        w = np.full((long_k, C + 1), y, dtype=np.int64)
        if vals.min <= -y <= vals.max:
            w[long_k // 2:, 1:] = -y
        await gemm(dut, config, a, w, code, what=f"long run {x}×{y}")
        overflowed += _overflows(config, a, w)
    bench.record(test="corner_values", overflowed=overflowed)


@cocotb.test()
async def backpressure(dut):
    """Random idle inputs and a stalling result sink, in every mode: still bit-exact."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 5)
    G, C = config.group, config.cols
    for i, mode in enumerate(WEIGHT_MODES):
        code = WeightCode(1 + i % config.w_bits, mode)
        m, n, k = (3, C + 2, min(2 * G + 1, config.k_max))
        a, w = config.a.random(gen, (m, k)), code.random(gen, (k, n))
        await gemm(dut, config, a, w, code, rng=gen, idle=0.3, stall=0.4, what="back-pressure")
    bench.record(test="backpressure")
