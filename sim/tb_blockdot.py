"""cocotb testbench of the ``blockdot`` core, checked against its golden model.

Output "fp32": the unit's FP32 results are compared bit for bit with ``qgemm(A, W).out`` of
the QTensors made from the same element codes, block scales and tensor scales
(:func:`lowbit.models.blockdot.qtensors`; every NaN as the unit's one quiet NaN) — random
blocks with extreme scales at several block counts per result, constructed corner cases (ties,
cancellation, overflow, subnormals, inf − inf), NVFP4 tensor scales that overflow and
underflow, and a quantized GEMM. Output "block": block results against the exact model, and a
quantized GEMM whose FP32 result, accumulated from them on the host, is qgemm's.
"""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np

from lowbit.hw.blockdot import operand_layout, result_layout
from lowbit.hw.payload import pack, signed_values, unpack
from lowbit.models.blockdot import blockdot_golden, fp32_accumulate, fp32_bits
from lowbit.models.perf import GemmShape
from lowbit.models.qgemm import qgemm
from lowbit.sim import bench
from lowbit.sim.gemm_bench import GemmBench
from lowbit.sim.tb_fmac import random_codes


def beats_of(config, a, w, sa, sw) -> list[int]:
    """Payloads of blocks (blocks × B element codes, per-block scale codes), lanes per beat."""
    lanes, beats = config.lanes, config.beats
    a = a.reshape(-1, lanes)
    w = w.reshape(-1, lanes)
    fields = {**{f"a{i}": a[:, i] for i in range(lanes)},
              **{f"w{i}": w[:, i] for i in range(lanes)},
              "sa": np.repeat(sa, beats), "sw": np.repeat(sw, beats)}
    return pack(operand_layout(config), fields)


def decode_results(config, payloads):
    got = unpack(result_layout(config), payloads)
    return got["sum"].astype(object), got["exp"].astype(np.int64), got["special"].astype(np.int64)


def classes(bits: np.ndarray) -> dict[str, int]:
    """How many FP32 results are NaN, ±inf, ±0 and subnormal (the corners a test reached)."""
    v = bits.astype(np.uint32).view(np.float32)
    return {"nan": int(np.isnan(v).sum()), "inf": int(np.isinf(v).sum()),
            "zero": int((v == 0).sum()),
            "subnormal": int(((v != 0) & (np.abs(v) < np.float32(2.0 ** -126))).sum())}


async def blocks(dut, config, a, w, sa, sw, *, count=1, ta=1.0, tw=1.0, options=None, rng=None,
                 idle=0.0, stall=0.0, what=""):
    """Stream blocks through the unit (``count`` blocks per result, tensor scales ``ta``,
    ``tw``) and compare every result with the golden model; returns (results, cycles). With
    the run option ``corrupt`` one bit of the expected FP32 results is flipped first (the
    comparison must then fail)."""
    ta, tw = float(np.float32(ta)), float(np.float32(tw))  # the unit's inputs are FP32
    if config.fp32:
        dut.blocks.value = count
    if config.tensor_scaled:
        dut.ta.value, dut.tw.value = int(fp32_bits(ta)), int(fp32_bits(tw))
    results = len(sa) // count if config.fp32 else len(sa)
    values, cycles = await bench.through(dut, beats_of(config, a, w, sa, sw), results,
                                         rng=rng, idle=idle, stall=stall)
    if config.fp32:
        got = np.array(values, dtype=np.uint32)
        want = blockdot_golden(config, a, w, sa, sw, count, ta, tw)
        if (options or {}).get("corrupt"):
            want[0] ^= 1
        bench.assert_equal(got, want, f"{what} FP32 results ({count} blocks each)")
        return got, cycles
    got = decode_results(config, values)
    want = blockdot_golden(config, a, w, sa, sw)
    bench.assert_equal(got[2], want[2], f"{what} special")
    finite = want[2] == 0
    bench.assert_equal(got[0][finite], want[0][finite], f"{what} block sums")
    bench.assert_equal(got[1][finite], want[1][finite], f"{what} exponents")
    return got, cycles


async def setup(dut):
    config, _ = bench.context()
    inputs = {"blocks": 1} if config.fp32 else {}
    if config.tensor_scaled:
        inputs.update(ta=int(fp32_bits(1.0)), tw=int(fp32_bits(1.0)))
    return await bench.start_unit(dut, **inputs)


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


def random_blocks(config, gen, n: int):
    """``n`` random blocks (every special and subnormal element forced in; the second half
    finite only, so their sums are checked whatever the specials' density) and extreme
    scales."""
    a = random_codes(gen, config.a.element, n * config.block).reshape(n, config.block)
    w = random_codes(gen, config.w.element, n * config.block).reshape(n, config.block)
    for x, fmt in ((a, config.a.element), (w, config.w.element)):
        x[n // 2:] = fmt.encode(fmt.random(gen, x[n // 2:].shape))
    return a, w, extreme_scales(config.a.scale, gen, n), extreme_scales(config.w.scale, gen, n)


#: blocks per result in the random test: one build serves them all
COUNTS = (1, 2, 3, 7)


@cocotb.test()
async def random_blocks_extreme_scales(dut):
    """Random element codes with extreme scales, with idle inputs and stalled outputs; with
    fp32 output at several block counts per result."""
    config, options = await setup(dut)
    gen = bench.rng(options, 1)
    n = options.get("blocks", 300)
    if not config.fp32:
        got, _ = await blocks(dut, config, *random_blocks(config, gen, n), rng=gen, idle=0.2,
                              stall=0.3, what="random")
        bench.record(test="random_blocks_extreme_scales", blocks=n,
                     specials=int((got[2] != 0).sum()))
        return
    seen = {}
    for count in (c for c in COUNTS if c <= config.blocks_max):
        got, _ = await blocks(dut, config, *random_blocks(config, gen, n // count * count),
                              count=count, options=options, rng=gen, idle=0.2, stall=0.3,
                              what=f"random, {count} blocks")
        for key, value in classes(got).items():
            seen[key] = seen.get(key, 0) + value
    bench.record(test="random_blocks_extreme_scales", blocks=n, counts=list(COUNTS), **seen)


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
                 options=options, what="largest")
    bench.record(test="largest_blocks")


class BlockMaker:
    """Blocks of chosen exact values ``m · 2**e``: element products that are ``m`` times a
    power of two, scaled by power-of-two scale codes; ``None`` where the formats cannot."""

    def __init__(self, config):
        self.config = config
        ea, ew = config.a.element, config.w.element
        ca, cw = (f.codes()[f.is_finite(f.codes())] for f in (ea, ew))
        va, vw = ea.decode(ca), ew.decode(cw)
        prod = va[:, None] * vw[None, :]
        self.pairs = {}  # (m, exponent) -> (a code, w code)
        for i, j in zip(*np.nonzero(prod)):
            mant, e = np.frexp(prod[i, j])  # prod = (2·mant) · 2**(e - 1), 1 <= |2·mant| < 2
            self.pairs.setdefault((float(2 * mant), int(e) - 1), (ca[i], cw[j]))
        self.scales = [self._pow2(f) for f in (config.a.scale, config.w.scale)]
        self.zero = (ea.encode(np.zeros(1))[0], ew.encode(np.zeros(1))[0])

    @staticmethod
    def _pow2(fmt) -> dict[int, int]:
        codes = fmt.codes()[fmt.is_finite(fmt.codes())]
        values = fmt.decode(codes)
        mant, e = np.frexp(values)
        return {int(x - 1): int(c) for c, m_, x in zip(codes, mant, e) if m_ == 0.5}

    def block(self, terms: list[tuple[float, int]], scale: int = 0):
        """One block: element products of the exact values ``m · 2**e`` for (m, e) in
        ``terms`` (m = ±1 or ±3), times scales whose product is ``2**scale``."""
        if len(terms) > self.config.block:
            return None
        a = np.full(self.config.block, self.zero[0], dtype=np.uint64)
        w = np.full(self.config.block, self.zero[1], dtype=np.uint64)
        for i, (mant, e) in enumerate(terms):
            # 3·2**e is 1.5·2**(e+1): the table keys mantissas in [1, 2)
            key = (mant / 2, e + 1) if abs(mant) == 3 else (float(mant), e)
            if key not in self.pairs:
                return None
            a[i], w[i] = self.pairs[key]
        for ea, ca in self.scales[0].items():
            if scale - ea in self.scales[1]:
                return a, w, ca, self.scales[1][scale - ea]
        return None

    def value(self, mant: float, e: int):
        """A block of the exact value ``mant · 2**e`` from any one product that gives it."""
        for (m, pe), _ in sorted(self.pairs.items(), key=lambda kv: abs(kv[0][1])):
            if m == (mant / 2 if abs(mant) == 3 else mant):
                made = self.block([(mant, pe - (abs(mant) == 3))], e - pe + (abs(mant) == 3))
                if made is not None:
                    return made
        return None


def corner_sequences(config) -> list[list]:
    """Results of a few blocks each that land on FP32's corners; each a list of blocks."""
    mk = BlockMaker(config)
    v = mk.value
    # a power of two 2**p whose last FP32 bits (2**(p - 25)) blocks can also make
    p = next(p for p in range(-30, 31) if v(1, p) is not None and v(3, p - 26) is not None)
    ulp = p - 23
    seqs = [
        [v(1, p), v(1, ulp - 1)],                     # adder tie, even: stays 2**p
        [v(1, p), v(1, ulp), v(1, ulp - 1)],          # adder tie, odd: rounds up
        [v(1, p), v(-1, ulp - 2)],                    # tie below 2**p: back to 2**p
        [v(-1, p), v(-3, ulp - 2)],                   # above half: away
        [v(1, p), v(-1, p)],                          # exact cancellation: +0
        [v(3, 10), v(-3, 10), v(1, -5)],              # cancels, then continues
        [v(1, 127), v(1, 127)],                       # adder overflow: +inf
        [v(-3, 126), v(-1, 127), v(3, 120)],          # -inf stays -inf
        [v(1, -149), v(1, -149)],                     # subnormals add exactly
        [v(1, -126), v(-1, -149)],                    # normal - subnormal: subnormal
        [v(1, -150)],                                 # RNE32 of S: tie to 0
        [v(3, -150)],                                 # tie to the even subnormal 2**-148
        [v(-3, -151)],                                # above half: -2**-149
        [v(1, -200)],                                 # underflow to 0
        [v(1, 128)],                                  # RNE32 of S overflows to inf
        [v(-3, 126)],                                 # the largest magnitudes stay finite
        [mk.block([(1, 0), (1, -24)])],               # RNE32 of S at a tie: 1
        [mk.block([(1, 0), (1, -23), (1, -24)])],     # tie, odd: 1 + 2**-22
    ]
    inf_codes = [(side, f.codes()[f.is_inf(f.codes())]) for side, f in
                 enumerate((config.a.element, config.w.element)) if f.has_inf]
    if inf_codes:
        side, codes = inf_codes[0]
        one = v(1, 0)
        if one is not None:
            pos, neg = (tuple(np.array(x).copy() for x in one) for _ in range(2))
            vals = config.a.element.decode if side == 0 else config.w.element.decode
            pos[side][0] = codes[vals(codes) > 0][0]
            neg[side][0] = codes[vals(codes) < 0][0]
            seqs += [[pos, neg], [pos, one], [neg, v(1, 127), v(1, 127)]]   # NaN, +inf, -inf
    scale = config.a.scale
    nan_scale = scale.codes()[scale.is_nan(scale.codes())][0]
    one = v(1, 0)
    if one is not None:
        seqs.append([(one[0], one[1], nan_scale, one[3]), one])              # NaN scale
    return [s for s in seqs if all(b is not None for b in s)]


@cocotb.test()
async def corner_cases(dut):
    """Constructed results: ties in the adder and in RNE32 of a block, exact cancellation,
    overflow, subnormal results, inf - inf, NaN scales (as the formats allow)."""
    config, options = await setup(dut)
    if not config.fp32:
        return
    seqs = [s for s in corner_sequences(config) if len(s) <= config.blocks_max]
    if not seqs:    # e.g. NVFP4 with one block per result: no corner is within its reach
        bench.record(test="corner_cases", cases=0)
        return
    longest = max(len(s) for s in seqs)
    zero = BlockMaker(config).block([])
    a, w, sa, sw = (np.array([b[i] for s in seqs for b in s + [zero] * (longest - len(s))],
                             dtype=np.uint64) for i in range(4))
    got, _ = await blocks(dut, config, a, w, sa, sw, count=longest, options=options,
                          what="corner cases")
    bench.record(test="corner_cases", cases=len(seqs), **classes(got))


#: (ta, tw) pairs: plain, overflow, underflow to subnormals and to zero, FP32 specials
TENSOR_SCALES = [(1.0, 1.0), (0.75, 3.0e-3), (2.0 ** 100, 2.0 ** 60), (3.0e38, 3.0e38),
                 (2.0 ** -100, 2.0 ** -40), (1.5 * 2.0 ** -140, 0.8), (2.0 ** -149, 2.0 ** -149),
                 (0.0, 5.0), (-2.5, 1.0e-20), (float("inf"), 1.0), (float("inf"), 0.0),
                 (float("nan"), 1.0)]


@cocotb.test()
async def tensor_scales(dut):
    """NVFP4: the same random blocks under tensor scales that overflow, underflow to FP32
    subnormals and zero, and are zero, negative, inf or NaN."""
    config, options = await setup(dut)
    if not config.tensor_scaled:
        return
    gen = bench.rng(options, 5)
    seen = {}
    for ta, tw in TENSOR_SCALES:
        a, w, sa, sw = random_blocks(config, gen, 40)
        sa[:] = sw[:] = config.a.scale.encode(gen.choice([0.5, 1.0, 448.0], 40))
        got, _ = await blocks(dut, config, a, w, sa, sw, count=min(2, config.blocks_max),
                              ta=ta, tw=tw,
                              options=options, what=f"tensor scales {ta} × {tw}")
        for key, value in classes(got).items():
            seen[key] = seen.get(key, 0) + value
    bench.record(test="tensor_scales", pairs=len(TENSOR_SCALES), **seen)


@cocotb.test()
async def quantized_gemm(dut):
    """A real-valued GEMM quantized to the block formats, through the tiler: the unit's FP32
    results (fp32) or its block results rounded and summed on the host (block) equal qgemm's
    FP32 output; cycles equal the model."""
    config, options = bench.context()
    tb = GemmBench(dut, config, options)
    await tb.start()
    gen = bench.rng(options, 3)
    blocks = min(2, config.blocks_max) if config.fp32 else 2
    m, n, k = options.get("gemm", (3, 4, blocks * config.block))
    shape = GemmShape(m, n, -(-k // config.block) * config.block)   # zeros pad K to whole blocks
    x = gen.standard_normal((shape.m, shape.k)) * np.exp2(gen.integers(-20, 20, (shape.m, 1)))
    y = gen.standard_normal((shape.k, shape.n))
    qa, qw = config.a.quantize(x, 1), config.w.quantize(y, 0)
    if not config.tensor_scaled:
        qa = dataclasses.replace(qa, tensor_scale=1.0)
        qw = dataclasses.replace(qw, tensor_scale=1.0)
    operands = {"a": qa.codes, "w": qw.codes, "sa": config.a.scale.encode(qa.scales),
                "sw": config.w.scale.encode(qw.scales)}
    runtime = {"ta": qa.tensor_scale, "tw": qw.tensor_scale}
    got, _ = await tb.checked(shape, runtime, gen, "quantized_gemm", operands)
    if config.fp32:
        c = got["fp32"]
    else:
        nb = shape.k // config.block
        fields = [np.asarray(got[f]).reshape(-1) for f in ("sum", "exp", "special")]
        total, exp = signed_values(fields[0], config.sum_bits), signed_values(fields[1],
                                                                               config.exp_bits)
        special = fields[2].astype(np.int64)
        c = fp32_bits(fp32_accumulate(total, exp, special, nb)).reshape(shape.m, shape.n)
    bench.assert_equal(np.asarray(c, dtype=np.uint32), fp32_bits(qgemm(qa, qw, keep_acc=False).out),
                       "FP32 GEMM against qgemm")


@cocotb.test()
async def clear_drops_partial_blocks(dut):
    """``clear`` in the middle of a block (and, fp32, of a result of several blocks): the next
    results are as if nothing had come before."""
    config, options = await setup(dut)
    gen = bench.rng(options, 4)
    one = config.a.scale.encode(np.ones(1))
    count = min(3, config.blocks_max) if config.fp32 else 1
    if config.fp32:
        dut.blocks.value = count
    part = beats_of(config, *(random_codes(gen, f.element, count * config.block).reshape(count, -1)
                              for f in (config.a, config.w)), np.repeat(one, count),
                    np.repeat(one, count))[:count * config.beats - 1]
    await bench.send_then_clear(dut, part)
    n = 4 * count
    a = random_codes(gen, config.a.element, n * config.block).reshape(n, -1)
    w = random_codes(gen, config.w.element, n * config.block).reshape(n, -1)
    await blocks(dut, config, a, w, np.repeat(one, n), np.repeat(one, n), count=count,
                 options=options, what="after clear")
    bench.record(test="clear_drops_partial_blocks")
