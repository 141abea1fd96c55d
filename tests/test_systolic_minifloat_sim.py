"""The ``systolic`` kind with minifloat operands: the PE's multiplier decodes the formats and
the register is Kulisch-wide, so results are qgemm's exact block sums (inf/NaN as 0)."""

import numpy as np
import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.systolic import SystolicConfig as S
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import systolic_golden
from lowbit.simulate import simulate

CONFIGS = [
    S(rows=2, cols=3, dataflow="ws", a="fp8_e4m3", w="fp4_e2m1", acc=34, k_bits=10, depth=8,
      mul_reg=True),
    S(rows=3, cols=2, dataflow="os", a="fp6_e2m3", w="fp8_e5m2", acc=48, k_bits=8),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_minifloat_systolic_bit_exact(config, tmp_path):
    shape = GemmShape(9, 7, 13)
    result = simulate(config, run_dir=tmp_path, seed=4,
                      options={"gemm": [shape.m, shape.n, shape.k]})
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    tiled = next(r for r in result.run.records if r["test"] == "gemm_tiled")
    assert tiled["cycles"] == tiled["model_cycles"]


@pytest.mark.parametrize("w", ["uint2", "int3", "fp4_e2m1"])
def test_long_runs_fit_the_weight_format(w):
    """The longest exact sums turn the other columns to the most negative weight the format
    holds (the fuzz campaign found ``-w.max`` for an unsigned ``w``: a FormatError in
    corner_values, ``lowbit simulate systolic --a fp6_e3m2 --w uint2 --acc 23 ...``)."""
    from lowbit.sim.tb_systolic import SystolicBench

    config = S(a="fp6_e3m2", w=w, acc=40, rows=2, cols=2)
    bench = SystolicBench(None, config, {})
    (run,) = bench.long_runs({}, 3)
    codes = bench.encode({}, run)          # raises when a value does not fit its format
    lowest = {"uint2": 0, "int3": -4, "fp4_e2m1": -6}[w]
    assert config.w.decode(codes["w"])[0].tolist() == [config.w.max, lowest, lowest]


def test_golden_counts_specials_as_zero_and_is_exact():
    config = CONFIGS[1]
    a = np.array([[7.5, 0.125, -1.0]])
    w = np.array([[57344.0], [np.inf], [2.0 ** -16]])
    got = systolic_golden(config, a, w)
    lsb = config.a.lsb + config.w.lsb
    assert got.tolist() == [[int((7.5 * 57344.0 - 2.0 ** -16) / 2.0 ** lsb)]]


def test_narrow_accumulator_names_the_minimum():
    with pytest.raises(ConfigError, match="at least 33 bits"):
        S(a="fp8_e4m3", w="fp4_e2m1", acc=32, k_bits=10)
    with pytest.raises(ConfigError, match="minifloats of at most 8 bits"):
        S(a="bf16")
