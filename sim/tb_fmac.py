"""cocotb testbench of the ``fmac`` core: every result checked against the golden model.

Code streams are built in numpy (whole payloads packed at once); each test is many beats
through one build. Formats come from the config, so the same tests serve every format pair.
"""

from __future__ import annotations

import cocotb
import numpy as np

from lowbit.hw.fmac import operand_layout, result_layout
from lowbit.hw.payload import pack, unpack
from lowbit.models.fmac import fmac_golden
from lowbit.models.minifloat import FloatFormat
from lowbit.sim import bench
from lowbit.sim.gemm_bench import gemm_full_rate_test

#: at most this many operand pairs are checked exhaustively as single products
EXHAUSTIVE_PAIRS = 1 << 16


def codes_of(fmt) -> np.ndarray:
    """Every code of a format, as unsigned bit patterns."""
    return np.arange(1 << fmt.bits, dtype=np.uint64)


def corner_codes(fmt) -> np.ndarray:
    """Specials, zeros, subnormals, the extremes and ±1 of a format: codes every random run
    must contain."""
    codes = codes_of(fmt)
    if isinstance(fmt, FloatFormat):
        sign, f, m = fmt.fields(codes)
        finite = fmt.is_finite(codes)
        values = np.where(finite, fmt.decode(np.where(finite, codes, 0)), 0)
        pick = ~finite | (f == 0) | (np.abs(values) == fmt.max) | (np.abs(values) == 1)
        return codes[pick]
    values = np.array([fmt.min, fmt.max, 0, 1, -1, fmt.min + 1])
    values = values[(values >= fmt.min) & (values <= fmt.max)]
    return np.unique(fmt.encode(values))


def decode_results(config, payloads) -> tuple[np.ndarray, np.ndarray]:
    got = unpack(result_layout(config), payloads)
    return got["acc"].astype(object), got["special"].astype(np.int64)


def pairs(config, options) -> list[tuple[int, int]]:
    """The (a_sel, w_sel) format pairs to run: all, or the run's ``pairs`` option."""
    every = [(i, j) for i in range(len(config.a_set.formats))
             for j in range(len(config.w_set.formats))]
    return [tuple(p) for p in options.get("pairs", every)]


def select(dut, config, pair: tuple[int, int]):
    """Set the run-time format selects; the formats of the pair."""
    for side, index in zip(("a", "w"), pair):
        if getattr(config, f"{side}_set").select_bits:
            getattr(dut, f"{side}_sel").value = index
    return config.a_set.formats[pair[0]], config.w_set.formats[pair[1]]


async def dots(dut, config, pair, a, w, k, *, rng=None, idle=0.0, stall=0.0, what=""):
    """Stream code arrays ``a``/``w`` of the format ``pair`` with run-time K=k; results checked
    bit-exactly."""
    fa, fw = select(dut, config, pair)
    what = f"{fa}×{fw} {what}"
    dut.k.value = k
    values, cycles = await bench.through(dut, pack(operand_layout(config), {"a": a, "w": w}),
                                         len(a) // k, rng=rng, idle=idle, stall=stall)
    acc, special = decode_results(config, values)
    want_acc, want_special = fmac_golden(config, a, w, k, *pair)
    bench.assert_equal(special, want_special, f"{what} special, K={k}")
    finite = want_special == 0
    bench.assert_equal(acc[finite], want_acc[finite], f"{what} sums, K={k}")
    return acc, special, cycles


async def setup(dut):
    return await bench.start_unit(dut, k=1)


def random_codes(gen, fmt, n: int) -> np.ndarray:
    """Random codes with every corner code of the format forced in (shuffled)."""
    codes = gen.integers(0, 1 << fmt.bits, size=n, dtype=np.uint64)
    corners = corner_codes(fmt)
    codes[:min(n, corners.size)] = corners[:n]
    return gen.permutation(codes)


@cocotb.test()
async def single_products(dut):
    """Every code pair as a one-beat dot product when there are at most 2**16 pairs, else
    random pairs with every special, zero and subnormal of both formats in each position."""
    config, options = await setup(dut)
    gen = bench.rng(options, 1)
    for pair in pairs(config, options):
        fa, fw = config.a_set.formats[pair[0]], config.w_set.formats[pair[1]]
        ca, cw = codes_of(fa), codes_of(fw)
        if ca.size * cw.size <= EXHAUSTIVE_PAIRS:
            a, w = (x.reshape(-1) for x in np.meshgrid(ca, cw, indexing="ij"))
            mode = "exhaustive"
        else:
            n = options.get("random_pairs", 20_000)
            xa, xw = (x.reshape(-1) for x in np.meshgrid(corner_codes(fa), corner_codes(fw),
                                                          indexing="ij"))
            a = np.concatenate([xa, random_codes(gen, fa, n)])
            w = np.concatenate([xw, random_codes(gen, fw, n)])
            mode = "random"
        _, special, _ = await dots(dut, config, pair, a, w, 1, what=f"{mode} single products")
        bench.record(test="single_products", a=fa.name, w=fw.name, mode=mode, pairs=a.size,
                     specials=int((special != 0).sum()))


@cocotb.test()
async def random_dots(dut):
    """Random dot products of several K (specials included) with idle inputs and stalls."""
    config, options = await setup(dut)
    gen = bench.rng(options, 2)
    beats = 0
    for pair in pairs(config, options):
        fa, fw = config.a_set.formats[pair[0]], config.w_set.formats[pair[1]]
        for k in (1, 2, 5, 16, 33):
            if k > config.k_max:
                continue
            n = k * 12
            await dots(dut, config, pair, random_codes(gen, fa, n), random_codes(gen, fw, n), k,
                       rng=gen, idle=0.3, stall=0.3, what="random")
            beats += n
        # finite operands only, so the sums themselves are checked on every result
        for k in (7, 64):
            if k > config.k_max:
                continue
            a, w = (fmt.encode(fmt.random(gen, k * 6)) for fmt in (fa, fw))
            _, special, _ = await dots(dut, config, pair, a, w, k, what="finite")
            assert not special.any()
            beats += k * 6
    bench.record(test="random_dots", beats=beats)


@cocotb.test()
async def longest_extreme_sums(dut):
    """The longest K of the largest products of each sign: the register must not overflow
    (exact) or must match the stated rounding (narrower register)."""
    config, options = await setup(dut)
    k = min(config.k_max, options.get("max_k", 4096))
    # the formats of the largest unit in each set, which set the register's width
    pair = tuple(max(range(len(s.formats)), key=lambda i: s.formats[i].max_units << s.offset(
        s.formats[i])) for s in (config.a_set, config.w_set))
    fa, fw = config.a_set.formats[pair[0]], config.w_set.formats[pair[1]]
    big_a, big_w = (fmt.encode(np.array([fmt.max if isinstance(fmt, FloatFormat) else
                                         (fmt.min if fmt.signed else fmt.max)]))[0]
                    for fmt in (fa, fw))
    neg_w = fw.encode(np.array([-fw.max]))[0] if fw.signed else big_w
    a = np.full(2 * k, big_a, dtype=np.uint64)
    w = np.concatenate([np.full(k, big_w), np.full(k, neg_w)]).astype(np.uint64)
    acc, _, _ = await dots(dut, config, pair, a, w, k, what="extremes")
    bench.record(test="longest_extreme_sums", k=k, sums=[int(x) for x in acc])


def _last_pair(config, options) -> dict[str, int]:
    a_sel, w_sel = pairs(config, options)[-1]
    return {"a_sel": a_sel, "w_sel": w_sel}


gemm_full_rate = gemm_full_rate_test(_last_pair, lambda config, _: (3, 4, 16))


@cocotb.test()
async def clear_drops_partial_sums(dut):
    """``clear`` drops a partial sum, its flags and the pipeline; the next dots are exact."""
    config, options = await setup(dut)
    gen = bench.rng(options, 5)
    k = min(8, config.k_max)
    dut.k.value = k
    pair = pairs(config, options)[0]
    fa, fw = select(dut, config, pair)
    nan = np.flatnonzero(fa.is_nan(codes_of(fa))) if isinstance(fa, FloatFormat) \
        else np.array([], dtype=np.int64)
    part = random_codes(gen, fa, max(k - 1, 1))
    if nan.size:
        part[0] = nan[0]  # a NaN the clear must forget
    beats = pack(operand_layout(config), {"a": part, "w": random_codes(gen, fw, part.size)})
    await bench.send_then_clear(dut, beats)
    a, w = (fmt.encode(fmt.random(gen, 3 * k)) for fmt in (fa, fw))
    _, special, _ = await dots(dut, config, pair, a, w, k, what="after clear")
    assert not special.any(), "clear must drop the sticky flags"
    bench.record(test="clear_drops_partial_sums", k=k)
