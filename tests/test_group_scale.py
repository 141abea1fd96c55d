"""MixPE-style group dequantization in the output-stationary ``systolic`` array (``scale =
pow2``): the golden model against Python integers (saturating at every group step), the configs
it refuses, and the array bit- and cycle-exact in simulation, including a weight-only quantized
GEMM (int4 weights with per-group power-of-two scales) that comes out equal to the float GEMM."""

import numpy as np
import pytest
from array_checks import first_by_default, simulate_checked

from lowbit.errors import ConfigError
from lowbit.hw.verilog import generate
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.models.quantize import parse_quantizer
from lowbit.models.systolic import SystolicPerf, systolic_golden
from lowbit.sim.tb_systolic import SystolicBench
from lowbit.simulate import simulate

S = SystolicConfig
CONFIGS = [
    S(dataflow="os", rows=3, cols=2, a="int8", w="int4", acc=18, scale="pow2",
      scale_fmt="uint3", g_bits=4, k_bits=10),
    S(dataflow="os", rows=2, cols=3, a="uint4", w="int4", acc=12, overflow="saturate",
      scale="pow2", scale_fmt="uint2", g_bits=3, k_bits=10, mul="lut", mul_stages=1,
      mul_reg=True),
]


def _reference(config, a, w, e, group):
    """Python integers: per output, groups in order, each exact sum shifted, then the rule."""
    acc = config.accumulator
    out = np.zeros((a.shape[0], w.shape[1]), dtype=np.int64)
    for i in range(a.shape[0]):
        for j in range(w.shape[1]):
            total = 0
            for g0 in range(0, a.shape[1], group):
                part = sum(int(a[i, k]) * int(w[k, j]) for k in range(g0, min(g0 + group,
                                                                              a.shape[1])))
                total += part << int(e[g0 // group, j])
                if acc.overflow == "saturate":
                    total = min(max(total, acc.min), acc.max)
            out[i, j] = int(acc.wrap(np.array([total % (1 << 64)], dtype=np.uint64))[0]) \
                if acc.overflow == "wrap" else total
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("group", [1, 3, 5])
def test_golden_model_against_python_integers(config, group):
    rng = np.random.default_rng(group)
    m, k, n = 4, 13, 5
    a, w = config.a.random(rng, (m, k)), config.w.random(rng, (k, n))
    if config.overflow == "saturate":   # large enough to saturate up and down
        a[:, :6], w[:6, :2], w[6:, 1] = config.a.max, config.w.max, config.w.min
    e = config.scale_fmt.random(rng, (-(-k // group), n))
    got = systolic_golden(config, a, w, scales=config.scale_fmt.encode(e), group=group)
    assert np.array_equal(got, _reference(config, a, w, e, group))


@pytest.mark.parametrize("values, field, allowed", [
    ({"scale": "pow2"}, "dataflow", "os with scale != none"),
    ({"scale": "pow2", "dataflow": "os", "a": "fp8_e4m3", "acc": 40}, "scale", "minifloat"),
    ({"scale": "pow2", "dataflow": "os", "scale_fmt": "uint5"}, "scale_fmt", "uint1..uint4"),
    ({"scale": "pow2", "dataflow": "os", "scale_fmt": "int3"}, "scale_fmt", "unsigned"),
    ({"scale": "int", "dataflow": "os"}, "scale", "one of none, pow2"),
    ({"scale": "pow2", "dataflow": "os", "mul": "dsp", "family": "ecp5", "pack": 2, "w": "int4"},
     "pack", "each column has its own group scale"),
])
def test_impossible_group_scale_configs(values, field, allowed):
    with pytest.raises(ConfigError) as e:
        S(**values)
    assert e.value.field == field and allowed in str(e.value)


def test_one_more_cycle_and_the_default_stays():
    plain = S(dataflow="os", rows=3, cols=2, a="int8", w="int4", acc=18, g_bits=4, k_bits=10)
    shape = GemmShape(7, 5, 11)
    assert SystolicPerf(CONFIGS[0], g=3).gemm_cycles(shape) == \
        SystolicPerf(plain).gemm_cycles(shape) + 1   # the last tile's dequantization
    assert plain.name == "systolic_os3x2_int8_int4_acc18_wrap_k10"
    assert "s__payload" not in generate(plain).verilog
    assert "s__payload" in generate(CONFIGS[0]).verilog


@pytest.mark.parametrize("config", first_by_default(CONFIGS), ids=lambda c: c.name)
def test_group_scaled_array_bit_and_cycle_exact(config, tmp_path):
    """Every test of the systolic testbench with random exponents per group: the tiled GEMM,
    group sizes 1, 2, 3, 7 and the largest, edge shapes, extreme values and overflow (the
    saturating array turning halfway), idle inputs and stalled results; then gemm_tiled again
    with groups of 5 that do not divide K."""
    side = 4 * max(config.rows, config.cols)
    simulate_checked(config, SystolicBench, GemmShape(side + 1, side + 2, side + 3),
                     tmp_path / "all", seed=5, overflows=True)
    again = simulate(config, run_dir=tmp_path / "g5", seed=6, testcase="gemm_tiled",
                     options={"g": 5, "gemm": [side, side + 1, 3 * side + 1]})
    assert again.passed, "\n".join(again.run.failures) + f"\nlog: {again.run.log}"


def test_weight_only_quantized_gemm_runs_in_the_array(tmp_path):
    """int4 weights in groups of 8 with pow2 scales (the quantizer's) times int8 activations:
    the array's integer result, times each column's smallest scale, is the float GEMM exactly."""
    config = CONFIGS[0]
    rng = np.random.default_rng(7)
    k, n, m, group = 40, 4, 6, 8
    q = parse_quantizer(f"int4:g{group}:pow2").quantize(
        rng.standard_normal((k, n)).astype(np.float32), k_axis=0)
    exponents = np.log2(q.scales).astype(np.int64)          # (K/group) × N, pow2 scales
    base = exponents.min(axis=0)
    shifts = exponents - base[None, :]
    assert shifts.max() <= config.scale_fmt.max
    a = config.a.random(rng, (m, k))
    w = q.fmt.decode(q.codes)
    path = tmp_path / "operands.npz"     # beside the run directory, which a run empties
    np.savez(path, a=a, w=w, s=shifts)
    result = simulate(config, run_dir=tmp_path / "run", testcase="gemm_tiled",
                      options={"operands": str(path), "g": group})
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    acc = systolic_golden(config, a, w, scales=config.scale_fmt.encode(shifts), group=group)
    assert np.array_equal(acc * np.exp2(base)[None, :], a @ q.dequantize())
