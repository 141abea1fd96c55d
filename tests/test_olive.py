"""OliVe (Guo et al., ISCA 2023) in Lowbit: the outlier-victim pair format and its abfloat, the
least-error pair encoder and scale search, SQNR beside INT4/FP4, the hardware pair decoder
against the format for every pair of codes, and the systolic array decoding pairs on the fly,
bit- and cycle-exact."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from array_checks import first_by_default, simulate_checked

from lowbit.errors import ConfigError, UsageError
from lowbit.hw.olive import decode_pair
from lowbit.hw.shapes import shape_of
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.formats import parse_format
from lowbit.models.olive import ABFLOAT4, OLIVE4, OliveSpec, parse_olive
from lowbit.models.perf import GemmShape
from lowbit.models.quant_error import quant_error
from lowbit.sim.tb_systolic import SystolicBench

ID = 0b1000
ALL_PAIRS = np.array(list(itertools.product(range(16), repeat=2)), dtype=np.uint64)


def _int4(c):
    return c - 16 if c >= 8 else c


def _abfloat(c):
    sign, exp, man = c >> 3, (c >> 1) & 3, c & 1
    return (-1) ** sign * (2 + man) << (exp + 2)


def test_every_pair_decodes_by_the_stated_rule():
    got = OLIVE4.decode(ALL_PAIRS.reshape(1, -1)).reshape(-1, 2)
    for (c0, c1), (v0, v1) in zip(ALL_PAIRS.tolist(), got.tolist()):
        want = (0, _abfloat(c1)) if c0 == ID else (_abfloat(c0), 0) if c1 == ID else \
            (_int4(c0), _int4(c1))
        assert (v0, v1) == want, f"pair {c0:04b} {c1:04b}"
    assert ABFLOAT4.decode(ABFLOAT4.codes())[:8].tolist() == [8, 12, 16, 24, 32, 48, 64, 96]
    assert OLIVE4.decode(np.array([[ID, ID]], np.uint64)).tolist() == [[0, -8]]
    m, shift = OLIVE4.terms(ALL_PAIRS.reshape(1, -1))
    assert np.array_equal(m << shift, OLIVE4.decode(ALL_PAIRS.reshape(1, -1)))
    assert m.min() >= -7 and m.max() <= 7 and shift.max() == 5
    assert parse_format("olive4") is OLIVE4 and OLIVE4.value_format.bits == 8


def test_the_encoder_reaches_the_least_error_of_all_code_pairs():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal((1, 400)) * 3, rng.standard_normal((1, 400)) * 40,
                        rng.uniform(-120, 120, (1, 400))], axis=1)
    codes = OLIVE4.encode_pairs(x).reshape(-1, 2)
    mine = ((x.reshape(-1, 2) - OLIVE4.decode(codes.reshape(1, -1)).reshape(-1, 2)) ** 2
            ).sum(axis=1)
    table = OLIVE4.decode(ALL_PAIRS.reshape(1, -1)).reshape(-1, 2).astype(float)
    best = ((x.reshape(-1, 1, 2) - table[None]) ** 2).sum(axis=2).min(axis=1)
    assert np.allclose(mine, best)
    outliers = (codes == ID).any(axis=1)
    assert 0 < outliers.mean() < 1


def test_ties_prefer_normal_then_outlier_first():
    # 7.5: normal 7 or outlier 8 (victim 0) are both 0.25 away: the normal pair wins
    assert OLIVE4.encode_pairs(np.array([[7.5, 0.0]])).tolist() == [[7, 0]]
    # 40 and 0: outlier first (40 → 32 or 48: ties to the even significand, 32) ...
    assert OLIVE4.decode(OLIVE4.encode_pairs(np.array([[40.0, 0.0]]))).tolist() == [[32, 0]]
    # ... and -8 never leads a pair: a first element near -8 takes -7 or -12
    assert OLIVE4.decode(OLIVE4.encode_pairs(np.array([[-9.0, 0.0]]))).tolist() == [[-7, 0]]
    assert OLIVE4.decode(OLIVE4.encode_pairs(np.array([[0.0, -9.0]]))).tolist() == [[0, -8]]


def test_olive_beats_int4_and_fp4_at_the_same_granularity():
    rows = {r.quantizer: r for r in quant_error(
        ["int4:tensor", "fp4_e2m1:tensor", "olive4:tensor", "int4:channel", "olive4:channel"],
        (64, 512))}
    for data in ("gaussian", "student-t", "outliers"):
        assert rows["olive4:tensor"].sqnr[data] > rows["int4:tensor"].sqnr[data]
        assert rows["olive4:tensor"].sqnr[data] > rows["fp4_e2m1:tensor"].sqnr[data]
        assert rows["olive4:channel"].sqnr[data] > rows["int4:channel"].sqnr[data]
    assert rows["olive4:tensor"].bits_per_element == 4 + 32 / (64 * 512)


def test_quantizer_errors():
    with pytest.raises(UsageError, match="row length 5 is odd"):
        OliveSpec(OLIVE4).quantize(np.ones((2, 5), np.float32))
    with pytest.raises(UsageError, match="weights pair across channels"):
        OliveSpec(OLIVE4, "channel").quantize(np.ones((4, 2), np.float32), k_axis=0)
    with pytest.raises(UsageError, match="takes tensor"):
        parse_olive("olive4:g32")
    assert parse_olive("olive4").name == "olive4:tensor" and parse_olive("int4") is None


def test_hardware_decoder_matches_the_format_on_every_pair():
    first, second = Signal(4), Signal(4)
    layout = shape_of(OLIVE4.term_format)
    m = Module()
    t0, t1 = Signal(layout), Signal(layout)
    d0, d1 = decode_pair(OLIVE4, first, second)
    m.d.comb += [t0.eq(d0), t1.eq(d1)]
    want_m, want_shift = (x.reshape(-1, 2) for x in OLIVE4.terms(ALL_PAIRS.reshape(1, -1)))
    seen = []

    async def bench(ctx):
        for c0, c1 in ALL_PAIRS.tolist():
            ctx.set(first, c0)
            ctx.set(second, c1)
            seen.append(((ctx.get(t0.m), ctx.get(t0.shift)), (ctx.get(t1.m), ctx.get(t1.shift))))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = [((a, b), (c, d)) for a, c, b, d in zip(want_m[:, 0].tolist(), want_m[:, 1].tolist(),
                                                    want_shift[:, 0].tolist(),
                                                    want_shift[:, 1].tolist())]
    assert seen == want


@pytest.mark.parametrize("values, field, allowed", [
    ({"w": "olive4", "cols": 3}, "cols", "even with w=olive4"),
    ({"a": "olive4", "dataflow": "os"}, "dataflow", "ws with a=olive4"),
    ({"a": "olive4", "rows": 3}, "rows", "even with a=olive4"),
    ({"w": "olive4", "mul": "lut"}, "mul", "infer with OliVe"),
    ({"w": "olive4", "dataflow": "os", "scale": "pow2"}, "scale", "none with OliVe"),
    ({"w": "olive4", "acc": 14}, "acc", "16..64 bits"),
    ({"w": "mxfp4"}, "w", "or olive4"),
    ({"a": "fp8_e4m3", "w": "olive4"}, "a", "an integer format or olive4 with w=olive4"),
    ({"a": "olive4", "w": "fp4_e2m1"}, "w", "an integer format or olive4 with a=olive4"),
])
def test_impossible_olive_configs(values, field, allowed):
    with pytest.raises(ConfigError) as e:
        SystolicConfig(**{"a": "int8", **values})
    assert e.value.field == field and allowed in str(e.value)


CONFIGS = [
    SystolicConfig(rows=4, cols=2, a="olive4", w="olive4", acc=20, k_bits=12, depth=16,
                   mul_reg=True, overflow="saturate"),
    SystolicConfig(rows=2, cols=4, a="int8", w="olive4", acc=20, k_bits=12, depth=16),
    SystolicConfig(dataflow="os", rows=3, cols=2, a="uint8", w="olive4", acc=18, k_bits=12),
]


@pytest.mark.parametrize("config", first_by_default(CONFIGS), ids=lambda c: c.name)
def test_olive_array_bit_and_cycle_exact(config, tmp_path):
    """Every test of the systolic testbench on OliVe codes (a quarter of the pairs with the
    outlier first, a quarter second): the tiled GEMM, edge shapes, every pair of codes, long
    runs of ±96 outliers that overflow (saturating up and down), idle inputs and stalled
    results; cycles equal the model's (decoding costs no cycle)."""
    side = 4 * max(config.rows, config.cols)
    simulate_checked(config, SystolicBench, GemmShape(side + 1, side + 2, side + 3), tmp_path,
                     seed=5, overflows=True)
