"""The ``systolic`` core in simulation, bit-exact against the golden GEMM and cycle-exact
against the performance model.

Eight Verilator builds cover the acceptance matrix: both dataflows on 1×1, 2×3, 4×4 and 8×8
arrays; int8×int8, int8×int4, uint4×int2 and int16×int16 operands (each format in both
dataflows); wrap and saturate; with and without the product register. Accumulators are narrow
enough for the overflow runs to overflow them. Each build runs every cocotb test of
``lowbit.sim.tb_systolic`` in one simulator call: the tiled GEMM (M, N, K over 4·max(R, C)),
ten or eleven more shapes through run-time K and M, extreme values and overflow runs, back-pressure.
"""

import json
import shutil

import pytest

from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicPerf
from lowbit.sim import runner
from lowbit.sim.tb_systolic import edge_shapes
from lowbit.simulate import simulate

S = SystolicConfig
CONFIGS = [
    S(rows=1, cols=1, dataflow="ws", a="uint4", w="int2", acc=8, overflow="saturate", depth=8,
      k_bits=4),
    S(rows=1, cols=1, dataflow="os", a="int16", w="int16", acc=40),
    S(rows=2, cols=3, dataflow="ws", a="int8", w="int4", acc=16, overflow="saturate",
      mul_reg=True, depth=8),
    S(rows=2, cols=3, dataflow="os", a="uint4", w="int2", acc=7, k_bits=5),
    S(rows=4, cols=4, dataflow="ws", a="int16", w="int16", acc=36, depth=16),
    S(rows=4, cols=4, dataflow="os", a="int8", w="int8", acc=17, overflow="saturate", mul_reg=True),
    S(rows=8, cols=8, dataflow="ws", a="int8", w="int8", acc=20, depth=24, k_bits=12),
    S(rows=8, cols=8, dataflow="os", a="int8", w="int4", acc=16, overflow="saturate"),
]
EXPECTED_TESTS = {"gemm_tiled", "gemm_shapes", "corner_values", "backpressure"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_systolic_bit_exact(config, tmp_path):
    side = 4 * max(config.rows, config.cols)
    shape = GemmShape(side + 1, side + 2, side + 3)
    result = simulate(config, run_dir=tmp_path, seed=11, options={"gemm": [shape.m, shape.n, shape.k]})
    assert {o.name for o in result.run.outcomes} == EXPECTED_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = result.run.records
    tiled = next(r for r in records if r["test"] == "gemm_tiled")
    model = SystolicPerf(config).gemm_cycles(shape)
    assert tiled["gemm"] == str(shape) and tiled["model_cycles"] == model
    assert abs(tiled["cycles"] - model) <= 0.05 * model  # the bound; the tb checks ==
    assert len([r for r in records if r["test"] == "gemm_shapes"]) == len(edge_shapes(config))
    corners = next(r for r in records if r["test"] == "corner_values")
    assert corners["overflowed"] > 0, "the overflow runs never overflowed the accumulator"


def test_testbench_catches_a_wrong_golden_model(tmp_path):
    """Tell the testbench a wrap core saturates: the overflow runs must fail, not pass."""
    core_config = CONFIGS[3]
    claimed = SystolicConfig.from_dict({**core_config.to_dict(), "overflow": "saturate"})
    from lowbit.hw.verilog import generate

    core = generate(core_config)
    build = runner.build(core.verilog, core.name)
    run = runner.run(build, "lowbit.sim.tb_systolic", tmp_path,
                     env={"LOWBIT_CONFIG": json.dumps(claimed.to_dict())}, testcase="corner_values")
    assert not run.passed and "differ" in run.failures[0]


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus is optional: apt-get install iverilog")
@pytest.mark.parametrize("config", [CONFIGS[2], CONFIGS[3]], ids=lambda c: c.name)
def test_icarus_agrees(config, tmp_path):
    result = simulate(config, simulator="icarus", run_dir=tmp_path)
    assert result.passed, "\n".join(result.run.failures)


def test_cli_simulate_summary(cli, tmp_path):
    code, out, _ = cli("simulate", "systolic", "--rows", "2", "--cols", "3", "--dataflow", "os",
                       "--a", "uint4", "--w", "int2", "--acc", "7", "--gemm", "9x7x13",
                       "--test", "gemm_tiled", "--run-dir", tmp_path)
    assert code == 0, out
    assert "GEMM 9x7x13" in out and "measured/model 1.000" in out and "utilization" in out
