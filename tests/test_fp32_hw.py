"""``lowbit.hw.fp32`` in Amaranth's simulator against numpy's IEEE binary32: the rounder of
exact values (against :func:`lowbit.models.exact.to_fp32`), the adder and the multiplier, on
random operands with the corners forced in (ties, cancellation, subnormals, overflow, ±0,
±inf, NaN) — combinational, and the adder and rounder pipelined at every depth with stalls."""

import numpy as np
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from lowbit.hw import fp32
from lowbit.hw.stages import build
from lowbit.models.exact import to_fp32
from lowbit.models.pipeline import FP32_ADD, FP32_ROUND

N = 1200
CORNERS = [0, fp32.SIGN, fp32.INF, fp32.INF | fp32.SIGN, fp32.QNAN, 1, fp32.SIGN | 1,
           0x7F7FFFFF, 0x00800000, 0x007FFFFF, 0x3F800000, 0x4B800000, 0x33800000]


def operands(rng):
    """Pairs of FP32 bit patterns: random, near each other's exponent, negated, one ulp or
    a half ulp apart (adder ties), and every pair of corners."""
    def some(n):
        x = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
        near = rng.integers(100, 160, n).astype(np.uint32) << 23
        return np.where(rng.random(n) < 0.5, (x & 0x807FFFFF) | near, x)

    a, b = some(N), some(N)
    q = N // 4
    b[:q] = a[:q] ^ fp32.SIGN                                        # exact cancellation
    b[q:2 * q] = a[q:2 * q] + rng.integers(-3, 4, q).astype(np.uint32)  # one ulp apart
    half = ((a[2 * q:3 * q] & fp32.INF) - (24 << 23)) & fp32.INF        # half an ulp of a
    b[2 * q:3 * q] = half | (rng.integers(0, 2, q).astype(np.uint32) << 31)
    corners = np.array(CORNERS, dtype=np.uint32)
    ca, cb = (x.reshape(-1) for x in np.meshgrid(corners, corners))
    return np.concatenate([a, ca]), np.concatenate([b, cb])


def want_bits(x: np.ndarray) -> np.ndarray:
    bits = x.astype(np.float32).view(np.uint32)
    return np.where(np.isnan(x), np.uint32(fp32.QNAN), bits)


def test_round_add_multiply_match_numpy():
    rng = np.random.default_rng(6)
    a_bits, b_bits = operands(rng)
    n = len(a_bits)
    mags = rng.integers(0, 1 << 40, n, dtype=np.uint64) >> rng.integers(0, 41, n).astype(np.uint64)
    mags[:64] = [(1 << 24) + i for i in range(32)] + [(3 << i) for i in range(32)]  # ties
    exps = rng.integers(-320, 140, n)
    exps[:64] = rng.integers(-190, -140, 64)  # ties at the subnormal step
    negs = rng.integers(0, 2, n)

    m = Module()
    a, b, neg = Signal(32), Signal(32), Signal()
    mag, exp = Signal(40), Signal(signed(10))
    s = fp32.add(m, a, b, "sum")
    r = fp32.round_exact(m, neg, mag, exp, "rounded")
    p = fp32.round_value(m, fp32.product(fp32.unpack(m, a, "a"), fp32.unpack(m, b, "b")), "prod")
    got = {"add": [], "round": [], "multiply": []}

    async def bench(ctx):
        for i in range(n):
            ctx.set(a, int(a_bits[i]))
            ctx.set(b, int(b_bits[i]))
            ctx.set(neg, int(negs[i]))
            ctx.set(mag, int(mags[i]))
            ctx.set(exp, int(exps[i]))
            for key, sig in (("add", s), ("round", r), ("multiply", p)):
                got[key].append(ctx.get(sig))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    fa, fb = a_bits.view(np.float32), b_bits.view(np.float32)
    with np.errstate(all="ignore"):
        exact = to_fp32(np.array([int(x) for x in mags], dtype=object), 0,
                        np.ldexp(1.0, exps))
        want = {"add": want_bits(fa + fb),
                "round": want_bits(np.where(negs == 1, -exact, exact)),
                "multiply": want_bits(fa.astype(np.float64) * fb.astype(np.float64))}
    for key, values in want.items():
        bad = np.flatnonzero(np.array(got[key], dtype=np.uint32) != values)
        assert bad.size == 0, (f"{key}: {bad.size} of {n} differ, e.g. a={a_bits[bad[0]]:#x} "
                               f"b={b_bits[bad[0]]:#x} mag={mags[bad[0]]} exp={exps[bad[0]]}: "
                               f"got {got[key][bad[0]]:#x}, numpy {values[bad[0]]:#x}")


def test_registered_product_of_held_values_matches_numpy_three_clocks_later():
    """Factors held steady (tensor scales): the product built from DSP-sized partial products
    is numpy's exact product once three clocks have passed."""
    a_bits, b_bits = operands(np.random.default_rng(7))
    m = Module()
    a, b = Signal(32), Signal(32)
    p = fp32.round_value(m, fp32.registered_product(m, fp32.unpack(m, a, "a"),
                                                    fp32.unpack(m, b, "b"), "t"), "prod")
    got = []

    async def bench(ctx):
        for x, y in zip(a_bits[::3], b_bits[::3]):
            ctx.set(a, int(x))
            ctx.set(b, int(y))
            await ctx.tick().repeat(3)
            got.append(ctx.get(p))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    fa, fb = a_bits[::3].view(np.float32), b_bits[::3].view(np.float32)
    with np.errstate(all="ignore"):
        want = want_bits(fa.astype(np.float64) * fb.astype(np.float64))
    bad = np.flatnonzero(np.array(got, dtype=np.uint32) != want)
    assert bad.size == 0, f"{bad.size} of {len(got)} differ, e.g. got {got[bad[0]]:#x}, " \
                          f"numpy {want[bad[0]]:#x}"


def test_every_pipeline_depth_matches_numpy_with_stalls():
    """The adder and the rounder cut into every number of stages the chains allow, the
    registers moving on a random enable: each output is numpy's answer to the input taken
    that many enabled cycles earlier."""
    rng = np.random.default_rng(7)
    a_bits, b_bits = operands(rng)
    keep = np.concatenate([rng.choice(N, 300, replace=False), np.arange(N, len(a_bits))])
    a_bits, b_bits = a_bits[keep], b_bits[keep]
    n = len(a_bits)
    mags = rng.integers(0, 1 << 40, n, dtype=np.uint64) >> rng.integers(0, 41, n).astype(np.uint64)
    exps = rng.integers(-320, 140, n)
    negs = rng.integers(0, 2, n)
    en_bits = rng.random(n) < 0.7

    m = Module()
    a, b, neg, en = Signal(32), Signal(32), Signal(), Signal()
    mag, exp = Signal(40), Signal(signed(10))
    outs = {("add", r): build(m, FP32_ADD, fp32.add_segments(f"add{r}"), {"a": a, "b": b}, r,
                              en, f"add{r}")["bits"] for r in range(FP32_ADD.most + 1)}
    outs |= {("round", r): build(m, FP32_ROUND, fp32.round_segments(f"round{r}"),
                                 {"neg": neg, "mag": mag, "exp": exp}, r, en,
                                 f"round{r}")["bits"] for r in range(FP32_ROUND.most + 1)}
    got = {key: [] for key in outs}
    taken = []   # indices of the inputs presented on enabled cycles

    async def bench(ctx):
        for i in range(n):
            for sig, values in ((a, a_bits), (b, b_bits), (neg, negs), (mag, mags), (exp, exps),
                                (en, en_bits)):
                ctx.set(sig, int(values[i]))
            for (kind, r), sig in outs.items():
                source = i if r == 0 else (taken[-r] if len(taken) >= r else None)
                if source is not None:
                    got[kind, r].append((source, ctx.get(sig)))
            if en_bits[i]:
                taken.append(i)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    fa, fb = a_bits.view(np.float32), b_bits.view(np.float32)
    with np.errstate(all="ignore"):
        exact = to_fp32(np.array([int(x) for x in mags], dtype=object), 0, np.ldexp(1.0, exps))
        want = {"add": want_bits(fa + fb), "round": want_bits(np.where(negs == 1, -exact, exact))}
    for (kind, r), pairs in got.items():
        source, values = (np.array(x) for x in zip(*pairs))
        assert len(set(source)) > n // 2
        bad = np.flatnonzero(values.astype(np.uint32) != want[kind][source])
        assert bad.size == 0, (f"{kind} with {r} registers: {bad.size} differ, e.g. input "
                               f"{source[bad[0]]}: got {values[bad[0]]:#x}, numpy "
                               f"{want[kind][source[bad[0]]]:#x}")
