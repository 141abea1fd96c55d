"""cocotb testbench of the ``bitserial`` core: tiled GEMMs at run-time precisions, checked
bit-exactly against :func:`lowbit.models.bitserial.bitserial_golden` and cycle-exactly against
:class:`lowbit.models.bitserial.BitserialPerf`.

Any M×N×K GEMM runs as M·⌈N/cols⌉ tiles of ⌈K/lanes⌉ slices (beat order in
:mod:`lowbit.hw.bitserial`); every beat is computed with numpy before the simulation starts and
the results are decoded with numpy afterwards. Run it through ``lowbit simulate bitserial``.
"""

from __future__ import annotations

import cocotb
import numpy as np

from lowbit.hw.payload import pack_lanes, unpack_lanes
from lowbit.hw.bitserial import stream_layouts
from lowbit.models.bitserial import BitserialPerf, bitserial_golden, group_scale, precision_format
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import ceil_div
from lowbit.sim import bench


def _beats(config, a_codes: np.ndarray, w_codes: np.ndarray, s_codes: np.ndarray | None, g: int):
    """a, w (and s) beats of every tile, rows of A outer, column blocks inner."""
    L, C = config.lanes, config.cols
    M, TL = a_codes.shape
    T, NB = TL // L, w_codes.shape[1] // C
    a_beats = np.repeat(a_codes.reshape(M, 1, T, L), NB, axis=1).reshape(-1, L)
    w_tiles = w_codes.reshape(T, L, NB, C).transpose(2, 0, 1, 3).reshape(1, NB, T, L * C)
    w_beats = np.broadcast_to(w_tiles, (M, NB, T, L * C)).reshape(-1, L * C)
    s_beats = None
    if s_codes is not None:                       # groups × (NB·C): one beat per group per tile
        groups = ceil_div(T, g)
        s_tiles = s_codes.reshape(groups, NB, C).transpose(1, 0, 2).reshape(1, NB, groups, C)
        s_beats = np.broadcast_to(s_tiles, (M, NB, groups, C)).reshape(-1, C)
    return a_beats, w_beats, s_beats


async def gemm(dut, config, a: np.ndarray, w: np.ndarray, *, pa: int | None = None,
               pw: int | None = None, scales: np.ndarray | None = None, g: int = 1,
               rng=None, idle: float = 0.0, stall: float = 0.0,
               what: str = "") -> tuple[np.ndarray, int]:
    """Stream ``a`` (M×K) @ ``w`` (K×N) through the core at precisions ``pa``/``pw`` (codes past
    the precision are sent as they are: the core must ignore them); returns (result, cycles)."""
    (M, K), (_, N) = a.shape, w.shape
    L, C = config.lanes, config.cols
    layouts = stream_layouts(config)
    perf = BitserialPerf(config, pa, pw)
    T, NB = ceil_div(K, L), ceil_div(N, C)
    # A is padded with garbage past K (the core masks those lanes); W and S with zeros
    a_codes = config.a.encode(config.a.random(rng or np.random.default_rng(0), (M, T * L)))
    a_codes[:, :K] = config.a.encode(a)
    w_codes = np.zeros((T * L, NB * C), dtype=np.uint64)
    w_codes[:K, :N] = config.w.encode(w)
    s_codes = None
    if scales is not None:
        s_codes = np.zeros((scales.shape[0], NB * C), dtype=np.uint64)
        s_codes[:, :N] = scales
    a_beats, w_beats, s_beats = _beats(config, a_codes, w_codes, s_codes, g)

    for op, p in perf.precisions.items():
        getattr(dut, f"p{op}").value = p
    dut.k.value = K
    sources = [bench.Source(dut, "a", pack_lanes(layouts["a"], a_beats), rng=rng, idle=idle),
               bench.Source(dut, "w", pack_lanes(layouts["w"], w_beats), rng=rng, idle=idle)]
    if s_beats is not None:
        dut.g.value = g
        sources.append(bench.Source(dut, "s", pack_lanes(layouts["s"], s_beats), rng=rng,
                                    idle=idle))
    sink = bench.Sink(dut, "result", M * NB, rng=rng, stall=stall)
    cycles = await bench.transfer(dut.clk, sources, [sink])
    rows = config.accumulator.decode(unpack_lanes(layouts["result"], sink.values))
    got = rows.reshape(M, NB * C)[:, :N]
    want = bitserial_golden(config, a, w, pa=pa, pw=pw, scales=scales, group=g * L)
    label = " ".join(f"p{op}={p}" for op, p in perf.precisions.items())
    bench.assert_equal(got, want, f"GEMM {GemmShape(M, N, K)} {label} {what}".strip())
    return got, cycles


def operands(config, gen, shape: GemmShape, pa: int | None = None, pw: int | None = None,
             g: int = 1):
    """Random A, W (serial operands in their run-time precision's range) and scale codes."""
    fa = precision_format(config.a, pa) if pa else config.a
    fw = precision_format(config.w, pw) if pw else config.w
    a = fa.random(gen, (shape.m, shape.k))
    w = fw.random(gen, (shape.k, shape.n))
    scale = group_scale(config)
    scales = None
    if scale is not None:
        scales = scale.random(gen, (ceil_div(shape.k, g * config.lanes), shape.n))
    return a, w, scales


def precision_grid(config, full: bool) -> list[dict[str, int]]:
    """Run-time precisions to try: every value 1..max of each serial operand (both-serial: every
    pair when ``full``, else the diagonal plus the extremes)."""
    ops = config.serial_operands
    ranges = {op: range(1, config.max_bits(op) + 1) for op in ops}
    if len(ops) == 1:
        (op,) = ops
        return [{f"p{op}": p} for p in ranges[op]]
    if full:
        return [{"pa": x, "pw": y} for x in ranges["a"] for y in ranges["w"]]
    top_a, top_w = config.a.bits, config.w.bits
    pairs = {(min(p, top_a), min(p, top_w)) for p in range(1, max(top_a, top_w) + 1)}
    pairs |= {(1, top_w), (top_a, 1)}
    return [{"pa": x, "pw": y} for x, y in sorted(pairs)]


async def _setup(dut):
    config, options = bench.context()
    dut.k.value = 1
    for op in config.serial_operands:
        getattr(dut, f"p{op}").value = config.max_bits(op)
    ports = ["a__valid", "w__valid", "result__ready"]
    if config.scale != "none":
        dut.g.value = 1
        ports.append("s__valid")
    for port in ports:
        getattr(dut, port).value = 0
    await bench.start(dut)
    return config, options


def _default_gemm(config) -> tuple[int, int, int]:
    side = 4 * max(config.lanes, config.cols)
    return side + 3, side + 1, side + 5


async def _checked(dut, config, shape: GemmShape, gen, test: str, *, g: int = 1, **prec):
    """A random GEMM at full rate; cycles must equal the performance model."""
    pa, pw = prec.get("pa"), prec.get("pw")
    a, w, scales = operands(config, gen, shape, pa, pw, g)
    _, cycles = await gemm(dut, config, a, w, pa=pa, pw=pw, scales=scales, g=g, rng=gen)
    perf = BitserialPerf(config, pa, pw)
    model = perf.gemm_cycles(shape)
    label = " ".join(f"{op.upper()[1]}{p}" for op, p in prec.items())
    bench.record(test=f"{test} {label}".strip(), gemm=str(shape), cycles=cycles,
                 model_cycles=model, macs=shape.macs, utilization=perf.utilization(shape, cycles),
                 group=g * config.lanes if scales is not None else None, **prec)
    assert cycles == model, f"GEMM {shape} {prec}: measured {cycles} cycles, the model says {model}"


@cocotb.test()
async def gemm_tiled(dut):
    """The requested GEMM (``--gemm``; default a little over 4·max(lanes, cols) each way) at
    full precision and at 1, 2 and 4 bits of the serial operand(s)."""
    config, options = await _setup(dut)
    shape = GemmShape(*options.get("gemm", _default_gemm(config)))
    gen = bench.rng(options, 1)
    g = max(1, min(2, config.g_max))
    for bits in sorted({1, 2, 4, 8, max(config.max_bits(op) for op in config.serial_operands)},
                       reverse=True):
        prec = {f"p{op}": min(bits, config.max_bits(op)) for op in config.serial_operands}
        await _checked(dut, config, shape, gen, "gemm_tiled", g=g, **prec)


@cocotb.test()
async def every_precision(dut):
    """Every run-time precision of the serial operand(s) on this one build, bit- and
    cycle-exact, on a GEMM with partial slices and partial column blocks."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 2)
    L, C = config.lanes, config.cols
    shape = GemmShape(2, C + 1, 2 * L + 1)
    for prec in precision_grid(config, full=True):
        await _checked(dut, config, shape, gen, "every_precision", g=1, **prec)


def _extremes(fmt) -> np.ndarray:
    """Most negative, all ones (-1 or the unsigned maximum), maximum, 0 and 1 of ``fmt``."""
    return np.unique([v for v in (fmt.min, fmt.max, 0, 1, -1) if fmt.min <= v <= fmt.max])


@cocotb.test()
async def corner_values(dut):
    """Every pair of extreme values at every precision; all-extreme rows (largest sums, most
    negative times most negative); codes with garbage above the precision; the most negative
    scale and the largest shift."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 3)
    scale = group_scale(config)
    for prec in precision_grid(config, full=False):
        pa, pw = prec.get("pa"), prec.get("pw")
        fa = precision_format(config.a, pa) if pa else config.a
        fw = precision_format(config.w, pw) if pw else config.w
        xa, xw = np.meshgrid(_extremes(fa), _extremes(fw), indexing="ij")
        pairs_a, pairs_w = xa.reshape(-1), xw.reshape(-1)
        K = pairs_a.size
        a = np.stack([pairs_a, np.full(K, fa.min), np.full(K, fa.max)])
        w = np.stack([pairs_w, np.full(K, fw.min), np.full(K, fw.max), np.full(K, -1 if fw.signed else fw.max)], axis=1)
        scales = None
        if scale is not None:
            codes = np.array([scale.fmt.min, scale.fmt.max, 1 if scale.fmt.max >= 1 else 0])
            scales = scale.fmt.encode(codes[gen.integers(0, 3, (ceil_div(K, config.lanes), 4))])
        await gemm(dut, config, a, w, pa=pa, pw=pw, scales=scales, g=1, rng=gen,
                   what="extreme values")
    # garbage above the precision: full-width random codes, the core reads the low bits only
    for op in config.serial_operands:
        low = {f"p{x}": max(1, config.max_bits(x) // 2) for x in config.serial_operands}
        a = config.a.random(gen, (3, 2 * config.lanes + 3))
        w = config.w.random(gen, (2 * config.lanes + 3, config.cols + 2))
        _, _, scales = operands(config, gen, GemmShape(3, config.cols + 2, a.shape[1]), g=1)
        await gemm(dut, config, a, w, pa=low.get("pa"), pw=low.get("pw"), scales=scales, g=1,
                   rng=gen, what=f"bits of {op} above its precision")
    bench.record(test="corner_values", precisions=len(precision_grid(config, full=False)))


@cocotb.test()
async def group_scaling(dut):
    """Group sizes of 1, 2, 3 slices and a group longer than K (one group per row); the last
    group partial. Without a scale the same shapes check plain accumulation."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 4)
    L, C = config.lanes, config.cols
    shape = GemmShape(3, 2 * C + 1, 7 * L + 2)
    sizes = sorted({min(g, config.g_max) for g in (1, 2, 3, 9)})
    top = {f"p{op}": config.max_bits(op) for op in config.serial_operands}
    for g in sizes:
        await _checked(dut, config, shape, gen, f"group_scaling g={g}", g=g, **top)
    bench.record(test="group_scaling", sizes=sizes)


@cocotb.test()
async def backpressure(dut):
    """Random idle inputs and a stalling result stream: results unchanged."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 5)
    L, C = config.lanes, config.cols
    shape = GemmShape(5, 2 * C + 1, 3 * L + 1)
    g = max(1, min(2, config.g_max))
    for prec in (precision_grid(config, full=False)[::3] or [{}]):
        pa, pw = prec.get("pa"), prec.get("pw")
        a, w, scales = operands(config, gen, shape, pa, pw, g)
        await gemm(dut, config, a, w, pa=pa, pw=pw, scales=scales, g=g, rng=gen, idle=0.3,
                   stall=0.4, what="with back-pressure")
    bench.record(test="backpressure", shape=str(shape))
