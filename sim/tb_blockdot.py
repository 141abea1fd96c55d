"""cocotb testbench of the ``blockdot`` core: block results checked against the golden model,
and a quantized GEMM whose FP32 result, accumulated from the unit's block results, is qgemm's."""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np
from amaranth.hdl import Shape
from cocotb.triggers import RisingEdge

from lowbit.hw.blockdot import operand_layout, result_layout
from lowbit.models.blockdot import BlockdotPerf, blockdot_golden, fp32_accumulate
from lowbit.models.perf import GemmShape
from lowbit.models.qgemm import qgemm
from lowbit.sim import bench
from lowbit.sim.tb_fmac import random_codes


def beats_of(config, a, w, sa, sw) -> list[int]:
    """Payloads of blocks (blocks × B element codes, per-block scale codes), lanes per beat."""
    lanes, beats = config.lanes, config.beats
    a = a.reshape(-1, lanes)
    w = w.reshape(-1, lanes)
    fields = {**{f"a{i}": a[:, i] for i in range(lanes)}, **{f"w{i}": w[:, i] for i in range(lanes)},
              "sa": np.repeat(sa, beats), "sw": np.repeat(sw, beats)}
    return bench.pack(operand_layout(config), fields)


def decode_results(config, payloads):
    layout = result_layout(config)

    def field(p, name):
        f = layout[name]
        raw = (p >> f.offset) & ((1 << f.width) - 1)
        return raw - (raw >> (f.width - 1) << f.width) if Shape.cast(f.shape).signed else raw

    return tuple(np.array([field(p, n) for p in payloads], dtype=object if n == "sum" else np.int64)
                 for n in ("sum", "exp", "special"))


async def blocks(dut, config, a, w, sa, sw, *, rng=None, idle=0.0, stall=0.0, what=""):
    values, cycles = await bench.through(dut, beats_of(config, a, w, sa, sw), len(sa), rng=rng,
                                         idle=idle, stall=stall)
    got = decode_results(config, values)
    want = blockdot_golden(config, a, w, sa, sw)
    bench.assert_equal(got[2], want[2], f"{what} special")
    finite = want[2] == 0
    bench.assert_equal(got[0][finite], want[0][finite], f"{what} block sums")
    bench.assert_equal(got[1][finite], want[1][finite], f"{what} exponents")
    return got, cycles


async def setup(dut):
    return await bench.start_unit(dut)


def extreme_scales(fmt, gen, n: int) -> np.ndarray:
    """Scale codes: the smallest, largest, 1.0, NaN and (E4M3) zero and subnormals, plus random."""
    codes = fmt.codes()
    finite = codes[fmt.is_finite(codes)]
    values = fmt.decode(finite)
    pick = [finite[values.argmin()], finite[values.argmax()], *fmt.encode(np.array([1.0])),
            *codes[fmt.is_nan(codes)][:1]]
    if fmt.has_zero:
        pick += [*finite[(values > 0) & (values < fmt.min_normal)][:2],
                 *fmt.encode(np.array([0.0]))]
    out = gen.choice(codes, size=n).astype(np.uint64)
    out[:len(pick)] = pick
    return gen.permutation(out)


@cocotb.test()
async def random_blocks_extreme_scales(dut):
    """Random element codes (every special and subnormal forced in) with extreme scales, with
    idle inputs and stalled outputs."""
    config, options = await setup(dut)
    gen = bench.rng(options, 1)
    n = options.get("blocks", 300)
    a = random_codes(gen, config.a.element, n * config.block).reshape(n, config.block)
    w = random_codes(gen, config.w.element, n * config.block).reshape(n, config.block)
    # half the blocks finite only, so their sums are checked whatever the specials' density
    for x, fmt in ((a, config.a.element), (w, config.w.element)):
        x[n // 2:] = fmt.encode(fmt.random(gen, x[n // 2:].shape))
    sa, sw = extreme_scales(config.a.scale, gen, n), extreme_scales(config.w.scale, gen, n)
    got, _ = await blocks(dut, config, a, w, sa, sw, rng=gen, idle=0.2, stall=0.3, what="random")
    bench.record(test="random_blocks_extreme_scales", blocks=n,
                 specials=int((got[2] != 0).sum()))


@cocotb.test()
async def largest_blocks(dut):
    """Blocks of the largest elements of one sign at the largest and smallest scales."""
    config, options = await setup(dut)
    ea, ew = config.a.element, config.w.element
    big = [fmt.encode(np.array([fmt.max, fmt.min if not hasattr(fmt, "man_bits") else -fmt.max]))
           for fmt in (ea, ew)]
    a = np.repeat(np.array([big[0][0], big[0][1], big[0][0]], dtype=np.uint64), config.block)
    w = np.repeat(np.array([big[1][0], big[1][0], big[1][1]], dtype=np.uint64), config.block)
    scale = config.a.scale
    codes = scale.codes()[scale.is_finite(scale.codes())]
    hi, lo = codes[scale.decode(codes).argmax()], codes[scale.decode(codes).argmin()]
    sa = np.array([hi, lo, hi], dtype=np.uint64)
    await blocks(dut, config, a.reshape(3, -1), w.reshape(3, -1), sa, sa[::-1].copy(),
                 what="largest")
    bench.record(test="largest_blocks")


@cocotb.test()
async def quantized_gemm(dut):
    """A real-valued GEMM quantized to the block formats: the unit's block results, rounded
    to FP32 and summed in block order, equal qgemm's FP32 output; cycles equal the model."""
    config, options = await setup(dut)
    gen = bench.rng(options, 3)
    shape = GemmShape(*options.get("gemm", (3, 4, 2 * config.block)))
    x = gen.standard_normal((shape.m, shape.k)) * np.exp2(gen.integers(-20, 20, (shape.m, 1)))
    y = gen.standard_normal((shape.k, shape.n))
    qa = dataclasses.replace(config.a.quantize(x, 1), tensor_scale=1.0)
    qw = dataclasses.replace(config.w.quantize(y, 0), tensor_scale=1.0)
    nb = shape.k // config.block
    a_codes = np.repeat(qa.codes[:, None, :], shape.n, axis=1).reshape(-1, config.block)
    w_codes = np.repeat(qw.codes.T[None, :, :], shape.m, axis=0).reshape(-1, config.block)
    sa_codes = config.a.scale.encode(np.repeat(qa.scales[:, None, :], shape.n, axis=1).reshape(-1))
    sw_codes = config.w.scale.encode(np.repeat(qw.scales.T[None, :, :], shape.m, axis=0).reshape(-1))
    got, cycles = await blocks(dut, config, a_codes, w_codes, sa_codes, sw_codes, what="gemm")
    c = fp32_accumulate(*got, nb).reshape(shape.m, shape.n)
    want = qgemm(qa, qw, keep_acc=False).out
    bench.assert_equal(c.view(np.uint32), want.view(np.uint32), "FP32 GEMM from block results")
    model = BlockdotPerf(config).gemm_cycles(shape)
    bench.record(test="quantized_gemm", gemm=str(shape), cycles=cycles, model_cycles=model)
    assert cycles == model, f"measured {cycles} cycles, the performance model says {model}"


@cocotb.test()
async def clear_drops_partial_blocks(dut):
    config, options = await setup(dut)
    gen = bench.rng(options, 4)
    one = config.a.scale.encode(np.ones(1))
    if config.beats > 1:
        part = beats_of(config, *(random_codes(gen, f.element, config.block).reshape(1, -1)
                                  for f in (config.a, config.w)), one, one)[:config.beats - 1]
        await bench.transfer(dut.clk, [bench.Source(dut, "operands", part)], [])
    dut.clear.value = 1
    await RisingEdge(dut.clk)
    dut.clear.value = 0
    n = 4
    a = random_codes(gen, config.a.element, n * config.block).reshape(n, -1)
    w = random_codes(gen, config.w.element, n * config.block).reshape(n, -1)
    await blocks(dut, config, a, w, np.repeat(one, n), np.repeat(one, n), what="after clear")
    bench.record(test="clear_drops_partial_blocks")
