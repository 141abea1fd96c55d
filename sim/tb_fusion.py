"""cocotb testbench of the ``fusion`` core: every precision mode and signedness, bit-exact,
with the accumulator driven past its range in every mode (wrapping or saturating)."""

from __future__ import annotations

from dataclasses import replace

import cocotb
import numpy as np

from lowbit.hw.fusion import OPERANDS
from lowbit.hw.payload import pack
from lowbit.models.formats import IntFormat
from lowbit.models.fusion import (
    PRECISIONS,
    WORD_BITS,
    fusion_golden,
    modes,
    products_per_beat,
    words,
)
from lowbit.sim import bench
from lowbit.sim.gemm_bench import gemm_full_rate_test

SIGNS = [(True, True), (True, False), (False, True), (False, False)]


def set_mode(dut, a_bits, w_bits, a_signed, w_signed):
    dut.a_prec.value = PRECISIONS.index(a_bits)
    dut.w_prec.value = PRECISIONS.index(w_bits)
    dut.a_signed.value = int(a_signed)
    dut.w_signed.value = int(w_signed)


def lane_words(values: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """(beats, P) lane values to operand words (:func:`lowbit.models.fusion.words`)."""
    return words(IntFormat(bits, signed).encode(values), bits)


async def run(dut, config, mode, a_words, w_words, k, *, rng=None, idle=0.0, stall=0.0):
    """Stream words in ``mode`` = (A, W, a_signed, w_signed) with K=k; checked bit-exactly."""
    set_mode(dut, *mode)
    dut.k.value = k
    values, cycles = await bench.through(dut, pack(OPERANDS, {"a": a_words, "w": w_words}),
                                         len(a_words) // k, rng=rng, idle=idle, stall=stall)
    got = config.accumulator.decode(np.array(values, dtype=np.uint64))
    bench.assert_equal(got, fusion_golden(config, a_words, w_words, k, *mode), f"mode {mode} K={k}")
    return got, cycles


async def setup(dut):
    return await bench.start_unit(dut, k=1, a_prec=0, w_prec=0, a_signed=1, w_signed=1)


def random_words(gen, n: int) -> np.ndarray:
    return gen.integers(0, 1 << WORD_BITS, size=n, dtype=np.uint64)


@cocotb.test()
async def every_mode_random(dut):
    """All 9 precision pairs × 4 signedness combinations, random words, several K, with idle
    inputs and stalled outputs."""
    config, options = await setup(dut)
    gen = bench.rng(options, 1)
    count = 0
    for a_bits, w_bits in modes():
        for signs in SIGNS:
            for k in (k for k in (1, 3, 10) if k <= config.k_max):
                n = k * 16
                await run(dut, config, (a_bits, w_bits, *signs), random_words(gen, n),
                          random_words(gen, n), k, rng=gen, idle=0.2, stall=0.2)
                count += 1
    bench.record(test="every_mode_random", runs=count)


@cocotb.test()
async def every_mode_extremes(dut):
    """Every pair of lane extremes (min, max, 0, ±1) in every lane, in every mode."""
    config, options = await setup(dut)
    for a_bits, w_bits in modes():
        p = products_per_beat(a_bits, w_bits)
        for a_signed, w_signed in SIGNS:
            fa, fw = IntFormat(a_bits, a_signed), IntFormat(w_bits, w_signed)
            ea, ew = (np.unique([v for v in (f.min, f.max, 0, 1, -1) if f.min <= v <= f.max])
                      for f in (fa, fw))
            xa, xw = (x.reshape(-1) for x in np.meshgrid(ea, ew, indexing="ij"))
            aw = lane_words(np.repeat(xa[:, None], p, axis=1), a_bits, a_signed)
            ww = lane_words(np.repeat(xw[:, None], p, axis=1), w_bits, w_signed)
            await run(dut, config, (a_bits, w_bits, a_signed, w_signed), aw, ww, 1)
    bench.record(test="every_mode_extremes")


def extreme_lanes(fa: IntFormat, fw: IntFormat, sign: int) -> tuple[int, int] | None:
    """The lane pair whose product is the largest (sign +1) or most negative (-1), if nonzero."""
    a, w = max(((x, y) for x in (fa.min, fa.max) for y in (fw.min, fw.max)),
               key=lambda xy: sign * xy[0] * xy[1])
    return (a, w) if sign * a * w > 0 else None


@cocotb.test()
async def every_mode_overflows(dut):
    """In every mode and signedness, each way the register can leave its range: beats of the
    extreme product in every lane until the sum is past the bound, then two beats whose lanes
    alternate the largest and the most negative product (where saturating per product would
    differ from saturating per beat), then random beats near the bound. Counts the results
    that left the range and those whose result differs from the exact sum. A direction
    whose run needs more beats than the run-time K holds (or ``max_beats``, default 2**16)
    is skipped and counted."""
    config, options = await setup(dut)
    limit = min(config.k_max, options.get("max_beats", 1 << 16))
    gen = bench.rng(options, 5)
    acc, exact_config = config.accumulator, replace(config, acc=64)   # 64 bits: exact sums
    runs = left = differ = skipped = 0
    for a_bits, w_bits in modes():
        p = products_per_beat(a_bits, w_bits)
        for signs in SIGNS:
            fa, fw = IntFormat(a_bits, signs[0]), IntFormat(w_bits, signs[1])
            up, down = extreme_lanes(fa, fw, +1), extreme_lanes(fa, fw, -1)
            mixed = [[(up, down or up)[(i + j) % 2] for i in range(p)] for j in range(2)]
            for push in filter(None, (up, down)):
                beat = p * push[0] * push[1]
                n = (acc.max if beat > 0 else -acc.min) // abs(beat)
                if n + 1 + len(mixed) + 8 > limit:
                    skipped += 1
                    continue
                pairs = np.array([[push] * p] * (n + 1) + mixed)     # beats × lanes × (a, w)
                mode = (a_bits, w_bits, *signs)
                a_words = np.concatenate([lane_words(pairs[..., 0], a_bits, signs[0]),
                                          random_words(gen, 8)])
                w_words = np.concatenate([lane_words(pairs[..., 1], w_bits, signs[1]),
                                          random_words(gen, 8)])
                got, _ = await run(dut, config, mode, a_words, w_words, len(a_words))
                partial = np.cumsum(fusion_golden(exact_config, a_words, w_words, 1, *mode))
                runs += 1
                left += int(not acc.holds(partial.min(), partial.max()))
                differ += int(got[0] != partial[-1])
    bench.record(test="every_mode_overflows", overflow=config.overflow, runs=runs,
                 left_range=left, differ_from_exact=differ, skipped=skipped)


def _mode(config, options) -> dict:
    a_bits, w_bits = options.get("mode", (4, 4))
    return {"a_bits": a_bits, "w_bits": w_bits, "a_signed": True, "w_signed": True}


gemm_full_rate = gemm_full_rate_test(
    _mode, lambda config, mode: (3, 4, min(32, config.k_max * products_per_beat(
        mode["a_bits"], mode["w_bits"]))))


@cocotb.test()
async def clear_drops_partial_sums(dut):
    """``clear`` drops a partial sum and the pipeline; the next results are exact."""
    config, options = await setup(dut)
    gen = bench.rng(options, 4)
    k = min(4, config.k_max)
    dut.k.value = k
    beats = pack(OPERANDS, {"a": random_words(gen, k - 1), "w": random_words(gen, k - 1)})
    await bench.send_then_clear(dut, beats)
    await run(dut, config, (2, 4, True, False), random_words(gen, 2 * k), random_words(gen, 2 * k),
              k)
    bench.record(test="clear_drops_partial_sums")
