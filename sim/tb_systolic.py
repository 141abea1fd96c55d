"""cocotb testbench of the ``systolic`` core: tiled GEMMs checked bit-exactly, cycles vs model.

Any M×N×K GEMM is cut by :func:`lowbit.models.systolic.plan` into runs of passes (ws) or tiles
(os); every beat of a run is computed with numpy before the simulation starts (one wide payload
per beat), results are decoded with numpy afterwards, and the whole product is compared with
:func:`lowbit.models.systolic.systolic_golden`. Run it through ``lowbit simulate systolic``.
"""

from __future__ import annotations

import cocotb
import numpy as np

from lowbit.hw.payload import pack_lanes, unpack_lanes
from lowbit.hw.systolic import stream_layouts
from lowbit.models.formats import IntFormat
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import (Run, SystolicPerf, ceil_div, plan, systolic_golden,
                                    a_beats as beats_of)
from lowbit.sim import bench


def _run_beats(config, run: Run, a_codes: np.ndarray, w_codes: np.ndarray):
    """The a and w beats of a run (lanes of codes) and where its result rows go."""
    R, C, K = config.rows, config.cols, run.k
    a_beats, w_beats, places = [], [], []
    for m0, n0 in run.blocks:
        w_beats.append(w_codes[:K, n0:n0 + C])
        block = a_codes[m0:m0 + run.rows] if config.dataflow == "ws" else a_codes[m0:m0 + R, :K]
        a_beats.append(beats_of(config, block))
        places.append((m0, n0))
    return np.concatenate(a_beats), np.concatenate(w_beats), places


async def gemm(dut, config, a: np.ndarray, w: np.ndarray, *, rng=None, idle: float = 0.0,
               stall: float = 0.0, what: str = "") -> tuple[np.ndarray, int]:
    """Stream ``a`` (M×K) @ ``w`` (K×N) through the core; returns (result, cycles), checked."""
    (M, K), (_, N) = a.shape, w.shape
    R, C = config.rows, config.cols
    layouts = stream_layouts(config)
    shape = GemmShape(M, N, K)
    # operands as codes, zero-padded to whole tiles (code 0 is the value 0 in every format)
    a_codes = np.zeros((ceil_div(M, R) * R, ceil_div(K, R) * R), dtype=np.uint64)
    w_codes = np.zeros((K, ceil_div(N, C) * C), dtype=np.uint64)
    a_codes[:M, :K] = config.a.encode(a)
    w_codes[:, :N] = config.w.encode(w)
    out = np.zeros((a_codes.shape[0], w_codes.shape[1]), dtype=np.int64)
    cycles = 0
    for run in plan(config, shape):
        a_beats, w_beats, places = _run_beats(config, run, a_codes, w_codes)
        dut.k.value = run.k
        if config.dataflow == "ws":
            dut.m.value = run.rows
        per_block = run.rows if config.dataflow == "ws" else R
        sources = [bench.Source(dut, "a", pack_lanes(layouts["a"], a_beats), rng=rng, idle=idle),
                   bench.Source(dut, "w", pack_lanes(layouts["w"], w_beats), rng=rng, idle=idle)]
        sink = bench.Sink(dut, "result", per_block * len(places), rng=rng, stall=stall)
        cycles += await bench.transfer(dut.clk, sources, [sink])
        rows = config.accumulator.decode(unpack_lanes(layouts["result"], sink.values))
        for i, (m0, n0) in enumerate(places):
            out[m0:m0 + per_block, n0:n0 + C] = rows[i * per_block:(i + 1) * per_block]
    got = out[:M, :N]
    bench.assert_equal(got, systolic_golden(config, a, w), f"GEMM {shape} {what}".strip())
    return got, cycles


def _overflows(config, a: np.ndarray, w: np.ndarray) -> int:
    """Results whose exact sum leaves the accumulator's range (the overflow rule decided them)."""
    exact = a.astype(object) @ w.astype(object)
    acc = config.accumulator
    return int(((exact < acc.min) | (exact > acc.max)).sum())


def extremes(fmt) -> np.ndarray:
    """min/max/0/±1 of an integer format; for a minifloat ±max, ±1, 0, ±the smallest
    subnormal and its inf/NaN (which the exact register counts as 0)."""
    if isinstance(fmt, IntFormat):
        return np.unique([v for v in (fmt.min, fmt.max, 0, 1, -1) if fmt.min <= v <= fmt.max])
    tiny = fmt.min_subnormal
    specials = [np.inf] * fmt.has_inf + [np.nan] * fmt.has_nan
    return np.array([-fmt.max, fmt.max, 0.0, 1.0, -1.0, tiny, -tiny, *specials])


async def _setup(dut):
    config, options = bench.context()
    dut.k.value = 1
    if config.dataflow == "ws":
        dut.m.value = 1
    for port in ("a__valid", "w__valid", "result__ready"):
        getattr(dut, port).value = 0
    await bench.start(dut)
    return config, options


def _default_gemm(config) -> tuple[int, int, int]:
    side = 4 * max(config.rows, config.cols)
    return side + 3, side + 1, side + 5


async def _checked_gemm(dut, config, shape: GemmShape, gen, test: str, **fields):
    """A random GEMM at full rate; cycles must equal the performance model."""
    a = config.a.random(gen, (shape.m, shape.k))
    w = config.w.random(gen, (shape.k, shape.n))
    _, cycles = await gemm(dut, config, a, w)
    perf = SystolicPerf(config)
    model = perf.gemm_cycles(shape)
    bench.record(test=test, gemm=str(shape), cycles=cycles, model_cycles=model, macs=shape.macs,
                 utilization=perf.utilization(shape, cycles), **fields)
    assert cycles == model, f"GEMM {shape}: measured {cycles} cycles, the model says {model}"


@cocotb.test()
async def gemm_tiled(dut):
    """The requested GEMM (``--gemm``, default a little over 4·max(R, C) each way)."""
    config, options = await _setup(dut)
    shape = GemmShape(*options.get("gemm", _default_gemm(config)))
    await _checked_gemm(dut, config, shape, bench.rng(options, 1), "gemm_tiled")


def edge_shapes(config) -> list[GemmShape]:
    """Shapes around every edge of the tiling: 1s, K below/at/above R, partial tiles, M past
    the ws buffer depth, M shorter than the pipeline (read-after-write stalls), largest K."""
    R, C = config.rows, config.cols
    depth = config.depth if config.dataflow == "ws" else 4 * R
    k_max = config.k_max
    shapes = [(1, 1, 1), (1, C + 1, 2), (R + 1, 1, R + 1), (2, 2 * C, 2 * R + 1), (3, C, R),
              (2 * R + 1, 2 * C + 1, 3 * R + 2), (depth + 1, C - 1 or 1, R + 3), (R, C, 1),
              (5, 3, 4 * R + 7), (2 * depth + 3, 2, 2)]
    if k_max <= 1000:  # the longest K the register holds, where it is cheap to run
        shapes.append((2, C + 1, k_max))
    return [GemmShape(m, n, min(k, k_max)) for m, n, k in shapes]


@cocotb.test()
async def gemm_shapes(dut):
    """Many GEMM shapes on one build (run-time K and M): bit-exact and cycle-exact each."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 2)
    shapes = edge_shapes(config)
    for shape in shapes:
        await _checked_gemm(dut, config, shape, gen, "gemm_shapes")


@cocotb.test()
async def corner_values(dut):
    """Extreme operands: every pair of min/max/0/±1, all-zero, and runs that overflow the
    accumulator (also saturating first up then down, which only a per-step rule gets right)."""
    config, options = await _setup(dut)
    fa, fw, acc = config.a, config.w, config.accumulator
    R, C = config.rows, config.cols
    k_cap = min(config.k_max, int(options.get("max_overflow_k", 4096)))

    xa, xw = extremes(fa), extremes(fw)
    # every pair of extremes as a 1-deep product: A column of xa, W row of xw
    await gemm(dut, config, xa[:, None], xw[None, :], what="extreme pairs")
    await gemm(dut, config, np.zeros((R + 1, 3), dtype=np.int64),
               np.zeros((3, C + 1), dtype=np.int64), what="all zero")
    overflowed = 0
    if not config.integer:  # an exact register: the longest K of the largest products fits
        k = min(config.k_max, k_cap)
        a = np.full((2, k), fa.max)
        w = np.concatenate([np.full((k, 1), fw.max), np.full((k, 1), -fw.max)], axis=1)
        await gemm(dut, config, a, w, what="longest sums of the largest products")
        bench.record(test="corner_values", overflowed=overflowed, overflow=config.overflow)
        return
    for x, y in ((fa.min, fw.min), (fa.max, fw.max), (fa.min, fw.max), (fa.max, fw.min)):
        p = x * y
        if p == 0:
            continue
        room = acc.max if p > 0 else -acc.min
        half = room // abs(p) + 2
        if 2 * half > k_cap:  # the accumulator is too wide to overflow within max_overflow_k
            continue
        # column 0: K equal products; the other columns turn to the negated weight halfway
        # (up past the limit, then down: saturating at each step differs from clamping once)
        k = 2 * half
        a = np.full((2, k), x, dtype=np.int64)
        w = np.full((k, C + 1), y, dtype=np.int64)
        neg_w = -y if fw.min <= -y <= fw.max else None
        if neg_w is not None:
            w[half:, 1:] = neg_w
        await gemm(dut, config, a, w, what=f"overflow run {x}×{y}")
        overflowed += _overflows(config, a, w)
    bench.record(test="corner_values", overflowed=overflowed, overflow=config.overflow)


@cocotb.test()
async def backpressure(dut):
    """Random idle inputs and a stalling result sink: still bit-exact."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 4)
    R, C = config.rows, config.cols
    for m, n, k in ((2 * R + 1, C + 2, 2 * R + 3), (3, 2 * C, 1), (R + 2, 1, 5)):
        k = min(k, config.k_max)
        a, w = config.a.random(gen, (m, k)), config.w.random(gen, (k, n))
        await gemm(dut, config, a, w, rng=gen, idle=0.3, stall=0.4, what="with back-pressure")
    bench.record(test="backpressure")
