"""cocotb testbench of the ``mac`` core: every result checked against the golden model.

Run it through :func:`lowbit.simulate.simulate` (or ``lowbit simulate mac ...``); the config
and options arrive in the environment (see :func:`lowbit.sim.bench.context`).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from lowbit.hw.mac import operand_layout
from lowbit.hw.payload import pack
from lowbit.models.mac import mac_golden
from lowbit.sim import bench
from lowbit.sim.gemm_bench import gemm_full_rate_test


def _beats(config, a, w) -> list[int]:
    return pack(operand_layout(config), {"a": config.a.encode(a), "w": config.w.encode(w)})


async def _dots(dut, config, a, w, k, *, rng=None, idle=0.0, stall=0.0, per_beat=False):
    """Stream ``a``/``w`` (1-D) with run-time K=k; (results, cycles), checked bit-exactly."""
    dut.k.value = k
    values, cycles = await bench.through(dut, _beats(config, a, w), len(a) // k, rng=rng,
                                         idle=idle, stall=stall, per_beat=per_beat)
    got = config.accumulator.decode(np.array(values, dtype=np.uint64))
    bench.assert_equal(got, mac_golden(config, a, w, k), f"K={k}")
    return got, cycles


async def _setup(dut):
    return await bench.start_unit(dut, k=1)


gemm_full_rate = gemm_full_rate_test(lambda config, options: {}, lambda config, _: (4, 4, 32))


@cocotb.test()
async def random_with_backpressure(dut):
    """Random operands over the full ranges, several K, random idle inputs and stalled outputs:
    beat by beat through the cocotb drivers, then in bulk through the harness."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 2)
    count = 0
    for per_beat in (True, False):
        for k in (1, 2, 3, 17, 64):
            if k >= 1 << config.k_bits:
                continue
            n = k * 24
            await _dots(dut, config, config.a.random(gen, n), config.w.random(gen, n), k,
                        rng=gen, idle=0.3, stall=0.4, per_beat=per_beat)
            count += n
    bench.record(test="random_with_backpressure", beats=count)


@cocotb.test()
async def corner_values(dut):
    """Every pair of extreme values (min, max, 0, ±1) as single products and as short runs."""
    config, options = await _setup(dut)
    xa, xw = np.meshgrid(config.a.extremes(), config.w.extremes(), indexing="ij")
    a, w = xa.reshape(-1), xw.reshape(-1)
    await _dots(dut, config, a, w, 1)
    k = min(4, (1 << config.k_bits) - 1)
    await _dots(dut, config, np.repeat(a, k), np.repeat(w, k), k)
    bench.record(test="corner_values", pairs=a.size)


@cocotb.test()
async def overflow_runs(dut):
    """Runs long enough to overflow the accumulator with the largest products of each sign."""
    config, options = await _setup(dut)
    acc = config.accumulator
    fa, fw = config.a, config.w
    pairs = [(fa.min, fw.min), (fa.max, fw.max), (fa.min, fw.max), (fa.max, fw.min)]
    overflowed = 0
    for x, y in pairs:
        p = x * y
        if p == 0:
            continue
        room = acc.max if p > 0 else -acc.min
        k = min(room // abs(p) + 3, (1 << config.k_bits) - 1, options.get("max_overflow_k", 70_000))
        a, w = np.full(2 * k, x), np.full(2 * k, y)
        got, _ = await _dots(dut, config, a, w, k)
        if int(got[0]) != k * p:
            overflowed += 1
    bench.record(test="overflow_runs", overflowed=overflowed, overflow=config.overflow)


@cocotb.test()
async def clear_and_restart(dut):
    """``clear`` drops a partial sum, beats in the pipeline and a result the sink has not taken."""
    config, options = await _setup(dut)
    gen = bench.rng(options, 5)
    k = max(2, min(8, (1 << config.k_bits) - 1))

    # a partial dot product, then clear while its beats are still in the pipeline
    dut.k.value = k
    partial = _beats(config, config.a.random(gen, k - 1), config.w.random(gen, k - 1))
    await bench.send_then_clear(dut, partial)
    await _dots(dut, config, config.a.random(gen, 2 * k), config.w.random(gen, 2 * k), k)

    # a finished result that nobody takes, then clear: it must not come out afterwards
    whole = _beats(config, config.a.random(gen, k), config.w.random(gen, k))
    await bench.transfer(dut.clk, [bench.Source(dut, "operands", whole)], [])
    await ClockCycles(dut.clk, config.latency + 1)
    await ReadOnly()
    assert dut.result__valid.value == 1, "a finished dot product should be waiting"
    await RisingEdge(dut.clk)
    await bench.pulse_clear(dut)
    await ReadOnly()
    assert dut.result__valid.value == 0, "clear must drop the waiting result"
    await RisingEdge(dut.clk)
    await _dots(dut, config, config.a.random(gen, 3 * k), config.w.random(gen, 3 * k), k)
    bench.record(test="clear_and_restart", k=k)
