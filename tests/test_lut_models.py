"""The ``lut`` kind's models without a simulator: the table arithmetic (symmetrization and
correction terms) against the golden integer GEMM, the beat order, the performance model and
the config's errors."""

import itertools

import numpy as np
import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.lut import LutConfig
from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat
from lowbit.models.lut import (
    WEIGHT_MODES,
    LutPerf,
    LutTiler,
    WeightCode,
    correction_factor,
    correction_weight,
    entry_range,
    fill_order,
    lookup,
    lut_gemm,
    lut_golden,
    table,
    tree_stages,
)
from lowbit.models.perf import GemmShape

WIDE = Accumulator(60, True, "wrap")


@pytest.mark.parametrize("a_name", ["int8", "uint8", "int16", "uint4", "int1", "uint1"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_table_arithmetic_equals_integer_gemm(a_name, symmetric):
    """Tables + bit-plane lookups + shift-accumulate + correction = A @ W, for every g 1..6,
    every precision 1..8 and every weight mode, on random and extreme operands."""
    config = LutConfig(a=a_name, w_bits=8, acc=40)
    fa = config.a
    gen = np.random.default_rng(7)
    for g, bits, mode in itertools.product(range(1, 7), range(1, 9), WEIGHT_MODES):
        code = WeightCode(bits, mode)
        k = int(gen.integers(1, 3 * g + 2))
        a = fa.random(gen, (4, k))
        a[0], a[1] = fa.min, fa.max                         # extreme rows
        w = code.random(gen, (k, 6))
        w[:, 0] = code.decode(np.uint64((1 << bits) - 1))   # every plane all ones
        w[:, 1] = code.decode(np.uint64(0))                  # every plane all zero
        got = lut_gemm(a, code.encode(w), g, symmetric, code, WIDE)
        want = a.astype(object) @ w.astype(object)
        assert (got == want).all(), (g, bits, mode)


def test_wrapping_matches_the_golden_gemm():
    config = LutConfig(a="int8", w_bits=4, acc=12)
    gen = np.random.default_rng(3)
    a = np.full((2, 64), -128)
    w = WeightCode(4, "signed").random(gen, (64, 5))
    for symmetric in (False, True):
        code = WeightCode(4, "signed")
        got = lut_gemm(a, code.encode(w), 4, symmetric, code, config.accumulator)
        assert (got == lut_golden(config, a, w)).all()
    assert np.abs(a.astype(object) @ w.astype(object)).max() > config.accumulator.max


def test_symmetrized_table_is_half_of_the_odd_table():
    """S[b] = 2·T[b] − Σa, and the lookup of the half table gives it for every index."""
    gen = np.random.default_rng(1)
    for g in range(1, 7):
        a = gen.integers(-128, 128, (3, g))
        full, half = table(a, False), table(a, True)
        assert half.shape[-1] == full.shape[-1] // 2 or g == 1
        index = np.arange(1 << g)[None].repeat(3, axis=0)
        s = lookup(half, index, g, True)
        assert (s == 2 * lookup(full, index, g, False) - a.sum(axis=1, keepdims=True)).all()
        lo, hi = entry_range(IntFormat(8), g, True)
        assert lo <= s.min() and s.max() <= hi


def test_corrections():
    """c = 2^n − 1 (unsigned), −1 (signed, offset) symmetrized; −2^(n−1) for offset codes;
    each made of ±Σa on some planes (κ_p ∈ {−1, 0, 1})."""
    assert [correction_factor(m, True, 4) for m in WEIGHT_MODES] == [-1, 15, -1]
    assert [correction_factor(m, False, 4) for m in WEIGHT_MODES] == [0, 0, -8]
    assert [correction_weight("unsigned", True, p, 3) for p in range(3)] == [1, 1, 1]
    assert [correction_weight("offset", False, p, 3) for p in range(3)] == [0, 0, -1]
    code = WeightCode(3, "offset")
    assert list(code.encode(np.array([-4, -1, 0, 3]))) == [0, 3, 4, 7]
    assert list(code.decode(code.encode(np.arange(-4, 4)))) == list(range(-4, 4))
    with pytest.raises(ValueError, match="weight mode"):
        WeightCode(3, "ternary")


def test_fill_order_writes_the_table():
    """The Gray-code fill (one ±activation per entry) reaches every entry of the table once,
    and its all-ones entry is Σa."""
    gen = np.random.default_rng(2)
    for g, symmetric in itertools.product(range(1, 7), (False, True)):
        a = gen.integers(-128, 128, g)
        want = table(a[None], symmetric)[0]
        order = fill_order(g, symmetric)
        entry = a[g - 1] - a[:g - 1].sum() if symmetric else 0
        got = {}
        for address, i, sign in order:
            got[address] = entry
            entry += sign * (2 if symmetric else 1) * a[i]
        assert sorted(got) == list(range(len(want))), (g, symmetric)
        assert [got[e] for e in range(len(want))] == list(want), (g, symmetric)
        assert got[len(want) - 1] == a.sum()


def test_beat_order_is_the_documented_one():
    """Read the tiler's beats back by the documented order: per tile of nb column blocks, a
    beat per group of G activations; per group, each block's weight bit-planes from the MSB
    (lane c of plane p: bit p of weight k0+i of column n0 + b·cols + c at bit i); full tiles
    of `blocks` blocks first, then one shorter tile per row."""
    config = LutConfig(g=3, tables=2, cols=5, blocks=3)
    G, C, bits = config.group, config.cols, 3
    tiler = LutTiler(config, bits)
    gen = np.random.default_rng(0)
    shape = GemmShape(3, 4 * C + 2, 13)            # 5 blocks: a tile of 3, then one of 2
    padded = tiler.padded(tiler.random(gen, shape))
    runs = tiler.runs(shape)
    assert [r.params["nb"] for r in runs] == [3, 2]
    q = -(-shape.k // G)
    covered = set()
    for run in runs:
        nb = run.params["nb"]
        beats = tiler.beats(run, padded)
        tiles = len(run.blocks) // nb
        assert beats["a"].shape == (tiles * q, G)
        assert beats["w"].shape == (tiles * q * nb * bits, C)
        for t in range(tiles):
            m, n0 = run.blocks[t * nb]
            assert list(run.blocks[t * nb:(t + 1) * nb]) == \
                [(m, n0 + b * C) for b in range(nb)]
            assert (beats["a"][t * q:(t + 1) * q].reshape(-1) == padded["a"][m]).all()
            planes = beats["w"][t * q * nb * bits:(t + 1) * q * nb * bits]
            planes = planes.reshape(q, nb, bits, C)[:, :, ::-1]      # MSB first → by p
            for b in range(nb):
                for i in range(G):
                    codes = sum(((planes[:, b, p] >> np.uint64(i)) & np.uint64(1))
                                << np.uint64(p) for p in range(bits))
                    assert (codes == padded["w"][i::G, n0 + b * C:n0 + (b + 1) * C]).all()
            covered |= set(run.blocks[t * nb:(t + 1) * nb])
    assert covered == {(m, n0) for m in range(shape.m) for n0 in range(0, 5 * C, C)}


@pytest.mark.parametrize("blocks, wbits, entries_hidden", [(8, 1, True), (4, 4, True),
                                                          (2, 1, False), (1, 3, False)])
def test_performance_model(blocks, wbits, entries_hidden):
    """E + 1 + L + (J − 1)·max(E, L) + D per run; peak cols·G/n while the fill is hidden."""
    config = LutConfig(g=3, tables=2, cols=16, w_bits=4, blocks=blocks)
    perf = LutPerf(config, wbits)
    E, G = config.entries, config.group
    assert E == 8
    shape = GemmShape(64, 16 * blocks * 3, 256)                  # three whole tiles a row
    groups = 64 * 3 * -(-256 // G)
    per = blocks * wbits
    drain = 1 + tree_stages(config) + 2
    assert perf.gemm_cycles(shape) == E + 1 + per + (groups - 1) * max(E, per) + drain
    if entries_hidden:
        assert perf.peak_macs_per_cycle == 16 * G / wbits
    else:
        assert perf.peak_macs_per_cycle == 16 * G * blocks / E
    assert 0.9 < perf.utilization(shape) <= 1
    assert perf.storage_bits > 16 * 2 * config.acc


def test_a_shorter_last_tile_is_a_run_of_its_own():
    config = LutConfig(g=3, cols=4, blocks=4)
    perf = LutPerf(config, 2)
    runs = perf.tiler.runs(GemmShape(2, 4 * 4 * 2 + 4, 7))
    assert [r.params["nb"] for r in runs] == [4, 1]
    assert perf.gemm_cycles(GemmShape(2, 36, 7)) == sum(perf.run_cycles(r) for r in runs)


@pytest.mark.parametrize("field, value, allowed", [
    ("g", 7, "allowed 1..6"), ("w_bits", 0, "allowed 1..8"), ("cols", 0, "allowed 1..128"),
    ("blocks", 17, "allowed 1..16"), ("family", "gowin", "ecp5"),
    ("a", "int17", "int1..int16"), ("acc", 10, "at least 12 bits"),
    ("a", "fp8_e4m3", "int1..int16"),
])
def test_config_errors(field, value, allowed):
    with pytest.raises(ConfigError, match=allowed) as e:
        LutConfig(**{field: value})
    assert str(e.value).startswith(f"lut: {field}=")


def test_gemm_longer_than_k_register():
    with pytest.raises(ConfigError, match="K must be at most 15"):
        LutConfig(k_bits=4).check_gemm(GemmShape(1, 1, 16))


@pytest.mark.parametrize("wbits", [0, 5, -1])
def test_run_time_precision_out_of_range_is_refused(wbits):
    from lowbit.models.lut import lut_golden

    config = LutConfig(w_bits=4)
    a, w = np.zeros((1, 4), dtype=np.int64), np.zeros((4, 1), dtype=np.int64)
    with pytest.raises(ValueError, match="run-time weight precision is 1..4"):
        lut_golden(config, a, w, wbits)
    with pytest.raises(ValueError, match="1..4"):
        LutPerf(config, wbits)
