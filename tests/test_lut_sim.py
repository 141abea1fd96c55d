"""The ``lut`` core in simulation, bit-exact against the golden GEMM and cycle-exact against
the performance model.

Five Verilator builds cover the acceptance matrix: g = 1, 2, 3, 4 and 6; 2, 3, 4, 5 and 8
columns; one and two tables; symmetrized and full tables; int4, int8, int16 and uint4
activations; weight precision up to 2, 3, 4 and 5 bits. Each build runs every cocotb test of
``lowbit.sim.tb_lut`` in one simulator call: the tiled GEMM, every run-time precision 1..w_bits
in every weight mode (signed, unsigned, offset), edge shapes through run-time K, extreme
activations against all-ones / all-zero weight planes, long runs that wrap the accumulator,
back-pressure. Accumulators are narrow enough for the long runs to wrap them.
"""

import json

import pytest

from lowbit.kinds.lut import LutConfig
from lowbit.models.lut import WEIGHT_MODES, LutPerf
from lowbit.models.perf import GemmShape
from lowbit.sim import runner
from lowbit.sim.tb_lut import edge_shapes
from lowbit.simulate import simulate

L = LutConfig
CONFIGS = [
    L(a="int8", w_bits=4, g=4, cols=8, acc=18, k_bits=10),
    L(a="int8", w_bits=4, g=3, tables=2, cols=5, symmetric=True, acc=18, k_bits=10),
    L(a="uint4", w_bits=2, g=2, cols=3, symmetric=True, acc=9, k_bits=6),
    L(a="int16", w_bits=5, g=1, cols=2, symmetric=True, acc=24, k_bits=8),
    L(a="int4", w_bits=3, g=6, cols=4, acc=10, k_bits=8),
]
EXPECTED_TESTS = {"gemm_tiled", "gemm_modes", "gemm_shapes", "corner_values", "backpressure"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_lut_bit_exact(config, tmp_path):
    shape = GemmShape(16, 4 * config.cols + 3, min(16 * config.group + 5, config.k_max))
    result = simulate(config, run_dir=tmp_path, seed=5,
                      options={"gemm": [shape.m, shape.n, shape.k]})
    assert {o.name for o in result.run.outcomes} == EXPECTED_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = result.run.records
    tiled = next(r for r in records if r["test"] == "gemm_tiled")
    model = LutPerf(config).gemm_cycles(shape)
    assert tiled["gemm"] == str(shape) and tiled["model_cycles"] == model
    assert abs(tiled["cycles"] - model) <= 0.05 * model   # the bound; the tb checks ==
    modes = {(r["wbits"], r["mode"]) for r in records if r["test"] == "gemm_modes"}
    assert modes == {(n, m) for n in range(1, config.w_bits + 1) for m in WEIGHT_MODES}
    assert len([r for r in records if r["test"] == "gemm_shapes"]) == len(edge_shapes(config))
    corners = next(r for r in records if r["test"] == "corner_values")
    assert corners["overflowed"] > 0, "the long runs never wrapped the accumulator"


def test_testbench_catches_a_wrong_golden_model(tmp_path):
    """Tell the testbench the core's activations are uint8 when they are int8 (same port
    widths): the extreme-value GEMMs must fail, not pass."""
    core_config = CONFIGS[0]
    from lowbit.hw.verilog import generate

    core = generate(core_config)
    build = runner.build(core.verilog, core.name)
    claimed = LutConfig.from_dict({**core_config.to_dict(), "a": "uint8"})
    run = runner.run(build, "lowbit.sim.tb_lut", tmp_path,
                     env={"LOWBIT_CONFIG": json.dumps(claimed.to_dict())},
                     testcase="corner_values")
    assert not run.passed and "differ" in run.failures[0]


def test_cli_simulate_summary(cli, tmp_path):
    code, out, _ = cli("simulate", "lut", "--a", "int8", "--w-bits", "4", "--g", "4",
                       "--cols", "8", "--acc", "18", "--k-bits", "10", "--gemm", "64x64x256",
                       "--test", "gemm_tiled", "--run-dir", tmp_path)
    assert code == 0, out
    assert "GEMM 64x64x256" in out and "measured/model 1.000" in out and "utilization" in out


def test_cli_rejects_k_beyond_the_register(cli, tmp_path):
    code, _, err = cli("simulate", "lut", "--k-bits", "4", "--gemm", "2x2x16",
                       "--run-dir", tmp_path)
    assert code == 2 and "K must be at most 15" in err
