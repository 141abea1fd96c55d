"""The ``fmac`` core in simulation, bit-exact against its golden model.

One build takes all six acceptance formats on both sides (run-time ``a_sel``/``w_sel``), so
every one of the 36 format pairs is checked exhaustively as single products (each pair has at
most 2**16 code pairs) by one Verilator model; the two halves of the pair list run as two tests
so ``pytest -n 2`` splits them. Further builds: a narrower (rounded) register, and int16 × fp8
whose 2**24 code pairs are checked randomly with every special and subnormal forced in; and one
L-Mul build (``mul = "lmul"``) of the five minifloats on both sides, all 25 pairs exhaustively.
"""


import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.fmac import FmacConfig
from lowbit.models.fmac import FmacPerf
from lowbit.simulate import simulate

SIX = "fp8_e4m3,fp8_e5m2,fp6_e3m2,fp6_e2m3,fp4_e2m1,int8"
ALL_PAIRS = FmacConfig(a=SIX, w=SIX)
PAIRS = [(i, j) for i in range(6) for j in range(6)]
FLOATS = SIX.rsplit(",", 1)[0]
LMUL = FmacConfig(a=FLOATS, w=FLOATS, mul="lmul")
EXPECTED_TESTS = {"single_products", "random_dots", "longest_extreme_sums", "gemm_full_rate",
                  "clear_drops_partial_sums"}


def _check(result, config):
    assert {o.name for o in result.run.outcomes} == EXPECTED_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = [r for r in result.run.records if r["test"] == "gemm_full_rate"]
    assert records[0]["cycles"] == records[0]["model_cycles"]
    return result.run.records


@pytest.mark.parametrize("half", [0, 1])
def test_every_format_pair_exhaustively(half, tmp_path):
    pairs = PAIRS[half::2]
    result = simulate(ALL_PAIRS, run_dir=tmp_path, seed=3, options={"pairs": pairs})
    records = _check(result, ALL_PAIRS)
    singles = [r for r in records if r["test"] == "single_products"]
    assert len(singles) == len(pairs) and all(r["mode"] == "exhaustive" for r in singles)
    fmts = ALL_PAIRS.a_set.formats
    for r, (i, j) in zip(singles, pairs):
        assert r["pairs"] == (1 << fmts[i].bits) * (1 << fmts[j].bits)
    # the FP8 pairs meet inf and NaN; the checks compared the special flags on those products
    assert any(r["specials"] for r in singles)
    extremes = next(r for r in records if r["test"] == "longest_extreme_sums")
    assert extremes["sums"][0] == -extremes["sums"][1] > 1 << 64  # no overflow at K = 4095


@pytest.mark.parametrize("config", [
    FmacConfig(a="fp8_e5m2,fp4_e2m1", w="fp8_e4m3", acc=24, exact=False, stages=1),
    FmacConfig(a="int16", w="fp8_e5m2,uint3", k_bits=6, stages=0),
], ids=lambda c: c.name)
def test_rounded_register_and_random_wide_pairs(config, tmp_path):
    result = simulate(config, run_dir=tmp_path, seed=5, options={"random_pairs": 4000})
    records = _check(result, config)
    modes = {r["mode"] for r in records if r["test"] == "single_products"}
    assert modes == ({"exhaustive"} if config.exact is False else {"random"})


@pytest.mark.parametrize("half", [0, 1])
def test_every_lmul_format_pair_exhaustively(half, tmp_path):
    """One L-Mul build, run-time a_sel/w_sel: every code pair of each of the 25 minifloat pairs
    (430,336 in all), then the dot-product tests."""
    pairs = [(i, j) for i in range(5) for j in range(5)][half::2]
    result = simulate(LMUL, run_dir=tmp_path, seed=7, options={"pairs": pairs})
    singles = [r for r in _check(result, LMUL) if r["test"] == "single_products"]
    fmts = LMUL.a_set.formats
    assert [r["pairs"] for r in singles] == [(1 << fmts[i].bits) * (1 << fmts[j].bits)
                                             for i, j in pairs]
    assert all(r["mode"] == "exhaustive" for r in singles)


def test_perf_model():
    from lowbit.models.perf import GemmShape

    # 6 results of 4 beats, then the pipeline (4 stages by default) and the register
    assert FmacPerf(ALL_PAIRS).gemm_cycles(GemmShape(2, 3, 4)) == 24 + 4 + 1
    assert FmacPerf(FmacConfig(stages=0)).gemm_cycles(GemmShape(2, 3, 4)) == 24 + 1
    assert FmacPerf(FmacConfig(stages=1)).peak_macs_per_cycle == 1.0


@pytest.mark.parametrize("fields, message", [
    ({"a": "bf16"}, "minifloats of at most 8 bits"),
    ({"a": "fp8_e4m3,mxfp4"}, "not an operand format"),
    ({"a": "fp8_e5m2", "w": "fp8_e5m2", "k_bits": 32}, "more than the 96 supported"),
    ({"a": "fp8_e5m2", "acc": 40}, "at least 63 bits for exact sums"),
    ({"a": "int8,int8"}, "names a format twice"),
    ({"a": "int8", "mul": "lmul"}, "int8 is not a minifloat"),
    ({"w": "fp8_e4m3,uint4", "mul": "lmul"}, "uint4 is not a minifloat"),
    ({"mul": "booth"}, "mul='booth' is not allowed"),
])
def test_bad_configs(fields, message):
    with pytest.raises(ConfigError, match=message):
        FmacConfig.from_dict(fields)


@pytest.mark.parametrize("args, message", [
    (["--a", "fp8_e5m2", "--acc", "40"], "at least 63 bits"),
    (["--a", "int8", "--mul", "lmul"], "int8 is not a minifloat"),
])
def test_cli_bad_config_exits_2(cli, args, message):
    code, _, err = cli("generate", "fmac", *args)
    assert code == 2 and message in err and err.count("\n") == 1
