"""cocotb testbench of a :class:`~lowbit.sim.multiplier_bank.MultiplierBank`: every product of
every multiplier, every cycle, against numpy, with stalls and a reset.

The environment gives the bank (``LOWBIT_BANK``: :func:`~lowbit.sim.multiplier_bank.spec`) and
the stimulus (``LOWBIT_STIMULUS``): ``{"exhaustive": B}`` drives all 2^B values of the pool's
low B bits (the rest random), ``{"random": N}`` N random pools plus, for every lane, every pair
of its operands' extreme values (min, max, 0, ±1); ``"stall": p`` (default 0.25) is the chance
of a cycle with ``en`` low before each vector, when the pool carries noise that must not get in.
One cycle mid-run resets the design. Expected, each cycle: for latency L ≥ 1 the product of the
vector taken in L enabled cycles earlier (0 while fewer have been taken since reset), for L = 0
the product of the pool now. The cycle in which reset is high is not checked (the SB_MAC16's
resets are asynchronous, the others' synchronous)."""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from lowbit.models.formats import parse_format
from lowbit.sim import bench
from lowbit.sim.multiplier_bank import POOL_BITS

EXTREMES = (0, 1, -1)


def _extremes(fmt) -> list[int]:
    return sorted({v for v in (fmt.min, fmt.max, *EXTREMES) if fmt.min <= v <= fmt.max})


def _vectors(spec: list[dict], stimulus: dict, gen: np.random.Generator) -> list[int]:
    """The pool values to take in, as Python ints (the pool is wider than 32 bits)."""
    if "exhaustive" in stimulus:
        bits = stimulus["exhaustive"]
        low = gen.permutation(1 << bits)
        high = gen.integers(0, 1 << (POOL_BITS - bits), size=low.size, dtype=np.int64)
        return [int(h) << bits | int(v) for v, h in zip(low, high)]
    vectors = [int(x) for x in gen.integers(0, 1 << POOL_BITS, size=stimulus["random"],
                                            dtype=np.int64)]
    for entry in spec:
        a, w = parse_format(entry["a"]), parse_format(entry["w"])
        for lane in entry["lanes"]:
            for x in _extremes(a):
                for y in _extremes(w):
                    base = int(gen.integers(0, 1 << POOL_BITS, dtype=np.int64))
                    for at, f, v in ((lane["a_at"], a, x), (lane["w_at"], w, y)):
                        mask = ((1 << f.bits) - 1) << at
                        base = base & ~mask | int(f.encode(v)) << at
                    vectors.append(base)
    return vectors


def _field(pools: np.ndarray, at: int, fmt) -> np.ndarray:
    return fmt.decode((pools >> np.uint64(at)) & np.uint64((1 << fmt.bits) - 1))


def _bits(values: list[int], width: int) -> np.ndarray:
    """Integers (any width) as a cycles × width matrix of bits, least significant first."""
    size = (width + 7) // 8
    raw = np.frombuffer(b"".join(v.to_bytes(size, "little") for v in values), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(values), size), axis=1, bitorder="little")[:, :width]


@cocotb.test()
async def products_cycle_by_cycle(dut):
    spec = json.loads(os.environ["LOWBIT_BANK"])
    stimulus = json.loads(os.environ["LOWBIT_STIMULUS"])
    gen = np.random.default_rng(int(stimulus.get("seed", 1)))
    vectors = _vectors(spec, stimulus, gen)

    # the schedule: en low with probability ``stall`` (noise on the pool then), one reset
    pools, ens, rsts = [], [], []
    stall = float(stimulus.get("stall", 0.25))
    for v in vectors:
        while gen.random() < stall:
            pools.append(int(gen.integers(0, 1 << POOL_BITS, dtype=np.int64)))
            ens.append(0)
            rsts.append(0)
        if len(pools) == len(vectors) // 2:
            pools.append(v)
            ens.append(0)
            rsts.append(1)
        pools.append(v)
        ens.append(1)
        rsts.append(0)

    dut.rst.value = 1
    dut.en.value = 0
    dut.pool.value = 0
    bench.clock(dut.clk)
    for _ in range(2):
        await RisingEdge(dut.clk)
    got = []
    dut.rst.value = 0
    last_en = last_rst = 0
    for pool, en, rst in zip(pools, ens, rsts):
        dut.pool.value = pool
        if en != last_en:
            dut.en.value = last_en = en
        if rst != last_rst:
            dut.rst.value = last_rst = rst
        await ReadOnly()
        got.append(dut.p.value.to_unsigned())
        await RisingEdge(dut.clk)

    en = np.array(ens, dtype=bool)
    rst = np.array(rsts, dtype=bool)
    pool = np.array(pools, dtype=np.uint64)
    cycles = len(pools)
    taken = np.concatenate([[0], np.cumsum(en)[:-1]])         # vectors taken before cycle t
    since = taken.copy()                                       # ... since the last reset
    for t in np.flatnonzero(rst):
        since[t + 1:] -= taken[t + 1]
    enabled = np.flatnonzero(en)
    checked = ~rst
    p_bits = max(lane["p_at"] + e["p_bits"] for e in spec for lane in e["lanes"])
    observed = _bits(got, p_bits).astype(np.int64)
    failures = []
    for entry in spec:
        a, w = parse_format(entry["a"]), parse_format(entry["w"])
        latency, width = entry["latency"], entry["p_bits"]
        if latency == 0:
            source, live = np.arange(cycles), np.ones(cycles, dtype=bool)
        else:
            live = since >= latency
            source = np.where(live, enabled[np.clip(taken - latency, 0, None)], 0)
        weights = np.int64(1) << np.arange(width, dtype=np.int64)
        for k, lane in enumerate(entry["lanes"]):
            src = pool[source]
            want = np.where(live, _field(src, lane["a_at"], a) * _field(src, lane["w_at"], w), 0)
            want &= (1 << width) - 1
            have = observed[:, lane["p_at"]:lane["p_at"] + width] @ weights
            bad = np.flatnonzero(checked & (have != want))
            if bad.size:
                t = int(bad[0])
                failures.append(f"{entry['name']} lane {k}: {bad.size} of {cycles} cycles differ; "
                                f"first at cycle {t}: got {int(have[t]):#x}, "
                                f"want {int(want[t]):#x}")
    bench.record(test="products_cycle_by_cycle", cycles=cycles, vectors=len(vectors),
                 entries=len(spec))
    assert not failures, "\n".join(failures)
